"""Devices: one per system (its IQ Gateway), the IQ Battery as its child; serials stay out."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from .const import DOMAIN
from .data import SystemSnapshot

MANUFACTURER = "Enphase Energy"


def system_identifier(system_id: int) -> tuple[str, str]:
    """Return the registry identifier of a system's device."""
    return (DOMAIN, str(system_id))


def battery_identifier(system_id: int) -> tuple[str, str]:
    """Return the registry identifier of a system's battery device."""
    return (DOMAIN, f"{system_id}_battery")


def system_device_info(snapshot: SystemSnapshot) -> DeviceInfo:
    """Describe the device of a system."""
    return DeviceInfo(
        identifiers={system_identifier(snapshot.system_id)},
        manufacturer=MANUFACTURER,
        model=snapshot.devices.gateway_model or "IQ Gateway",
        name=snapshot.system.name,
        configuration_url=f"https://enlighten.enphaseenergy.com/systems/{snapshot.system_id}",
    )


def battery_device_info(hass: HomeAssistant, entry_id: str, snapshot: SystemSnapshot) -> DeviceInfo:
    """Describe the IQ Battery of a system, nested under the system's device."""
    return DeviceInfo(
        identifiers={battery_identifier(snapshot.system_id)},
        manufacturer=MANUFACTURER,
        model=snapshot.devices.battery_model or "IQ Battery",
        translation_key="battery",
        translation_placeholders={"system": snapshot.system.name},
        via_device_id=dr.async_get_device_id_by_identifier(
            hass, system_identifier(snapshot.system_id), config_entry_id=entry_id
        ),
    )


@callback
def async_register_devices(hass: HomeAssistant, entry_id: str, snapshot: SystemSnapshot) -> None:
    """Register a system's devices, the parent first so the battery can point at it."""
    registry = dr.async_get(hass)
    registry.async_get_or_create(config_entry_id=entry_id, **system_device_info(snapshot))
    if snapshot.has_battery:
        registry.async_get_or_create(
            config_entry_id=entry_id, **battery_device_info(hass, entry_id, snapshot)
        )


@callback
def async_remove_devices(hass: HomeAssistant, entry_id: str, system_id: int) -> None:
    """Detach the devices of a system that left the account (their entities go too)."""
    registry = dr.async_get(hass)
    for identifier in (battery_identifier(system_id), system_identifier(system_id)):
        # The battery is a device of its own, connected via the gateway (not a child device).
        device = registry.async_get_device_by_identifier(identifier, entry_id)
        if device is not None:
            registry.async_update_device(device.id, remove_config_entry_id=entry_id)


@callback
def async_remove_battery_device(hass: HomeAssistant, entry_id: str, system_id: int) -> None:
    """Detach the battery device of a system whose battery is gone (its entities go too)."""
    registry = dr.async_get(hass)
    device = registry.async_get_device_by_identifier(battery_identifier(system_id), entry_id)
    if device is not None:
        registry.async_update_device(device.id, remove_config_entry_id=entry_id)
