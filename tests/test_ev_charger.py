"""IQ EV Chargers against the simulator: devices, sensors, sessions, statistics, budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.const import STATE_UNAVAILABLE, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.enphase_cloud.const import DOMAIN
from custom_components.enphase_cloud.devices import system_identifier
from custom_components.enphase_cloud.ev_charger import charger_identifier, charger_key
from enphase_simulator import ev_charger as sim_ev

from .conftest import API_KEY, BATTERY_SYSTEM, PLAIN_SYSTEM, START, SimHarness, run_until

HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)
STATUS = "sensor.casa_solar_ev_charger_status"


@pytest.fixture
def plan() -> str:
    """Kilowatt: a bulk round every quarter hour, room in every minute."""
    return "kilowatt"


@pytest.fixture(autouse=True)
def only_sensors() -> object:
    """The charger's sensors (the buttons have their own module)."""
    with patch("custom_components.enphase_cloud.PLATFORMS", [Platform.SENSOR]):
        yield


def _serial(simulator: SimHarness, system_id: int = BATTERY_SYSTEM) -> str:
    return simulator.sim.system(system_id).ev.chargers[0].serial


def _charger_entities(
    entity_registry: er.EntityRegistry, entry: MockConfigEntry
) -> list[er.RegistryEntry]:
    return sorted(
        (
            e
            for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
            if "_ev_" in e.unique_id
        ),
        key=lambda e: e.unique_id,
    )


async def test_charger_device_and_sensors(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
    freezer: FrozenDateTimeFactory,
) -> None:
    # The charger's energy stream (and with it the power) follows the first poll.
    await run_until(hass, freezer, START + timedelta(minutes=2))
    serial = _serial(simulator)
    key = charger_key(BATTERY_SYSTEM, serial)
    device = device_registry.async_get_device_by_identifier(
        charger_identifier(BATTERY_SYSTEM, key), init_integration.entry_id
    )
    assert device is not None
    system = device_registry.async_get_device_by_identifier(
        system_identifier(BATTERY_SYSTEM), init_integration.entry_id
    )
    assert system is not None
    assert device.via_device_id == system.id
    assert (device.name, device.model, device.sw_version) == (
        "Casa Solar EV charger",
        "IQ-EVSE-40R",
        "v0.04.22",
    )
    entities = _charger_entities(entity_registry, init_integration)
    assert len(entities) == 6
    for entity in entities:
        state = hass.states.get(entity.entity_id)
        assert state is not None
        assert state == snapshot(name=entity.unique_id.removeprefix(f"{BATTERY_SYSTEM}_ev_{key}_"))
        # The serial is the homeowner's secret: never in an id, a name or an attribute.
        assert serial not in repr(entity)
        assert serial not in repr(state)
    assert serial not in repr(device)
    # Only the system with a charger has one.
    assert not [e for e in entities if e.unique_id.startswith(str(PLAIN_SYSTEM))]


async def test_session_lifecycle(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    # 12:07 local: today's car came at 09:00 and is still plugged in.
    prefix = "sensor.casa_solar_ev_charger"
    assert hass.states.get(f"{prefix}_status").state in {"charging", "connected"}
    start = hass.states.get(f"{prefix}_session_start")
    assert start.state == "2026-06-15T16:00:00+00:00"
    assert hass.states.get(f"{prefix}_session_end").state == "unknown"
    running = float(hass.states.get(f"{prefix}_session_energy").state)
    assert running > 0
    # The car leaves at 17:00 local (00:00 UTC); the next upload tells.
    await run_until(hass, freezer, datetime(2026, 6, 16, 0, 40, tzinfo=UTC))
    assert hass.states.get(f"{prefix}_status").state == "disconnected"
    assert hass.states.get(f"{prefix}_session_end").state == "2026-06-16T00:00:00+00:00"
    finished = float(hass.states.get(f"{prefix}_session_energy").state)
    assert finished >= running
    sessions = simulator.sim.system(BATTERY_SYSTEM).ev.chargers[0].sessions
    assert round(finished * 1000) == sessions[-1].energy_wh
    lifetime = hass.states.get(f"{prefix}_lifetime_energy")
    assert float(lifetime.state) > finished


async def _stored_hours(
    hass: HomeAssistant, stat_id: str, start: datetime, end: datetime
) -> dict[datetime, dict[str, Any]]:
    await async_wait_recording_done(hass)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, end, {stat_id}, "hour", None, {"state", "sum"}
    )
    return {datetime.fromtimestamp(r["start"], UTC): r for r in rows.get(stat_id, [])}


