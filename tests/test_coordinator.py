"""Tests for the coordinator's polls against the simulator: errors, rate limits, systems."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.enphase_cloud.const import DOMAIN
from custom_components.enphase_cloud.coordinator import EnphaseCloudCoordinator, next_aligned

from .conftest import API_KEY, BATTERY_SYSTEM, PLAIN_SYSTEM, START, SimHarness, stored_budget

NEIGHBOUR_SYSTEM = 1003
SOLAR_POWER = "sensor.casa_solar_solar_power"
SYSTEMS_CALLS = "GET /api/v4/systems"
BATTERY_CALLS = "GET /api/v4/systems/{system_id}/telemetry/battery"


def endpoint_calls(simulator: SimHarness, endpoint: str) -> int:
    """Return how often Home Assistant called `endpoint` of the Enphase API."""
    counts = simulator.sim.usage(API_KEY)["endpoints"].get(endpoint)
    return int(counts["total"]) if counts else 0


@pytest.fixture
def plan() -> str:
    """Poll on the Kilowatt plan: a bulk round every quarter hour, no minute squeeze."""
    return "kilowatt"


async def _fire(hass: HomeAssistant) -> None:
    async_fire_time_changed(hass)
    # Scheduled refreshes run as background tasks.
    await hass.async_block_till_done(wait_background_tasks=True)


async def _poll(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, coordinator: EnphaseCloudCoordinator
) -> None:
    """Move the clock to the refresh the coordinator scheduled, and let it run."""
    assert coordinator.update_interval is not None
    freezer.tick(coordinator.update_interval)
    await _fire(hass)


@pytest.fixture
async def coordinator(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> EnphaseCloudCoordinator:
    """Return the coordinator after its first regular poll (a full bulk round)."""
    coordinator = init_integration.runtime_data.coordinator
    # Setup shows current data; the next polls catch history up, then a bulk round
    # lands at the quarter hour plus the reporting lag.
    while dt_util.utcnow() < datetime(2026, 6, 15, 19, 20, tzinfo=UTC):
        await _poll(hass, freezer, coordinator)
    assert coordinator.last_update_success
    assert coordinator.data.systems[BATTERY_SYSTEM].live_fetched_at == dt_util.utcnow()
    return coordinator


def test_next_aligned() -> None:
    """Polls land five minutes after a quarter hour, when gateways have uploaded."""
    assert next_aligned(datetime(2026, 6, 15, 19, 7, tzinfo=UTC)) == datetime(
        2026, 6, 15, 19, 20, tzinfo=UTC
    )
    assert next_aligned(datetime(2026, 6, 15, 19, 5, tzinfo=UTC)) == datetime(
        2026, 6, 15, 19, 5, tzinfo=UTC
    )


async def test_polls_every_quarter_hour(
    hass: HomeAssistant, coordinator: EnphaseCloudCoordinator, freezer: FrozenDateTimeFactory
) -> None:
    assert coordinator.update_interval == timedelta(minutes=15)
    assert coordinator.data.next_poll == datetime(2026, 6, 15, 19, 35, tzinfo=UTC)
    before = hass.states.get(SOLAR_POWER)
    assert before is not None
    await _poll(hass, freezer, coordinator)
    assert dt_util.utcnow() == datetime(2026, 6, 15, 19, 35, tzinfo=UTC)
    snapshot = coordinator.data.systems[BATTERY_SYSTEM]
    assert snapshot.live_fetched_at == dt_util.utcnow()
    assert snapshot.battery_fetched_at == dt_util.utcnow()
    assert coordinator.data.systems[PLAIN_SYSTEM].live_fetched_at == dt_util.utcnow()


async def test_revoked_login_during_poll_starts_reauth(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Enphase rejects the access token: Home Assistant asks for a new login."""
    simulator.sim.revoke()
    await _poll(hass, freezer, coordinator)
    assert not coordinator.last_update_success
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    # The entry, its devices and the last data stay while the user logs in again.
    assert coordinator.config_entry.state is ConfigEntryState.LOADED
    state = hass.states.get(SOLAR_POWER)
    assert state is not None
    assert state.state != STATE_UNAVAILABLE


