"""Tests for the devices: one per system, the battery via it, no serial numbers."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_cloud.const import DOMAIN
from custom_components.enphase_cloud.devices import (
    MANUFACTURER,
    async_register_devices,
    async_remove_devices,
    battery_identifier,
    system_identifier,
)

from .conftest import BATTERY_SYSTEM, PLAIN_SYSTEM


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
