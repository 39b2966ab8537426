"""Events, alarms, event types and grid-services events of the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from enphase_simulator.events import EVENT_TYPES, GATEWAY_NOT_REPORTING, TYPES_BY_KEY
from enphase_simulator.gateway import COMM_AFTER_S
from tests.simulator.conftest import START_TS, Harness, HarnessFactory

EVENTS = "systems/1001/events"
ALARMS = "systems/1001/alarms"
DAY = 86_400
GRID_OUTAGE_ID = TYPES_BY_KEY["grid_outage"].event_type_id
MICRO_ID = TYPES_BY_KEY["micro_not_producing"].event_type_id


async def _events(h: Harness, **params: int) -> list[dict[str, object]]:
    body = await h.json(EVENTS, start_time=params.pop("start", START_TS - DAY), **params)
    assert body["system_id"] == 1001
    return list(body["events"])


async def _alarms(h: Harness, *, cleared: bool = False) -> list[dict[str, object]]:
    now = h.sim.now_ts()
    body = await h.json(
        ALARMS, start_time=now - 7 * DAY, end_time=now, cleared=str(cleared).lower()
    )
    return list(body["alarms"])


async def test_event_types_match_the_spec_example(harness: Harness) -> None:
    body = await harness.json("systems/event_types")
    assert len(body["event_types"]) == len(EVENT_TYPES)
    one = await harness.json("systems/event_types", event_type_id=28)
    assert one["event_types"] == [
        {
            "event_type_id": 28,
            "event_type_key": GATEWAY_NOT_REPORTING,
            "stateful": True,
            "event_name": "Gateway not reporting",
            "event_description": TYPES_BY_KEY[GATEWAY_NOT_REPORTING].description,
            "recommended_action": TYPES_BY_KEY[GATEWAY_NOT_REPORTING].recommended_action,
        }
    ]
    missing = await harness.json("systems/event_types", status=404, event_type_id=12345)
    assert missing["details"] == 'Event type not found for {:id=>"12345"}'


@pytest.mark.parametrize(
    ("params", "details"),
    [
        ({}, "start_time is required"),
        ({"start_time": "soon"}, "start_time must be epoch seconds"),
        ({"start_time": START_TS - 300 * DAY}, "start_time cannot be older than 9 months"),
        (
            {"start_time": START_TS - 8 * DAY, "end_time": START_TS},
            "Maximum 1 week of data can be retrieved in a single call",
        ),
        ({"start_time": START_TS, "end_time": START_TS - 1}, "end_time must be after start_time"),
    ],
)
async def test_windows_are_checked(
    harness: Harness, params: dict[str, object], details: str
) -> None:
    for path in (EVENTS, ALARMS):
        body = await harness.json(path, status=422, **params)
        assert body == {"message": "Unprocessable Entity", "details": details, "code": 422}


async def test_cleared_must_be_a_boolean(harness: Harness) -> None:
    body = await harness.json(ALARMS, status=422, start_time=START_TS - DAY, cleared="maybe")
    assert body["details"] == "cleared must be true or false"


async def test_every_plan_may_call_and_calls_are_counted(harness: Harness) -> None:
    await _events(harness)
    await _alarms(harness)
    await harness.json("systems/event_types")
    assert harness.sim.usage()["month"]["count"] == 3


async def test_other_accounts_system_is_not_found(harness: Harness) -> None:
    await harness.json("systems/1003/events", status=404, start_time=START_TS - DAY)


async def test_gateway_outage_opens_event_then_alarm_then_clears(harness: Harness) -> None:
    sim = harness.sim
    sim.start_outage(1001)
    assert await _events(harness) == []
    sim.advance(COMM_AFTER_S)
    [event] = await _events(harness, end_time=sim.now_ts())
    assert event["status"] == "Open"
    assert event["event_type_id"] == 28
    assert event["event_start_time"] == START_TS + COMM_AFTER_S
    assert event["event_end_time"] is None
    assert isinstance(event["serial_number"], str)
    assert await _alarms(harness) == []
    sim.advance(4 * 3600)
    [alarm] = await _alarms(harness)
    assert alarm["cleared"] is False
    assert alarm["alarm_end_time"] is None
    assert alarm["alarm_start_time"] == START_TS + COMM_AFTER_S + 4 * 3600
    assert alarm["severity"] == 2
    sim.advance(600)
    sim.end_outage(1001)
    assert await _alarms(harness) == []
    [cleared] = await _alarms(harness, cleared=True)
    assert cleared["id"] == alarm["id"]
    assert cleared["alarm_end_time"] == sim.now_ts()
    [closed] = await _events(harness, end_time=sim.now_ts())
    assert closed["status"] == "Closed"


async def test_short_outage_raises_nothing(harness: Harness) -> None:
    harness.sim.start_outage(1001)
    harness.sim.advance(600)
    harness.sim.end_outage(1001)
    harness.sim.advance(COMM_AFTER_S)
    assert await _events(harness, end_time=harness.sim.now_ts()) == []


async def test_grid_outage_raises_an_alarm_at_once(harness: Harness) -> None:
    sim = harness.sim
    sim.set_grid(1001, on=False)
    sim.advance(60)
    [event] = await _events(harness, end_time=sim.now_ts())
    assert event["event_type_id"] == GRID_OUTAGE_ID
    [alarm] = await _alarms(harness)
    assert alarm["event_type_id"] == GRID_OUTAGE_ID
    sim.set_grid(1001, on=True)
    sim.advance(60)
    assert await _alarms(harness) == []
    [event] = await _events(harness, end_time=sim.now_ts())
    assert event["status"] == "Closed"


async def test_injected_micro_fault_over_admin(harness: Harness) -> None:
    state = await harness.admin(
        "POST", "systems/1001/events", json={"type": "micro_not_producing", "device": 3}
    )
    assert state["open_events"][0]["event_type_id"] == MICRO_ID
    harness.sim.advance(3600)
    state = await harness.admin("GET", "systems/1001/events")
    assert [a["event_type_id"] for a in state["active_alarms"]] == [MICRO_ID]
    state = await harness.admin(
        "POST",
        "systems/1001/events",
        json={"type": "micro_not_producing", "device": 3, "action": "end"},
    )
    assert state["open_events"] == []
    assert state["active_alarms"] == []
    await harness.admin("POST", "systems/1001/events", 400, json={"type": "meteor"})
    await harness.admin("POST", "systems/1001/events", 400, json={"type": "x", "action": "?"})
    await harness.admin("GET", "systems/9999/events", 404)


async def test_transient_event_is_info(harness: Harness) -> None:
    harness.sim.health.inject(1001, "acb_sleeping")
    harness.sim.advance(60)
    [event] = await _events(harness, end_time=harness.sim.now_ts())
    assert event["status"] == "Info"
    assert await _alarms(harness) == []


async def test_window_lists_what_was_open_in_it(harness: Harness) -> None:
    sim = harness.sim
    sim.health.inject(1001, "battery_low_soc", at=START_TS - 3 * DAY)
    sim.health.clear(1001, "battery_low_soc", at=START_TS - 2 * DAY)
    assert await _events(harness, start=START_TS - DAY) == []
    [event] = await _events(harness, start=START_TS - 7 * DAY, end_time=START_TS)
    assert event["status"] == "Closed"
    # The default end is a day after the start.
    assert await _events(harness, start=START_TS - 6 * DAY) == []


async def test_grid_services_event_schedule_start_end(harness: Harness) -> None:
    sim = harness.sim
    state = await harness.admin(
        "POST",
        "systems/1001/grid_services",
        json={"action": "schedule", "start": START_TS + 3600, "end": START_TS + 7200},
    )
    assert state["grid_services_event_active"] is False
    assert await _events(harness, end_time=START_TS) == []
    sim.advance(3600)
    assert sim.health.grid_event_active(1001)
    [event] = await _events(harness, end_time=sim.now_ts())
    assert event["event_type_id"] == TYPES_BY_KEY["grid_services_event"].event_type_id
    assert event["status"] == "Open"
    assert "serial_number" not in event
    sim.advance(3600)
    assert not sim.health.grid_event_active(1001)
    state = await harness.admin("POST", "systems/1001/grid_services", json={"action": "start"})
    assert state["grid_services_event_active"] is True
    state = await harness.admin("POST", "systems/1001/grid_services", json={"action": "end"})
    assert state["grid_services_event_active"] is False
    await harness.admin("POST", "systems/1001/grid_services", 400, json={"action": "?"})
    await harness.admin(
        "POST",
        "systems/1001/grid_services",
        400,
        json={"action": "schedule", "start": START_TS, "end": START_TS},
    )


async def test_cancel_scheduled_and_nothing_to_end(harness: Harness) -> None:
    health = harness.sim.health
    assert health.end_grid_event(1001) is None
    health.schedule_grid_event(1001, START_TS + 600, None)
    assert health.end_grid_event(1001) is not None
    assert health.state(1001)["conditions"] == []


async def test_conditions_survive_a_restart(make_harness: HarnessFactory, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = await make_harness(state_path=path)
    first.sim.health.inject(1001, "micro_not_producing", device=2)
    first.sim.save_state()
    second = await make_harness(state_path=path)
    assert second.sim.health.state(1001)["conditions"] == first.sim.health.state(1001)["conditions"]
