"""Tests for the telemetry catch-up, through Home Assistant, the coordinator and the simulator.

The importer's arithmetic is tested in test_statistics_writer.py; here the whole path
runs: polls on the plan's cadence, gateways that buffer and upload late, the
recorder as the only memory across restarts. Every check compares the recorder
with the simulator's ground truth.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.enphase_cloud.api import (
    BatteryInterval,
    BatteryTelemetry,
    Devices,
    EnphaseClient,
)
from custom_components.enphase_cloud.const import CONF_HISTORY_DAYS
from custom_components.enphase_cloud.data import BatteryLevel
from custom_components.enphase_cloud.interval_fetch import (
    BATTERY,
    PRODUCTION,
    SOURCES,
    TelemetrySync,
    latest_level,
)
from custom_components.enphase_cloud.statistics_writer import (
    StatisticsImporter,
    Stream,
    statistic_id,
)

from .conftest import (
    API_KEY,
    BATTERY_SYSTEM,
    PLAIN_SYSTEM,
    START,
    SimHarness,
    run_until,
    stored_budget,
)

HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
TRUTH_FIELDS = {
    Stream.PRODUCTION: "production",
    Stream.CONSUMPTION: "consumption",
    Stream.GRID_IMPORT: "import",
    Stream.GRID_EXPORT: "export",
    Stream.BATTERY_CHARGE: "charge",
    Stream.BATTERY_DISCHARGE: "discharge",
}
BATTERY_STREAMS = tuple(TRUTH_FIELDS)


def hour_of(end_at: int) -> datetime:
    """Return the UTC hour holding the interval that ends at epoch `end_at`."""
    return (datetime.fromtimestamp(end_at, UTC) - QUARTER).replace(minute=0)


async def stored_hours(
    hass: HomeAssistant, system_id: int, stream: Stream, start: datetime, end: datetime
) -> dict[datetime, dict[str, Any]]:
    """Return the recorder's hourly rows of a stream in [start, end), by hour start."""
    await async_wait_recording_done(hass)
    stat_id = statistic_id(system_id, stream)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        end,
        {stat_id},
        "hour",
        None,
        {"state", "sum", "mean", "min", "max"},
    )
    return {datetime.fromtimestamp(row["start"], UTC): row for row in rows.get(stat_id, [])}


def true_hours(
    sim: SimHarness, system_id: int, field: str, start: datetime, end: datetime
) -> dict[datetime, int]:
    """Return the true Wh of every complete hour in [start, end)."""
    hours: dict[datetime, int] = {}
    for row in sim.sim.truth(system_id, start, end):
        hour = hour_of(row["end_at"])
        hours[hour] = hours.get(hour, 0) + row[field]
    return hours


async def assert_matches_truth(
    hass: HomeAssistant,
    sim: SimHarness,
    system_id: int,
    streams: tuple[Stream, ...],
    start: datetime,
    end: datetime,
) -> None:
    """Assert every hour in [start, end) holds the true energy and the sums never jump."""
    for stream in streams:
        truth = true_hours(sim, system_id, TRUTH_FIELDS[stream], start, end)
        stored = await stored_hours(hass, system_id, stream, start - HOUR, end)
        assert sorted(truth) == [hour for hour in sorted(stored) if hour >= start], stream
        previous = stored.get(start - HOUR, {}).get("sum") or 0.0
        for hour, wh in sorted(truth.items()):
            row = stored[hour]
            assert round(row["state"] * 1000) == wh, (stream, hour)
            assert round((row["sum"] - previous) * 1000) == wh, (stream, hour)
            previous = row["sum"]


@pytest.mark.parametrize("plan", ["kilowatt"])
async def test_backlog_after_gateway_outage_is_imported(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    first = (START - timedelta(days=2)).replace(minute=0)
    await run_until(hass, freezer, START + HOUR)
    outage_start = dt_util.utcnow()
    simulator.sim.start_outage(BATTERY_SYSTEM)
    await run_until(hass, freezer, outage_start + timedelta(hours=8))

    # Nothing arrives while the gateway is offline; the other system goes on.
    stored = await stored_hours(
        hass, BATTERY_SYSTEM, Stream.PRODUCTION, outage_start, dt_util.utcnow()
    )
    assert max(stored, default=first) <= outage_start
    await assert_matches_truth(
        hass,
        simulator,
        PLAIN_SYSTEM,
        (Stream.PRODUCTION,),
        first,
        dt_util.utcnow().replace(minute=0) - HOUR,
    )

    # Back online: the gateway uploads its backlog and the next polls import all of it.
    simulator.sim.end_outage(BATTERY_SYSTEM)
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=40))
    end = dt_util.utcnow().replace(minute=0)
    await assert_matches_truth(hass, simulator, BATTERY_SYSTEM, BATTERY_STREAMS, first, end)
    await assert_matches_truth(hass, simulator, PLAIN_SYSTEM, (Stream.PRODUCTION,), first, end)


