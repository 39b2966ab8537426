"""Event entity per system: fires once for each new Enphase event."""

from __future__ import annotations

from datetime import datetime

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api.models.events import EventStatus
from .coordinator import EnphaseCloudCoordinator
from .data import EnphaseCloudConfigEntry, SystemSnapshot
from .entity import EnphaseCloudEntity, async_add_system_entities

PARALLEL_UPDATES = 0

SYSTEM_EVENT = EventEntityDescription(
    key="system_event",
    translation_key="system_event",
    # The event's status when first seen: a stateful one opened (or already closed
    # again between two polls), or a transient one.
    event_types=[status.value for status in EventStatus],
)


class EnphaseSystemEvent(EnphaseCloudEntity, EventEntity):
    """Fires the events the health polling found new; each only once, even across restarts.

    The health monitor stores what it has seen before handing it out, so an
    event never comes back after a restart; handing out forgets it, so it is
    never fired twice in one run either.
    """

    def fetched_at(self) -> datetime | None:
        """Return when the events were last read."""
        health = self.snapshot.health
        return health.fetched_at if health else None

    async def async_added_to_hass(self) -> None:
        """Fire what was found before the entity existed (the first poll of a run)."""
        await super().async_added_to_hass()
        self._fire_new()

    @callback
    def _handle_coordinator_update(self) -> None:
        if self.system_id in self.coordinator.data.systems:
            self._fire_new()
        super()._handle_coordinator_update()

    def _fire_new(self) -> None:
        for event in self.coordinator.health.take_new_events(self.system_id):
            self._trigger_event(
                event.status,
                {
                    "event_type_id": event.event_type_id,
                    "type": event.type,
                    "name": event.name,
                    "description": event.description,
                    "started_at": event.started_at.isoformat(),
                    "ended_at": event.ended_at.isoformat() if event.ended_at else None,
                },
            )
            # One state write per event: automations see each of several found at once.
            self.async_write_ha_state()


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the event entity of every system, also of systems added later."""

    def _create(
        coordinator: EnphaseCloudCoordinator, snapshot: SystemSnapshot
    ) -> list[EnphaseSystemEvent]:
        return [EnphaseSystemEvent(coordinator, snapshot.system_id, SYSTEM_EVENT)]

    async_add_system_entities(entry, async_add_entities, _create)
