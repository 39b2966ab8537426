"""Tests for the config flow: the whole OAuth dance against the simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch
from urllib.parse import parse_qs, urlparse

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.enphase_cloud.const import CONF_HISTORY_DAYS, CONF_PLAN, DOMAIN

from .conftest import API_KEY, SimHarness

pytestmark = pytest.mark.usefixtures("credentials", "current_request_with_host")


async def _login(
    hass_client_no_auth: ClientSessionGenerator, url: str, *, email: str | None = None
) -> None:
    """Approve at the simulator's consent page and deliver the code to Home Assistant."""
    if email is not None:
        url = f"{url}&login_hint={email}"
    async with aiohttp.ClientSession() as session, session.get(url, allow_redirects=False) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    query = parse_qs(urlparse(location).query)
    client = await hass_client_no_auth()
    params: dict[str, str] = {key: values[0] for key, values in query.items()}
    resp = await client.get("/auth/external/callback", params=params)
    assert resp.status == 200


async def _start(hass: HomeAssistant, api_key: str = API_KEY, plan: str = "watt") -> FlowResult:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: api_key, CONF_PLAN: plan}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    return result


async def test_full_flow(
    hass: HomeAssistant, simulator: SimHarness, hass_client_no_auth: ClientSessionGenerator
) -> None:
    result = await _start(hass, plan="megawatt")
    assert result["url"].startswith(f"{simulator.url}/oauth/authorize?")
    await _login(hass_client_no_auth, result["url"])
    with patch("custom_components.enphase_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Casa Solar (+1)"
    assert result["data"][CONF_API_KEY] == API_KEY
    assert result["data"]["token"]["refresh_token"]
    assert result["options"] == {CONF_PLAN: "megawatt", CONF_HISTORY_DAYS: 30}
    assert result["result"].unique_id == "4001"


@pytest.mark.parametrize(
    ("api_key", "error"),
    [("no-such-key", "invalid_api_key"), ("other-key", "api_key_mismatch")],
)
async def test_bad_api_key_then_fixed(
    hass: HomeAssistant,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
    api_key: str,
    error: str,
) -> None:
    result = await _start(hass, api_key=api_key)
    await _login(hass_client_no_auth, result["url"])
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    assert result["errors"] == {"base": error}
    # The login is kept: only the key is asked again.
    with patch("custom_components.enphase_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "watt"}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 503}, "cannot_connect"),
        ({"status": 429}, "rate_limited"),
        ({"kind": "malformed"}, "cannot_connect"),
    ],
)
async def test_validation_errors(
    hass: HomeAssistant,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
    fault: dict[str, Any],
    error: str,
) -> None:
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"])
    simulator.sim.add_fault(count=1, **fault)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}


async def test_access_denied(
    hass: HomeAssistant, simulator: SimHarness, hass_client_no_auth: ClientSessionGenerator
) -> None:
    result = await _start(hass)
    state = parse_qs(urlparse(result["url"]).query)["state"][0]
    client = await hass_client_no_auth()
    resp = await client.get(
        "/auth/external/callback", params={"error": "access_denied", "state": state}
    )
    assert resp.status == 200
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "user_rejected_authorize"


async def test_no_systems(
    hass: HomeAssistant, simulator: SimHarness, hass_client_no_auth: ClientSessionGenerator
) -> None:
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"], email="empty@example.com")
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_systems"


async def test_already_configured(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    config_entry.add_to_hass(hass)
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"])
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("email", "reason"), [(None, "reauth_successful"), ("neighbour@example.com", "wrong_account")]
)
async def test_reauth(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
    email: str | None,
    reason: str,
) -> None:
    old_token = init_integration.data["token"]["access_token"]
    result = await init_integration.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    await _login(hass_client_no_auth, result["url"], email=email)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    changed = init_integration.data["token"]["access_token"] != old_token
    assert changed is (reason == "reauth_successful")


async def test_reconfigure(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    # Setup used the Watt plan's ten calls of this minute; the reload needs the next one.
    freezer.tick(timedelta(minutes=1))
    result = await init_integration.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "other-key", CONF_PLAN: "kilowatt"}
    )
    assert result["errors"] == {"base": "api_key_mismatch"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: f" {API_KEY} ", CONF_PLAN: "kilowatt"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert init_integration.data[CONF_API_KEY] == API_KEY
    assert init_integration.options[CONF_PLAN] == "kilowatt"
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED


async def test_options(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    freezer.tick(timedelta(minutes=1))
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PLAN: "megawatt", CONF_HISTORY_DAYS: 90.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {CONF_PLAN: "megawatt", CONF_HISTORY_DAYS: 90}
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
