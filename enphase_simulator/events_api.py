"""`/api/v4` events, alarms and event types; their `/_sim` admin calls.

Windows as the spec documents them: `start_time` is required and not older
than nine months, `end_time` defaults to min(start + 1 day, now), and one call
covers at most one week. Every plan (Watt included) may call them; the gate
counts them like any other monitoring call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from . import admin
from .api_v4 import runtime_of
from .errors import ApiError, unprocessable
from .events import EVENT_TYPES, TYPES_BY_ID, EventType
from .keys import simulator

DAY: Final = 86_400
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_SPAN: Final = 7 * DAY
MAX_AGE: Final = 274 * DAY
"""Nine months, as the spec words it (UNCONFIRMED: Enphase's exact cut-off)."""


def _epoch(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        msg = f"{name} must be epoch seconds"
        raise unprocessable(msg) from None


def window(request: web.Request) -> tuple[int, int]:
    """Return the requested `[start_time, end_time]`, or raise the documented 422s."""
    now = simulator(request).now_ts()
    start = _epoch(request, "start_time")
    if start is None:
        msg = "start_time is required"
        raise unprocessable(msg)
    if start < now - MAX_AGE:
        msg = "start_time cannot be older than 9 months"
        raise unprocessable(msg)
    end = _epoch(request, "end_time")
    if end is None:
        end = min(start + DAY, now)
    if end < start:
        msg = "end_time must be after start_time"
        raise unprocessable(msg)
    if end - start > MAX_SPAN:
        msg = "Maximum 1 week of data can be retrieved in a single call"
        raise unprocessable(msg)
    return start, end


async def events(request: web.Request) -> web.Response:
    """`GET /systems/{id}/events`: events open at any time in the window."""
    runtime = runtime_of(request)
    first, last = window(request)
    system_id = runtime.spec.system_id
    listed = simulator(request).health.events(system_id, first, last)
    return web.json_response({"system_id": system_id, "events": listed})


async def alarms(request: web.Request) -> web.Response:
    """`GET /systems/{id}/alarms`: active alarms, or cleared ones with `cleared=true`."""
    runtime = runtime_of(request)
    first, last = window(request)
    raw = request.query.get("cleared", "false").lower()
    if raw not in {"true", "false"}:
        msg = "cleared must be true or false"
        raise unprocessable(msg)
    system_id = runtime.spec.system_id
    listed = simulator(request).health.alarms(system_id, first, last, cleared=raw == "true")
    return web.json_response({"system_id": system_id, "alarms": listed})


def _type_json(kind: EventType) -> dict[str, Any]:
    return {
        "event_type_id": kind.event_type_id,
        "event_type_key": kind.key,
        "stateful": kind.stateful,
        "event_name": kind.name,
        "event_description": kind.description,
        "recommended_action": kind.recommended_action,
    }


async def event_types(request: web.Request) -> web.Response:
    """`GET /systems/event_types`: every type, or one with `event_type_id`."""
    wanted = _epoch(request, "event_type_id")
    if wanted is None:
        return web.json_response({"event_types": [_type_json(t) for t in EVENT_TYPES]})
    if wanted not in TYPES_BY_ID:
        raise ApiError(404, f'Event type not found for {{:id=>"{wanted}"}}')
    return web.json_response({"event_types": [_type_json(TYPES_BY_ID[wanted])]})


def routes(api: str, system: str) -> tuple[tuple[str, str, Handler, int], ...]:
    """Return the API routes (method, path, handler, plan level) to register."""
    return (
        ("GET", f"{api}/systems/event_types", event_types, 0),
        ("GET", f"{system}/events", events, 0),
        ("GET", f"{system}/alarms", alarms, 0),
    )


# --- /_sim admin ---------------------------------------------------------------


def _ts(value: object) -> int | None:
    return None if value is None else int(admin.parse_time(value).timestamp())


@admin._guard  # noqa: SLF001 - the admin module's one error wrapper
async def get_health(request: web.Request) -> web.Response:
    """`GET /_sim/systems/{id}/events`: conditions, open events, active alarms."""
    return web.json_response(simulator(request).health.state(int(request.match_info["system_id"])))


@admin._guard  # noqa: SLF001
async def post_condition(request: web.Request) -> web.Response:
    """`POST /_sim/systems/{id}/events {"type", "action": "start"|"end", "device"?, "at"?}`."""
    body = await admin._body(request)  # noqa: SLF001
    sim, system_id = simulator(request), int(request.match_info["system_id"])
    device = int(body.get("device", 0))
    at = _ts(body.get("at"))
    action = body.get("action", "start")
    if action == "start":
        sim.health.inject(system_id, body["type"], at=at, device=device)
    elif action == "end":
        sim.health.clear(system_id, body["type"], at=at, device=device)
    else:
        msg = "action must be start or end"
        raise admin.BadRequestError(msg)
    return web.json_response(sim.health.state(system_id))


@admin._guard  # noqa: SLF001
async def post_grid_event(request: web.Request) -> web.Response:
    """`POST /_sim/systems/{id}/grid_services {"action": "schedule"|"start"|"end", ...}`.

    schedule: `start` (required) and `end`; start: from now until `end` (or open);
    end: ends the running event now or cancels the next scheduled one.
    """
    body = await admin._body(request)  # noqa: SLF001
    sim, system_id = simulator(request), int(request.match_info["system_id"])
    action = body.get("action")
    if action == "schedule":
        start = int(admin.parse_time(body["start"]).timestamp())
        sim.health.schedule_grid_event(system_id, start, _ts(body.get("end")))
    elif action == "start":
        sim.health.schedule_grid_event(system_id, sim.now_ts(), _ts(body.get("end")))
    elif action == "end":
        sim.health.end_grid_event(system_id)
    else:
        msg = "action must be schedule, start or end"
        raise admin.BadRequestError(msg)
    return web.json_response(sim.health.state(system_id))


def add_admin_routes(app: web.Application) -> None:
    """Register the `/_sim` routes of events and grid-services events."""
    system = "/_sim/systems/{system_id:\\d+}"
    app.router.add_routes(
        [
            web.get(f"{system}/events", get_health),
            web.post(f"{system}/events", post_condition),
            web.post(f"{system}/grid_services", post_grid_event),
        ]
    )
