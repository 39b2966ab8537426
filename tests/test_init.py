"""Tests for setting up, unloading and reloading an entry, and its failure modes."""

from __future__ import annotations

from datetime import timedelta
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ImplementationUnavailableError
from homeassistant.helpers import config_entry_oauth2_flow, device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_cloud.const import DOMAIN

from .conftest import BATTERY_SYSTEM, PLAIN_SYSTEM, SimHarness


async def test_load_unload_reload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    system = device_registry.async_get_device_by_identifier(
        (DOMAIN, str(BATTERY_SYSTEM)), entry.entry_id
    )
    battery = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{BATTERY_SYSTEM}_battery"), entry.entry_id
    )
    plain = device_registry.async_get_device_by_identifier(
        (DOMAIN, str(PLAIN_SYSTEM)), entry.entry_id
    )
    assert system is not None
    assert plain is not None
    assert battery is not None
    assert battery.via_device_id == system.id
    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, f"{PLAIN_SYSTEM}_battery"), entry.entry_id
        )
        is None
    )

    # Setup used the Watt plan's ten calls of this minute; a reload needs the next one.
    freezer.tick(timedelta(minutes=1))
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


@pytest.mark.parametrize("status", [500, 503])
async def test_setup_retry_when_enphase_fails(
    hass: HomeAssistant, simulator: SimHarness, config_entry: MockConfigEntry, status: int
) -> None:
    simulator.sim.add_fault(count=1, status=status)
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_setup_retry_when_unreachable(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing listens on port 9 of 127.0.0.1: the connection is refused at once.
    monkeypatch.setenv("ENPHASE_CLOUD_BASE_URL", "http://127.0.0.1:9")
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_revoked_login_starts_reauth(
    hass: HomeAssistant, simulator: SimHarness, config_entry: MockConfigEntry
) -> None:
    simulator.sim.revoke()
    # The access token is due for a refresh, which Enphase now refuses.
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry,
        data={
            **config_entry.data,
            "token": {**config_entry.data["token"], "expires_at": time.time()},
        },
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_rejected_access_token_starts_reauth(
    hass: HomeAssistant, simulator: SimHarness, config_entry: MockConfigEntry
) -> None:
    simulator.sim.revoke()
    config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    assert any(
        flow["context"]["source"] == SOURCE_REAUTH
        for flow in hass.config_entries.flow.async_progress()
    )


async def test_deleted_credentials_start_reauth(
    hass: HomeAssistant, simulator: SimHarness, config_entry: MockConfigEntry
) -> None:
    """The application credentials were deleted: only a new link helps."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "auth_implementation": "deleted"}
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    assert [flow["context"]["source"] for flow in hass.config_entries.flow.async_progress()] == [
        SOURCE_REAUTH
    ]


async def test_setup_retry_when_credentials_unavailable(
    hass: HomeAssistant, simulator: SimHarness, config_entry: MockConfigEntry
) -> None:
    """A provider of OAuth implementations is down: retry rather than relink."""

    async def provider_down(hass: HomeAssistant, domain: str) -> list[Any]:
        raise ImplementationUnavailableError

    config_entry_oauth2_flow.async_add_implementation_provider(hass, "cloud", provider_down)
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "auth_implementation": "cloud"}
    )
    await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert config_entry.reason == (
        "The application credentials of this entry are not available right now; setup is retried"
    )
