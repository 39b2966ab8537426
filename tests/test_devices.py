"""Tests for the devices: one per system, the battery via it, no serial numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.enphase_cloud.api import Devices, EnphaseClient, Summary
from custom_components.enphase_cloud.const import DOMAIN
from custom_components.enphase_cloud.devices import (
    MANUFACTURER,
    async_register_devices,
    async_remove_devices,
    battery_identifier,
    system_identifier,
)

from .conftest import API_KEY, BATTERY_SYSTEM, PLAIN_SYSTEM, SimHarness


def _serials(entry: MockConfigEntry) -> list[str]:
    serials: list[str] = []
    for snapshot in entry.runtime_data.coordinator.data.systems.values():
        devices = snapshot.devices
        for group in (devices.micros, devices.meters, devices.gateways, devices.encharges):
            serials += [device.serial_number for device in group if device.serial_number]
    return serials


async def test_devices(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    entry_id = init_integration.entry_id
    system = device_registry.async_get_device_by_identifier(
        system_identifier(BATTERY_SYSTEM), entry_id
    )
    assert system is not None
    assert system.identifiers == {(DOMAIN, str(BATTERY_SYSTEM))}
    assert system.manufacturer == MANUFACTURER
    assert system.model == "IQ Gateway"
    assert system.name == "Casa Solar"
    assert system.configuration_url == (
        f"https://enlighten.enphaseenergy.com/systems/{BATTERY_SYSTEM}"
    )
    assert system.via_device_id is None

    battery = device_registry.async_get_device_by_identifier(
        battery_identifier(BATTERY_SYSTEM), entry_id
    )
    assert battery is not None
    assert battery.manufacturer == MANUFACTURER
    assert battery.model == "IQ Battery 10T"
    assert battery.name == "Casa Solar battery"
    assert battery.via_device_id == system.id

    plain = device_registry.async_get_device_by_identifier(
        system_identifier(PLAIN_SYSTEM), entry_id
    )
    assert plain is not None
    assert plain.name == "Texas Ranch"
    assert (
        device_registry.async_get_device_by_identifier(battery_identifier(PLAIN_SYSTEM), entry_id)
        is None
    )
    # Plus the service device of the account's API budget.
    assert sorted(
        device.name or "" for device in dr.async_entries_for_config_entry(device_registry, entry_id)
    ) == ["Casa Solar", "Casa Solar battery", "Enphase API", "Texas Ranch"]


async def test_no_serial_numbers_in_the_registry(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    serials = _serials(init_integration)
    assert serials
    for device in dr.async_entries_for_config_entry(device_registry, init_integration.entry_id):
        assert device.serial_number is None
        shown = f"{device.identifiers} {device.connections} {device.name} {device.model}"
        assert not [serial for serial in serials if serial in shown]


async def test_register_again_changes_nothing(
    hass: HomeAssistant, init_integration: MockConfigEntry, device_registry: dr.DeviceRegistry
) -> None:
    entry_id = init_integration.entry_id
    before = dr.async_entries_for_config_entry(device_registry, entry_id)
    for snapshot in init_integration.runtime_data.coordinator.data.systems.values():
        async_register_devices(hass, entry_id, snapshot)
    assert dr.async_entries_for_config_entry(device_registry, entry_id) == before


async def test_remove_devices_takes_entities_along(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    entry_id = init_integration.entry_id
    battery = device_registry.async_get_device_by_identifier(
        battery_identifier(BATTERY_SYSTEM), entry_id
    )
    assert battery is not None
    assert er.async_entries_for_device(entity_registry, battery.id)

    async_remove_devices(hass, entry_id, BATTERY_SYSTEM)
    await hass.async_block_till_done()
    for identifier in (system_identifier(BATTERY_SYSTEM), battery_identifier(BATTERY_SYSTEM)):
        assert device_registry.async_get_device_by_identifier(identifier, entry_id) is None
    assert not er.async_entries_for_device(entity_registry, battery.id)
    assert not [
        e
        for e in er.async_entries_for_config_entry(entity_registry, entry_id)
        if e.unique_id.startswith(f"{BATTERY_SYSTEM}_")
    ]
    # The other system is untouched; removing again is harmless.
    assert device_registry.async_get_device_by_identifier(system_identifier(PLAIN_SYSTEM), entry_id)
    async_remove_devices(hass, entry_id, BATTERY_SYSTEM)


async def _poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let the next quarter hour's poll run."""
    freezer.tick(timedelta(minutes=15))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("plan", ["kilowatt"])
