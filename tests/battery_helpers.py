"""Helpers shared by the battery control tests: evening setup, moving time, calling actions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.enphase_cloud.const import DOMAIN

from .conftest import BATTERY_SYSTEM, SimHarness

# 20:02 in California: no sun, the home runs on the battery when it may.
EVENING = datetime(2026, 6, 16, 3, 2, tzinfo=UTC)
COMMAND_SENSOR = "sensor.casa_solar_battery_command"
MODE_SELECT = "select.casa_solar_battery_mode"
RESERVE_NUMBER = "number.casa_solar_battery_backup_reserve"
STORM_GUARD_SWITCH = "switch.casa_solar_battery_storm_guard"
SOC_SENSOR = "sensor.casa_solar_battery_state_of_charge"
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def command_state(hass: HomeAssistant) -> str:
    """Return the state of the battery command sensor."""
    state = hass.states.get(COMMAND_SENSOR)
    assert state is not None
    return state.state


def command_attribute(hass: HomeAssistant, name: str) -> Any:
    """Return an attribute of the battery command sensor."""
    state = hass.states.get(COMMAND_SENSOR)
    assert state is not None
    return state.attributes[name]


async def settle(hass: HomeAssistant) -> None:
    """Let polls, timers and their API calls finish (they run as background tasks)."""
    await hass.async_block_till_done(wait_background_tasks=True)


async def advance(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    delta: timedelta,
    step: timedelta = timedelta(minutes=1),
) -> None:
    """Move time forward in steps, firing timers and finishing their work at each."""
    end = datetime.now(UTC) + delta
    while (now := datetime.now(UTC)) < end:
        freezer.move_to(min(now + step, end))
        async_fire_time_changed(hass)
        await settle(hass)


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add and set up `entry`, waiting for everything it starts."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await settle(hass)
    return entry


async def setup_evening(
    hass: HomeAssistant,
    simulator: SimHarness,
    entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    **settings: Any,
) -> MockConfigEntry:
    """Set the entry up at EVENING, with battery `settings` already in force."""
    if settings:
        simulator.sim.change_settings(BATTERY_SYSTEM, settings, delay=0)
    freezer.move_to(EVENING)
    return await setup_entry(hass, entry)


def set_shutdown_level(simulator: SimHarness, level: int) -> None:
    """Give the demo battery another shutdown level (before setup reads it)."""
    runtime = simulator.sim.system(BATTERY_SYSTEM)
    runtime.spec = replace(runtime.spec, shutdown_level=level)


async def call(hass: HomeAssistant, service: str, **data: Any) -> dict[str, Any]:
    """Call one of the integration's actions and return its response."""
    response = await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


def requested(simulator: SimHarness) -> tuple[str, int]:
    """Return the battery mode and reserve the simulator was last asked for."""
    settings = simulator.sim.battery_state(BATTERY_SYSTEM)["requested"]
    return settings["mode"], settings["reserve_soc"]
