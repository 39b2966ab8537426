"""Select: the IQ Battery's mode, where the plan permits battery control."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import BatteryMode, BatterySettings, EnphaseClient, known_mode
from .data import EnphaseCloudConfigEntry, SystemSnapshot
from .entity import EnphaseBatteryControlEntity, async_add_battery_controls
from .helpers import translate_errors

# Writes are few and each one is a quota call: one at a time per platform.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class EnphaseSelectEntityDescription(SelectEntityDescription):
    """A battery setting chosen from a list."""

    value_fn: Callable[[SystemSnapshot], str | None]
    set_fn: Callable[[EnphaseClient, int, str], Awaitable[BatterySettings]]


SELECTS: tuple[EnphaseSelectEntityDescription, ...] = (
    EnphaseSelectEntityDescription(
        key="battery_mode",
        translation_key="battery_mode",
        options=[mode.value for mode in BatteryMode],
        # A mode this integration does not know shows as no option (unknown).
        value_fn=lambda s: (
            mode.value
            if s.battery_settings and (mode := known_mode(s.battery_settings.mode))
            else None
        ),
        set_fn=lambda client, system_id, option: client.async_set_battery_settings(
            system_id, mode=BatteryMode(option)
        ),
    ),
)


class EnphaseBatterySelect(EnphaseBatteryControlEntity, SelectEntity):
    """A battery setting of one system, written through Enphase's cloud."""

    entity_description: EnphaseSelectEntityDescription

    @property
    def current_option(self) -> str | None:
        """Return the option in force."""
        return self.entity_description.value_fn(self.snapshot)

    @property
    def extra_state_attributes(self) -> dict[str, str] | None:
        """Name a mode Enphase reports that is none of the options (e.g. "AI Optimisation")."""
        settings = self.snapshot.battery_settings
        if settings is None or known_mode(settings.mode) is not None:
            return None
        return {"enphase_mode": str(settings.mode)}

    @translate_errors
    async def async_select_option(self, option: str) -> None:
        """Write the option; during a battery command this ends the command."""
        settings = await self.entity_description.set_fn(
            self.coordinator.client, self.system_id, option
        )
        self.coordinator.config_entry.runtime_data.commands.async_manual_change(
            self.system_id, "Battery mode", battery_settings=settings
        )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the battery mode of every battery system whose control the plan permits."""
    async_add_battery_controls(entry, async_add_entities, EnphaseBatterySelect, SELECTS)