async def test_refused_token_refresh_during_poll_starts_reauth(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The refresh token expired or was revoked: the next refresh fails, reauth starts."""
    entry = coordinator.config_entry
    simulator.sim.revoke()
    token = {**entry.data["token"], "expires_at": time.time() - 10}
    hass.config_entries.async_update_entry(entry, data={**entry.data, "token": token})
    await _poll(hass, freezer, coordinator)
    assert not coordinator.last_update_success
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503},
        {"kind": "malformed"},
        {"kind": "truncated"},
    ],
)
async def test_enphase_failure_keeps_last_data(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
    fault: dict[str, Any],
) -> None:
    fetched = coordinator.data.systems[BATTERY_SYSTEM].live_fetched_at
    before = hass.states.get(SOLAR_POWER)
    assert before is not None
    simulator.sim.add_fault(count=1000, **fault)
    await _poll(hass, freezer, coordinator)
    assert not coordinator.last_update_success
    assert isinstance(coordinator.last_exception, UpdateFailed)
    assert coordinator.last_exception.translation_key == "cannot_connect"
    # The last data stays, and so do the entities (staleness is judged in test_entity).
    assert coordinator.data.systems[BATTERY_SYSTEM].live_fetched_at == fetched
    after = hass.states.get(SOLAR_POWER)
    assert after is not None
    assert after.state == before.state

    simulator.sim.clear_faults()
    await _poll(hass, freezer, coordinator)
    assert coordinator.last_update_success
    assert coordinator.data.systems[BATTERY_SYSTEM].live_fetched_at == dt_util.utcnow()


async def test_enphase_timeout_keeps_last_data(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A request Enphase never answers times out; the poll fails, the data stays."""
    fetched = coordinator.data.systems[BATTERY_SYSTEM].live_fetched_at
    simulator.sim.add_fault(kind="timeout", count=1000, delay=3600)
    assert coordinator.update_interval is not None
    freezer.tick(coordinator.update_interval)
    async_fire_time_changed(hass)
    # Let the poll's first request reach the simulator, which hangs.
    for _ in range(20):
        await asyncio.sleep(0)
    await hass.async_block_till_done()
    # The client's timeout (30 s) expires on Home Assistant's clock.
    freezer.tick(timedelta(seconds=31))
    await _fire(hass)
    simulator.sim.cancel_sleeps()
    assert not coordinator.last_update_success
    assert isinstance(coordinator.last_exception, UpdateFailed)
    assert "Timeout" in str(coordinator.last_exception.translation_placeholders)
    # Never chained: the chain could carry aiohttp's URL, with the API key.
    assert coordinator.last_exception.__cause__ is None
    assert coordinator.data.systems[BATTERY_SYSTEM].live_fetched_at == fetched


async def test_rate_limit_keeps_data_and_waits(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Enphase's 429 for the minute: no error, the last data, the next poll after it."""
    data = coordinator.data
    simulator.sim.add_fault(status=429, count=1)
    await _poll(hass, freezer, coordinator)
    now = dt_util.utcnow()
    assert now == datetime(2026, 6, 15, 19, 35, tzinfo=UTC)
    assert coordinator.last_update_success
    assert coordinator.data.systems == data.systems
    retry_at = datetime(2026, 6, 15, 19, 36, tzinfo=UTC)
    assert coordinator.data.next_poll == retry_at
    assert coordinator.update_interval == retry_at - now
    state = hass.states.get(SOLAR_POWER)
    assert state is not None
    assert state.state != STATE_UNAVAILABLE

    await _poll(hass, freezer, coordinator)
    assert dt_util.utcnow() == retry_at
    assert coordinator.data.systems[BATTERY_SYSTEM].live_fetched_at == retry_at


async def test_month_quota_spent_defers_to_next_month(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    simulator.sim.set_usage(month=50_000)
    data = coordinator.data
    await _poll(hass, freezer, coordinator)
    assert coordinator.last_update_success
    assert coordinator.data.systems == data.systems
    assert coordinator.data.next_poll == datetime(2026, 7, 1, tzinfo=UTC)
    assert coordinator.update_interval == datetime(2026, 7, 1, tzinfo=UTC) - dt_util.utcnow()


async def test_systems_appear_and_vanish_without_reload(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    entry = coordinator.config_entry

    def device(identifier: str) -> dr.DeviceEntry | None:
        return device_registry.async_get_device_by_identifier((DOMAIN, identifier), entry.entry_id)

    def unique_ids() -> set[str]:
        return {
            e.unique_id for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        }

    plain_entities = [
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if e.unique_id.startswith(f"{PLAIN_SYSTEM}_")
    ]
    assert plain_entities
    assert device(str(NEIGHBOUR_SYSTEM)) is None

    # The neighbours sell their house to the demo account's owner.
    simulator.sim.transfer_system(NEIGHBOUR_SYSTEM, "demo@example.com")
    await _poll(hass, freezer, coordinator)
    assert entry.runtime_data.coordinator is coordinator
    assert entry.state is ConfigEntryState.LOADED
    system = device(str(NEIGHBOUR_SYSTEM))
    battery = device(f"{NEIGHBOUR_SYSTEM}_battery")
    assert system is not None
    assert system.name == "Maple Cottage"
    assert battery is not None
    assert battery.via_device_id == system.id
    assert {f"{NEIGHBOUR_SYSTEM}_production_power", f"{NEIGHBOUR_SYSTEM}_battery_level"} <= (
        unique_ids()
    )
    entity_id = entity_registry.async_get_entity_id(
        "sensor", DOMAIN, f"{NEIGHBOUR_SYSTEM}_production_power"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert state.state != STATE_UNAVAILABLE

    # The ranch leaves the account: its devices and entities go.
    simulator.sim.transfer_system(PLAIN_SYSTEM, None)
    await _poll(hass, freezer, coordinator)
    assert entry.runtime_data.coordinator is coordinator
    assert device(str(PLAIN_SYSTEM)) is None
    assert not any(uid.startswith(f"{PLAIN_SYSTEM}_") for uid in unique_ids())
    for entity_id in plain_entities:
        assert hass.states.get(entity_id) is None
    assert PLAIN_SYSTEM not in coordinator.data.systems
    assert device(str(BATTERY_SYSTEM)) is not None
    assert device(str(NEIGHBOUR_SYSTEM)) is not None

    # And comes back later: devices and entities return, still without a reload.
    simulator.sim.transfer_system(PLAIN_SYSTEM, "demo@example.com")
    await _poll(hass, freezer, coordinator)
    assert device(str(PLAIN_SYSTEM)) is not None
    assert f"{PLAIN_SYSTEM}_production_power" in unique_ids()


@pytest.mark.parametrize("plan", ["megawatt"])
@pytest.mark.parametrize(("fault", "permitted"), [(False, True), (True, False)])
async def test_battery_without_settings_is_not_controlled(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    fault: bool,
    permitted: bool,
) -> None:
    """Enphase lists a battery but answers 422 for its settings: no control, no failure."""
    if fault:
        simulator.sim.add_fault(
            status=422,
            path=f"/api/v4/systems/config/{BATTERY_SYSTEM}/battery_settings",
            details="No encharges found",
        )
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    snapshot = config_entry.runtime_data.coordinator.data.systems[BATTERY_SYSTEM]
    assert snapshot.has_battery
    assert snapshot.control_permitted is permitted


@pytest.mark.parametrize("plan", ["kilowatt", "megawatt"])
async def test_setup_reads_the_systems_and_settings_once(
    simulator: SimHarness, init_integration: MockConfigEntry, plan: str
) -> None:
    """Setup's first refresh lists the systems and probes battery control, once each."""
    assert init_integration.state is ConfigEntryState.LOADED
    # Below Megawatt the probe's generic 401 is confirmed as the plan by a second
    # (plan-free) systems call with the same token.
    assert endpoint_calls(simulator, SYSTEMS_CALLS) == (1 if plan == "megawatt" else 2)
    # Enphase does not count a call outside the plan; the budget counts its answer.
    responses = init_integration.runtime_data.budget.as_diagnostics()["responses"]
    assert sum(responses["battery_settings"].values()) == 1
    snapshot = init_integration.runtime_data.coordinator.data.systems[BATTERY_SYSTEM]
    assert snapshot.control_permitted is (plan == "megawatt")


async def test_offline_gateway_costs_no_battery_reads(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """While the systems list shows no upload since the last read, the battery is not read."""
    simulator.sim.start_outage(BATTERY_SYSTEM)
    # The upload before the outage may not have been read yet: one round reads it.
    await _poll(hass, freezer, coordinator)
    reads = endpoint_calls(simulator, BATTERY_CALLS)
    for _ in range(4):
        await _poll(hass, freezer, coordinator)
    assert endpoint_calls(simulator, BATTERY_CALLS) == reads
    # The level is still confirmed current, so its sensor stays available.
    snapshot = coordinator.data.systems[BATTERY_SYSTEM]
    assert snapshot.battery_fetched_at == dt_util.utcnow()
    state = hass.states.get("sensor.casa_solar_battery_state_of_charge")
    assert state is not None
    assert state.state != STATE_UNAVAILABLE

    simulator.sim.end_outage(BATTERY_SYSTEM)
    await _poll(hass, freezer, coordinator)
    assert endpoint_calls(simulator, BATTERY_CALLS) == reads + 1


@pytest.mark.parametrize("plan", ["watt"])
async def test_setup_goes_on_when_the_minute_ends_after_the_systems_list(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Systems the minute's calls do not reach yet follow a minute later, without a retry.

    An account with more systems than one minute of the plan can read would
    otherwise never finish setting up.
    """
    # Six of the minute's ten calls are spent: the systems list, the battery
    # system's devices and control probe (Enphase refuses it as outside the plan and
    # does not count it), the probe's plan check (a plan-free call) and the second
    # system's devices fit; the summaries do not.
    spent = (START - timedelta(seconds=30)).timestamp()
    store, data = stored_budget(API_KEY, used=6, recent=[spent] * 6)
    hass_storage[store] = data
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    coordinator = config_entry.runtime_data.coordinator
    assert coordinator.data.systems[PLAIN_SYSTEM].summary is None

    freezer.tick(timedelta(minutes=1))
    await _fire(hass)
    assert set(coordinator.data.systems) == {BATTERY_SYSTEM, PLAIN_SYSTEM}
    state = hass.states.get("sensor.texas_ranch_solar_power")
    assert state is not None
    assert state.state != STATE_UNAVAILABLE


# --- fidelity: what Enphase really answers (issue 9) -----------------------------


@pytest.mark.parametrize("plan", ["megawatt"])
async def test_a_site_that_has_not_reported_fails_only_its_own_reads(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """grid_status and storm_guard answer 422 before a report: the round goes on."""
    simulator.sim.set_site_shape(BATTERY_SYSTEM, reported=False)
    simulator.sim.set_grid(BATTERY_SYSTEM, on=False)
    before = coordinator.data.systems[BATTERY_SYSTEM]
    await _poll(hass, freezer, coordinator)
    assert coordinator.last_update_success
    after = coordinator.data.systems[BATTERY_SYSTEM]
    # The battery settings were still read; the failed reads keep what was known.
    assert after.config_fetched_at == dt_util.utcnow()
    assert after.grid_status == before.grid_status
    assert after.summary is not None


@pytest.mark.parametrize("plan", ["megawatt"])
async def test_grid_unknown_and_an_unknown_mode(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Neither a grid state "Unknown" nor a mode we do not know breaks a poll."""
    simulator.sim.set_site_shape(BATTERY_SYSTEM, grid_unknown=True)
    simulator.sim.set_battery_mode(BATTERY_SYSTEM, "AI Optimisation")
    await _poll(hass, freezer, coordinator)
    assert coordinator.last_update_success
    snapshot = coordinator.data.systems[BATTERY_SYSTEM]
    assert snapshot.grid_status is not None
    assert snapshot.grid_status.on_grid is None
    assert snapshot.battery_settings is not None
    assert snapshot.battery_settings.mode == "AI Optimisation"
    grid = hass.states.get("sensor.casa_solar_grid")
    assert grid is not None
    assert grid.state == "unknown"
    mode = hass.states.get("select.casa_solar_battery_mode")
    assert mode is not None
    assert mode.state == "unknown"
    assert mode.attributes["enphase_mode"] == "AI Optimisation"


@pytest.mark.parametrize("plan", ["megawatt"])
async def test_an_expired_token_is_a_reauth_not_the_plan(
    hass: HomeAssistant,
    simulator: SimHarness,
    coordinator: EnphaseCloudCoordinator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Every call refused with the generic 401: reauth, and control is not called denied.

    (A 401 on a config endpoint alone is told apart by the client's plan-free call:
    see tests/api/test_client.py and test_client_simulator.py.)
    """
    # Revoked: the access token is refused and the refresh token too (an access token
    # that is merely expired is refreshed once and the poll succeeds: test_helpers).
    simulator.sim.revoke()
    await _poll(hass, freezer, coordinator)
    assert not coordinator.last_update_success
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert coordinator.data.systems[BATTERY_SYSTEM].control_permitted


async def test_battery_power_is_the_live_flow_not_the_rating(
    hass: HomeAssistant, simulator: SimHarness, coordinator: EnphaseCloudCoordinator
) -> None:
    """Battery power from latest_telemetry; home power = production + grid + battery."""
    snapshot = coordinator.data.systems[BATTERY_SYSTEM]
    assert snapshot.telemetry is not None
    reported = snapshot.telemetry.encharges[0].last_report_at
    assert reported is not None
    truth = [
        row for row in simulator.sim.truth(BATTERY_SYSTEM) if row["end_at"] <= reported.timestamp()
    ][-1]
    battery = hass.states.get("sensor.casa_solar_battery_power")
    home = hass.states.get("sensor.casa_solar_home_power")
    grid = hass.states.get("sensor.casa_solar_grid_power")
    solar = hass.states.get("sensor.casa_solar_solar_power")
    assert battery is not None
    assert home is not None
    assert grid is not None
    assert solar is not None
    assert int(battery.state) == (truth["discharge"] - truth["charge"]) * 4
    assert int(home.state) == truth["consumption"] * 4
    assert int(grid.state) == (truth["import"] - truth["export"]) * 4
    assert int(home.state) == int(solar.state) + int(grid.state) + int(battery.state)
