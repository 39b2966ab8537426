"""The one base entity of the integration, and the error-translating decorator for actions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import datetime
from functools import wraps
from typing import Any

from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .api import (
    EnphaseAuthError,
    EnphaseConnectionError,
    EnphaseError,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseUnprocessable,
)
from .const import DOMAIN
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
        """Available while the system exists and its data is fresh enough.

        A failed poll keeps the last data: entities stay available until the data
        is older than the coordinator's documented staleness threshold.
        """
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
    """Add each system's entities when the system first appears: at setup and after polls.

    Systems that join the account later get their entities without a reload; a system
    that leaves and comes back gets them again (its devices were removed meanwhile).
    """
    coordinator = entry.runtime_data.coordinator
    known: set[int] = set()

    @callback
    def _add_new_systems() -> None:
        systems = coordinator.data.systems
        new = [sid for sid in systems if sid not in known]
        known.intersection_update(systems)
        known.update(new)
        async_add_entities(entity for sid in new for entity in create(coordinator, systems[sid]))

    _add_new_systems()
    entry.async_on_unload(coordinator.async_add_listener(_add_new_systems))


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


def translate_errors[**P, R](
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn client errors raised by an action or a control into translated errors."""

    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except EnphasePlanError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="plan_not_permitted"
            ) from err
        except EnphaseRateLimited as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="rate_limited",
                translation_placeholders={"retry_at": dt_util.as_local(err.retry_at).isoformat()},
            ) from err
        except EnphaseAuthError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="auth_failed"
            ) from err
        except EnphaseUnprocessable as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="rejected",
                translation_placeholders={"details": err.details or ""},
            ) from err
        except EnphaseConnectionError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="cannot_connect_action"
            ) from err
        except EnphaseError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
            ) from err

    return wrapper


# --- IQ EV Chargers -----------------------------------------------------------------


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
        """Available while the charger exists and its data is fresh enough."""
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
