"""Tests for the config flow: the whole OAuth dance against the simulator."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
import json
import logging
from pathlib import Path
import re
import time
from typing import Any
from unittest.mock import MagicMock, patch
from urllib.parse import parse_qs, urlparse

import aiohttp
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_USER,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, translation
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.enphase_cloud import config_flow
from custom_components.enphase_cloud.api import System
from custom_components.enphase_cloud.config_flow import _title
from custom_components.enphase_cloud.const import BASE_URL_ENV, CONF_HISTORY_DAYS, CONF_PLAN, DOMAIN

from .conftest import API_KEY, BATTERY_SYSTEM, SimHarness

pytestmark = pytest.mark.usefixtures("credentials", "current_request_with_host")


async def _assert_translated(hass: HomeAssistant, result: Mapping[str, Any]) -> None:
    """Fail when a form error or an abort reason has no English text."""
    category = "options" if result.get("handler") != DOMAIN else "config"
    strings = await translation.async_get_translations(hass, "en", category, [DOMAIN])
    prefix = f"component.{DOMAIN}.{category}"
    for error in (result.get("errors") or {}).values():
        assert f"{prefix}.error.{error}" in strings, error
    if result["type"] is FlowResultType.ABORT:
        # The frontend shows the text of the result's translation domain: ours.
        assert result.get("translation_domain") in {None, DOMAIN}, result["reason"]
        assert f"{prefix}.abort.{result['reason']}" in strings, result["reason"]
        text = strings[f"{prefix}.abort.{result['reason']}"]
        # Every placeholder the text uses is given; none is left raw.
        for name in re.findall(r"\{(\w+)\}", text):
            assert name in (result.get("description_placeholders") or {}), name
    if result["type"] is FlowResultType.FORM:
        assert f"{prefix}.step.{result['step_id']}.title" in strings, result["step_id"]


async def _abort_text(hass: HomeAssistant, reason: str) -> str:
    """Return the English text of an abort reason."""
    strings = await translation.async_get_translations(hass, "en", "config", [DOMAIN])
    return strings[f"component.{DOMAIN}.config.abort.{reason}"]


async def _deliver(hass_client_no_auth: ClientSessionGenerator, location: str) -> None:
    """Follow Enphase's redirect back to Home Assistant's OAuth callback."""
    query = parse_qs(urlparse(location).query)
    client = await hass_client_no_auth()
    params: dict[str, str] = {key: values[0] for key, values in query.items()}
    resp = await client.get("/auth/external/callback", params=params)
    assert resp.status == 200


async def _login(
    hass_client_no_auth: ClientSessionGenerator, url: str, *, email: str | None = None
) -> None:
    """Approve at the simulator's consent page and deliver the code to Home Assistant."""
    if email is not None:
        url = f"{url}&login_hint={email}"
    async with aiohttp.ClientSession() as session, session.get(url, allow_redirects=False) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    await _deliver(hass_client_no_auth, location)


async def _start(
    hass: HomeAssistant, api_key: str = API_KEY, plan: str = "watt"
) -> ConfigFlowResult:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key"
    await _assert_translated(hass, result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: api_key, CONF_PLAN: plan}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    return result


