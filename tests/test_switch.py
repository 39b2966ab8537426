"""Tests for the storm guard switch: snapshot, writes, errors."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.enphase_cloud.command_engine import CommandState

from .battery_helpers import STORM_GUARD_SWITCH, call
from .conftest import BATTERY_SYSTEM, SimHarness


@pytest.fixture
def plan() -> str:
    """Battery control needs the Megawatt plan."""
    return "megawatt"


@pytest.fixture(autouse=True)
def only_switches() -> object:
    """Snapshot the switch platform alone."""
    with patch("custom_components.enphase_cloud.PLATFORMS", [Platform.SWITCH]):
        yield


def storm_guard_requested(simulator: SimHarness) -> bool:
    return bool(simulator.sim.battery_state(BATTERY_SYSTEM)["requested"]["storm_guard"])


async def test_switches(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_turn_storm_guard_on_and_off(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    assert hass.states.get(STORM_GUARD_SWITCH).state == STATE_OFF
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: STORM_GUARD_SWITCH}, blocking=True
    )
    assert hass.states.get(STORM_GUARD_SWITCH).state == STATE_ON
    assert storm_guard_requested(simulator)

    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: STORM_GUARD_SWITCH}, blocking=True
    )
    assert hass.states.get(STORM_GUARD_SWITCH).state == STATE_OFF
    assert not storm_guard_requested(simulator)


async def test_storm_guard_error_is_translated(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    simulator.sim.add_fault(kind="malformed", path="*storm_guard")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: STORM_GUARD_SWITCH}, blocking=True
        )
    assert err.value.translation_key is not None
    assert hass.states.get(STORM_GUARD_SWITCH).state == STATE_OFF


@pytest.mark.parametrize("plan", ["watt"])
async def test_no_switch_without_permission(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    assert er.async_entries_for_config_entry(entity_registry, init_integration.entry_id) == []


async def test_storm_guard_during_a_command_ends_it(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    await call(hass, "hold_reserve", target_reserve=70)
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: STORM_GUARD_SWITCH}, blocking=True
    )
    commands = init_integration.runtime_data.commands
    assert commands.state(BATTERY_SYSTEM) is CommandState.IDLE
    assert commands.attributes(BATTERY_SYSTEM)["last_end_reason"] == "manual_override"
    assert simulator.sim.battery_state(BATTERY_SYSTEM)["requested"]["reserve_soc"] == 70
