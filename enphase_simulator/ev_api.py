"""`/api/v4/systems/{id}/ev_charger/…`: EV Charger Monitoring (every plan) and Control.

Shapes follow Enphase's spec (`ChargerSummaryResponse`, `EVEventsResponse`,
`ChargeSessionDetailsResponse`, `SchedulesBodyResponse`, `EVEnergyResponse`,
`EVIntervalEnergyResponse`, `DefaultCommandResponse`); bad parameters answer 400
with the spec's `details` array. Only what the gateway has uploaded is served.
`start_charging`/`stop_charging` are gated to the Partner plan in `app.ROUTES`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from .api_v4 import observe
from .errors import ApiError
from .ev_charger import (
    COST_PER_KWH,
    EVENT_TEXTS,
    MILES_PER_KWH,
    QUARTER,
    EvCharger,
    Session,
    add_charger,
    charger_state,
    command,
    device_entries,
    remove_charger,
)
from .keys import simulator
from .system import Observation
from .windows import local_date, local_midnight, parse_window

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def bad_request(*details: str) -> web.Response:
    """Return the spec's 400 body (its `code` is a string there)."""
    body = {"message": "Bad request", "code": "400", "details": list(details)}
    return web.json_response(body, status=400)


class BadRequestError(Exception):
    """A parameter the EV endpoints refuse with 400."""


def _paging(request: web.Request) -> tuple[int, int]:
    try:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", str(DEFAULT_LIMIT)))
    except ValueError:
        raise BadRequestError from None
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise BadRequestError
    return offset, limit


def _charger(seen: Observation, serial: str) -> EvCharger:
    charger = seen.runtime.ev.find(serial)
    if charger is None or charger.added_at > seen.now:
        raise BadRequestError
    return charger


def active_entries(seen: Observation) -> list[dict[str, Any]]:
    """Return the chargers installed now, as `/ev_charger/devices` lists them."""
    spec = seen.runtime.spec
    return device_entries(
        seen.runtime.ev, spec.system_id, seen.now, seen.status, seen.last_report_at
    )


async def devices(request: web.Request) -> web.Response:
    """`GET /ev_charger/devices`: the active chargers."""
    seen = observe(request)
    listed = active_entries(seen)
    body = {
        "items": "devices",
        "total_devices": len(listed),
        "system_id": seen.runtime.spec.system_id,
        "devices": {"ev_chargers": listed},
    }
    return web.json_response(body)


async def events(request: web.Request) -> web.Response:
    """`GET /ev_charger/events`: uploaded events, newest first (UNCONFIRMED order)."""
    seen = observe(request)
    try:
        offset, limit = _paging(request)
    except BadRequestError:
        return bad_request("Invalid offset/limit")
    wanted = request.query.get("serial_num")
    found = [
        (event.at, charger.serial, event.kind)
        for charger in seen.runtime.ev.chargers
        if wanted is None or charger.serial == wanted
        for event in charger.events
        if event.at < seen.through
    ]
    found.sort(reverse=True)
    page = found[offset : offset + limit]
    body = {
        "count": len(page),
        "events": [
            {
                "status": "Info",
                "triggered_date": at,
                "cleared_date": at,
                "details": EVENT_TEXTS[kind].format(serial=serial),
            }
            for at, serial, kind in page
        ],
        "system_id": seen.runtime.spec.system_id,
    }
    return web.json_response(body)


def session_entry(seen: Observation, charger: EvCharger, session: Session) -> dict[str, Any]:
    """Return a session as uploaded so far (one still running has `end_time` null)."""
    done = session.end is not None and session.end < seen.through
    stop = session.end_index if done and session.end_index is not None else seen.reported
    energy = sum(charger.energy_at(i) for i in range(session.start_index, stop))
    charge_s = energy * 3600 // charger.power_w
    end = session.end if done else None
    kwh = energy / 1000
    return {
        "start_time": session.start,
        "end_time": end,
        "duration": (end if end is not None else seen.through) - session.start,
        "energy_added": float(energy),
        "charge_time": charge_s,
        "miles_added": round(kwh * MILES_PER_KWH, 1),
        "cost": round(kwh * COST_PER_KWH, 2),
    }


