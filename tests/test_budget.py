"""Tests for the request budget of an API key and the polling cadence it plans."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial
import json
import math
from typing import TYPE_CHECKING, Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_KEY, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from hypothesis import example, given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.enphase_cloud.api.errors import EnphaseRateLimited
from custom_components.enphase_cloud.budget import (
    PLAN_LIMITS,
    SAVE_DELAY,
    ApiBudget,
    Cadence,
    Plan,
    async_get_budget,
    key_id,
    plan_cadence,
)
from custom_components.enphase_cloud.const import CONF_HISTORY_DAYS, CONF_PLAN, DOMAIN

from .conftest import (
    API_KEY as SIM_API_KEY,
    START,
    SimHarness,
    run_until,
    stored_budget,
    token_data,
)

if TYPE_CHECKING:
    from freezegun.api import FrozenDateTimeFactory
    from homeassistant.core import HomeAssistant

API_KEY = "very-secret-api-key-0123456789"
KEY_ID = key_id(API_KEY)
STORE_KEY = f"{DOMAIN}.budget.{KEY_ID}"
ISSUE_ID = f"quota_exhausted_{KEY_ID}"
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
JULY = datetime(2026, 7, 1, tzinfo=UTC)
WATT = PLAN_LIMITS[Plan.WATT]
QUARTER = timedelta(minutes=15)


@pytest.fixture
def now(freezer: FrozenDateTimeFactory) -> datetime:
    """Freeze time in the middle of June 2026."""
    freezer.move_to(NOW)
    return NOW


@pytest.fixture
async def budget(hass: HomeAssistant, now: datetime) -> ApiBudget:
    """Return the loaded Watt budget of API_KEY."""
    return await async_get_budget(hass, API_KEY, Plan.WATT)


def stored(
    *,
    month: str = "2026-06",
    used: int = 0,
    recent: list[float] | None = None,
    blocked_until: str | None = None,
    block_period: str | None = None,
) -> dict[str, Any]:
    """Return this module's store file, with `used` calls to the summary."""
    return stored_budget(
        API_KEY,
        month=month,
        used=used,
        recent=recent,
        blocked_until=blocked_until,
        block_period=block_period,
        responses={"summary": {"200": used}},
    )[1]


