"""`--state PATH`: tokens, quotas, plans, settings and the clock survive a restart.

A restart is two applications on the same state file: the first one is shut
down (which writes the file) before the second one starts.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import timedelta
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from enphase_simulator import SYSTEM_BATTERY, SYSTEM_NO_BATTERY
from tests.simulator.conftest import START_TS, Harness, HarnessFactory

SETTINGS = f"systems/config/{SYSTEM_BATTERY}/battery_settings"
HOUR = 3_600


async def rotate(h: Harness, refresh_token: str) -> tuple[int, dict[str, Any]]:
    """Refresh with HTTP Basic; return the status and body."""
    raw = base64.b64encode(b"demo-client:demo-secret").decode()
    response = await h.client.post(
        "/oauth/token",
        params={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={"Authorization": f"Basic {raw}"},
    )
    body: dict[str, Any] = await response.json()
    return response.status, body


async def restart(h: Harness, make_harness: HarnessFactory, **config: Any) -> Harness:
    """Shut `h` down and start a new simulator on the same state file."""
    await h.client.close()
    again = await make_harness(**config)
    again.access_token, again.refresh_token = h.access_token, h.refresh_token
    return again


async def test_restart_keeps_tokens_quotas_plans_settings_and_clock(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    config = {"state_path": tmp_path / "state.json", "plan": "megawatt", "seed": 5}
    first = await make_harness(**config)
    first.login()
    revoked = first.sim.mint_tokens("neighbour@example.com")
    await first.admin("POST", "revoke", json={"email": "neighbour@example.com"})
    stale_refresh = first.refresh_token
    status, rotated = await rotate(first, stale_refresh)
    assert status == 200
    first.access_token, first.refresh_token = rotated["access_token"], rotated["refresh_token"]
    await first.json(
        SETTINGS, method="PUT", json={"battery_mode": "Full Backup", "reserve_soc": 55}
    )
    for _ in range(3):
        await first.json("systems")
    await first.admin("PUT", "plan", json={"plan": "partner", "key": "other-key"})
    await first.admin("PUT", "options", json={"battery_power_sign": -1})
    await first.admin("POST", f"systems/{SYSTEM_NO_BATTERY}/outage", json={"action": "start"})
    await first.admin("PUT", f"systems/{SYSTEM_BATTERY}/connection", json={"type": "wifi"})
    await first.admin("POST", "clock/advance", json={"seconds": 2 * HOUR})
    window = {"start": str(START_TS - HOUR), "end": str(START_TS + 2 * HOUR)}
    truth_before = await first.admin("GET", f"systems/{SYSTEM_BATTERY}/truth", params=window)
    usage_before = await first.admin("GET", "usage")

    # Another seed in the config: the saved world wins, so the past stays the same.
    second = await restart(first, make_harness, **config | {"seed": 6})
    assert (await second.admin("GET", "clock"))["now_ts"] == START_TS + 2 * HOUR
    usage = await second.admin("GET", "usage")
    assert usage["total"] == usage_before["total"] == 4
    assert usage["month"]["count"] == 4
    assert usage["endpoints"] == usage_before["endpoints"]
    settings = await second.json(SETTINGS)
    assert (settings["battery_mode"], settings["reserve_soc"]) == ("Full Backup", 55)
    status_ = await second.admin("GET", "status")
    assert status_["plans"] == {"demo-key": "megawatt", "other-key": "partner"}
    assert status_["options"]["battery_power_sign"] == -1
    reporting = await second.admin("GET", f"systems/{SYSTEM_NO_BATTERY}/reporting")
    assert reporting["outages"] == [{"start": START_TS, "end": None}]
    assert (await second.admin("GET", f"systems/{SYSTEM_BATTERY}/reporting"))[
        "connection_type"
    ] == "wifi"
    truth_after = await second.admin("GET", f"systems/{SYSTEM_BATTERY}/truth", params=window)
    assert truth_after == truth_before
    # Tokens: the live pair still works, the rotated-away and revoked ones do not.
    await second.json("systems")
    await second.json("systems", 401, token=revoked["access_token"])
    assert (await rotate(second, stale_refresh))[0] != 200
    status, again = await rotate(second, second.refresh_token)
    assert status == 200
    await second.json("systems", token=again["access_token"])


async def test_a_pending_change_survives_a_restart(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    config = {"state_path": tmp_path / "state.json", "plan": "megawatt"}
    first = await make_harness(**config)
    first.login()
    await first.json(SETTINGS, method="PUT", json={"battery_mode": "Savings Mode"})
    second = await restart(first, make_harness, **config)
    battery = f"systems/{SYSTEM_BATTERY}/battery"
    pending = await second.admin("GET", battery)
    assert pending["effective"]["battery_mode"] == "Self - Consumption"
    assert [p["effective_at"] for p in pending["pending"]] == [START_TS + 60]
    await second.admin("POST", "clock/advance", json={"seconds": 60})
    assert (await second.admin("GET", battery))["effective"]["battery_mode"] == "Savings Mode"


async def test_changes_are_saved_while_running(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    h = await make_harness(state_path=path, save_interval=timedelta(milliseconds=20))
    await h.admin("PUT", "plan", json={"plan": "kilowatt"})
    for _ in range(100):
        if path.exists():
            break
        await asyncio.sleep(0.02)
    assert json.loads(path.read_text(encoding="utf-8"))["plans"]["demo-key"] == "kilowatt"


async def test_expired_tokens_are_not_written(make_harness: HarnessFactory, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    h = await make_harness(state_path=path, access_token_ttl=timedelta(seconds=30))
    h.login()
    await h.admin("POST", "clock/advance", json={"seconds": 31})
    await h.admin("POST", "state/save")
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["tokens"]["access"] == {}
    assert len(saved["tokens"]["refresh"]) == 1
    assert h.access_token not in path.read_text(encoding="utf-8")
    assert h.refresh_token not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("content", ["{not json", json.dumps({"version": 99}), "[]"])
async def test_an_unusable_state_file_is_ignored(
    make_harness: HarnessFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    content: str,
) -> None:
    path = tmp_path / "state.json"
    path.write_text(content, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="enphase_simulator.state"):
        h = await make_harness(state_path=path)
    assert "ignoring" in caplog.text
    assert (await h.admin("GET", "clock"))["now_ts"] == START_TS
    h.login()
    await h.json("systems")
    # The next save replaces it with a good file.
    await h.admin("POST", "state/save")
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == 1
