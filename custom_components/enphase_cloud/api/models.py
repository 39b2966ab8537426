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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
import math
import re
from typing import Any, Final, Self

from .errors import EnphaseResponseError

# --------------------------------------------------------------------------- helpers


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        msg = f"{what}: expected an object, got {_type_name(value)}"
        raise EnphaseResponseError(msg)
    return value


def _missing(what: str, key: str) -> EnphaseResponseError:
    return EnphaseResponseError(f"{what}: required field {key!r} is missing or null")


def _wrong_type(what: str, key: str, value: object, expected: str) -> EnphaseResponseError:
    return EnphaseResponseError(
        f"{what}: field {key!r} should be {expected}, got {_type_name(value)}"
    )


def _as_int(value: object) -> int | None:
    """Return an int for an int or finite float (rounded); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return round(value)
    return None


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _as_mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _as_list(value: object) -> list[object] | None:
    return value if isinstance(value, list) else None


def _as_datetime(value: object) -> datetime | None:
    """Return an aware UTC datetime for epoch seconds or ISO 8601 text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except OverflowError, OSError, ValueError:
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return None


def _as_date(value: object) -> date | None:
    """Return the date of "YYYY-MM-DD" text (a time part after it is ignored)."""
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


_TRUE_WORDS: Final = frozenset({"enabled", "enable", "true", "on", "yes", "active", "1"})
_FALSE_WORDS: Final = frozenset({"disabled", "disable", "false", "off", "no", "inactive", "0"})


def _as_bool(value: object) -> bool | None:
    """Return a bool for true/false or "enabled"/"disabled"-like text.

    Only the first word counts, so "Enabled (Inactive)" is True.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and (words := re.findall(r"[a-z0-9]+", value.lower())):
        if words[0] in _TRUE_WORDS:
            return True
        if words[0] in _FALSE_WORDS:
            return False
    return None


def _as_percent(value: object) -> int | None:
    """Return an int for 97, 97.0, "97" or "97%"."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", value)
        return round(float(match.group(1))) if match else None
    return _as_int(value)


def _required[T](
    data: Mapping[str, Any],
    key: str,
    what: str,
    convert: Callable[[object], T | None],
    expected: str,
) -> T:
    value = data.get(key)
    if value is None:
        raise _missing(what, key)
    result = convert(value)
    if result is None:
        raise _wrong_type(what, key, value, expected)
    return result


def _req_int(data: Mapping[str, Any], key: str, what: str) -> int:
    return _required(data, key, what, _as_int, "an integer")


def _req_str(data: Mapping[str, Any], key: str, what: str) -> str:
    return _required(data, key, what, _as_str, "a string")


def _req_datetime(data: Mapping[str, Any], key: str, what: str) -> datetime:
    return _required(data, key, what, _as_datetime, "epoch seconds")


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    return _as_int(data.get(key))


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    return _as_str(data.get(key))


def _opt_datetime(data: Mapping[str, Any], key: str) -> datetime | None:
    return _as_datetime(data.get(key))


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    return _as_bool(data.get(key))


