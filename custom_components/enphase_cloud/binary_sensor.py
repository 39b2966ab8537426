"""Binary sensors of system health: problem (active alarms), grid, grid services event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api.models.parsing import normalise
from .coordinator import EnphaseCloudCoordinator
from .data import EnphaseCloudConfigEntry, SystemSnapshot
from .entity import EnphaseCloudEntity, async_add_system_entities

# Entities only read the coordinator's snapshot; the coordinator does the calls.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class EnphaseBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A system binary sensor: its value, its attributes and when it exists."""

    value_fn: Callable[[SystemSnapshot], bool | None]
    attributes_fn: Callable[[SystemSnapshot], dict[str, Any] | None] = lambda _: None
    exists_fn: Callable[[SystemSnapshot], bool] = lambda _: True
    fetched_fn: Callable[[SystemSnapshot], datetime | None] = lambda s: (
        s.health.fetched_at if s.health else None
    )
    battery: bool = False


def grid_present(s: SystemSnapshot) -> bool | None:
    """Return whether the grid is there: the grid status where the plan reads it, else events.

    "Unknown" (or any other grid state) is unknown, never off.
    """
    if s.grid_status is not None:
        state = normalise(s.grid_status.grid_state)
        if state == "ongrid":
            return True
        if state == "offgrid":
            return False
        return None
    return s.health.grid_on if s.health else None


def _grid_fetched(s: SystemSnapshot) -> datetime | None:
    if s.grid_status is not None:
        return s.config_fetched_at
    return s.health.fetched_at if s.health else None


def _problem(s: SystemSnapshot) -> bool | None:
    return None if s.health is None else bool(s.health.alarms)


def _alarms(s: SystemSnapshot) -> dict[str, Any] | None:
    if s.health is None:
        return None
    return {"alarms": [alarm.as_attributes() for alarm in s.health.alarms]}


def _grid_services(s: SystemSnapshot) -> dict[str, Any] | None:
    services = s.health.grid_services if s.health else None
    if services is None:
        return None
    return {
        "event": services.state,
        "started_at": services.started_at.isoformat() if services.started_at else None,
        "scheduled_start": (
            services.scheduled_start.isoformat() if services.scheduled_start else None
        ),
        "source": services.source,
    }


BINARY_SENSORS: tuple[EnphaseBinarySensorEntityDescription, ...] = (
    EnphaseBinarySensorEntityDescription(
        key="problem",
        translation_key="problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        value_fn=_problem,
        attributes_fn=_alarms,
    ),
    EnphaseBinarySensorEntityDescription(
        key="grid",
        translation_key="grid",
        device_class=BinarySensorDeviceClass.POWER,
        # Only a site with a battery can run without the grid and tell us so.
        exists_fn=lambda s: s.has_battery or s.grid_status is not None,
        fetched_fn=_grid_fetched,
        value_fn=grid_present,
    ),
    EnphaseBinarySensorEntityDescription(
        key="grid_services_event",
        translation_key="grid_services_event",
        battery=True,
        exists_fn=lambda s: s.has_battery,
        value_fn=lambda s: s.grid_services_event_active,
        attributes_fn=_grid_services,
    ),
)


class EnphaseBinarySensor(EnphaseCloudEntity, BinarySensorEntity):
    """A binary sensor of one system's health."""

    entity_description: EnphaseBinarySensorEntityDescription

    def fetched_at(self) -> datetime | None:
        """Return when the data behind this sensor was fetched."""
        return self.entity_description.fetched_fn(self.snapshot)

    @property
    def is_on(self) -> bool | None:
        """Return the value from the latest snapshot (None: unknown)."""
        return self.entity_description.value_fn(self.snapshot)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Return the active alarms or the grid services event's details."""
        return self.entity_description.attributes_fn(self.snapshot)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the health binary sensors of every system, also of systems added later."""

    def _create(
        coordinator: EnphaseCloudCoordinator, snapshot: SystemSnapshot
    ) -> list[EnphaseBinarySensor]:
        return [
            EnphaseBinarySensor(
                coordinator, snapshot.system_id, description, battery=description.battery
            )
            for description in BINARY_SENSORS
            if description.exists_fn(snapshot)
        ]

    async_add_system_entities(entry, async_add_entities, _create)
