"""The one base entity of the integration; controls translate errors through `helpers`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .coordinator import EnphaseCloudCoordinator
from .data import EnphaseCloudConfigEntry, SystemSnapshot
from .devices import battery_device_info, system_device_info
from .ev_charger import ChargerSnapshot, charger_device_info


class EnphaseCloudEntity(CoordinatorEntity[EnphaseCloudCoordinator]):
    """An entity of one system; unavailable only when its data is missing or stale."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: EnphaseCloudCoordinator,
        system_id: int,
        description: EntityDescription,
        *,
        battery: bool = False,
    ) -> None:
        """Attach the entity to its system's (or battery's) device."""
        super().__init__(coordinator)
        self.system_id = system_id
        self.entity_description = description
        self._attr_unique_id = f"{system_id}_{description.key}"
        snapshot = self.snapshot
        self._attr_device_info = (
            battery_device_info(coordinator.hass, coordinator.config_entry.entry_id, snapshot)
            if battery
            else system_device_info(snapshot)
        )

    @property
    def snapshot(self) -> SystemSnapshot:
        """Return the latest snapshot of this entity's system."""
        return self.coordinator.data.systems[self.system_id]

    def fetched_at(self) -> datetime | None:
        """Return when the data this entity shows was fetched (None: not yet)."""
        return self.snapshot.live_fetched_at

    @property
    def available(self) -> bool:
        """Available while the polls work, the system exists and its data is fresh enough.

        A failed poll (`super().available` false) keeps the last data for a short
        grace, so one failure never blanks a sensor; polls failing longer make it
        unavailable whatever the data's age. While polls succeed, data older than the
        coordinator's staleness threshold (a gateway that stopped uploading, an
        exhausted quota) makes it unavailable too.
        """
        if not super().available and self.coordinator.polls_failing_too_long():
            return False
        data = self.coordinator.data
        if data is None or self.system_id not in data.systems:
            return False
        fetched = self.fetched_at()
        return fetched is None or dt_util.utcnow() - fetched <= data.stale_after


@callback
def async_add_system_entities(
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    create: Callable[[EnphaseCloudCoordinator, SystemSnapshot], Iterable[Entity]],
) -> None:
    """Keep each system's entities in step with its devices: at setup and after polls.

    Systems that join the account later get their entities without a reload; a system
    that leaves and comes back gets them again (its devices were removed meanwhile). A
    meter or battery added to a system adds its entities, one removed removes them.
    """
    coordinator = entry.runtime_data.coordinator
    # Per system: what its entities were made from, and their unique ids.
    known: dict[int, tuple[object, set[str]]] = {}

    @callback
    def _sync_systems() -> None:
        systems = coordinator.data.systems
        for system_id in [sid for sid in known if sid not in systems]:
            del known[system_id]
        added: list[Entity] = []
        for system_id, snapshot in systems.items():
            basis = (snapshot.devices, snapshot.control_permitted)
            previous = known.get(system_id)
            if previous is not None and previous[0] == basis:
                continue
            had = previous[1] if previous is not None else set()
            entities = list(create(coordinator, snapshot))
            ids = {str(entity.unique_id) for entity in entities}
            added += [entity for entity in entities if entity.unique_id not in had]
            _async_remove_entities(coordinator, had - ids)
            known[system_id] = (basis, ids)
        if added:
            async_add_entities(added)

    _sync_systems()
    entry.async_on_unload(coordinator.async_add_listener(_sync_systems))


@callback
def _async_remove_entities(coordinator: EnphaseCloudCoordinator, unique_ids: set[str]) -> None:
    """Remove the entities of hardware a system no longer reports."""
    if not unique_ids:
        return
    registry = er.async_get(coordinator.hass)
    for entry in er.async_entries_for_config_entry(registry, coordinator.config_entry.entry_id):
        if entry.unique_id in unique_ids:
            registry.async_remove(entry.entity_id)


class EnphaseBatteryControlEntity(EnphaseCloudEntity):
    """A battery setting of one system, on the battery's device, written by the user."""

    def __init__(
        self,
        coordinator: EnphaseCloudCoordinator,
        system_id: int,
        description: EntityDescription,
    ) -> None:
        """Attach the control to the system's battery device."""
        super().__init__(coordinator, system_id, description, battery=True)

    def fetched_at(self) -> datetime | None:
        """Return when the battery settings were read or written."""
        return self.snapshot.config_fetched_at


@callback
def async_add_battery_controls[D: EntityDescription](
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    create: Callable[[EnphaseCloudCoordinator, int, D], EnphaseBatteryControlEntity],
    descriptions: Iterable[D],
) -> None:
    """Add controls to every battery system whose settings the plan lets us change."""
    descriptions = tuple(descriptions)

    def _create(
        coordinator: EnphaseCloudCoordinator, snapshot: SystemSnapshot
    ) -> list[EnphaseBatteryControlEntity]:
        if not (snapshot.has_battery and snapshot.control_permitted):
            return []
        return [create(coordinator, snapshot.system_id, d) for d in descriptions]

    async_add_system_entities(entry, async_add_entities, _create)


class EnphaseChargerEntity(CoordinatorEntity[EnphaseCloudCoordinator]):
    """An entity of one IQ EV Charger, on the charger's device beneath its system."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: EnphaseCloudCoordinator,
        charger: ChargerSnapshot,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the charger's device (named without its serial)."""
        super().__init__(coordinator)
        self.system_id = charger.system_id
        self.charger_key = charger.key
        self.entity_description = description
        self._attr_unique_id = f"{charger.system_id}_ev_{charger.key}_{description.key}"
        system = coordinator.data.systems[charger.system_id].system
        self._attr_device_info = charger_device_info(
            coordinator.hass, coordinator.config_entry.entry_id, system.name, charger
        )

    @property
    def charger(self) -> ChargerSnapshot | None:
        """Return the charger's latest data, None once it is gone."""
        return self.coordinator.ev_chargers.charger(self.system_id, self.charger_key)

    @property
    def available(self) -> bool:
        """Available by the rule of the system entities (see `EnphaseCloudEntity`)."""
        if not super().available and self.coordinator.polls_failing_too_long():
            return False
        data = self.coordinator.data
        charger = self.charger
        if data is None or charger is None or self.system_id not in data.systems:
            return False
        fetched = charger.fetched_at
        return fetched is None or dt_util.utcnow() - fetched <= data.stale_after


@callback
def async_add_charger_entities(
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    create: Callable[[EnphaseCloudCoordinator, ChargerSnapshot], Iterable[Entity]],
) -> None:
    """Add each charger's entities when it first appears, without a reload.

    A charger that goes has its device removed (its entities go with it); if it
    comes back, it gets them again.
    """
    coordinator = entry.runtime_data.coordinator
    known: set[tuple[int, str]] = set()

    @callback
    def _add_new_chargers() -> None:
        chargers = [
            charger
            for system_id in coordinator.data.systems
            for charger in coordinator.ev_chargers.chargers(system_id).values()
        ]
        current = {(c.system_id, c.key) for c in chargers}
        known.intersection_update(current)
        new = [c for c in chargers if (c.system_id, c.key) not in known]
        known.update((c.system_id, c.key) for c in new)
        async_add_entities(entity for charger in new for entity in create(coordinator, charger))

    _add_new_chargers()
    entry.async_on_unload(coordinator.async_add_listener(_add_new_chargers))
