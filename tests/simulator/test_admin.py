"""Every `/_sim/` admin endpoint over HTTP: clock, plan, tokens, faults, outages, usage, truth."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
from typing import Any

from aiohttp import ClientTimeout
import pytest

from enphase_simulator import SYSTEM_BATTERY, SYSTEM_NO_BATTERY
from tests.simulator.conftest import START, START_TS, Harness, HarnessFactory

SUMMARY = f"systems/{SYSTEM_BATTERY}/summary"
SETTINGS = f"systems/config/{SYSTEM_BATTERY}/battery_settings"
ENPHASE_ERROR_KEYS = {"message", "details", "code"}


def basic() -> dict[str, str]:
    raw = base64.b64encode(b"demo-client:demo-secret").decode()
    return {"Authorization": f"Basic {raw}"}


async def refresh(h: Harness) -> int:
    """Try the harness's refresh token; return the token endpoint's status."""
    params = {"grant_type": "refresh_token", "refresh_token": h.refresh_token}
    response = await h.client.post("/oauth/token", params=params, headers=basic())
    return response.status


# --- status and clock ------------------------------------------------------------


async def test_status_shows_clock_plans_options_systems_and_faults(harness: Harness) -> None:
    await harness.admin("POST", "faults", json={"status": 500, "count": 2})
    body = await harness.admin("GET", "status")
    assert body["clock"] == {"now": START.isoformat(), "now_ts": START_TS, "external": False}
    assert body["plans"] == {"demo-key": "watt", "other-key": "watt"}
    assert body["options"] == {"quota_period_fields": True, "battery_power_sign": 1}
    assert body["systems"] == [1001, 1002, 1003]
    assert body["operational_at"] == START_TS - 60 * 86_400
    assert body["faults"] == [
        {
            "kind": "status",
            "remaining": 2,
            "path": "/api/v4/*",
            "status": 500,
            "delay": None,
            "details": None,
        }
    ]


async def test_clock_moves_forward_and_jumps(harness: Harness) -> None:
    assert (await harness.admin("GET", "clock"))["now_ts"] == START_TS
    moved = await harness.admin("POST", "clock/advance", json={"seconds": 90})
    assert moved["now_ts"] == START_TS + 90
    jumped = await harness.admin("POST", "clock/set", json={"time": "2026-07-01T12:00:00"})
    assert jumped["now"] == "2026-07-01T12:00:00+00:00"
    epoch = await harness.admin("POST", "clock/set", json={"time": START_TS + 5})
    assert epoch["now_ts"] == START_TS + 5
    # The API sees the moved clock: an access token dies after its day.
    await harness.admin("POST", "clock/advance", json={"seconds": 86_400})
    await harness.json(SUMMARY, 401)


async def test_bad_clock_calls_are_400(harness: Harness) -> None:
    await harness.admin("POST", "clock/advance", 400, json={})
    await harness.admin("POST", "clock/set", 400, json={"time": True})
    await harness.admin("POST", "clock/set", 400, json={"time": [START_TS]})
    await harness.admin("POST", "clock/set", 400, json={"time": "next tuesday"})
    await harness.admin("POST", "clock/advance", 400, data="{not json")
    await harness.admin("POST", "clock/advance", 400, json=[1, 2])


async def test_an_external_clock_cannot_be_moved(make_harness: HarnessFactory) -> None:
    when = START + timedelta(hours=3)
    h = await make_harness(clock=lambda: when)
    assert (await h.admin("GET", "clock"))["external"] is True
    body = await h.admin("POST", "clock/advance", 409, json={"seconds": 1})
    assert "external" in body["error"]
    await h.admin("POST", "clock/set", 409, json={"time": START_TS})


# --- plans ------------------------------------------------------------------------


async def test_plan_switch_opens_and_closes_the_configuration_api(harness: Harness) -> None:
    body = await harness.json(SETTINGS, 401)
    assert body["details"] == "User is not authorized"
    assert await harness.admin("PUT", "plan", json={"plan": "Megawatt"}) == {
        "key": "demo-key",
        "plan": "megawatt",
    }
    assert (await harness.json(SETTINGS))["battery_mode"] == "Self - Consumption"
    await harness.admin("PUT", "plan", json={"plan": "kilowatt"})
    await harness.json(SETTINGS, 401)
    other = await harness.admin("PUT", "plan", json={"plan": "partner", "key": "other-key"})
    assert other == {"key": "other-key", "plan": "partner"}
    assert (await harness.admin("GET", "status"))["plans"] == {
        "demo-key": "kilowatt",
        "other-key": "partner",
    }


async def test_bad_plan_calls(harness: Harness) -> None:
    await harness.admin("PUT", "plan", 400, json={"plan": "gigawatt"})
    await harness.admin("PUT", "plan", 404, json={"plan": "watt", "key": "nobody"})


# --- tokens -----------------------------------------------------------------------


async def test_minted_tokens_work_without_the_browser(harness: Harness) -> None:
    tokens = await harness.admin("POST", "tokens", json={"email": "neighbour@example.com"})
    assert tokens["token_type"] == "bearer"
    assert tokens["enl_uid"] == "4002"
    listed = await harness.json("systems", token=tokens["access_token"])
    assert [s["system_id"] for s in listed["systems"]] == [1003]
    mine = await harness.admin("POST", "tokens")
    assert mine["enl_uid"] == "4001"
    await harness.admin("POST", "tokens", 404, json={"email": "stranger@example.com"})
    await harness.admin("POST", "tokens", 404, json={"client_id": "nobody"})


async def test_expire_now_kills_access_but_not_refresh(harness: Harness) -> None:
    assert await harness.admin("POST", "tokens/expire", json={}) == {"expired": 1}
    body = await harness.json(SUMMARY, 401)
    assert body["details"] == "User is not authorized"
    assert await refresh(harness) == 200


async def test_expire_now_for_one_account(harness: Harness) -> None:
    other = harness.sim.mint_tokens("neighbour@example.com")
    expired = await harness.admin("POST", "tokens/expire", json={"email": "neighbour@example.com"})
    assert expired == {"expired": 1}
    await harness.json("systems", 401, token=other["access_token"])
    await harness.json("systems")


async def test_revoke_kills_access_and_refresh(harness: Harness) -> None:
    assert await harness.admin("POST", "revoke", json={"client_id": "demo-client"}) == {
        "revoked": 2
    }
    await harness.json(SUMMARY, 401)
    assert await refresh(harness) in {400, 401}
    assert await harness.admin("POST", "revoke", 404, json={"client_id": "nobody"})


# --- faults -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403, 404, 422, 429, 500, 503])
async def test_next_calls_fail_with_the_chosen_status(harness: Harness, status: int) -> None:
    fault = await harness.admin("POST", "faults", json={"status": status, "count": 2})
    assert (fault["status"], fault["remaining"]) == (status, 2)
    for _ in range(2):
        response = await harness.api(SUMMARY)
        body = await response.json()
        assert response.status == status
        assert set(body) >= ENPHASE_ERROR_KEYS
        assert body["code"] == status
    if status == 429:
        assert body["period"] == "minute"
        assert body["limit"] == 10
        assert body["period_end"] > START_TS
    await harness.json(SUMMARY)
    assert (await harness.admin("GET", "faults")) == {"faults": []}


async def test_fault_details_are_used(harness: Harness) -> None:
    await harness.admin("POST", "faults", json={"status": 500, "details": "Gateway busy"})
    body = await harness.json(SUMMARY, 500)
    assert body == {"message": "Internal Server Error", "details": "Gateway busy", "code": 500}


async def test_a_fault_can_target_one_endpoint(harness: Harness) -> None:
    await harness.admin(
        "POST", "faults", json={"status": 503, "count": 3, "path": "/api/v4/systems/*/summary"}
    )
    await harness.json("systems")
    await harness.json(f"systems/{SYSTEM_BATTERY}/devices")
    await harness.json(SUMMARY, 503)
    await harness.json(f"systems/{SYSTEM_NO_BATTERY}/summary", 503)
    faults = (await harness.admin("GET", "faults"))["faults"]
    assert [f["remaining"] for f in faults] == [1]


async def test_the_token_endpoint_can_fail_too(harness: Harness) -> None:
    await harness.admin("POST", "faults", json={"status": 500, "path": "/oauth/token"})
    assert await refresh(harness) == 500
    assert await refresh(harness) == 200


async def test_a_timeout_hangs_until_cleared(harness: Harness) -> None:
    await harness.admin("POST", "faults", json={"kind": "timeout", "delay": 30})
    with pytest.raises(TimeoutError):
        await harness.client.get(
            f"/api/v4/{SUMMARY}",
            params={"key": "demo-key"},
            headers={"Authorization": f"Bearer {harness.access_token}"},
            timeout=ClientTimeout(total=0.3),
        )
    await harness.json(SUMMARY)
    # A short delay only slows the answer down; DELETE ends running hangs.
    await harness.admin("POST", "faults", json={"kind": "timeout", "delay": 0.2})
    loop = asyncio.get_running_loop()
    began = loop.time()
    await harness.json(SUMMARY)
    assert loop.time() - began >= 0.2
    await harness.admin("POST", "faults", json={"kind": "timeout", "delay": 30})
    pending = asyncio.ensure_future(harness.api(SUMMARY))
    await asyncio.sleep(0.1)
    assert await harness.admin("DELETE", "faults") == {"faults": []}
    response = await asyncio.wait_for(pending, 5)
    assert response.status == 200


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
async def test_broken_bodies(harness: Harness, kind: str) -> None:
    await harness.admin("POST", "faults", json={"kind": kind})
    response = await harness.api(SUMMARY)
    assert response.status == 200
    assert response.content_type == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(await response.text())
    await harness.json(SUMMARY)


async def test_truncated_body_is_a_prefix_of_the_real_one(harness: Harness) -> None:
    whole = await (await harness.api(SUMMARY)).text()
    await harness.admin("POST", "faults", json={"kind": "truncated"})
    cut = await (await harness.api(SUMMARY)).text()
    assert 0 < len(cut) < len(whole)
    assert whole.startswith(cut)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 418},
        {"kind": "explode"},
        {"status": 500, "count": 0},
        {"kind": "timeout", "delay": -1},
    ],
)
async def test_bad_faults_are_400(harness: Harness, fault: dict[str, Any]) -> None:
    await harness.admin("POST", "faults", 400, json=fault)
    assert (await harness.admin("GET", "faults")) == {"faults": []}


# --- usage and options ----------------------------------------------------------------


async def test_usage_counts_api_calls_per_endpoint_not_admin_calls(harness: Harness) -> None:
    await harness.json("systems")
    await harness.json(SUMMARY)
    await harness.json(f"systems/{SYSTEM_NO_BATTERY}/summary")
    await harness.admin("GET", "status")
    usage = await harness.admin("GET", "usage")
    assert usage["plan"] == "watt"
    assert (usage["total"], usage["minute"]["count"], usage["month"]["count"]) == (3, 3, 3)
    assert usage["minute"]["limit"] == 10
    assert usage["month"]["limit"] == 1_000
    assert usage["endpoints"]["GET /api/v4/systems/{system_id}/summary"]["total"] == 2
    assert usage["endpoints"]["GET /api/v4/systems"]["total"] == 1
    other = await harness.admin("GET", "usage", params={"key": "other-key"})
    assert other["total"] == 0
    await harness.admin("GET", "usage", 404, params={"key": "nobody"})


async def test_forced_usage_reaches_the_limit(harness: Harness) -> None:
    forced = await harness.admin("POST", "usage", json={"minute": 10, "month": 500})
    assert (forced["minute"]["count"], forced["month"]["count"]) == (10, 500)
    body = await harness.json(SUMMARY, 429)
    assert (body["period"], body["limit"]) == ("minute", 10)
    await harness.admin("POST", "usage", json={"minute": 0, "month": 1_000})
    body = await harness.json(SUMMARY, 429)
    assert (body["period"], body["limit"]) == ("month", 1_000)


async def test_options_change_unconfirmed_behaviours(harness: Harness) -> None:
    latest = f"systems/{SYSTEM_BATTERY}/latest_telemetry"
    # Evening: the battery is discharging into the house.
    await harness.admin("POST", "clock/advance", json={"seconds": 10 * 3_600})
    before = (await harness.json(latest))["devices"]["encharges"][0]["power"]
    assert before != 0
    options = await harness.admin("PUT", "options", json={"battery_power_sign": -1})
    assert options == {"quota_period_fields": True, "battery_power_sign": -1}
    assert (await harness.json(latest))["devices"]["encharges"][0]["power"] == -before
    await harness.admin("PUT", "options", json={"quota_period_fields": False})
    await harness.admin("POST", "usage", json={"minute": 10})
    body = await harness.json(SUMMARY, 429)
    assert set(body) == ENPHASE_ERROR_KEYS
    await harness.admin("PUT", "options", 400, json={"battery_power_sign": 2})


# --- systems: outage, grid, storm, charge from grid, connection, battery, truth -------


async def test_outage_calls(harness: Harness) -> None:
    path = f"systems/{SYSTEM_BATTERY}/outage"
    assert await harness.admin("POST", path, json={"action": "end"}) == {"ended": None}
    started = await harness.admin("POST", path, json={"action": "start", "at": START_TS - 60})
    assert started == {"start": START_TS - 60, "end": None}
    reporting = await harness.admin("GET", f"systems/{SYSTEM_BATTERY}/reporting")
    assert reporting["outages"] == [{"start": START_TS - 60, "end": None}]
    assert reporting["next_upload_at"] is None
    ended = await harness.admin("POST", path, json={"action": "end", "at": "2026-06-15T20:00"})
    assert ended == {"ended": {"start": START_TS - 60, "end": START_TS + 3_600}}
    await harness.admin("POST", path, 400, json={"action": "pause"})
    await harness.admin("POST", "systems/9999/outage", 404, json={"action": "start"})


async def test_grid_storm_alert_and_charge_from_grid(megawatt: Harness) -> None:
    base = f"systems/{SYSTEM_BATTERY}"
    off = await megawatt.admin("POST", f"{base}/grid", json={"on": False})
    assert off["effective"]["grid_on"] is False
    grid = await megawatt.json(f"systems/config/{SYSTEM_BATTERY}/grid_status")
    assert grid["grid_state"] == "Off Grid"
    await megawatt.admin("POST", f"{base}/grid", json={"on": True})
    assert (await megawatt.json(f"systems/config/{SYSTEM_BATTERY}/grid_status"))[
        "grid_state"
    ] == "On Grid"
    storm = await megawatt.admin("POST", f"{base}/storm_alert", json={"active": True})
    assert storm["effective"]["storm_alert"] is True
    storm_guard = await megawatt.json(f"systems/config/{SYSTEM_BATTERY}/storm_guard")
    assert storm_guard["storm_alert"] == "true"
    cfg = await megawatt.admin("POST", f"{base}/charge_from_grid", json={"enabled": True})
    assert cfg["effective"]["charge_from_grid"] is True
    assert (await megawatt.json(SETTINGS))["charge_from_grid"] == "enabled"
    await megawatt.admin("POST", f"{base}/grid", 400, json={"on": "yes"})
    await megawatt.admin("POST", "systems/9999/grid", 404, json={"on": True})


async def test_connection_type(harness: Harness) -> None:
    path = f"systems/{SYSTEM_NO_BATTERY}/connection"
    body = await harness.admin("PUT", path, json={"type": "cellular"})
    assert body["connection_type"] == "cellular"
    listed = await harness.json("systems")
    assert listed["systems"][1]["connection_type"] == "cellular"
    await harness.admin("PUT", path, 400, json={"type": "carrier pigeon"})


async def test_battery_shows_effective_requested_and_pending(megawatt: Harness) -> None:
    path = f"systems/{SYSTEM_BATTERY}/battery"
    before = await megawatt.admin("GET", path)
    assert before["effective"] == before["requested"]
    assert before["effective"]["battery_mode"] == "Self - Consumption"
    assert before["pending"] == []
    await megawatt.json(SETTINGS, method="PUT", json={"battery_mode": "Full Backup"})
    pending = await megawatt.admin("GET", path)
    assert pending["effective"]["battery_mode"] == "Self - Consumption"
    assert pending["requested"]["battery_mode"] == "Full Backup"
    assert pending["pending"] == [
        {
            "effective_at": START_TS + 60,
            "requested_at": START_TS,
            "values": {"mode": "full_backup"},
        }
    ]
    await megawatt.admin("POST", "clock/advance", json={"seconds": 60})
    applied = await megawatt.admin("GET", path)
    assert applied["effective"]["battery_mode"] == "Full Backup"
    assert applied["pending"] == []


async def test_truth_defaults_to_the_last_day_and_takes_a_range(harness: Harness) -> None:
    path = f"systems/{SYSTEM_BATTERY}/truth"
    day = await harness.admin("GET", path)
    assert day["system_id"] == SYSTEM_BATTERY
    rows = day["intervals"]
    assert len(rows) == 96
    assert rows[-1]["end_at"] == START_TS
    assert set(rows[0]) == {
        "end_at",
        "production",
        "consumption",
        "import",
        "export",
        "charge",
        "discharge",
        "soc_wh",
        "soc_percent",
    }
    hour = await harness.admin(
        "GET", path, params={"start": "2026-06-15T17:00:00Z", "end": str(START_TS - 3_600)}
    )
    assert [r["end_at"] for r in hour["intervals"]] == [
        START_TS - 3_600 * 2 + 900 * n for n in range(1, 5)
    ]
    assert hour["intervals"] == rows[-8:-4]
    await harness.admin("GET", "systems/9999/truth", 404)


async def test_save_state(make_harness: HarnessFactory, tmp_path: Path) -> None:
    plain = await make_harness()
    assert await plain.admin("POST", "state/save") == {"saved": False}
    path = tmp_path / "sim.json"
    kept = await make_harness(state_path=path)
    assert await kept.admin("POST", "state/save") == {"saved": True}
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["plans"]["demo-key"] == "watt"
    assert datetime.fromisoformat(saved["saved_at"]).tzinfo == UTC


async def test_unknown_admin_paths_are_404(harness: Harness) -> None:
    response = await harness.client.get("/_sim/nothing")
    assert response.status == 404
    response = await harness.client.get("/_sim/systems/abc/truth")
    assert response.status == 404