async def test_full_flow(
    hass: HomeAssistant, simulator: SimHarness, hass_client_no_auth: ClientSessionGenerator
) -> None:
    result = await _start(hass, api_key=f" {API_KEY} ", plan="megawatt")
    assert result["url"].startswith(f"{simulator.url}/oauth/authorize?")
    await _login(hass_client_no_auth, result["url"])
    with patch("custom_components.enphase_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Casa Solar and Texas Ranch"
    assert result["data"][CONF_API_KEY] == API_KEY
    assert result["data"]["token"]["refresh_token"]
    assert result["options"] == {CONF_PLAN: "megawatt", CONF_HISTORY_DAYS: 30}
    assert result["result"].unique_id == "4001"


async def test_single_system_account_is_titled_after_it(
    hass: HomeAssistant, simulator: SimHarness, hass_client_no_auth: ClientSessionGenerator
) -> None:
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"], email="neighbour@example.com")
    with patch("custom_components.enphase_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Maple Cottage"
    assert result["result"].unique_id == "4002"


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
    # Shown again after the login: its text no longer announces the login.
    assert result["step_id"] == "api_key_again"
    assert result["errors"] == {"base": error}
    await _assert_translated(hass, result)
    # The login is kept: only the key is asked again, as often as needed.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "still-wrong", CONF_PLAN: "watt"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_api_key"}
    with patch("custom_components.enphase_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "kilowatt"}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_PLAN] == "kilowatt"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        # Enphase's 401 does not say why; with a token issued moments ago it is the key.
        ({"status": 401}, "invalid_api_key"),
        ({"status": 500}, "cannot_connect"),
        ({"status": 503}, "cannot_connect"),
        ({"status": 429}, "rate_limited"),
        ({"kind": "malformed"}, "cannot_connect"),
        ({"kind": "truncated"}, "cannot_connect"),
    ],
)
async def test_validation_errors(
    hass: HomeAssistant,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
    fault: dict[str, Any],
    error: str,
) -> None:
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"])
    simulator.sim.add_fault(count=1, **fault)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    await _assert_translated(hass, result)
    # Once Enphase answers again (a 429 blocks calls until the next minute), the same
    # key goes through.
    freezer.tick(timedelta(minutes=1))
    with patch("custom_components.enphase_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "watt"}
        )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_enphase_unreachable(
    hass: HomeAssistant,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"])
    # The token is in hand; now nothing answers (port 9 of 127.0.0.1 refuses at once).
    monkeypatch.setenv(BASE_URL_ENV, "http://127.0.0.1:9")
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_quota_used_up_by_this_installation(
    hass: HomeAssistant, simulator: SimHarness, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """The flow's call counts against the key's budget; a spent minute is a form error."""
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"])
    for _ in range(10):
        simulator.sim.add_fault(count=1, status=503)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "watt"}
        )
        assert result["errors"] == {"base": "cannot_connect"}
    # Ten calls in this minute: the budget refuses the eleventh without calling.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "watt"}
    )
    assert result["errors"] == {"base": "rate_limited"}


async def test_access_denied_at_enphase(
    hass: HomeAssistant, simulator: SimHarness, hass_client_no_auth: ClientSessionGenerator
) -> None:
    result = await _start(hass)
    authorize = parse_qs(urlparse(result["url"]).query)
    form = {key: values[0] for key, values in authorize.items() if key != "response_type"}
    # The homeowner presses Deny on Enphase's consent page.
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{simulator.url}/oauth/authorize/decision",
            data={**form, "decision": "deny"},
            allow_redirects=False,
        ) as resp,
    ):
        assert resp.status == 302
        location = resp.headers["Location"]
    assert "error=access_denied" in location
    await _deliver(hass_client_no_auth, location)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "user_rejected_authorize"
    await _assert_translated(hass, result)
    # Our own words, not Enphase's error code: what happened and what to do.
    text = await _abort_text(hass, "user_rejected_authorize")
    assert "access_denied" not in text
    assert "Approve" in text


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"status": 503}, "oauth_failed"),
        ({"kind": "malformed"}, "oauth_failed"),
        ({"status": 401}, "oauth_unauthorized"),
    ],
)
async def test_token_exchange_fails(
    hass: HomeAssistant,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
    fault: dict[str, Any],
    reason: str,
) -> None:
    """Enphase's token endpoint down or refusing the app: abort, log no grant."""
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"])
    simulator.sim.add_fault(count=1, path="/oauth/token", **fault)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    await _assert_translated(hass, result)
    if reason == "oauth_unauthorized":
        # Where to correct a wrong client secret, in the words of the menus.
        assert "Application credentials" in await _abort_text(hass, reason)
    # Home Assistant logs the token error at ERROR level: it must not carry the grant.
    logged = [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= logging.WARNING or record.name.startswith("custom_components")
    ]
    assert any("Error resolving OAuth token" in message for message in logged)
    assert not [message for message in logged if "code=" in message]