async def flush_store(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let the delayed save run."""
    freezer.tick(timedelta(seconds=SAVE_DELAY + 1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def refused(budget: ApiBudget, endpoint: str = "summary") -> EnphaseRateLimited:
    """Return the error `acquire` raises."""
    with pytest.raises(EnphaseRateLimited) as caught:
        await budget.acquire(endpoint)
    return caught.value


def blocked(budget: ApiBudget) -> datetime | None:
    """Return `blocked_until`, read afresh (keeps type checkers from narrowing it)."""
    return budget.blocked_until


def issue(hass: HomeAssistant) -> ir.IssueEntry | None:
    """Return the quota repair issue of API_KEY, if raised."""
    return issue_of(hass, ISSUE_ID)


def issue_of(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry | None:
    """Return a repair issue of the integration, if raised."""
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id)


def test_key_id_is_short_hash() -> None:
    assert len(KEY_ID) == 12
    int(KEY_ID, 16)
    assert API_KEY not in KEY_ID
    assert key_id(API_KEY) == KEY_ID
    assert key_id("other-key") != KEY_ID


async def test_minute_window_refuses_eleventh_call(
    budget: ApiBudget, freezer: FrozenDateTimeFactory, now: datetime
) -> None:
    for _ in range(10):
        await budget.acquire("summary")
    assert budget.calls_available_now() == 0

    error = await refused(budget)
    assert error.period == "minute"
    assert error.retry_at == now + timedelta(seconds=60)
    assert error.limit == 10
    assert budget.used_this_month == 10  # a refused call is not counted

    freezer.tick(timedelta(seconds=59))
    await refused(budget)
    freezer.tick(timedelta(seconds=1))
    assert budget.calls_available_now() == 10
    await budget.acquire("summary")
    assert budget.used_this_month == 11


async def test_minute_window_is_rolling(
    budget: ApiBudget, freezer: FrozenDateTimeFactory, now: datetime
) -> None:
    for _ in range(5):
        await budget.acquire("summary")
    freezer.tick(timedelta(seconds=30))
    for _ in range(5):
        await budget.acquire("summary")
    # A calendar minute would start afresh here; the rolling window frees only the first five.
    freezer.tick(timedelta(seconds=30))
    assert budget.calls_available_now() == 5
    for _ in range(5):
        await budget.acquire("summary")
    error = await refused(budget)
    assert error.retry_at == now + timedelta(seconds=90)


async def test_month_exhaustion_and_rollover(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    now: datetime,
) -> None:
    hass_storage[STORE_KEY] = stored(used=999)
    budget = await async_get_budget(hass, API_KEY, Plan.WATT)
    assert budget.used_this_month == 999
    assert budget.remaining_this_month == 1
    assert budget.calls_available_now() == 1
    assert issue(hass) is None

    await budget.acquire("summary")
    assert budget.remaining_this_month == 0
    freezer.tick(timedelta(minutes=5))
    error = await refused(budget)
    assert error.period == "month"
    assert error.retry_at == JULY
    assert error.limit == 1000
    await refused(budget)  # still refused, the issue raised once
    assert budget.used_this_month == 1000
    entry = issue(hass)
    assert entry is not None
    assert entry.translation_key == "quota_exhausted"
    assert entry.severity is ir.IssueSeverity.WARNING
    assert not entry.is_fixable
    # US/Pacific is the test instance's time zone.
    assert entry.translation_placeholders == {"plan": "Watt", "resume_at": "2026-06-30 17:00 PDT"}

    freezer.move_to(JULY)
    assert budget.used_this_month == 0
    assert budget.remaining_this_month == 1000
    await budget.acquire("summary")
    assert budget.used_this_month == 1
    assert issue(hass) is None
    assert budget.as_diagnostics()["responses"] == {}


async def test_rollover_resets_endpoint_counts(
    budget: ApiBudget, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(JULY - timedelta(seconds=1))
    await budget.acquire("summary")
    budget.record("summary", 200)
    assert budget.as_diagnostics()["responses"] == {"summary": {"200": 1}}
    freezer.move_to(JULY)
    budget.record("devices", 200)
    diagnostics = budget.as_diagnostics()
    assert diagnostics["month"] == "2026-07"
    assert diagnostics["responses"] == {"devices": {"200": 1}}
    assert diagnostics["used_this_month"] == 0


@pytest.mark.parametrize("skew", [timedelta(hours=-2), timedelta(days=400)])
async def test_429_with_a_past_or_absurd_period_end_is_unknown(
    budget: ApiBudget, now: datetime, skew: timedelta
) -> None:
    await budget.acquire("summary")
    budget.record("summary", 429)
    budget.rate_limited(EnphaseRateLimited(period="minute", retry_at=now + skew, limit=10))
    # Treated as unknown: the minute's end by our clock, never the past, never next year.
    assert budget.blocked_until is not None
    assert now < budget.blocked_until <= now + timedelta(seconds=61)
    assert budget.used_this_month == 0


async def test_429_minute_blocks_until_retry_at(
    hass: HomeAssistant, budget: ApiBudget, freezer: FrozenDateTimeFactory, now: datetime
) -> None:
    await budget.acquire("summary")
    budget.record("summary", 429)
    retry_at = now + timedelta(seconds=30)
    budget.rate_limited(EnphaseRateLimited(period="minute", retry_at=retry_at, limit=10))

    assert budget.blocked_until == retry_at
    assert budget.calls_available_now() == 0
    # A minute block leaves the month alone, and Enphase did not count the refused call.
    assert budget.remaining_this_month == 1000
    error = await refused(budget)
    assert (error.period, error.retry_at) == ("minute", retry_at)
    assert issue(hass) is None

    freezer.tick(timedelta(seconds=30))
    assert blocked(budget) is None
    await budget.acquire("summary")
    assert budget.used_this_month == 1


async def test_429_keeps_the_later_block(budget: ApiBudget, now: datetime) -> None:
    late = now + timedelta(minutes=5)
    budget.rate_limited(EnphaseRateLimited(period="unknown", retry_at=late))
    budget.rate_limited(EnphaseRateLimited(period="minute", retry_at=now + timedelta(seconds=5)))
    assert budget.blocked_until == late
    assert (await refused(budget)).period == "unknown"


async def test_429_month_raises_and_clears_issue(
    hass: HomeAssistant, budget: ApiBudget, freezer: FrozenDateTimeFactory
) -> None:
    await budget.acquire("summary")
    retry_at = JULY + timedelta(seconds=1)
    budget.rate_limited(EnphaseRateLimited(period="month", retry_at=retry_at, limit=1000))

    assert budget.used_this_month == 1  # Enphase's count is not known, only that it is full
    assert budget.remaining_this_month == 0
    assert budget.blocked_until == retry_at
    error = await refused(budget)
    assert (error.period, error.retry_at) == ("month", retry_at)
    entry = issue(hass)
    assert entry is not None
    assert entry.translation_placeholders == {"plan": "Watt", "resume_at": "2026-06-30 17:00 PDT"}

    freezer.move_to(JULY)
    await refused(budget)  # Enphase said one second later
    assert issue(hass) is not None
    freezer.move_to(retry_at)
    await budget.acquire("summary")
    assert issue(hass) is None
    assert budget.used_this_month == 1


async def test_persistence_across_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    budget: ApiBudget,
    freezer: FrozenDateTimeFactory,
    now: datetime,
) -> None:
    for endpoint in ("summary", "summary", "telemetry/battery"):
        await budget.acquire(endpoint)
        budget.record(endpoint, 200)
    retry_at = JULY + timedelta(seconds=1)
    budget.rate_limited(EnphaseRateLimited(period="month", retry_at=retry_at))
    await flush_store(hass, freezer)

    data = hass_storage[STORE_KEY]["data"]
    assert data["month"] == "2026-06"
    assert data["used"] == 3
    assert data["responses"] == {"summary": {"200": 2}, "telemetry/battery": {"200": 1}}
    assert data["recent"] == [now.timestamp()] * 3
    assert data["blocked_until"] == retry_at.isoformat()
    assert data["block_period"] == "month"
    assert API_KEY not in json.dumps(hass_storage[STORE_KEY])

    # A restart: the registry forgets non-persistent issues, the budget raises it again.
    ir.async_delete_issue(hass, DOMAIN, ISSUE_ID)
    restarted = ApiBudget(hass, KEY_ID, Plan.WATT)
    await restarted.async_load()
    assert restarted.used_this_month == 3
    assert restarted.blocked_until == retry_at
    assert restarted.as_diagnostics()["responses"] == data["responses"]
    assert issue(hass) is not None


async def test_restart_keeps_the_minute_window(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    now: datetime,
) -> None:
    old = (now - timedelta(seconds=61)).timestamp()
    hass_storage[STORE_KEY] = stored(used=20, recent=[old] + [now.timestamp() - 10] * 10)
    budget = await async_get_budget(hass, API_KEY, Plan.WATT)
    assert budget.calls_available_now() == 0
    error = await refused(budget)
    assert error.retry_at == now + timedelta(seconds=50)
    freezer.tick(timedelta(seconds=50))
    await budget.acquire("summary")
    assert budget.used_this_month == 21


async def test_restart_after_month_exhausted_locally(
    hass: HomeAssistant, hass_storage: dict[str, Any], now: datetime
) -> None:
    hass_storage[STORE_KEY] = stored(used=1000)
    budget = await async_get_budget(hass, API_KEY, Plan.WATT)
    assert budget.remaining_this_month == 0
    entry = issue(hass)
    assert entry is not None
    assert entry.translation_placeholders == {"plan": "Watt", "resume_at": "2026-06-30 17:00 PDT"}


async def test_stored_month_that_is_over_starts_fresh(
    hass: HomeAssistant, hass_storage: dict[str, Any], now: datetime
) -> None:
    hass_storage[STORE_KEY] = stored(
        month="2026-05",
        used=1000,
        recent=[(now - timedelta(days=20)).timestamp()],
        blocked_until=(now - timedelta(days=1)).isoformat(),
        block_period="month",
    )
    budget = await async_get_budget(hass, API_KEY, Plan.WATT)
    assert budget.used_this_month == 0
    assert budget.blocked_until is None
    assert budget.calls_available_now() == 10
    assert budget.as_diagnostics()["responses"] == {}
    assert issue(hass) is None
    await budget.acquire("summary")


async def test_block_outlives_the_month_it_came_in(
    hass: HomeAssistant, hass_storage: dict[str, Any], now: datetime
) -> None:
    # Enphase's month may end later than the UTC one: its block holds in the new month.
    until = now + timedelta(hours=2)
    hass_storage[STORE_KEY] = stored(
        month="2026-05", used=1000, blocked_until=until.isoformat(), block_period="month"
    )
    budget = await async_get_budget(hass, API_KEY, Plan.WATT)
    assert budget.used_this_month == 0
    assert budget.blocked_until == until
    assert budget.remaining_this_month == 0
    assert issue(hass) is not None


async def test_concurrent_callers_wait_for_one_load(
    hass: HomeAssistant, hass_storage: dict[str, Any], now: datetime
) -> None:
    real_load = Store.async_load
    loads = 0

    async def slow_load(store: Store[Any]) -> Any:
        nonlocal loads
        loads += store.key == STORE_KEY  # the write cap has a store of its own
        await asyncio.sleep(0)  # two entries set up at once: the second arrives mid-load
        return await real_load(store)

    hass_storage[STORE_KEY] = stored(used=7)
    with patch.object(Store, "async_load", slow_load):
        first, second = await asyncio.gather(
            async_get_budget(hass, API_KEY, Plan.WATT),
            async_get_budget(hass, API_KEY, Plan.WATT),
        )
    assert first is second
    assert loads == 1
    assert second.used_this_month == 7


async def test_budget_is_shared_per_key(
    hass: HomeAssistant, hass_storage: dict[str, Any], now: datetime
) -> None:
    hass_storage[STORE_KEY] = stored(used=7)
    first, second = await asyncio.gather(
        async_get_budget(hass, API_KEY, Plan.WATT), async_get_budget(hass, API_KEY, Plan.WATT)
    )
    assert first is second
    assert first.used_this_month == 7  # loaded once, before either caller used it

    for _ in range(5):
        await first.acquire("summary")
    for _ in range(5):
        await second.acquire("telemetry/battery")
    await refused(first)
    assert second.used_this_month == 17

    other = await async_get_budget(hass, "other-key", Plan.WATT)
    assert other is not first
    assert other.key_id == key_id("other-key")
    assert other.used_this_month == 0
    await other.acquire("summary")


async def test_plan_change(
    hass: HomeAssistant, budget: ApiBudget, freezer: FrozenDateTimeFactory, now: datetime
) -> None:
    for _ in range(3):
        await budget.acquire("summary")
    freezer.tick(timedelta(seconds=10))
    for _ in range(7):
        await budget.acquire("summary")
    await refused(budget)

    # The latest entry's option wins, for every holder of the shared budget.
    assert await async_get_budget(hass, API_KEY, Plan("kilowatt")) is budget
    assert budget.plan is Plan.KILOWATT
    assert budget.remaining_this_month == 49_990
    assert budget.calls_available_now() == 40
    for _ in range(3):
        await budget.acquire("summary")

    budget.plan = Plan.WATT
    assert budget.calls_available_now() == 0
    error = await refused(budget)
    # 13 calls in the window: below 10 once the 4th oldest (10 s after the first) leaves.
    assert (error.limit, error.retry_at) == (10, now + timedelta(seconds=70))
    freezer.tick(timedelta(seconds=50))
    await refused(budget)
    freezer.tick(timedelta(seconds=10))
    assert budget.calls_available_now() == 10


async def test_plan_upgrade_lifts_month_block(
    hass: HomeAssistant, budget: ApiBudget, now: datetime
) -> None:
    budget.rate_limited(EnphaseRateLimited(period="month", retry_at=JULY))
    budget.plan = Plan.WATT  # unchanged
    await refused(budget)
    budget.plan = Plan.MEGAWATT
    assert blocked(budget) is None
    budget.rate_limited(EnphaseRateLimited(period="month", retry_at=JULY))
    budget.plan = Plan.KILOWATT  # a downgrade keeps the block
    assert blocked(budget) == JULY
    budget.plan = Plan.PARTNER
    assert blocked(budget) is None
    assert issue(hass) is not None
    await budget.acquire("summary")
    assert issue(hass) is None


async def test_plan_upgrade_keeps_minute_block(budget: ApiBudget, now: datetime) -> None:
    until = now + timedelta(seconds=40)
    budget.rate_limited(EnphaseRateLimited(period="minute", retry_at=until))
    budget.plan = Plan.PARTNER
    assert budget.blocked_until == until


async def test_diagnostics_never_hold_the_key(
    hass: HomeAssistant, budget: ApiBudget, now: datetime
) -> None:
    await budget.acquire("summary")
    budget.record("summary", 200)
    budget.rate_limited(EnphaseRateLimited(period="minute", retry_at=now + timedelta(seconds=9)))
    diagnostics = budget.as_diagnostics()
    assert API_KEY not in json.dumps(diagnostics)
    assert diagnostics == {
        "key_id": KEY_ID,
        "plan": "watt",
        "per_minute": 10,
        "per_month": 1000,
        "month": "2026-06",
        "used_this_month": 1,
        "remaining_this_month": 999,
        "calls_available_now": 0,
        "blocked_until": "2026-06-10T12:00:09+00:00",
        "block_period": "minute",
        "responses": {"summary": {"200": 1}},
        "writes": {"cap_per_endpoint": None, "used": {}, "blocked_until": {}},
    }


# --- plan_cadence -------------------------------------------------------------------------

JUNE_START = datetime(2026, 6, 1, tzinfo=UTC)


def calls_until_month_end(cadence: Cadence, now: datetime, fast: int, bulk: int) -> int:
    """Return the calls the cadence makes from now to the month's end, first rounds now."""
    left = (JULY - now).total_seconds()

    def rounds(every: timedelta) -> int:
        return -(-int(left) // int(every.total_seconds()))

    return fast * rounds(cadence.fast) + bulk * rounds(cadence.bulk)


def test_cadence_worked_example_watt() -> None:
    cadence = plan_cadence(
        limits=WATT, used_this_month=0, now=JUNE_START, fast_calls=1, bulk_calls=5
    )
    # 950 calls in 30 days: bulk daily takes 150, fast every 54 min rounds up to an hour.
    assert cadence == Cadence(fast=timedelta(hours=1), bulk=timedelta(days=1))
    assert calls_until_month_end(cadence, JUNE_START, 1, 5) == 870


@pytest.mark.parametrize("plan", [Plan.KILOWATT, Plan.MEGAWATT, Plan.PARTNER])
@pytest.mark.parametrize("now", [JUNE_START, datetime(2026, 6, 29, 18, tzinfo=UTC)])
def test_cadence_paid_plans_poll_every_quarter(plan: Plan, now: datetime) -> None:
    cadence = plan_cadence(
        limits=PLAN_LIMITS[plan], used_this_month=0, now=now, fast_calls=1, bulk_calls=5
    )
    assert cadence == Cadence(fast=QUARTER, bulk=QUARTER)


def test_cadence_watt_late_in_month() -> None:
    now = datetime(2026, 6, 29, 12, tzinfo=UTC)
    # 36 hours left and 50 calls: fast hourly (36) plus two daily bulk rounds (10).
    cadence = plan_cadence(limits=WATT, used_this_month=900, now=now, fast_calls=1, bulk_calls=5)
    assert cadence == Cadence(fast=timedelta(hours=1), bulk=timedelta(days=1))
    # Nothing used yet: both fit at the shortest cadence.
    cadence = plan_cadence(limits=WATT, used_this_month=0, now=now, fast_calls=1, bulk_calls=5)
    assert cadence == Cadence(fast=QUARTER, bulk=QUARTER)


def test_cadence_stretches_bulk_before_fast() -> None:
    now = datetime(2026, 6, 28, tzinfo=UTC)
    # 3 days = 288 quarters: fast every quarter (288) leaves 662 for bulk, every 45 min (480).
    cadence = plan_cadence(limits=WATT, used_this_month=0, now=now, fast_calls=1, bulk_calls=5)
    assert cadence == Cadence(fast=QUARTER, bulk=timedelta(minutes=45))


def test_cadence_stretches_both_beyond_a_day() -> None:
    # 50 calls left in 30 days: one 6-call round every 3.75 days fits, 8 rounds = 48 calls.
    cadence = plan_cadence(
        limits=WATT, used_this_month=900, now=JUNE_START, fast_calls=1, bulk_calls=5
    )
    assert cadence == Cadence(fast=timedelta(days=3, hours=18), bulk=timedelta(days=3, hours=18))


@pytest.mark.parametrize("used", [945, 949, 950, 1000, 5000])
def test_cadence_nearly_or_fully_exhausted_waits_for_month_end(used: int) -> None:
    now = datetime(2026, 6, 20, 10, 7, tzinfo=UTC)
    cadence = plan_cadence(limits=WATT, used_this_month=used, now=now, fast_calls=1, bulk_calls=5)
    # 10 days 13 h 53 min left, rounded up to the quarter hour.
    assert cadence.fast == cadence.bulk == timedelta(days=10, hours=14)


def test_cadence_without_fast_calls() -> None:
    cadence = plan_cadence(
        limits=WATT, used_this_month=0, now=JUNE_START, fast_calls=0, bulk_calls=2
    )
    # 950 / 2 = 475 rounds in 2880 quarters: every 7 quarters.
    assert cadence == Cadence(fast=QUARTER, bulk=timedelta(minutes=105))


def test_cadence_target_share() -> None:
    now = datetime(2026, 6, 29, 12, tzinfo=UTC)
    # Aiming at the whole quota leaves 100 calls instead of 50: fast every 30 min fits.
    cadence = plan_cadence(
        limits=WATT, used_this_month=900, now=now, fast_calls=1, bulk_calls=5, target_share=1.0
    )
    assert cadence == Cadence(fast=timedelta(minutes=30), bulk=timedelta(days=1))


def test_cadence_never_reaches_past_month_end() -> None:
    now = datetime(2026, 6, 30, 20, tzinfo=UTC)
    # 4 hours and 10 calls left: one bulk round (5) and fast hourly (4).
    cadence = plan_cadence(limits=WATT, used_this_month=940, now=now, fast_calls=1, bulk_calls=5)
    assert cadence == Cadence(fast=timedelta(hours=1), bulk=timedelta(hours=4))
    cadence = plan_cadence(limits=WATT, used_this_month=945, now=now, fast_calls=1, bulk_calls=5)
    assert cadence == Cadence(fast=timedelta(hours=4), bulk=timedelta(hours=4))


def test_cadence_december_rolls_into_next_year() -> None:
    now = datetime(2026, 12, 31, 23, 50, tzinfo=UTC)
    cadence = plan_cadence(limits=WATT, used_this_month=999, now=now, fast_calls=1, bulk_calls=5)
    assert cadence == Cadence(fast=QUARTER, bulk=QUARTER)


moments = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2027, 12, 31, 23, 59),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=400, deadline=None)
@given(
    plan=st.sampled_from(Plan),
    now=moments,
    # Shares of the quota, so every plan is tried around its own limit.
    shares=st.tuples(st.floats(0, 1.1), st.floats(0, 0.3)),
    round_calls=st.tuples(st.integers(0, 40), st.integers(0, 200)),
)
@example(
    plan=Plan.WATT,
    now=datetime(2026, 6, 30, 20, tzinfo=UTC),
    shares=(0.94, 0.005),
    round_calls=(1, 5),
)
def test_cadence_properties(
    plan: Plan, now: datetime, shares: tuple[float, float], round_calls: tuple[int, int]
) -> None:
    fast_calls, bulk_calls = round_calls
    limits = PLAN_LIMITS[plan]
    used = int(shares[0] * limits.per_month)
    more = int(shares[1] * limits.per_month)
    cadence_for = partial(
        plan_cadence, limits=limits, now=now, fast_calls=fast_calls, bulk_calls=bulk_calls
    )
    cadence = cadence_for(used_this_month=used)
    busier = cadence_for(used_this_month=used + more)

    # More calls used never makes either cadence shorter.
    assert busier.fast >= cadence.fast
    assert busier.bulk >= cadence.bulk
    assert cadence.fast <= cadence.bulk
    for every in (cadence.fast, cadence.bulk):
        assert every >= QUARTER
        assert every % QUARTER == timedelta(0)

    month_end = (now.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    allowance = int(0.95 * limits.per_month) - used
    waiting = cadence.fast == cadence.bulk and cadence.fast >= month_end - now
    if not waiting:
        # Whatever it chose fits in what is left of the target.
        seconds = math.ceil((month_end - now).total_seconds())

        def rounds(every: timedelta) -> int:
            return -(-seconds // int(every.total_seconds()))

        assert fast_calls * rounds(cadence.fast) + bulk_calls * rounds(cadence.bulk) <= allowance


# --- Through Home Assistant, the coordinator and the simulator -------------------

SIM_ISSUE_ID = f"quota_exhausted_{key_id(SIM_API_KEY)}"
SYSTEMS_CALLS = "GET /api/v4/systems"


async def poll_at(hass: HomeAssistant, freezer: FrozenDateTimeFactory, moment: datetime) -> None:
    """Run the poll due at `moment`."""
    freezer.move_to(moment)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def answers(budget: ApiBudget) -> set[str]:
    """Return every HTTP status Enphase answered on this key this month."""
    return {status for counts in budget.as_diagnostics()["responses"].values() for status in counts}


async def test_enphase_429_per_minute_defers_the_poll(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    budget = init_integration.runtime_data.budget
    coordinator = init_integration.runtime_data.coordinator
    level = hass.states.get("sensor.casa_solar_battery_state_of_charge")
    assert level is not None
    assert level.state not in {STATE_UNAVAILABLE, STATE_UNKNOWN}
    poll = coordinator.data.next_poll
    assert poll is not None
    freezer.move_to(poll)
    # Another application on the same key used this minute's calls at Enphase.
    simulator.sim.set_usage(SIM_API_KEY, minute=10)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert "429" in answers(budget)
    minute_end = poll.replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert budget.blocked_until is not None
    assert poll < budget.blocked_until <= minute_end + timedelta(seconds=1)
    assert coordinator.data.next_poll == budget.blocked_until
    assert issue_of(hass, SIM_ISSUE_ID) is None
    # The data is kept; nothing is called until the minute is over.
    assert hass.states.get("sensor.casa_solar_battery_state_of_charge") == level
    calls = simulator.sim.usage(SIM_API_KEY)["total"]
    await poll_at(hass, freezer, budget.blocked_until - timedelta(seconds=2))
    assert simulator.sim.usage(SIM_API_KEY)["total"] == calls

    await run_until(hass, freezer, minute_end + timedelta(minutes=1))
    assert simulator.sim.usage(SIM_API_KEY)["total"] > calls
    assert budget.blocked_until is None


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_enphase_429_per_month_raises_and_clears_the_repair_issue(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    budget = init_integration.runtime_data.budget
    coordinator = init_integration.runtime_data.coordinator
    poll = coordinator.data.next_poll
    assert poll is not None
    freezer.move_to(poll)
    # Enphase's count (other apps on the key) says the month is used up.
    simulator.sim.set_usage(SIM_API_KEY, month=1000)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)

    repair = issue_of(hass, SIM_ISSUE_ID)
    assert repair is not None
    assert repair.translation_key == "quota_exhausted"
    assert repair.translation_placeholders is not None
    assert repair.translation_placeholders["plan"] == "Watt"
    assert repair.translation_placeholders["resume_at"].startswith("2026-06-30 17:00")
    assert budget.blocked_until == JULY
    assert budget.remaining_this_month == 0
    assert coordinator.data.next_poll == JULY
    assert hass.states.get("sensor.enphase_api_api_calls_remaining").state == "0"

    # July: polling resumes by itself and the issue goes away.
    calls = simulator.sim.usage(SIM_API_KEY)["total"]
    await poll_at(hass, freezer, JULY)
    assert simulator.sim.usage(SIM_API_KEY)["total"] > calls
    assert issue_of(hass, SIM_ISSUE_ID) is None
    assert budget.remaining_this_month > 0


async def test_two_accounts_share_their_api_key_budget(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
) -> None:
    tokens = simulator.sim.mint_tokens("neighbour@example.com")
    neighbour = MockConfigEntry(
        domain=DOMAIN,
        title="Neighbour",
        unique_id=str(tokens["enl_uid"]),
        data={
            "auth_implementation": DOMAIN,
            "token": token_data(tokens),
            CONF_API_KEY: SIM_API_KEY,
        },
        options={CONF_PLAN: "watt", CONF_HISTORY_DAYS: 2},
    )
    neighbour.add_to_hass(hass)
    first_account_calls = init_integration.runtime_data.budget.used_this_month
    # The first account's setup used this minute's ten calls of the shared key: the
    # second waits for the next minute instead of being refused by Enphase.
    assert not await hass.config_entries.async_setup(neighbour.entry_id)
    assert neighbour.state is ConfigEntryState.SETUP_RETRY
    budget = init_integration.runtime_data.budget
    assert "429" not in answers(budget)
    assert simulator.sim.usage(SIM_API_KEY)["minute"]["count"] <= 10

    freezer.tick(timedelta(minutes=1))
    await hass.config_entries.async_reload(neighbour.entry_id)
    await hass.async_block_till_done()
    assert neighbour.state is ConfigEntryState.LOADED
    assert neighbour.runtime_data.budget is budget
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=5))

    # One count for the key: both accounts' sensors show it, and Enphase agrees (calls
    # Enphase refused, as outside the plan, are not counted by either).
    assert any("401" in counts for counts in budget.as_diagnostics()["responses"].values())
    assert simulator.sim.usage(SIM_API_KEY)["month"]["count"] == budget.used_this_month
    registry = er.async_get(hass)
    counters = [
        hass.states.get(entity.entity_id)
        for entry in (init_integration, neighbour)
        for entity in er.async_entries_for_config_entry(registry, entry.entry_id)
        if entity.unique_id == f"{entry.unique_id}_api_calls_month"
    ]
    # Both sensors follow the shared count, whichever account made the last call.
    values = [int(state.state) for state in counters if state]
    assert values == [budget.used_this_month] * 2
    assert budget.used_this_month > first_account_calls
    assert "429" not in answers(budget)


@pytest.mark.parametrize(
    ("used_before", "honoured"),
    [(0, True), (940, False)],
    ids=["budget_remains", "month_nearly_used"],
)
async def test_manual_refresh_only_when_budget_remains(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    config_entry: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    used_before: int,
    *,
    honoured: bool,
) -> None:
    sim_store, data = stored_budget(
        SIM_API_KEY, used=used_before, responses={"summary": {"200": used_before}}
    )
    hass_storage[sim_store] = data
    assert await async_setup_component(hass, "homeassistant", {})
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    # Past setup's history import; the next scheduled poll is minutes away.
    await run_until(hass, freezer, START + timedelta(minutes=6))
    coordinator = config_entry.runtime_data.coordinator
    assert coordinator.data.next_poll is not None
    assert coordinator.data.next_poll > dt_util.utcnow() + timedelta(minutes=2)
    calls = simulator.sim.usage(SIM_API_KEY)["endpoints"][SYSTEMS_CALLS]["total"]

    await hass.services.async_call(
        "homeassistant",
        "update_entity",
        {"entity_id": "sensor.casa_solar_battery_state_of_charge"},
        blocking=True,
    )
    await hass.async_block_till_done(wait_background_tasks=True)

    # With the month's planned share (95 %) nearly used, the request would eat the
    # reserve the schedule keeps for the rest of the month.
    after = simulator.sim.usage(SIM_API_KEY)["endpoints"][SYSTEMS_CALLS]["total"]
    assert after == calls + (1 if honoured else 0)


# ---------------------------------------------------------------------- write cap (issue 13)

WRITE = "battery_settings/put"


async def test_partner_write_cap_counts_writes_apart_from_reads(
    hass: HomeAssistant, now: datetime, freezer: FrozenDateTimeFactory
) -> None:
    budget = ApiBudget(hass, KEY_ID, Plan.PARTNER)
    assert budget.writes.cap == 200
    for _ in range(3):
        await budget.acquire("battery_settings")
    await budget.acquire(WRITE)

    assert budget.writes.remaining(WRITE) == 199
    assert budget.writes.remaining("storm_guard/put") == 200
    assert budget.used_this_month == 4  # a write is still a call of the key's quota

    for _ in range(199):
        await budget.acquire(WRITE)
    with pytest.raises(EnphaseRateLimited) as refused:
        await budget.acquire(WRITE)
    assert refused.value.retry_at == JULY
    assert refused.value.limit == 200
    await budget.acquire("battery_settings")  # reads go on

    freezer.move_to(JULY)
    assert budget.writes.remaining(WRITE) == 200


async def test_write_429_blocks_only_that_write(hass: HomeAssistant, now: datetime) -> None:
    budget = ApiBudget(hass, KEY_ID, Plan.MEGAWATT)
    assert budget.writes.remaining(WRITE) is None
    await budget.acquire(WRITE)
    budget.record(WRITE, 429)
    budget.rate_limited(EnphaseRateLimited(period="month", retry_at=JULY, limit=200))

    assert budget.blocked_until is None
    assert budget.writes.remaining(WRITE) == 0
    await budget.acquire("battery_settings")
    with pytest.raises(EnphaseRateLimited):
        await budget.acquire(WRITE)
    assert budget.as_diagnostics()["writes"]["blocked_until"] == {WRITE: JULY.isoformat()}
    # A read's 429 still blocks everything.
    budget.record("battery_settings", 429)
    budget.rate_limited(EnphaseRateLimited(period="minute", retry_at=now + timedelta(minutes=1)))
    assert budget.blocked_until is not None


async def test_write_counts_survive_a_restart(
    hass: HomeAssistant, hass_storage: dict[str, Any], now: datetime
) -> None:
    hass_storage[f"{DOMAIN}.write_budget.{KEY_ID}"] = {
        "version": 1,
        "key": f"{DOMAIN}.write_budget.{KEY_ID}",
        "data": {"month": "2026-06", "used": {WRITE: 150}, "blocked": {WRITE: JULY.isoformat()}},
    }
    budget = ApiBudget(hass, KEY_ID, Plan.PARTNER)
    await budget.async_load()

    assert budget.writes.remaining(WRITE) == 0
    assert budget.as_diagnostics()["writes"]["used"] == {WRITE: 150}
