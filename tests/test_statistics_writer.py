"""Tests for the long-term statistics importer.

The pure functions (bucketing, sum continuation) are tested on their own, many
examples included; the importer is tested against the real recorder (SQLite in
memory), which the conftest starts for every test that uses `hass`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
import itertools
import math
import random
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from homeassistant.components.energy import data as energy_data, validate as energy_validate
from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import (
    async_list_statistic_ids,
    statistics_during_period,
    valid_statistic_id,
)
from homeassistant.helpers.recorder import get_instance
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.enphase_cloud.statistics_writer import (
    ENERGY_STREAMS,
    HOUR,
    EnergyPoint,
    HourEnergy,
    HourSoc,
    SocPoint,
    StatisticsImporter,
    Stream,
    bucket_energy,
    bucket_soc,
    continue_sums,
    interval_hour,
    statistic_id,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from homeassistant.core import HomeAssistant

SYSTEM_ID = 1001
NAME = "Casa Solar"
Q = timedelta(minutes=15)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Well in the past, so nothing depends on "now".
T0 = datetime(2025, 6, 2, 10, tzinfo=UTC)
PROD = statistic_id(SYSTEM_ID, Stream.PRODUCTION)

type Row = tuple[datetime, int, int]  # start, Wh in the hour, cumulative Wh


def h(n: int) -> datetime:
    """Return the start of the n-th hour after T0."""
    return T0 + n * HOUR


def hour_points(first_hour: int, *hours: Sequence[int]) -> list[EnergyPoint]:
    """Return the intervals of consecutive hours, each given as its 4 interval values.

    An hour may list fewer than 4 values: a partial hour, its first intervals only.
    """
    points: list[EnergyPoint] = []
    for offset, whs in enumerate(hours):
        start = h(first_hour + offset)
        points.extend(EnergyPoint(start + (i + 1) * Q, wh) for i, wh in enumerate(whs))
    return points


def rows_of(first_hour: int, hourly_wh: Sequence[int], base: int = 0) -> list[Row]:
    """Return the rows expected for consecutive hours continuing from `base`."""
    sums = itertools.accumulate(hourly_wh, initial=base)
    next(sums)
    return [
        (h(first_hour + n), wh, s) for n, (wh, s) in enumerate(zip(hourly_wh, sums, strict=True))
    ]


async def stored(
    hass: HomeAssistant, stream: Stream = Stream.PRODUCTION, system_id: int = SYSTEM_ID
) -> list[Row]:
    """Return the stored hourly rows of a stream in Wh, oldest first."""
    await async_wait_recording_done(hass)
    stat_id = statistic_id(system_id, stream)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, EPOCH, None, {stat_id}, "hour", None, {"state", "sum"}
    )
    return [
        (
            datetime.fromtimestamp(row["start"], UTC),
            round(row["state"] * 1000),
            round(row["sum"] * 1000),
        )
        for row in result.get(stat_id, [])
    ]


def assert_monotonic(rows: Sequence[Row]) -> None:
    """Assert sums never decrease and each sum is the previous one plus the hour's energy."""
    for before, after in itertools.pairwise(rows):
        assert after[2] >= before[2], (before, after)
        assert after[2] == before[2] + after[1], (before, after)


@pytest.fixture
def importer(hass: HomeAssistant) -> StatisticsImporter:
    """Return an importer for the test system."""
    return StatisticsImporter(hass, SYSTEM_ID, NAME)


# --- Identifiers -------------------------------------------------------------------


def test_statistic_ids_are_valid_and_distinct() -> None:
    assert statistic_id(1001, Stream.PRODUCTION) == "enphase_cloud:1001_production"
    ids = {statistic_id(SYSTEM_ID, stream) for stream in Stream}
    assert len(ids) == len(Stream)
    assert all(valid_statistic_id(stat_id) for stat_id in ids)
    assert Stream.BATTERY_SOC not in ENERGY_STREAMS
    assert set(ENERGY_STREAMS) == set(Stream) - {Stream.BATTERY_SOC}