async def test_token_without_account_id(
    hass: HomeAssistant,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without `enl_uid` the account cannot be told apart: abort rather than guess."""
    issue = simulator.sim.token_response

    def without_uid(pair: Any) -> dict[str, Any]:
        body = issue(pair)
        del body["enl_uid"]
        return body

    monkeypatch.setattr(simulator.sim, "token_response", without_uid)
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"])
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "oauth_error"
    await _assert_translated(hass, result)


async def test_no_systems(
    hass: HomeAssistant, simulator: SimHarness, hass_client_no_auth: ClientSessionGenerator
) -> None:
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"], email="empty@example.com")
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_systems"
    await _assert_translated(hass, result)


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
    await _assert_translated(hass, result)
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_another_account_is_a_second_entry(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    config_entry.add_to_hass(hass)
    result = await _start(hass)
    await _login(hass_client_no_auth, result["url"], email="neighbour@example.com")
    with patch("custom_components.enphase_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert len(hass.config_entries.async_entries(DOMAIN)) == 2


async def _start_reauth(
    hass: HomeAssistant, entry: MockConfigEntry, api_key: str
) -> ConfigFlowResult:
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    await _assert_translated(hass, result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: api_key}
    )
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    return result


@pytest.mark.parametrize(
    ("email", "reason"), [(None, "reauth_successful"), ("neighbour@example.com", "wrong_account")]
)
async def test_reauth(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    hass_client_no_auth: ClientSessionGenerator,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
    email: str | None,
    reason: str,
) -> None:
    entry = init_integration
    old_token = entry.data["token"]["access_token"]
    # Setup used the Watt plan's ten calls of this minute; the check needs the next one.
    freezer.tick(timedelta(minutes=1))
    result = await _start_reauth(hass, entry, API_KEY)
    await _login(hass_client_no_auth, result["url"], email=email)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    await _assert_translated(hass, result)
    await hass.async_block_till_done()
    changed = entry.data["token"]["access_token"] != old_token
    assert changed is (reason == "reauth_successful")
    # The entry, its plan and its devices are kept either way.
    assert hass.config_entries.async_entries(DOMAIN) == [entry]
    assert entry.options[CONF_PLAN] == "watt"
    assert device_registry.async_get_device_by_identifier(
        (DOMAIN, str(BATTERY_SYSTEM)), entry.entry_id
    )
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_corrects_the_api_key(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    hass_client_no_auth: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A wrong key in the saved entry: reauth asks again until Enphase accepts one."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, CONF_API_KEY: "no-such-key"}
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]

    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_API_KEY: "other-key"}
    )
    await _login(hass_client_no_auth, result["url"])
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "api_key_again"
    assert result["errors"] == {"base": "api_key_mismatch"}
    freezer.tick(timedelta(minutes=1))
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "kilowatt"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert config_entry.data[CONF_API_KEY] == API_KEY
    assert config_entry.options[CONF_PLAN] == "kilowatt"
    assert config_entry.state is ConfigEntryState.LOADED


async def test_reconfigure(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    # Setup used the Watt plan's ten calls of this minute; the reload needs the next one.
    freezer.tick(timedelta(minutes=1))
    result = await init_integration.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    await _assert_translated(hass, result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: "other-key", CONF_PLAN: "kilowatt"}
    )
    assert result["errors"] == {"base": "api_key_mismatch"}
    await _assert_translated(hass, result)
    simulator.sim.add_fault(count=1, status=503)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "kilowatt"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    # Nothing was saved by the failed attempts, and the running entry polls on as before.
    assert init_integration.options[CONF_PLAN] == "watt"
    assert init_integration.runtime_data.budget.plan == "watt"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: f" {API_KEY} ", CONF_PLAN: "kilowatt"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await _assert_translated(hass, result)
    assert init_integration.data[CONF_API_KEY] == API_KEY
    assert init_integration.options[CONF_PLAN] == "kilowatt"
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    assert init_integration.runtime_data.budget.plan == "kilowatt"


def _expire_token(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Make the saved access token due for a refresh."""
    token = {**entry.data["token"], "expires_at": time.time() - 10}
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})


