"""IQ EV Charger monitoring: chargers, events, sessions, schedules, daily and interval energy.

Shapes: `ChargerSummaryResponse`, `EVEventsResponse`, `ChargeSessionDetailsResponse`,
`SchedulesBodyResponse`, `EVEnergyResponse` and `EVIntervalEnergyResponse` of Enphase's
v4 spec. A charger's serial number is needed to address it, so the model keeps it;
it is a secret of the homeowner's like every serial and never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Self

from ..errors import EnphaseResponseError
from .parsing import (
    as_date,
    as_int,
    as_list,
    mapping,
    opt_bool,
    opt_datetime,
    opt_int,
    opt_list,
    opt_str,
    req_datetime,
    req_int,
    req_str,
    required,
)
from .telemetry import EnergyInterval, EnergyTelemetry

_QUARTER = timedelta(minutes=15)


class ChargerState(StrEnum):
    """What a charger's latest event says it is doing."""

    CHARGING = "charging"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


# Lower-case fragments of event texts, the more specific first. "Charging started
# on IQ EV Charger (SNo. …)." is Enphase's documented example; the others are
# UNCONFIRMED spellings, so several are accepted.
_STATE_WORDS: tuple[tuple[str, ChargerState], ...] = (
    ("disconnected", ChargerState.DISCONNECTED),
    ("unplugged", ChargerState.DISCONNECTED),
    ("charging started", ChargerState.CHARGING),
    ("charging resumed", ChargerState.CHARGING),
    ("charging stopped", ChargerState.CONNECTED),
    ("charging paused", ChargerState.CONNECTED),
    ("charging complete", ChargerState.CONNECTED),
    ("connected", ChargerState.CONNECTED),
    ("plugged in", ChargerState.CONNECTED),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvCharger:
    """One active IQ EV Charger (`ChargerSummary`)."""

    serial_number: str
    device_id: str | None = None
    """Enphase's id, documented as "<serial>:<system_id>": as secret as the serial."""
    name: str | None = None
    model: str | None = None
    sku: str | None = None
    part_number: str | None = None
    firmware: str | None = None
    status: str | None = None
    last_report_at: datetime | None = None
    active: bool | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one charger; `serial_number` is required (it addresses the charger)."""
        what = "ev_charger.devices[]"
        data = mapping(data, what)
        serial = data.get("serial_number")
        if isinstance(serial, int) and not isinstance(serial, bool):
            serial = str(serial)
        return cls(
            serial_number=req_str({"serial_number": serial}, "serial_number", what),
            device_id=None if data.get("id") is None else str(data.get("id")),
            name=opt_str(data, "name"),
            model=opt_str(data, "model"),
            sku=opt_str(data, "sku"),
            part_number=opt_str(data, "part_number"),
            firmware=opt_str(data, "firmware"),
            status=opt_str(data, "status"),
            last_report_at=opt_datetime(data, "last_report_at"),
            active=opt_bool(data, "active"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EvChargers:
    """The active chargers of a system (`/ev_charger/devices`)."""

    system_id: int | None
    chargers: tuple[EvCharger, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the answer; no `ev_chargers` group means no charger."""
        what = "ev_charger.devices"
        data = mapping(data, what)
        groups = data.get("devices")
        listed: list[object] = []
        if groups is not None:
            listed = list(opt_list(mapping(groups, f"{what}.devices"), "ev_chargers", what))
        chargers = [EvCharger.from_dict(item) for item in listed]
        return cls(
            system_id=opt_int(data, "system_id"),
            chargers=tuple(c for c in chargers if c.active is not False),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EvEvent:
    """One charger event (`EventDetail`); `details` names the charger by serial."""

    status: str | None
    triggered_at: datetime
    cleared_at: datetime | None
    details: str

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one event; `triggered_date` and `details` are required."""
        what = "ev_charger.events[]"
        data = mapping(data, what)
        return cls(
            status=opt_str(data, "status"),
            triggered_at=req_datetime(data, "triggered_date", what),
            cleared_at=opt_datetime(data, "cleared_date"),
            details=req_str(data, "details", what),
        )

    def about(self, serial: str) -> bool:
        """Return whether the event concerns the charger with `serial`."""
        return serial in self.details

    @property
    def state(self) -> ChargerState | None:
        """Return the charger state the event announces, if it announces one."""
        text = self.details.lower()
        return next((state for words, state in _STATE_WORDS if words in text), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvEvents:
    """A page of a system's charger events, newest first."""

    events: tuple[EvEvent, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the answer; the events are sorted newest first whatever the server's order."""
        what = "ev_charger.events"
        data = mapping(data, what)
        events = [EvEvent.from_dict(item) for item in opt_list(data, "events", what)]
        return cls(events=tuple(sorted(events, key=lambda e: e.triggered_at, reverse=True)))

    def latest_state(self, serial: str) -> ChargerState | None:
        """Return the state the newest event about `serial` announces."""
        for event in self.events:
            if event.about(serial) and (state := event.state) is not None:
                return state
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSession:
    """One charging session (`ChargeSessionDetail`); `end_at` None while it runs.

    A running session with `end_time` null is UNCONFIRMED (the spec marks the field
    required): when Enphase lists only finished sessions, the newest is the last one.
    """

    start_at: datetime
    end_at: datetime | None
    energy_wh: float
    duration_s: int | None = None
    charge_time_s: int | None = None
    miles_added: float | None = None
    cost: float | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one session; `start_time` and `energy_added` are required."""
        what = "ev_charger.sessions[]"
        data = mapping(data, what)
        energy = required(data, "energy_added", what, _as_float, "a number")
        if energy < 0:
            msg = f"{what}: field 'energy_added' is negative"
            raise EnphaseResponseError(msg)
        end = data.get("end_time")
        return cls(
            start_at=req_datetime(data, "start_time", what),
            # 0 as "not yet" is seen in other Enphase answers; treat it like null.
            end_at=None if end in (None, 0) else opt_datetime(data, "end_time"),
            energy_wh=energy,
            duration_s=opt_int(data, "duration"),
            charge_time_s=opt_int(data, "charge_time"),
            miles_added=_as_float(data.get("miles_added")),
            cost=_as_float(data.get("cost")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSessions:
    """A page of a charger's sessions, newest first."""

    sessions: tuple[EvSession, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the answer; sorted newest first whatever the server's order."""
        what = "ev_charger.sessions"
        data = mapping(data, what)
        sessions = [EvSession.from_dict(item) for item in opt_list(data, "sessions", what)]
        return cls(sessions=tuple(sorted(sessions, key=lambda s: s.start_at, reverse=True)))

    @property
    def latest(self) -> EvSession | None:
        """Return the running or, failing that, the last session."""
        return self.sessions[0] if self.sessions else None


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSchedule:
    """One schedule entry: days (1-7), local start and end ("H:MM"), charging level."""

    days: tuple[int, ...]
    start_time: str | None
    end_time: str | None
    charging_level: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EvScheduleList:
    """One of a charger's schedule lists (`ScheduleList`)."""

    type: str | None
    active: bool | None
    schedules: tuple[EvSchedule, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EvSchedules:
    """A charger's schedules (`SchedulesBodyResponse`)."""

    lists: tuple[EvScheduleList, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the answer; missing lists are empty."""
        what = "ev_charger.schedules"
        data = mapping(data, what)
        lists = []
        for item in opt_list(data, "charger_schedules", what):
            entry = mapping(item, f"{what}.charger_schedules[]")
            schedules = []
            for raw in opt_list(entry, "schedules", what):
                schedule = mapping(raw, f"{what}.schedules[]")
                days = [as_int(d) for d in opt_list(schedule, "days", what)]
                schedules.append(
                    EvSchedule(
                        days=tuple(d for d in days if d is not None),
                        start_time=opt_str(schedule, "start_time"),
                        end_time=opt_str(schedule, "end_time"),
                        charging_level=opt_int(schedule, "charging_level"),
                    )
                )
            lists.append(
                EvScheduleList(
                    type=opt_str(entry, "type"),
                    active=opt_bool(entry, "is_active"),
                    schedules=tuple(schedules),
                )
            )
        return cls(lists=tuple(lists))


@dataclass(frozen=True, slots=True, kw_only=True)
class EvLifetime:
    """A charger's Wh per day from `start_date` (`EVEnergyResponse`)."""

    start_date: date
    daily_wh: tuple[int, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the answer; `start_date` is required, every day a non-negative integer."""
        what = "ev_charger.lifetime"
        data = mapping(data, what)
        start = required(data, "start_date", what, _as_any_date, "a date")
        days = []
        for value in required(data, "consumption", what, as_list, "a list"):
            wh = as_int(value)
            if wh is None or wh < 0:
                msg = f"{what}: a day is not a non-negative number"
                raise EnphaseResponseError(msg)
            days.append(wh)
        return cls(start_date=start, daily_wh=tuple(days))

    @property
    def total_wh(self) -> int:
        """Return the energy of every day of the answer."""
        return sum(self.daily_wh)


def ev_telemetry_from_dict(data: object, requested_start: datetime | None) -> EnergyTelemetry:
    """Parse `EVIntervalEnergyResponse` into the interval model the other streams use.

    Its intervals are `consumption: [{consumption, end_at}]`; the window is echoed
    as `start_at`/`end_at` (or as dates when dates were asked for, then the first
    interval and the request tell it).
    """
    what = "ev_charger.telemetry"
    data = mapping(data, what)
    rows = required(data, "consumption", what, as_list, "a list")
    intervals = sorted(
        (
            EnergyInterval.from_dict(mapping(row, f"{what}.consumption[]"), "consumption", what)
            for row in rows
        ),
        key=lambda interval: interval.end_at,
    )
    if any(interval.wh < 0 for interval in intervals):
        msg = f"{what}: an interval has negative energy"
        raise EnphaseResponseError(msg)
    start = opt_datetime(data, "start_at") or requested_start
    if start is None:
        start = (
            intervals[0].end_at - _QUARTER if intervals else req_datetime(data, "start_at", what)
        )
    end = opt_datetime(data, "end_at") or (intervals[-1].end_at if intervals else start)
    return EnergyTelemetry(
        system_id=req_int(data, "system_id", what),
        granularity=opt_str(data, "granularity") or "day",
        start_at=start,
        end_at=end,
        intervals=tuple(intervals),
    )


def _as_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _as_any_date(value: object) -> date | None:
    """Return the date of "YYYY-MM-DD" or "YYYYMMDD" text."""
    if isinstance(value, str) and len(value) == 8 and value.isdigit():  # noqa: PLR2004
        value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return as_date(value)


__all__ = [
    "ChargerState",
    "EvCharger",
    "EvChargers",
    "EvEvent",
    "EvEvents",
    "EvLifetime",
    "EvSchedule",
    "EvScheduleList",
    "EvSchedules",
    "EvSession",
    "EvSessions",
    "ev_telemetry_from_dict",
]
