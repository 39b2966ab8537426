#!/usr/bin/env python3
"""A scripted Enphase v4 client using only the standard library.

It walks the whole path an app takes against the simulator (or any server
speaking the same protocol):

1. `GET /oauth/authorize`: with the simulator's `--auto-approve` the answer is
   an immediate redirect; otherwise it reads the consent page and posts its
   form with "Approve", as a homeowner would;
2. `POST /oauth/token` with HTTP Basic client authentication and the
   parameters in the query string (the documented form);
3. `GET /api/v4/systems`;
4. `GET /api/v4/systems/{id}/telemetry/battery` for one whole local day
   (yesterday in the system's time zone, so all 96 intervals exist).

Usage (the simulator prints its URL and the demo credentials on start):

    python -m enphase_simulator --port 8089 --auto-approve &
    script/sim_client.py --base-url http://127.0.0.1:8089

It prints one JSON object: the token's account, the systems, and the battery
day (interval count, first and last interval, last SoC). Tokens are never
printed. Exit status 0 on success, 1 with a message on stderr otherwise.
"""

from __future__ import annotations

import argparse
import base64
from datetime import UTC, datetime, timedelta
from email.message import Message
from html.parser import HTMLParser
import json
import secrets
import sys
from typing import IO, Any
from urllib import error, parse, request
from zoneinfo import ZoneInfo

REDIRECT_URI = "http://127.0.0.1:8123/auth/external/callback"
TIMEOUT_S = 10


class ClientError(RuntimeError):
    """A step of the scripted dance failed."""


class _NoRedirect(request.HTTPRedirectHandler):
    """Keep redirects as answers: the code is in the Location header."""

    def redirect_request(  # noqa: PLR0913, PLR0917 - urllib's signature
        self,
        req: request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        """Follow no redirect."""
        return


class _ConsentForm(HTMLParser):
    """Collect the consent form's action and hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")


_OPENER = request.build_opener(_NoRedirect)


def _send(req: request.Request) -> tuple[int, dict[str, str], bytes]:
    """Send `req`; return status, headers and body (HTTP errors included)."""
    if parse.urlsplit(req.full_url).scheme not in {"http", "https"}:
        msg = f"not an HTTP URL: {req.full_url}"
        raise ClientError(msg)
    try:
        with _OPENER.open(req, timeout=TIMEOUT_S) as response:
            return response.status, dict(response.headers), response.read()
    except error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _code_from(location: str, state: str) -> str:
    query = parse.parse_qs(parse.urlsplit(location).query)
    if query.get("state") != [state]:
        msg = "the redirect did not carry our state back"
        raise ClientError(msg)
    if "code" not in query:
        msg = f"authorization refused: {query.get('error', ['?'])[0]}"
        raise ClientError(msg)
    return query["code"][0]


def authorize(base: str, client_id: str, redirect_uri: str) -> str:
    """Return an authorization code, approving the consent page if one is shown."""
    state = secrets.token_urlsafe(8)
    query = parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    status, headers, body = _send(request.Request(f"{base}/oauth/authorize?{query}"))  # noqa: S310
    if status == 302:  # noqa: PLR2004 - auto-approve redirects at once
        return _code_from(headers["Location"], state)
    if status != 200:  # noqa: PLR2004
        msg = f"authorize answered {status}"
        raise ClientError(msg)
    form = _ConsentForm()
    form.feed(body.decode())
    data = parse.urlencode(form.fields | {"decision": "approve"}).encode()
    status, headers, _ = _send(
        request.Request(parse.urljoin(base + "/", form.action), data=data, method="POST")  # noqa: S310
    )
    if status != 302:  # noqa: PLR2004
        msg = f"approving answered {status}"
        raise ClientError(msg)
    return _code_from(headers["Location"], state)


def fetch_token(
    base: str, client_id: str, secret: str, code: str, redirect_uri: str
) -> dict[str, Any]:
    """Trade `code` for tokens with HTTP Basic client authentication."""
    query = parse.urlencode(
        {"grant_type": "authorization_code", "redirect_uri": redirect_uri, "code": code}
    )
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    req = request.Request(  # noqa: S310 - _send accepts only HTTP URLs
        f"{base}/oauth/token?{query}", method="POST", headers={"Authorization": f"Basic {basic}"}
    )
    status, _, body = _send(req)
    if status != 200:  # noqa: PLR2004
        msg = f"token endpoint answered {status}: {body.decode(errors='replace')}"
        raise ClientError(msg)
    tokens: dict[str, Any] = json.loads(body)
    return tokens


def api(base: str, path: str, token: str, key: str, **params: str | int) -> dict[str, Any]:
    """GET `/api/v4/{path}` with the bearer token and the API key."""
    query = parse.urlencode({**params, "key": key})
    req = request.Request(  # noqa: S310 - _send accepts only HTTP URLs
        f"{base}/api/v4/{path}?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    status, _, body = _send(req)
    if status != 200:  # noqa: PLR2004
        msg = f"GET {path} answered {status}: {body.decode(errors='replace')}"
        raise ClientError(msg)
    answer: dict[str, Any] = json.loads(body)
    return answer


def battery_day(base: str, token: str, key: str, system: dict[str, Any]) -> dict[str, Any]:
    """Read yesterday's (local) battery telemetry of `system` and summarise it."""
    zone = ZoneInfo(system["timezone"])
    yesterday = (datetime.now(UTC).astimezone(zone) - timedelta(days=1)).date()
    body = api(
        base,
        f"systems/{system['system_id']}/telemetry/battery",
        token,
        key,
        start_date=yesterday.isoformat(),
        granularity="day",
    )
    intervals = body["intervals"]
    return {
        "system_id": system["system_id"],
        "date": yesterday.isoformat(),
        "intervals": len(intervals),
        "first_end_at": intervals[0]["end_at"] if intervals else None,
        "last_end_at": intervals[-1]["end_at"] if intervals else None,
        "charge_wh": sum(i["charge"]["enwh"] for i in intervals),
        "discharge_wh": sum(i["discharge"]["enwh"] for i in intervals),
        "last_soc_percent": intervals[-1]["soc"]["percent"] if intervals else None,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Authorize, get a token, list systems and read a day of battery telemetry."""
    base = args.base_url.rstrip("/")
    code = authorize(base, args.client_id, args.redirect_uri)
    tokens = fetch_token(base, args.client_id, args.client_secret, code, args.redirect_uri)
    token = tokens["access_token"]
    listed = api(base, "systems", token, args.api_key, size=100)
    systems = listed["systems"]
    if not systems:
        msg = "the account has no systems"
        raise ClientError(msg)
    chosen = next((s for s in systems if s["system_id"] == args.system_id), systems[0])
    return {
        "enl_uid": tokens["enl_uid"],
        "expires_in": tokens["expires_in"],
        "systems": [{"system_id": s["system_id"], "name": s["name"]} for s in systems],
        "battery": battery_day(base, token, args.api_key, chosen),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (defaults are the simulator's demo credentials)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8089")
    parser.add_argument("--client-id", default="demo-client")
    parser.add_argument("--client-secret", default="demo-secret")
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--redirect-uri", default=REDIRECT_URI)
    parser.add_argument(
        "--system-id", type=int, help="system whose battery to read (default: the first)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the client; print the JSON result or the error."""
    try:
        result = run(parse_args(argv))
    except (ClientError, OSError, ValueError, KeyError) as err:
        print(f"sim_client: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