# --- Pure functions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("end_at", "hour"),
    [
        (datetime(2025, 6, 2, 11, 0, tzinfo=UTC), datetime(2025, 6, 2, 10, tzinfo=UTC)),
        (datetime(2025, 6, 2, 10, 15, tzinfo=UTC), datetime(2025, 6, 2, 10, tzinfo=UTC)),
        (datetime(2025, 6, 2, 10, 45, tzinfo=UTC), datetime(2025, 6, 2, 10, tzinfo=UTC)),
        (datetime(2025, 6, 2, 11, 15, tzinfo=UTC), datetime(2025, 6, 2, 11, tzinfo=UTC)),
        # Midnight UTC closes the last hour of the previous day.
        (datetime(2025, 6, 3, 0, 0, tzinfo=UTC), datetime(2025, 6, 2, 23, tzinfo=UTC)),
        # Other zones are converted: 12:00 CEST is 10:00 UTC.
        (
            datetime(2025, 6, 2, 12, 0, tzinfo=ZoneInfo("Europe/Amsterdam")),
            datetime(2025, 6, 2, 9, tzinfo=UTC),
        ),
        # A +05:45 zone still lands on UTC quarter hours: 16:00 local is 10:15 UTC.
        (
            datetime(2025, 6, 2, 16, 0, tzinfo=ZoneInfo("Asia/Kathmandu")),
            datetime(2025, 6, 2, 10, tzinfo=UTC),
        ),
    ],
)
def test_interval_hour(end_at: datetime, hour: datetime) -> None:
    result = interval_hour(end_at)
    assert result == hour
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    "end_at",
    [
        datetime(2025, 6, 2, 11, 0),  # noqa: DTZ001 - the naive value under test
        datetime(2025, 6, 2, 11, 7, tzinfo=UTC),
        datetime(2025, 6, 2, 11, 15, 30, tzinfo=UTC),
        datetime(2025, 6, 2, 11, 15, 0, 1, tzinfo=UTC),
        # 11:00 in a +05:30 zone is 05:30 UTC: fine. 11:10 there is not a quarter.
        datetime(2025, 6, 2, 11, 10, tzinfo=ZoneInfo("Asia/Kolkata")),
    ],
)
def test_interval_hour_rejects(end_at: datetime) -> None:
    with pytest.raises(ValueError, match=r"time zone|quarter hour"):
        interval_hour(end_at)


def test_bucket_energy_sorts_dedupes_and_fills_holes() -> None:
    points = [
        EnergyPoint(h(2) + Q, 50),
        EnergyPoint(h(0) + 2 * Q, 200),
        EnergyPoint(h(0) + Q, 100),
        # Redelivered: the later point in the sequence wins.
        EnergyPoint(h(0) + 2 * Q, 250),
        # Same instant as h(0)+Q written in another zone: still a duplicate.
        EnergyPoint((h(0) + Q).astimezone(ZoneInfo("America/Los_Angeles")), 120),
    ]
    assert bucket_energy(points) == [(h(0), 370), (h(1), 0), (h(2), 50)]
    assert bucket_energy([]) == []


@pytest.mark.parametrize(
    "point",
    [
        EnergyPoint(h(0) + Q, -1),
        EnergyPoint(h(0) + Q, 1.5),  # type: ignore[arg-type]
        EnergyPoint(h(0) + Q, True),  # noqa: FBT003 - a bool is not energy
        EnergyPoint(h(0).replace(tzinfo=None) + Q, 1),
        EnergyPoint(h(0) + timedelta(minutes=20), 1),
    ],
)
def test_bucket_energy_rejects(point: EnergyPoint) -> None:
    with pytest.raises(ValueError, match=r"Wh|time zone|quarter hour"):
        bucket_energy([EnergyPoint(h(0) + Q, 1), point])


def test_continue_sums_from_base() -> None:
    hours = [(h(0), 100), (h(1), 0), (h(2), 25)]
    assert continue_sums(hours, 5000, []) == [
        HourEnergy(h(0), 100, 5100),
        HourEnergy(h(1), 0, 5100),
        HourEnergy(h(2), 25, 5125),
    ]
    assert continue_sums([], 5000, [HourEnergy(h(0), 1, 1)]) == []


def test_continue_sums_shifts_later_hours() -> None:
    existing = [
        HourEnergy(h(0), 100, 1100),
        HourEnergy(h(1), 10, 1110),
        HourEnergy(h(2), 5, 1115),
        HourEnergy(h(4), 7, 1122),  # after a gap
    ]
    # Hour 1 corrected from 10 to 40 Wh: later hours keep their energy, move by 30.
    assert continue_sums([(h(1), 40)], 1100, existing[1:]) == [
        HourEnergy(h(1), 40, 1140),
        HourEnergy(h(2), 5, 1145),
        HourEnergy(h(4), 7, 1152),
    ]
    # Corrected down: the later sums move down but still never decrease in time.
    assert continue_sums([(h(1), 0)], 1100, existing[1:]) == [
        HourEnergy(h(1), 0, 1100),
        HourEnergy(h(2), 5, 1105),
        HourEnergy(h(4), 7, 1112),
    ]
    # Unchanged total: nothing after the batch needs rewriting.
    assert continue_sums([(h(0), 100), (h(1), 10)], 1000, existing) == existing[:2]
    # A batch filling the gap before hour 4 (nothing stored inside it).
    assert continue_sums([(h(3), 8)], 1115, existing[3:]) == [
        HourEnergy(h(3), 8, 1123),
        HourEnergy(h(4), 7, 1130),
    ]


