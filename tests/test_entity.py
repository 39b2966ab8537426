"""Tests for the base entity (availability, staleness)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.enphase_cloud.const import DOMAIN
from custom_components.enphase_cloud.coordinator import FAILURE_GRACE, EnphaseCloudCoordinator

from .conftest import PLAIN_SYSTEM, SimHarness

EXCEPTIONS = json.loads(
    (
        Path(__file__).parent.parent / "custom_components" / DOMAIN / "translations" / "en.json"
    ).read_text()
)["exceptions"]
RETRY_AT = datetime(2026, 6, 15, 20, 0, tzinfo=UTC)
CASA_POWER = "sensor.casa_solar_solar_power"
CASA_SOC = "sensor.casa_solar_battery_state_of_charge"
RANCH_POWER = "sensor.texas_ranch_solar_power"
RANCH_STATUS = "sensor.texas_ranch_status"
RANCH_LAST_REPORT = "sensor.texas_ranch_last_report"


@pytest.fixture
def plan() -> str:
    """Poll on the Kilowatt plan: a bulk round every quarter hour."""
    return "kilowatt"


async def _advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, until: datetime) -> None:
    """Let every scheduled poll up to `until` run."""
    while dt_util.utcnow() < until:
        freezer.tick(timedelta(minutes=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)


def _available(hass: HomeAssistant, entity_id: str) -> bool:
    state = hass.states.get(entity_id)
    assert state is not None, entity_id
    return state.state != STATE_UNAVAILABLE


async def test_failed_polls_keep_entities_for_a_grace_only(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Enphase down: one failed poll keeps the last data, half an hour of failures does not."""
    coordinator: EnphaseCloudCoordinator = init_integration.runtime_data.coordinator
    start = dt_util.utcnow()
    # Documented threshold: two of the slowest rounds plus an hour (90 min on Kilowatt).
    assert coordinator.data.stale_after == timedelta(minutes=90)
    value = hass.states.get(CASA_POWER)
    simulator.sim.add_fault(status=503, count=10_000)

    await _advance(hass, freezer, start + timedelta(minutes=20))
    assert not coordinator.last_update_success
    assert _available(hass, CASA_POWER)
    assert _available(hass, CASA_SOC)
    assert hass.states.get(CASA_POWER).state == value.state  # type: ignore[union-attr]
    failing_since = coordinator.failing_since
    assert failing_since is not None

    # Well before the data itself is stale: the failing polls decide.
    await _advance(hass, freezer, failing_since + FAILURE_GRACE + timedelta(minutes=16))
    assert dt_util.utcnow() - start < coordinator.data.stale_after
    assert not coordinator.last_update_success
    assert not _available(hass, CASA_POWER)
    assert not _available(hass, CASA_SOC)
    assert not _available(hass, RANCH_POWER)

    simulator.sim.clear_faults()
    await _advance(hass, freezer, dt_util.utcnow() + timedelta(minutes=20))
    assert coordinator.last_update_success
    assert coordinator.failing_since is None
    assert _available(hass, CASA_POWER)
    assert _available(hass, CASA_SOC)


@pytest.mark.parametrize("plan", ["watt"])
async def test_watt_plan_goes_unavailable_soon_when_enphase_is_unreachable(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The free plan's daily round kept values ~49 h; now the failing polls decide."""
    coordinator: EnphaseCloudCoordinator = init_integration.runtime_data.coordinator
    start = dt_util.utcnow()
    assert coordinator.data.stale_after > timedelta(hours=24)
    simulator.sim.add_fault(status=503, count=100_000)
    await _advance(hass, freezer, start + timedelta(hours=3))
    assert not coordinator.last_update_success
    assert not _available(hass, CASA_POWER)
    assert not _available(hass, CASA_SOC)


async def test_silent_gateway_goes_stale_alone(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A gateway that stops uploading: its readings go stale, its status stays to tell."""
    coordinator: EnphaseCloudCoordinator = init_integration.runtime_data.coordinator
    start = dt_util.utcnow()
    simulator.sim.start_outage(PLAIN_SYSTEM)

    await _advance(hass, freezer, start + coordinator.data.stale_after + timedelta(minutes=30))
    assert coordinator.last_update_success
    assert not _available(hass, RANCH_POWER)
    assert _available(hass, RANCH_STATUS)
    assert _available(hass, RANCH_LAST_REPORT)
    assert hass.states.get(RANCH_STATUS).state == "comm"  # type: ignore[union-attr]
    # The other system of the account keeps reporting.
    assert _available(hass, CASA_POWER)

    simulator.sim.end_outage(PLAIN_SYSTEM)
    await _advance(hass, freezer, dt_util.utcnow() + timedelta(minutes=30))
    assert _available(hass, RANCH_POWER)
    assert hass.states.get(RANCH_STATUS).state == "normal"  # type: ignore[union-attr]
