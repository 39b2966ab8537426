"""Plans and quotas: per API key, per calendar minute and month, 429 bodies and resets."""

from __future__ import annotations

from base64 import b64encode
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.simulator.conftest import START, START_TS, Harness, HarnessFactory

PLANS = [
    ("watt", "Watt", 10, 1_000),
    ("kilowatt", "Kilowatt", 50, 50_000),
    ("megawatt", "Megawatt", 100, 300_000),
    ("partner", "Partner", 300, 1_500_000),
]
MINUTE_START = START_TS - START_TS % 60
MONTH_START = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
MONTH_END = int(datetime(2026, 7, 1, tzinfo=UTC).timestamp())
SUMMARY = "GET /api/v4/systems/{system_id}/summary"
SYSTEMS = "GET /api/v4/systems"
PUT_BATTERY = "PUT /api/v4/systems/config/{system_id}/battery_settings"


def too_many(title: str, period: str, start: int, end: int, limit: int) -> dict[str, Any]:
    return {
        "message": "Too Many Requests",
        "details": f"Usage limit exceeded for plan {title}",
        "code": 429,
        "period": period,
        "period_start": start,
        "period_end": end,
        "limit": limit,
    }


async def usage(h: Harness, key: str = "demo-key") -> dict[str, Any]:
    body: dict[str, Any] = await h.admin("GET", "usage", params={"key": key})
    return body


async def spend(h: Harness, calls: int, path: str = "systems/1001/summary") -> None:
    for _ in range(calls):
        await h.json(path)


async def test_watt_allows_ten_calls_a_minute(harness: Harness) -> None:
    await spend(harness, 10)
    body = await harness.json("systems", 429)
    assert body == too_many("Watt", "minute", MINUTE_START, MINUTE_START + 60, 10)
    assert "Retry-After" not in (await harness.api("systems")).headers


async def test_minute_resets_at_period_end(harness: Harness) -> None:
    await spend(harness, 10)
    body = await harness.json("systems", 429)
    harness.sim.advance(body["period_end"] - START_TS - 1)
    await harness.json("systems", 429)
    harness.sim.advance(1)
    await spend(harness, 10)
    body = await harness.json("systems", 429)
    assert (body["period_start"], body["period_end"]) == (MINUTE_START + 60, MINUTE_START + 120)


@pytest.mark.parametrize(("plan", "title", "per_minute", "per_month"), PLANS)
async def test_per_minute_limit_of_each_plan(
    make_harness: HarnessFactory, plan: str, title: str, per_minute: int, per_month: int
) -> None:
    h = await make_harness(plan=plan)
    h.login()
    await h.admin("POST", "usage", json={"minute": per_minute - 1})
    await h.json("systems")
    body = await h.json("systems", 429)
    assert body == too_many(title, "minute", MINUTE_START, MINUTE_START + 60, per_minute)
    assert (await usage(h))["minute"]["count"] == per_minute
    assert (await usage(h))["minute"]["limit"] == per_minute
    assert (await usage(h))["month"]["limit"] == per_month


@pytest.mark.parametrize(("plan", "title", "per_minute", "per_month"), PLANS)
async def test_per_month_limit_and_reset(
    make_harness: HarnessFactory, plan: str, title: str, per_minute: int, per_month: int
) -> None:
    h = await make_harness(plan=plan)
    h.login()
    await h.admin("POST", "usage", json={"month": per_month - 1})
    await h.json("systems")
    body = await h.json("systems", 429)
    assert body == too_many(title, "month", MONTH_START, MONTH_END, per_month)
    # A new minute does not help; the new month does.
    h.sim.advance(120)
    await h.json("systems", 429)
    h.sim.advance(MONTH_END - START_TS - 120)
    h.login()
    await h.json("systems")
    counts = await usage(h)
    assert (counts["month"]["count"], counts["month"]["period_start"]) == (1, MONTH_END)
    assert (counts["minute"]["count"], counts["minute"]["limit"]) == (1, per_minute)


async def test_month_is_reported_when_both_are_spent(harness: Harness) -> None:
    await harness.admin("POST", "usage", json={"minute": 10, "month": 1_000})
    body = await harness.json("systems", 429)
    assert (body["period"], body["limit"]) == ("month", 1_000)


async def test_quota_is_shared_by_all_systems_and_endpoints(harness: Harness) -> None:
    for path in ("systems", "systems/1001/summary", "systems/1002/summary"):
        await spend(harness, 3, path)
    await harness.json("systems/1002/latest_telemetry")
    body = await harness.json("systems/1001/telemetry/battery", 429)
    assert body["period"] == "minute"


async def test_each_api_key_has_its_own_quota(harness: Harness) -> None:
    await spend(harness, 10)
    await harness.json("systems", 429)
    harness.login(client_id="other-client")
    await harness.json("systems", key="other-key")
    assert (await usage(harness, "other-key"))["minute"]["count"] == 1
    assert (await usage(harness))["minute"]["count"] == 10


async def test_refused_calls_are_not_counted(harness: Harness) -> None:
    await spend(harness, 10)
    for _ in range(5):
        await harness.json("systems", 429)
    await harness.json("systems", 401, token="expired")
    await harness.json("systems", 401, key="nope")
    counts = await usage(harness)
    assert (counts["total"], counts["minute"]["count"], counts["month"]["count"]) == (10, 10, 10)


async def test_calls_outside_the_plan_are_not_counted(harness: Harness) -> None:
    await harness.json("systems/config/1001/battery_settings", 401)
    await harness.json("systems/1001/telemetry/production_micro", 401)
    assert (await usage(harness))["total"] == 0


