"""`/api/v4` system endpoints: systems list, summary, devices, latest telemetry."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import battery, devices
from .errors import SYSTEM_NOT_FOUND, ApiError, unprocessable
from .ev_charger import device_entries
from .keys import GRANT_KEY, simulator
from .system import Observation, SystemRuntime
from .windows import local_date, local_midnight

MAX_PAGE_SIZE = 100
STALE_AFTER_S = 7 * 86_400


def runtime_of(request: web.Request) -> SystemRuntime:
    """Return the requested system if the token's account owns it, else 404."""
    try:
        system_id = int(request.match_info["system_id"])
    except ValueError:
        raise ApiError(404, SYSTEM_NOT_FOUND) from None
    return simulator(request).system_for(request[GRANT_KEY].uid, system_id)


def observe(request: web.Request) -> Observation:
    """Return the cloud's current view of the requested system."""
    return runtime_of(request).observe(simulator(request).now_ts())


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        msg = f"{name} must be an integer"
        raise unprocessable(msg) from None


async def systems(request: web.Request) -> web.Response:
    """`GET /systems`: the account's systems, paginated."""
    sim = simulator(request)
    page = _int_param(request, "page", 1)
    size = _int_param(request, "size", 10)
    if page < 1:
        msg = "page must be at least 1"
        raise unprocessable(msg)
    if not 1 <= size <= MAX_PAGE_SIZE:
        msg = f"size must be between 1 and {MAX_PAGE_SIZE}"
        raise unprocessable(msg)
    account = sim.world.account_by_uid(request[GRANT_KEY].uid)
    owned = sorted(account.system_ids) if account else []
    chosen = owned[(page - 1) * size : page * size]
    now = sim.now_ts()
    listed = [_system_entry(sim.systems[system_id].observe(now)) for system_id in chosen]
    body = {
        "total": len(owned),
        "current_page": page,
        "size": size,
        "count": len(listed),
        "items": "systems",
        "systems": listed,
    }
    return web.json_response(body)


def _system_entry(seen: Observation) -> dict[str, Any]:
    spec = seen.runtime.spec
    address = spec.address
    return {
        "system_id": spec.system_id,
        "name": spec.name,
        "public_name": "Residential System",
        "timezone": spec.timezone,
        "address": {
            "city": address.city,
            "state": address.state,
            "country": address.country,
            "postal_code": address.postal_code,
        },
        "connection_type": seen.runtime.gateway.connection_type,
        "energy_lifetime": -1,
        "energy_today": -1,
        "system_size": -1,
        "status": seen.status,
        "last_report_at": seen.last_report_at,
        "last_energy_at": seen.last_energy_at(),
        "operational_at": seen.runtime.operational_at,
        "attachment_type": None,
        "interconnect_date": None,
        "other_references": [],
        "reference": None,
    }


async def summary(request: web.Request) -> web.Response:
    """`GET /systems/{id}/summary`: power and energy as of the last upload."""
    seen = observe(request)
    sim, spec = seen.sim, seen.runtime.spec
    last = seen.last_index()
    today = local_date(seen.now, spec.zone)
    first_today = sim.index_of_end(local_midnight(today, spec.zone)) + 1
    reported = seen.reported
    body = {
        "system_id": spec.system_id,
        "current_power": 0 if last is None else sim.production[last] * 4,
        "energy_lifetime": sum(sim.production[:reported]),
        "energy_today": sum(sim.production[max(0, first_today) : reported]),
        "last_interval_end_at": seen.last_energy_at(),
        "last_report_at": seen.last_report_at,
        "modules": spec.micros,
        "operational_at": None if seen.runtime.hide_operational_at else seen.runtime.operational_at,
        "size_w": spec.size_w,
        "nmi": None,
        "source": "meter",
        "status": seen.status,
        "summary_date": today.isoformat(),
        # Ratings, not flows: the batteries' maximum charge and discharge power and
        # their capacity (Enphase's documented example: 1280/1280/3360 for an IQ Battery 3T).
        "battery_charge_w": battery.MAX_POWER_W if spec.has_battery else 0,
        "battery_discharge_w": battery.MAX_POWER_W if spec.has_battery else 0,
        "battery_capacity_wh": spec.capacity_wh,
    }
    return web.json_response(body)


