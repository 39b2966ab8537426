"""Admin and fault-injection API under `/_sim/` (never counted, no auth).

Each handler is a thin JSON wrapper around a `Simulator` method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
import functools
from typing import Any

from aiohttp import web

from .clock import ClockIsExternalError
from .keys import simulator
from .simulator import Simulator, UnknownError

Handler = Callable[[web.Request], Awaitable[web.Response]]


class BadRequestError(ValueError):
    """The admin call's body or query is unusable."""


def _fail(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _guard(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ClockIsExternalError as err:
            return _fail(409, str(err))
        except UnknownError as err:
            return _fail(404, str(err))
        except (ValueError, TypeError, KeyError) as err:
            return _fail(400, str(err))

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        msg = "body must be a JSON object"
        raise BadRequestError(msg)
    return body


def parse_time(value: object) -> datetime:
    """Accept an epoch number or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, bool):
        msg = "time must be epoch seconds or ISO 8601"
        raise BadRequestError(msg)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    msg = "time must be epoch seconds or ISO 8601"
    raise BadRequestError(msg)


def _optional_time(value: object) -> datetime | None:
    return None if value is None else parse_time(value)


def _system_id(request: web.Request) -> int:
    return int(request.match_info["system_id"])


def _clock(sim: Simulator) -> dict[str, Any]:
    now = sim.now()
    return {"now": now.isoformat(), "now_ts": int(now.timestamp()), "external": sim.clock.external}


@_guard
async def get_status(request: web.Request) -> web.Response:
    """`GET /_sim/status`: clock, plans, options, systems."""
    sim = simulator(request)
    body = {
        "clock": _clock(sim),
        "plans": sim.plans,
        "options": sim.options(),
        "operational_at": sim.operational_at,
        "systems": sorted(sim.systems),
        "faults": [f.to_json() for f in sim.faults.faults],
    }
    return web.json_response(body)


@_guard
async def get_clock(request: web.Request) -> web.Response:
    """`GET /_sim/clock`."""
    return web.json_response(_clock(simulator(request)))


@_guard
async def advance_clock(request: web.Request) -> web.Response:
    """`POST /_sim/clock/advance {"seconds": N}`."""
    sim = simulator(request)
    sim.advance(float((await _body(request))["seconds"]))
    return web.json_response(_clock(sim))


@_guard
async def set_clock(request: web.Request) -> web.Response:
    """`POST /_sim/clock/set {"time": ISO or epoch}`."""
    sim = simulator(request)
    sim.set_time(parse_time((await _body(request))["time"]))
    return web.json_response(_clock(sim))


@_guard
async def put_plan(request: web.Request) -> web.Response:
    """`PUT /_sim/plan {"plan": "megawatt", "key": "demo-key"}`."""
    body = await _body(request)
    plan = simulator(request).set_plan(body["plan"], body.get("key"))
    return web.json_response(
        {"key": body.get("key") or simulator(request).config.api_key, "plan": plan.name}
    )


@_guard
async def post_tokens(request: web.Request) -> web.Response:
    """`POST /_sim/tokens {"email", "client_id"}`: the token response, no browser."""
    body = await _body(request)
    sim = simulator(request)
    return web.json_response(
        sim.mint_tokens(body.get("email") or "demo@example.com", body.get("client_id"))
    )


@_guard
async def post_revoke(request: web.Request) -> web.Response:
    """`POST /_sim/revoke {"email", "client_id"}`."""
    body = await _body(request)
    dropped = simulator(request).revoke(
        body.get("email") or "demo@example.com", body.get("client_id")
    )
    return web.json_response({"revoked": dropped})


@_guard
async def post_expire(request: web.Request) -> web.Response:
    """`POST /_sim/tokens/expire {"email"?, "client_id"?}`."""
    body = await _body(request)
    expired = simulator(request).expire_access_tokens(body.get("email"), body.get("client_id"))
    return web.json_response({"expired": expired})


@_guard
async def post_fault(request: web.Request) -> web.Response:
    """`POST /_sim/faults {"status"|"kind", "count", "path", "delay", "details"}`."""
    body = await _body(request)
    fault = simulator(request).add_fault(
        body.get("status"),
        kind=body.get("kind", "status"),
        count=int(body.get("count", 1)),
        path=body.get("path"),
        delay=body.get("delay"),
        details=body.get("details"),
    )
    return web.json_response(fault.to_json())


@_guard
async def get_faults(request: web.Request) -> web.Response:
    """`GET /_sim/faults`: the armed faults."""
    return web.json_response({"faults": [f.to_json() for f in simulator(request).faults.faults]})


@_guard
async def delete_faults(request: web.Request) -> web.Response:
    """`DELETE /_sim/faults`: disarm all and end running hangs."""
    simulator(request).clear_faults()
    return web.json_response({"faults": []})


@_guard
async def post_outage(request: web.Request) -> web.Response:
    """`POST /_sim/systems/{id}/outage {"action": "start"|"end", "at"?}`."""
    body = await _body(request)
    sim, system_id = simulator(request), _system_id(request)
    at = _optional_time(body.get("at"))
    action = body.get("action")
    if action == "start":
        return web.json_response(sim.start_outage(system_id, at))
    if action == "end":
        return web.json_response({"ended": sim.end_outage(system_id, at)})
    msg = "action must be start or end"
    raise BadRequestError(msg)


@_guard
async def post_grid(request: web.Request) -> web.Response:
    """`POST /_sim/systems/{id}/grid {"on": bool}`."""
    body = await _body(request)
    simulator(request).set_grid(_system_id(request), on=_bool(body, "on"))
    return web.json_response(simulator(request).battery_state(_system_id(request)))


@_guard
async def post_storm_alert(request: web.Request) -> web.Response:
    """`POST /_sim/systems/{id}/storm_alert {"active": bool}`."""
    body = await _body(request)
    simulator(request).set_storm_alert(_system_id(request), active=_bool(body, "active"))
    return web.json_response(simulator(request).battery_state(_system_id(request)))


@_guard
async def post_charge_from_grid(request: web.Request) -> web.Response:
    """`POST /_sim/systems/{id}/charge_from_grid {"enabled": bool}`."""
    body = await _body(request)
    simulator(request).set_charge_from_grid(_system_id(request), enabled=_bool(body, "enabled"))
    return web.json_response(simulator(request).battery_state(_system_id(request)))


@_guard
async def put_connection(request: web.Request) -> web.Response:
    """`PUT /_sim/systems/{id}/connection {"type": "ethernet"|"wifi"|"cellular"}`."""
    body = await _body(request)
    simulator(request).set_connection_type(_system_id(request), body["type"])
    return web.json_response(simulator(request).reporting(_system_id(request)))


@_guard
async def get_battery(request: web.Request) -> web.Response:
    """`GET /_sim/systems/{id}/battery`: effective, requested and pending settings."""
    return web.json_response(simulator(request).battery_state(_system_id(request)))


@_guard
async def get_reporting(request: web.Request) -> web.Response:
    """`GET /_sim/systems/{id}/reporting`: uploads and outages."""
    return web.json_response(simulator(request).reporting(_system_id(request)))


@_guard
async def get_truth(request: web.Request) -> web.Response:
    """`GET /_sim/systems/{id}/truth?start=&end=`: true flows, uploaded or not."""
    query = request.query
    intervals = simulator(request).truth(
        _system_id(request), _optional_time(query.get("start")), _optional_time(query.get("end"))
    )
    return web.json_response({"system_id": _system_id(request), "intervals": intervals})


@_guard
async def get_usage(request: web.Request) -> web.Response:
    """`GET /_sim/usage?key=`: call counts per period and per endpoint."""
    return web.json_response(simulator(request).usage(request.query.get("key")))


@_guard
async def post_usage(request: web.Request) -> web.Response:
    """`POST /_sim/usage {"key"?, "minute"?, "month"?}`: force the current counts."""
    body = await _body(request)
    sim = simulator(request)
    sim.set_usage(body.get("key"), minute=body.get("minute"), month=body.get("month"))
    return web.json_response(sim.usage(body.get("key")))


@_guard
async def put_options(request: web.Request) -> web.Response:
    """`PUT /_sim/options {"quota_period_fields"?, "battery_power_sign"?}`."""
    body = await _body(request)
    sim = simulator(request)
    sim.set_options(
        quota_period_fields=body.get("quota_period_fields"),
        battery_power_sign=body.get("battery_power_sign"),
    )
    return web.json_response(sim.options())


@_guard
async def post_save(request: web.Request) -> web.Response:
    """`POST /_sim/state/save`: write the state file now."""
    simulator(request).save_state()
    return web.json_response({"saved": simulator(request).config.state_path is not None})


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body[name]
    if not isinstance(value, bool):
        msg = f"{name} must be true or false"
        raise BadRequestError(msg)
    return value


def add_routes(app: web.Application) -> None:
    """Register the admin routes on `app`."""
    system = "/_sim/systems/{system_id:\\d+}"
    app.router.add_routes(
        [
            web.get("/_sim/status", get_status),
            web.get("/_sim/clock", get_clock),
            web.post("/_sim/clock/advance", advance_clock),
            web.post("/_sim/clock/set", set_clock),
            web.put("/_sim/plan", put_plan),
            web.post("/_sim/tokens", post_tokens),
            web.post("/_sim/tokens/expire", post_expire),
            web.post("/_sim/revoke", post_revoke),
            web.get("/_sim/faults", get_faults),
            web.post("/_sim/faults", post_fault),
            web.delete("/_sim/faults", delete_faults),
            web.get("/_sim/usage", get_usage),
            web.post("/_sim/usage", post_usage),
            web.put("/_sim/options", put_options),
            web.post("/_sim/state/save", post_save),
            web.post(f"{system}/outage", post_outage),
            web.post(f"{system}/grid", post_grid),
            web.post(f"{system}/storm_alert", post_storm_alert),
            web.post(f"{system}/charge_from_grid", post_charge_from_grid),
            web.put(f"{system}/connection", put_connection),
            web.get(f"{system}/battery", get_battery),
            web.get(f"{system}/reporting", get_reporting),
            web.get(f"{system}/truth", get_truth),
        ]
    )