def test_bucket_soc() -> None:
    points = [
        SocPoint(h(0) + Q, 50),
        SocPoint(h(0) + 2 * Q, 60.0),
        SocPoint(h(0) + 3 * Q, 10.0),
        SocPoint(h(0) + 3 * Q, 70.0),  # the later duplicate wins
        SocPoint(h(3) + Q, 100.0),  # hours in between have no reading: left out
    ]
    assert bucket_soc(points) == [
        HourSoc(h(0), 60.0, 50.0, 70.0),
        HourSoc(h(3), 100.0, 100.0, 100.0),
    ]
    assert bucket_soc([]) == []


@pytest.mark.parametrize(
    "point",
    [
        SocPoint(h(0) + Q, math.nan),
        SocPoint(h(0) + Q, math.inf),
        SocPoint(h(0) + Q, -0.5),
        SocPoint(h(0) + Q, 100.5),
        SocPoint(h(0) + Q, "97%"),  # type: ignore[arg-type]
        SocPoint(h(0) + Q, True),  # noqa: FBT003 - a bool is not a percentage
        SocPoint(h(0).replace(tzinfo=None) + Q, 50),
        SocPoint(h(0) + timedelta(minutes=5), 50),
    ],
)
def test_bucket_soc_rejects(point: SocPoint) -> None:
    with pytest.raises(ValueError, match=r"percentage|time zone|quarter hour"):
        bucket_soc([point])


# --- Importer against the recorder -------------------------------------------------


async def test_first_import(hass: HomeAssistant, importer: StatisticsImporter) -> None:
    points = hour_points(0, [100, 200, 300, 400], [1, 2, 3, 4], [123])
    assert await importer.async_import_energy(Stream.PRODUCTION, points) == 3
    assert await stored(hass) == rows_of(0, [1000, 10, 123])

    listed = await async_list_statistic_ids(hass, statistic_type="sum")
    assert {
        "statistic_id": PROD,
        "display_unit_of_measurement": "kWh",
        "has_mean": False,
        "mean_type": StatisticMeanType.NONE,
        "has_sum": True,
        "name": "Casa Solar Production",
        "source": "enphase_cloud",
        "statistics_unit_of_measurement": "kWh",
        "unit_class": "energy",
    } in listed

    # kWh exactly as the integer Wh divided by 1000, no float drift.
    raw = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, EPOCH, None, {PROD}, "hour", None, {"state", "sum"}
    )
    assert [(row["state"], row["sum"]) for row in raw[PROD]] == [
        (1.0, 1.0),
        (0.01, 1.01),
        (0.123, 1.133),
    ]


async def test_continuation_across_calls(hass: HomeAssistant, importer: StatisticsImporter) -> None:
    await importer.async_import_energy(
        Stream.PRODUCTION, hour_points(0, [1, 2, 3, 4], [5, 5, 5, 5])
    )
    await importer.async_import_energy(
        Stream.PRODUCTION, hour_points(2, [7, 0, 0, 0], [1, 1, 1, 1])
    )
    rows = await stored(hass)
    assert rows == rows_of(0, [10, 20, 7, 4])
    assert_monotonic(rows)


async def test_partial_hour_then_completion(
    hass: HomeAssistant, importer: StatisticsImporter
) -> None:
    await importer.async_import_energy(Stream.PRODUCTION, hour_points(0, [10, 10, 10, 10], [5, 6]))
    assert await stored(hass) == rows_of(0, [40, 11])
    resume = await importer.async_resume_point(Stream.PRODUCTION)
    assert resume == h(1)

    # The caller fetches again from the resume point: the partial hour comes whole.
    await importer.async_import_energy(Stream.PRODUCTION, hour_points(1, [5, 6, 7, 8], [1]))
    rows = await stored(hass)
    assert rows == rows_of(0, [40, 26, 1])
    assert await importer.async_resume_point(Stream.PRODUCTION) == h(2)


