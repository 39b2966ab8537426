"""Number: the IQ Battery's backup reserve, where the plan permits battery control."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.number import NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import PERCENTAGE
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import BatterySettings, EnphaseClient
from .command_engine import MAX_RESERVE, MIN_RESERVE
from .data import EnphaseCloudConfigEntry, SystemSnapshot
from .entity import EnphaseBatteryControlEntity, async_add_battery_controls
from .helpers import translate_errors

# Writes are few and each one is a quota call: one at a time per platform.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class EnphaseNumberEntityDescription(NumberEntityDescription):
    """A battery setting that is a number."""

    value_fn: Callable[[SystemSnapshot], int | None]
    min_fn: Callable[[SystemSnapshot], int]
    """The lowest value Enphase accepts for this system."""
    set_fn: Callable[[EnphaseClient, int, int], Awaitable[BatterySettings]]


def _reserve_floor(snapshot: SystemSnapshot) -> int:
    """Never below 10 % nor the battery's shutdown level."""
    settings = snapshot.battery_settings
    return max(MIN_RESERVE, (settings.shutdown_level or 0) if settings else 0)


NUMBERS: tuple[EnphaseNumberEntityDescription, ...] = (
    EnphaseNumberEntityDescription(
        key="backup_reserve",
        translation_key="backup_reserve",
        native_unit_of_measurement=PERCENTAGE,
        native_max_value=MAX_RESERVE,
        native_step=1,
        mode=NumberMode.SLIDER,
        value_fn=lambda s: s.battery_settings.reserve_soc if s.battery_settings else None,
        min_fn=_reserve_floor,
        set_fn=lambda client, system_id, value: client.async_set_battery_settings(
            system_id, reserve_soc=value
        ),
    ),
)


class EnphaseBatteryNumber(EnphaseBatteryControlEntity, NumberEntity):
    """A battery setting of one system, written through Enphase's cloud."""

    entity_description: EnphaseNumberEntityDescription

    @property
    def native_min_value(self) -> float:
        """Return the lowest value Enphase accepts for this system."""
        return self.entity_description.min_fn(self.snapshot)

    @property
    def native_value(self) -> float | None:
        """Return the value in force."""
        return self.entity_description.value_fn(self.snapshot)

    @translate_errors
    async def async_set_native_value(self, value: float) -> None:
        """Write the value; during a battery command this ends the command."""
        settings = await self.entity_description.set_fn(
            self.coordinator.client, self.system_id, round(value)
        )
        self.coordinator.config_entry.runtime_data.commands.async_manual_change(
            self.system_id, "Backup reserve", battery_settings=settings
        )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the backup reserve of every battery system whose control the plan permits."""
    async_add_battery_controls(entry, async_add_entities, EnphaseBatteryNumber, NUMBERS)
