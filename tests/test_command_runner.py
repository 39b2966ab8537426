"""Tests for the Home Assistant side of battery commands: storage, restarts, repairs, removal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir, translation
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_cloud.budget import key_id
from custom_components.enphase_cloud.command_runner import (
    not_permitted_issue_id,
    restore_issue_id,
    storage_key,
)
from custom_components.enphase_cloud.const import DOMAIN
from enphase_simulator.app import CONFIG

from .battery_helpers import (
    COMMAND_SENSOR,
    HOUR,
    MINUTE,
    advance,
    call,
    command_attribute,
    command_state,
    requested,
    set_shutdown_level,
    settle,
    setup_entry,
)
from .conftest import API_KEY, BATTERY_SYSTEM, SimHarness, token_data


@pytest.fixture
def plan() -> str:
    """Battery control needs the Megawatt plan."""
    return "megawatt"


async def assert_translated(hass: HomeAssistant, issue: ir.IssueEntry) -> None:
    """The issue has an English title and description with every placeholder filled in."""
    texts = await translation.async_get_translations(hass, "en", "issues", {DOMAIN})
    for part in ("title", "description"):
        template = texts[f"component.{DOMAIN}.issues.{issue.translation_key}.{part}"]
        message = template.format(**(issue.translation_placeholders or {}))
        assert message
        assert "{" not in message


async def test_command_sensor_attributes(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    start = datetime.now(UTC)
    response = await call(hass, "hold_reserve", target_reserve=60, duration={"hours": 2})
    state = hass.states.get(COMMAND_SENSOR)
    assert state is not None
    assert state.state == "pending"
    attributes = dict(state.attributes)
    assert attributes | {"options": None, "friendly_name": None} == {
        "options": None,
        "friendly_name": None,
        "device_class": "enum",
        "command_id": response["command_id"],
        "kind": "hold_reserve",
        "target_reserve": 60,
        "started": start,
        "effective_from": start + MINUTE,
        "ends_at": start + timedelta(hours=2),
        "restore_to_mode": "self_consumption",
        "restore_to_reserve": 30,
        "restore_failing_since": None,
        "last_end_reason": None,
        "last_ended_at": None,
    }


async def test_restart_mid_command_resumes_its_timers(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    response = await call(hass, "hold_reserve", target_reserve=70, duration={"hours": 1})
    await advance(hass, freezer, 10 * MINUTE)

    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await settle(hass)

    state = hass.states.get(COMMAND_SENSOR)
    assert state is not None
    assert state.state == "active"
    assert state.attributes["command_id"] == response["command_id"]
    assert requested(simulator) == ("self_consumption", 70)

    await advance(hass, freezer, 50 * MINUTE)
    assert command_state(hass) == "restoring"
    assert requested(simulator) == ("self_consumption", 30)
    await advance(hass, freezer, 2 * MINUTE)
    assert command_state(hass) == "idle"


async def test_restart_after_expiry_restores_at_once(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await call(hass, "discharge", target_reserve=40, duration={"hours": 1})
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await settle(hass)
    assert init_integration.state is ConfigEntryState.NOT_LOADED

    # Home Assistant was down past the command's end: nothing restored meanwhile.
    freezer.tick(timedelta(hours=2))
    assert requested(simulator) == ("self_consumption", 40)

    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await settle(hass)
    assert requested(simulator) == ("self_consumption", 30)
    assert command_attribute(hass, "last_end_reason") == "expired"
    await advance(hass, freezer, 2 * MINUTE)
    assert command_state(hass) == "idle"


async def test_restore_failure_raises_a_repair_then_recovers(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    issue_id = restore_issue_id(init_integration.entry_id, BATTERY_SYSTEM)
    await call(hass, "hold_reserve", target_reserve=80, duration={"minutes": 10})
    simulator.sim.add_fault(503, path="*battery_settings", count=1000)

    await advance(hass, freezer, 10 * MINUTE)
    assert command_state(hass) == "restoring"
    assert command_attribute(hass, "restore_failing_since") is not None
    await advance(hass, freezer, 14 * MINUTE)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    await advance(hass, freezer, 2 * MINUTE)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "battery_restore_failing"
    assert issue.translation_placeholders["system"] == "Casa Solar"
    await assert_translated(hass, issue)
    assert requested(simulator) == ("self_consumption", 80)

    simulator.sim.clear_faults()
    # The back-off has grown to 15 minutes at most: the next attempt succeeds.
    await advance(hass, freezer, 20 * MINUTE)
    assert requested(simulator) == ("self_consumption", 30)
    assert command_state(hass) == "idle"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.parametrize("plan", ["watt"])
async def test_plan_without_permission_raises_one_repair(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    issues = [issue for (domain, _), issue in issue_registry.issues.items() if domain == DOMAIN]
    assert [issue.issue_id for issue in issues] == [
        not_permitted_issue_id(init_integration.entry_id)
    ]
    assert issues[0].translation_key == "battery_control_not_permitted"
    assert issues[0].translation_placeholders == {
        "entry": init_integration.title,
        "systems": "Casa Solar",
    }
    await assert_translated(hass, issues[0])
    assert hass.states.get(COMMAND_SENSOR) is None

    # Still true while the entry is unloaded: the issue (and a dismissal) stays.
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await settle(hass)
    assert issue_registry.async_get_issue(DOMAIN, issues[0].issue_id) is not None


async def test_permitted_plan_raises_no_repair(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    assert not [key for key in issue_registry.issues if key[0] == DOMAIN]


async def test_removing_the_entry_restores_first(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    await call(hass, "hold_reserve", target_reserve=90, duration={"hours": 2})
    assert requested(simulator) == ("self_consumption", 90)

    await hass.config_entries.async_remove(init_integration.entry_id)
    await settle(hass)

    assert requested(simulator) == ("self_consumption", 30)
    assert storage_key(init_integration.entry_id) not in hass_storage


async def test_removing_without_connection_names_the_settings(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await call(hass, "discharge", target_reserve=25, duration={"hours": 2})
    simulator.sim.add_fault(500, path="*battery_settings", count=10)

    with caplog.at_level(logging.ERROR):
        await hass.config_entries.async_remove(init_integration.entry_id)
        await settle(hass)

    assert "set them by hand: mode Self-Consumption, reserve 30 %" in caplog.text
    assert requested(simulator) == ("self_consumption", 25)


async def test_removing_when_login_fails_names_the_settings(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await call(hass, "hold_reserve", target_reserve=95, duration={"hours": 2})
    token = {**init_integration.data["token"], "expires_at": 0}
    hass.config_entries.async_update_entry(
        init_integration, data={**init_integration.data, "token": token}
    )
    simulator.sim.revoke()

    with caplog.at_level(logging.ERROR):
        await hass.config_entries.async_remove(init_integration.entry_id)
        await settle(hass)

    assert "set them by hand: mode Self-Consumption, reserve 30 %" in caplog.text
    assert requested(simulator) == ("self_consumption", 95)


@pytest.mark.parametrize("confirm", [False, True])
async def test_removing_during_a_failing_restore_sends_it_once_more(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    confirm: bool,
) -> None:
    """A removal sends the restore PUT itself: earlier failures do not make it report one.

    `confirm`: the restore PUT was accepted and awaits its read-back when the
    reserve is changed outside Home Assistant; the engine's next step would only
    have read the settings, so the removal must send them once more.
    """
    await call(hass, "hold_reserve", target_reserve=80, duration={"minutes": 10})
    simulator.sim.add_fault(503, path="*battery_settings", count=1000)
    await advance(hass, freezer, 11 * MINUTE)
    assert command_attribute(hass, "restore_failing_since") is not None
    simulator.sim.clear_faults()
    if confirm:
        await advance(hass, freezer, MINUTE)
        assert requested(simulator) == ("self_consumption", 30)
        # From the Enphase app, say: it lands after the restore.
        simulator.sim.request_settings(BATTERY_SYSTEM, {"reserve_soc": 80})
    assert command_state(hass) == "restoring"
    assert requested(simulator) == ("self_consumption", 80)

    with caplog.at_level(logging.ERROR):
        await hass.config_entries.async_remove(init_integration.entry_id)
        await settle(hass)

    assert requested(simulator) == ("self_consumption", 30)
    assert "set them by hand" not in caplog.text


async def test_removing_without_commands_calls_nothing(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    before = simulator.sim.usage()
    await hass.config_entries.async_remove(init_integration.entry_id)
    await settle(hass)
    assert simulator.sim.usage() == before


async def test_unreadable_storage_is_ignored(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    hass_storage[storage_key(config_entry.entry_id)] = {
        "version": 1,
        "minor_version": 1,
        "key": storage_key(config_entry.entry_id),
        "data": {"version": 1, "systems": [{"system_id": "x"}]},
    }
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    assert command_state(hass) == "idle"


async def test_stale_issues_are_cleared_at_setup(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Issues persist across a restart; setup drops those that are no longer true."""
    for issue_id in (
        not_permitted_issue_id(config_entry.entry_id),
        restore_issue_id(config_entry.entry_id, BATTERY_SYSTEM),
    ):
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="battery_restore_failing",
        )
    await setup_entry(hass, config_entry)
    assert not [key for key in issue_registry.issues if key[0] == DOMAIN]


