"""Reporting like a real gateway: late uploads, bursts after outages, report times.

The clock stands still unless a test moves it (`/_sim/clock/...`); what the
cloud has seen is read from `/api/v4` and `/_sim/systems/{id}/reporting`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from enphase_simulator import SYSTEM_BATTERY, SYSTEM_NO_BATTERY, Outage
from tests.simulator.conftest import START_TS, Harness, HarnessFactory

QUARTER = 900
HOUR = 3_600
DAY = 86_400
MIN_LAG, MAX_LAG = 60, 300


async def reporting(h: Harness, system_id: int = SYSTEM_BATTERY) -> dict[str, Any]:
    """Return the gateway's upload state from the admin API."""
    body: dict[str, Any] = await h.admin("GET", f"systems/{system_id}/reporting")
    return body


async def move_to(h: Harness, when: int) -> None:
    """Set the simulator clock to epoch `when`."""
    await h.admin("POST", "clock/set", json={"time": when})


async def production(h: Harness, start: int, system_id: int = SYSTEM_BATTERY) -> list[Any]:
    """Return the served production intervals of the day from `start`."""
    body = await h.json(
        f"systems/{system_id}/telemetry/production_meter", start_at=start, granularity="day"
    )
    intervals: list[Any] = body["intervals"]
    return intervals


async def truth(h: Harness, start: int, end: int) -> dict[int, int]:
    """Return the true production by interval end in `(start, end]`."""
    params = {"start": str(start), "end": str(end)}
    body = await h.admin("GET", f"systems/{SYSTEM_BATTERY}/truth", params=params)
    return {row["end_at"]: row["production"] for row in body["intervals"]}


async def test_an_interval_is_served_only_after_its_upload(harness: Harness) -> None:
    # START is a quarter hour: the interval ending now exists but is not uploaded yet.
    state = await reporting(harness)
    assert state["reported_through"] == START_TS - QUARTER
    upload = state["next_upload_at"]
    assert MIN_LAG <= upload - START_TS <= MAX_LAG
    assert START_TS in await truth(harness, START_TS - HOUR, START_TS)
    window = START_TS - 2 * HOUR
    before = await production(harness, window)
    assert before[-1]["end_at"] == START_TS - QUARTER
    await move_to(harness, upload - 1)
    assert await production(harness, window) == before
    await move_to(harness, upload)
    after = await production(harness, window)
    assert after[:-1] == before
    assert after[-1]["end_at"] == START_TS
    summary = await harness.json(f"systems/{SYSTEM_BATTERY}/summary")
    assert summary["last_report_at"] == upload


@pytest.mark.parametrize(
    ("system_id", "connection"), [(SYSTEM_BATTERY, "ethernet"), (SYSTEM_NO_BATTERY, "wifi")]
)
async def test_uploads_every_quarter_hour_with_a_few_minutes_lag(
    harness: Harness, system_id: int, connection: str
) -> None:
    uploads: dict[int, int] = {}
    # Steps shorter than the upload period see every upload (last_report_at is exact).
    for minute in range(0, 6 * 60, 5):
        await move_to(harness, START_TS + minute * 60)
        state = await reporting(harness, system_id)
        assert state["connection_type"] == connection
        assert state["status"] == "normal"
        uploads[state["last_report_at"]] = state["reported_through"]
    times = sorted(uploads)[1:]  # the first one predates the walk
    assert len(times) == 24
    boundaries = [uploads[at] for at in times]
    assert boundaries == [START_TS + n * QUARTER for n in range(24)]
    lags = [at - boundary for at, boundary in zip(times, boundaries, strict=True)]
    assert all(MIN_LAG <= lag <= MAX_LAG for lag in lags)
    assert len(set(lags)) > 10  # jittered, not a fixed offset
    listed = await harness.json("systems")
    entry = next(s for s in listed["systems"] if s["system_id"] == system_id)
    assert entry["last_report_at"] == times[-1]


async def test_cellular_gateways_upload_every_six_hours(harness: Harness) -> None:
    state = await harness.admin(
        "PUT", f"systems/{SYSTEM_BATTERY}/connection", json={"type": "cellular"}
    )
    assert state["connection_type"] == "cellular"
    seen: dict[int, int] = {}
    oldest_gap = 0
    for half_hour in range(2 * 48):
        now = START_TS + half_hour * 2 * QUARTER
        await move_to(harness, now)
        state = await reporting(harness)
        seen[state["last_report_at"]] = state["reported_through"]
        oldest_gap = max(oldest_gap, now - state["reported_through"])
        assert state["status"] == "normal"
    boundaries = [seen[at] for at in sorted(seen)]
    assert boundaries == [START_TS - HOUR + n * 6 * HOUR for n in range(len(boundaries))]
    assert len(boundaries) == 9
    assert all(MIN_LAG <= at - seen[at] <= MAX_LAG for at in seen)
    # Data is hours late just before each upload.
    assert oldest_gap > 5 * HOUR