@pytest.mark.parametrize("expired", [True, False])
async def test_reconfigure_with_a_dead_login_starts_reauth(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    expired: bool,
) -> None:
    """Revoked at Enphase: the refresh fails (expired token) or the call is refused."""
    config_entry.add_to_hass(hass)
    simulator.sim.revoke()
    if expired:
        _expire_token(hass, config_entry)
    result = await config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "kilowatt"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_required"
    await _assert_translated(hass, result)
    assert config_entry.options[CONF_PLAN] == "watt"
    # Loading the entry now meets the dead login and asks for a new one.
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_reconfigure_when_the_token_refresh_fails(
    hass: HomeAssistant, simulator: SimHarness, config_entry: MockConfigEntry
) -> None:
    config_entry.add_to_hass(hass)
    _expire_token(hass, config_entry)
    simulator.sim.add_fault(count=1, status=503, path="/oauth/token")
    result = await config_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "kilowatt"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    # Enphase's token endpoint is back: the refresh and the check both go through.
    with patch("custom_components.enphase_cloud.async_setup_entry", return_value=True):
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: API_KEY, CONF_PLAN: "kilowatt"}
        )
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.options[CONF_PLAN] == "kilowatt"


async def test_options(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    freezer.tick(timedelta(minutes=1))
    result = await hass.config_entries.options.async_init(init_integration.entry_id)
    assert result["step_id"] == "init"
    await _assert_translated(hass, result)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PLAN: "megawatt", CONF_HISTORY_DAYS: 90.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert init_integration.options == {CONF_PLAN: "megawatt", CONF_HISTORY_DAYS: 90}
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    ("names", "title"),
    [
        (["Casa Solar"], "Casa Solar"),
        (["Texas Ranch", "Casa Solar"], "Casa Solar and Texas Ranch"),
        (["C", "A", "B"], "Enphase (3 systems)"),
    ],
)
def test_entry_title_names_the_systems(names: list[str], title: str) -> None:
    """The title is what the homeowner named the systems, never the account's e-mail."""
    systems = [MagicMock(spec=System) for _ in names]
    for system, name in zip(systems, names, strict=True):
        system.name = name
    assert _title(systems) == title


def test_every_flow_message_has_text() -> None:
    """Each error and abort reason the flow can produce has English text."""
    source = (Path(config_flow.__file__)).read_text()
    strings = json.loads(
        (Path(config_flow.__file__).parent / "translations" / "en.json").read_text()
    )["config"]
    errors = set(re.findall(r'"api_key_mismatch" if err.mismatch else "(\w+)"', source))
    errors |= set(re.findall(r'return \[\], "(\w+)"', source))
    errors |= set(re.findall(r'error = "(\w+)"', source))
    errors |= {"api_key_mismatch"}
    aborts = set(re.findall(r'reason="(\w+)"', source))
    assert {"invalid_api_key", "invalid_auth", "rate_limited", "cannot_connect"} <= errors
    assert {"oauth_error", "wrong_account", "no_systems", "reauth_required"} <= aborts
    assert errors - {"no_systems"} <= set(strings["error"])
    # Aborts of Home Assistant's OAuth helper and of its config flow base class.
    aborts |= {
        "already_configured",
        "reauth_successful",
        "reconfigure_successful",
        "user_rejected_authorize",
        "oauth_failed",
        "oauth_timeout",
        "oauth_unauthorized",
        "oauth_implementation_unavailable",
        "missing_configuration",
        "missing_credentials",
        "authorize_url_timeout",
        "no_url_available",
    }
    assert aborts <= set(strings["abort"])
    for text in (*strings["error"].values(), *strings["abort"].values()):
        assert text.endswith("."), text


def test_every_form_field_is_described() -> None:
    """Each field of each config and options step has a description under it."""
    strings = json.loads(
        (Path(config_flow.__file__).parent / "translations" / "en.json").read_text()
    )
    steps = [
        (f"{flow}.{step_id}", step)
        for flow in ("config", "options")
        for step_id, step in strings[flow]["step"].items()
    ]
    assert any(name == "config.reauth_confirm" for name, _ in steps)
    for name, step in steps:
        fields = set(step.get("data", {}))
        assert set(step.get("data_description", {})) == fields, name