# ---------------------------------------------------------------------- the real world (issue 13)


async def test_lost_answer_is_reconciled_by_reading_back(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await call(hass, "hold_reserve", target_reserve=70, duration={"hours": 1})
    # Enphase applies the next PUT but its answer never arrives whole.
    simulator.sim.add_fault(kind="truncated", path="*battery_settings", count=1)

    response = await call(hass, "hold_reserve", target_reserve=90, duration={"minutes": 30})

    # The read-back found the command's values in force: it runs, and is restored.
    assert response["target_reserve"] == 90
    assert requested(simulator) == ("self_consumption", 90)
    assert command_attribute(hass, "restore_to_reserve") == 30
    await advance(hass, freezer, 33 * MINUTE)
    assert requested(simulator) == ("self_consumption", 30)
    assert command_state(hass) == "idle"


async def test_change_in_the_enphase_app_is_not_overwritten(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await call(hass, "hold_reserve", target_reserve=80, duration={"minutes": 30})
    await advance(hass, freezer, 5 * MINUTE)
    # The user sets 85 % in the Enphase app; no poll has seen it yet.
    simulator.sim.change_settings(BATTERY_SYSTEM, {"reserve_soc": 85}, delay=0)

    await advance(hass, freezer, 30 * MINUTE)

    assert requested(simulator) == ("self_consumption", 85)
    assert command_state(hass) == "idle"
    assert command_attribute(hass, "last_end_reason") == "changed_elsewhere"
    assert "changed outside Home Assistant" in caplog.text


@pytest.mark.parametrize("plan", ["partner"])
async def test_partner_write_cap_refuses_a_command_it_cannot_restore(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    hass_storage[f"{DOMAIN}.write_budget.{key_id(API_KEY)}"] = {
        "version": 1,
        "key": f"{DOMAIN}.write_budget.{key_id(API_KEY)}",
        "data": {"month": month, "used": {"battery_settings/put": 199}, "blocked": {}},
    }
    await setup_entry(hass, config_entry)
    writes = len(simulator.sim.quota.endpoints[API_KEY])

    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "hold_reserve", target_reserve=80)

    assert refused.value.translation_key == "write_quota_exhausted"
    assert refused.value.translation_placeholders == {"needed": "2", "left": "1"}
    assert len(simulator.sim.quota.endpoints[API_KEY]) == writes
    assert command_state(hass) == "idle"


@pytest.mark.parametrize("plan", ["partner"])
async def test_write_cap_reached_at_enphase_never_blocks_reads(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    # Another app on the key used this month's 200 writes to battery_settings.
    put = f"PUT {CONFIG}/battery_settings"
    simulator.sim.quota.endpoints[API_KEY][put].set("month", simulator.sim.now_ts(), 200)
    reads = simulator.sim.quota.keys[API_KEY].total

    with pytest.raises(HomeAssistantError):
        await call(hass, "hold_reserve", target_reserve=80)

    budget = init_integration.runtime_data.budget
    assert budget.blocked_until is None
    assert budget.writes.remaining("battery_settings/put") == 0
    await advance(hass, freezer, 30 * MINUTE)
    # Polling went on.
    assert simulator.sim.quota.keys[API_KEY].total > reads + 1
    assert command_state(hass) == "idle"


async def test_shutdown_level_raised_restores_the_nearest_allowed_reserve(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await call(hass, "hold_reserve", target_reserve=80, duration={"minutes": 20})
    set_shutdown_level(simulator, 40)

    await advance(hass, freezer, 25 * MINUTE)

    assert requested(simulator) == ("self_consumption", 40)
    assert command_state(hass) == "idle"
    assert command_attribute(hass, "restore_adjusted_from") == 30
    assert "reserve is restored to 40 % instead of 30 %" in caplog.text


async def test_command_times_count_from_the_answer_and_survive_a_restart(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    start = datetime.now(UTC)
    response = await call(hass, "hold_reserve", target_reserve=80, duration={"hours": 4})
    # effective_from counts from the answer, the end from the request.
    assert datetime.fromisoformat(response["effective_from"]) >= start + MINUTE
    assert datetime.fromisoformat(response["ends_at"]) == start + timedelta(hours=4)
    await advance(hass, freezer, HOUR, step=10 * MINUTE)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await settle(hass)
    # The reckoning is kept with the command: a clock that comes back stale
    # cannot pull the command's time back (see the engine's state machine).
    stored = hass_storage[storage_key(init_integration.entry_id)]["data"]
    assert datetime.fromisoformat(stored["reckoned"]) >= start + HOUR

    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await settle(hass)
    await advance(hass, freezer, 3 * HOUR + 5 * MINUTE, step=5 * MINUTE)

    assert requested(simulator) == ("self_consumption", 30)
    assert command_state(hass) == "idle"


async def test_two_entries_share_one_command_per_system(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    tokens = simulator.sim.mint_tokens()
    second = await setup_entry(
        hass,
        MockConfigEntry(
            domain=DOMAIN,
            title="Casa Solar (installer)",
            unique_id="second-login",
            data={
                "auth_implementation": DOMAIN,
                "token": token_data(tokens),
                CONF_API_KEY: API_KEY,
            },
            options=dict(init_integration.options),
        ),
    )
    await call(
        hass,
        "hold_reserve",
        config_entry_id=init_integration.entry_id,
        target_reserve=80,
        duration={"hours": 1},
    )

    response = await call(
        hass,
        "hold_reserve",
        config_entry_id=second.entry_id,
        target_reserve=60,
        duration={"minutes": 10},
    )

    # The second entry's command replaced the first: the original snapshot stays.
    assert response["restore_to"] == {"mode": "self_consumption", "reserve_soc": 30}
    await advance(hass, freezer, 13 * MINUTE)
    assert requested(simulator) == ("self_consumption", 30)


async def test_plan_downgrade_stops_the_retries_until_the_plan_permits(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await call(hass, "hold_reserve", target_reserve=80, duration={"minutes": 10})
    simulator.sim.set_plan("watt")

    await advance(hass, freezer, 15 * MINUTE)
    issue = issue_registry.async_get_issue(
        DOMAIN,
        restore_issue_id(
            init_integration.entry_id, BATTERY_SYSTEM, "battery_restore_refused_by_plan"
        ),
    )
    assert issue is not None
    placeholders = issue.translation_placeholders or {}
    assert placeholders["mode"] == "Self-Consumption"
    assert placeholders["reserve"] == "30"
    # A time people read: local, to the minute, with its zone (not raw ISO).
    assert placeholders["since"].endswith(("PDT", "PST"))
    await assert_translated(hass, issue)
    assert command_attribute(hass, "restore_waits_for") == "plan"
    await advance(hass, freezer, 30 * MINUTE)
    # Refused once, then no retry loop against the plan.
    assert caplog.text.count("restored once it does again") == 1

    simulator.sim.set_plan("megawatt")
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await settle(hass)
    await advance(hass, freezer, 3 * MINUTE)
    assert requested(simulator) == ("self_consumption", 30)
    assert command_state(hass) == "idle"


@pytest.mark.parametrize("plan", ["watt"])
async def test_a_dismissed_plan_issue_stays_dismissed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Ignoring the plan issue holds across reloads while the issue is still true."""
    issue_id = not_permitted_issue_id(init_integration.entry_id)
    issue_registry.async_ignore(DOMAIN, issue_id, ignore=True)
    dismissed = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert dismissed is not None
    assert dismissed.dismissed_version is not None

    freezer.tick(timedelta(minutes=2))  # the Watt plan's minute is spent by the setup
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.active
    assert issue.dismissed_version == dismissed.dismissed_version


async def test_grid_services_event_refuses_commands_and_defers_the_restore(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A utility's event has the battery: no new command, and no restore over it."""
    coordinator = init_integration.runtime_data.coordinator
    await call(hass, "hold_reserve", target_reserve=80, duration={"minutes": 30})
    assert requested(simulator) == ("self_consumption", 80)
    now = simulator.sim.now_ts()
    # The event starts before the command ends and lasts past its end.
    simulator.sim.health.schedule_grid_event(BATTERY_SYSTEM, now + 300, now + 2 * 3600)
    await advance(hass, freezer, 20 * MINUTE)
    assert coordinator.data.systems[BATTERY_SYSTEM].grid_services_event_active is True

    with pytest.raises(ServiceValidationError) as refused:
        await call(hass, "hold_reserve", target_reserve=60)
    assert refused.value.translation_key == "grid_event_active"

    # The command's end passes during the event: the restore waits for it.
    await advance(hass, freezer, 30 * MINUTE)
    assert requested(simulator) == ("self_consumption", 80)
    assert command_attribute(hass, "restore_waits_for") == "grid_event"

    # Once Enphase reports the event over, the earlier settings come back.
    await advance(hass, freezer, 2 * HOUR)
    assert coordinator.data.systems[BATTERY_SYSTEM].grid_services_event_active is False
    assert requested(simulator) == ("self_consumption", 30)
    assert command_state(hass) == "idle"
