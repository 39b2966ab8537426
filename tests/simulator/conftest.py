"""Fixtures: a simulator app served on 127.0.0.1 and a small HTTP helper around it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
import pytest

from enphase_simulator import (
    SIMULATOR_KEY,
    RedactingAccessLogger,
    SimConfig,
    Simulator,
    create_app,
)

START = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
START_TS = int(START.timestamp())


LA = ZoneInfo("America/Los_Angeles")
CHICAGO = ZoneInfo("America/Chicago")


def midnight(day: date, zone: ZoneInfo = LA) -> int:
    """Return the epoch of local midnight starting `day` in `zone`."""
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())


def local_today(h: Harness, zone: ZoneInfo = LA) -> date:
    """Return the simulator's current date in `zone`."""
    return h.sim.now().astimezone(zone).date()


@dataclass
class Harness:
    """A running simulator, its in-process control and a logged-in token."""

    client: TestClient[Any, Any]
    sim: Simulator
    access_token: str = ""
    refresh_token: str = ""

    def login(
        self, email: str = "demo@example.com", client_id: str | None = None
    ) -> dict[str, Any]:
        """Mint a token pair for `email` and use it from now on."""
        tokens = self.sim.mint_tokens(email, client_id)
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]
        return tokens

    async def api(
        self,
        path: str,
        *,
        method: str = "GET",
        key: str | None = "demo-key",
        token: str | None = None,
        json: Any = None,
        **params: Any,
    ) -> ClientResponse:
        """Call `/api/v4/{path}` with the key and bearer token (both overridable)."""
        query = {k: str(v) for k, v in params.items()}
        if key is not None:
            query["key"] = key
        bearer = self.access_token if token is None else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return await self.client.request(
            method, f"/api/v4/{path}", params=query, headers=headers, json=json
        )

    async def json(self, path: str, status: int = 200, **kwargs: Any) -> Any:
        """Call the API, check the status, return the decoded body."""
        response = await self.api(path, **kwargs)
        body = await response.json()
        assert response.status == status, body
        return body

    async def admin(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        """Call `/_sim/{path}` and return the decoded body."""
        response = await self.client.request(method, f"/_sim/{path}", **kwargs)
        body = await response.json()
        assert response.status == status, body
        return body


HarnessFactory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_harness(socket_enabled: None) -> AsyncIterator[HarnessFactory]:
    """Return a factory of served simulators; by default the clock stands still."""
    clients: list[TestClient[Any, Any]] = []

    async def factory(**overrides: Any) -> Harness:
        settings: dict[str, Any] = {"clock_factor": 0.0, "start": START} | overrides
        app = create_app(SimConfig(**settings))
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(access_log_class=RedactingAccessLogger)
        client: TestClient[Any, Any] = TestClient(server)
        await client.start_server()
        clients.append(client)
        return Harness(client, app[SIMULATOR_KEY])

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    """A Watt-plan simulator with a demo account token."""
    served = await make_harness()
    served.login()
    return served


@pytest.fixture
async def megawatt(make_harness: HarnessFactory) -> Harness:
    """A Megawatt-plan simulator (configuration endpoints allowed) with a token."""
    served = await make_harness(plan="megawatt")
    served.login()
    return served
