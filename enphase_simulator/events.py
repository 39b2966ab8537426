"""Events, alarms and grid-services events of the simulated systems.

Events come from what the simulator already models, so they open and clear
with it: a gateway outage ("Gateway not reporting", once the cloud has missed
uploads for as long as it takes the system status to turn "comm"), a grid
outage (`set_grid`), and conditions injected through `HealthModel.inject` or
`/_sim/systems/{id}/events` (battery low state of charge, a microinverter
fault, any other catalogued type). A grid-services (demand response) event is
scheduled with `schedule_grid_event` and shows as an open event of its type
while it runs.

An alarm is one event escalated by its type's rule: open for `alarm_after`
seconds. Enphase may tie one alarm to several events; the simulator ties each
alarm to one event (the spec allows both).

UNCONFIRMED (no source settles them; documented in the README):
- event type ids, keys and texts other than 28 (envoy_no_report) and 4781
  (acb_sleeping), and every escalation delay and severity;
- whether `start_time`/`end_time` select items that STARTED in the window or
  that were OPEN during it: the simulator lists those open at any time in it;
- how Enphase shows a grid-services event: here as an open event of type
  `grid_services_event` while it runs, nothing before it starts, and no change
  to `battery_settings` (the spec's battery modes have no such value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .gateway import COMM_AFTER_S
from .rng import mix

if TYPE_CHECKING:
    from .simulator import Simulator
    from .system import SystemRuntime


@dataclass(frozen=True, slots=True, kw_only=True)
class EventType:
    """One entry of `/systems/event_types`, with the simulator's escalation rule."""

    event_type_id: int
    key: str
    name: str
    description: str
    recommended_action: str
    stateful: bool = True
    alarm_after: int | None = None
    """Seconds an event stays open before it raises an alarm (None: never)."""
    severity: int = 3
    device: str = "gateway"
    """Whose serial the event carries: gateway, micro, encharge (site: none)."""


GATEWAY_NOT_REPORTING: Final = "envoy_no_report"
GRID_OUTAGE: Final = "grid_outage"
BATTERY_LOW: Final = "battery_low_soc"
MICRO_FAULT: Final = "micro_not_producing"
GRID_SERVICES: Final = "grid_services_event"
ACB_SLEEPING: Final = "acb_sleeping"

EVENT_TYPES: Final[tuple[EventType, ...]] = (
    # 28 and 4781 are the spec's examples, word for word.
    EventType(
        event_type_id=28,
        key=GATEWAY_NOT_REPORTING,
        name="Gateway not reporting",
        description="The broadband Internet connection that the Enphase gateway uses to "
        "communicate to the Enphase servers is experiencing a problem.",
        recommended_action="Check that your gateway and Internet router are plugged in and "
        "that the site's Internet service is not experiencing an outage.",
        alarm_after=4 * 3600,
        severity=2,
    ),
    EventType(
        event_type_id=4781,
        key=ACB_SLEEPING,
        name="AC Battery Sleeping",
        description="AC Battery has entered the target state of charge band. Cleared when "
        "the battery exits the state of charge target, or sleep mode is removed.",
        recommended_action="No action is required.",
        stateful=False,
        severity=4,
        device="encharge",
    ),
    EventType(
        event_type_id=5101,
        key=GRID_OUTAGE,
        name="Grid outage",
        description="The utility grid is not available; the site runs from its battery "
        "and solar if it can.",
        recommended_action="No action is required. Contact your utility if the outage lasts.",
        alarm_after=0,
        severity=3,
    ),
    EventType(
        event_type_id=5102,
        key=BATTERY_LOW,
        name="Battery low state of charge",
        description="The battery's state of charge has dropped below its low threshold.",
        recommended_action="Reduce the load or raise the battery reserve; if it persists, "
        "contact your installer.",
        alarm_after=3600,
        severity=3,
        device="encharge",
    ),
    EventType(
        event_type_id=5103,
        key=MICRO_FAULT,
        name="Microinverter not producing",
        description="A microinverter has stopped producing power.",
        recommended_action="Contact your installer to check the microinverter.",
        alarm_after=3600,
        severity=2,
        device="micro",
    ),
    EventType(
        event_type_id=5104,
        key=GRID_SERVICES,
        name="Grid services event",
        description="The battery takes part in a grid services (demand response) event of "
        "the program the system is enrolled in.",
        recommended_action="No action is required. Battery settings changes wait until the "
        "event ends.",
        severity=4,
        device="site",
    ),
)
TYPES_BY_KEY: Final = {t.key: t for t in EVENT_TYPES}
TYPES_BY_ID: Final = {t.event_type_id: t for t in EVENT_TYPES}
INJECTABLE: Final = frozenset({BATTERY_LOW, MICRO_FAULT, ACB_SLEEPING})


