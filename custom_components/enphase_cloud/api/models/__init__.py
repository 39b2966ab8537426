"""Data models of the Enphase Enlighten API v4 answers.

Every model is a frozen, slotted, keyword-only dataclass built by its
`from_dict` class method, which parses tolerantly:

- unknown extra fields are ignored;
- a missing, null or wrongly typed REQUIRED field raises `EnphaseResponseError`
  (never a bare KeyError, TypeError or ValueError);
- an OPTIONAL scalar field that is missing, null or of an unexpected type is
  None; an optional list that is missing or null is empty, but a list field of
  the wrong type (or an entry that is not an object) is a broken answer and
  raises;
- epoch seconds become aware UTC datetimes (ISO 8601 text is accepted too);
- numbers given as floats are rounded to int; booleans are never numbers.

Error messages name the answer and the field, never a value (values may be
serial numbers or addresses).

One model family per module, parsing helpers in `parsing`.
"""

from __future__ import annotations

from .config import (
    AnyBatteryMode,
    BatteryMode,
    BatterySettings,
    GridStatus,
    StormGuard,
    known_mode,
    mode_from_key,
    mode_key,
)
from .devices import (
    DEVICE_KIND_ENCHARGE,
    DEVICE_KIND_ENPOWER,
    DEVICE_KIND_GATEWAY,
    DEVICE_KIND_METER,
    DEVICE_KIND_MICRO,
    Device,
    Devices,
)
from .ev_charger import (
    ChargerState,
    EvCharger,
    EvChargers,
    EvEvent,
    EvEvents,
    EvLifetime,
    EvSchedule,
    EvScheduleList,
    EvSchedules,
    EvSession,
    EvSessions,
    ev_telemetry_from_dict,
)
from .system import (
    Address,
    Summary,
    System,
    SystemsPage,
)
from .telemetry import (
    BatteryActivity,
    BatteryInterval,
    BatteryReading,
    BatteryTelemetry,
    EnergyField,
    EnergyInterval,
    EnergyTelemetry,
    Granularity,
    LatestTelemetry,
    MeterReading,
)

__all__ = [
    "DEVICE_KIND_ENCHARGE",
    "DEVICE_KIND_ENPOWER",
    "DEVICE_KIND_GATEWAY",
    "DEVICE_KIND_METER",
    "DEVICE_KIND_MICRO",
    "Address",
    "AnyBatteryMode",
    "BatteryActivity",
    "BatteryInterval",
    "BatteryMode",
    "BatteryReading",
    "BatterySettings",
    "BatteryTelemetry",
    "ChargerState",
    "Device",
    "Devices",
    "EnergyField",
    "EnergyInterval",
    "EnergyTelemetry",
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
    "Granularity",
    "GridStatus",
    "LatestTelemetry",
    "MeterReading",
    "StormGuard",
    "Summary",
    "System",
    "SystemsPage",
    "ev_telemetry_from_dict",
    "known_mode",
    "mode_from_key",
    "mode_key",
]
