"""System health: events, alarms and event types (every plan, Watt included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
import hashlib
from typing import TYPE_CHECKING, Any, Self

from .parsing import (
    as_bool,
    as_int,
    mapping,
    normalise,
    opt_bool,
    opt_datetime,
    opt_int,
    opt_list,
    opt_str,
    req_datetime,
    req_int,
    required,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


class EventStatus(StrEnum):
    """Lifecycle of an event: transient ones are Info, stateful ones Open then Closed."""

    INFO = "info"
    OPEN = "open"
    CLOSED = "closed"


def _status(data: Mapping[str, Any]) -> EventStatus:
    """Return the status; an unknown or missing one follows `event_end_time`."""
    raw = opt_str(data, "status")
    if raw is not None and normalise(raw) in EventStatus._value2member_map_:
        return EventStatus(normalise(raw))
    return EventStatus.OPEN if data.get("event_end_time") is None else EventStatus.CLOSED


def _id_text(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    number = as_int(value)
    return None if number is None else str(number)


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemEvent:
    """One event of `/systems/{id}/events`."""

    event_type_id: int
    status: EventStatus
    started_at: datetime
    ended_at: datetime | None = None
    serial_number: str | None = None

    @property
    def key(self) -> str:
        """Return an identity that stays the same while the event opens and closes.

        Enphase gives events no id: type, start and device name one event. The
        device is a hash of its serial number, so the key can be stored and shown.
        """
        device = (
            hashlib.sha256(self.serial_number.encode()).hexdigest()[:10]
            if self.serial_number
            else ""
        )
        return f"{self.event_type_id}:{int(self.started_at.timestamp())}:{device}"

    @property
    def is_open(self) -> bool:
        """Return whether the event has not ended (transient events never are)."""
        return self.status is EventStatus.OPEN

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one event entry."""
        what = "events[]"
        data = mapping(data, what)
        return cls(
            event_type_id=req_int(data, "event_type_id", what),
            status=_status(data),
            started_at=req_datetime(data, "event_start_time", what),
            ended_at=opt_datetime(data, "event_end_time"),
            serial_number=_id_text(data.get("serial_number")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemEvents:
    """`/systems/{id}/events`: the events of one window."""

    system_id: int | None
    events: tuple[SystemEvent, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the events answer; a missing list is empty."""
        what = "events"
        data = mapping(data, what)
        return cls(
            system_id=opt_int(data, "system_id"),
            events=tuple(SystemEvent.from_dict(e) for e in opt_list(data, "events", what)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    """One alarm of `/systems/{id}/alarms`: one or more events escalated by Enphase."""

    alarm_id: str
    event_type_id: int
    cleared: bool
    started_at: datetime
    ended_at: datetime | None = None
    severity: int | None = None
    """FATAL 1, ERROR 2, WARNING 3, INFO 4, DEBUG 5, NONE 6."""
    devices: int = 0
    """How many devices the alarm concerns (their serials are not kept)."""

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one alarm; `cleared` missing follows `alarm_end_time`."""
        what = "alarms[]"
        data = mapping(data, what)
        ended_at = opt_datetime(data, "alarm_end_time")
        cleared = opt_bool(data, "cleared")
        return cls(
            alarm_id=required(data, "id", what, _id_text, "an id"),
            event_type_id=req_int(data, "event_type_id", what),
            cleared=(ended_at is not None) if cleared is None else cleared,
            started_at=req_datetime(data, "alarm_start_time", what),
            ended_at=ended_at,
            severity=opt_int(data, "severity"),
            devices=sum(1 for e in opt_list(data, "events", what) if isinstance(e, dict)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarms:
    """`/systems/{id}/alarms`: the active (or cleared) alarms of one window."""

    system_id: int | None
    alarms: tuple[Alarm, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the alarms answer; a missing list is empty."""
        what = "alarms"
        data = mapping(data, what)
        return cls(
            system_id=opt_int(data, "system_id"),
            alarms=tuple(Alarm.from_dict(a) for a in opt_list(data, "alarms", what)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EventType:
    """One entry of `/systems/event_types`: Enphase's name, description and advice."""

    event_type_id: int
    key: str | None = None
    name: str | None = None
    description: str | None = None
    recommended_action: str | None = None
    stateful: bool | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one event type."""
        what = "event_types[]"
        data = mapping(data, what)
        return cls(
            event_type_id=req_int(data, "event_type_id", what),
            key=opt_str(data, "event_type_key"),
            name=opt_str(data, "event_name"),
            description=opt_str(data, "event_description"),
            recommended_action=opt_str(data, "recommended_action"),
            stateful=as_bool(data.get("stateful")),
        )

    @classmethod
    def list_from_dict(cls, data: object) -> tuple[Self, ...]:
        """Parse the `/systems/event_types` answer."""
        what = "event_types"
        data = mapping(data, what)
        return tuple(cls.from_dict(t) for t in opt_list(data, "event_types", what))