def _list(data: Mapping[str, Any], key: str, what: str) -> Sequence[object]:
    """Return an optional list field: missing or null is empty, another type raises."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong_type(what, key, value, "a list")
    return value


def _interval_objects(data: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    """Return the required `intervals`, flattening an array of arrays (import/export)."""
    flat: list[Mapping[str, Any]] = []
    for item in _required(data, "intervals", what, _as_list, "a list"):
        if isinstance(item, list):
            flat.extend(_mapping(inner, f"{what}.intervals[][]") for inner in item)
        else:
            flat.append(_mapping(item, f"{what}.intervals[]"))
    return flat


def _meta_last_report(data: Mapping[str, Any]) -> datetime | None:
    meta = data.get("meta")
    return _opt_datetime(meta, "last_report_at") if isinstance(meta, Mapping) else None


# --------------------------------------------------------------------------- enums


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


class BatteryMode(StrEnum):
    """Battery profile; the server spells it in several ways, normalise with `parse`."""

    SELF_CONSUMPTION = "self_consumption"
    SAVINGS = "savings"
    FULL_BACKUP = "full_backup"

    @classmethod
    def parse(cls, text: object) -> BatteryMode:
        """Return the mode for any server spelling ("Self - Consumption", "savings-mode", ...).

        Raises EnphaseResponseError for anything else.
        """
        if (mode := _as_mode(text)) is not None:
            return mode
        msg = "Unknown battery mode in the answer"
        raise EnphaseResponseError(msg)

    @property
    def api_value(self) -> str:
        """Return the spelling the battery_settings PUT expects."""
        return _MODE_API_VALUES[self]


_MODE_ALIASES: Final[dict[str, BatteryMode]] = {
    "selfconsumption": BatteryMode.SELF_CONSUMPTION,
    "selfconsumptionmode": BatteryMode.SELF_CONSUMPTION,
    "savings": BatteryMode.SAVINGS,
    "savingsmode": BatteryMode.SAVINGS,
    "costsavings": BatteryMode.SAVINGS,
    "costsavingsmode": BatteryMode.SAVINGS,
    "fullbackup": BatteryMode.FULL_BACKUP,
    "fullbackupmode": BatteryMode.FULL_BACKUP,
    "backuponly": BatteryMode.FULL_BACKUP,
}


def _as_mode(value: object) -> BatteryMode | None:
    """Return the battery mode for any known spelling, None for anything else."""
    return _MODE_ALIASES.get(_normalise(value)) if isinstance(value, str) else None


_MODE_API_VALUES: Final[dict[BatteryMode, str]] = {
    BatteryMode.SELF_CONSUMPTION: "Self - Consumption",
    BatteryMode.SAVINGS: "Savings Mode",
    BatteryMode.FULL_BACKUP: "Full Backup",
}


class Granularity(StrEnum):
    """Length of the window of an interval telemetry request."""

    FIFTEEN_MINUTES = "15mins"
    DAY = "day"
    WEEK = "week"


class EnergyField(StrEnum):
    """The interval field holding the Wh of each energy telemetry endpoint."""

    PRODUCTION = "wh_del"
    CONSUMPTION = "enwh"
    IMPORT = "wh_imported"
    EXPORT = "wh_exported"


# --------------------------------------------------------------------------- systems


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """Where a system is (as coarse as the API gives it)."""

    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse an `address` object; anything but an object is an empty address."""
        if not isinstance(data, Mapping):
            return cls()
        return cls(
            city=_opt_str(data, "city"),
            state=_opt_str(data, "state"),
            country=_opt_str(data, "country"),
            postal_code=_opt_str(data, "postal_code"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class System:
    """One entry of `/systems`."""

    system_id: int
    name: str
    public_name: str | None = None
    timezone: str
    status: str
    connection_type: str | None = None
    last_report_at: datetime | None = None
    last_energy_at: datetime | None = None
    operational_at: datetime | None = None
    address: Address

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one system object."""
        what = "system"
        data = _mapping(data, what)
        return cls(
            system_id=_req_int(data, "system_id", what),
            name=_req_str(data, "name", what),
            public_name=_opt_str(data, "public_name"),
            timezone=_req_str(data, "timezone", what),
            status=_req_str(data, "status", what),
            connection_type=_opt_str(data, "connection_type"),
            last_report_at=_opt_datetime(data, "last_report_at"),
            last_energy_at=_opt_datetime(data, "last_energy_at"),
            operational_at=_opt_datetime(data, "operational_at"),
            address=Address.from_dict(data.get("address")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemsPage:
    """One page of `/systems`."""

    total: int | None = None
    current_page: int | None = None
    size: int | None = None
    systems: tuple[System, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a page; `systems` is required."""
        what = "systems"
        data = _mapping(data, what)
        systems = _required(data, "systems", what, _as_list, "a list")
        return cls(
            total=_opt_int(data, "total"),
            current_page=_opt_int(data, "current_page"),
            size=_opt_int(data, "size"),
            systems=tuple(System.from_dict(item) for item in systems),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """`/systems/{id}/summary`: power now, energy today and lifetime, battery sizes."""

    system_id: int
    current_power: int | None = None
    energy_lifetime: int | None = None
    energy_today: int | None = None
    last_interval_end_at: datetime | None = None
    last_report_at: datetime | None = None
    operational_at: datetime | None = None
    modules: int | None = None
    size_w: int | None = None
    source: str | None = None
    status: str
    summary_date: date | None = None
    battery_charge_w: int | None = None
    battery_discharge_w: int | None = None
    battery_capacity_wh: int | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a summary."""
        what = "summary"
        data = _mapping(data, what)
        return cls(
            system_id=_req_int(data, "system_id", what),
            current_power=_opt_int(data, "current_power"),
            energy_lifetime=_opt_int(data, "energy_lifetime"),
            energy_today=_opt_int(data, "energy_today"),
            last_interval_end_at=_opt_datetime(data, "last_interval_end_at"),
            last_report_at=_opt_datetime(data, "last_report_at"),
            operational_at=_opt_datetime(data, "operational_at"),
            modules=_opt_int(data, "modules"),
            size_w=_opt_int(data, "size_w"),
            source=_opt_str(data, "source"),
            status=_req_str(data, "status", what),
            summary_date=_as_date(data.get("summary_date")),
            battery_charge_w=_opt_int(data, "battery_charge_w"),
            battery_discharge_w=_opt_int(data, "battery_discharge_w"),
            battery_capacity_wh=_opt_int(data, "battery_capacity_wh"),
        )


# --------------------------------------------------------------------------- devices

DEVICE_KIND_MICRO: Final = "micro"
DEVICE_KIND_METER: Final = "meter"
DEVICE_KIND_GATEWAY: Final = "gateway"
DEVICE_KIND_ENCHARGE: Final = "encharge"
DEVICE_KIND_ENPOWER: Final = "enpower"

_CONSUMPTION_CONFIG_TYPES: Final = frozenset({"net", "consumption"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """One active device; `kind` is "micro", "meter", "gateway", "encharge" or "enpower"."""

    kind: str
    serial_number: str | None = None
    model: str | None = None
    name: str | None = None
    status: str | None = None
    last_report_at: datetime | None = None
    config_type: str | None = None

    @classmethod
    def from_dict(cls, data: object, kind: str) -> Self:
        """Parse one device object of the group `kind`; every field is optional."""
        data = _mapping(data, f"devices.{kind}")
        return cls(
            kind=kind,
            serial_number=_opt_str(data, "serial_number"),
            model=_opt_str(data, "model"),
            name=_opt_str(data, "name"),
            status=_opt_str(data, "status"),
            last_report_at=_opt_datetime(data, "last_report_at"),
            config_type=_opt_str(data, "config_type"),
        )


def _config_words(meter: Device) -> set[str]:
    """Return the words of a meter's config_type, or of its name when config_type is absent."""
    text = meter.config_type if meter.config_type is not None else meter.name or ""
    return set(re.findall(r"[a-z]+", text.lower()))


@dataclass(frozen=True, slots=True, kw_only=True)
class Devices:
    """`/systems/{id}/devices`, the groups this integration uses."""

    micros: tuple[Device, ...] = ()
    meters: tuple[Device, ...] = ()
    gateways: tuple[Device, ...] = ()
    encharges: tuple[Device, ...] = ()
    enpowers: tuple[Device, ...] = ()

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the answer; `devices` is required, each group optional."""
        what = "devices"
        groups = _required(_mapping(data, what), "devices", what, _as_mapping, "an object")

        def group(key: str, kind: str) -> tuple[Device, ...]:
            return tuple(Device.from_dict(item, kind) for item in _list(groups, key, what))

        return cls(
            micros=group("micros", DEVICE_KIND_MICRO),
            meters=group("meters", DEVICE_KIND_METER),
            gateways=group("gateways", DEVICE_KIND_GATEWAY),
            encharges=group("encharges", DEVICE_KIND_ENCHARGE),
            enpowers=group("enpowers", DEVICE_KIND_ENPOWER),
        )

    @property
    def has_battery(self) -> bool:
        """Return True when the system has an IQ Battery (encharge)."""
        return bool(self.encharges)

    @property
    def has_production_meter(self) -> bool:
        """Return True when a meter measures production (config_type "Production")."""
        return any("production" in _config_words(meter) for meter in self.meters)

    @property
    def has_consumption_meter(self) -> bool:
        """Return True when a meter measures consumption (config_type "Net" or "Consumption")."""
        return any(_config_words(meter) & _CONSUMPTION_CONFIG_TYPES for meter in self.meters)

    @property
    def gateway_model(self) -> str | None:
        """Return the model of the first gateway that names one."""
        return next((gw.model for gw in self.gateways if gw.model), None)

    @property
    def battery_model(self) -> str | None:
        """Return the model of the first battery that names one."""
        return next((bat.model for bat in self.encharges if bat.model), None)


# --------------------------------------------------------------------------- latest telemetry


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterReading:
    """A meter's last power reading (null fields: no report for 7 days)."""

    name: str
    channel: int | None = None
    last_report_at: datetime | None = None
    power: int | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one meter reading; `name` is required."""
        what = "latest_telemetry.meters[]"
        data = _mapping(data, what)
        return cls(
            name=_req_str(data, "name", what),
            channel=_opt_int(data, "channel"),
            last_report_at=_opt_datetime(data, "last_report_at"),
            power=_opt_int(data, "power"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryReading:
    """A battery's last power reading; the sign convention is not confirmed by Enphase.

    `operational_mode` is the battery profile, normalised like the settings'
    (the server writes e.g. "savings_mode" here); None when unknown.
    """

    name: str
    channel: int | None = None
    last_report_at: datetime | None = None
    power: int | None = None
    operational_mode: BatteryMode | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one battery reading; `name` is required."""
        what = "latest_telemetry.encharges[]"
        data = _mapping(data, what)
        return cls(
            name=_req_str(data, "name", what),
            channel=_opt_int(data, "channel"),
            last_report_at=_opt_datetime(data, "last_report_at"),
            power=_opt_int(data, "power"),
            operational_mode=_as_mode(data.get("operational_mode")),
        )


def _sum_or_none(values: Sequence[int | None]) -> int | None:
    reported = [value for value in values if value is not None]
    return sum(reported) if reported else None


@dataclass(frozen=True, slots=True, kw_only=True)
class LatestTelemetry:
    """`/systems/{id}/latest_telemetry`."""

    meters: tuple[MeterReading, ...] = ()
    encharges: tuple[BatteryReading, ...] = ()

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the answer; `devices` is required, meters and encharges optional."""
        what = "latest_telemetry"
        devices = _required(_mapping(data, what), "devices", what, _as_mapping, "an object")
        return cls(
            meters=tuple(MeterReading.from_dict(item) for item in _list(devices, "meters", what)),
            encharges=tuple(
                BatteryReading.from_dict(item) for item in _list(devices, "encharges", what)
            ),
        )

    def _meter_power(self, name: str) -> int | None:
        return _sum_or_none([m.power for m in self.meters if m.name.lower() == name])

    @property
    def production_power(self) -> int | None:
        """Return the production meter's power in W (summed over channels), None if unknown."""
        return self._meter_power("production")

    @property
    def consumption_power(self) -> int | None:
        """Return the consumption meter's power in W (summed over channels), None if unknown."""
        return self._meter_power("consumption")

    @property
    def battery_power(self) -> int | None:
        """Return the sum of the batteries' power in W, None when none reports."""
        return _sum_or_none([battery.power for battery in self.encharges])


# --------------------------------------------------------------------------- interval telemetry


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyInterval:
    """Energy of one interval ending at `end_at`."""

    end_at: datetime
    wh: int
    devices_reporting: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], value_key: str, what: str) -> Self:
        """Parse one interval whose energy is in `value_key`."""
        return cls(
            end_at=_req_datetime(data, "end_at", what),
            wh=_req_int(data, value_key, what),
            devices_reporting=_opt_int(data, "devices_reporting"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyTelemetry:
    """Production, consumption, import or export interval telemetry.

    The window is [start_at, end_at); an empty `intervals` means "not reported
    yet", not zero. Import/export answers split their intervals into one array
    per local day: they are flattened and sorted by `end_at`.
    """

    system_id: int
    granularity: str
    start_at: datetime
    end_at: datetime
    total_devices: int | None = None
    intervals: tuple[EnergyInterval, ...]
    last_report_at: datetime | None = None

    @classmethod
    def from_dict(cls, data: object, value_key: str | EnergyField) -> Self:
        """Parse a telemetry answer whose intervals carry their Wh in `value_key`."""
        what = "telemetry"
        data = _mapping(data, what)
        intervals = sorted(
            (
                EnergyInterval.from_dict(item, str(value_key), f"{what}.intervals[]")
                for item in _interval_objects(data, what)
            ),
            key=lambda interval: interval.end_at,
        )
        return cls(
            system_id=_req_int(data, "system_id", what),
            granularity=_req_str(data, "granularity", what),
            start_at=_req_datetime(data, "start_at", what),
            end_at=_req_datetime(data, "end_at", what),
            total_devices=_opt_int(data, "total_devices"),
            intervals=tuple(intervals),
            last_report_at=_meta_last_report(data),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryInterval:
    """Battery energy in and out during one interval, and the charge level at its end."""

    end_at: datetime
    charge_wh: int
    discharge_wh: int
    soc_percent: int | None = None
    devices_reporting: int | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one `{end_at, charge:{enwh}, discharge:{enwh}, soc:{percent}}` interval."""
        what = "telemetry/battery.intervals[]"
        data = _mapping(data, what)
        charge = _mapping(data.get("charge"), f"{what}.charge")
        discharge = _mapping(data.get("discharge"), f"{what}.discharge")
        soc = _as_mapping(data.get("soc")) or {}
        reporting = (_opt_int(part, "devices_reporting") for part in (charge, discharge, soc))
        return cls(
            end_at=_req_datetime(data, "end_at", what),
            charge_wh=_req_int(charge, "enwh", f"{what}.charge"),
            discharge_wh=_req_int(discharge, "enwh", f"{what}.discharge"),
            soc_percent=_as_percent(soc.get("percent")),
            devices_reporting=next((count for count in reporting if count is not None), None),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryTelemetry:
    """`/systems/{id}/telemetry/battery`."""

    system_id: int
    granularity: str
    start_at: datetime
    end_at: datetime
    total_devices: int | None = None
    intervals: tuple[BatteryInterval, ...]
    last_report_at: datetime | None = None
    last_reported_aggregate_soc: int | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a battery telemetry answer."""
        what = "telemetry/battery"
        data = _mapping(data, what)
        intervals = sorted(
            (BatteryInterval.from_dict(item) for item in _interval_objects(data, what)),
            key=lambda interval: interval.end_at,
        )
        return cls(
            system_id=_req_int(data, "system_id", what),
            granularity=_req_str(data, "granularity", what),
            start_at=_req_datetime(data, "start_at", what),
            end_at=_req_datetime(data, "end_at", what),
            total_devices=_opt_int(data, "total_devices"),
            intervals=tuple(intervals),
            last_report_at=_meta_last_report(data),
            last_reported_aggregate_soc=_as_percent(data.get("last_reported_aggregate_soc")),
        )


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True, kw_only=True)
class BatterySettings:
    """`/systems/config/{id}/battery_settings` (Megawatt plan and above)."""

    system_id: int
    mode: BatteryMode
    reserve_soc: int
    energy_independence: bool | None = None
    charge_from_grid: bool | None = None
    shutdown_level: int | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse battery settings; "enabled"/"disabled" become booleans."""
        what = "battery_settings"
        data = _mapping(data, what)
        return cls(
            system_id=_req_int(data, "system_id", what),
            mode=_required(data, "battery_mode", what, _as_mode, "a battery mode"),
            reserve_soc=_required(data, "reserve_soc", what, _as_percent, "a percentage"),
            energy_independence=_opt_bool(data, "energy_independence"),
            charge_from_grid=_opt_bool(data, "charge_from_grid"),
            shutdown_level=_as_percent(data.get("battery_shutdown_level")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StormGuard:
    """`/systems/config/{id}/storm_guard`."""

    system_id: int
    enabled: bool
    storm_alert: bool | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse storm guard; "Enabled (Inactive)" counts as enabled."""
        what = "storm_guard"
        data = _mapping(data, what)
        return cls(
            system_id=_req_int(data, "system_id", what),
            enabled=_required(data, "storm_guard_status", what, _as_bool, "enabled or disabled"),
            storm_alert=_opt_bool(data, "storm_alert"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GridStatus:
    """`/systems/config/{id}/grid_status`."""

    system_id: int
    grid_state: str
    on_grid: bool

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the grid status; `on_grid` is True for "On Grid" in any spelling."""
        what = "grid_status"
        data = _mapping(data, what)
        grid_state = _req_str(data, "grid_state", what)
        return cls(
            system_id=_req_int(data, "system_id", what),
            grid_state=grid_state,
            on_grid=_normalise(grid_state) == "ongrid",
        )
