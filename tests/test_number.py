"""Tests for the backup reserve number: snapshot, writes, the shutdown-level floor."""

from __future__ import annotations

from unittest.mock import patch

from homeassistant.components.number import (
    ATTR_MIN,
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from .battery_helpers import RESERVE_NUMBER, requested, set_shutdown_level, setup_entry
from .conftest import SimHarness


@pytest.fixture
def plan() -> str:
    """Battery control needs the Megawatt plan."""
    return "megawatt"


@pytest.fixture(autouse=True)
def only_numbers() -> object:
    """Snapshot the number platform alone."""
    with patch("custom_components.enphase_cloud.PLATFORMS", [Platform.NUMBER]):
        yield


async def set_reserve(hass: HomeAssistant, value: float) -> None:
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: RESERVE_NUMBER, ATTR_VALUE: value},
        blocking=True,
    )


async def test_numbers(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_set_reserve(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    await set_reserve(hass, 45)
    assert hass.states.get(RESERVE_NUMBER).state == "45"
    assert requested(simulator) == ("self_consumption", 45)


async def test_reserve_never_below_the_shutdown_level(
    hass: HomeAssistant, simulator: SimHarness, config_entry: MockConfigEntry
) -> None:
    set_shutdown_level(simulator, 20)
    await setup_entry(hass, config_entry)
    assert hass.states.get(RESERVE_NUMBER).attributes[ATTR_MIN] == 20
    with pytest.raises(ServiceValidationError):
        await set_reserve(hass, 15)
    assert requested(simulator) == ("self_consumption", 30)


async def test_reserve_error_is_translated(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    simulator.sim.add_fault(429, path="*battery_settings")
    with pytest.raises(HomeAssistantError) as err:
        await set_reserve(hass, 60)
    assert err.value.translation_key == "rate_limited"
    assert hass.states.get(RESERVE_NUMBER).state == "30"