async def test_reimport_is_idempotent(hass: HomeAssistant, importer: StatisticsImporter) -> None:
    points = hour_points(0, [1, 2, 3, 4], [0, 0, 0, 0], [9, 9, 9, 9], [100])
    await importer.async_import_energy(Stream.PRODUCTION, points)
    first = await stored(hass)
    assert first == rows_of(0, [10, 0, 36, 100])

    await importer.async_import_energy(Stream.PRODUCTION, points)
    assert await stored(hass) == first
    # Shuffled, redelivered and only a middle part: still nothing changes.
    middle = points[4:12]
    shuffled = random.Random(4).sample(middle, len(middle))  # noqa: S311 - not crypto
    await importer.async_import_energy(Stream.PRODUCTION, shuffled + middle[:3])
    assert await stored(hass) == first


async def test_corrected_old_hour_shifts_later_sums(
    hass: HomeAssistant, importer: StatisticsImporter
) -> None:
    await importer.async_import_energy(
        Stream.PRODUCTION,
        hour_points(0, [1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3], [4, 4, 4, 4], [5, 5]),
    )
    assert await stored(hass) == rows_of(0, [4, 8, 12, 16, 10])

    # Enphase revises hour 1 up: every later sum moves by the difference.
    assert (
        await importer.async_import_energy(Stream.PRODUCTION, hour_points(1, [2, 2, 2, 102])) == 1
    )
    rows = await stored(hass)
    assert rows == rows_of(0, [4, 108, 12, 16, 10])
    assert_monotonic(rows)

    # And down again, below the original: sums move down, never jump or go backwards.
    await importer.async_import_energy(Stream.PRODUCTION, hour_points(1, [0, 0, 0, 0]))
    rows = await stored(hass)
    assert rows == rows_of(0, [4, 0, 12, 16, 10])
    assert_monotonic(rows)


async def test_holes_written_as_zero_and_filled_later(
    hass: HomeAssistant, importer: StatisticsImporter
) -> None:
    # Hours 1 and 2 have no interval at all, hour 3 misses its first two.
    points = [*hour_points(0, [5, 5, 5, 5]), EnergyPoint(h(3) + 3 * Q, 7), EnergyPoint(h(4), 8)]
    assert await importer.async_import_energy(Stream.PRODUCTION, points) == 4
    rows = await stored(hass)
    assert rows == rows_of(0, [20, 0, 0, 15])
    assert_monotonic(rows)

    # The gateway uploads its buffered intervals for hour 2 later.
    await importer.async_import_energy(Stream.PRODUCTION, hour_points(2, [1, 2, 3, 4]))
    rows = await stored(hass)
    assert rows == rows_of(0, [20, 0, 10, 15])
    assert_monotonic(rows)


async def test_import_after_week_long_gap(
    hass: HomeAssistant, importer: StatisticsImporter
) -> None:
    await importer.async_import_energy(Stream.PRODUCTION, hour_points(0, [1, 2, 3, 4], [5]))
    week = 7 * 24
    later = hour_points(week, [10, 10, 10, 10], [10, 10, 10, 10], [3])
    assert await importer.async_import_energy(Stream.PRODUCTION, later) == 3
    rows = await stored(hass)
    # Nothing is invented for the week offline; the sum continues where it stopped.
    assert rows == rows_of(0, [10, 5]) + rows_of(week, [40, 40, 3], base=15)
    assert await importer.async_resume_point(Stream.PRODUCTION) == h(week + 2)

    # The backlog arrives afterwards: hours in the gap land, the week after shifts.
    backlog = hour_points(100, [1, 1, 1, 1], [2, 2, 2, 2])
    await importer.async_import_energy(Stream.PRODUCTION, backlog)
    rows = await stored(hass)
    assert rows == rows_of(0, [10, 5]) + rows_of(100, [4, 8], base=15) + rows_of(
        week, [40, 40, 3], base=27
    )
    assert all(after[2] >= before[2] for before, after in itertools.pairwise(rows))


async def test_backfill_before_first_import(
    hass: HomeAssistant, importer: StatisticsImporter
) -> None:
    await importer.async_import_energy(Stream.PRODUCTION, hour_points(10, [1, 1, 1, 1], [2]))
    # Older history imported afterwards, with a gap before the stored hours.
    await importer.async_import_energy(Stream.PRODUCTION, hour_points(0, [5, 5, 5, 5], [6]))
    assert await stored(hass) == rows_of(0, [20, 6]) + rows_of(10, [4, 2], base=26)
    # And into the middle of the gap: base from before it, the rest shifted.
    await importer.async_import_energy(Stream.PRODUCTION, hour_points(5, [0, 0, 0, 100]))
    assert await stored(hass) == (
        rows_of(0, [20, 6]) + rows_of(5, [100], base=26) + rows_of(10, [4, 2], base=126)
    )


