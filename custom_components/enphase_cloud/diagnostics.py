"""Diagnostics: entry, budget, snapshot and chargers, with every secret and identifier redacted."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, time
from enum import Enum
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_TOKEN
from homeassistant.core import HomeAssistant

from .data import EnphaseCloudConfigEntry

TO_REDACT = {
    CONF_API_KEY,
    # Application credentials name it after the client id, which is half the app's secret pair.
    "auth_implementation",
    CONF_TOKEN,
    "access_token",
    "refresh_token",
    "enl_uid",
    "enl_cid",
    "jti",
    "unique_id",
    "serial_number",
    # A charger's serial (its `key` is a hash of system and serial, and stays).
    "serial",
    "address",
    "city",
    "state",
    "postal_code",
    "latitude",
    "longitude",
    "email",
    "name",
    "public_name",
    "title",
    "key_id",
}


def _plain(value: object) -> object:
    """Turn tuples into lists (redaction walks only mappings and lists), dates into ISO text."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, date | time):
        # A date would otherwise reach the JSON encoder, which falls back to its repr.
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EnphaseCloudConfigEntry
) -> dict[str, Any]:
    """Return what helps to debug polling and statistics, without anything personal."""
    data = entry.runtime_data
    snapshot = data.coordinator.data
    return async_redact_data(
        {
            "entry": {
                "data": dict(entry.data),
                "options": dict(entry.options),
                "title": entry.title,
            },
            "budget": data.budget.as_diagnostics(),
            "history": {"in_progress": snapshot.history_in_progress},
            "import_health": data.coordinator.import_health(),
            "next_poll": snapshot.next_poll,
            "systems": [_plain(asdict(system)) for system in snapshot.systems.values()],
            "battery_commands": {
                str(system_id): _plain(
                    {"command_state": data.commands.state(system_id)}
                    | data.commands.attributes(system_id)
                )
                for system_id, system in snapshot.systems.items()
                if system.has_battery
            },
            "ev_chargers": {
                str(system_id): [_plain(asdict(charger)) for charger in chargers.values()]
                for system_id in snapshot.systems
                if (chargers := data.coordinator.ev_chargers.chargers(system_id))
            },
        },
        TO_REDACT,
    )
