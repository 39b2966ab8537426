"""System health from Enphase's events and alarms, polled within the API budget.

Each bulk round marks every system due; the coordinator then calls
`HealthMonitor.async_poll` once per poll, and it reads each due system's events
and active alarms (two calls) while the minute's window has room, leaving the
rest for the next poll a minute later. The answers give, per system:

- the active alarms (with Enphase's name, description and recommended action
  from `/systems/event_types`, read once and kept);
- the events not seen before (the event entity fires them once: what was seen
  is stored, so a restart never fires an event again; the first poll of a
  system only records what is there);
- the grid state the events imply, and whether a grid services event has the
  battery (`SystemSnapshot.grid_services_event_active`);
- a repair issue for each alarm open longer than a day, removed when it clears.

UNCONFIRMED, so both answers work: which event type keys Enphase uses for a
grid outage and a grid services event (matched by key and name words), whether
the windows select items that started in them or were open in them (alarms are
asked for over the longest window, a week), and whether battery settings name a
grid services event as the battery mode (a mode spelled like "DR Event Active"
counts too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypedDict

from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .api import EnphaseAuthError, EnphaseError, EnphaseRateLimited
from .api.models.events import Alarm, EventType, SystemEvent
from .api.models.parsing import normalise
from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .api import EnphaseClient
    from .budget import ApiBudget
    from .data import EnphaseCloudConfigEntry, SystemSnapshot

CALLS_PER_SYSTEM: Final = 2
"""Events and active alarms of one system: what one bulk round adds to the cadence."""
RESERVED_CALLS: Final = 2
"""Calls left this minute for the user's own actions."""
LOOKBACK: Final = timedelta(days=1)
"""Events are asked for over at least the last day: gateways upload late."""
MAX_WINDOW: Final = timedelta(days=7) - timedelta(minutes=1)
REPAIR_AFTER: Final = timedelta(days=1)
TYPES_REFRESH: Final = timedelta(days=1)
KEEP_SEEN: Final = timedelta(days=8)
MAX_PENDING: Final = 50
STORAGE_VERSION: Final = 1
ISSUE_PREFIX: Final = "alarm"

