"""IQ EV Charger endpoints and physics of the simulator (`ev_charger.py`, `ev_api.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from enphase_simulator import ev_charger
from enphase_simulator.world import SYSTEM_BATTERY, SYSTEM_NO_BATTERY

from .conftest import START_TS, Harness, HarnessFactory

QUARTER = 900
DAY = 86_400
EV = f"systems/{SYSTEM_BATTERY}/ev_charger"
SPEC = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


def _serial(h: Harness) -> str:
    return h.sim.system(SYSTEM_BATTERY).ev.chargers[0].serial


async def test_devices_list_the_demo_charger_in_the_documented_shape(harness: Harness) -> None:
    body = await harness.json(f"{EV}/devices")
    assert body["items"] == "devices"
    assert body["system_id"] == SYSTEM_BATTERY
    assert body["total_devices"] == 1
    (charger,) = body["devices"]["ev_chargers"]
    serial = _serial(harness)
    assert charger["id"] == f"{serial}:{SYSTEM_BATTERY}"
    assert charger["serial_number"] == serial
    assert set(charger) == {
        "id",
        "sku",
        "status",
        "serial_number",
        "name",
        "model",
        "part_number",
        "last_report_at",
        "firmware",
        "active",
    }
    devices = await harness.json(f"systems/{SYSTEM_BATTERY}/devices")
    # /devices gives the same charger, its id the serial as a number, `active` as "true"
    # (Enphase's example of that endpoint).
    assert devices["devices"]["ev_chargers"] == [{**charger, "id": int(serial), "active": "true"}]
    plain = await harness.json(f"systems/{SYSTEM_NO_BATTERY}/ev_charger/devices")
    assert plain["devices"]["ev_chargers"] == []


async def test_spec_example_keys_match(harness: Harness) -> None:
    spec = SPEC / "enphase-v4-openapi.yaml"
    if not spec.exists():
        pytest.skip("../shared/reference is absent: no spec to compare with")
    text = spec.read_text(encoding="utf-8")
    # The spec's documented field names of a session and a telemetry interval.
    for field in ("energy_added", "miles_added", "charge_time", "charging_level", "is_active"):
        assert field in text
    sessions = await harness.json(f"{EV}/{_serial(harness)}/sessions")
    assert set(sessions["sessions"][0]) == {
        "start_time",
        "end_time",
        "duration",
        "energy_added",
        "charge_time",
        "miles_added",
        "cost",
    }


async def test_charging_is_part_of_consumption_and_balanced(harness: Harness) -> None:
    serial = _serial(harness)
    start = datetime.fromtimestamp(START_TS - 3 * DAY, UTC)
    end = datetime.fromtimestamp(START_TS, UTC)
    ev = ev_charger.truth(harness.sim, SYSTEM_BATTERY, serial, start, end)
    rows = harness.sim.truth(SYSTEM_BATTERY, start, end)
    assert [r["end_at"] for r in ev] == [r["end_at"] for r in rows]
    assert sum(r["energy"] for r in ev) > 0
    for car, row in zip(ev, rows, strict=True):
        assert row["consumption"] >= car["energy"]
        supply = row["production"] + row["import"] + row["discharge"]
        assert supply == row["consumption"] + row["export"] + row["charge"]
        if car["energy"]:
            # Green charging: only surplus solar, never the battery.
            assert row["discharge"] == 0
    telemetry = await harness.json(
        f"{EV}/{serial}/telemetry", start_at=START_TS - 2 * DAY, granularity="day"
    )
    by_end = {r["end_at"]: r["energy"] for r in ev}
    assert len(telemetry["consumption"]) == 96
    assert all(by_end[r["end_at"]] == r["consumption"] for r in telemetry["consumption"])
    assert telemetry["start_at"] == START_TS - 2 * DAY


async def test_lifetime_sums_the_days(harness: Harness) -> None:
    serial = _serial(harness)
    body = await harness.json(f"{EV}/{serial}/lifetime", start_date="20260610", end_date="20260614")
    assert body["start_date"] == "2026-06-10"
    assert len(body["consumption"]) == 5
    assert all(isinstance(v, int) and v >= 0 for v in body["consumption"])
    bad = await harness.api(f"{EV}/{serial}/lifetime", start_date="2026x")
    assert bad.status == 400
    assert (await bad.json())["details"] == ["Invalid system_id", "Invalid start_date/end_date"]


async def test_session_lifecycle_and_events(harness: Harness) -> None:
    serial = _serial(harness)
    sessions = (await harness.json(f"{EV}/{serial}/sessions"))["sessions"]
    # 12:00 local: today's car is plugged in since 09:00; the session is running.
    assert sessions[0]["end_time"] is None
    assert all(s["end_time"] is not None for s in sessions[1:])
    assert sessions[1]["energy_added"] >= 0
    await harness.admin("POST", f"systems/{SYSTEM_BATTERY}/ev_chargers/{serial}/unplug")
    harness.sim.advance(2 * 3600)
    sessions = (await harness.json(f"{EV}/{serial}/sessions", limit=1))["sessions"]
    assert sessions[0]["end_time"] is not None
    assert sessions[0]["duration"] == sessions[0]["end_time"] - sessions[0]["start_time"]
    events = (await harness.json(f"{EV}/events", serial_num=serial))["events"]
    assert events[0]["details"] == f"EV disconnected from IQ EV Charger (SNo. {serial})."
    assert any(e["details"].startswith("Charging started on IQ EV Charger") for e in events)
    paged = await harness.json(f"{EV}/events", offset=1, limit=2)
    assert paged["events"] == events[1:3]
    assert (await harness.api(f"{EV}/events", limit=0)).status == 400


async def test_schedules_and_unknown_serial(harness: Harness) -> None:
    body = await harness.json(f"{EV}/{_serial(harness)}/schedules")
    (schedule,) = body["charger_schedules"]
    assert schedule["schedules"][0]["charging_level"] == 100
    unknown = await harness.api(f"{EV}/000000000000/sessions")
    assert unknown.status == 400


@pytest.mark.parametrize("plan", ["watt", "kilowatt", "megawatt"])
async def test_control_is_partner_only(make_harness: HarnessFactory, plan: str) -> None:
    served = await make_harness(plan=plan)
    served.login()
    for action in ("start_charging", "stop_charging"):
        response = await served.api(f"{EV}/{_serial(served)}/{action}", method="POST")
        assert response.status == 401


async def test_partner_start_charges_from_the_grid_and_stop_pauses(
    make_harness: HarnessFactory,
) -> None:
    served = await make_harness(plan="partner")
    served.login()
    serial = _serial(served)
    # 19:00 local: the car is gone; plug one in at night, nothing charges from the sun.
    served.sim.advance(7 * 3600)
    await served.admin("POST", f"systems/{SYSTEM_BATTERY}/ev_chargers/{serial}/plug")
    served.sim.advance(QUARTER)
    state: dict[str, Any] = await served.admin(
        "GET", f"systems/{SYSTEM_BATTERY}/ev_chargers/{serial}"
    )
    assert state["plugged"]
    assert not state["charging"]
    bad = await served.api(
        f"{EV}/{serial}/start_charging", method="POST", json={"chargingLevel": "140"}
    )
    assert bad.status == 400
    started = await served.api(
        f"{EV}/{serial}/start_charging", method="POST", json={"connectorId": "1"}
    )
    assert started.status == 202
    assert await started.json() == {"message": "Request sent successfully"}
    served.sim.advance(QUARTER)
    state = await served.admin("GET", f"systems/{SYSTEM_BATTERY}/ev_chargers/{serial}")
    assert state["charging"]
    stopped = await served.api(f"{EV}/{serial}/stop_charging", method="POST")
    assert stopped.status == 202
    served.sim.advance(QUARTER)
    state = await served.admin("GET", f"systems/{SYSTEM_BATTERY}/ev_chargers/{serial}")
    assert not state["charging"]
    now = served.sim.now()
    energy = ev_charger.truth(served.sim, SYSTEM_BATTERY, serial, now - timedelta(hours=1), now)
    assert [r["energy"] for r in energy][-3:] == [0, 1800, 0]


async def test_chargers_come_and_go(harness: Harness) -> None:
    added = await harness.admin("POST", f"systems/{SYSTEM_NO_BATTERY}/ev_chargers", status=201)
    listed = await harness.json(f"systems/{SYSTEM_NO_BATTERY}/ev_charger/devices")
    assert [c["serial_number"] for c in listed["devices"]["ev_chargers"]] == [added["serial"]]
    await harness.admin("DELETE", f"systems/{SYSTEM_NO_BATTERY}/ev_chargers/{added['serial']}")
    harness.sim.advance(QUARTER)
    listed = await harness.json(f"systems/{SYSTEM_NO_BATTERY}/ev_charger/devices")
    assert listed["devices"]["ev_chargers"] == []
    await harness.admin("DELETE", f"systems/{SYSTEM_NO_BATTERY}/ev_chargers/1", status=404)
    await harness.admin(
        "POST", f"systems/{SYSTEM_BATTERY}/ev_chargers/{_serial(harness)}/fly", status=400
    )


def test_state_keeps_the_chargers(tmp_path: Path) -> None:
    fleet = ev_charger.EvFleet(SYSTEM_BATTERY, 1, ZoneInfo("UTC"))
    fleet.add(START_TS)
    fleet.chargers[0].commands.append((START_TS + 60, "stop"))
    saved = tmp_path / "fleet.json"
    saved.write_text(json.dumps(fleet.to_json()))
    other = ev_charger.EvFleet(SYSTEM_BATTERY, 1, fleet.zone)
    other.load_json(json.loads(saved.read_text()))
    assert other.to_json() == fleet.to_json()
