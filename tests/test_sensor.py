"""Tests for the sensors: snapshots of both demo systems, availability, new systems."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from .conftest import BATTERY_SYSTEM, SimHarness


@pytest.fixture(autouse=True)
def only_sensors() -> object:
    """Snapshot the sensor platform alone."""
    with patch("custom_components.enphase_cloud.PLATFORMS", [Platform.SENSOR]):
        yield


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_sensors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_plain_system_has_no_battery_or_consumption_sensors(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    unique_ids = {
        entry.unique_id
        for entry in er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
    }
    assert "1002_production_power" in unique_ids
    assert "1002_battery_level" not in unique_ids
    assert "1002_consumption_power" not in unique_ids
    assert "1001_battery_level" in unique_ids
    assert "1001_consumption_power" in unique_ids


async def test_state_of_charge_is_reported(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    state = hass.states.get("sensor.casa_solar_battery_state_of_charge")
    assert state is not None
    assert state.state != STATE_UNAVAILABLE
    assert 10 <= float(state.state) <= 100


@pytest.mark.parametrize("plan", ["megawatt"])
async def test_battery_control_sensors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    """Where the plan permits control: the grid state and the battery command state."""
    assert hass.states.get("sensor.casa_solar_grid") == snapshot(name="grid")
    assert hass.states.get("sensor.casa_solar_battery_command") == snapshot(name="command")
    assert hass.states.get("sensor.texas_ranch_grid") is None


@pytest.mark.parametrize("plan", ["megawatt"])
async def test_grid_state_follows_the_grid(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert hass.states.get("sensor.casa_solar_grid").state == "on_grid"
    simulator.sim.set_grid(BATTERY_SYSTEM, on=False)
    freezer.tick(timedelta(minutes=20))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get("sensor.casa_solar_grid").state == "off_grid"


async def test_rarely_used_sensors_are_disabled_by_default(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    """What the Energy dashboard and common automations use is on; the rest is opt-in."""
    disabled = {
        entry.unique_id.split("_", 1)[1]
        for entry in er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
        if entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    }
    assert disabled == {
        "next_poll",
        "api_calls_remaining",
        "last_interval_end",
        "battery_capacity",
        "battery_max_charge_power",
        "battery_max_discharge_power",
    }
    assert hass.states.get("sensor.casa_solar_battery_state_of_charge") is not None
    assert hass.states.get("sensor.enphase_api_next_poll") is None


async def test_next_poll_stays_out_of_the_logbook_by_default(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Polls do not write a state per poll to the service device (nothing to log)."""
    changed: list[str] = []
    hass.bus.async_listen(
        "state_changed",
        lambda event: changed.append(event.data["entity_id"]),
    )
    freezer.tick(timedelta(minutes=20))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert init_integration.runtime_data.coordinator.last_update_success
    assert not any("next_poll" in entity_id for entity_id in changed)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_energy_is_kept_in_wh_and_shown_in_kwh(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """Native Wh from Enphase, shown in kWh by Home Assistant's own conversion."""
    coordinator = init_integration.runtime_data.coordinator
    summary = coordinator.data.systems[BATTERY_SYSTEM].summary
    assert summary is not None
    assert summary.energy_lifetime is not None
    state = hass.states.get("sensor.casa_solar_solar_energy_lifetime")
    assert state is not None
    assert state.attributes["unit_of_measurement"] == "kWh"
    assert float(state.state) == pytest.approx(summary.energy_lifetime / 1000)
