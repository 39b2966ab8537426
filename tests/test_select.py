"""Tests for the battery mode select: snapshot, writes, plans without control."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.components.select import (
    ATTR_OPTION,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.enphase_cloud.command_engine import CommandState

from .battery_helpers import MODE_SELECT as ENTITY, call, requested
from .conftest import BATTERY_SYSTEM, SimHarness


@pytest.fixture
def plan() -> str:
    """Battery control needs the Megawatt plan."""
    return "megawatt"


@pytest.fixture(autouse=True)
def only_selects() -> object:
    """Snapshot the select platform alone."""
    with patch("custom_components.enphase_cloud.PLATFORMS", [Platform.SELECT]):
        yield


async def test_selects(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_select_mode_writes_and_shows_it(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    assert hass.states.get(ENTITY).state == "self_consumption"
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: ENTITY, ATTR_OPTION: "full_backup"},
        blocking=True,
    )
    assert hass.states.get(ENTITY).state == "full_backup"
    assert requested(simulator) == ("full_backup", 30)


async def test_select_error_is_translated(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    simulator.sim.add_fault(422, path="*battery_settings", details="Invalid mode")
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            SELECT_DOMAIN,
            SERVICE_SELECT_OPTION,
            {ATTR_ENTITY_ID: ENTITY, ATTR_OPTION: "savings"},
            blocking=True,
        )
    assert err.value.translation_key == "rejected"
    assert hass.states.get(ENTITY).state == "self_consumption"


@pytest.mark.parametrize("plan", ["watt"])
async def test_no_select_without_permission(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    assert er.async_entries_for_config_entry(entity_registry, init_integration.entry_id) == []


async def test_select_during_a_command_ends_it(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    """The user's choice wins: the command ends and nothing is restored over it."""
    await call(hass, "discharge", target_reserve=50)
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: ENTITY, ATTR_OPTION: "savings"},
        blocking=True,
    )
    commands = init_integration.runtime_data.commands
    assert commands.state(BATTERY_SYSTEM) is CommandState.IDLE
    assert commands.attributes(BATTERY_SYSTEM)["last_end_reason"] == "manual_override"
    assert requested(simulator) == ("savings_mode", 50)
