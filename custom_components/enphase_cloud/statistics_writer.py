"""Long-term statistics for Enphase interval telemetry.

Enphase reports 15-minute intervals late and in bursts: gateways buffer while
offline and upload the backlog on reconnect, and a partial hour is completed by a
later upload. The intervals are therefore written as external statistics (hourly
rows that the Energy dashboard reads) rather than through sensor states, so every
interval lands in the hour it belongs to however late it arrives.

Every row the recorder holds stores its own cumulative `sum`; rewriting one hour
does not repair the hours after it. The importer therefore reads what is already
stored, recomputes the batch's hours from the sum before them, and rewrites every
later stored hour shifted by the change, in the same recorder job so that no
reader ever sees sums that jump or go backwards. All arithmetic is in integer Wh;
kWh only appear at the recorder boundary, so sums stay exact.

The pure functions (bucketing, sum continuation) are kept apart from the recorder
I/O so they can be tested on their own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    statistics_during_period,
)
from homeassistant.components.recorder.tasks import SynchronizeTask
from homeassistant.const import PERCENTAGE, UnitOfEnergy
from homeassistant.helpers.recorder import get_instance
from homeassistant.util.hass_dict import HassKey
from homeassistant.util.unit_conversion import EnergyConverter

from .const import DOMAIN, HOUR, INTERVAL, LOGGER

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from homeassistant.core import HomeAssistant

# Lower bound for "everything stored before": statistics_during_period needs a start.
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_WH_PER_KWH: Final = 1000
# Reads ask for kWh explicitly so a unit changed in the UI cannot skew the Wh sums.
_KWH_UNITS: Final[dict[str, str]] = {EnergyConverter.UNIT_CLASS: UnitOfEnergy.KILO_WATT_HOUR}
_LOCKS: HassKey[dict[str, asyncio.Lock]] = HassKey(f"{DOMAIN}_statistics_locks")


class Stream(StrEnum):
    """A statistic written for each system."""

    PRODUCTION = "production"
    CONSUMPTION = "consumption"
    GRID_IMPORT = "grid_import"
    GRID_EXPORT = "grid_export"
    BATTERY_CHARGE = "battery_charge"
    BATTERY_DISCHARGE = "battery_discharge"
    BATTERY_SOC = "battery_soc"


ENERGY_STREAMS: Final[tuple[Stream, ...]] = tuple(s for s in Stream if s is not Stream.BATTERY_SOC)

# External statistics have no translation support: the names are stored as written.
_STREAM_NAMES: Final[dict[Stream, str]] = {
    Stream.PRODUCTION: "Production",
    Stream.CONSUMPTION: "Consumption",
    Stream.GRID_IMPORT: "Grid import",
    Stream.GRID_EXPORT: "Grid export",
    Stream.BATTERY_CHARGE: "Battery charge",
    Stream.BATTERY_DISCHARGE: "Battery discharge",
    Stream.BATTERY_SOC: "Battery state of charge",
}


@dataclass(frozen=True, slots=True)
class DeviceStream:
    """An energy statistic of one device of a system (an EV charger), known at run time.

    `value` continues the statistic id like a `Stream`'s (lowercase [a-z0-9_]);
    `name` follows the system's name in the statistic's name.
    """

    value: str
    name: str


type AnyStream = Stream | DeviceStream


def stream_name(stream: AnyStream) -> str:
    """Return the name a stream's statistic carries after the system's name."""
    return stream.name if isinstance(stream, DeviceStream) else _STREAM_NAMES[stream]


def statistic_id(system_id: int, stream: AnyStream) -> str:
    """Return the external statistic id of a system's stream."""
    return f"{DOMAIN}:{system_id}_{stream.value}"


@dataclass(frozen=True, slots=True)
class EnergyPoint:
    """Energy of one 15-minute interval, in integer Wh; the interval ends at end_at."""

    end_at: datetime
    wh: int


@dataclass(frozen=True, slots=True)
class SocPoint:
    """Battery state of charge (percent) reported for the interval ending at end_at."""

    end_at: datetime
    percent: float


@dataclass(frozen=True, slots=True)
class HourEnergy:
    """Energy of one recorder hour and the cumulative energy at its end, in Wh."""

    start: datetime
    wh: int
    sum_wh: int


@dataclass(frozen=True, slots=True)
class HourSoc:
    """State of charge summary of one recorder hour."""

    start: datetime
    mean: float
    min: float
    max: float


