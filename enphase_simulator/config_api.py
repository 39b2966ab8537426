"""System configuration endpoints (Megawatt and Partner plans).

A PUT answers at once with the requested settings and a GET shows them from
then on, but the battery physics follows only after `apply_delay`, like a
gateway picking up a task from the cloud.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .api_v4 import runtime_of
from .errors import GRID_NOT_REPORTED, NO_ENCHARGES, unprocessable
from .keys import simulator
from .settings import MODE_LABELS, PUT_MODES, SiteSettings, mode_label
from .system import SystemRuntime

ENABLED = {"enabled": True, "disabled": False}
LOAD_STATUSES = frozenset({"enabled", "disabled"})
LOAD_MODES = frozenset({"scheduled", "manual", "advanced"})


def _flag(value: bool) -> str:  # noqa: FBT001 - a plain mapping of a bool
    return "enabled" if value else "disabled"


def _battery_runtime(request: web.Request) -> SystemRuntime:
    runtime = runtime_of(request)
    if not runtime.spec.has_battery:
        raise unprocessable(NO_ENCHARGES)
    return runtime


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        msg = "Request body must be a JSON object"
        raise unprocessable(msg) from None
    if not isinstance(body, dict) or not body:
        msg = "Request body must be a non-empty JSON object"
        raise unprocessable(msg)
    return body


def _only(body: dict[str, Any], allowed: set[str], read_only: set[str]) -> None:
    for name in body:
        if name in read_only:
            msg = f"{name} is read-only"
            raise unprocessable(msg)
        if name not in allowed:
            msg = f"Unknown setting {name}"
            raise unprocessable(msg)


def _battery_doc(runtime: SystemRuntime, settings: SiteSettings) -> dict[str, Any]:
    return {
        "system_id": runtime.spec.system_id,
        "battery_mode": mode_label(settings.mode),
        "reserve_soc": settings.reserve_soc,
        "energy_independence": _flag(settings.energy_independence),
        "charge_from_grid": _flag(settings.charge_from_grid),
        "battery_shutdown_level": runtime.spec.shutdown_level,
    }


async def get_battery_settings(request: web.Request) -> web.Response:
    """`GET …/battery_settings`: the settings last requested."""
    runtime = _battery_runtime(request)
    return web.json_response(_battery_doc(runtime, runtime.timeline.requested()))


def _enabled(body: dict[str, Any], name: str) -> bool:
    value = body[name]
    if not isinstance(value, str) or value.lower() not in ENABLED:
        msg = f"{name} must be enabled or disabled"
        raise unprocessable(msg)
    return ENABLED[value.lower()]


def battery_changes(
    body: dict[str, Any], shutdown_level: int, current_mode: str | None = None
) -> dict[str, Any]:
    """Validate a battery_settings PUT body and return the setting changes.

    `battery_mode` is case sensitive: exactly "Savings Mode", "Self-consumption" or
    "Full Backup", as documented; anything else is refused with 422. A mode outside
    those that the site is in now (set in the apps, e.g. "AI Optimisation") is taken
    back under its own label (UNCONFIRMED: a restore of the mode Enphase reported).
    """
    _only(
        body,
        {"battery_mode", "reserve_soc", "energy_independence"},
        {"charge_from_grid", "battery_shutdown_level"},
    )
    changes: dict[str, Any] = {}
    if "battery_mode" in body:
        raw = body["battery_mode"]
        mode = PUT_MODES.get(raw) if isinstance(raw, str) else None
        if mode is None and current_mode not in MODE_LABELS and raw == current_mode:
            mode = current_mode
        if mode is None:
            msg = "Invalid battery_mode"
            raise unprocessable(msg)
        changes["mode"] = mode
    if "reserve_soc" in body:
        reserve = body["reserve_soc"]
        if type(reserve) is not int or not shutdown_level <= reserve <= 100:  # noqa: PLR2004
            msg = f"reserve_soc must be an integer between {shutdown_level} and 100"
            raise unprocessable(msg)
        changes["reserve_soc"] = reserve
    if "energy_independence" in body:
        changes["energy_independence"] = _enabled(body, "energy_independence")
    return changes


async def put_battery_settings(request: web.Request) -> web.Response:
    """`PUT …/battery_settings`: accept new settings, echo what is now requested."""
    runtime = _battery_runtime(request)
    changes = battery_changes(
        await _json_object(request),
        runtime.spec.shutdown_level,
        runtime.timeline.requested().mode,
    )
    simulator(request).request_settings(runtime.spec.system_id, changes)
    return web.json_response(_battery_doc(runtime, runtime.timeline.requested()))


def _storm_doc(runtime: SystemRuntime, now: int, *, echo: bool = False) -> dict[str, Any]:
    """Storm guard as Enphase shows it: `storm_alert` is the string "true"/"false".

    A PUT's echo of an enabled storm guard reads "Enabled (Inactive)" (or
    "Enabled (Active)" during an alert), as in Enphase's documented example.
    """
    settings = runtime.settings_at(now)
    enabled = runtime.timeline.requested().storm_guard
    status = _flag(enabled)
    if echo and enabled:
        status = "Enabled (Active)" if settings.storm_alert else "Enabled (Inactive)"
    return {
        "system_id": runtime.spec.system_id,
        "storm_guard_status": status,
        "storm_alert": "true" if settings.storm_alert else "false",
    }


def _reported_runtime(request: web.Request) -> SystemRuntime:
    """Return the battery system, or 422 while its site has not reported yet."""
    runtime = _battery_runtime(request)
    now = simulator(request).now_ts()
    if not runtime.site_reported or runtime.gateway.last_upload(now) is None:
        raise unprocessable(GRID_NOT_REPORTED)
    return runtime


async def get_storm_guard(request: web.Request) -> web.Response:
    """`GET …/storm_guard`: storm guard as requested and whether an alert is on."""
    runtime = _reported_runtime(request)
    return web.json_response(_storm_doc(runtime, simulator(request).now_ts()))


async def put_storm_guard(request: web.Request) -> web.Response:
    """`PUT …/storm_guard`: turn storm guard on or off."""
    runtime = _battery_runtime(request)
    body = await _json_object(request)
    _only(body, {"storm_guard_status"}, {"storm_alert"})
    sim = simulator(request)
    sim.request_settings(
        runtime.spec.system_id, {"storm_guard": _enabled(body, "storm_guard_status")}
    )
    return web.json_response(_storm_doc(runtime, sim.now_ts(), echo=True))


async def get_grid_status(request: web.Request) -> web.Response:
    """`GET …/grid_status`: "On Grid", "Off Grid" or "Unknown", and the last report."""
    runtime = _reported_runtime(request)
    now = simulator(request).now_ts()
    if runtime.grid_state_unknown:
        state = "Unknown"
    else:
        state = "On Grid" if runtime.settings_at(now).grid_on else "Off Grid"
    upload = runtime.gateway.last_upload(now)
    return web.json_response(
        {
            "system_id": runtime.spec.system_id,
            "grid_state": state,
            "last_report_date": None if upload is None else upload.at,
        }
    )


async def get_load_control(request: web.Request) -> web.Response:
    """`GET …/load_control`: the dry-contact loads and their settings."""
    runtime = _battery_runtime(request)
    return web.json_response(
        {"system_id": runtime.spec.system_id, "load_control_data": runtime.loads}
    )


def _load_update(body: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
    _only(body, {"name", "status", "mode", "soc_low", "soc_high"}, {"load_name"})
    update = {k: v for k, v in body.items() if k != "name"}
    if "status" in update and update["status"] not in LOAD_STATUSES:
        msg = "status must be enabled or disabled"
        raise unprocessable(msg)
    if "mode" in update and update["mode"] not in LOAD_MODES:
        msg = f"mode must be one of {', '.join(sorted(LOAD_MODES))}"
        raise unprocessable(msg)
    merged = load | update
    for name in ("soc_low", "soc_high"):
        if type(merged[name]) is not int or not 0 <= merged[name] <= 100:  # noqa: PLR2004
            msg = f"{name} must be an integer between 0 and 100"
            raise unprocessable(msg)
    if merged["soc_low"] >= merged["soc_high"]:
        msg = "soc_low must be below soc_high"
        raise unprocessable(msg)
    return merged


async def put_load_control(request: web.Request) -> web.Response:
    """`PUT …/load_control`: change one load, named by `name` (NC1, NC2)."""
    runtime = _battery_runtime(request)
    body = await _json_object(request)
    index = next(
        (i for i, load in enumerate(runtime.loads) if load["name"] == body.get("name")), None
    )
    if index is None:
        raise unprocessable(
            "name must be one of " + ", ".join(load["name"] for load in runtime.loads)
        )
    runtime.loads[index] = _load_update(body, runtime.loads[index])
    simulator(request).mark_dirty()
    return web.json_response(
        {"system_id": runtime.spec.system_id, "load_control_data": runtime.loads}
    )
