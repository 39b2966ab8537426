"""Physics: seeded determinism, PV following the sun, energy balance, battery modes.

Everything is read over HTTP: the ground truth from `/_sim/systems/{id}/truth`
and the public view from `/api/v4`. Only the property test at the end calls
`battery.step` directly, to cover inputs no demo day produces.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from enphase_simulator import SYSTEM_BATTERY, SYSTEM_NO_BATTERY
from enphase_simulator.battery import MAX_WH_PER_INTERVAL, behaviour, step
from enphase_simulator.settings import FULL_BACKUP, SAVINGS, SELF_CONSUMPTION, SiteSettings
from tests.simulator.conftest import START_TS, Harness, HarnessFactory

DAY = 86_400
QUARTER = 900
CAPACITY_WH = 10_000
SHUTDOWN_WH = 1_000
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
CHICAGO = ZoneInfo("America/Chicago")
SITES = {SYSTEM_BATTERY: (-120.66, LOS_ANGELES), SYSTEM_NO_BATTERY: (-97.74, CHICAGO)}
FLOWS = ("production", "consumption", "import", "export", "charge", "discharge")

Row = dict[str, int]


async def truth(h: Harness, system_id: int, start: int, end: int) -> list[Row]:
    """Return the true intervals ending in `(start, end]`."""
    params = {"start": str(start), "end": str(end)}
    body = await h.admin("GET", f"systems/{system_id}/truth", params=params)
    rows: list[Row] = body["intervals"]
    return rows


async def advance(h: Harness, seconds: int) -> int:
    """Move the simulator clock forward; return the new epoch."""
    body = await h.admin("POST", "clock/advance", json={"seconds": seconds})
    now: int = body["now_ts"]
    return now


async def put_battery(h: Harness, **settings_: Any) -> int:
    """Request battery settings; return the epoch from which the battery follows them."""
    h.login()  # a fresh token: the test may have moved the clock past the last one's expiry
    await h.json(f"systems/config/{SYSTEM_BATTERY}/battery_settings", method="PUT", json=settings_)
    # The gateway applies a change after `apply_delay` (60 s by default): a
    # quarter hour later every new interval follows it.
    return await advance(h, QUARTER)


def local_hour(row: Row, zone: ZoneInfo = LOS_ANGELES) -> float:
    """Local clock hour of the middle of `row`'s interval."""
    middle = datetime.fromtimestamp(row["end_at"] - QUARTER // 2, zone)
    return middle.hour + middle.minute / 60


def by_local_day(rows: list[Row], zone: ZoneInfo) -> dict[date, list[Row]]:
    """Group complete local days of rows (days cut by the window are dropped)."""
    days: dict[date, list[Row]] = defaultdict(list)
    for row in rows:
        days[datetime.fromtimestamp(row["end_at"] - QUARTER, zone).date()].append(row)
    # 92..100 intervals: daylight saving days are 23 or 25 hours long.
    return {day: day_rows for day, day_rows in days.items() if len(day_rows) >= 92}


def soc_before(rows: list[Row], index: int, first: int) -> int:
    """Return the SoC (Wh) at the start of `rows[index]`; `first` for the first row."""
    return first if index == 0 else rows[index - 1]["soc_wh"]


# --- determinism ---------------------------------------------------------------


async def test_same_seed_same_data_other_seed_other_data(make_harness: HarnessFactory) -> None:
    first, again, other = (
        await make_harness(seed=7),
        await make_harness(seed=7),
        await make_harness(seed=8),
    )
    week = (START_TS - 7 * DAY, START_TS)
    # Ask `again` for a late day first: answers must not depend on request order.
    await truth(again, SYSTEM_BATTERY, START_TS - DAY, START_TS)
    rows = [await truth(h, SYSTEM_BATTERY, *week) for h in (first, again, other)]
    assert len(rows[0]) == 7 * 96
    assert rows[0] == rows[1]
    for flow in ("production", "consumption"):
        assert [r[flow] for r in rows[0]] != [r[flow] for r in rows[2]]
    telemetry = []
    for h in (first, again, other):
        h.login()
        telemetry.append(
            await h.json(
                f"systems/{SYSTEM_BATTERY}/telemetry/production_meter",
                start_at=week[0],
                granularity="week",
            )
        )
    assert telemetry[0] == telemetry[1]
    assert telemetry[0]["intervals"] != telemetry[2]["intervals"]


# --- the sun -------------------------------------------------------------------


def mean_solar_noon(day: date, longitude: float) -> float:
    """Epoch of local mean solar noon (4 minutes of clock per degree of longitude)."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp() - longitude * 240


@pytest.mark.parametrize("system_id", [SYSTEM_BATTERY, SYSTEM_NO_BATTERY])
async def test_production_follows_the_sun(harness: Harness, system_id: int) -> None:
    longitude, zone = SITES[system_id]
    days = by_local_day(await truth(harness, system_id, START_TS - 30 * DAY, START_TS), zone)
    totals = {day: sum(r["production"] for r in rows) for day, rows in days.items()}
    best = max(totals.values())
    clear = [day for day, total in totals.items() if total >= 0.9 * best]
    cloudy = [day for day, total in totals.items() if total <= 0.7 * best]
    assert len(clear) >= 5
    assert len(cloudy) >= 3
    for rows in days.values():
        assert all(r["production"] == 0 for r in rows if not 4 <= local_hour(r, zone) < 21)
        assert any(r["production"] > 0 for r in rows)
    for day in clear:
        rows = days[day]
        # The production-weighted middle of a clear day is solar noon; the
        # equation of time moves true noon at most 17 minutes from mean noon.
        centre = sum(r["production"] * (r["end_at"] - QUARTER / 2) for r in rows) / totals[day]
        assert abs(centre - mean_solar_noon(day, longitude)) < 20 * 60
        peak = max(rows, key=lambda r: r["production"])
        assert abs(peak["end_at"] - QUARTER / 2 - mean_solar_noon(day, longitude)) < 90 * 60
    overcast = [day for day, total in totals.items() if total <= 0.4 * best]
    assert overcast
    for day in overcast:
        # Heavy clouds cut the peak too, not only the total.
        peak = max(r["production"] for r in days[day])
        assert peak < 0.5 * max(r["production"] for r in days[clear[0]])


async def test_winter_days_are_shorter_and_weaker(make_harness: HarnessFactory) -> None:
    winter_start = datetime(2026, 12, 15, 20, tzinfo=UTC)
    summer, winter = await make_harness(), await make_harness(start=winter_start)
    winter_ts = int(winter_start.timestamp())

    async def best_day(h: Harness, end: int) -> tuple[int, int]:
        days = by_local_day(await truth(h, SYSTEM_BATTERY, end - 14 * DAY, end), LOS_ANGELES)
        total, lit = max(
            (sum(r["production"] for r in rows), sum(r["production"] > 0 for r in rows))
            for rows in days.values()
        )
        return total, lit

    summer_total, summer_lit = await best_day(summer, START_TS)
    winter_total, winter_lit = await best_day(winter, winter_ts)
    assert winter_total < 0.6 * summer_total
    assert winter_lit < summer_lit - 8  # more than two hours less daylight


async def test_night_load_never_stops(harness: Harness) -> None:
    rows = await truth(harness, SYSTEM_BATTERY, START_TS - 7 * DAY, START_TS)
    assert all(r["consumption"] > 0 for r in rows)
    evening = [r["consumption"] for r in rows if 18.5 <= local_hour(r) < 19.5]
    small_hours = [r["consumption"] for r in rows if 2 <= local_hour(r) < 4]
    assert sum(evening) / len(evening) > 2 * sum(small_hours) / len(small_hours)


# --- energy balance --------------------------------------------------------------


def assert_balanced(rows: list[Row], first_soc: int | None = None) -> None:
    """Check the balance, the sign of every flow and the SoC bookkeeping of `rows`."""
    for index, row in enumerate(rows):
        assert all(type(row[f]) is int and row[f] >= 0 for f in FLOWS), row
        supply = row["production"] + row["import"] + row["discharge"]
        demand = row["consumption"] + row["export"] + row["charge"]
        assert supply == demand, row
        assert SHUTDOWN_WH <= row["soc_wh"] <= CAPACITY_WH, row
        assert 10 <= row["soc_percent"] <= 100, row
        assert row["soc_percent"] == row["soc_wh"] * 100 // CAPACITY_WH
        if index or first_soc is not None:
            before = soc_before(rows, index, first_soc or 0)
            assert row["soc_wh"] == before + row["charge"] - row["discharge"], row


async def test_energy_is_conserved_over_a_month_of_every_mode(megawatt: Harness) -> None:
    h = megawatt
    start = START_TS
    first_soc = (await truth(h, SYSTEM_BATTERY, start - QUARTER, start))[0]["soc_wh"]
    await put_battery(h, battery_mode="Full Backup")
    await advance(h, 5 * DAY)
    await put_battery(h, battery_mode="Savings Mode", energy_independence="disabled")
    await advance(h, 5 * DAY)
    await put_battery(h, battery_mode="Self-consumption", reserve_soc=10)
    await advance(h, 5 * DAY)
    # A day cut off the grid: the battery may go down to its shutdown level.
    await h.admin("POST", f"systems/{SYSTEM_BATTERY}/grid", json={"on": False})
    await advance(h, DAY)
    await h.admin("POST", f"systems/{SYSTEM_BATTERY}/grid", json={"on": True})
    await put_battery(h, reserve_soc=100)
    await advance(h, 3 * DAY)
    storm_guard = {"storm_guard_status": "enabled"}
    h.login()
    await h.json(f"systems/config/{SYSTEM_BATTERY}/storm_guard", method="PUT", json=storm_guard)
    await h.admin("POST", f"systems/{SYSTEM_BATTERY}/storm_alert", json={"active": True})
    await advance(h, 2 * DAY)
    await put_battery(h, reserve_soc=30)
    await h.admin("POST", f"systems/{SYSTEM_BATTERY}/storm_alert", json={"active": False})
    end = start + 30 * DAY
    await advance(h, end - await advance(h, 0))
    rows = await truth(h, SYSTEM_BATTERY, start, end)
    assert len(rows) == 30 * 96
    assert_balanced(rows, first_soc)
    socs = [r["soc_wh"] for r in rows]
    assert min(socs) == SHUTDOWN_WH  # reached during the grid outage
    assert max(socs) == CAPACITY_WH
    assert sum(r["discharge"] for r in rows) > 100_000
    # The battery-less system balances too (no battery flows at all).
    plain = await truth(h, SYSTEM_NO_BATTERY, start, end)
    assert len(plain) == 30 * 96
    for row in plain:
        assert row["charge"] == row["discharge"] == row["soc_wh"] == 0
        assert row["production"] + row["import"] == row["consumption"] + row["export"]


async def test_public_telemetry_balances_interval_by_interval(harness: Harness) -> None:
    path = f"systems/{SYSTEM_BATTERY}"
    # The interval ending at START is not uploaded yet: take the week before the last day.
    query = {"start_at": START_TS - 8 * DAY, "granularity": "week"}
    produced = await harness.json(f"{path}/telemetry/production_meter", **query)
    consumed = await harness.json(f"{path}/telemetry/consumption_meter", **query)
    battery = await harness.json(f"{path}/telemetry/battery", **query)
    imported = await harness.json(f"{path}/energy_import_telemetry", **query)
    exported = await harness.json(f"{path}/energy_export_telemetry", **query)
    flat_imports = [row for day in imported["intervals"] for row in day]
    flat_exports = [row for day in exported["intervals"] for row in day]
    series = (
        produced["intervals"],
        consumed["intervals"],
        battery["intervals"],
        flat_imports,
        flat_exports,
    )
    assert len({len(s) for s in series}) == 1
    assert len(produced["intervals"]) == 7 * 96
    for prod, cons, batt, imp, exp in zip(*series, strict=True):
        assert (
            len({prod["end_at"], cons["end_at"], batt["end_at"], imp["end_at"], exp["end_at"]}) == 1
        )
        supply = prod["wh_del"] + imp["wh_imported"] + batt["discharge"]["enwh"]
        demand = cons["enwh"] + exp["wh_exported"] + batt["charge"]["enwh"]
        assert supply == demand
        assert 10 <= batt["soc"]["percent"] <= 100


# --- battery behaviour -------------------------------------------------------------


async def test_self_consumption_covers_the_home_down_to_the_reserve(harness: Harness) -> None:
    # The demo battery starts in self-consumption with a 30 % reserve.
    start = START_TS - 14 * DAY
    rows = await truth(harness, SYSTEM_BATTERY, start, START_TS)
    first = (await truth(harness, SYSTEM_BATTERY, start - QUARTER, start))[0]["soc_wh"]
    reserve = 3_000
    for index, row in enumerate(rows):
        before = soc_before(rows, index, first)
        deficit = row["consumption"] - row["production"]
        assert row["soc_wh"] >= min(before, reserve)
        if deficit > 0:
            assert row["charge"] == 0
            # The battery covers the deficit unless it hit the reserve or its power limit.
            if row["import"] > 0:
                assert row["soc_wh"] == reserve or row["discharge"] == MAX_WH_PER_INTERVAL
        else:
            assert row["discharge"] == row["import"] == 0
            # Surplus charges the battery first; only the rest is exported.
            if row["export"] > 0:
                assert row["soc_wh"] == CAPACITY_WH or row["charge"] == MAX_WH_PER_INTERVAL
    assert min(r["soc_wh"] for r in rows) == reserve
    assert max(r["soc_wh"] for r in rows) == CAPACITY_WH
    nights = [r for r in rows if local_hour(r) >= 21 or local_hour(r) < 5]
    assert sum(r["discharge"] for r in nights) > 0.5 * sum(r["consumption"] for r in nights)


async def test_a_higher_reserve_is_held(megawatt: Harness) -> None:
    since = await put_battery(megawatt, reserve_soc=70)
    end = await advance(megawatt, 5 * DAY)
    rows = await truth(megawatt, SYSTEM_BATTERY, since, end)
    for row in rows:
        if row["discharge"] > 0:
            assert row["soc_wh"] >= 7_000
    assert min(r["soc_wh"] for r in rows if r["end_at"] > since + DAY) == 7_000
    held = [
        row
        for index, row in enumerate(rows[1:], 1)
        if rows[index - 1]["soc_wh"] == row["soc_wh"] == 7_000
        and row["consumption"] > row["production"]
    ]
    assert len(held) > 20
    assert all(r["import"] == r["consumption"] - r["production"] for r in held)


async def test_full_backup_holds_the_charge(megawatt: Harness) -> None:
    since = await put_battery(megawatt, battery_mode="Full Backup")
    end = await advance(megawatt, 4 * DAY)
    rows = await truth(megawatt, SYSTEM_BATTERY, since, end)
    assert all(r["discharge"] == 0 for r in rows)
    socs = [r["soc_wh"] for r in rows]
    assert socs == sorted(socs)
    assert socs[-1] == CAPACITY_WH
    for row in rows:
        if row["consumption"] > row["production"]:
            assert row["import"] == row["consumption"] - row["production"]


async def test_savings_mode_shifts_energy_into_the_peak(megawatt: Harness) -> None:
    since = await put_battery(megawatt, battery_mode="Savings Mode", energy_independence="disabled")
    end = await advance(megawatt, 4 * DAY)
    rows = await truth(megawatt, SYSTEM_BATTERY, since, end)
    discharging = [r for r in rows if r["discharge"] > 0]
    assert discharging
    assert all(16 <= local_hour(r) < 21 for r in discharging)
    # Outside the peak the battery holds although it could cover the home.
    held = [
        r
        for r in rows
        if not 16 <= local_hour(r) < 21
        and r["consumption"] > r["production"]
        and r["soc_wh"] > 3_000
    ]
    assert held
    assert all(r["import"] == r["consumption"] - r["production"] for r in held)
    # It still charges from the sun before the peak.
    assert sum(r["charge"] for r in rows if 8 <= local_hour(r) < 16) > 0
    days = by_local_day(rows, LOS_ANGELES)
    assert all(any(r["discharge"] for r in day) for day in days.values())


async def test_savings_with_energy_independence_also_covers_the_evening(
    megawatt: Harness,
) -> None:
    since = await put_battery(megawatt, battery_mode="Savings Mode", energy_independence="enabled")
    end = await advance(megawatt, 4 * DAY)
    rows = await truth(megawatt, SYSTEM_BATTERY, since, end)
    discharging = [r for r in rows if r["discharge"] > 0]
    # From the peak until local midnight; before the next peak it holds.
    assert all(local_hour(r) >= 16 for r in discharging)
    assert any(local_hour(r) >= 21 for r in discharging)
    night = [
        r
        for r in rows
        if local_hour(r) < 6 and r["consumption"] > r["production"] and r["soc_wh"] > 3_000
    ]
    assert night
    assert all(r["discharge"] == 0 for r in night)


async def test_off_grid_uses_the_reserve_down_to_the_shutdown_level(harness: Harness) -> None:
    await harness.admin("POST", f"systems/{SYSTEM_BATTERY}/grid", json={"on": False})
    await harness.admin("POST", f"systems/{SYSTEM_NO_BATTERY}/grid", json={"on": False})
    start = await advance(harness, QUARTER)
    end = await advance(harness, 3 * DAY)
    rows = await truth(harness, SYSTEM_BATTERY, start, end)
    assert all(r["import"] == r["export"] == 0 for r in rows)
    # Below the 30 % reserve, which only an islanded battery may use.
    assert min(r["soc_wh"] for r in rows) < 3_000
    assert_balanced(rows)
    # Without a battery the micros trip with the grid (anti-islanding).
    dark = await truth(harness, SYSTEM_NO_BATTERY, start, end)
    assert all(r[f] == 0 for r in dark for f in FLOWS)


# --- the balance of one interval, for any input --------------------------------------

MODES = st.sampled_from([SELF_CONSUMPTION, SAVINGS, FULL_BACKUP])


@settings(max_examples=300, deadline=None)
@given(
    pv=st.integers(0, 3_000),
    load=st.integers(0, 3_000),
    soc=st.integers(SHUTDOWN_WH, CAPACITY_WH),
    mode=MODES,
    reserve=st.integers(10, 100),
    hour=st.floats(0, 23.99),
    independence=st.booleans(),
    grid_charge=st.booleans(),
    grid_on=st.booleans(),
)
def test_any_interval_balances_and_keeps_soc_in_range(
    pv: int,
    load: int,
    soc: int,
    mode: str,
    reserve: int,
    hour: float,
    independence: bool,
    grid_charge: bool,
    grid_on: bool,
) -> None:
    site = SiteSettings(
        mode=mode,
        reserve_soc=reserve,
        energy_independence=independence,
        charge_from_grid=grid_charge,
        grid_on=grid_on,
    )
    rule = behaviour(site, hour, CAPACITY_WH, SHUTDOWN_WH)
    flows, after = step(pv, load, soc, CAPACITY_WH, rule)
    values = (
        flows.production,
        flows.consumption,
        flows.imported,
        flows.exported,
        flows.charge,
        flows.discharge,
    )
    assert all(v >= 0 for v in values)
    assert (
        flows.production + flows.imported + flows.discharge
        == flows.consumption + flows.exported + flows.charge
    )
    assert after == soc + flows.charge - flows.discharge
    assert SHUTDOWN_WH <= after <= CAPACITY_WH
    assert max(flows.charge, flows.discharge) <= MAX_WH_PER_INTERVAL
    if grid_on and soc >= reserve * 100:
        assert after >= reserve * 100  # the reserve is kept while the grid is there
    if not grid_on:
        assert flows.imported == flows.exported == 0