def interval_hour(end_at: datetime) -> datetime:
    """Return the UTC start of the recorder hour holding the interval ending at end_at.

    An interval ending at 11:00 covers 10:45-11:00 and belongs to the 10:00 hour.

    Raises:
        ValueError: end_at is naive or not on a quarter hour.

    """
    if end_at.tzinfo is None or end_at.utcoffset() is None:
        msg = f"Interval end {end_at!r} has no time zone"
        raise ValueError(msg)
    utc = end_at.astimezone(UTC)
    # Checked in UTC because that is the grid the recorder's hours sit on.
    if utc.minute % 15 or utc.second or utc.microsecond:
        msg = f"Interval end {end_at.isoformat()} is not on a quarter hour"
        raise ValueError(msg)
    return (utc - INTERVAL).replace(minute=0)


def bucket_energy(points: Iterable[EnergyPoint]) -> list[tuple[datetime, int]]:
    """Return (hour start, Wh) for every hour from the first to the last point's hour.

    Points may come in any order; for a repeated end_at the later point wins, since
    a redelivery carries the newer value. Hours without any point inside the span
    get 0 Wh so the dashboard shows the hole as such instead of skipping it.

    Raises:
        ValueError: a point is malformed (see interval_hour; wh not a non-negative
            integer). Energy is never negative: a negative value would make the
            cumulative sum decrease, so it is refused rather than guessed at.

    """
    latest: dict[datetime, int] = {}
    for point in points:
        wh: object = point.wh
        if isinstance(wh, bool) or not isinstance(wh, int) or wh < 0:
            msg = f"Interval energy {wh!r} Wh at {point.end_at} is not a non-negative integer"
            raise ValueError(msg)
        interval_hour(point.end_at)
        latest[point.end_at.astimezone(UTC)] = wh
    per_hour: dict[datetime, int] = {}
    for end_at, wh in latest.items():
        hour = interval_hour(end_at)
        per_hour[hour] = per_hour.get(hour, 0) + wh
    if not per_hour:
        return []
    hours: list[tuple[datetime, int]] = []
    hour, last = min(per_hour), max(per_hour)
    while hour <= last:
        hours.append((hour, per_hour.get(hour, 0)))
        hour += HOUR
    return hours


def continue_sums(
    hours: Sequence[tuple[datetime, int]],
    base_wh: int,
    existing: Sequence[HourEnergy],
) -> list[HourEnergy]:
    """Return the rows to write for a batch of contiguous hours.

    Args:
        hours: the batch's hours, oldest first, as bucket_energy returns them.
        base_wh: the sum of the newest stored hour before the batch's first hour
            (0 when there is none).
        existing: the stored hours from the batch's first hour on, oldest first.

    The batch's hours replace the stored ones they cover. Stored hours after the
    batch keep their own energy, but their sums move by however much the batch
    changed the cumulative total at its end, so the sum never jumps there. They
    are only included when that change is not zero.

    """
    rows: list[HourEnergy] = []
    total = base_wh
    for start, wh in hours:
        total += wh
        rows.append(HourEnergy(start, wh, total))
    if not rows:
        return rows
    last = rows[-1].start
    ordered = sorted(existing, key=lambda row: row.start)
    replaced = [row for row in ordered if row.start <= last]
    later = [row for row in ordered if row.start > last]
    # What the stored series said the total was at the batch's end; with nothing
    # stored inside the batch that is the base the batch started from.
    old_total = replaced[-1].sum_wh if replaced else base_wh
    if delta := total - old_total:
        rows.extend(HourEnergy(row.start, row.wh, row.sum_wh + delta) for row in later)
    return rows


def bucket_soc(points: Iterable[SocPoint]) -> list[HourSoc]:
    """Return the mean, min and max state of charge of each hour that has points.

    Hours without points are left out: unlike energy, a missing reading is not 0 %.
    For a repeated end_at the later point wins. The intervals are of equal length,
    so the plain mean of their readings is the time-weighted mean.

    Raises:
        ValueError: end_at is malformed (see interval_hour) or the percentage is
            not a finite number between 0 and 100.

    """
    latest: dict[datetime, float] = {}
    for point in points:
        percent: object = point.percent
        if (
            isinstance(percent, bool)
            or not isinstance(percent, int | float)
            or not 0 <= percent <= 100  # noqa: PLR2004 - a percentage's bounds
        ):
            msg = f"State of charge {percent!r} at {point.end_at} is not a percentage"
            raise ValueError(msg)
        interval_hour(point.end_at)
        latest[point.end_at.astimezone(UTC)] = float(percent)
    per_hour: dict[datetime, list[float]] = {}
    for end_at, value in latest.items():
        per_hour.setdefault(interval_hour(end_at), []).append(value)
    return [
        HourSoc(start, sum(values) / len(values), min(values), max(values))
        for start, values in sorted(per_hour.items())
    ]