async def sessions(request: web.Request) -> web.Response:
    """`GET /ev_charger/{serial}/sessions`: sessions, newest first."""
    seen = observe(request)
    try:
        charger = _charger(seen, request.match_info["serial_no"])
        offset, limit = _paging(request)
    except BadRequestError:
        return bad_request("Invalid system_id or serial_no", "Invalid offset/limit")
    listed = [s for s in reversed(charger.sessions) if s.start < seen.through]
    page = [session_entry(seen, charger, s) for s in listed[offset : offset + limit]]
    body = {"count": len(page), "system_id": seen.runtime.spec.system_id, "sessions": page}
    return web.json_response(body)


async def schedules(request: web.Request) -> web.Response:
    """`GET /ev_charger/{serial}/schedules`: the off-peak schedule the charger follows."""
    seen = observe(request)
    try:
        _charger(seen, request.match_info["serial_no"])
    except BadRequestError:
        return bad_request("Invalid system_id or serial_no")
    body = {
        "system_id": seen.runtime.spec.system_id,
        "charger_schedules": [
            {
                "schedules": [
                    {
                        "days": [1, 2, 3, 4, 5, 6, 7],
                        "start_time": "0:00",
                        "end_time": "7:30",
                        "charging_level": 100,
                    }
                ],
                "type": "Custom",
                "is_active": True,
                "reminder_flag": True,
                "reminder_timer": 10,
            }
        ],
    }
    return web.json_response(body)


def _compact_date(raw: str) -> date:
    """Parse the spec's YYYYMMDD (and YYYY-MM-DD)."""
    try:
        return date.fromisoformat(raw if "-" in raw else f"{raw[:4]}-{raw[4:6]}-{raw[6:]}")
    except ValueError:
        raise BadRequestError from None


async def lifetime(request: web.Request) -> web.Response:
    """`GET /ev_charger/{serial}/lifetime`: Wh per local day from start_date to end_date."""
    seen = observe(request)
    spec = seen.runtime.spec
    today = local_date(seen.now, spec.zone)
    try:
        charger = _charger(seen, request.match_info["serial_no"])
        start = _compact_date(request.query["start_date"])
        raw_end = request.query.get("end_date")
        end = _compact_date(raw_end) if raw_end else today - timedelta(days=1)
    except BadRequestError, KeyError:
        return bad_request("Invalid system_id", "Invalid start_date/end_date")
    if start > end or start < today - timedelta(days=2 * 365):
        return bad_request("Invalid system_id", "Invalid start_date/end_date")
    origin = seen.runtime.operational_at
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    consumption = []
    for day in days:
        first = (local_midnight(day, spec.zone) - origin) // QUARTER
        stop = (local_midnight(day + timedelta(days=1), spec.zone) - origin) // QUARTER
        stop = min(stop, seen.reported)
        consumption.append(sum(charger.energy_at(i) for i in range(max(0, first), stop)))
    body = {
        "system_id": spec.system_id,
        "start_date": start.isoformat(),
        "consumption": consumption,
    }
    return web.json_response(body)