@dataclass(frozen=True)
class DstCase:
    """A local day and how many hours it has."""

    zone: str
    day: date
    hours: int


@pytest.mark.parametrize(
    "case",
    [
        DstCase("Europe/Amsterdam", date(2025, 3, 30), 23),
        DstCase("Europe/Amsterdam", date(2025, 10, 26), 25),
        DstCase("Europe/Amsterdam", date(2025, 6, 2), 24),
        DstCase("America/Los_Angeles", date(2025, 3, 9), 23),
        DstCase("America/Los_Angeles", date(2025, 11, 2), 25),
    ],
    ids=lambda case: f"{case.zone}-{case.day}",
)
async def test_dst_days(hass: HomeAssistant, importer: StatisticsImporter, case: DstCase) -> None:
    await hass.config.async_set_time_zone(case.zone)
    zone = ZoneInfo(case.zone)
    day_start = datetime.combine(case.day, time(0), zone).astimezone(UTC)
    day_end = datetime.combine(case.day + timedelta(days=1), time(0), zone).astimezone(UTC)
    assert day_end - day_start == timedelta(hours=case.hours)

    # Two hours either side of the local day; times given in the local zone, so the
    # repeated 01:00-02:00 of a fall-back day must be told apart by its offset.
    first_end = day_start - 2 * HOUR + Q
    count = (day_end - day_start + 4 * HOUR) // Q
    points = [
        EnergyPoint((first_end + n * Q).astimezone(zone), (n * 37) % 500 + 1) for n in range(count)
    ]
    # Imported the way the coordinator does: from the resume point, in bursts.
    delivered = 0
    while delivered < len(points):
        resume = await importer.async_resume_point(Stream.PRODUCTION)
        batch = [p for p in points[: delivered + 30] if resume is None or p.end_at > resume]
        await importer.async_import_energy(Stream.PRODUCTION, batch)
        delivered += 30

    rows = await stored(hass)
    assert_monotonic(rows)
    in_day = [row for row in rows if day_start <= row[0] < day_end]
    assert len(in_day) == case.hours
    day_wh = sum(p.wh for p in points if day_start < p.end_at <= day_end)
    before = next(row for row in rows if row[0] == day_start - HOUR)
    assert in_day[-1][2] - before[2] == day_wh
    assert sum(p.wh for p in points) == rows[-1][2]

    # The Energy dashboard's daily view: HA groups hours by local day.
    # HA rounds the end up to the next local midnight: ask up to the day's last hour.
    daily = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, day_start, day_end - HOUR, {PROD}, "day", None, {"change"}
    )
    assert [round(row["change"] * 1000) for row in daily[PROD]] == [day_wh]


async def test_system_zone_differs_from_home_assistant(hass: HomeAssistant) -> None:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    in_utc = hour_points(0, [1, 2, 3, 4], [5, 6, 7, 8], [9])
    los_angeles = ZoneInfo("America/Los_Angeles")
    in_system_zone = [EnergyPoint(p.end_at.astimezone(los_angeles), p.wh) for p in in_utc]
    await StatisticsImporter(hass, 1, "UTC").async_import_energy(Stream.PRODUCTION, in_utc)
    await StatisticsImporter(hass, 2, "LA").async_import_energy(Stream.PRODUCTION, in_system_zone)
    assert (
        await stored(hass, system_id=1)
        == await stored(hass, system_id=2)
        == rows_of(0, [10, 26, 9])
    )


