"""The EV charger methods of the client and their models (`api/models/ev_charger.py`).

Against the simulator for the flows, against literal bodies for what a server may
send wrong: any body gives a model or an `EnphaseError`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from custom_components.enphase_cloud.api import (
    ChargerState,
    Endpoint,
    EnphaseError,
    EnphasePlanError,
    EnphaseResponseError,
    EvChargers,
    EvEvents,
    EvLifetime,
    EvSessions,
    Granularity,
)
from custom_components.enphase_cloud.api.models import EvSchedules, ev_telemetry_from_dict
from enphase_simulator import SYSTEM_BATTERY, SYSTEM_NO_BATTERY, ev_charger

from .test_client_simulator import NOW, SimRun, StartSim, start_sim, watt  # noqa: F401

SERIAL_SECRET = "202301001000"


async def test_monitoring_on_the_free_plan(watt: SimRun) -> None:  # noqa: F811
    client = watt.client()
    chargers = await client.async_get_ev_chargers(SYSTEM_BATTERY)
    (charger,) = chargers.chargers
    assert charger.serial_number == SERIAL_SECRET
    assert charger.model == "IQ-EVSE-40R"
    assert charger.firmware == "v0.04.22"
    assert (await client.async_get_ev_chargers(SYSTEM_NO_BATTERY)).chargers == ()
    sessions = await client.async_get_ev_sessions(SYSTEM_BATTERY, SERIAL_SECRET, limit=5)
    assert len(sessions.sessions) == 5
    latest = sessions.latest
    assert latest is not None
    assert latest.end_at is None  # the car plugged in at 09:00 local is still there
    assert all(s.end_at is not None for s in sessions.sessions[1:])
    events = await client.async_get_ev_events(SYSTEM_BATTERY, serial=SERIAL_SECRET)
    assert events.latest_state(SERIAL_SECRET) in set(ChargerState)
    assert events.latest_state("999") is None
    schedules = await client.async_get_ev_schedules(SYSTEM_BATTERY, SERIAL_SECRET)
    assert schedules.lists[0].schedules[0].days == (1, 2, 3, 4, 5, 6, 7)
    lifetime = await client.async_get_ev_lifetime(
        SYSTEM_BATTERY, SERIAL_SECRET, start=date(2026, 6, 1), end=date(2026, 6, 14)
    )
    assert lifetime.start_date == date(2026, 6, 1)
    assert len(lifetime.daily_wh) == 14
    start = NOW - timedelta(days=2)
    start = start.replace(minute=0)
    telemetry = await client.async_get_ev_telemetry(
        SYSTEM_BATTERY, SERIAL_SECRET, start_at=start, granularity=Granularity.DAY
    )
    truth = ev_charger.truth(
        watt.sim, SYSTEM_BATTERY, SERIAL_SECRET, start, start + timedelta(days=1)
    )
    assert [(i.end_at.timestamp(), i.wh) for i in telemetry.intervals] == [
        (r["end_at"], r["energy"]) for r in truth
    ]
    assert telemetry.start_at == start
    assert lifetime.total_wh == sum(lifetime.daily_wh)
    names = [name for name, *_ in watt.limiter.calls if name == "acquire"]
    assert len(names) == 7


@pytest.mark.parametrize("plan", ["watt", "megawatt"])
async def test_control_outside_partner_is_the_plan(start_sim: StartSim, plan: str) -> None:  # noqa: F811
    run = await start_sim(plan=plan)
    client = run.client()
    with pytest.raises(EnphasePlanError):
        await client.async_start_ev_charging(SYSTEM_BATTERY, SERIAL_SECRET)
    with pytest.raises(EnphasePlanError):
        await client.async_stop_ev_charging(SYSTEM_BATTERY, SERIAL_SECRET)


async def test_control_on_partner(start_sim: StartSim) -> None:  # noqa: F811
    run = await start_sim(plan="partner")
    client = run.client()
    await client.async_start_ev_charging(SYSTEM_BATTERY, SERIAL_SECRET, charging_level=80)
    await client.async_stop_ev_charging(SYSTEM_BATTERY, SERIAL_SECRET)
    assert ("acquire", Endpoint.EV_START_CHARGING) in run.limiter.calls
    with pytest.raises(ValueError, match="percentage"):
        await client.async_start_ev_charging(SYSTEM_BATTERY, SERIAL_SECRET, charging_level=101)
    with pytest.raises(ValueError, match="letters and digits"):
        await client.async_stop_ev_charging(SYSTEM_BATTERY, "../x")
    with pytest.raises(ValueError, match="day or week"):
        await client.async_get_ev_telemetry(
            SYSTEM_BATTERY, SERIAL_SECRET, granularity=Granularity.FIFTEEN_MINUTES
        )


async def test_unknown_serial_is_an_enphase_error(watt: SimRun) -> None:  # noqa: F811
    with pytest.raises(EnphaseError):
        await watt.client().async_get_ev_sessions(SYSTEM_BATTERY, "000000000000")


BROKEN: list[tuple[Any, Any]] = [
    (EvChargers.from_dict, []),
    (EvChargers.from_dict, {"devices": []}),
    (EvChargers.from_dict, {"devices": {"ev_chargers": [{"name": "x"}]}}),
    (EvChargers.from_dict, {"devices": {"ev_chargers": "x"}}),
    (EvEvents.from_dict, {"events": [{"details": "x"}]}),
    (EvEvents.from_dict, {"events": [{"triggered_date": 1}]}),
    (EvSessions.from_dict, {"sessions": [{"start_time": 1}]}),
    (EvSessions.from_dict, {"sessions": [{"start_time": 1, "energy_added": -1}]}),
    (EvSessions.from_dict, {"sessions": [{"start_time": 1, "energy_added": "5"}]}),
    (EvSchedules.from_dict, {"charger_schedules": [1]}),
    (EvLifetime.from_dict, {"consumption": [1]}),
    (EvLifetime.from_dict, {"start_date": "2026-01-01", "consumption": [-1]}),
    (EvLifetime.from_dict, {"start_date": "2026-01-01", "consumption": ["a"]}),
    (lambda d: ev_telemetry_from_dict(d, None), {"system_id": 1, "consumption": {}}),
    (lambda d: ev_telemetry_from_dict(d, None), {"system_id": 1, "consumption": []}),
    (
        lambda d: ev_telemetry_from_dict(d, None),
        {"system_id": 1, "consumption": [{"end_at": 900, "consumption": -5}]},
    ),
]


@pytest.mark.parametrize(("parse", "body"), BROKEN)
def test_broken_bodies_raise_response_errors(parse: Any, body: Any) -> None:
    with pytest.raises(EnphaseResponseError) as caught:
        parse(body)
    assert SERIAL_SECRET not in str(caught.value)


def test_tolerant_parsing() -> None:
    chargers = EvChargers.from_dict(
        {
            "devices": {
                "ev_chargers": [
                    {"serial_number": 202320010308, "id": "202320010308:1", "active": True},
                    {"serial_number": "1", "active": False},
                ]
            }
        }
    )
    assert [c.serial_number for c in chargers.chargers] == ["202320010308"]
    assert EvChargers.from_dict({}).chargers == ()
    sessions = EvSessions.from_dict(
        {
            "sessions": [
                {"start_time": 10, "end_time": 20, "energy_added": 14.83},
                {"start_time": 30, "end_time": 0, "energy_added": 1, "miles_added": True},
            ]
        }
    )
    assert [s.end_at for s in sessions.sessions] == [None, datetime.fromtimestamp(20, UTC)]
    assert sessions.sessions[0].miles_added is None
    assert EvSessions.from_dict({}).latest is None
    lifetime = EvLifetime.from_dict({"start_date": "20240101", "consumption": [3494, 21929.0]})
    assert lifetime.start_date == date(2024, 1, 1)
    assert lifetime.total_wh == 25423
    telemetry = ev_telemetry_from_dict(
        {
            "system_id": 7,
            "start_date": "2024-01-16",
            "consumption": [{"consumption": 38, "end_at": 1705400100}],
        },
        None,
    )
    assert telemetry.start_at == datetime.fromtimestamp(1705400100 - 900, UTC)
    assert telemetry.end_at == datetime.fromtimestamp(1705400100, UTC)
    events = EvEvents.from_dict(
        {
            "events": [
                {"triggered_date": 1, "details": "Charging started on IQ EV Charger (SNo. 5)."},
                {"triggered_date": 2, "details": "EV unplugged from IQ EV Charger (SNo. 5)"},
                {"triggered_date": 3, "details": "Firmware upgraded on IQ EV Charger (SNo. 5)"},
            ]
        }
    )
    assert events.latest_state("5") is ChargerState.DISCONNECTED