@pytest.mark.parametrize("plan", ["kilowatt"])
async def test_late_intervals_complete_an_imported_hour(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    # START is 19:07: the 20:20 poll finds the interval ending 20:15 uploaded, the
    # first of the 20:00 hour; the other three follow over the next three polls.
    hour = START.replace(hour=20, minute=0)
    await run_until(hass, freezer, hour + timedelta(minutes=21))
    stored = await stored_hours(hass, BATTERY_SYSTEM, Stream.PRODUCTION, hour - HOUR, hour + HOUR)
    partial_sum = stored[hour]["sum"]
    partial_wh = round(stored[hour]["state"] * 1000)

    await run_until(hass, freezer, hour + HOUR + timedelta(minutes=21))
    truth = simulator.sim.truth(BATTERY_SYSTEM, hour, hour + HOUR)
    wh = [row["production"] for row in truth]
    assert len(wh) == 4
    assert partial_wh == wh[0]
    stored = await stored_hours(
        hass, BATTERY_SYSTEM, Stream.PRODUCTION, hour - HOUR, hour + 2 * HOUR
    )
    assert round(stored[hour]["state"] * 1000) == sum(wh)
    # The corrected hour moved its own sum and the next hour continues from it.
    assert round((stored[hour]["sum"] - partial_sum) * 1000) == sum(wh[1:])
    assert round((stored[hour]["sum"] - stored[hour - HOUR]["sum"]) * 1000) == sum(wh)
    following = stored[hour + HOUR]
    assert round((following["sum"] - stored[hour]["sum"]) * 1000) == round(
        following["state"] * 1000
    )
    await assert_matches_truth(
        hass,
        simulator,
        BATTERY_SYSTEM,
        BATTERY_STREAMS,
        (START - timedelta(days=2)).replace(minute=0),
        hour + HOUR,
    )


async def test_restart_during_history_import_loses_nothing(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    simulator: SimHarness,
    hass_client: ClientSessionGenerator,
    freezer: FrozenDateTimeFactory,
) -> None:
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={**config_entry.options, CONF_HISTORY_DAYS: 21}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    first = (START - timedelta(days=21)).replace(minute=0)

    # The Watt plan's ten calls a minute: three weeks of six streams take minutes.
    await run_until(hass, freezer, START + timedelta(minutes=2))
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    assert diagnostics["history"] == {"in_progress": True}
    partial = await stored_hours(hass, PLAIN_SYSTEM, Stream.PRODUCTION, first, START)
    assert len(partial) < 21 * 24

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=5))
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=10))

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    assert diagnostics["history"] == {"in_progress": False}
    end = START.replace(minute=0)
    await assert_matches_truth(hass, simulator, BATTERY_SYSTEM, BATTERY_STREAMS, first, end)
    await assert_matches_truth(hass, simulator, PLAIN_SYSTEM, (Stream.PRODUCTION,), first, end)


@pytest.mark.parametrize(
    ("history_days", "imported"),
    [(30, True), (60, False)],
    ids=["recent_days_are_regular_work", "backfill_waits_for_next_month"],
)
async def test_history_share_of_the_month(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    config_entry: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    history_days: int,
    *,
    imported: bool,
) -> None:
    # A quarter of the Watt month is already used on this key (the history share).
    store, data = stored_budget(API_KEY, used=300)
    hass_storage[store] = data
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={**config_entry.options, CONF_HISTORY_DAYS: history_days}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    # Six minutes: the import, then the events and alarms the import left no room for.
    await run_until(hass, freezer, START + timedelta(minutes=6))

    coordinator = config_entry.runtime_data.coordinator
    assert coordinator.data.history_in_progress is not imported
    # A backfill held back for the month is not retried every minute.
    assert coordinator.data.next_poll is not None
    assert coordinator.data.next_poll - dt_util.utcnow() > timedelta(minutes=5)
    first = (START - timedelta(days=history_days)).replace(minute=0)
    stored = await stored_hours(hass, PLAIN_SYSTEM, Stream.PRODUCTION, first, START)
    if imported:
        await assert_matches_truth(
            hass, simulator, PLAIN_SYSTEM, (Stream.PRODUCTION,), first, START.replace(minute=0)
        )
    else:
        assert stored == {}


@pytest.fixture
async def client(hass: HomeAssistant, simulator: SimHarness) -> EnphaseClient:
    """Return an API client of the demo account, talking to the simulator directly."""
    access_token = str(simulator.sim.mint_tokens()["access_token"])

    async def token() -> str:
        return access_token

    return EnphaseClient(async_get_clientsession(hass), token, API_KEY, base_url=simulator.url)


