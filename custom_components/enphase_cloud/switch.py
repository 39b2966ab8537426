"""Switch: storm guard of an IQ Battery system, where the plan permits battery control."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import EnphaseClient, StormGuard
from .data import EnphaseCloudConfigEntry, SystemSnapshot
from .entity import EnphaseBatteryControlEntity, async_add_battery_controls
from .helpers import translate_errors

# Writes are few and each one is a quota call: one at a time per platform.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class EnphaseSwitchEntityDescription(SwitchEntityDescription):
    """A battery system setting that is on or off."""

    value_fn: Callable[[SystemSnapshot], bool | None]
    set_fn: Callable[[EnphaseClient, int, bool], Awaitable[StormGuard]]


SWITCHES: tuple[EnphaseSwitchEntityDescription, ...] = (
    EnphaseSwitchEntityDescription(
        key="storm_guard",
        translation_key="storm_guard",
        value_fn=lambda s: s.storm_guard.enabled if s.storm_guard else None,
        set_fn=lambda client, system_id, on: client.async_set_storm_guard(system_id, enabled=on),
    ),
)


class EnphaseSwitch(EnphaseBatteryControlEntity, SwitchEntity):
    """A system setting switched through Enphase's cloud."""

    entity_description: EnphaseSwitchEntityDescription

    @property
    def is_on(self) -> bool | None:
        """Return whether the setting is on."""
        return self.entity_description.value_fn(self.snapshot)

    async def async_turn_on(self, **kwargs: object) -> None:
        """Turn the setting on."""
        await self._async_write(on=True)

    async def async_turn_off(self, **kwargs: object) -> None:
        """Turn the setting off."""
        await self._async_write(on=False)

    @translate_errors
    async def _async_write(self, *, on: bool) -> None:
        storm_guard = await self.entity_description.set_fn(
            self.coordinator.client, self.system_id, on
        )
        self.coordinator.config_entry.runtime_data.commands.async_manual_change(
            self.system_id, "Storm guard", storm_guard=storm_guard
        )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add storm guard to every battery system whose control the plan permits."""
    async_add_battery_controls(entry, async_add_entities, EnphaseSwitch, SWITCHES)