@dataclass(slots=True)
class Condition:
    """An injected condition or a grid-services event: from `start` until `end`."""

    key: str
    start: int
    end: int | None = None
    device: int = 0
    """Which device of its kind (battery or micro index)."""

    def to_json(self) -> dict[str, Any]:
        """Return the condition as the admin API and the state file show it."""
        return {"type": self.key, "start": self.start, "end": self.end, "device": self.device}


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One event as the cloud knows it."""

    type: EventType
    start: int
    end: int | None
    serial: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the event as `/systems/{id}/events` lists it."""
        body: dict[str, Any] = {
            "status": "Info"
            if not self.type.stateful
            else "Open"
            if self.end is None
            else "Closed",
            "event_type_id": self.type.event_type_id,
            "event_start_time": self.start,
            "event_end_time": self.end,
        }
        if self.serial is not None:
            body["serial_number"] = self.serial
        return body


def serial_of(runtime: SystemRuntime, device: str, index: int) -> str | None:
    """Return the serial number of a device, spelled as `/devices` does."""
    kind = {"micro": 1, "gateway": 2, "encharge": 3}.get(device)
    if kind is None:
        return None
    return f"12{kind}2{runtime.spec.system_id:05d}{index:03d}"


def _overlaps(start: int, end: int | None, first: int, last: int) -> bool:
    return start <= last and (end is None or end >= first)