async def test_catch_up_cut_short_is_history_even_within_a_day(
    hass: HomeAssistant, simulator: SimHarness, client: EnphaseClient
) -> None:
    """A backfill that runs out of calls a few hours short of now is finished by history.

    Otherwise those hours would wait for the next regular round of the stream, a
    day later on the free plan, while diagnostics said the import was done.
    """
    sync = TelemetrySync(
        client,
        StatisticsImporter(hass, PLAIN_SYSTEM, "Texas Ranch"),
        PRODUCTION,
        system_id=PLAIN_SYSTEM,
        horizon=timedelta(days=7, hours=3),
    )
    now = dt_util.utcnow()
    # One `week` window: it is full, so more follows, and it ends hours before now.
    result = await sync.async_catch_up(now, max_calls=1)
    assert not result.caught_up
    assert await sync.async_behind(now) < timedelta(days=1)
    assert await sync.async_needs_history(now)

    result = await sync.async_catch_up(now, max_calls=5)
    assert result.caught_up
    assert not await sync.async_needs_history(now)
    first = (now - timedelta(days=7, hours=3)).replace(minute=0)
    await assert_matches_truth(
        hass, simulator, PLAIN_SYSTEM, (Stream.PRODUCTION,), first, now.replace(minute=0)
    )


@pytest.mark.parametrize(
    ("horizon", "imported"),
    [(timedelta(hours=5), True), (timedelta(hours=2), False)],
    ids=["data_ends_inside_the_window", "nothing_after_the_cursor"],
)
async def test_catch_up_of_an_offline_gateway_ends_with_its_last_upload(
    hass: HomeAssistant,
    simulator: SimHarness,
    client: EnphaseClient,
    freezer: FrozenDateTimeFactory,
    horizon: timedelta,
    *,
    imported: bool,
) -> None:
    """No further call is made for data the gateway has not uploaded yet."""
    sync = TelemetrySync(
        client,
        StatisticsImporter(hass, BATTERY_SYSTEM, "Casa Solar"),
        BATTERY,
        system_id=BATTERY_SYSTEM,
        horizon=horizon,
    )
    simulator.sim.start_outage(BATTERY_SYSTEM)
    freezer.tick(timedelta(hours=3))
    now = dt_util.utcnow()
    result = await sync.async_catch_up(now, max_calls=5)
    assert result.caught_up
    assert result.calls == 1
    assert sync.idle
    assert not await sync.async_needs_history(now)
    level = result.battery_level
    if imported:
        assert level is not None
        assert level.measured_at <= START
    else:
        assert level is None


def test_latest_level_skips_intervals_without_state_of_charge() -> None:
    """The level is the last interval's that has one; none at all gives no level."""
    end = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
    intervals = (
        BatteryInterval(end_at=end - QUARTER, charge_wh=0, discharge_wh=0, soc_percent=55),
        BatteryInterval(end_at=end, charge_wh=0, discharge_wh=0),
    )

    def telemetry(*intervals: BatteryInterval) -> BatteryTelemetry:
        return BatteryTelemetry(
            system_id=BATTERY_SYSTEM,
            granularity="day",
            start_at=end - timedelta(days=1),
            end_at=end,
            intervals=intervals,
        )

    assert latest_level(telemetry(*intervals)) == BatteryLevel(
        percent=55, measured_at=end - QUARTER
    )
    assert latest_level(telemetry(intervals[1])) is None


# Kilowatt's 50 calls a minute no longer hold the setup and 30 days of every stream of
# both demo systems since system 1001 has an EV charger (its stream is one more): there
# the history takes the next minute too (see `script/bench`'s first-data figures).
@pytest.mark.parametrize("plan", ["megawatt", "partner"])
async def test_default_history_is_in_the_recorder_seconds_after_setup(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Where the plan's minute allows it, the 30-day history follows setup at once.

    It used to wait for the second poll, a minute or more after setup.
    """
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={**config_entry.options, CONF_HISTORY_DAYS: 30}
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    setup_at = dt_util.utcnow()
    coordinator = config_entry.runtime_data.coordinator
    assert coordinator.data.history_in_progress
    assert coordinator.data.next_poll is not None
    assert coordinator.data.next_poll - setup_at < timedelta(seconds=5)

    await run_until(hass, freezer, setup_at + timedelta(seconds=5))
    assert not coordinator.data.history_in_progress
    first = (setup_at - timedelta(days=30)).replace(minute=0) + HOUR
    last = setup_at.replace(minute=0) - HOUR
    await assert_matches_truth(hass, simulator, BATTERY_SYSTEM, BATTERY_STREAMS, first, last)


@pytest.mark.parametrize(
    ("groups", "keys"),
    [
        ({}, ["production"]),
        (
            {"meters": [{"id": 1, "name": "m", "config_type": "Net"}]},
            ["production", "consumption", "grid_import", "grid_export"],
        ),
        ({"encharges": [{"id": 2, "name": "b"}]}, ["production", "battery"]),
    ],
)
def test_sources_declare_which_systems_have_them(groups: dict[str, Any], keys: list[str]) -> None:
    """One declaration per stream: the coordinator follows the ones a system's devices have."""
    devices = Devices.from_dict({"devices": groups})
    assert [source.key for source in SOURCES if source.applies(devices)] == keys
