"""Health polling: repairs for long alarms, the budget, errors, and the signal rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_cloud.api.models.events import EventStatus, EventType, SystemEvent
from custom_components.enphase_cloud.const import DOMAIN
from custom_components.enphase_cloud.health import (
    CALLS_PER_SYSTEM,
    HealthMonitor,
    grid_from_events,
    grid_services_from,
    issue_id,
    settings_say_grid_services,
)

from .conftest import BATTERY_SYSTEM, PLAIN_SYSTEM, SimHarness, run_until

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
TYPES = {
    1: EventType(event_type_id=1, key="grid_outage", name="Grid outage"),
    2: EventType(event_type_id=2, key="dr_event", name="Demand response event"),
    28: EventType(event_type_id=28, key="envoy_no_report", name="Gateway not reporting"),
    3: EventType(event_type_id=3, key="acb_sleeping", name="AC Battery Sleeping"),
}


@pytest.fixture
def plan() -> str:
    """A paid plan: a bulk round every quarter hour."""
    return "kilowatt"


@pytest.fixture(autouse=True)
def no_platforms() -> object:
    """Health polling needs no entity."""
    with patch("custom_components.enphase_cloud.PLATFORMS", []):
        yield


def event(type_id: int, start: datetime, end: datetime | None = None) -> SystemEvent:
    """Return a stateful event of `type_id`."""
    status = EventStatus.OPEN if end is None else EventStatus.CLOSED
    return SystemEvent(event_type_id=type_id, status=status, started_at=start, ended_at=end)


async def settle(hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int = 20) -> None:
    """Let the polls of the next `minutes` run."""
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=minutes))


def test_grid_from_events() -> None:
    assert grid_from_events([], TYPES) is True
    assert grid_from_events([event(1, NOW)], TYPES) is False
    assert grid_from_events([event(1, NOW, NOW)], TYPES) is True
    assert grid_from_events([event(28, NOW)], TYPES) is None
    assert grid_from_events([event(28, NOW), event(1, NOW)], TYPES) is False
    # An unknown type says nothing about the grid.
    assert grid_from_events([event(99, NOW)], TYPES) is True


def test_grid_services_from_events_and_settings() -> None:
    assert grid_services_from([], TYPES, NOW).state == "none"
    active = grid_services_from([event(2, NOW - timedelta(minutes=5))], TYPES, NOW)
    assert active.active
    assert active.state == "active"
    assert active.source == "events"
    assert active.started_at == NOW - timedelta(minutes=5)
    ended = grid_services_from([event(2, NOW - timedelta(hours=2), NOW)], TYPES, NOW)
    assert ended.state == "none"
    scheduled = grid_services_from([event(2, NOW + timedelta(hours=1))], TYPES, NOW)
    assert scheduled.state == "scheduled"
    assert scheduled.scheduled_start == NOW + timedelta(hours=1)
    # UNCONFIRMED: battery settings naming the event as the mode count too.
    settings = SimpleNamespace(mode="DR Event Active")
    assert settings_say_grid_services(settings)
    assert not settings_say_grid_services(SimpleNamespace(mode="Savings Mode"))
    from_settings = grid_services_from([], TYPES, NOW, settings)
    assert from_settings.state == "active"
    assert from_settings.source == "battery_settings"


def test_round_calls() -> None:
    assert HealthMonitor.round_calls([BATTERY_SYSTEM, PLAIN_SYSTEM]) == 2 * CALLS_PER_SYSTEM


async def test_repair_raised_cleared_and_not_raised_again_after_dismissal(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    health = simulator.sim.health
    now = simulator.sim.now_ts()
    # A micro fault since two days (its alarm since 47 hours) and a fresh battery alarm.
    health.inject(BATTERY_SYSTEM, "micro_not_producing", at=now - 2 * 86_400, device=1)
    health.inject(BATTERY_SYSTEM, "battery_low_soc", at=now - 2 * 3600)
    await settle(hass, freezer)
    alarms = {a["event_type_id"]: a["id"] for a in health.state(BATTERY_SYSTEM)["active_alarms"]}
    assert len(alarms) == 2
    micro = issue_id(BATTERY_SYSTEM, alarms[5103])
    issue = issue_registry.async_get_issue(DOMAIN, micro)
    assert issue is not None
    assert issue.translation_key == "alarm_open"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["action"] == (
        "Contact your installer to check the microinverter."
    )
    assert issue.translation_placeholders["system"] == "Casa Solar"
    assert issue_registry.async_get_issue(DOMAIN, issue_id(BATTERY_SYSTEM, alarms[5102])) is None
    # The user dismisses it: later rounds, and a restart, never bring it back.
    issue_registry.async_ignore(DOMAIN, micro, ignore=True)
    await settle(hass, freezer, 45)
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await settle(hass, freezer)
    issue = issue_registry.async_get_issue(DOMAIN, micro)
    assert issue is not None
    assert issue.dismissed_version is not None
    # The battery alarm passes a day open: its repair appears.
    await settle(hass, freezer, 23 * 60)
    battery = issue_id(BATTERY_SYSTEM, alarms[5102])
    assert issue_registry.async_get_issue(DOMAIN, battery) is not None
    # Both clear: both repairs go.
    health.clear(BATTERY_SYSTEM, "micro_not_producing", device=1)
    health.clear(BATTERY_SYSTEM, "battery_low_soc")
    await settle(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, micro) is None
    assert issue_registry.async_get_issue(DOMAIN, battery) is None


async def test_health_is_counted_in_the_cadence_and_waits_for_the_minute(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    await settle(hass, freezer, 2)
    usage = simulator.sim.usage()["endpoints"]
    events = {
        name: c["total"]
        for name, c in usage.items()
        if ("/events" in name or "alarms" in name) and "ev_charger" not in name
    }
    assert events == {
        f"GET /api/v4/systems/{{system_id}}/{kind}": 2 for kind in ("events", "alarms")
    }
    # A full minute: health waits and follows a minute later.
    simulator.sim.health.inject(
        BATTERY_SYSTEM, "micro_not_producing", at=simulator.sim.now_ts() - 7200
    )
    with patch.object(coordinator.budget, "calls_available_now", return_value=CALLS_PER_SYSTEM + 1):
        await settle(hass, freezer, 16)
    assert not coordinator.data.systems[BATTERY_SYSTEM].health.alarms
    await settle(hass, freezer, 2)
    assert coordinator.data.systems[BATTERY_SYSTEM].health.alarms


async def test_a_broken_answer_keeps_the_rest_going(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
) -> None:
    coordinator = init_integration.runtime_data.coordinator
    await settle(hass, freezer, 2)
    before = coordinator.data.systems[BATTERY_SYSTEM].health
    assert before is not None
    simulator.sim.add_fault(kind="malformed", path=f"/api/v4/systems/{BATTERY_SYSTEM}/alarms")
    simulator.sim.add_fault(500, path=f"/api/v4/systems/{PLAIN_SYSTEM}/events")
    await settle(hass, freezer)
    assert coordinator.last_update_success
    assert coordinator.data.systems[BATTERY_SYSTEM].health == before
    await settle(hass, freezer)
    assert coordinator.data.systems[BATTERY_SYSTEM].health.fetched_at > before.fetched_at


async def test_event_types_read_once(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
) -> None:
    simulator.sim.health.inject(BATTERY_SYSTEM, "micro_not_producing")
    simulator.sim.health.inject(PLAIN_SYSTEM, "micro_not_producing")
    await settle(hass, freezer, 90)
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await settle(hass, freezer, 30)
    usage = simulator.sim.usage()["endpoints"]
    assert usage["GET /api/v4/systems/event_types"]["total"] == 1
    alarms = init_integration.runtime_data.coordinator.data.systems[PLAIN_SYSTEM].health.alarms
    assert alarms[0].name == "Microinverter not producing"


async def test_removing_the_entry_removes_its_alarm_repairs(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    now = simulator.sim.now_ts()
    simulator.sim.health.inject(PLAIN_SYSTEM, "micro_not_producing", at=now - 3 * 86_400)
    await settle(hass, freezer)
    [alarm] = simulator.sim.health.state(PLAIN_SYSTEM)["active_alarms"]
    assert issue_registry.async_get_issue(DOMAIN, issue_id(PLAIN_SYSTEM, alarm["id"]))
    await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id(PLAIN_SYSTEM, alarm["id"])) is None