async def test_errors_after_the_gate_are_counted(harness: Harness) -> None:
    await harness.json("systems/9999/summary", 404)
    await harness.json("systems/1001/telemetry/battery", 422, granularity="hour")
    assert (await usage(harness))["total"] == 2


async def test_admin_calls_are_never_counted(harness: Harness) -> None:
    await harness.json("systems")
    for _ in range(20):
        await harness.admin("GET", "status")
        await usage(harness)
    await harness.admin("GET", "systems/1001/truth")
    await harness.admin("GET", "systems/1001/reporting")
    counts = await usage(harness)
    assert (counts["total"], counts["minute"]["count"]) == (1, 1)
    await spend(harness, 9)
    await harness.json("systems", 429)


async def test_counts_per_endpoint(harness: Harness) -> None:
    await spend(harness, 3)
    await spend(harness, 1, "systems/1002/summary")
    await spend(harness, 2, "systems")
    counts = await usage(harness)
    assert counts["key"] == "demo-key"
    assert counts["plan"] == "watt"
    assert counts["endpoints"] == {
        SUMMARY: {"total": 4, "minute": 4, "month": 4},
        SYSTEMS: {"total": 2, "minute": 2, "month": 2},
    }
    assert counts["minute"] == {
        "period_start": MINUTE_START,
        "period_end": MINUTE_START + 60,
        "count": 6,
        "limit": 10,
    }
    harness.sim.advance(60)
    later = await usage(harness)
    assert later["endpoints"][SUMMARY] == {"total": 4, "minute": 0, "month": 4}
    assert later["minute"]["count"] == 0


async def test_period_fields_can_be_left_out(make_harness: HarnessFactory) -> None:
    h = await make_harness(quota_period_fields=False)
    h.login()
    await spend(h, 10)
    body = await h.json("systems", 429)
    assert body == {
        "message": "Too Many Requests",
        "details": "Usage limit exceeded for plan Watt",
        "code": 429,
    }
    await h.admin("PUT", "options", json={"quota_period_fields": True})
    assert (await h.json("systems", 429))["period"] == "minute"


async def test_plan_change_takes_effect_at_once(harness: Harness) -> None:
    await spend(harness, 10)
    await harness.json("systems", 429)
    await harness.admin("PUT", "plan", json={"plan": "kilowatt"})
    body = await harness.json("systems/1001/telemetry/production_micro")
    assert body["total_devices"] == 24
    assert (await usage(harness))["minute"] == {
        "period_start": MINUTE_START,
        "period_end": MINUTE_START + 60,
        "count": 11,
        "limit": 50,
    }


async def test_partner_write_endpoints_have_200_hits_a_month(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(plan="partner")
    h.login()
    for n in range(200):
        reserve = 20 + n % 50
        await h.json(
            "systems/config/1001/battery_settings", method="PUT", json={"reserve_soc": reserve}
        )
        if n % 100 == 99:
            h.sim.advance(60)
    body = await h.json(
        "systems/config/1001/battery_settings", 429, method="PUT", json={"reserve_soc": 40}
    )
    assert body == too_many("Partner", "month", MONTH_START, MONTH_END, 200)
    # Reads and the other write endpoints keep their own budget.
    await h.json("systems/config/1001/battery_settings")
    await h.json(
        "systems/config/1001/storm_guard", method="PUT", json={"storm_guard_status": "enabled"}
    )
    assert (await usage(h))["endpoints"][PUT_BATTERY]["month"] == 200


async def test_megawatt_writes_only_count_against_the_plan(make_harness: HarnessFactory) -> None:
    h = await make_harness(plan="megawatt")
    h.login()
    await h.admin("POST", "usage", json={"month": 5_000})
    for _ in range(3):
        await h.json("systems/config/1001/battery_settings", method="PUT", json={"reserve_soc": 40})
    assert (await usage(h))["month"]["count"] == 5_003


async def test_reset_follows_an_external_clock(make_harness: HarnessFactory) -> None:
    now = [START + timedelta(seconds=30)]
    h = await make_harness(clock=lambda: now[0])
    h.login()
    await spend(h, 10)
    body = await h.json("systems", 429)
    assert body["period_end"] == MINUTE_START + 60
    now[0] = datetime.fromtimestamp(body["period_end"] - 1, UTC)
    await h.json("systems", 429)
    now[0] = datetime.fromtimestamp(body["period_end"], UTC)
    await h.json("systems")
    # The simulator cannot move a clock it does not own.
    await h.admin("POST", "clock/advance", 409, json={"seconds": 60})


async def test_oauth_calls_are_not_counted(harness: Harness) -> None:
    response = await harness.client.post(
        "/oauth/token",
        params={"grant_type": "refresh_token", "refresh_token": harness.refresh_token},
        headers={"Authorization": "Basic " + b64encode(b"demo-client:demo-secret").decode()},
    )
    assert response.status == 200
    assert (await usage(harness))["total"] == 0


async def test_december_quota_resets_on_new_year(make_harness: HarnessFactory) -> None:
    december = datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)
    h = await make_harness(start=december)
    h.login()
    await h.admin("POST", "usage", json={"month": 1_000})
    body = await h.json("systems", 429)
    new_year = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    assert (body["period"], body["period_end"]) == ("month", new_year)
    assert body["period_start"] == int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())
    h.sim.advance(30)
    await h.json("systems")