async def test_hardware_removed_and_added_back_without_a_reload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The device list is read again: a battery and a meter come and go with their entities."""
    entry_id = init_integration.entry_id
    real = EnphaseClient.async_get_devices
    gone = False

    async def devices(client: EnphaseClient, system_id: int) -> Devices:
        found = await real(client, system_id)
        if gone and system_id == BATTERY_SYSTEM:
            # The battery and the consumption meter were taken out by the installer.
            meters = tuple(m for m in found.meters if "production" in (m.config_type or "").lower())
            return replace(found, encharges=(), meters=meters)
        return found

    def unique_ids() -> set[str]:
        return {e.unique_id for e in er.async_entries_for_config_entry(entity_registry, entry_id)}

    before = unique_ids()
    assert {f"{BATTERY_SYSTEM}_battery_level", f"{BATTERY_SYSTEM}_consumption_power"} <= before
    with (
        patch.object(EnphaseClient, "async_get_devices", devices),
        patch("custom_components.enphase_cloud.coordinator.DEVICES_RECHECK", timedelta(0)),
    ):
        gone = True
        await _poll(hass, freezer)
        assert init_integration.state is ConfigEntryState.LOADED
        after = unique_ids()
        assert f"{BATTERY_SYSTEM}_battery_level" not in after
        assert f"{BATTERY_SYSTEM}_consumption_power" not in after
        assert f"{BATTERY_SYSTEM}_production_power" in after
        assert (
            device_registry.async_get_device_by_identifier(
                battery_identifier(BATTERY_SYSTEM), entry_id
            )
            is None
        )
        assert hass.states.get("sensor.casa_solar_home_power") is None
        assert init_integration.runtime_data.coordinator.last_update_success

        gone = False
        await _poll(hass, freezer)
        assert unique_ids() == before
        assert (
            device_registry.async_get_device_by_identifier(
                battery_identifier(BATTERY_SYSTEM), entry_id
            )
            is not None
        )
        assert hass.states.get("sensor.casa_solar_battery_state_of_charge") is not None


@pytest.mark.parametrize("plan", ["kilowatt"])
async def test_device_list_is_not_read_every_poll(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
) -> None:
    """Unchanged hardware costs no call per poll: the list is re-read weekly or on a hint."""
    endpoint = "GET /api/v4/systems/{system_id}/devices"
    read = simulator.sim.usage(API_KEY)["endpoints"][endpoint]["total"]
    for _ in range(4):
        await _poll(hass, freezer)
    assert simulator.sim.usage(API_KEY)["endpoints"][endpoint]["total"] == read


@pytest.mark.parametrize("plan", ["kilowatt"])
async def test_new_hardware_in_the_summary_reads_the_device_list_at_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
) -> None:
    """More microinverters in the summary: the device list is read in the same round."""
    endpoint = "GET /api/v4/systems/{system_id}/devices"
    read = simulator.sim.usage(API_KEY)["endpoints"][endpoint]["total"]
    real = EnphaseClient.async_get_summary

    async def summary(client: EnphaseClient, system_id: int) -> Summary:
        found = await real(client, system_id)
        if system_id != PLAIN_SYSTEM:
            return found
        return replace(found, modules=(found.modules or 0) + 4)

    with patch.object(EnphaseClient, "async_get_summary", summary):
        await _poll(hass, freezer)
    assert simulator.sim.usage(API_KEY)["endpoints"][endpoint]["total"] == read + 1
    # Back to the real count: a change again, read once more; then steady, no read.
    await _poll(hass, freezer)
    assert simulator.sim.usage(API_KEY)["endpoints"][endpoint]["total"] == read + 2
    await _poll(hass, freezer)
    assert simulator.sim.usage(API_KEY)["endpoints"][endpoint]["total"] == read + 2
