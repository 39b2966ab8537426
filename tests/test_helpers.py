"""Tests for the one error map shared by polls, controls and actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers import translation
from homeassistant.helpers.update_coordinator import UpdateFailed
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_cloud.api import (
    EnphaseApiKeyError,
    EnphaseAuthError,
    EnphaseConnectionError,
    EnphaseError,
    EnphaseNotFound,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseResponseError,
    EnphaseServerError,
    EnphaseUnprocessable,
)
from custom_components.enphase_cloud.const import DOMAIN
from custom_components.enphase_cloud.helpers import coordinator_error, translate_errors
from custom_components.enphase_cloud.human_time import local_time_text

from .battery_helpers import STORM_GUARD_SWITCH, call
from .conftest import SimHarness

EXCEPTIONS = json.loads(
    (
        Path(__file__).parent.parent / "custom_components" / DOMAIN / "translations" / "en.json"
    ).read_text()
)["exceptions"]
RETRY_AT = datetime(2026, 6, 15, 20, 0, tzinfo=UTC)


@pytest.fixture
def plan() -> str:
    """Battery control (a control and the actions) needs the Megawatt plan."""
    return "megawatt"


@pytest.mark.parametrize(
    ("error", "key", "placeholders"),
    [
        (EnphasePlanError("battery_settings"), "plan_not_permitted", None),
        (EnphaseRateLimited(period="minute", retry_at=RETRY_AT), "rate_limited", None),
        (EnphaseAuthError("Invalid token"), "auth_failed", None),
        (EnphaseApiKeyError(mismatch=True), "auth_failed", None),
        (
            EnphaseUnprocessable(details="Reserve must be between 10 and 100"),
            "rejected",
            {"details": "Reserve must be between 10 and 100"},
        ),
        (EnphaseUnprocessable(), "rejected", {"details": ""}),
        (EnphaseConnectionError("Timeout"), "cannot_connect_action", None),
        (
            EnphaseServerError(status=503),
            "cannot_connect",
            {"error": "Enphase server error (HTTP 503)"},
        ),
        (EnphaseNotFound("gone"), "cannot_connect", {"error": "gone"}),
        (EnphaseResponseError("bad JSON"), "cannot_connect", {"error": "bad JSON"}),
    ],
)
async def test_translate_errors(
    hass: HomeAssistant, error: EnphaseError, key: str, placeholders: dict[str, str] | None
) -> None:
    @translate_errors
    async def action() -> None:
        raise error

    if key == "rate_limited":
        # Shown in the user's time zone, which the test's Home Assistant sets.
        placeholders = {"retry_at": local_time_text(RETRY_AT)}
    with pytest.raises(HomeAssistantError) as caught:
        await action()
    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == key
    assert caught.value.translation_placeholders == placeholders
    # Never chained: a client error's own chain could hold aiohttp's URL with the key.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    # The key has English text, and every placeholder it names is filled in.
    loaded = await translation.async_get_translations(hass, "en", "exceptions", {DOMAIN})
    template = loaded[f"component.{DOMAIN}.exceptions.{key}.message"]
    assert template == EXCEPTIONS[key]["message"]
    message = template.format(**(placeholders or {}))
    assert message
    assert "{" not in message


async def test_translate_errors_passes_results_and_other_errors() -> None:
    @translate_errors
    async def double(value: int) -> int:
        return 2 * value

    @translate_errors
    async def broken() -> None:
        msg = "not a client error"
        raise ValueError(msg)

    assert await double(21) == 42
    with pytest.raises(ValueError, match="not a client error"):
        await broken()


async def test_poll_errors_share_the_map() -> None:
    now = RETRY_AT - timedelta(minutes=10)
    assert isinstance(
        coordinator_error(EnphaseApiKeyError(mismatch=False), now, 60), ConfigEntryAuthFailed
    )
    failed = coordinator_error(EnphaseServerError(status=503), now, 60)
    assert isinstance(failed, UpdateFailed)
    assert failed.translation_key == "cannot_connect"
    assert failed.translation_placeholders == {"error": "Enphase server error (HTTP 503)"}
    limited = coordinator_error(EnphaseRateLimited(period="minute", retry_at=RETRY_AT), now, 60)
    assert limited.retry_after == 600
    # A period end already past (clock skew) or absurd is unknown: the minute's end, and the floor.
    for wrong in (now - timedelta(hours=1), now + timedelta(days=400)):
        skewed = coordinator_error(EnphaseRateLimited(period="minute", retry_at=wrong), now, 60)
        assert 60 <= skewed.retry_after <= 61
    assert (
        coordinator_error(EnphaseConnectionError("x"), now, 60).translation_key == "cannot_connect"
    )


def _reauth_flows(hass: HomeAssistant, entry: MockConfigEntry) -> list[object]:
    return [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"].get("source") == SOURCE_REAUTH
        and flow["context"].get("entry_id") == entry.entry_id
    ]


async def test_auth_error_from_a_control_starts_reauth(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    # Enphase refuses the token on every API call, the plan-free check and the retry
    # after a token refresh included: a 401 alone on a config endpoint is the plan.
    simulator.sim.add_fault(401, path="/api/v4/*", count=4)
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: STORM_GUARD_SWITCH}, blocking=True
        )
    assert caught.value.translation_key == "auth_failed"
    await hass.async_block_till_done()
    assert len(_reauth_flows(hass, init_integration)) == 1


async def test_auth_error_from_an_action_starts_reauth(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    # Enphase refuses the token on every API call, the plan-free check and the retry
    # after a token refresh included: a 401 alone on a config endpoint is the plan.
    simulator.sim.add_fault(401, path="/api/v4/*", count=4)
    with pytest.raises(HomeAssistantError) as caught:
        await call(hass, "hold_reserve", target_reserve=70)
    assert caught.value.translation_key == "auth_failed"
    await hass.async_block_till_done()
    assert len(_reauth_flows(hass, init_integration)) == 1