async def test_soc(hass: HomeAssistant, importer: StatisticsImporter) -> None:
    points = [
        SocPoint(h(0) + Q, 40.0),
        SocPoint(h(0) + 2 * Q, 50.0),
        SocPoint(h(0) + 3 * Q, 60.0),
        SocPoint(h(1), 70.0),
        SocPoint(h(1) + Q, 80.0),
        SocPoint(h(1) + Q, 90.0),  # redelivered
    ]
    assert await importer.async_import_soc(points) == 2
    assert await importer.async_import_soc([]) == 0
    await async_wait_recording_done(hass)
    soc_id = statistic_id(SYSTEM_ID, Stream.BATTERY_SOC)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, EPOCH, None, {soc_id}, "hour", None, {"mean", "min", "max"}
    )
    assert [
        (datetime.fromtimestamp(row["start"], UTC), row["mean"], row["min"], row["max"])
        for row in result[soc_id]
    ] == [(h(0), 55.0, 40.0, 70.0), (h(1), 90.0, 90.0, 90.0)]

    (meta,) = await async_list_statistic_ids(hass, {soc_id})
    assert meta["mean_type"] == StatisticMeanType.ARITHMETIC
    assert meta["has_sum"] is False
    assert meta["statistics_unit_of_measurement"] == "%"
    assert meta["unit_class"] is None
    assert meta["name"] == "Casa Solar Battery state of charge"
    assert await importer.async_resume_point(Stream.BATTERY_SOC) == h(1)


async def test_resume_point(hass: HomeAssistant, importer: StatisticsImporter) -> None:
    assert await importer.async_resume_point(Stream.PRODUCTION) is None
    await importer.async_import_energy(Stream.PRODUCTION, hour_points(0, [1, 1, 1, 1], [1]))
    await importer.async_import_energy(Stream.GRID_EXPORT, hour_points(5, [1]))
    resume = await importer.async_resume_point(Stream.PRODUCTION)
    assert resume == h(1)
    assert resume.tzinfo is UTC
    assert await importer.async_resume_point(Stream.GRID_EXPORT) == h(5)
    assert await importer.async_resume_point(Stream.GRID_IMPORT) is None
    # Read from the recorder, not from the instance that wrote.
    other = StatisticsImporter(hass, SYSTEM_ID, NAME)
    assert await other.async_resume_point(Stream.PRODUCTION) == h(1)
    assert await StatisticsImporter(hass, 2, NAME).async_resume_point(Stream.PRODUCTION) is None


async def test_malformed_points_are_quarantined_alone(
    hass: HomeAssistant, importer: StatisticsImporter, caplog: pytest.LogCaptureFixture
) -> None:
    good = hour_points(0, [1, 2, 3, 4])
    negative = EnergyPoint(h(1) + Q, -5)
    off_quarter = EnergyPoint(h(1) + timedelta(minutes=10), 5)
    naive = EnergyPoint(h(1).replace(tzinfo=None), 5)
    for _ in range(2):  # read twice (the settling window): logged and counted once
        assert (
            await importer.async_import_energy(
                Stream.PRODUCTION,
                [*good, negative, off_quarter, naive, EnergyPoint(h(1) + 2 * Q, 7)],
            )
            == 2
        )
    assert await stored(hass) == [(h(0), 10, 10), (h(1), 7, 17)]
    stat_id = statistic_id(SYSTEM_ID, Stream.PRODUCTION)
    soc_id = statistic_id(SYSTEM_ID, Stream.BATTERY_SOC)
    assert await importer.async_import_soc([SocPoint(h(0) + Q, 50), SocPoint(h(0) + 2 * Q, 150)])
    assert importer.quarantined == {stat_id: 3, soc_id: 1}
    assert sum("Left out one interval" in r.message for r in caplog.records) == 4
    # A later sound read of the quarantined interval lands as usual.
    await importer.async_import_energy(Stream.PRODUCTION, [*hour_points(1, [0, 5, 7, 0])])
    assert await stored(hass) == [(h(0), 10, 10), (h(1), 12, 22)]
    with pytest.raises(ValueError, match="async_import_soc"):
        await importer.async_import_energy(Stream.BATTERY_SOC, good)
    assert await importer.async_import_energy(Stream.PRODUCTION, [negative]) == 0


async def test_concurrent_imports_of_one_stream(
    hass: HomeAssistant, importer: StatisticsImporter
) -> None:
    other = StatisticsImporter(hass, SYSTEM_ID, NAME)
    await asyncio.gather(
        importer.async_import_energy(Stream.PRODUCTION, hour_points(0, [1, 1, 1, 1], [2, 2, 2, 2])),
        other.async_import_energy(Stream.PRODUCTION, hour_points(2, [3, 3, 3, 3], [4, 4, 4, 4])),
        importer.async_import_energy(Stream.PRODUCTION, hour_points(4, [5, 5, 5, 5])),
    )
    rows = await stored(hass)
    assert rows == rows_of(0, [4, 8, 12, 16, 20])


