"""Diagnostics: entry, budget and snapshot, with every secret and identifier redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_TOKEN
from homeassistant.core import HomeAssistant

from .data import EnphaseCloudConfigEntry

TO_REDACT = {
    CONF_API_KEY,
    CONF_TOKEN,
    "access_token",
    "refresh_token",
    "enl_uid",
    "enl_cid",
    "jti",
    "unique_id",
    "serial_number",
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
    """Turn tuples into lists: redaction walks only mappings and lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
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
        },
        TO_REDACT,
    )
