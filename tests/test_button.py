"""Tests for the buttons: start and stop charging of an IQ EV Charger (Partner plan only)."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.const import ATTR_ENTITY_ID, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.enphase_cloud.const import CONF_PLAN
from enphase_simulator import ev_charger as sim_ev

from .conftest import BATTERY_SYSTEM, SimHarness, run_until

START_BUTTON = "button.casa_solar_ev_charger_start_charging"
STOP_BUTTON = "button.casa_solar_ev_charger_stop_charging"


@pytest.fixture
def plan() -> str:
    """The Partner plan: Enphase's only plan with EV charger control."""
    return "partner"


@pytest.fixture(autouse=True)
def only_buttons() -> object:
    """Snapshot the button platform alone."""
    with patch("custom_components.enphase_cloud.PLATFORMS", [Platform.BUTTON]):
        yield


def _serial(simulator: SimHarness) -> str:
    return simulator.sim.system(BATTERY_SYSTEM).ev.chargers[0].serial


async def test_buttons(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_stop_and_start_charging(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    serial = _serial(simulator)
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: STOP_BUTTON}, blocking=True
    )
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=16))
    state = sim_ev.charger_state(simulator.sim, BATTERY_SYSTEM, serial)
    assert state["plugged"]
    assert not state["charging"]
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: START_BUTTON}, blocking=True
    )
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=16))
    assert sim_ev.charger_state(simulator.sim, BATTERY_SYSTEM, serial)["charging"]


@pytest.mark.parametrize("plan", ["megawatt"])
async def test_refused_by_the_plan_with_a_translated_reason(
    hass: HomeAssistant, simulator: SimHarness, config_entry: MockConfigEntry
) -> None:
    # The entry says Partner, Enphase knows better: its 401 is the plan's refusal.
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={**config_entry.options, CONF_PLAN: "partner"}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: START_BUTTON}, blocking=True
        )
    assert caught.value.translation_key == "ev_control_not_permitted"


@pytest.mark.parametrize("plan", ["watt", "kilowatt", "megawatt"])
async def test_no_buttons_below_partner(
    hass: HomeAssistant, init_integration: MockConfigEntry, entity_registry: er.EntityRegistry
) -> None:
    assert not er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