async def test_statistics_complete_and_exact_after_an_outage(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    serial = _serial(simulator)
    stat_id = f"{DOMAIN}:{BATTERY_SYSTEM}_ev_{charger_key(BATTERY_SYSTEM, serial)}"
    assert stat_id == stat_id.lower()
    first = (START - timedelta(days=2)).replace(minute=0)
    await run_until(hass, freezer, START + HOUR)
    simulator.sim.start_outage(BATTERY_SYSTEM)
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(hours=20))
    simulator.sim.end_outage(BATTERY_SYSTEM)
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=40))
    end = dt_util.utcnow().replace(minute=0)
    truth: dict[datetime, int] = {}
    for row in sim_ev.truth(simulator.sim, BATTERY_SYSTEM, serial, first, end):
        hour = (datetime.fromtimestamp(row["end_at"], UTC) - QUARTER).replace(minute=0)
        truth[hour] = truth.get(hour, 0) + row["energy"]
    stored = await _stored_hours(hass, stat_id, first - HOUR, end)
    assert sorted(truth) == [hour for hour in sorted(stored) if hour >= first]
    assert sum(truth.values()) > 0
    previous = stored.get(first - HOUR, {}).get("sum") or 0.0
    for hour, wh in sorted(truth.items()):
        assert round(stored[hour]["state"] * 1000) == wh, hour
        assert round((stored[hour]["sum"] - previous) * 1000) == wh, hour
        previous = stored[hour]["sum"]


async def test_chargers_appear_and_disappear_without_reload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    serial = sim_ev.add_charger(simulator.sim, PLAIN_SYSTEM)
    key = charger_key(PLAIN_SYSTEM, serial)
    identifier = charger_identifier(PLAIN_SYSTEM, key)
    await run_until(hass, freezer, dt_util.utcnow() + HOUR + QUARTER)
    assert (
        device_registry.async_get_device_by_identifier(identifier, init_integration.entry_id)
        is not None
    )
    state = hass.states.get("sensor.texas_ranch_ev_charger_status")
    assert state is not None
    assert state.state != STATE_UNAVAILABLE
    sim_ev.remove_charger(simulator.sim, PLAIN_SYSTEM, serial)
    await run_until(hass, freezer, dt_util.utcnow() + HOUR + QUARTER)
    assert (
        device_registry.async_get_device_by_identifier(identifier, init_integration.entry_id)
        is None
    )
    assert hass.states.get("sensor.texas_ranch_ev_charger_status") is None
    assert not [
        e
        for e in _charger_entities(entity_registry, init_integration)
        if e.unique_id.startswith(f"{PLAIN_SYSTEM}_ev_")
    ]
    # The demo system's charger is untouched.
    assert hass.states.get(STATUS).state != STATE_UNAVAILABLE


@pytest.mark.parametrize("plan", ["watt"])
async def test_free_plan_finds_the_charger_within_the_budget(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    await run_until(hass, freezer, START + timedelta(minutes=30))
    assert hass.states.get(STATUS) is not None
    usage = simulator.sim.usage(API_KEY)
    assert usage["endpoints"]["GET /api/v4/systems/{system_id}/ev_charger/devices"]["total"] == 2
    await run_until(hass, freezer, START + timedelta(days=1, hours=1))
    usage = simulator.sim.usage(API_KEY)
    # The charger list follows the daily systems list on Watt (at most hourly while a
    # round waits for calls), never every poll.
    assert usage["endpoints"]["GET /api/v4/systems/{system_id}/ev_charger/devices"]["total"] <= 6
    responses = init_integration.runtime_data.budget.as_diagnostics()["responses"]
    assert not [counts for counts in responses.values() if "429" in counts]


async def test_a_broken_charger_answer_never_stops_polling(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serial = _serial(simulator)
    simulator.sim.add_fault(kind="malformed", path="/api/v4/systems/*/ev_charger/events", count=1)
    await run_until(hass, freezer, START + timedelta(minutes=25))
    ours = [r for r in caplog.records if r.name.startswith("custom_components.enphase_cloud")]
    assert any("EV chargers of system 1001 not read" in r.getMessage() for r in ours)
    # (The simulator's own access log names the charger's URL; the integration never does.)
    assert not [r for r in ours if serial in r.getMessage()]
    # The system's own data went on; the charger is read again at the next upload.
    assert hass.states.get("sensor.casa_solar_solar_power").state != STATE_UNAVAILABLE
    await run_until(hass, freezer, START + timedelta(minutes=40))
    assert hass.states.get(STATUS).state != STATE_UNAVAILABLE


async def test_a_system_leaving_takes_its_charger(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    key = charger_key(BATTERY_SYSTEM, _serial(simulator))
    identifier = charger_identifier(BATTERY_SYSTEM, key)
    assert device_registry.async_get_device_by_identifier(identifier, init_integration.entry_id)
    simulator.sim.transfer_system(BATTERY_SYSTEM, None)
    await run_until(hass, freezer, START + timedelta(minutes=25))
    assert (
        device_registry.async_get_device_by_identifier(identifier, init_integration.entry_id)
        is None
    )
    assert hass.states.get(STATUS) is None