# Words (lower-case letters only) of event type keys and names, UNCONFIRMED beyond
# `envoy_no_report` (the spec's example): matched anywhere in the key or the name.
GRID_DOWN_WORDS: Final = ("gridoutage", "offgrid", "gridloss", "griddown", "gridfail")
NOT_REPORTING_WORDS: Final = ("envoynoreport", "notreporting", "gatewaynoreport")
GRID_SERVICES_WORDS: Final = ("gridservice", "demandresponse", "drevent", "powerplant")


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthAlarm:
    """An active alarm, described with Enphase's words for its event type."""

    alarm_id: str
    event_type_id: int
    type: str
    name: str
    description: str | None
    recommended_action: str | None
    severity: int | None
    since: datetime

    def as_attributes(self) -> dict[str, Any]:
        """Return the alarm as the problem sensor shows it (no serial numbers)."""
        return {
            "type": self.type,
            "name": self.name,
            "description": self.description,
            "recommended_action": self.recommended_action,
            "severity": self.severity,
            "since": self.since.isoformat(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthEvent:
    """An Enphase event as the event entity fires it."""

    key: str
    event_type_id: int
    type: str
    name: str
    description: str | None
    status: str
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class GridServices:
    """What Enphase tells about grid services (demand response) events of one system."""

    active: bool
    scheduled_start: datetime | None = None
    started_at: datetime | None = None
    source: str | None = None
    """Where the signal came from: "events" or "battery_settings"."""

    @property
    def state(self) -> str:
        """Return "active", "scheduled" or "none"."""
        if self.active:
            return "active"
        return "scheduled" if self.scheduled_start is not None else "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemHealth:
    """The health of one system after its last events and alarms poll."""

    fetched_at: datetime
    alarms: tuple[HealthAlarm, ...] = ()
    new_events: tuple[HealthEvent, ...] = ()
    """Events first seen in that poll (already stored as seen)."""
    grid_on: bool | None = None
    """From the events: False during a grid outage, None while the gateway is silent."""
    grid_services: GridServices | None = None


class _SystemStore(TypedDict):
    seen: dict[str, int]
    polled: int | None
    issues: list[str]


class _Stored(TypedDict):
    systems: dict[str, _SystemStore]
    types: dict[str, dict[str, Any]]
    types_at: int | None


def _words(kind: EventType | None) -> str:
    if kind is None:
        return ""
    return normalise(kind.key or "") + " " + normalise(kind.name or "")


def _matches(kind: EventType | None, words: Iterable[str]) -> bool:
    text = _words(kind)
    return any(word in text for word in words)


def grid_from_events(events: Iterable[SystemEvent], types: Mapping[int, EventType]) -> bool | None:
    """Return False while a grid outage is open, None while the gateway is silent, else True."""
    silent = False
    for event in events:
        if not event.is_open:
            continue
        kind = types.get(event.event_type_id)
        if _matches(kind, GRID_DOWN_WORDS):
            return False
        if event.event_type_id == 28 or _matches(kind, NOT_REPORTING_WORDS):  # noqa: PLR2004 - the spec's envoy_no_report
            silent = True
    return None if silent else True


def settings_say_grid_services(settings: object) -> bool:
    """Return whether battery settings name a grid services event as the mode (UNCONFIRMED)."""
    for name in ("mode", "mode_label", "raw_mode", "battery_mode"):
        value = getattr(settings, name, None)
        if isinstance(value, str) and any(w in normalise(value) for w in GRID_SERVICES_WORDS):
            return True
    return False


def grid_services_from(
    events: Iterable[SystemEvent],
    types: Mapping[int, EventType],
    now: datetime,
    settings: object = None,
) -> GridServices:
    """Return the grid services state from the events (and the battery settings, if read)."""
    scheduled: datetime | None = None
    for event in events:
        if not _matches(types.get(event.event_type_id), GRID_SERVICES_WORDS):
            continue
        if event.started_at > now:
            # Enphase may list an announced event ahead of its start (UNCONFIRMED).
            scheduled = event.started_at if scheduled is None else min(scheduled, event.started_at)
        elif event.is_open:
            return GridServices(active=True, started_at=event.started_at, source="events")
    if settings is not None and settings_say_grid_services(settings):
        return GridServices(active=True, scheduled_start=scheduled, source="battery_settings")
    return GridServices(active=False, scheduled_start=scheduled)


def issue_id(system_id: int, alarm_id: str) -> str:
    """Return the repair issue id of an alarm."""
    return f"{ISSUE_PREFIX}_{system_id}_{alarm_id}"


async def async_remove_health(hass: HomeAssistant, entry_id: str) -> None:
    """Delete a removed entry's alarm repairs and its store of seen events."""
    store: Store[_Stored] = Store(hass, STORAGE_VERSION, f"{DOMAIN}.health.{entry_id}")
    stored = await store.async_load()
    for system in (stored or {"systems": {}})["systems"].values():
        for issue in system["issues"]:
            ir.async_delete_issue(hass, DOMAIN, issue)
    await store.async_remove()


class HealthMonitor:
    """Polls events and alarms of one account's systems; keeps what was seen in a Store."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseCloudConfigEntry,
        client: EnphaseClient,
        budget: ApiBudget,
    ) -> None:
        """Keep what one entry's health polling needs; the Store loads on the first poll."""
        self._hass = hass
        self._client = client
        self._budget = budget
        self._store: Store[_Stored] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.health.{entry.entry_id}"
        )
        self._data: _Stored | None = None
        self._types: dict[int, EventType] = {}
        self._due: set[int] = set()
        self._pending: dict[int, list[HealthEvent]] = {}

    @staticmethod
    def round_calls(systems: Iterable[int]) -> int:
        """Return the calls one bulk round of health polling costs (for the cadence)."""
        return CALLS_PER_SYSTEM * sum(1 for _ in systems)

    def take_new_events(self, system_id: int) -> list[HealthEvent]:
        """Return the new events of a system not handed out yet, and forget them."""
        return self._pending.pop(system_id, [])

    async def _async_load(self) -> _Stored:
        if self._data is None:
            stored = await self._store.async_load()
            self._data = stored or {"systems": {}, "types": {}, "types_at": None}
            self._types = {
                int(k): EventType(event_type_id=int(k), **v) for k, v in self._data["types"].items()
            }
        return self._data

    async def async_poll(
        self, systems: MutableMapping[int, SystemSnapshot], now: datetime, *, bulk: bool
    ) -> bool:
        """Poll the due systems while this minute has room; True when some had to wait.

        Rate limits and refused tokens propagate (the coordinator handles them); any
        other error of a system's answers is logged and that system waits for the next
        bulk round, keeping what it showed.
        """
        data = await self._async_load()
        if bulk:
            self._due.update(systems)
        self._due.intersection_update(systems)
        for system_id in sorted(self._due):
            if self._budget.calls_available_now() - RESERVED_CALLS < CALLS_PER_SYSTEM:
                return True
            self._due.discard(system_id)
            try:
                health = await self._async_poll_system(system_id, now, systems[system_id], data)
            except EnphaseRateLimited, EnphaseAuthError:
                self._due.add(system_id)
                raise
            except EnphaseError as err:
                LOGGER.warning(
                    "Events and alarms of system %s could not be read: %s", system_id, err
                )
                continue
            snapshot = systems[system_id]
            active = health.grid_services.active if health.grid_services else None
            systems[system_id] = replace(snapshot, health=health, grid_services_event_active=active)
        return False

    async def _async_poll_system(
        self, system_id: int, now: datetime, snapshot: SystemSnapshot, data: _Stored
    ) -> SystemHealth:
        stored = data["systems"].setdefault(
            str(system_id), {"seen": {}, "polled": None, "issues": []}
        )
        oldest = now - MAX_WINDOW
        start = now - LOOKBACK
        if stored["polled"] is not None:
            start = min(start, dt_util.utc_from_timestamp(stored["polled"]) - timedelta(hours=1))
        events = (
            await self._client.async_get_events(system_id, start=max(start, oldest), end=now)
        ).events
        alarms = (await self._client.async_get_alarms(system_id, start=oldest, end=now)).alarms
        await self._async_learn_types(
            {e.event_type_id for e in events} | {a.event_type_id for a in alarms}, now, data
        )
        first_poll = stored["polled"] is None
        stored["polled"] = int(now.timestamp())
        new = [e for e in events if e.key not in stored["seen"]]
        for event in new:
            stored["seen"][event.key] = int(event.started_at.timestamp())
        keep = (now - KEEP_SEEN).timestamp()
        stored["seen"] = {k: v for k, v in stored["seen"].items() if v >= keep}
        fresh = () if first_poll else tuple(self._describe_event(e) for e in new)
        if fresh:
            pending = self._pending.setdefault(system_id, [])
            pending.extend(fresh)
            del pending[:-MAX_PENDING]
        active = tuple(self._describe_alarm(a) for a in alarms if not a.cleared)
        self._sync_issues(snapshot, active, now, stored)
        await self._store.async_save(data)
        return SystemHealth(
            fetched_at=now,
            alarms=active,
            new_events=fresh,
            grid_on=grid_from_events(events, self._types),
            grid_services=grid_services_from(events, self._types, now, snapshot.battery_settings),
        )

    async def _async_learn_types(self, ids: set[int], now: datetime, data: _Stored) -> None:
        """Read the event types when an unknown one shows up (at most once a day)."""
        if ids <= self._types.keys():
            return
        read_at = data["types_at"]
        if read_at is not None and now.timestamp() - read_at < TYPES_REFRESH.total_seconds():
            return
        if self._budget.calls_available_now() - RESERVED_CALLS < 1:
            return  # the names follow in a later round
        data["types_at"] = int(now.timestamp())
        try:
            types = await self._client.async_get_event_types()
        except EnphaseRateLimited, EnphaseAuthError:
            raise
        except EnphaseError as err:
            LOGGER.warning("Enphase's event types could not be read: %s", err)
            return
        self._types.update({t.event_type_id: t for t in types})
        data["types"] = {
            str(t.event_type_id): {
                "key": t.key,
                "name": t.name,
                "description": t.description,
                "recommended_action": t.recommended_action,
                "stateful": t.stateful,
            }
            for t in self._types.values()
        }

    def _names(self, event_type_id: int) -> tuple[str, str, str | None, str | None]:
        kind = self._types.get(event_type_id)
        if kind is None:
            return str(event_type_id), f"Event type {event_type_id}", None, None
        return (
            kind.key or str(event_type_id),
            kind.name or kind.key or f"Event type {event_type_id}",
            kind.description,
            kind.recommended_action,
        )

    def _describe_event(self, event: SystemEvent) -> HealthEvent:
        key, name, description, _ = self._names(event.event_type_id)
        return HealthEvent(
            key=event.key,
            event_type_id=event.event_type_id,
            type=key,
            name=name,
            description=description,
            status=event.status.value,
            started_at=event.started_at,
            ended_at=event.ended_at,
        )

    def _describe_alarm(self, alarm: Alarm) -> HealthAlarm:
        key, name, description, action = self._names(alarm.event_type_id)
        return HealthAlarm(
            alarm_id=alarm.alarm_id,
            event_type_id=alarm.event_type_id,
            type=key,
            name=name,
            description=description,
            recommended_action=action,
            severity=alarm.severity,
            since=alarm.started_at,
        )

    def _sync_issues(
        self,
        snapshot: SystemSnapshot,
        alarms: tuple[HealthAlarm, ...],
        now: datetime,
        stored: _SystemStore,
    ) -> None:
        """Raise a repair for each alarm open over a day; remove those whose alarm cleared.

        The issue registry keeps a dismissal while the issue exists, so raising it
        again each poll never brings back one the user dismissed.
        """
        system_id = snapshot.system_id
        wanted: set[str] = set()
        for alarm in alarms:
            if now - alarm.since < REPAIR_AFTER:
                continue
            issue = issue_id(system_id, alarm.alarm_id)
            wanted.add(issue)
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                issue,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="alarm_open",
                translation_placeholders={
                    "system": snapshot.system.name or str(system_id),
                    "name": alarm.name,
                    "since": dt_util.as_local(alarm.since).strftime("%Y-%m-%d %H:%M"),
                    "action": alarm.recommended_action or "-",
                },
            )
        for issue in set(stored["issues"]) - wanted:
            ir.async_delete_issue(self._hass, DOMAIN, issue)
        stored["issues"] = sorted(wanted)