async def test_rename_updates_statistic_name(hass: HomeAssistant) -> None:
    await StatisticsImporter(hass, SYSTEM_ID, NAME).async_import_energy(
        Stream.GRID_IMPORT, hour_points(0, [1])
    )
    await StatisticsImporter(hass, SYSTEM_ID, "Casa Nueva").async_import_energy(
        Stream.GRID_IMPORT, hour_points(0, [1])
    )
    await async_wait_recording_done(hass)
    (meta,) = await async_list_statistic_ids(hass, {statistic_id(SYSTEM_ID, Stream.GRID_IMPORT)})
    assert meta["name"] == "Casa Nueva Grid import"


async def test_energy_dashboard_accepts_the_statistics(
    hass: HomeAssistant, importer: StatisticsImporter
) -> None:
    for stream in ENERGY_STREAMS:
        await importer.async_import_energy(stream, hour_points(0, [1, 2, 3, 4]))
    await importer.async_import_soc([SocPoint(h(0) + Q, 50.0)])
    await async_wait_recording_done(hass)

    ids = {stream: statistic_id(SYSTEM_ID, stream) for stream in Stream}
    listed = await async_list_statistic_ids(hass, statistic_type="sum")
    assert {row["statistic_id"]: row["display_unit_of_measurement"] for row in listed} == {
        ids[stream]: "kWh" for stream in ENERGY_STREAMS
    }

    manager = await energy_data.async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "solar",
                    "stat_energy_from": ids[Stream.PRODUCTION],
                    "config_entry_solar_forecast": None,
                },
                {
                    "type": "battery",
                    "stat_energy_from": ids[Stream.BATTERY_DISCHARGE],
                    "stat_energy_to": ids[Stream.BATTERY_CHARGE],
                    "stat_soc": ids[Stream.BATTERY_SOC],
                },
                {
                    "type": "grid",
                    "stat_energy_from": ids[Stream.GRID_IMPORT],
                    "stat_energy_to": ids[Stream.GRID_EXPORT],
                    "stat_cost": None,
                    "entity_energy_price": None,
                    "number_energy_price": None,
                    "stat_compensation": None,
                    "entity_energy_price_export": None,
                    "number_energy_price_export": None,
                    "cost_adjustment_day": 0,
                },
            ],
            "device_consumption": [{"stat_consumption": ids[Stream.CONSUMPTION]}],
        }
    )
    validation = await energy_validate.async_validate(hass)
    assert validation.as_dict() == {
        "energy_sources": [[], [], []],
        "device_consumption": [[]],
        "device_consumption_water": [],
    }


# --- Property: any delivery order ends in the right sums --------------------------

N_HOURS = 6
N_INTERVALS = 4 * N_HOURS


@dataclass(frozen=True)
class Delivery:
    """One upload as the caller hands it over: hours first..last, possibly incomplete."""

    first: int
    last: int
    cut_tail: int  # intervals at the end not uploaded yet (a partial last hour)
    missing: frozenset[int]  # intervals (offsets in the batch) not uploaded yet
    preliminary: dict[int, int]  # offset -> a value Enphase corrects later
    stale_copies: frozenset[int]  # offsets also delivered earlier in the list, wrongly
    order: random.Random


@st.composite
def deliveries(draw: st.DrawFn) -> Delivery:
    """Draw one delivery."""
    first = draw(st.integers(0, N_HOURS - 1))
    last = draw(st.integers(first, N_HOURS - 1))
    size = 4 * (last - first + 1)
    offsets = st.integers(0, size - 1)
    return Delivery(
        first=first,
        last=last,
        cut_tail=draw(st.integers(0, 3)),
        missing=frozenset(draw(st.sets(offsets, max_size=3))),
        preliminary=draw(st.dictionaries(offsets, st.integers(0, 3000), max_size=3)),
        stale_copies=frozenset(draw(st.sets(offsets, max_size=3))),
        order=draw(st.randoms(use_true_random=False)),
    )