def _to_wh(kwh: float | None) -> int:
    """Return stored kWh as integer Wh; rounding undoes the float division on write."""
    return round((kwh or 0) * _WH_PER_KWH)


def _stored_energy(
    hass: HomeAssistant, stat_id: str, start: datetime, end: datetime | None
) -> list[HourEnergy]:
    """Return the stored hours in [start, end), oldest first (recorder executor only)."""
    result = statistics_during_period(
        hass, start, end, {stat_id}, "hour", _KWH_UNITS, {"state", "sum"}
    )
    return [
        HourEnergy(datetime.fromtimestamp(row["start"], UTC), _to_wh(row.get("state")), _to_wh(s))
        for row in result.get(stat_id, [])
        # Every row this module writes has a sum; a row without one cannot be shifted.
        if (s := row.get("sum")) is not None
    ]


def _read_energy_context(
    hass: HomeAssistant, stat_id: str, first: datetime
) -> tuple[int, list[HourEnergy]]:
    """Return the base sum before `first` and the stored hours from `first` on.

    Runs in the recorder's executor. The usual call continues where the last import
    stopped, so one query from the hour before `first` answers both.
    """
    stored = _stored_energy(hass, stat_id, first - HOUR, None)
    if stored and stored[0].start < first:
        return stored[0].sum_wh, stored[1:]
    if stored:
        # Hours stored after a gap right before the batch (a backfill older than
        # the first import): only a scan finds the newest hour before the gap.
        earlier = _stored_energy(hass, stat_id, _EPOCH, first)
        return (earlier[-1].sum_wh if earlier else 0), stored
    # Nothing from `first` on: the newest stored hour, if any, is the base (for
    # instance after the gateway was offline for a week).
    last = get_last_statistics(hass, 1, stat_id, False, set())  # noqa: FBT003 - HA's positional API
    if not (rows := last.get(stat_id)):
        return 0, []
    newest = _stored_energy(hass, stat_id, datetime.fromtimestamp(rows[0]["start"], UTC), first)
    return (newest[-1].sum_wh if newest else 0), []


