"""Latest telemetry and 15-minute interval telemetry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Self

from .parsing import (
    as_mapping,
    as_percent,
    interval_objects,
    mapping,
    meta_last_report,
    opt_datetime,
    opt_int,
    opt_list,
    req_datetime,
    req_int,
    req_str,
    required,
)


class Granularity(StrEnum):
    """Length of the window of an interval telemetry request."""

    FIFTEEN_MINUTES = "15mins"
    DAY = "day"
    WEEK = "week"


class BatteryActivity(StrEnum):
    """What a battery was doing at its last report (latest_telemetry `operational_mode`)."""

    IDLE = "idle"
    CHARGING = "charging"
    DISCHARGING = "discharging"

    @classmethod
    def parse(cls, value: object) -> BatteryActivity | None:
        """Return the activity for "Idle"/"Charging"/"Discharging" in any case, else None."""
        if not isinstance(value, str):
            return None
        try:
            return cls(value.strip().lower())
        except ValueError:
            return None


class EnergyField(StrEnum):
    """The interval field holding the Wh of each energy telemetry endpoint."""

    PRODUCTION = "wh_del"
    CONSUMPTION = "enwh"
    IMPORT = "wh_imported"
    EXPORT = "wh_exported"


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
        data = mapping(data, what)
        return cls(
            name=req_str(data, "name", what),
            channel=opt_int(data, "channel"),
            last_report_at=opt_datetime(data, "last_report_at"),
            power=opt_int(data, "power"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryReading:
    """A battery's last power reading (`name` "Encharge <serial>").

    `power` is as Enphase sent it: its sign is not confirmed for latest_telemetry
    (`live_data` documents discharge positive). `operational_mode` says which way
    the energy flows (Idle, Charging, Discharging); None when not reported.
    """

    name: str
    channel: int | None = None
    last_report_at: datetime | None = None
    power: int | None = None
    operational_mode: BatteryActivity | None = None

    @property
    def discharge_power(self) -> int | None:
        """Return the power in W, discharge positive and charge negative.

        The sign follows `operational_mode` when the battery says it charges or
        discharges, so either sign convention of `power` reads right; otherwise
        (idle, or no mode) `power` is taken as discharge positive, as `live_data`
        documents.
        """
        if self.power is None:
            return None
        if self.operational_mode is BatteryActivity.CHARGING:
            return -abs(self.power)
        if self.operational_mode is BatteryActivity.DISCHARGING:
            return abs(self.power)
        return self.power

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one battery reading; `name` is required."""
        what = "latest_telemetry.encharges[]"
        data = mapping(data, what)
        return cls(
            name=req_str(data, "name", what),
            channel=opt_int(data, "channel"),
            last_report_at=opt_datetime(data, "last_report_at"),
            power=opt_int(data, "power"),
            operational_mode=BatteryActivity.parse(data.get("operational_mode")),
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
        devices = required(mapping(data, what), "devices", what, as_mapping, "an object")
        return cls(
            meters=tuple(
                MeterReading.from_dict(item) for item in opt_list(devices, "meters", what)
            ),
            encharges=tuple(
                BatteryReading.from_dict(item) for item in opt_list(devices, "encharges", what)
            ),
        )

    def _meter_power(self, name: str) -> int | None:
        # Each meter is listed once per channel; unused channels have a null power.
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
        """Return the batteries' power in W summed, discharge positive; None when none reports."""
        return _sum_or_none([battery.discharge_power for battery in self.encharges])


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
            end_at=req_datetime(data, "end_at", what),
            wh=req_int(data, value_key, what),
            devices_reporting=opt_int(data, "devices_reporting"),
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
        data = mapping(data, what)
        intervals = sorted(
            (
                EnergyInterval.from_dict(item, str(value_key), f"{what}.intervals[]")
                for item in interval_objects(data, what)
            ),
            key=lambda interval: interval.end_at,
        )
        return cls(
            system_id=req_int(data, "system_id", what),
            granularity=req_str(data, "granularity", what),
            start_at=req_datetime(data, "start_at", what),
            end_at=req_datetime(data, "end_at", what),
            total_devices=opt_int(data, "total_devices"),
            intervals=tuple(intervals),
            last_report_at=meta_last_report(data),
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
        data = mapping(data, what)
        charge = mapping(data.get("charge"), f"{what}.charge")
        discharge = mapping(data.get("discharge"), f"{what}.discharge")
        soc = as_mapping(data.get("soc")) or {}
        reporting = (opt_int(part, "devices_reporting") for part in (charge, discharge, soc))
        return cls(
            end_at=req_datetime(data, "end_at", what),
            charge_wh=req_int(charge, "enwh", f"{what}.charge"),
            discharge_wh=req_int(discharge, "enwh", f"{what}.discharge"),
            soc_percent=as_percent(soc.get("percent")),
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
        data = mapping(data, what)
        intervals = sorted(
            (BatteryInterval.from_dict(item) for item in interval_objects(data, what)),
            key=lambda interval: interval.end_at,
        )
        return cls(
            system_id=req_int(data, "system_id", what),
            granularity=req_str(data, "granularity", what),
            start_at=req_datetime(data, "start_at", what),
            end_at=req_datetime(data, "end_at", what),
            total_devices=opt_int(data, "total_devices"),
            intervals=tuple(intervals),
            last_report_at=meta_last_report(data),
            last_reported_aggregate_soc=as_percent(data.get("last_reported_aggregate_soc")),
        )
