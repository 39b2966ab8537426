"""A programmable Enphase stand-in for the client's HTTP edge cases.

The simulator is the realistic server; this one answers exactly what a test
tells it to (pages of 250 systems, a redirect, a hanging answer, a list where
an object belongs), and records every request it got.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Callable

    from custom_components.enphase_cloud.api import EnphaseRateLimited


@dataclass(frozen=True, slots=True)
class Received:
    """One request the fake server got."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass(slots=True)
class Reply:
    """What to answer to one path."""

    status: int = 200
    json_body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


class FakeEnphase:
    """Answers from a table keyed by path (under /api/v4), or by a function."""

    def __init__(self) -> None:
        """Initialize an empty table."""
        self.replies: dict[str, Reply | Callable[[Received], Reply]] = {}
        self.received: list[Received] = []
        self.base_url = ""  # set by the fixture that serves it
        self.release = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)

    def reply(self, path: str, json_body: Any = None, status: int = 200, **kwargs: Any) -> None:
        """Answer `path` (without /api/v4) with JSON (or `raw=` bytes)."""
        self.replies[path] = Reply(status=status, json_body=json_body, **kwargs)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            body = await request.json()
        path = request.path.removeprefix("/api/v4")
        received = Received(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body,
        )
        self.received.append(received)
        reply = self.replies.get(path)
        if reply is None:
            return web.json_response(
                {"message": "Not Found", "details": "No such path", "code": 404}, status=404
            )
        if callable(reply):
            reply = reply(received)
        if reply.hang:
            await self.release.wait()
        raw = reply.raw if reply.raw is not None else json.dumps(reply.json_body).encode()
        return web.Response(
            status=reply.status,
            body=raw,
            headers={"Content-Type": "application/json", **reply.headers},
        )


class RecordingLimiter:
    """A RequestLimiter that writes down every call, and can refuse."""

    def __init__(self, refuse: EnphaseRateLimited | None = None) -> None:
        """Initialize."""
        self.refuse = refuse
        self.calls: list[tuple[Any, ...]] = []

    async def acquire(self, endpoint: str) -> None:
        """Note the call; raise the refusal if one is set."""
        self.calls.append(("acquire", endpoint))
        if self.refuse is not None:
            raise self.refuse

    def record(self, endpoint: str, status: int) -> None:
        """Note the answer's status."""
        self.calls.append(("record", endpoint, status))

    def rate_limited(self, error: EnphaseRateLimited) -> None:
        """Note the 429."""
        self.calls.append(("rate_limited", error.period, error.retry_at))