class StatisticsImporter:
    """Writes one system's streams; holds no state between calls besides hass/system.

    Calls for the same statistic are serialised (through a lock kept in hass.data)
    because each one reads the stored sums before writing new ones.
    """

    def __init__(self, hass: HomeAssistant, system_id: int, system_name: str) -> None:
        """Initialise the importer for one Enphase system."""
        self.hass = hass
        self.system_id = system_id
        self.system_name = system_name
        self.quarantined: dict[str, int] = {}
        """Intervals refused per statistic id, each counted (and logged) once."""
        self._seen: set[tuple[str, str]] = set()

    def _sift[P: (EnergyPoint, SocPoint)](
        self,
        stat_id: str,
        points: Sequence[P],
        check: Callable[[Iterable[P]], object],
    ) -> list[P]:
        """Return the points `check` accepts; quarantine the others alone.

        One absurd interval (negative energy, an end off the quarter hour, a
        charge above 100 %) must not hold back the rest of its window, nor stop
        the cursor behind it: it is left out, logged and counted once. A later
        read of the same interval with a sound value (Enphase revises intervals,
        and the settling window reads them again) imports it as usual.
        """
        good: list[P] = []
        for point in points:
            try:
                check([point])
            except ValueError as err:
                key = (stat_id, repr(point.end_at))
                if key not in self._seen:
                    self._seen.add(key)
                    self.quarantined[stat_id] = self.quarantined.get(stat_id, 0) + 1
                    LOGGER.warning("Left out one interval of %s: %s", stat_id, err)
            else:
                good.append(point)
        return good

    def _lock(self, stat_id: str) -> asyncio.Lock:
        """Return the lock serialising reads and writes of one statistic."""
        locks = self.hass.data.setdefault(_LOCKS, {})
        return locks.setdefault(stat_id, asyncio.Lock())

    async def _async_sync_recorder(self) -> None:
        """Wait until every job queued on the recorder so far is done and committed.

        Statistics are written by the recorder thread from its queue, while reads
        run in its executor: without this a read could miss the previous write.
        Recorder.async_block_till_done is not enough: it returns at once when the
        queue is empty, which it also is while the thread still runs the last job.
        Like the history and logbook APIs, this waits without a time limit: the
        recorder may legitimately be busy (purge, repack) for minutes.
        """
        future: asyncio.Future[None] = self.hass.loop.create_future()
        get_instance(self.hass).queue_task(SynchronizeTask(future))
        await future

    def _metadata(self, stream: AnyStream) -> StatisticMetaData:
        """Return the statistic metadata of a stream."""
        name = f"{self.system_name} {stream_name(stream)}"
        stat_id = statistic_id(self.system_id, stream)
        if stream is Stream.BATTERY_SOC:
            return StatisticMetaData(
                mean_type=StatisticMeanType.ARITHMETIC,
                has_sum=False,
                name=name,
                source=DOMAIN,
                statistic_id=stat_id,
                unit_class=None,
                unit_of_measurement=PERCENTAGE,
            )
        return StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=name,
            source=DOMAIN,
            statistic_id=stat_id,
            unit_class=EnergyConverter.UNIT_CLASS,
            unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        )

    async def async_resume_point(self, stream: AnyStream) -> datetime | None:
        """Return the start (aware UTC, top of hour) of the last hour imported for stream.

        Read from the recorder (never from memory); None if nothing was imported.
        The caller fetches intervals from here, so that partial hour is recomputed
        whole.
        """
        stat_id = statistic_id(self.system_id, stream)
        async with self._lock(stat_id):
            await self._async_sync_recorder()
            last = await get_instance(self.hass).async_add_executor_job(
                get_last_statistics,
                self.hass,
                1,
                stat_id,
                False,  # noqa: FBT003 - HA's positional API
                set(),
            )
        if not (rows := last.get(stat_id)):
            return None
        return datetime.fromtimestamp(rows[0]["start"], UTC)

    async def async_import_energy(self, stream: AnyStream, points: Sequence[EnergyPoint]) -> int:
        """Write the hours these points cover; return the number of hours written.

        The count is the batch's hours from its first to its last point's hour,
        holes included; stored later hours rewritten to shift their sums are not
        counted. Every hour the batch touches is replaced by the batch's intervals
        in it, so the batch must hold all known intervals of those hours (fetch from
        async_resume_point). The data is committed when this returns.

        A malformed point (naive or off-quarter end_at, negative or non-integer
        Wh) is quarantined alone (see `_sift`); the others are written.

        Raises:
            ValueError: stream is BATTERY_SOC. Nothing is written.

        """
        if stream is Stream.BATTERY_SOC:
            msg = "State of charge is imported with async_import_soc"
            raise ValueError(msg)
        stat_id = statistic_id(self.system_id, stream)
        hours = bucket_energy(self._sift(stat_id, points, bucket_energy))
        if not hours:
            return 0
        instance = get_instance(self.hass)
        async with self._lock(stat_id):
            await self._async_sync_recorder()
            base_wh, existing = await instance.async_add_executor_job(
                _read_energy_context, self.hass, stat_id, hours[0][0]
            )
            stored = {row.start: row for row in existing}
            computed = continue_sums(hours, base_wh, existing)
            # Re-reads (the settling window) mostly bring what is stored: only changes
            # are written, and the batch's last hour, which carries the metadata (name).
            rows = [
                row for row in computed if stored.get(row.start) != row or row.start == hours[-1][0]
            ]
            # One job, so the batch and the shifted later hours commit together.
            async_add_external_statistics(
                self.hass,
                self._metadata(stream),
                [
                    StatisticData(
                        start=row.start,
                        state=row.wh / _WH_PER_KWH,
                        sum=row.sum_wh / _WH_PER_KWH,
                    )
                    for row in rows
                ],
            )
            await self._async_sync_recorder()
        LOGGER.debug(
            "Read %s hours of %s from %s (base %s Wh): %s rows changed",
            len(hours),
            stat_id,
            hours[0][0],
            base_wh,
            len(rows),
        )
        return len(hours)

    async def async_import_soc(self, points: Sequence[SocPoint]) -> int:
        """Write the hourly mean/min/max of state of charge; return the hours written.

        A malformed point (naive or off-quarter end_at, a percentage outside
        0-100 or not finite) is quarantined alone (see `_sift`).
        """
        stat_id = statistic_id(self.system_id, Stream.BATTERY_SOC)
        hours = bucket_soc(self._sift(stat_id, points, bucket_soc))
        if not hours:
            return 0
        async with self._lock(stat_id):
            async_add_external_statistics(
                self.hass,
                self._metadata(Stream.BATTERY_SOC),
                [
                    StatisticData(start=hour.start, mean=hour.mean, min=hour.min, max=hour.max)
                    for hour in hours
                ],
            )
            await self._async_sync_recorder()
        LOGGER.debug("Wrote %s hours of %s from %s", len(hours), stat_id, hours[0].start)
        return len(hours)