async def telemetry(request: web.Request) -> web.Response:
    """`GET /ev_charger/{serial}/telemetry`: Wh per 15 minutes over a day or a week."""
    seen = observe(request)
    spec = seen.runtime.spec
    query = dict(request.query)
    query.setdefault("granularity", "day")
    if query["granularity"] not in {"day", "week"}:
        return bad_request("Invalid granularity")
    try:
        charger = _charger(seen, request.match_info["serial_no"])
        if "start_date" in query:
            query["start_date"] = _compact_date(query["start_date"]).isoformat()
        elif "start_at" not in query:
            # Documented default: the previous local day.
            query["start_date"] = (local_date(seen.now, spec.zone) - timedelta(days=1)).isoformat()
        window = parse_window(query, spec.zone, seen.now, seen.runtime.operational_at, QUARTER)
    except BadRequestError, ApiError:
        return bad_request("Invalid system_id", "Invalid start_date")
    origin = seen.runtime.operational_at
    last_end = min(window.end, seen.through)
    rows = [
        {"consumption": charger.energy_at(i), "end_at": origin + (i + 1) * QUARTER}
        for i in range((window.start - origin) // QUARTER, (last_end - origin) // QUARTER)
    ]
    body: dict[str, Any] = {
        "granularity": window.granularity,
        "consumption": rows,
        "system_id": spec.system_id,
    }
    if "start_date" in request.query:
        body["start_date"] = query["start_date"]
    else:
        body["start_at"] = window.start
    body["end_at"] = window.end
    return web.json_response(body)


async def _command(request: web.Request, action: str) -> web.Response:
    seen = observe(request)
    try:
        charger = _charger(seen, request.match_info["serial_no"])
    except BadRequestError:
        return bad_request("Invalid system_id or serial_no")
    charger.commands.append((max(seen.now, seen.sim.computed_through), action))
    simulator(request).mark_dirty()
    return web.json_response({"message": "Request sent successfully"}, status=202)


async def start_charging(request: web.Request) -> web.Response:
    """`POST /ev_charger/{serial}/start_charging` (Partner): resume charging a plugged car."""
    body: Any = {}
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            return bad_request("Invalid request body")
    if not isinstance(body, dict):
        return bad_request("Invalid request body")
    details = []
    connector = body.get("connectorId", "1")
    level = body.get("chargingLevel", "100")
    if not str(connector).isdigit() or int(str(connector)) < 1:
        details.append("Connector Id must be greater than 0")
    if not str(level).isdigit() or not 0 <= int(str(level)) <= 100:  # noqa: PLR2004
        details.append("Charging level should be in the range [0-100]")
    if details:
        return bad_request(*details)
    return await _command(request, "start")


async def stop_charging(request: web.Request) -> web.Response:
    """`POST /ev_charger/{serial}/stop_charging` (Partner): stop charging."""
    return await _command(request, "stop")


# --- admin: `/_sim/systems/{id}/ev_chargers…` (never counted, no auth) -------------


def _admin_fail(status: int, err: Exception) -> web.Response:
    return web.json_response({"error": str(err)}, status=status)


async def admin_add(request: web.Request) -> web.Response:
    """`POST /_sim/systems/{id}/ev_chargers`: install a charger now; answer its serial."""
    sim = simulator(request)
    try:
        serial = add_charger(sim, int(request.match_info["system_id"]))
    except LookupError as err:
        return _admin_fail(404, err)
    return web.json_response({"serial": serial}, status=201)


async def admin_remove(request: web.Request) -> web.Response:
    """`DELETE /_sim/systems/{id}/ev_chargers/{serial}`: uninstall a charger."""
    sim = simulator(request)
    try:
        remove_charger(sim, int(request.match_info["system_id"]), request.match_info["serial"])
    except LookupError as err:
        return _admin_fail(404, err)
    return web.json_response({"removed": request.match_info["serial"]})


async def admin_action(request: web.Request) -> web.Response:
    """`POST /_sim/systems/{id}/ev_chargers/{serial}/{action}`: plug, unplug, start, stop."""
    sim = simulator(request)
    system_id, serial = int(request.match_info["system_id"]), request.match_info["serial"]
    try:
        command(sim, system_id, serial, request.match_info["action"])
        return web.json_response(charger_state(sim, system_id, serial))
    except LookupError as err:
        return _admin_fail(404, err)
    except ValueError as err:
        return _admin_fail(400, err)


async def admin_state(request: web.Request) -> web.Response:
    """`GET /_sim/systems/{id}/ev_chargers/{serial}`: what the charger does now."""
    sim = simulator(request)
    try:
        state = charger_state(
            sim, int(request.match_info["system_id"]), request.match_info["serial"]
        )
    except LookupError as err:
        return _admin_fail(404, err)
    return web.json_response(state)


def add_admin_routes(app: web.Application) -> None:
    """Register the EV charger admin routes on `app`."""
    base = "/_sim/systems/{system_id:\\d+}/ev_chargers"
    app.router.add_routes(
        [
            web.post(base, admin_add),
            web.get(f"{base}/{{serial}}", admin_state),
            web.delete(f"{base}/{{serial}}", admin_remove),
            web.post(f"{base}/{{serial}}/{{action}}", admin_action),
        ]
    )
