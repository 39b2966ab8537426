"""Health binary sensors against the simulator: problem, grid, grid services event."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.enphase_cloud.api import GridStatus
from custom_components.enphase_cloud.binary_sensor import grid_present
from custom_components.enphase_cloud.health import SystemHealth

from .conftest import BATTERY_SYSTEM, SimHarness, run_until

PROBLEM = "binary_sensor.casa_solar_problem"
GRID = "binary_sensor.casa_solar_grid"
GRID_SERVICES = "binary_sensor.casa_solar_battery_grid_services_event"
PLAIN_PROBLEM = "binary_sensor.texas_ranch_problem"


@pytest.fixture
def plan() -> str:
    """A paid plan: a bulk round every quarter hour."""
    return "kilowatt"


@pytest.fixture(autouse=True)
def only_binary_sensors() -> object:
    """Set up the binary sensor platform alone."""
    with patch("custom_components.enphase_cloud.PLATFORMS", [Platform.BINARY_SENSOR]):
        yield


async def settle(hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int = 20) -> None:
    """Let the polls of the next `minutes` run (one bulk round on a paid plan)."""
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=minutes))


async def test_binary_sensors(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await settle(hass, freezer, 2)
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_problem_on_while_an_alarm_is_active(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
) -> None:
    await settle(hass, freezer, 2)
    assert hass.states.get(PROBLEM).state == STATE_OFF
    assert hass.states.get(PROBLEM).attributes["alarms"] == []
    simulator.sim.health.inject(BATTERY_SYSTEM, "micro_not_producing", device=4)
    # The micro fault escalates to an alarm after an hour; one bulk round later it shows.
    await settle(hass, freezer, 60 + 20)
    state = hass.states.get(PROBLEM)
    assert state.state == STATE_ON
    [alarm] = state.attributes["alarms"]
    assert alarm["type"] == "micro_not_producing"
    assert alarm["name"] == "Microinverter not producing"
    assert alarm["recommended_action"] == "Contact your installer to check the microinverter."
    assert dt_util.parse_datetime(alarm["since"]) is not None
    assert "serial" not in str(state.attributes)
    assert hass.states.get(PLAIN_PROBLEM).state == STATE_OFF
    simulator.sim.health.clear(BATTERY_SYSTEM, "micro_not_producing", device=4)
    await settle(hass, freezer)
    assert hass.states.get(PROBLEM).state == STATE_OFF


async def test_grid_from_events_on_off_unknown(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
) -> None:
    await settle(hass, freezer, 2)
    assert hass.states.get(GRID).state == STATE_ON
    simulator.sim.set_grid(BATTERY_SYSTEM, on=False)
    await settle(hass, freezer)
    assert hass.states.get(GRID).state == STATE_OFF
    assert hass.states.get(PROBLEM).state == STATE_ON
    simulator.sim.set_grid(BATTERY_SYSTEM, on=True)
    await settle(hass, freezer)
    assert hass.states.get(GRID).state == STATE_ON
    # A silent gateway: nobody knows whether the grid is there.
    simulator.sim.start_outage(BATTERY_SYSTEM)
    await settle(hass, freezer, 75)
    assert hass.states.get(GRID).state == STATE_UNKNOWN
    simulator.sim.end_outage(BATTERY_SYSTEM)
    await settle(hass, freezer)
    assert hass.states.get(GRID).state == STATE_ON


async def test_grid_services_event(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
) -> None:
    await settle(hass, freezer, 2)
    state = hass.states.get(GRID_SERVICES)
    assert state.state == STATE_OFF
    assert state.attributes["event"] == "none"
    coordinator = init_integration.runtime_data.coordinator
    assert coordinator.data.systems[BATTERY_SYSTEM].grid_services_event_active is False
    now = simulator.sim.now_ts()
    simulator.sim.health.schedule_grid_event(BATTERY_SYSTEM, now + 600, now + 3 * 3600)
    await settle(hass, freezer, 30)
    state = hass.states.get(GRID_SERVICES)
    assert state.state == STATE_ON
    assert state.attributes["event"] == "active"
    assert state.attributes["source"] == "events"
    assert coordinator.data.systems[BATTERY_SYSTEM].grid_services_event_active is True
    await settle(hass, freezer, 3 * 60)
    assert hass.states.get(GRID_SERVICES).state == STATE_OFF
    assert coordinator.data.systems[BATTERY_SYSTEM].grid_services_event_active is False


@pytest.mark.parametrize("plan", ["megawatt"])
async def test_grid_from_grid_status(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
) -> None:
    await settle(hass, freezer, 2)
    assert hass.states.get(GRID).state == STATE_ON
    simulator.sim.set_grid(BATTERY_SYSTEM, on=False)
    await settle(hass, freezer)
    assert hass.states.get(GRID).state == STATE_OFF


@pytest.mark.parametrize(
    ("grid_state", "expected"),
    [("On Grid", True), ("Off Grid", False), ("Unknown", None), ("Islanded?", None)],
)
def test_grid_status_unknown_is_unknown_not_off(grid_state: str, expected: bool | None) -> None:
    status = GridStatus.from_dict({"system_id": BATTERY_SYSTEM, "grid_state": grid_state})
    # The events say the grid is there; the grid status, where read, has the last word.
    health = SystemHealth(fetched_at=dt_util.utcnow(), grid_on=True)
    snapshot = SimpleNamespace(grid_status=status, health=health)
    assert grid_present(snapshot) is expected  # type: ignore[arg-type]
