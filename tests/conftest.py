"""Fixtures shared by the integration's tests: a real simulator over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
import time
from typing import Any
from unittest.mock import PropertyMock, patch

from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Imported before Home Assistant's loader runs: otherwise the test plugin's own
# `custom_components` package shadows ours and the integration is not found.
import custom_components.enphase_cloud  # noqa: F401
from custom_components.enphase_cloud.budget import key_id
from custom_components.enphase_cloud.const import BASE_URL_ENV, CONF_HISTORY_DAYS, CONF_PLAN, DOMAIN
from enphase_simulator import SIMULATOR_KEY, SimConfig, Simulator, create_app

# The test plugin turns SQL echo on for every test; the recorder thread then prints every
# statement outside pytest's capture, which buries the test output.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

# A summer evening in California: the battery system has charged all day.
START = datetime(2026, 6, 15, 19, 7, tzinfo=UTC)
CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-secret"
API_KEY = "demo-key"
BATTERY_SYSTEM = 1001
PLAIN_SYSTEM = 1002


@pytest.fixture(autouse=True)
def auto_prepare_hass(request: pytest.FixtureRequest) -> None:
    """Prepare Home Assistant for every test that uses it.

    The integration depends on the recorder (it writes long-term statistics), and
    the recorder fixture must be set up before `hass`; custom integrations must be
    enabled. Simulator and API client tests do not use `hass` and skip both.
    """
    if "hass" in request.fixturenames:
        request.getfixturevalue("recorder_mock")
        request.getfixturevalue("enable_custom_integrations")


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Return snapshots with Home Assistant's serializer (random ids become ANY)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@dataclass(slots=True)
class SimHarness:
    """The running simulator: its control object and its base URL."""

    sim: Simulator
    url: str


@pytest.fixture
def plan() -> str:
    """Return the Enphase plan of the developer app (override per test module)."""
    return "watt"


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """Return extra SimConfig fields (override per test)."""
    return {}


@pytest.fixture
async def simulator(
    hass: HomeAssistant,
    socket_enabled: None,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    plan: str,
    sim_options: dict[str, Any],
) -> AsyncGenerator[SimHarness]:
    """Serve the simulator on 127.0.0.1, on Home Assistant's (frozen) clock."""
    freezer.move_to(START)
    config = SimConfig(plan=plan, clock=dt_util.utcnow, auto_approve=True, **sim_options)
    app = create_app(config)
    server = TestServer(app, host="127.0.0.1", access_log=None)
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    monkeypatch.setenv(BASE_URL_ENV, url)
    try:
        yield SimHarness(sim=app[SIMULATOR_KEY], url=url)
    finally:
        await server.close()


@pytest.fixture
async def credentials(hass: HomeAssistant) -> None:
    """Store the developer app's client id and secret as application credentials."""
    assert await async_setup_component(hass, "application_credentials", {})
    await async_import_client_credential(
        hass, DOMAIN, ClientCredential(CLIENT_ID, CLIENT_SECRET), DOMAIN
    )


async def run_until(hass: HomeAssistant, freezer: FrozenDateTimeFactory, until: datetime) -> None:
    """Move time to `until` a minute at a time, letting every poll that falls due run."""
    while (moment := dt_util.utcnow()) < until:
        freezer.move_to(min(until, moment + timedelta(minutes=1)))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)


def stored_budget(
    api_key: str,
    *,
    month: str = "2026-06",
    used: int = 0,
    recent: list[float] | None = None,
    blocked_until: str | None = None,
    block_period: str | None = None,
    responses: dict[str, dict[str, int]] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Return the storage key and file of an API key's budget, as the budget writes them."""
    key = f"{DOMAIN}.budget.{key_id(api_key)}"
    return key, {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "month": month,
            "used": used,
            "responses": responses or {},
            "recent": recent or [],
            "blocked_until": blocked_until,
            "block_period": block_period,
        },
    }


def token_data(tokens: dict[str, Any]) -> dict[str, Any]:
    """Return the token as Home Assistant's OAuth helper stores it."""
    return {**tokens, "expires_at": time.time() + int(tokens["expires_in"])}


@pytest.fixture
def config_entry(simulator: SimHarness, credentials: None, plan: str) -> MockConfigEntry:
    """Return an entry for the demo account, logged in through the simulator."""
    tokens = simulator.sim.mint_tokens()
    return MockConfigEntry(
        domain=DOMAIN,
        title="Casa Solar (+1)",
        unique_id=str(tokens["enl_uid"]),
        data={"auth_implementation": DOMAIN, "token": token_data(tokens), CONF_API_KEY: API_KEY},
        options={CONF_PLAN: plan, CONF_HISTORY_DAYS: 2},
    )


@pytest.fixture
async def init_integration(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    """Set the integration up and return its entry."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create every entity enabled, those disabled by default included (as core's fixture)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield
