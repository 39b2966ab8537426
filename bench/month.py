"""A simulated month: the integration against the simulator for 30 days, per plan.

Run by `script/bench` (never collected by the test suite: `testpaths` is `tests`).
Home Assistant runs in the pytest-homeassistant-custom-component harness with a
real recorder; time is frozen and moved forward in steps, so the month takes
seconds. The simulator serves the Enphase API over HTTP on 127.0.0.1 and knows
the ground truth of every interval.

The month: setup on 1 June (history imported back to the default horizon), a
3-day gateway outage of the battery system (its backlog is uploaded when it
comes back), and a 2-day Home Assistant downtime (the entry unloaded, the
budget dropped from memory so it reloads from its Store, the recorder kept).

Figures, one JSON line per plan written to $BENCH_OUT (or printed):
- api_calls: every `/api/v4` request Home Assistant made, whatever the answer.
- http_429: of those, how many Enphase refused with 429.
- intervals_expected / intervals_imported: interval values of every stream from
  the start of the history horizon to the end of the last complete hour whose
  statistics the plan's cadence must have fetched by the end (see `_cutoff`);
  an interval counts as imported when its hour in the recorder equals the truth
  exactly (energy: Wh; state of charge: mean, min and max).
- energy_error_wh: max |recorder sum - true cumulative energy| over every hour
  and energy stream, both counted from the start of the horizon.
- soc_staleness_p50_min / p95_min: age of the state of charge Home Assistant
  shows (now - end of the interval it was measured in), sampled every 5 minutes
  while Home Assistant runs (the gateway outage included, the downtime not).
- checked_until: the end of the window the interval figures cover.
- power_checks / battery_power_error_w / home_power_error_w: each new battery
  reading Home Assistant shows, compared with the simulator's truth for the interval
  it reports: battery power (discharge - charge, discharge positive) and home power
  (consumption), max |error| in W.
- statuses: the API's answers by HTTP status (401: the plan has no battery control).
- fast_cadence_min / bulk_cadence_min: median gap between battery telemetry
  reads and between systems-list reads (the two polling tiers).
- wall_s: wall-clock seconds of the plan's run.

Further lines, measured in the same run (`kind` says which):
- first_data: per plan, how long after setup the default 30-day history of every
  stream is in the recorder (`first_data_s`, simulated seconds; the polling is
  paced by the plan's minute), with the calls spent until then and the wall time.
- history_2y: a 730-day history import on Kilowatt: the calls, the simulated and
  wall time until it is complete, and the recorder rows written (`rows_written`)
  of which `rows_rewritten` rewrote an hour already written (the overlap each fetch
  re-reads because Enphase may still be filling the last hour in).
- ten_systems: an account with 10 systems (five with a battery and a consumption
  meter), per plan, run for three days with a 1-day history: the calls a month at
  the steady rate of days 2-3 (`calls_month`), the state of charge's staleness and
  the two polling cadences.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
import dataclasses
from datetime import UTC, datetime, timedelta
import itertools
import json
import math
import os
from pathlib import Path
import statistics as stats
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    statistics_during_period,
)
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.enphase_cloud.budget import DATA_BUDGETS
from custom_components.enphase_cloud.const import (
    BASE_URL_ENV,
    CONF_HISTORY_DAYS,
    CONF_PLAN,
    DEFAULT_HISTORY_DAYS,
    DOMAIN,
)
from custom_components.enphase_cloud.ev_charger import charger_key
from custom_components.enphase_cloud.statistics_writer import Stream, statistic_id
from enphase_simulator import SIMULATOR_KEY, SimConfig, Simulator, create_app, ev_charger as sim_ev
from enphase_simulator.config import Outage
from enphase_simulator.world import World, build_world
from tests.conftest import API_KEY, BATTERY_SYSTEM, PLAIN_SYSTEM, token_data

START = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 30
END = START + timedelta(days=DAYS)
OUTAGE = (START + timedelta(days=10, hours=12), START + timedelta(days=13, hours=12))
DOWNTIME = (START + timedelta(days=16, hours=6), START + timedelta(days=18, hours=6))
HORIZON = timedelta(days=DEFAULT_HISTORY_DAYS)
SAMPLE = timedelta(minutes=5)
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
RETRY_STEP = timedelta(minutes=1)

# Which truth field feeds which statistic, per system.
TRUTH_FIELDS: dict[int, dict[Stream, str]] = {
    BATTERY_SYSTEM: {
        Stream.PRODUCTION: "production",
        Stream.CONSUMPTION: "consumption",
        Stream.GRID_IMPORT: "import",
        Stream.GRID_EXPORT: "export",
        Stream.BATTERY_CHARGE: "charge",
        Stream.BATTERY_DISCHARGE: "discharge",
        Stream.BATTERY_SOC: "soc_percent",
    },
    PLAIN_SYSTEM: {Stream.PRODUCTION: "production"},
}


class Probe:
    """Counts the API requests the simulator answers, by status, with their times."""

    def __init__(self) -> None:
        """Start with nothing counted."""
        self.statuses: Counter[int] = Counter()
        self.times: dict[str, list[datetime]] = {}
        self.counts: Counter[str] = Counter()

    @web.middleware
    async def middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Count one answer of the Enphase API (OAuth and admin calls are not API calls)."""
        if not request.path.startswith("/api/v4"):
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as err:
            self.statuses[err.status] += 1
            raise
        self.statuses[response.status] += 1
        self.times.setdefault(request.path, []).append(dt_util.utcnow())
        self.counts[request.path] += 1
        return response

    def median_gap_min(self, path: str) -> float | None:
        """Return the median minutes between successful calls to `path`."""
        moments = self.times.get(path, [])
        gaps = [(b - a).total_seconds() / 60 for a, b in itertools.pairwise(moments)]
        return round(stats.median(gaps), 1) if gaps else None


@pytest.fixture(params=["watt", "kilowatt"])
def plan(request: pytest.FixtureRequest) -> str:
    """Return the plan of this run."""
    return str(request.param)


@pytest.fixture
def sim_history() -> timedelta:
    """How far back the simulated systems have data."""
    return timedelta(days=60)


@pytest.fixture
def extra_systems() -> int:
    """Systems added to the demo account beyond its two."""
    return 0


def _with_extra_systems(build: Callable[[SimConfig], World], count: int) -> Callable[..., World]:
    """Return a world builder whose demo account has `count` more systems (clones)."""

    def build_bigger(config: SimConfig) -> World:
        world = build(config)
        systems = dict(world.systems)
        account = world.accounts[0]
        added = []
        for n in range(count):
            template = systems[account.system_ids[n % len(account.system_ids)]]
            system_id = 2001 + n
            systems[system_id] = dataclasses.replace(
                template, system_id=system_id, name=f"{template.name} {n + 3}"
            )
            added.append(system_id)
        accounts = (
            dataclasses.replace(account, system_ids=(*account.system_ids, *added)),
            *world.accounts[1:],
        )
        return dataclasses.replace(world, systems=systems, accounts=accounts)

    return build_bigger


@pytest.fixture
async def served(  # noqa: PLR0913, PLR0917 - the run's shape comes in fixtures
    hass: HomeAssistant,
    socket_enabled: None,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    plan: str,
    sim_history: timedelta,
    extra_systems: int,
) -> AsyncGenerator[tuple[Simulator, Probe]]:
    """Serve the simulator on Home Assistant's frozen clock, counting API answers."""
    freezer.move_to(START)
    if extra_systems:
        monkeypatch.setattr(
            "enphase_simulator.simulator.build_world",
            _with_extra_systems(build_world, extra_systems),
        )
    config = SimConfig(
        plan=plan,
        clock=dt_util.utcnow,
        auto_approve=True,
        history=sim_history,
        outages=(Outage(system_id=BATTERY_SYSTEM, start=OUTAGE[0], end=OUTAGE[1]),),
    )
    app = create_app(config)
    probe = Probe()
    # First, so it also sees the answers the simulator's own gate gives (401, 429).
    app.middlewares.insert(0, probe.middleware)
    server = TestServer(app, host="127.0.0.1", access_log=None)
    await server.start_server()
    monkeypatch.setenv(BASE_URL_ENV, str(server.make_url("")).rstrip("/"))
    try:
        yield app[SIMULATOR_KEY], probe
    finally:
        await server.close()


class Month:
    """Drives Home Assistant through the month and samples what it shows."""

    def __init__(
        self,
        hass: HomeAssistant,
        freezer: FrozenDateTimeFactory,
        entry: MockConfigEntry,
        sim: Simulator,
    ) -> None:
        """Follow `entry` on `hass`."""
        self.hass = hass
        self.freezer = freezer
        self.entry = entry
        self.sim = sim
        self.staleness: list[float] = []
        self._next_sample = START
        self.power_errors: dict[str, list[int]] = {"battery": [], "home": []}
        self._power_checked: datetime | None = None

    async def run_until(self, until: datetime) -> None:
        """Move time to `until`, waking Home Assistant whenever it has something to do.

        Home Assistant only changes what it shows when a poll runs, so between
        two polls the state of charge's age is sampled without waking it.
        """
        now = dt_util.utcnow()
        while now < until:
            coordinator = self.entry.runtime_data.coordinator
            poll = coordinator.data.next_poll if coordinator.data else None
            # After a failed poll the snapshot's next poll is stale: retry as HA would.
            wake = poll if poll is not None and poll > now else now + RETRY_STEP
            wake = min(wake, until)
            self._sample_until(wake)
            now = wake
            self.freezer.move_to(now)
            async_fire_time_changed(self.hass, now)
            await self.hass.async_block_till_done(wait_background_tasks=True)
            self._check_power()

    def _check_power(self) -> None:
        """Compare battery and home power as shown with the truth of the interval read.

        latest_telemetry reports the last uploaded interval: the truth's last interval
        ending at or before the batteries' `last_report_at`. Checked once per reading.
        """
        coordinator = self.entry.runtime_data.coordinator
        system = coordinator.data.systems.get(BATTERY_SYSTEM) if coordinator.data else None
        if system is None or system.telemetry is None or not system.telemetry.encharges:
            return
        reported = system.telemetry.encharges[0].last_report_at
        if reported is None or reported == self._power_checked:
            return
        self._power_checked = reported
        rows = self.sim.truth(BATTERY_SYSTEM, reported - timedelta(hours=1), reported)
        if not rows:
            return
        truth = rows[-1]
        expected = {
            "battery": (truth["discharge"] - truth["charge"]) * 4,
            "home": truth["consumption"] * 4,
        }
        for name, entity_id in (
            ("battery", "sensor.casa_solar_battery_power"),
            ("home", "sensor.casa_solar_home_power"),
        ):
            state = self.hass.states.get(entity_id)
            if state is None or not state.state.lstrip("-").isdigit():
                continue
            self.power_errors[name].append(abs(int(state.state) - expected[name]))

    def _sample_until(self, until: datetime) -> None:
        """Sample the state of charge's age at every 5 minutes before `until`."""
        coordinator = self.entry.runtime_data.coordinator
        system = coordinator.data.systems.get(BATTERY_SYSTEM) if coordinator.data else None
        measured = system.battery_level.measured_at if system and system.battery_level else None
        while self._next_sample < until:
            moment = self._next_sample
            self._next_sample += SAMPLE
            if moment < dt_util.utcnow():
                continue  # Home Assistant was down then
            age = math.inf if measured is None else (moment - measured).total_seconds() / 60
            self.staleness.append(age)

    async def sleep_through(self, until: datetime) -> None:
        """Move time while Home Assistant is down (its Store writes still land)."""
        self.freezer.move_to(until)
        async_fire_time_changed(self.hass, until)
        await self.hass.async_block_till_done(wait_background_tasks=True)


def _cutoff(plan: str) -> datetime:
    """Return the end of the checked window: one bulk round before the end, to the hour.

    The free plan fetches the energy streams once a day (the month's quota
    allows no more), so the last day's energy is not yet imported at the end of
    the run by design; the paid plans fetch them every quarter hour.
    """
    lag = timedelta(days=1) if plan == "watt" else QUARTER
    return (END - lag).replace(minute=0, second=0, microsecond=0)


async def _compare(hass: HomeAssistant, sim: Simulator, plan: str) -> dict[str, int]:
    """Compare the recorder's hours with the simulator's truth over the window."""
    await async_wait_recording_done(hass)
    first, last = START - HORIZON, _cutoff(plan)
    expected = imported = 0
    error = 0
    for system_id, fields in TRUTH_FIELDS.items():
        truth = sim.truth(system_id, first, last)
        hours: dict[datetime, list[dict[str, int]]] = {}
        for interval in truth:
            end_at = datetime.fromtimestamp(interval["end_at"], UTC)
            hours.setdefault((end_at - QUARTER).replace(minute=0), []).append(interval)
        ids = {statistic_id(system_id, stream) for stream in fields}
        rows = await get_instance(hass).async_add_executor_job(
            statistics_during_period,
            hass,
            first - HOUR,
            last,
            ids,
            "hour",
            None,
            {"state", "sum", "mean", "min", "max"},
        )
        for stream, field in fields.items():
            stored = {
                datetime.fromtimestamp(r["start"], UTC): r
                for r in rows.get(statistic_id(system_id, stream), [])
            }
            base = stored.get(first - HOUR, {}).get("sum") or 0.0
            cumulative = 0
            for hour in sorted(hours):
                values = [r[field] for r in hours[hour]]
                expected += len(values)
                row = stored.get(hour)
                if stream is Stream.BATTERY_SOC:
                    if row is not None and _soc_matches(row, values):
                        imported += len(values)
                    continue
                cumulative += sum(values)
                if row is None:
                    continue
                if round((row.get("state") or 0) * 1000) == sum(values):
                    imported += len(values)
                error = max(error, abs(round(((row.get("sum") or 0) - base) * 1000) - cumulative))
    for stat_id, truth in _ev_truths(sim, first, last):
        got = await _compare_energy(hass, stat_id, truth, first, last)
        expected += got[0]
        imported += got[1]
        error = max(error, got[2])
    return {
        "intervals_expected": expected,
        "intervals_imported": imported,
        "energy_error_wh": error,
    }


def _ev_truths(
    sim: Simulator, first: datetime, last: datetime
) -> list[tuple[str, list[dict[str, int]]]]:
    """Return each EV charger's statistic id and true intervals (`energy`) over the window."""
    return [
        (
            f"{DOMAIN}:{system_id}_ev_{charger_key(system_id, charger.serial)}",
            sim_ev.truth(sim, system_id, charger.serial, first, last),
        )
        for system_id in TRUTH_FIELDS
        for charger in sim.system(system_id).ev.chargers
    ]


async def _compare_energy(
    hass: HomeAssistant,
    stat_id: str,
    truth: list[dict[str, int]],
    first: datetime,
    last: datetime,
) -> tuple[int, int, int]:
    """Return (expected, imported, max error Wh) of one energy statistic against its truth."""
    hours: dict[datetime, int] = {}
    counts: dict[datetime, int] = {}
    for interval in truth:
        hour = (datetime.fromtimestamp(interval["end_at"], UTC) - QUARTER).replace(minute=0)
        hours[hour] = hours.get(hour, 0) + interval["energy"]
        counts[hour] = counts.get(hour, 0) + 1
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        first - HOUR,
        last,
        {stat_id},
        "hour",
        None,
        {"state", "sum"},
    )
    stored = {datetime.fromtimestamp(r["start"], UTC): r for r in rows.get(stat_id, [])}
    base = stored.get(first - HOUR, {}).get("sum") or 0.0
    expected = imported = error = cumulative = 0
    for hour in sorted(hours):
        expected += counts[hour]
        cumulative += hours[hour]
        row = stored.get(hour)
        if row is None:
            continue
        if round((row.get("state") or 0) * 1000) == hours[hour]:
            imported += counts[hour]
        error = max(error, abs(round(((row.get("sum") or 0) - base) * 1000) - cumulative))
    return expected, imported, error


def _soc_matches(row: Mapping[str, Any], values: list[int]) -> bool:
    mean = sum(values) / len(values)
    return (
        math.isclose(row.get("mean") or -1, mean, abs_tol=1e-6)
        and row.get("min") == min(values)
        and row.get("max") == max(values)
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))
    return round(ordered[index], 1)