async def device_list(request: web.Request) -> web.Response:
    """`GET /systems/{id}/devices`: the active devices by kind."""
    seen = observe(request)
    listed = devices.inventory(seen.runtime.spec, seen.last_report_at, seen.status)
    spec = seen.runtime.spec
    chargers = device_entries(
        seen.runtime.ev, spec.system_id, seen.now, seen.status, seen.last_report_at
    )
    if chargers:  # like every group, listed only when the system has one
        # Enphase's /devices example gives a charger's id as a number (its serial) and
        # `active` as the string "true", unlike /ev_charger/devices.
        listed["ev_chargers"] = [
            {**entry, "id": int(entry["serial_number"]), "active": "true"} for entry in chargers
        ]
    body = {
        "system_id": seen.runtime.spec.system_id,
        "total_devices": sum(len(group) for group in listed.values()),
        "items": "devices",
        "devices": listed,
    }
    return web.json_response(body)


async def latest_telemetry(request: web.Request) -> web.Response:
    """`GET /systems/{id}/latest_telemetry`: meter and battery power at the last upload.

    Each meter is listed once per channel (1-3); only channel 1 carries a
    reading, the others have null `power` and `last_report_at`, as Enphase's
    single-phase sites show. Fields are null when the gateway has been silent
    for seven days. Battery power: discharge positive by default (see
    `battery_power_sign`, UNCONFIRMED), `operational_mode` says which way it flows.
    """
    seen = observe(request)
    sim, spec = seen.sim, seen.runtime.spec
    last = seen.last_index()
    at = seen.last_report_at
    fresh = last is not None and at is not None and seen.now - at <= STALE_AFTER_S
    index = last if fresh else None
    report = at if fresh else None

    def power(stream: list[int]) -> int | None:
        return None if index is None else stream[index] * 4

    def channels(meter_id: int, name: str, reading: int | None) -> list[dict[str, Any]]:
        return [
            {
                "id": meter_id,
                "name": name,
                "channel": channel,
                "last_report_at": report if channel == 1 else None,
                "power": reading if channel == 1 else None,
            }
            for channel in (1, 2, 3)
        ]

    meters = channels(devices.meter_id(spec, 0), "production", power(sim.production))
    if spec.consumption_meter:
        meters += channels(devices.meter_id(spec, 1), "consumption", power(sim.consumption))
    body: dict[str, Any] = {
        "system_id": spec.system_id,
        "items": "devices",
        "devices": {"meters": meters},
    }
    if spec.has_battery:
        body["devices"]["encharges"] = _encharges(request, seen, index, report)
    return web.json_response(body)


def _encharges(
    request: web.Request, seen: Observation, index: int | None, report: int | None
) -> list[dict[str, Any]]:
    """Return one latest-telemetry entry per battery, the site's flow shared evenly."""
    sim, spec = seen.sim, seen.runtime.spec
    net = None if index is None else (sim.discharge[index] - sim.charge[index]) * 4
    if net is None:
        mode = None
    elif net > 0:
        mode = "Discharging"
    elif net < 0:
        mode = "Charging"
    else:
        mode = "Idle"
    sign = simulator(request).battery_power_sign
    shares = [None] * spec.batteries if net is None else _shares(net, spec.batteries)
    return [
        {
            "id": devices.encharge_id(spec, n),
            "name": f"Encharge {devices.encharge_serial(spec, n)}",
            "channel": 1,
            "last_report_at": report,
            "power": None if share is None else share * sign,
            "operational_mode": mode,
        }
        for n, share in enumerate(shares)
    ]


def _shares(total: int, parts: int) -> list[int | None]:
    """Split `total` into `parts` integers that add up to it exactly."""
    base, extra = divmod(abs(total), parts)
    sign = 1 if total >= 0 else -1
    return [sign * (base + (1 if n < extra else 0)) for n in range(parts)]
