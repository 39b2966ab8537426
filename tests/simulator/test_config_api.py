"""System configuration endpoints: plan gating, validation, echo and delayed effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.simulator.conftest import Harness, HarnessFactory

BATTERY = "systems/config/1001/battery_settings"
STORM = "systems/config/1001/storm_guard"
GRID = "systems/config/1001/grid_status"
LOADS = "systems/config/1001/load_control"
# 22:00 in California, on a quarter hour: the battery is covering the evening load.
EVENING = datetime(2026, 6, 16, 5, 0, tzinfo=UTC)
EVENING_TS = int(EVENING.timestamp())
DEFAULT_SETTINGS = {
    "system_id": 1001,
    "battery_mode": "Self - Consumption",
    "reserve_soc": 30,
    "energy_independence": "enabled",
    "charge_from_grid": "disabled",
    "battery_shutdown_level": 10,
}
NO_ENCHARGES = {
    "message": "Unprocessable Entity",
    "details": "System doesn't have encharges",
    "code": 422,
}
CONFIG_CALLS = [
    ("GET", BATTERY, None),
    ("PUT", BATTERY, {"reserve_soc": 40}),
    ("GET", STORM, None),
    ("PUT", STORM, {"storm_guard_status": "enabled"}),
    ("GET", GRID, None),
    ("GET", LOADS, None),
    ("PUT", LOADS, {"name": "NC1", "status": "disabled"}),
]


async def put(h: Harness, path: str, body: Any, status: int = 200) -> Any:
    return await h.json(path, status, method="PUT", json=body)


async def battery_state(h: Harness) -> dict[str, Any]:
    state: dict[str, Any] = await h.admin("GET", "systems/1001/battery")
    return state


# --- plan gating ----------------------------------------------------------------


@pytest.mark.parametrize("plan", ["watt", "kilowatt"])
@pytest.mark.parametrize(("method", "path", "body"), CONFIG_CALLS)
async def test_lower_plans_get_401_not_authorized(
    make_harness: HarnessFactory, plan: str, method: str, path: str, body: Any
) -> None:
    h = await make_harness(plan=plan)
    h.login()
    answer = await h.json(path, 401, method=method, json=body)
    assert answer == {"message": "Not Authorized", "details": "User is not authorized", "code": 401}


@pytest.mark.parametrize("plan", ["megawatt", "partner"])
@pytest.mark.parametrize(("method", "path", "body"), CONFIG_CALLS)
async def test_megawatt_and_partner_may_configure(
    make_harness: HarnessFactory, plan: str, method: str, path: str, body: Any
) -> None:
    h = await make_harness(plan=plan)
    h.login()
    answer = await h.json(path, method=method, json=body)
    assert answer["system_id"] == 1001


async def test_configuration_still_needs_token_and_key(megawatt: Harness) -> None:
    body = await megawatt.json(BATTERY, 401, token="stale")
    assert body["details"] == "User is not authorized"
    body = await megawatt.json(BATTERY, 401, key="other-key")
    assert body["details"] == "API Key -Client mismatch"


# --- battery settings -----------------------------------------------------------


async def test_get_battery_settings(megawatt: Harness) -> None:
    assert await megawatt.json(BATTERY) == DEFAULT_SETTINGS


@pytest.mark.parametrize(
    ("sent", "label"),
    [
        ("Self-consumption", "Self - Consumption"),
        ("Savings Mode", "Savings Mode"),
        ("Full Backup", "Full Backup"),
    ],
)
async def test_put_accepts_the_documented_mode_spellings(
    megawatt: Harness, sent: str, label: str
) -> None:
    if label == "Self - Consumption":
        await put(megawatt, BATTERY, {"battery_mode": "Full Backup"})
    echoed = await put(megawatt, BATTERY, {"battery_mode": sent})
    # The GET spells self-consumption "Self - Consumption", the PUT "Self-consumption".
    assert echoed == DEFAULT_SETTINGS | {"battery_mode": label}
    assert await megawatt.json(BATTERY) == echoed


@pytest.mark.parametrize(
    "sent",
    [
        "Self - Consumption",
        "self-consumption",
        "self_consumption",
        "savings mode",
        "savings-mode",
        "full backup",
        "FULL BACKUP",
        "AI Optimisation",
    ],
)
async def test_put_mode_is_case_sensitive(megawatt: Harness, sent: str) -> None:
    body = await put(megawatt, BATTERY, {"battery_mode": sent}, 422)
    assert body["message"] == "Unprocessable Entity"
    assert (await megawatt.json(BATTERY))["battery_mode"] == "Self - Consumption"


async def test_a_mode_the_api_does_not_document_is_shown_and_taken_back(
    megawatt: Harness,
) -> None:
    megawatt.sim.set_battery_mode(1001, "AI Optimisation")
    assert (await megawatt.json(BATTERY))["battery_mode"] == "AI Optimisation"
    await put(megawatt, BATTERY, {"battery_mode": "Full Backup"})
    assert (await megawatt.json(BATTERY))["battery_mode"] == "Full Backup"
    # Once left, it is not a spelling the PUT knows.
    await put(megawatt, BATTERY, {"battery_mode": "AI Optimisation"}, 422)
    megawatt.sim.advance(3600)
    megawatt.sim.set_battery_mode(1001, "AI Optimisation")
    echoed = await put(megawatt, BATTERY, {"battery_mode": "AI Optimisation"})
    assert echoed["battery_mode"] == "AI Optimisation"


async def test_put_echoes_every_change_at_once(megawatt: Harness) -> None:
    body = {"battery_mode": "Savings Mode", "reserve_soc": 55, "energy_independence": "disabled"}
    echoed = await put(megawatt, BATTERY, body)
    expected = DEFAULT_SETTINGS | body
    assert echoed == expected
    assert await megawatt.json(BATTERY) == expected


async def test_put_of_one_field_keeps_the_others(megawatt: Harness) -> None:
    await put(megawatt, BATTERY, {"battery_mode": "Full Backup"})
    echoed = await put(megawatt, BATTERY, {"reserve_soc": 80})
    assert echoed == DEFAULT_SETTINGS | {"battery_mode": "Full Backup", "reserve_soc": 80}


@pytest.mark.parametrize("reserve", [10, 11, 99, 100])
async def test_reserve_between_shutdown_level_and_100(megawatt: Harness, reserve: int) -> None:
    echoed = await put(megawatt, BATTERY, {"reserve_soc": reserve})
    assert echoed["reserve_soc"] == reserve


@pytest.mark.parametrize("reserve", [9, 0, -5, 101, 55.5, "50", True, None])
async def test_reserve_out_of_range_or_not_an_integer_is_422(
    megawatt: Harness, reserve: object
) -> None:
    body = await put(megawatt, BATTERY, {"reserve_soc": reserve}, 422)
    assert (body["message"], body["code"]) == ("Unprocessable Entity", 422)
    assert await megawatt.json(BATTERY) == DEFAULT_SETTINGS


@pytest.mark.parametrize(
    "body",
    [
        {"battery_mode": "Turbo"},
        {"battery_mode": ""},
        {"battery_mode": 1},
        {"battery_mode": None},
        {"charge_from_grid": "enabled"},
        {"battery_shutdown_level": 20},
        {"energy_independence": "maybe"},
        {"energy_independence": True},
        {"surprise": 1},
        {},
        [],
        "Full Backup",
    ],
)
async def test_invalid_battery_settings_are_422(megawatt: Harness, body: Any) -> None:
    answer = await put(megawatt, BATTERY, body, 422)
    assert answer["code"] == 422
    assert await megawatt.json(BATTERY) == DEFAULT_SETTINGS


async def test_a_bad_field_rejects_the_whole_put(megawatt: Harness) -> None:
    await put(megawatt, BATTERY, {"battery_mode": "Full Backup", "reserve_soc": 5}, 422)
    assert await megawatt.json(BATTERY) == DEFAULT_SETTINGS


async def test_body_that_is_not_json_is_422(megawatt: Harness) -> None:
    response = await megawatt.client.put(
        f"/api/v4/{BATTERY}",
        params={"key": "demo-key"},
        headers={"Authorization": f"Bearer {megawatt.access_token}"},
        data=b"battery_mode=Full",
    )
    assert response.status == 422
    assert (await response.json())["code"] == 422


async def test_charge_from_grid_is_read_only_over_the_api(megawatt: Harness) -> None:
    await put(megawatt, BATTERY, {"charge_from_grid": "enabled"}, 422)
    await megawatt.admin("POST", "systems/1001/charge_from_grid", json={"enabled": True})
    assert (await megawatt.json(BATTERY))["charge_from_grid"] == "enabled"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [(m, p.replace("1001", "1002"), b) for m, p, b in CONFIG_CALLS],
)
async def test_system_without_battery_is_422(
    megawatt: Harness, method: str, path: str, body: Any
) -> None:
    assert await megawatt.json(path, 422, method=method, json=body) == NO_ENCHARGES


@pytest.mark.parametrize("system", ["1003", "9999", "x"])
async def test_foreign_or_unknown_system_is_404(megawatt: Harness, system: str) -> None:
    body = await megawatt.json(BATTERY.replace("1001", system), 404)
    assert body["details"] == "System not found"


# --- delayed effect -------------------------------------------------------------


async def test_the_battery_applies_a_put_after_sixty_seconds(megawatt: Harness) -> None:
    put_at = megawatt.sim.now_ts()
    await put(megawatt, BATTERY, {"battery_mode": "Full Backup", "reserve_soc": 60})
    state = await battery_state(megawatt)
    assert state["effective"]["battery_mode"] == "Self - Consumption"
    assert state["requested"]["battery_mode"] == "Full Backup"
    (pending,) = state["pending"]
    assert pending["effective_at"] == put_at + 60
    assert pending["values"] == {"mode": "full_backup", "reserve_soc": 60}
    megawatt.sim.advance(59)
    assert (await battery_state(megawatt))["effective"]["reserve_soc"] == 30
    megawatt.sim.advance(1)
    state = await battery_state(megawatt)
    assert state["effective"]["battery_mode"] == "Full Backup"
    assert state["effective"]["reserve_soc"] == 60
    assert state["pending"] == []


async def test_apply_delay_is_configurable_and_reaches_the_physics(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(plan="megawatt", start=EVENING, apply_delay=timedelta(minutes=20))
    h.login()
    await put(h, BATTERY, {"battery_mode": "Full Backup"})
    pending = (await battery_state(h))["pending"]
    assert [p["effective_at"] for p in pending] == [EVENING_TS + 1200]
    h.sim.advance(3600)
    flows = {row["end_at"]: row for row in h.sim.truth(1001, EVENING, EVENING + timedelta(hours=1))}
    # Still self-consumption until 22:20: the battery covers the load.
    assert flows[EVENING_TS + 900]["discharge"] > 0
    # The interval holding 22:20 and later ones run in full backup: no discharge.
    assert flows[EVENING_TS + 1800]["discharge"] == 0
    assert flows[EVENING_TS + 2700]["discharge"] == 0
    assert flows[EVENING_TS + 2700]["import"] == flows[EVENING_TS + 2700]["consumption"]


async def test_latest_telemetry_shows_the_mode_once_applied_and_reported(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(plan="megawatt", start=EVENING)
    h.login()
    # In the evening self-consumption discharges; full backup, once applied, holds.
    latest = await h.json("systems/1001/latest_telemetry")
    assert latest["devices"]["encharges"][0]["operational_mode"] == "Discharging"
    assert latest["devices"]["encharges"][0]["power"] > 0
    await put(h, BATTERY, {"battery_mode": "Full Backup"})
    h.sim.advance(3600)
    latest = await h.json("systems/1001/latest_telemetry")
    assert latest["devices"]["encharges"][0]["operational_mode"] in {"Idle", "Charging"}
    assert latest["devices"]["encharges"][0]["power"] <= 0


# --- storm guard, grid status, load control -------------------------------------


async def test_storm_guard_get_and_put(megawatt: Harness) -> None:
    assert await megawatt.json(STORM) == {
        "system_id": 1001,
        "storm_guard_status": "disabled",
        "storm_alert": "false",
    }
    echoed = await put(megawatt, STORM, {"storm_guard_status": "enabled"})
    # The echo reads as in Enphase's documented example.
    assert echoed["storm_guard_status"] == "Enabled (Inactive)"
    assert (await megawatt.json(STORM))["storm_guard_status"] == "enabled"
    state = await battery_state(megawatt)
    assert (state["effective"]["storm_guard"], state["requested"]["storm_guard"]) == (False, True)
    megawatt.sim.advance(60)
    assert (await battery_state(megawatt))["effective"]["storm_guard"] is True


async def test_storm_alert_shows_in_storm_guard(megawatt: Harness) -> None:
    await megawatt.admin("POST", "systems/1001/storm_alert", json={"active": True})
    assert (await megawatt.json(STORM))["storm_alert"] == "true"


@pytest.mark.parametrize(
    "body",
    [
        {"storm_guard_status": "on"},
        {"storm_guard_status": True},
        {"storm_alert": True},
        {"storm_guard_status": "enabled", "extra": 1},
        {},
    ],
)
async def test_invalid_storm_guard_is_422(megawatt: Harness, body: Any) -> None:
    await put(megawatt, STORM, body, 422)
    assert (await megawatt.json(STORM))["storm_guard_status"] == "disabled"


async def test_grid_status(megawatt: Harness) -> None:
    body = await megawatt.json(GRID)
    last_report = (await megawatt.json("systems/1001/summary"))["last_report_at"]
    assert body == {"system_id": 1001, "grid_state": "On Grid", "last_report_date": last_report}
    await megawatt.admin("POST", "systems/1001/grid", json={"on": False})
    assert (await megawatt.json(GRID))["grid_state"] == "Off Grid"
    megawatt.sim.set_site_shape(1001, grid_unknown=True)
    assert (await megawatt.json(GRID))["grid_state"] == "Unknown"


async def test_grid_status_and_storm_guard_are_422_before_the_site_reports(
    megawatt: Harness,
) -> None:
    megawatt.sim.set_site_shape(1001, reported=False)
    for path in (GRID, STORM):
        body = await megawatt.json(path, 422)
        assert body["details"] == "grid_state not available as the site has not reported yet"
    assert (await megawatt.json(BATTERY))["system_id"] == 1001
    megawatt.sim.set_site_shape(1001, reported=True)
    assert (await megawatt.json(GRID))["grid_state"] == "On Grid"


async def test_grid_status_is_read_only(megawatt: Harness) -> None:
    body = await put(megawatt, GRID, {"grid_state": "Off Grid"}, 405)
    assert body["reason"] == "405"


async def test_load_control_get_and_put(megawatt: Harness) -> None:
    loads = (await megawatt.json(LOADS))["load_control_data"]
    assert [load["name"] for load in loads] == ["NC1", "NC2"]
    echoed = await put(megawatt, LOADS, {"name": "NC2", "status": "enabled", "soc_low": 30})
    changed = echoed["load_control_data"][1]
    assert (changed["status"], changed["soc_low"]) == ("enabled", 30)
    assert (await megawatt.json(LOADS)) == echoed


@pytest.mark.parametrize(
    "body",
    [
        {"name": "NC9", "status": "enabled"},
        {"name": "NC1", "status": "on"},
        {"name": "NC1", "mode": "sometimes"},
        {"name": "NC1", "soc_low": 80},
        {"name": "NC1", "soc_high": 101},
        {"name": "NC1", "load_name": "Sauna"},
    ],
)
async def test_invalid_load_control_is_422(megawatt: Harness, body: Any) -> None:
    before = await megawatt.json(LOADS)
    await put(megawatt, LOADS, body, 422)
    assert await megawatt.json(LOADS) == before
