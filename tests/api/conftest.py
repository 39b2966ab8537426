"""Fixtures of the API client tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp.test_utils import TestServer
import pytest

from custom_components.enphase_cloud.api import EnphaseClient

from .fake_server import FakeEnphase, RecordingLimiter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

TOKEN = "tok-abc.123"
API_KEY = "key-0123456789abcdef"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Yield an aiohttp session, closed afterwards."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def fake(socket_enabled: None) -> AsyncIterator[FakeEnphase]:
    """Serve a FakeEnphase on 127.0.0.1."""
    fake = FakeEnphase()
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    fake.base_url = str(server.make_url("/"))
    try:
        yield fake
    finally:
        fake.release.set()
        await server.close()


@pytest.fixture
def limiter() -> RecordingLimiter:
    """Return a limiter that records its calls."""
    return RecordingLimiter()


@pytest.fixture
def client(
    session: aiohttp.ClientSession, fake: FakeEnphase, limiter: RecordingLimiter
) -> EnphaseClient:
    """Return a client of the fake server, with a recording limiter."""

    async def token() -> str:
        return TOKEN

    return EnphaseClient(
        session, token, API_KEY, base_url=fake.base_url, timeout=5, limiter=limiter
    )
