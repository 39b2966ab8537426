"""Actions: timed reserve holds and discharges of an IQ Battery, and cancelling them.

Target: either `device_id` (the system's device or its battery's device), or
`config_entry_id` (optional when only one entry is loaded) with `system_id`
(optional when the entry has a single battery system).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from homeassistant.const import ATTR_CONFIG_ENTRY_ID, ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr, service
import probatio

from .command_engine import (
    ERROR_RESERVE_OUT_OF_RANGE,
    MAX_RESERVE,
    MIN_RESERVE,
    CommandKind,
    CommandValidationError,
)
from .const import DOMAIN, LOGGER
from .data import EnphaseCloudConfigEntry, SystemSnapshot
from .helpers import translate_call_errors

SERVICE_HOLD_RESERVE: Final = "hold_reserve"
SERVICE_DISCHARGE: Final = "discharge"
SERVICE_CANCEL_COMMAND: Final = "cancel_command"

ATTR_SYSTEM_ID: Final = "system_id"
ATTR_TARGET_RESERVE: Final = "target_reserve"
ATTR_DURATION: Final = "duration"
ATTR_EXPORT_TO_GRID: Final = "export_to_grid"
DEFAULT_DURATION: Final = timedelta(hours=1)

_TARGET: dict[probatio.Marker, Any] = {
    probatio.Exclusive(ATTR_CONFIG_ENTRY_ID, "target"): cv.string,
    probatio.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
    probatio.Optional(ATTR_SYSTEM_ID): cv.positive_int,
}
# Range checks happen in the handler so every refusal is a translated error.
_COMMAND = {
    **_TARGET,
    probatio.Required(ATTR_TARGET_RESERVE): probatio.Coerce(float),
    probatio.Optional(ATTR_DURATION, default=DEFAULT_DURATION): cv.time_period,
}
HOLD_RESERVE_SCHEMA: Final = probatio.Schema(_COMMAND)
DISCHARGE_SCHEMA: Final = probatio.Schema(
    {**_COMMAND, probatio.Optional(ATTR_EXPORT_TO_GRID, default=False): cv.boolean}
)
CANCEL_SCHEMA: Final = probatio.Schema(_TARGET)


def _error(*, key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _target(call: ServiceCall) -> tuple[EnphaseCloudConfigEntry, SystemSnapshot]:
    """Return the entry and the battery system an action is aimed at, or refuse it."""
    hass = call.hass
    system_id: int | None = call.data.get(ATTR_SYSTEM_ID)
    entry_id: str | None = call.data.get(ATTR_CONFIG_ENTRY_ID)
    if (device_id := call.data.get(ATTR_DEVICE_ID)) is not None:
        device = dr.async_get(hass).async_get(device_id)
        ids = [value for domain, value in device.identifiers if domain == DOMAIN] if device else []
        # The error never names the device id: a raw id means nothing to the user.
        if device is None or not ids or not ids[0].removesuffix("_battery").isdigit():
            raise _error(key="device_not_found")
        system_id = int(ids[0].removesuffix("_battery"))
        found = hass.config_entries.async_get_entry(device.config_entry_id)
        if found is None or found.domain != DOMAIN:
            raise _error(key="device_not_found")
        entry_id = found.entry_id
    entry: EnphaseCloudConfigEntry = service.async_get_config_entry(hass, DOMAIN, entry_id)
    systems = entry.runtime_data.coordinator.data.systems
    if system_id is None:
        batteries = [s for s in systems.values() if s.has_battery]
        if len(batteries) != 1:
            raise _error(key="system_required")
        return entry, batteries[0]
    if (snapshot := systems.get(system_id)) is None:
        raise _error(key="system_not_found", system_id=str(system_id))
    return entry, snapshot


def _controllable(call: ServiceCall) -> tuple[EnphaseCloudConfigEntry, SystemSnapshot]:
    entry, snapshot = _target(call)
    if not snapshot.has_battery:
        raise _error(key="no_battery", system=snapshot.system.name)
    if not snapshot.control_permitted:
        raise _error(key="control_not_permitted", system=snapshot.system.name)
    return entry, snapshot


def _reserve(value: float) -> int:
    """Return the target as a whole percentage; the engine checks its range."""
    if not value.is_integer():
        raise _error(
            key=ERROR_RESERVE_OUT_OF_RANGE,
            min=str(MIN_RESERVE),
            max=str(MAX_RESERVE),
            value=str(value),
        )
    return int(value)


async def _async_start(call: ServiceCall, kind: CommandKind) -> ServiceResponse:
    entry, snapshot = _controllable(call)
    commands = entry.runtime_data.commands
    settings = snapshot.battery_settings
    export = bool(call.data.get(ATTR_EXPORT_TO_GRID, False))
    try:
        command = await commands.async_start(
            snapshot.system_id,
            kind,
            target_reserve=_reserve(call.data[ATTR_TARGET_RESERVE]),
            duration=call.data[ATTR_DURATION],
            shutdown_level=settings.shutdown_level if settings else None,
            export_requested=export,
            grid_event_active=snapshot.grid_services_event_active,
        )
    except CommandValidationError as err:
        raise _error(key=err.code, **err.placeholders) from err
    if export:
        LOGGER.info(
            "Discharge of system %s: exporting to the grid is not supported by the Enphase "
            "API; the battery covers home loads only",
            snapshot.system_id,
        )
    return commands.response(snapshot.system_id, command)


def _entry_of(call: ServiceCall) -> EnphaseCloudConfigEntry | None:
    """Return the entry an action is aimed at (for reauth), or None when it names none."""
    try:
        return _target(call)[0]
    except HomeAssistantError:
        return None


@translate_call_errors(_entry_of)
async def _async_hold_reserve(call: ServiceCall) -> ServiceResponse:
    """Hold the backup reserve at the target for the duration, then restore."""
    return await _async_start(call, CommandKind.HOLD_RESERVE)


@translate_call_errors(_entry_of)
async def _async_discharge(call: ServiceCall) -> ServiceResponse:
    """Discharge to the target (or until the duration ends), then restore."""
    return await _async_start(call, CommandKind.DISCHARGE)


@translate_call_errors(_entry_of)
async def _async_cancel(call: ServiceCall) -> ServiceResponse:
    """End the running command and restore the settings."""
    entry, snapshot = _controllable(call)
    commands = entry.runtime_data.commands
    try:
        await commands.async_cancel(snapshot.system_id)
    except CommandValidationError as err:
        raise _error(key=err.code, **err.placeholders) from err
    return commands.response(snapshot.system_id, None)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the battery actions."""
    for name, handler, schema in (
        (SERVICE_HOLD_RESERVE, _async_hold_reserve, HOLD_RESERVE_SCHEMA),
        (SERVICE_DISCHARGE, _async_discharge, DISCHARGE_SCHEMA),
        (SERVICE_CANCEL_COMMAND, _async_cancel, CANCEL_SCHEMA),
    ):
        hass.services.async_register(
            DOMAIN, name, handler, schema=schema, supports_response=SupportsResponse.OPTIONAL
        )