@dataclass(frozen=True)
class Scenario:
    """The true series and how it gets delivered."""

    truth: list[int]  # Wh of interval n (ends at T0 + (n+1)*15min)
    deliveries: list[Delivery]
    repair_order: list[int]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Draw a ground truth and a random sequence of overlapping deliveries."""
    return Scenario(
        truth=draw(st.lists(st.integers(0, 2000), min_size=N_INTERVALS, max_size=N_INTERVALS)),
        deliveries=draw(st.lists(deliveries(), min_size=1, max_size=6)),
        repair_order=draw(st.permutations(range(N_HOURS))),
    )


def delivered_points(
    truth: Sequence[int], delivery: Delivery
) -> tuple[list[EnergyPoint], dict[int, int]]:
    """Return a delivery's points (shuffled, stale copies first) and its hours' Wh.

    The hours' Wh is computed independently of the code under test: the expected
    stored value of every hour from the first to the last delivered interval.
    """
    base = 4 * delivery.first
    size = 4 * (delivery.last - delivery.first + 1) - delivery.cut_tail
    values = {
        base + offset: delivery.preliminary.get(offset, truth[base + offset])
        for offset in range(size)
        if offset not in delivery.missing
    }
    points = [EnergyPoint(T0 + (n + 1) * Q, wh) for n, wh in values.items()]
    delivery.order.shuffle(points)
    stale = [
        EnergyPoint(T0 + (base + offset + 1) * Q, 99_999)
        for offset in sorted(delivery.stale_copies)
        if base + offset in values
    ]
    hours: dict[int, int] = {}
    if values:
        for hour in range(min(values) // 4, max(values) // 4 + 1):
            hours[hour] = sum(values.get(4 * hour + i, 0) for i in range(4))
    return stale + points, hours


def expected_rows(hours: dict[int, int]) -> list[Row]:
    """Return the rows a store holding these hours' Wh must show."""
    rows: list[Row] = []
    total = 0
    for hour in sorted(hours):
        total += hours[hour]
        rows.append((h(hour), hours[hour], total))
    return rows


def repair_batches(truth: Sequence[int], scenario: Scenario) -> Iterable[list[EnergyPoint]]:
    """Yield one complete single-hour batch per hour, in the scenario's repair order."""
    for hour in scenario.repair_order:
        yield [EnergyPoint(T0 + (n + 1) * Q, truth[n]) for n in range(4 * hour, 4 * hour + 4)]


def truth_rows(truth: Sequence[int]) -> list[Row]:
    """Return the rows of the fully delivered ground truth."""
    return expected_rows({hour: sum(truth[4 * hour : 4 * hour + 4]) for hour in range(N_HOURS)})


class MemoryStore:
    """The recorder's semantics for one statistic: rows upserted by hour start."""

    def __init__(self) -> None:
        """Start empty."""
        self.rows: dict[datetime, HourEnergy] = {}

    def import_energy(self, points: Sequence[EnergyPoint]) -> None:
        """Import the way StatisticsImporter does, with this store as the recorder."""
        hours = bucket_energy(points)
        if not hours:
            return
        first = hours[0][0]
        before = [row for row in self.rows.values() if row.start < first]
        base = max(before, key=lambda row: row.start).sum_wh if before else 0
        existing = [row for row in self.rows.values() if row.start >= first]
        for row in continue_sums(hours, base, existing):
            self.rows[row.start] = row

    def as_rows(self) -> list[Row]:
        """Return the rows oldest first."""
        return [(row.start, row.wh, row.sum_wh) for _, row in sorted(self.rows.items())]


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_property_pure_sums_match_any_delivery_order(scenario: Scenario) -> None:
    store = MemoryStore()
    expected: dict[int, int] = {}
    for delivery in scenario.deliveries:
        points, hours = delivered_points(scenario.truth, delivery)
        store.import_energy(points)
        expected |= hours
        rows = store.as_rows()
        assert rows == expected_rows(expected)
        assert_monotonic(rows)
    for batch in repair_batches(scenario.truth, scenario):
        store.import_energy(batch)
        assert_monotonic(store.as_rows())
    assert store.as_rows() == truth_rows(scenario.truth)


_example_systems = itertools.count(10_000)


@settings(
    max_examples=25,
    deadline=None,
    # Each example uses its own system id, so the shared recorder is no problem.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios())
async def test_property_recorder_sums_match_any_delivery_order(
    hass: HomeAssistant, scenario: Scenario
) -> None:
    system_id = next(_example_systems)
    importer = StatisticsImporter(hass, system_id, NAME)
    expected: dict[int, int] = {}
    for delivery in scenario.deliveries:
        points, hours = delivered_points(scenario.truth, delivery)
        await importer.async_import_energy(Stream.PRODUCTION, points)
        expected |= hours
    rows = await stored(hass, system_id=system_id)
    assert rows == expected_rows(expected)
    assert_monotonic(rows)
    for batch in repair_batches(scenario.truth, scenario):
        await importer.async_import_energy(Stream.PRODUCTION, batch)
    rows = await stored(hass, system_id=system_id)
    assert rows == truth_rows(scenario.truth)