async def test_month(
    hass: HomeAssistant,
    served: tuple[Simulator, Probe],
    credentials: None,
    freezer: FrozenDateTimeFactory,
    plan: str,
) -> None:
    """Run the month on `plan` and write its figures."""
    began = os.times().elapsed
    # The harness runs the loop in debug mode, which records a stack per callback:
    # Home Assistant never runs like that, and it would double the run time.
    hass.loop.set_debug(False)
    sim, probe = served
    tokens = sim.mint_tokens()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Casa Solar (+1)",
        unique_id=str(tokens["enl_uid"]),
        data={"auth_implementation": DOMAIN, "token": token_data(tokens), CONF_API_KEY: API_KEY},
        options={CONF_PLAN: plan},
    )
    entry.add_to_hass(hass)
    month = Month(hass, freezer, entry, sim)
    if not await hass.config_entries.async_setup(entry.entry_id):
        msg = "setup failed"
        raise RuntimeError(msg)
    await hass.async_block_till_done()
    await month.run_until(DOWNTIME[0])
    # Home Assistant stops: the entry unloads, the budget's Store is written, and
    # the in-memory budget is gone as after a restart.
    await hass.config_entries.async_unload(entry.entry_id)
    await month.sleep_through(DOWNTIME[1])
    hass.data.pop(DATA_BUDGETS, None)
    if not await hass.config_entries.async_setup(entry.entry_id):
        msg = "setup after the downtime failed"
        raise RuntimeError(msg)
    await hass.async_block_till_done()
    await month.run_until(END)
    result: dict[str, Any] = {
        "plan": plan,
        "api_calls": sum(probe.statuses.values()),
        "http_429": probe.statuses[429],
        **await _compare(hass, sim, plan),
        "checked_until": _cutoff(plan).isoformat(),
        # Battery power (latest_telemetry, discharge positive) and home power against
        # the truth of the interval each reading reports, once per reading.
        "power_checks": len(month.power_errors["battery"]),
        "battery_power_error_w": max(month.power_errors["battery"], default=None),
        "home_power_error_w": max(month.power_errors["home"], default=None),
        "soc_staleness_p50_min": _percentile(month.staleness, 0.5),
        "soc_staleness_p95_min": _percentile(month.staleness, 0.95),
        "fast_cadence_min": probe.median_gap_min(
            f"/api/v4/systems/{BATTERY_SYSTEM}/telemetry/battery"
        ),
        "bulk_cadence_min": probe.median_gap_min("/api/v4/systems"),
        "statuses": {str(k): v for k, v in sorted(probe.statuses.items())},
        "ev_chargers": sum(len(sim.system(s).ev.chargers) for s in TRUTH_FIELDS),
        "ev_calls": sum(n for path, n in probe.counts.items() if "/ev_charger/" in path),
    }
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    result["wall_s"] = round(os.times().elapsed - began, 1)
    line = json.dumps(result)
    if out := os.environ.get("BENCH_OUT"):
        # Once, after the run: blocking the loop here changes no figure.
        with Path(out).open("a", encoding="utf-8") as file:  # noqa: ASYNC230
            file.write(line + "\n")
    else:
        print(line)  # noqa: T201


def _write(result: Mapping[str, Any]) -> None:
    """Append one JSON line to $BENCH_OUT (or print it)."""
    line = json.dumps(result)
    if out := os.environ.get("BENCH_OUT"):
        with Path(out).open("a", encoding="utf-8") as file:
            file.write(line + "\n")
    else:
        print(line)  # noqa: T201


async def _set_up(
    hass: HomeAssistant, sim: Simulator, plan: str, history_days: int
) -> MockConfigEntry:
    """Add and set up the demo account's entry on `plan`."""
    tokens = sim.mint_tokens()
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Casa Solar (+1)",
        unique_id=str(tokens["enl_uid"]),
        data={"auth_implementation": DOMAIN, "token": token_data(tokens), CONF_API_KEY: API_KEY},
        options={CONF_PLAN: plan, CONF_HISTORY_DAYS: history_days},
    )
    entry.add_to_hass(hass)
    if not await hass.config_entries.async_setup(entry.entry_id):
        msg = "setup failed"
        raise RuntimeError(msg)
    await hass.async_block_till_done()
    return entry


