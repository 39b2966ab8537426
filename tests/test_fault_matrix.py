"""Fault matrix: Home Assistant and the simulator driven through each fault of issue 15.

Each case injects its fault into a running integration and checks what the user
would see: polling goes on, and the recorder's statistics equal the simulator's
ground truth (no missing interval, 0 Wh error, sums never decreasing).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_cloud.command_runner import not_permitted_issue_id
from custom_components.enphase_cloud.const import CONF_HISTORY_DAYS, CONF_PLAN, DOMAIN
from custom_components.enphase_cloud.statistics_writer import StatisticsImporter, Stream

from .conftest import API_KEY, BATTERY_SYSTEM, PLAIN_SYSTEM, SimHarness, run_until, token_data
from .test_interval_fetch import BATTERY_STREAMS, assert_matches_truth

HOUR = timedelta(hours=1)
PRODUCTION = "*telemetry/production_meter"
MONTH_END = datetime(2026, 7, 1, tzinfo=dt_util.UTC)
# A bulk round of every system on the key (live reads and energy streams): the most a
# round pulled forward, or a round falling due just before the check, adds.
ONE_ROUND = 20


@pytest.fixture
def plan() -> str:
    """The Kilowatt plan polls every quarter hour: faults show within hours."""
    return "kilowatt"


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def _settle_and_check(
    hass: HomeAssistant, simulator: SimHarness, freezer: FrozenDateTimeFactory, hours: int = 3
) -> None:
    """Run `hours` of polls, then compare the last 12 complete hours with the truth."""
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(hours=hours))
    end = _hour(dt_util.utcnow()) - HOUR
    start = end - timedelta(hours=12)
    await assert_matches_truth(hass, simulator, BATTERY_SYSTEM, BATTERY_STREAMS, start, end)
    await assert_matches_truth(hass, simulator, PLAIN_SYSTEM, (Stream.PRODUCTION,), start, end)


@pytest.mark.parametrize(
    ("how", "path"),
    [
        ("negative", PRODUCTION),
        ("off_quarter", PRODUCTION),
        ("soc", "*telemetry/battery"),
    ],
)
async def test_1_bad_interval_is_quarantined_alone(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    how: str,
    path: str,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=30))
    simulator.sim.add_fault(kind="interval", details=how, path=path)
    await _settle_and_check(hass, simulator, freezer)
    assert coordinator.last_update_success
    health = coordinator.import_health()
    assert sum(health.values()) == 1, health  # logged and counted once
    assert all(key.startswith("quarantined") for key in health)


async def test_1_importer_failure_does_not_stop_polling(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=30))
    calls = 0
    real = StatisticsImporter.async_import_energy

    async def broken_once(self: object, stream: Stream, points: list[object]) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            msg = "recorder went away"
            raise RuntimeError(msg)
        return await real(self, stream, points)  # type: ignore[arg-type]

    monkeypatch.setattr(StatisticsImporter, "async_import_energy", broken_once)
    await _settle_and_check(hass, simulator, freezer)
    assert coordinator.last_update_success
    assert any(key.startswith("import_failures") for key in coordinator.import_health())


async def test_2_refused_token_is_refreshed_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    token = init_integration.data["token"]["access_token"]
    # Enphase's clock says the token expired; Home Assistant's says it is valid.
    assert simulator.sim.expire_access_tokens() >= 1
    await _settle_and_check(hass, simulator, freezer, hours=1)
    assert coordinator.last_update_success
    assert init_integration.data["token"]["access_token"] != token
    assert init_integration.state is ConfigEntryState.LOADED
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert not [flow for flow in flows if flow["context"].get("source") == SOURCE_REAUTH]


@pytest.mark.parametrize("how", ["drop", "revise"])
async def test_3_late_filled_and_revised_intervals_land(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    how: str,
) -> None:
    # A six-hour outage: the backlog's first read spans hours, its middle spoiled.
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=30))
    simulator.sim.start_outage(BATTERY_SYSTEM)
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(hours=6))
    simulator.sim.end_outage(BATTERY_SYSTEM)
    simulator.sim.add_fault(kind="interval", details=how, path=PRODUCTION)
    await _settle_and_check(hass, simulator, freezer)


async def test_6_past_period_end_backs_off(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=30))
    before = simulator.sim.usage(API_KEY)["total"]
    # Home Assistant's clock two hours ahead of Enphase's: every 429 ends "in the past".
    simulator.sim.add_fault(kind="skew", delay=-7200, count=1000)
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(hours=2))
    refused = 1000 - sum(fault.remaining for fault in simulator.sim.faults.faults)
    assert refused <= 2 * 60 + 1  # at most one a minute, not one a second (921 before)
    assert coordinator.update_interval >= timedelta(minutes=1)
    assert simulator.sim.usage(API_KEY)["total"] == before  # and none was counted
    simulator.sim.clear_faults()
    await _settle_and_check(hass, simulator, freezer, hours=1)


async def test_7_budget_counts_what_enphase_counts(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    budget = init_integration.runtime_data.budget
    simulator.sim.add_fault(429, count=30)
    simulator.sim.add_fault(401, count=3)
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(hours=2))
    assert budget.used_this_month == simulator.sim.usage(API_KEY)["month"]["count"]
    assert budget.as_diagnostics()["responses"]


@pytest.mark.parametrize("plan", ["watt"])
async def test_8_manual_refresh_spends_only_the_schedule(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert await async_setup_component(hass, "homeassistant", {})
    budget = init_integration.runtime_data.budget
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(hours=1))
    used = budget.used_this_month
    # What the cadence may spend per hour to keep 95 % of the month for the rest of it.
    per_hour = (950 - used) / ((MONTH_END - dt_util.utcnow()) / HOUR)
    hours = 6
    end = dt_util.utcnow() + timedelta(hours=hours)
    while dt_util.utcnow() < end:
        await hass.services.async_call(
            "homeassistant",
            "update_entity",
            {"entity_id": "sensor.casa_solar_solar_power"},
            blocking=True,
        )
        await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=1))
    spent = budget.used_this_month - used
    # Measured: 18 calls against a pace of 15 (576 when every request polled at once).
    assert spent <= per_hour * hours + ONE_ROUND, (spent, per_hour)


@pytest.mark.parametrize("plan", ["megawatt"])
async def test_9_plan_downgraded_at_enphase_keeps_monitoring(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    assert coordinator.data.systems[BATTERY_SYSTEM].control_permitted
    simulator.sim.set_plan("watt")
    await _settle_and_check(hass, simulator, freezer, hours=2)
    assert coordinator.last_update_success
    snapshot = coordinator.data.systems[BATTERY_SYSTEM]
    assert not snapshot.control_permitted
    assert snapshot.control_denied_by_plan
    assert snapshot.live_fetched_at is not None
    assert dt_util.utcnow() - snapshot.live_fetched_at < HOUR
    assert issue_registry.async_get_issue(DOMAIN, not_permitted_issue_id(init_integration.entry_id))


@pytest.mark.parametrize("plan", ["watt"])
async def test_10_two_entries_on_one_key_share_the_cadence(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    first = init_integration.runtime_data.coordinator
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=2))
    tokens = simulator.sim.mint_tokens("neighbour@example.com")
    neighbour = MockConfigEntry(
        domain=DOMAIN,
        title="Neighbour",
        unique_id=str(tokens["enl_uid"]),
        data={"auth_implementation": DOMAIN, "token": token_data(tokens), CONF_API_KEY: API_KEY},
        options={CONF_PLAN: "watt", CONF_HISTORY_DAYS: 2},
    )
    neighbour.add_to_hass(hass)
    await hass.config_entries.async_setup(neighbour.entry_id)
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(hours=1))
    assert neighbour.state is ConfigEntryState.LOADED
    # From here on both entries poll: the key's pace must see the month out for both.
    budget = init_integration.runtime_data.budget
    used = budget.used_this_month
    per_hour = (950 - used) / ((MONTH_END - dt_util.utcnow()) / HOUR)
    hours = 12
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(hours=hours))
    spent = budget.used_this_month - used
    # Measured: 20 calls against a pace of 30 (48 when each entry planned for itself).
    assert spent <= per_hour * hours, (spent, per_hour * hours)
    # And both entries keep live data no older than the planned cadence allows.
    for coordinator in (first, neighbour.runtime_data.coordinator):
        assert coordinator.last_update_success
        assert first.data.stale_after == coordinator.data.stale_after
    await hass.config_entries.async_unload(neighbour.entry_id)
