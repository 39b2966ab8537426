"""Window rules of the interval and lifetime endpoints: start, granularity, clamping, 422."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.simulator.conftest import (
    CHICAGO,
    LA,
    START_TS,
    Harness,
    HarnessFactory,
    local_today,
    midnight,
)

BAD_RANGE = {
    "message": "Unprocessable Entity",
    "details": "Requested date range is invalid for this system",
    "code": 422,
}
FLAT_PATHS = (
    "telemetry/production_meter",
    "telemetry/consumption_meter",
    "telemetry/battery",
    "energy_import_telemetry",
    "energy_export_telemetry",
)
LIFETIME_PATHS = (
    "energy_lifetime",
    "consumption_lifetime",
    "battery_lifetime",
    "energy_import_lifetime",
    "energy_export_lifetime",
)


def ends(body: dict[str, Any]) -> list[int]:
    """End times of the intervals, flattening the per-day arrays of import/export."""
    rows = body["intervals"]
    if rows and isinstance(rows[0], list):
        rows = [row for day in rows for row in day]
    return [row["end_at"] for row in rows]


async def production(h: Harness, system_id: int = 1001, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = await h.json(f"systems/{system_id}/telemetry/production_meter", **params)
    return body


# --- start ----------------------------------------------------------------------


@pytest.mark.parametrize(("system_id", "zone"), [(1001, LA), (1002, CHICAGO)])
async def test_start_defaults_to_local_midnight(
    harness: Harness, system_id: int, zone: ZoneInfo
) -> None:
    body = await production(harness, system_id)
    start = midnight(local_today(harness, zone), zone)
    assert body["granularity"] == "day"
    assert (body["start_at"], body["end_at"]) == (start, START_TS)
    assert ends(body)[0] == start + 900


async def test_start_date_is_local_midnight_of_that_day(harness: Harness) -> None:
    day = local_today(harness) - timedelta(days=3)
    body = await production(harness, start_date=day.isoformat())
    assert body["start_at"] == midnight(day)
    assert body["end_at"] == midnight(day) + 86_400
    texas = await production(harness, 1002, start_date=day.isoformat())
    assert texas["start_at"] == midnight(day, CHICAGO)


async def test_start_at_wins_over_start_date(harness: Harness) -> None:
    start = midnight(local_today(harness)) - 6 * 3600
    body = await production(harness, start_at=start, start_date="2026-06-01")
    assert body["start_at"] == start


async def test_start_at_is_epoch_seconds(harness: Harness) -> None:
    start = START_TS - 5 * 3600
    body = await production(harness, start_at=start, granularity="15mins")
    assert (body["start_at"], body["end_at"]) == (start, start + 900)
    assert ends(body) == [start + 900]


# --- granularity ----------------------------------------------------------------


@pytest.mark.parametrize(("granularity", "count"), [("15mins", 1), ("day", 96), ("week", 672)])
@pytest.mark.parametrize("path", FLAT_PATHS)
async def test_granularity_sets_the_number_of_intervals(
    make_harness: HarnessFactory, path: str, granularity: str, count: int
) -> None:
    h = await make_harness(plan="kilowatt")
    h.login()
    start = midnight(local_today(h) - timedelta(days=8))
    body = await h.json(f"systems/1001/{path}", start_at=start, granularity=granularity)
    assert body["granularity"] == granularity
    assert ends(body) == [start + 900 * (n + 1) for n in range(count)]
    assert body["end_at"] == start + 900 * count


@pytest.mark.parametrize(("granularity", "count"), [("15mins", 3), ("day", 288), ("week", 2016)])
async def test_micro_granularity_counts_five_minute_intervals(
    make_harness: HarnessFactory, granularity: str, count: int
) -> None:
    h = await make_harness(plan="kilowatt")
    h.login()
    start = midnight(local_today(h) - timedelta(days=8))
    body = await h.json(
        "systems/1001/telemetry/production_micro", start_at=start, granularity=granularity
    )
    assert ends(body) == [start + 300 * (n + 1) for n in range(count)]


async def test_week_across_the_end_of_daylight_saving_time(make_harness: HarnessFactory) -> None:
    h = await make_harness(start=datetime(2026, 11, 10, 20, 0, tzinfo=UTC))
    h.login()
    start = midnight(date(2026, 10, 29))
    body = await h.json("systems/1001/energy_import_telemetry", start_at=start, granularity="week")
    # 1 November has 25 hours in California; a week is 7 x 24 h, so it ends at 23:00 on the 4th.
    assert [len(day) for day in body["intervals"]] == [96, 96, 96, 100, 96, 96, 92]
    assert body["end_at"] == start + 7 * 86_400


@pytest.mark.parametrize("granularity", ["hour", "15min", "DAY", ""])
async def test_unknown_granularity_is_422(harness: Harness, granularity: str) -> None:
    body = await harness.json(
        "systems/1001/telemetry/production_meter", 422, granularity=granularity
    )
    assert body["code"] == 422


# --- the window's end -----------------------------------------------------------


async def test_window_ends_now_and_lists_only_reported_intervals(harness: Harness) -> None:
    body = await production(harness, granularity="week")
    assert body["end_at"] == START_TS
    last_report = (await harness.json("systems/1001/summary"))["last_report_at"]
    assert ends(body)[-1] == last_report - last_report % 900
    assert ends(body)[-1] < START_TS


async def test_after_the_last_reported_interval_the_list_is_empty(harness: Harness) -> None:
    first = await production(harness)
    after = ends(first)[-1]
    for path in FLAT_PATHS:
        body = await harness.json(f"systems/1001/{path}", start_at=after, granularity="15mins")
        assert body["intervals"] == []
        assert body["start_at"] == after


async def test_reported_intervals_appear_with_the_next_upload(harness: Harness) -> None:
    first = await production(harness)
    after = ends(first)[-1]
    harness.sim.advance(20 * 60)
    body = await production(harness, start_at=after, granularity="15mins")
    assert ends(body) == [after + 900]


# --- clamping and invalid ranges ------------------------------------------------


async def test_start_before_operation_is_clamped(harness: Harness) -> None:
    operational = (await harness.json("systems/1001/summary"))["operational_at"]
    requested = operational - 3 * 86_400
    body = await production(harness, start_at=requested, granularity="week")
    # The answer echoes the requested start; the intervals begin where the system does.
    assert body["start_at"] == requested
    assert ends(body)[0] == operational + 900
    assert body["end_at"] == operational + 7 * 86_400


@pytest.mark.parametrize(
    "params",
    [
        {"start_at": START_TS + 3600},
        {"start_at": START_TS - 2 * 365 * 86_400 - 1},
        {"start_at": "yesterday"},
        {"start_date": "2026-13-01"},
        {"start_date": "2024-06-01"},
        {"start_date": "2026-06-20"},
    ],
)
@pytest.mark.parametrize("path", FLAT_PATHS)
async def test_invalid_range_is_422(harness: Harness, path: str, params: dict[str, Any]) -> None:
    body = await harness.json(f"systems/1001/{path}", 422, **params)
    assert body == BAD_RANGE


async def test_two_years_back_is_still_valid(harness: Harness) -> None:
    requested = START_TS - 2 * 365 * 86_400
    body = await production(harness, start_at=requested)
    # Long before the system existed: echoed as asked, the intervals clamped to its start.
    operational = (await harness.json("systems/1001/summary"))["operational_at"]
    assert body["start_at"] == requested
    assert ends(body)[0] == operational + 900


# --- lifetime ranges ------------------------------------------------------------


@pytest.mark.parametrize("path", LIFETIME_PATHS)
async def test_lifetime_defaults_cover_the_whole_life(harness: Harness, path: str) -> None:
    body = await harness.json(f"systems/1001/{path}")
    operational = datetime.fromtimestamp(body["meta"]["operational_at"], LA).date()
    assert body["start_date"] == operational.isoformat()
    series = next(v for k, v in body.items() if isinstance(v, list))
    assert len(series) == (local_today(harness) - operational).days + 1


async def test_lifetime_end_date_is_inclusive_and_clamped_to_today(harness: Harness) -> None:
    today = local_today(harness)
    start = today - timedelta(days=10)
    body = await harness.json(
        "systems/1001/energy_lifetime",
        start_date=start.isoformat(),
        end_date=(start + timedelta(days=2)).isoformat(),
    )
    assert len(body["production"]) == 3
    body = await harness.json(
        "systems/1001/energy_lifetime",
        start_date=start.isoformat(),
        end_date=(today + timedelta(days=30)).isoformat(),
    )
    assert len(body["production"]) == 11


async def test_lifetime_start_before_operation_is_clamped(harness: Harness) -> None:
    body = await harness.json("systems/1001/energy_lifetime", start_date="2026-01-01")
    operational = datetime.fromtimestamp(body["meta"]["operational_at"], LA).date()
    assert body["start_date"] == operational.isoformat()


@pytest.mark.parametrize(
    "params",
    [
        {"start_date": "2026-06-20"},
        {"start_date": "2026-06-10", "end_date": "2026-06-09"},
        {"start_date": "2024-06-01"},
        {"start_date": "June 1"},
        {"end_date": "2026-02-30"},
    ],
)
@pytest.mark.parametrize("path", LIFETIME_PATHS)
async def test_lifetime_invalid_range_is_422(
    harness: Harness, path: str, params: dict[str, Any]
) -> None:
    body = await harness.json(f"systems/1001/{path}", 422, **params)
    assert body == BAD_RANGE
