"""OAuth 2 authorization-code flow: consent page, decision, token endpoint."""

from __future__ import annotations

import base64
import binascii
import html
import logging
from typing import Any

from aiohttp import web
from yarl import URL

from .keys import simulator
from .world import DeveloperApp

_LOGGER = logging.getLogger(__name__)
PAGE = """<!doctype html>
<html><head><title>Enlighten - Authorize {app}</title></head>
<body>
<h1>Authorize {app}</h1>
<p>Signed in as <b>{email}</b>. Allow <b>{app}</b> to read and control your systems?</p>
<form method="post" action="/oauth/authorize/decision">
{hidden}
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
</body></html>
"""
CARRIED = ("client_id", "redirect_uri", "state", "login_hint")


def _page(status: int, text: str) -> web.Response:
    body = f"<!doctype html><html><body><h1>{status}</h1><p>{html.escape(text)}</p></body></html>"
    return web.Response(text=body, status=status, content_type="text/html")


def _problem(params: dict[str, str], request: web.Request) -> web.Response | None:
    sim = simulator(request)
    if params.get("response_type", "code") != "code":
        return _page(400, "response_type must be code")
    if sim.world.app_by_client(params.get("client_id")) is None:
        return _page(400, "Unknown client_id")
    if not params.get("redirect_uri"):
        return _page(400, "redirect_uri is required")
    if sim.world.account_by_email(params.get("login_hint") or "demo@example.com") is None:
        return _page(400, "Unknown account")
    return None


def _redirect(params: dict[str, str], **extra: str) -> web.Response:
    query = dict(extra)
    if params.get("state"):
        query["state"] = params["state"]
    location = URL(params["redirect_uri"]).update_query(query)
    return web.Response(status=302, headers={"Location": str(location)})


def _approve(request: web.Request, params: dict[str, str]) -> web.Response:
    sim = simulator(request)
    account = sim.world.account_by_email(params.get("login_hint") or "demo@example.com")
    assert account is not None  # noqa: S101 - _problem checked it
    code = sim.tokens.issue_code(
        account.uid, params["client_id"], params["redirect_uri"], sim.now_ts()
    )
    return _redirect(params, code=code)


async def authorize(request: web.Request) -> web.Response:
    """`GET /oauth/authorize`: consent page, or an instant redirect with auto-approve."""
    params = dict(request.query)
    if (problem := _problem(params, request)) is not None:
        return problem
    if simulator(request).config.auto_approve:
        return _approve(request, params)
    hidden = "\n".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
        for name in CARRIED
        if name in params
    )
    email = params.get("login_hint") or "demo@example.com"
    text = PAGE.format(
        app=html.escape(params["client_id"]), email=html.escape(email), hidden=hidden
    )
    return web.Response(text=text, content_type="text/html")


async def decision(request: web.Request) -> web.Response:
    """`POST /oauth/authorize/decision`: the homeowner's Approve or Deny."""
    params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    if (problem := _problem(params, request)) is not None:
        return problem
    if params.get("decision") == "approve":
        return _approve(request, params)
    return _redirect(params, error="access_denied")


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def client_of(request: web.Request) -> DeveloperApp | None:
    """Return the app authenticated by HTTP Basic, the only way Enphase accepts."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except binascii.Error, UnicodeDecodeError:
        return None
    client_id, _, secret = decoded.partition(":")
    app = simulator(request).world.app_by_client(client_id)
    return app if app is not None and app.client_secret == secret else None


async def token(request: web.Request) -> web.Response:
    """`POST /oauth/token`: authorization_code and refresh_token grants."""
    app = client_of(request)
    if app is None:
        return _oauth_error(401, "invalid_client", "Bad client credentials")
    params: dict[str, Any] = dict(request.query)
    sim = simulator(request)
    if request.can_read_body and sim.config.token_form_body:
        params |= {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    now = sim.now_ts()
    grant_type = params.get("grant_type")
    if grant_type == "authorization_code":
        grant = sim.tokens.redeem_code(
            params.get("code", ""), app.client_id, params.get("redirect_uri", ""), now
        )
        if grant is None:
            return _oauth_error(400, "invalid_grant", "Invalid authorization code or redirect_uri")
        pair = sim.tokens.issue_pair(grant.uid, app.client_id, now)
    elif grant_type == "refresh_token":
        rotated = sim.tokens.rotate(params.get("refresh_token", ""), app.client_id, now)
        if rotated is None:
            # An expired, rotated-away or revoked refresh token: 401 invalid_token, as
            # Spring Security OAuth (whose token format Enphase's answers share) does.
            return _oauth_error(401, "invalid_token", "Invalid refresh token")
        pair = rotated
    else:
        return _oauth_error(
            400, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
        )
    sim.mark_dirty()
    _LOGGER.debug("issued tokens for uid %s to %s by %s", pair.uid, app.client_id, grant_type)
    return web.json_response(sim.token_response(pair))
