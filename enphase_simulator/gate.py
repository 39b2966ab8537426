"""The gate every `/api/v4` call passes: key, token, plan, quota, then faults.

Calls refused here with 401 or 429 are not counted, like Enphase's; what
passes is counted before any injected fault or handler error.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from .config import Plan
from .errors import (
    KEY_INVALID,
    KEY_MISMATCH,
    NOT_AUTHORIZED,
    TOKEN_INVALID,
    ApiError,
    error_response,
)
from .faults import Fault, spoil_intervals
from .keys import ENDPOINTS_KEY, GRANT_KEY, Endpoint, simulator
from .quota import MINUTE, Rejection, period_bounds
from .tokens import Grant
from .world import DeveloperApp

MALFORMED = b'{"system_id": 1001, "intervals": [{"end_at": 17'


def too_many(rejection: Rejection, plan: Plan, *, with_period: bool) -> web.Response:
    """Return Enphase's 429 answer for `rejection`."""
    body: dict[str, Any] = {
        "message": "Too Many Requests",
        "details": f"Usage limit exceeded for plan {plan.title}",
        "code": 429,
    }
    if with_period:
        body |= {
            "period": rejection.period,
            "period_start": rejection.start,
            "period_end": rejection.end,
            "limit": rejection.limit,
        }
    return web.json_response(body, status=429)


def bearer(request: web.Request) -> str | None:
    """Return the bearer token of `request`, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def unrouted(request: web.Request) -> web.Response | None:
    """Answer requests no route matches, as Enphase does."""
    exception = request.match_info.http_exception
    if exception is None:
        return None
    if exception.status == web.HTTPMethodNotAllowed.status_code:
        body = {"reason": "405", "message": ["Method not allowed"]}
        return web.json_response(body, status=exception.status)
    return error_response(404, "Not Found")


def fault_response(request: web.Request, fault: Fault, plan: Plan) -> web.Response:
    """Return the answer of an injected status fault."""
    status = 429 if fault.kind == "skew" else fault.status or 500
    if status == 429:  # noqa: PLR2004
        now = simulator(request).now_ts()
        start, end = period_bounds(MINUTE, now)
        shift = int(fault.delay or 0) if fault.kind == "skew" else 0
        rejection = Rejection(MINUTE, start + shift, end + shift, plan.per_minute)
        return too_many(rejection, plan, with_period=simulator(request).quota_period_fields)
    if status == 401 and fault.details is None:  # noqa: PLR2004
        return error_response(401, TOKEN_INVALID)
    return error_response(status, fault.details)


def mangle(response: web.StreamResponse, fault: Fault) -> web.StreamResponse:
    """Break a good answer's body the way the fault asks."""
    if fault.kind == "interval":
        good = response.body if isinstance(response, web.Response) else None
        if response.status != 200 or not isinstance(good, bytes):  # noqa: PLR2004
            return response
        return web.json_response(spoil_intervals(json.loads(good), fault.details or "drop"))
    if fault.kind == "malformed":
        return web.Response(body=MALFORMED, status=200, content_type="application/json")
    body = response.body if isinstance(response, web.Response) else None
    raw = body if isinstance(body, bytes) else json.dumps({}).encode()
    return web.Response(
        body=raw[: len(raw) // 2], status=response.status, content_type="application/json"
    )


def _credentials(request: web.Request, now: int) -> tuple[DeveloperApp, Grant] | web.Response:
    sim = simulator(request)
    app = sim.world.app_by_key(request.query.get("key"))
    if app is None:
        return error_response(401, KEY_INVALID)
    token = bearer(request)
    grant = None if token is None else sim.tokens.check_access(token, now)
    if grant is None:
        return error_response(401, TOKEN_INVALID)
    if grant.client_id != app.client_id:
        return error_response(401, KEY_MISMATCH)
    return app, grant


def _admit(request: web.Request, endpoint: Endpoint, now: int) -> tuple[str, Plan] | web.Response:
    """Return the caller's API key and plan, or the answer refusing the call."""
    credentials = _credentials(request, now)
    if isinstance(credentials, web.Response):
        return credentials
    app, grant = credentials
    sim = simulator(request)
    plan = sim.plan_for(app.api_key)
    if plan.level < endpoint.min_level:
        return error_response(401, NOT_AUTHORIZED)
    rejection = sim.quota.check(app.api_key, plan, endpoint.name, write=endpoint.write, now=now)
    if rejection is not None:
        return too_many(rejection, plan, with_period=sim.quota_period_fields)
    request[GRANT_KEY] = grant
    return app.api_key, plan


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate, authorize, rate-limit and count `/api/` calls; inject faults."""
    path = request.path
    if path.startswith("/oauth/token"):
        return await _with_faults(request, handler)
    if not path.startswith("/api/"):
        return await handler(request)
    if (answer := unrouted(request)) is not None:
        return answer
    sim = simulator(request)
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource else path
    endpoint = request.app[ENDPOINTS_KEY][request.method, canonical]
    now = sim.now_ts()
    admitted = _admit(request, endpoint, now)
    if isinstance(admitted, web.Response):
        return admitted
    key, plan = admitted
    fault = sim.faults.take(path)
    refused = fault is not None and (
        fault.kind == "skew" or (fault.kind == "status" and fault.status in {401, 429})
    )
    if not refused:
        sim.quota.record(key, endpoint.name, now)
        sim.mark_dirty()
    if fault is not None and fault.kind in {"status", "skew"}:
        return fault_response(request, fault, plan)
    return await _run(request, handler, fault)


async def _with_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    fault = simulator(request).faults.take(request.path)
    if fault is not None and fault.kind == "status":
        return fault_response(request, fault, simulator(request).plan_for())
    return await _run(request, handler, fault)


async def _run(request: web.Request, handler: Handler, fault: Fault | None) -> web.StreamResponse:
    if fault is not None and fault.kind == "timeout":
        await simulator(request).faults.hang(fault)
    try:
        response = await handler(request)
    except ApiError as err:
        response = err.response()
    if fault is not None and fault.kind in {"malformed", "truncated", "interval"}:
        return mangle(response, fault)
    return response