class HealthModel:
    """Python control and bookkeeping of the conditions of every system."""

    def __init__(self, sim: Simulator) -> None:
        """Start with no injected condition and no grid-services event."""
        self._sim = sim
        self.conditions: dict[int, list[Condition]] = {}

    def _list(self, system_id: int) -> list[Condition]:
        self._sim.system(system_id)  # UnknownError for a system that does not exist
        return self.conditions.setdefault(system_id, [])

    def inject(
        self, system_id: int, key: str, *, at: int | None = None, device: int = 0
    ) -> Condition:
        """Open an injected condition (battery low, micro fault...) from `at` (default now).

        A transient type (acb_sleeping) is an Info event at that instant.
        """
        if key not in INJECTABLE:
            msg = f"type must be one of {sorted(INJECTABLE)}"
            raise ValueError(msg)
        conditions = self._list(system_id)
        now = self._sim.now_ts() if at is None else at
        running = next(
            (c for c in conditions if c.key == key and c.device == device and c.end is None), None
        )
        if running is not None:
            return running
        condition = Condition(key, now, None if TYPES_BY_KEY[key].stateful else now, device)
        conditions.append(condition)
        self._sim.mark_dirty()
        return condition

    def clear(
        self, system_id: int, key: str, *, at: int | None = None, device: int = 0
    ) -> Condition | None:
        """Close the open injected condition `key` of `device`; None when none is open."""
        running = next(
            (
                c
                for c in self._list(system_id)
                if c.key == key and c.device == device and c.end is None
            ),
            None,
        )
        if running is not None:
            running.end = max(running.start, self._sim.now_ts() if at is None else at)
            self._sim.mark_dirty()
        return running

    def schedule_grid_event(self, system_id: int, start: int, end: int | None) -> Condition:
        """Schedule a grid-services event on a system: the battery is taken over in it."""
        if end is not None and end <= start:
            msg = "end must be after start"
            raise ValueError(msg)
        condition = Condition(GRID_SERVICES, start, end)
        self._list(system_id).append(condition)
        self._sim.mark_dirty()
        return condition

    def end_grid_event(self, system_id: int, at: int | None = None) -> Condition | None:
        """End the running grid-services event now (or cancel the next scheduled one)."""
        now = self._sim.now_ts() if at is None else at
        pending = [
            c
            for c in self._list(system_id)
            if c.key == GRID_SERVICES and (c.end is None or c.end > now)
        ]
        if not pending:
            return None
        chosen = min(pending, key=lambda c: c.start)
        if chosen.start > now:
            self._list(system_id).remove(chosen)
        else:
            chosen.end = now
        self._sim.mark_dirty()
        return chosen

    def grid_event_active(self, system_id: int, now: int | None = None) -> bool:
        """Return whether a grid-services event has the battery of `system_id` now."""
        moment = self._sim.now_ts() if now is None else now
        return any(
            c.key == GRID_SERVICES and c.start <= moment and (c.end is None or moment < c.end)
            for c in self._list(system_id)
        )

    def occurrences(self, system_id: int, now: int | None = None) -> list[Occurrence]:
        """Return every event of the system known to the cloud at `now`, oldest first."""
        moment = self._sim.now_ts() if now is None else now
        runtime = self._sim.system(system_id)
        found = self._gateway_events(runtime, moment) + self._grid_events(runtime, moment)
        for condition in self._list(system_id):
            if condition.start > moment:
                continue  # scheduled, not happened yet
            kind = TYPES_BY_KEY[condition.key]
            end = condition.end if condition.end is not None and condition.end <= moment else None
            found.append(
                Occurrence(
                    kind, condition.start, end, serial_of(runtime, kind.device, condition.device)
                )
            )
        return sorted(found, key=lambda o: (o.start, o.type.event_type_id))

    @staticmethod
    def _gateway_events(runtime: SystemRuntime, now: int) -> list[Occurrence]:
        kind = TYPES_BY_KEY[GATEWAY_NOT_REPORTING]
        # The cloud notices a silent gateway when the system status turns "comm".
        notice = max(COMM_AFTER_S, 2 * runtime.gateway.period)
        found = []
        for outage in runtime.gateway.outages:
            start = outage.start + notice
            if start > now or (outage.end is not None and outage.end <= start):
                continue
            end = outage.end if outage.end is not None and outage.end <= now else None
            found.append(Occurrence(kind, start, end, serial_of(runtime, "gateway", 0)))
        return found

    @staticmethod
    def _grid_events(runtime: SystemRuntime, now: int) -> list[Occurrence]:
        kind = TYPES_BY_KEY[GRID_OUTAGE]
        found: list[Occurrence] = []
        began: int | None = None
        for change in runtime.timeline.changes:
            if change.effective_at > now or "grid_on" not in change.values:
                continue
            if not change.values["grid_on"] and began is None:
                began = change.effective_at
            elif change.values["grid_on"] and began is not None:
                found.append(
                    Occurrence(kind, began, change.effective_at, serial_of(runtime, "gateway", 0))
                )
                began = None
        if began is not None:
            found.append(Occurrence(kind, began, None, serial_of(runtime, "gateway", 0)))
        return found

    def events(self, system_id: int, first: int, last: int) -> list[dict[str, Any]]:
        """Return the events open at any time in `[first, last]`, as the API lists them."""
        return [
            o.to_json()
            for o in self.occurrences(system_id)
            if _overlaps(o.start, o.end, first, last)
        ]

    def alarms(
        self, system_id: int, first: int, last: int, *, cleared: bool
    ) -> list[dict[str, Any]]:
        """Return the alarms in `[first, last]`: active ones, or cleared ones when `cleared`."""
        now = self._sim.now_ts()
        listed = []
        for o in self.occurrences(system_id, now):
            after = o.type.alarm_after
            if after is None or not o.type.stateful:
                continue
            start = o.start + after
            if start > (now if o.end is None else o.end):
                continue  # not open long enough to escalate
            if (o.end is not None) != cleared or not _overlaps(start, o.end, first, last):
                continue
            listed.append(
                {
                    "id": str(mix(system_id, o.type.event_type_id, o.start) % 10**10),
                    "event_type_id": o.type.event_type_id,
                    "cleared": o.end is not None,
                    "alarm_start_time": start,
                    "alarm_end_time": o.end,
                    "severity": o.type.severity,
                    "events": [
                        {
                            **({"serial_number": o.serial} if o.serial else {}),
                            "start_date": o.start,
                            "end_date": o.end,
                        }
                    ],
                }
            )
        return listed

    def state(self, system_id: int) -> dict[str, Any]:
        """Return the admin view: conditions, grid-services event, open events and alarms."""
        now = self._sim.now_ts()
        return {
            "system_id": system_id,
            "now": now,
            "conditions": [c.to_json() for c in self._list(system_id)],
            "grid_services_event_active": self.grid_event_active(system_id, now),
            "open_events": [
                o.to_json()
                for o in self.occurrences(system_id, now)
                if o.end is None and o.type.stateful
            ],
            "active_alarms": self.alarms(system_id, 0, now, cleared=False),
        }

    def to_json(self) -> dict[str, Any]:
        """Return what the state file keeps."""
        return {str(k): [c.to_json() for c in v] for k, v in self.conditions.items() if v}

    def load_json(self, data: dict[str, Any]) -> None:
        """Restore what `to_json` saved."""
        self.conditions = {
            int(k): [Condition(c["type"], c["start"], c["end"], c["device"]) for c in v]
            for k, v in data.items()
        }