async def test_outage_buffers_then_uploads_the_backlog_at_once(harness: Harness) -> None:
    window = START_TS - HOUR
    await move_to(harness, START_TS + 10 * 60)  # after the 19:00 upload
    before = await reporting(harness)
    assert before["reported_through"] == START_TS
    started = await harness.admin(
        "POST", f"systems/{SYSTEM_BATTERY}/outage", json={"action": "start"}
    )
    assert started == {"start": START_TS + 600, "end": None}
    served = len(await production(harness, window))
    statuses = set()
    for minute in range(10, 3 * 60, 5):
        await move_to(harness, START_TS + minute * 60)
        state = await reporting(harness)
        assert state["last_report_at"] == before["last_report_at"]
        assert state["reported_through"] == START_TS
        assert state["next_upload_at"] is None
        assert len(await production(harness, window)) == served
        statuses.add(state["status"])
    # An hour of silence makes the system "comm" in the systems list too.
    assert statuses == {"normal", "comm"}
    listed = await harness.json("systems")
    assert listed["systems"][0]["status"] == "comm"
    end = START_TS + 3 * HOUR
    await move_to(harness, end)
    ended = await harness.admin("POST", f"systems/{SYSTEM_BATTERY}/outage", json={"action": "end"})
    assert ended == {"ended": {"start": START_TS + 600, "end": end}}
    upload = (await reporting(harness))["next_upload_at"]
    assert MIN_LAG <= upload - end <= MAX_LAG
    await move_to(harness, upload - 1)
    assert len(await production(harness, window)) == served
    await move_to(harness, upload)
    burst = await production(harness, window)
    # Twelve buffered intervals arrive in one upload, exactly as they happened.
    assert len(burst) == served + 12
    assert burst[-1]["end_at"] == end
    real = await truth(harness, window, end)
    assert {row["end_at"]: row["wh_del"] for row in burst} == real
    state = await reporting(harness)
    assert (state["status"], state["last_report_at"]) == ("normal", upload)


async def test_configured_outage_windows(make_harness: HarnessFactory) -> None:
    h = await make_harness(
        outages=(
            Outage(
                system_id=SYSTEM_BATTERY,
                start=datetime.fromtimestamp(START_TS + HOUR, UTC),
                end=datetime.fromtimestamp(START_TS + 4 * HOUR, UTC),
            ),
            Outage(system_id=SYSTEM_NO_BATTERY, start=datetime.fromtimestamp(START_TS, UTC)),
        )
    )
    await move_to(h, START_TS + 3 * HOUR)
    state = await reporting(h)
    assert state["reported_through"] == START_TS + HOUR - QUARTER
    assert state["outages"] == [{"start": START_TS + HOUR, "end": START_TS + 4 * HOUR}]
    await move_to(h, START_TS + 4 * HOUR + MAX_LAG)
    assert (await reporting(h))["reported_through"] == START_TS + 4 * HOUR
    # An open-ended outage: the Texas gateway stays silent.
    silent = await reporting(h, SYSTEM_NO_BATTERY)
    assert silent["reported_through"] == START_TS - QUARTER
    assert (silent["status"], silent["next_upload_at"]) == ("comm", None)


async def test_a_gateway_that_never_reported(make_harness: HarnessFactory) -> None:
    # Offline since before the system became operational: the cloud has nothing.
    h = await make_harness(
        outages=(Outage(system_id=SYSTEM_NO_BATTERY, start=datetime(2020, 1, 1, tzinfo=UTC)),)
    )
    h.login()
    entry = (await h.json("systems"))["systems"][1]
    assert entry["system_id"] == SYSTEM_NO_BATTERY
    assert (entry["last_report_at"], entry["last_energy_at"], entry["status"]) == (
        None,
        None,
        "comm",
    )
    summary = await h.json(f"systems/{SYSTEM_NO_BATTERY}/summary")
    assert (summary["last_report_at"], summary["last_interval_end_at"]) == (None, None)
    assert summary["energy_lifetime"] == 0
    assert await production(h, START_TS - DAY, SYSTEM_NO_BATTERY) == []


async def test_last_report_is_recent_while_the_last_energy_is_from_sunset(
    harness: Harness,
) -> None:
    # Local midnight in California: the gateway reports, the panels have been dark for hours.
    midnight = START_TS + 12 * HOUR
    await move_to(harness, midnight)
    harness.login()
    summary = await harness.json(f"systems/{SYSTEM_BATTERY}/summary")
    assert 0 < midnight - summary["last_report_at"] <= QUARTER + MAX_LAG
    real = await truth(harness, START_TS, midnight)
    last_light = max(end for end, wh in real.items() if wh > 0)
    # The second of the last reading, a little after that interval's end.
    assert 0 <= summary["last_interval_end_at"] - last_light < QUARTER
    assert midnight - last_light > 3 * HOUR
    assert summary["current_power"] == 0
    telemetry = await harness.json(
        f"systems/{SYSTEM_BATTERY}/telemetry/consumption_meter", start_at=START_TS
    )
    assert telemetry["meta"]["last_energy_at"] == summary["last_interval_end_at"]
    assert telemetry["meta"]["last_report_at"] == summary["last_report_at"]
    listed = await harness.json("systems")
    entry = listed["systems"][0]
    assert (entry["last_report_at"], entry["last_energy_at"]) == (
        summary["last_report_at"],
        summary["last_interval_end_at"],
    )


async def test_a_week_of_silence_blanks_the_latest_telemetry(harness: Harness) -> None:
    await harness.admin("POST", f"systems/{SYSTEM_BATTERY}/outage", json={"action": "start"})
    await move_to(harness, START_TS + 7 * DAY - HOUR)
    harness.login()
    latest = await harness.json(f"systems/{SYSTEM_BATTERY}/latest_telemetry")
    assert latest["devices"]["meters"][0]["power"] is not None
    await move_to(harness, START_TS + 7 * DAY + HOUR)
    latest = await harness.json(f"systems/{SYSTEM_BATTERY}/latest_telemetry")
    devices = [*latest["devices"]["meters"], *latest["devices"]["encharges"]]
    assert all(d["power"] is None and d["last_report_at"] is None for d in devices)
    summary = await harness.json(f"systems/{SYSTEM_BATTERY}/summary")
    assert summary["last_report_at"] < START_TS
    assert summary["status"] == "comm"