@pytest.mark.parametrize("plan", ["watt", "kilowatt", "megawatt", "partner"])
async def test_first_data(
    hass: HomeAssistant,
    served: tuple[Simulator, Probe],
    credentials: None,
    freezer: FrozenDateTimeFactory,
    plan: str,
) -> None:
    """Time from setup until the default history of every stream is in the recorder."""
    hass.loop.set_debug(False)
    sim, probe = served
    began = os.times().elapsed
    entry = await _set_up(hass, sim, plan, DEFAULT_HISTORY_DAYS)
    coordinator = entry.runtime_data.coordinator
    setup_at = dt_util.utcnow()
    # One-second steps: the figure is as fine as that; every poll that falls due runs.
    while coordinator.data.history_in_progress and dt_util.utcnow() < setup_at + HOUR:
        freezer.tick(timedelta(seconds=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    done_at = dt_util.utcnow()
    calls = sum(probe.statuses.values())
    await async_wait_recording_done(hass)
    wall = os.times().elapsed - began
    first = START - HORIZON
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        first,
        START,
        {statistic_id(BATTERY_SYSTEM, stream) for stream in TRUTH_FIELDS[BATTERY_SYSTEM]},
        "hour",
        None,
        {"state"},
    )
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    _write(
        {
            "kind": "first_data",
            "plan": plan,
            "history_days": DEFAULT_HISTORY_DAYS,
            "first_data_s": round((done_at - setup_at).total_seconds()),
            "complete": not coordinator.data.history_in_progress,
            "hours_in_recorder": min(len(r) for r in rows.values()) if rows else 0,
            "api_calls": calls,
            "wall_s": round(wall, 1),
        }
    )


class RowCounter:
    """Counts the hourly rows handed to the recorder, and those written before."""

    def __init__(self) -> None:
        """Start with nothing counted."""
        self.written = 0
        self.seen: set[tuple[str, float]] = set()

    def wrap(self, write: Callable[..., None]) -> Callable[..., None]:
        """Return `write` counting its rows on the way."""

        def counted(
            hass: HomeAssistant,
            metadata: Mapping[str, Any],
            rows: Iterable[Mapping[str, Any]],
            *args: object,
        ) -> None:
            for row in rows:
                self.written += 1
                self.seen.add((metadata["statistic_id"], row["start"].timestamp()))
            write(hass, metadata, rows, *args)

        return counted


@pytest.mark.parametrize("plan", ["kilowatt"])
@pytest.mark.parametrize("sim_history", [timedelta(days=740)])
async def test_two_year_history(  # noqa: PLR0913, PLR0917 - fixtures
    hass: HomeAssistant,
    served: tuple[Simulator, Probe],
    credentials: None,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    plan: str,
) -> None:
    """Import the longest horizon (730 days) and count what it costs."""
    hass.loop.set_debug(False)
    sim, probe = served
    rows = RowCounter()
    monkeypatch.setattr(
        "custom_components.enphase_cloud.statistics_writer.async_add_external_statistics",
        rows.wrap(async_add_external_statistics),
    )
    began = os.times().elapsed
    entry = await _set_up(hass, sim, plan, 730)
    coordinator = entry.runtime_data.coordinator
    month = Month(hass, freezer, entry, sim)
    limit = START + timedelta(days=3)
    while coordinator.data.history_in_progress and dt_util.utcnow() < limit:
        await month.run_until(dt_util.utcnow() + RETRY_STEP)
    done_at = dt_util.utcnow()
    await async_wait_recording_done(hass)
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    _write(
        {
            "kind": "history_2y",
            "plan": plan,
            "history_days": 730,
            "complete": not coordinator.data.history_in_progress,
            "api_calls": sum(probe.statuses.values()),
            "simulated_min": round((done_at - START).total_seconds() / 60, 1),
            "rows_written": rows.written,
            "rows_rewritten": rows.written - len(rows.seen),
            "wall_s": round(os.times().elapsed - began, 1),
        }
    )


@pytest.mark.parametrize("plan", ["watt", "kilowatt"])
@pytest.mark.parametrize("extra_systems", [8])
async def test_ten_systems(
    hass: HomeAssistant,
    served: tuple[Simulator, Probe],
    credentials: None,
    freezer: FrozenDateTimeFactory,
    plan: str,
) -> None:
    """An account with 10 systems: the month's calls and the staleness per plan."""
    hass.loop.set_debug(False)
    sim, probe = served
    began = os.times().elapsed
    entry = await _set_up(hass, sim, plan, 1)
    systems = len(entry.runtime_data.coordinator.data.systems)
    month = Month(hass, freezer, entry, sim)
    steady_from = START + timedelta(days=1)
    await month.run_until(steady_from)
    calls_before = sum(probe.statuses.values())
    month.staleness.clear()
    days = 2
    await month.run_until(steady_from + timedelta(days=days))
    calls = sum(probe.statuses.values()) - calls_before
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    _write(
        {
            "kind": "ten_systems",
            "plan": plan,
            "systems": systems,
            "calls_month": round(calls / days * DAYS),
            "http_429": probe.statuses[429],
            "soc_staleness_p50_min": _percentile(month.staleness, 0.5),
            "soc_staleness_p95_min": _percentile(month.staleness, 0.95),
            "fast_cadence_min": probe.median_gap_min(
                f"/api/v4/systems/{BATTERY_SYSTEM}/telemetry/battery"
            ),
            "bulk_cadence_min": probe.median_gap_min("/api/v4/systems"),
            "wall_s": round(os.times().elapsed - began, 1),
        }
    )
