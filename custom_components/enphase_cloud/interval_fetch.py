"""Telemetry catch-up: fetch every interval reported since the last imported hour.

One `TelemetrySync` follows one Enphase telemetry endpoint of one system. Its cursor
is the start of the last hour already in the recorder (read from the recorder, so a
restart or a week offline loses nothing). Each call fetches from the cursor in
`day` or `week` windows (one API call covers up to 672 intervals), hands the
intervals to the statistics importer and moves the cursor to the start of the last
hour received: that hour is fetched again next time, because Enphase may still be
filling it in.

Enphase also fills holes and revises intervals hours later (a microinverter that
reported late, a backlog after an outage). Every read that would start inside the
settling window (`SETTLE`) therefore starts at the window's beginning instead:
one `day` call covers 24 hours, so re-reading the last `SETTLE` hours costs no
call at all, on every plan; the importer rewrites only the hours whose values
changed. A plan whose cadence leaves more than `SETTLE` between reads re-reads
everything since its last read anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from .api import BatteryTelemetry, Devices, EnergyTelemetry, EnphaseClient, Granularity
from .const import HOUR, LOGGER
from .data import BatteryLevel
from .statistics_writer import AnyStream, EnergyPoint, SocPoint, StatisticsImporter, Stream

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
SETTLE = timedelta(hours=12)
"""How far back every regular read starts: late-filled and revised intervals land."""

type Telemetry = EnergyTelemetry | BatteryTelemetry


class Fetch(Protocol):
    """A telemetry method of `EnphaseClient`, called unbound with the client first."""

    def __call__(
        self,
        client: EnphaseClient,
        system_id: int,
        /,
        *,
        start_at: datetime | None,
        granularity: Granularity,
    ) -> Awaitable[Telemetry]:
        """Fetch the window of `granularity` from `start_at`."""
        ...


def _always(devices: Devices) -> bool:
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """One telemetry endpoint, the statistics it feeds and the systems that have it.

    The declaration of an energy stream: `SOURCES` lists the ones every system may
    have and the coordinator follows each that `applies` to a system's devices;
    device streams (an EV charger's) are declared the same way when the device
    appears (see `ev_charger.py`).
    """

    key: str
    fetch: Fetch
    streams: tuple[AnyStream, ...]
    applies: Callable[[Devices], bool] = _always


PRODUCTION = Source(
    key="production",
    fetch=EnphaseClient.async_get_production_telemetry,
    streams=(Stream.PRODUCTION,),
)
CONSUMPTION = Source(
    key="consumption",
    fetch=EnphaseClient.async_get_consumption_telemetry,
    streams=(Stream.CONSUMPTION,),
    applies=lambda devices: devices.has_consumption_meter,
)
GRID_IMPORT = Source(
    key="grid_import",
    fetch=EnphaseClient.async_get_import_telemetry,
    streams=(Stream.GRID_IMPORT,),
    applies=lambda devices: devices.has_consumption_meter,
)
GRID_EXPORT = Source(
    key="grid_export",
    fetch=EnphaseClient.async_get_export_telemetry,
    streams=(Stream.GRID_EXPORT,),
    applies=lambda devices: devices.has_consumption_meter,
)
BATTERY = Source(
    key="battery",
    fetch=EnphaseClient.async_get_battery_telemetry,
    streams=(Stream.BATTERY_CHARGE, Stream.BATTERY_DISCHARGE, Stream.BATTERY_SOC),
    applies=lambda devices: devices.has_battery,
)
SOURCES: tuple[Source, ...] = (PRODUCTION, CONSUMPTION, GRID_IMPORT, GRID_EXPORT, BATTERY)
"""The system-level energy streams, in the order they are fetched."""


def latest_level(telemetry: BatteryTelemetry) -> BatteryLevel | None:
    """Return the last state of charge the telemetry reports, if any."""
    for interval in reversed(telemetry.intervals):
        if interval.soc_percent is not None:
            return BatteryLevel(percent=interval.soc_percent, measured_at=interval.end_at)
    return None


def floor_hour(moment: datetime) -> datetime:
    """Return the start of the UTC hour holding `moment` (the recorder's hour grid)."""
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(slots=True, kw_only=True)
class SyncResult:
    """What one catch-up did."""

    calls: int = 0
    caught_up: bool = False
    battery_level: BatteryLevel | None = None


class TelemetrySync:
    """Keeps one system's statistics for one endpoint complete."""

    def __init__(
        self,
        client: EnphaseClient,
        importer: StatisticsImporter,
        source: Source,
        *,
        system_id: int,
        horizon: timedelta,
    ) -> None:
        """Follow `source` of `system_id`, importing no further back than `horizon`."""
        self._client = client
        self._importer = importer
        self.source = source
        self.system_id = system_id
        self._horizon = horizon
        self._cursor: datetime | None = None
        self._loaded = False
        # Set when a fetch found no more data: the stream waits for the next upload.
        self.idle = False
        # Set when a catch-up ran out of calls with more data already waiting.
        self._cut_short = False
        self.import_failures = 0
        """Windows the importer could not write (for diagnostics)."""

    async def async_cursor(self, now: datetime) -> datetime:
        """Return where the next fetch starts, reading the recorder the first time."""
        if not self._loaded:
            resumes = [
                await self._importer.async_resume_point(stream) for stream in self.source.streams
            ]
            known = [resume for resume in resumes if resume is not None]
            # Streams of one endpoint are written together; the earliest one is the safe restart.
            self._cursor = min(known) if known else None
            self._loaded = True
        oldest = floor_hour(now - self._horizon)
        if self._cursor is None or self._cursor < oldest:
            return oldest
        return self._cursor

    async def async_behind(self, now: datetime) -> timedelta:
        """Return how far the cursor lags behind now."""
        return now - await self.async_cursor(now)

    async def async_needs_history(self, now: datetime) -> bool:
        """Return whether more data may be waiting and it is history's to fetch.

        That is when more than a day is missing, or when the last catch-up ran out
        of calls: its remainder may be less than a day, which the regular rounds
        would otherwise leave for their next turn (a day later on the free plan).
        """
        return not self.idle and (self._cut_short or await self.async_behind(now) > DAY)

    async def async_catch_up(self, now: datetime, max_calls: int) -> SyncResult:
        """Fetch and import windows from the cursor until caught up or out of calls."""
        result = SyncResult()
        self.idle = False
        while result.calls < max_calls:
            start = await self.async_cursor(now)
            if result.calls == 0:
                # The first read re-reads the settling window for free (see the module doc).
                start = min(start, max(floor_hour(now - SETTLE), floor_hour(now - self._horizon)))
            granularity = Granularity.DAY if now - start <= DAY else Granularity.WEEK
            window_end = start + (DAY if granularity is Granularity.DAY else WEEK)
            telemetry = await self.source.fetch(
                self._client, self.system_id, start_at=start, granularity=granularity
            )
            result.calls += 1
            try:
                last_end = await self._import(telemetry, result)
            except Exception as err:  # noqa: BLE001 - one stream's fault must not stop the others
                # The cursor stays: the next poll reads the same window again.
                self.import_failures += 1
                LOGGER.warning(
                    "Importing %s of system %s failed (%s); retrying at the next poll",
                    self.source.key,
                    self.system_id,
                    type(err).__name__,
                )
                result.caught_up = True
                break
            if last_end is None:
                # Nothing reported after the cursor yet (empty list = "not yet", never zero).
                result.caught_up = True
                break
            previous_day = start.date()
            self._cursor = max(start, floor_hour(last_end - timedelta(seconds=1)))
            if self._cursor.date() != previous_day and now - self._cursor > DAY:
                LOGGER.info(
                    "Imported %s history of system %s up to %s",
                    self.source.key,
                    self.system_id,
                    self._cursor.date().isoformat(),
                )
            # A window that ends before the data does is full: more may follow it.
            if last_end < min(window_end, now) - HOUR:
                result.caught_up = True
                break
            if window_end >= now:
                result.caught_up = True
                break
        self.idle = result.caught_up
        self._cut_short = not result.caught_up
        return result

    async def _import(self, telemetry: Telemetry, result: SyncResult) -> datetime | None:
        """Write the intervals to the recorder; return the end of the last one."""
        if not telemetry.intervals:
            return None
        if isinstance(telemetry, BatteryTelemetry):
            charge_stream, discharge_stream, _soc_stream = self.source.streams
            intervals = telemetry.intervals
            await self._importer.async_import_energy(
                charge_stream, [EnergyPoint(i.end_at, i.charge_wh) for i in intervals]
            )
            await self._importer.async_import_energy(
                discharge_stream, [EnergyPoint(i.end_at, i.discharge_wh) for i in intervals]
            )
            socs = [
                SocPoint(i.end_at, float(i.soc_percent))
                for i in intervals
                if i.soc_percent is not None
            ]
            await self._importer.async_import_soc(socs)
            result.battery_level = latest_level(telemetry)
            return intervals[-1].end_at
        (stream,) = self.source.streams
        await self._importer.async_import_energy(
            stream, [EnergyPoint(i.end_at, i.wh) for i in telemetry.intervals]
        )
        return telemetry.intervals[-1].end_at
