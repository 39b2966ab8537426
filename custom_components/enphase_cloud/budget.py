"""Request budget of one Enphase API key: plan limits, the month's count, polling cadence.

Enphase counts calls per API key (per developer application) across every
system and every config entry using that key, so one `ApiBudget` per key is
shared through `hass.data`. It refuses calls itself instead of letting Enphase
answer 429: on the free plan a single call is 0.1 % of the month.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import hashlib
from http import HTTPStatus
import math
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypedDict

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .api.errors import (
    PERIOD_MINUTE,
    PERIOD_MONTH,
    EnphaseRateLimited,
    next_month_start,
    sane_retry_at,
)
from .const import DOMAIN, LOGGER

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Mapping


class Plan(StrEnum):
    """Enphase developer plan of an API key."""

    WATT = "watt"
    KILOWATT = "kilowatt"
    MEGAWATT = "megawatt"
    PARTNER = "partner"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanLimits:
    """Request limits of a plan, and whether it includes the System Configuration API."""

    per_minute: int
    per_month: int
    system_configuration: bool


PLAN_LIMITS: Final[Mapping[Plan, PlanLimits]] = MappingProxyType(
    {
        Plan.WATT: PlanLimits(per_minute=10, per_month=1_000, system_configuration=False),
        Plan.KILOWATT: PlanLimits(per_minute=50, per_month=50_000, system_configuration=False),
        Plan.MEGAWATT: PlanLimits(per_minute=100, per_month=300_000, system_configuration=True),
        Plan.PARTNER: PlanLimits(per_minute=300, per_month=1_500_000, system_configuration=True),
    }
)

DATA_BUDGETS: Final[HassKey[dict[str, ApiBudget]]] = HassKey(f"{DOMAIN}_budgets")
STORAGE_VERSION: Final = 1
SAVE_DELAY: Final = 5.0
"""Seconds: a crash loses at most this much counting, HA's stop writes the rest."""
ISSUE_QUOTA_EXHAUSTED: Final = "quota_exhausted"
TARGET_SHARE: Final = 0.95
"""Share of the month's quota the cadence plans to use; the rest is kept in reserve."""

BACKOFF_FLOOR: Final = timedelta(minutes=1)
"""No refusal makes polls come back sooner: they must never spin one second apart."""
UNCOUNTED_STATUSES: Final = frozenset({401, 429})
"""Answers Enphase does not count against the plan (the simulator models the same)."""
_WINDOW: Final = timedelta(seconds=60)
_SLOT: Final = timedelta(minutes=15)
"""Enphase's interval length: polling more often than this brings nothing new."""
_MAX_BULK_SLOTS: Final = 96
"""24 hours: one `week` request per stream per day still gives every interval."""


class _StoredBudget(TypedDict):
    month: str
    used: int
    responses: dict[str, dict[str, int]]
    recent: list[float]
    blocked_until: str | None
    block_period: str | None


def key_id(api_key: str) -> str:
    """Return a short, non-reversible id of an API key, safe to store and log."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def _month_key(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m")


def _local_text(when: datetime) -> str:
    return dt_util.as_local(when).strftime("%Y-%m-%d %H:%M %Z")


class ApiBudget:
    """Quota of one API key, shared by every config entry using the key.

    Implements the API client's `RequestLimiter` protocol: `acquire` before each
    call, `record` after each answer, `rate_limited` after a 429.
    """

    def __init__(self, hass: HomeAssistant, key_id: str, plan: Plan) -> None:
        """Initialize an empty budget; `async_load` restores the stored month."""
        self._hass = hass
        self.key_id = key_id
        self._plan = Plan(plan)
        self._store: Store[_StoredBudget] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.budget.{key_id}"
        )
        self._load_task: asyncio.Task[None] | None = None
        self._month = _month_key(dt_util.utcnow())
        self._used = 0
        self._responses: dict[str, dict[str, int]] = {}
        self._recent: deque[datetime] = deque()
        self._blocked_until: datetime | None = None
        self._block_period: str | None = None
        self._issue_open = False
        self._listeners: list[CALLBACK_TYPE] = []
        self.writes = WriteBudget(hass, key_id, lambda: self._plan)
        """The write cap, counted apart from the reads (see `WriteBudget`)."""
        self._round_calls: dict[str, tuple[int, int]] = {}

    @property
    def plan(self) -> Plan:
        """Return the plan the limits come from."""
        return self._plan

    @plan.setter
    def plan(self, plan: Plan) -> None:
        """Change the plan (the user changed it at Enphase, then in the options)."""
        plan = Plan(plan)  # options may hand over the plain string
        if plan is self._plan:
            return
        bigger = PLAN_LIMITS[plan].per_month > PLAN_LIMITS[self._plan].per_month
        self._plan = plan
        # An upgrade is how the user answers the quota repair issue: try again now.
        # Should Enphase still refuse, its next 429 blocks again.
        if bigger and self._block_period == PERIOD_MONTH:
            self._blocked_until = self._block_period = None
            self._schedule_save()

    @property
    def limits(self) -> PlanLimits:
        """Return the current plan's limits."""
        return PLAN_LIMITS[self._plan]

    @property
    def _issue_id(self) -> str:
        return f"{ISSUE_QUOTA_EXHAUSTED}_{self.key_id}"

    async def async_load(self) -> None:
        """Restore the month's count and any block; runs once, later callers wait for it."""
        if self._load_task is None:
            self._load_task = self._hass.async_create_task(
                self._async_load(), f"{DOMAIN} budget load"
            )
        await self._load_task

    async def _async_load(self) -> None:
        await self.writes.async_load()
        stored = await self._store.async_load()
        if stored is None:
            return
        now = dt_util.utcnow()
        if stored["month"] == _month_key(now):
            self._used = stored["used"]
            self._responses = stored["responses"]
        self._recent = deque(sorted(datetime.fromtimestamp(ts, UTC) for ts in stored["recent"]))
        until = dt_util.parse_datetime(stored["blocked_until"] or "")
        if until is not None and until > now:
            self._blocked_until = until
            self._block_period = stored["block_period"]
        # Repair issues that are not persistent do not survive a restart.
        if self._block_period == PERIOD_MONTH and self._blocked_until is not None:
            self._open_issue(self._blocked_until)
        elif self._used >= self.limits.per_month:
            self._open_issue(next_month_start(now))

    async def acquire(self, endpoint: str) -> None:
        """Reserve one call to `endpoint`, or raise `EnphaseRateLimited` without calling.

        Never sleeps: the caller defers. The minute window is rolling, which is
        stricter than a calendar minute, so it holds whichever one Enphase uses.
        """
        now = dt_util.utcnow()
        self.writes.check(endpoint, now)
        self._roll_over(now)
        limits = self.limits
        if (until := self._active_block(now)) is not None:
            raise self._refusal(self._block_period or PERIOD_MINUTE, until, None)
        if self._used >= limits.per_month:
            retry_at = next_month_start(now)
            if not self._issue_open:
                self._open_issue(retry_at)
            raise self._refusal(PERIOD_MONTH, retry_at, limits.per_month)
        window = self._window(now)
        if len(window) >= limits.per_minute:
            # The call becomes possible when enough of the oldest calls leave the window.
            retry_at = window[len(window) - limits.per_minute] + _WINDOW
            raise self._refusal(PERIOD_MINUTE, retry_at, limits.per_minute)
        self._used += 1
        self.writes.count(endpoint)
        window.append(now)
        if self._issue_open:
            self._issue_open = False
            ir.async_delete_issue(self._hass, DOMAIN, self._issue_id)
            LOGGER.info("Enphase API quota available again; polling resumes (%s)", endpoint)
        self._schedule_save()

    @callback
    def record(self, endpoint: str, status: int) -> None:
        """Count an answer per endpoint and status, for diagnostics.

        A call Enphase refused (401, 429) is not counted by Enphase: its
        reservation is given back, to the month and to the minute.
        """
        self.writes.record(endpoint, status)
        self._roll_over(dt_util.utcnow())
        if status in UNCOUNTED_STATUSES and self._used > 0:
            self._used -= 1
            if self._recent:
                self._recent.pop()
        counts = self._responses.setdefault(endpoint, {})
        counts[str(status)] = counts.get(str(status), 0) + 1
        self._schedule_save()

    @callback
    def rate_limited(self, error: EnphaseRateLimited) -> None:
        """Block every call until `error.retry_at`; a month period also raises a repair issue.

        A `retry_at` already past or absurdly far is treated as unknown (`sane_retry_at`).
        A write's 429 blocks that write endpoint only, never the reads.
        """
        if self.writes.take_rate_limit(error):
            return
        now = dt_util.utcnow()
        self._roll_over(now)
        retry_at = sane_retry_at(error, now)
        if self._blocked_until is None or retry_at > self._blocked_until:
            self._blocked_until = retry_at
            self._block_period = error.period
        if error.period == PERIOD_MONTH:
            # Another app may share the key: Enphase's count wins over ours.
            self._block_period = PERIOD_MONTH
            self._open_issue(self._blocked_until)
        else:
            LOGGER.info(
                "Enphase refused a call (limit per %s); next call at %s",
                error.period,
                self._blocked_until.isoformat(),
            )
        self._schedule_save()

    @property
    def used_this_month(self) -> int:
        """Return the calls made in the current UTC month."""
        return self._used if self._month == _month_key(dt_util.utcnow()) else 0

    @property
    def remaining_this_month(self) -> int:
        """Return the calls left this month: none while Enphase's month block holds."""
        if self._block_period == PERIOD_MONTH and self.blocked_until is not None:
            return 0
        return max(0, self.limits.per_month - self.used_this_month)

    @property
    def blocked_until(self) -> datetime | None:
        """Return when a block after a 429 ends, or None when there is none."""
        until = self._blocked_until
        return until if until is not None and until > dt_util.utcnow() else None

    def calls_available_now(self) -> int:
        """Return how many calls `acquire` would allow right now."""
        if self.blocked_until is not None:
            return 0
        minute = self.limits.per_minute - len(self._window(dt_util.utcnow()))
        return max(0, min(minute, self.remaining_this_month))

    def as_diagnostics(self) -> dict[str, Any]:
        """Return the budget's state; holds the key's hash id, never the key."""
        self._roll_over(dt_util.utcnow())
        blocked = self.blocked_until
        return {
            "key_id": self.key_id,
            "plan": self._plan.value,
            "per_minute": self.limits.per_minute,
            "per_month": self.limits.per_month,
            "month": self._month,
            "used_this_month": self.used_this_month,
            "remaining_this_month": self.remaining_this_month,
            "calls_available_now": self.calls_available_now(),
            "blocked_until": blocked.isoformat() if blocked else None,
            "block_period": self._block_period if blocked else None,
            "responses": {endpoint: dict(counts) for endpoint, counts in self._responses.items()},
            "writes": self.writes.as_diagnostics(),
        }

    def _roll_over(self, now: datetime) -> None:
        if (month := _month_key(now)) != self._month:
            self._month = month
            self._used = 0
            self._responses = {}
            self._schedule_save()

    def _active_block(self, now: datetime) -> datetime | None:
        if self._blocked_until is None:
            return None
        if now < self._blocked_until:
            return self._blocked_until
        self._blocked_until = self._block_period = None
        self._schedule_save()
        return None

    def _window(self, now: datetime) -> deque[datetime]:
        start = now - _WINDOW
        while self._recent and self._recent[0] <= start:
            self._recent.popleft()
        return self._recent

    def _refusal(self, period: str, retry_at: datetime, limit: int | None) -> EnphaseRateLimited:
        return EnphaseRateLimited(
            f"Request budget of the Enphase {self._plan.value} plan used up for this "
            f"{period}; next call at {retry_at.isoformat()}",
            period=period,
            retry_at=retry_at,
            limit=limit,
        )

    def _open_issue(self, resume_at: datetime) -> None:
        if not self._issue_open:
            LOGGER.warning(
                "Monthly Enphase API quota of the %s plan is used up; polling resumes at %s",
                self._plan.value,
                resume_at.isoformat(),
            )
        self._issue_open = True
        ir.async_create_issue(
            self._hass,
            DOMAIN,
            self._issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_QUOTA_EXHAUSTED,
            translation_placeholders={
                "plan": self._plan.value.capitalize(),
                "resume_at": _local_text(resume_at),
            },
        )

    def round_calls(self, owner: str, fast: int, bulk: int) -> tuple[int, int]:
        """Note what one round of `owner` (a config entry) costs; return every entry's total.

        The month's quota belongs to the key, not to an entry: each entry on the key
        plans its cadence for the rounds of all of them, so together they see the
        month out (two accounts on one developer app each get half).
        """
        self._round_calls[owner] = (fast, bulk)
        return (
            sum(calls[0] for calls in self._round_calls.values()),
            sum(calls[1] for calls in self._round_calls.values()),
        )

    @callback
    def forget_rounds(self, owner: str) -> None:
        """Stop planning for `owner` (its entry was unloaded)."""
        self._round_calls.pop(owner, None)

    @callback
    def async_add_listener(self, update_callback: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update_callback` after every poll of any entry on this key.

        Every entry shows the shared figures; without this an entry's figures would
        move only at its own polls. Returns the function that stops the calls.
        """
        self._listeners.append(update_callback)

        @callback
        def remove() -> None:
            self._listeners.remove(update_callback)

        return remove

    @callback
    def async_update_listeners(self) -> None:
        """Tell the listeners the figures moved (once per poll, not once per call)."""
        for listener in list(self._listeners):
            listener()

    def _schedule_save(self) -> None:
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY)

    def _data_to_save(self) -> _StoredBudget:
        return {
            "month": self._month,
            "used": self._used,
            "responses": self._responses,
            "recent": [moment.timestamp() for moment in self._recent],
            "blocked_until": self._blocked_until.isoformat() if self._blocked_until else None,
            "block_period": self._block_period,
        }


# ---------------------------------------------------------------------- write cap
# Battery commands (issue 13). Kept apart from the read budget above: Partner
# caps each write endpoint at 200 calls a month on top of the key's quota, and a
# write refused by that cap must never hold back polling.

WRITE_CAPS: Final[Mapping[Plan, int | None]] = MappingProxyType(
    {Plan.WATT: None, Plan.KILOWATT: None, Plan.MEGAWATT: None, Plan.PARTNER: 200}
)
"""Calls a month per write endpoint (PUT/POST/DELETE); None: only the key's quota applies."""
WRITE_SUFFIX: Final = "/put"


def is_write_endpoint(endpoint: str) -> bool:
    """Return whether a client endpoint name is a write (see `api.const.Endpoint`)."""
    return endpoint.endswith(WRITE_SUFFIX)


class _StoredWrites(TypedDict):
    month: str
    used: dict[str, int]
    blocked: dict[str, str]


class WriteBudget:
    """Writes per write endpoint this UTC month, against the plan's write cap.

    `ApiBudget` calls it from `acquire` (check, then count), `record` and
    `rate_limited`; a 429 answering a write blocks that endpoint until the
    period ends and leaves the reads alone.
    """

    def __init__(self, hass: HomeAssistant, key_id: str, plan: Callable[[], Plan]) -> None:
        """Initialize an empty count; `async_load` restores the stored month."""
        self._plan = plan
        self._store: Store[_StoredWrites] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.write_budget.{key_id}"
        )
        self._month = _month_key(dt_util.utcnow())
        self._used: dict[str, int] = {}
        self._blocked: dict[str, datetime] = {}
        self._rate_limited: deque[str] = deque()

    @property
    def cap(self) -> int | None:
        """Return the plan's calls a month per write endpoint (None: no separate cap)."""
        return WRITE_CAPS[self._plan()]

    async def async_load(self) -> None:
        """Restore this month's counts and blocks."""
        stored = await self._store.async_load()
        if stored is None or stored["month"] != _month_key(dt_util.utcnow()):
            return
        self._used = dict(stored["used"])
        for endpoint, until in stored["blocked"].items():
            if (parsed := dt_util.parse_datetime(until)) is not None:
                self._blocked[endpoint] = parsed

    def remaining(self, endpoint: str) -> int | None:
        """Return the writes left to `endpoint` this month (None: not capped, not blocked)."""
        now = dt_util.utcnow()
        self._roll_over(now)
        if (until := self._blocked.get(endpoint)) is not None and until > now:
            return 0
        if (cap := self.cap) is None:
            return None
        return max(0, cap - self._used.get(endpoint, 0))

    def check(self, endpoint: str, now: datetime) -> None:
        """Raise `EnphaseRateLimited` when a write to `endpoint` would exceed the cap."""
        if not is_write_endpoint(endpoint):
            return
        self._roll_over(now)
        until = self._blocked.get(endpoint)
        if until is not None and until > now:
            raise self._refusal(endpoint, until)
        cap = self.cap
        if cap is not None and self._used.get(endpoint, 0) >= cap:
            raise self._refusal(endpoint, next_month_start(now))

    def count(self, endpoint: str) -> None:
        """Count one write sent to `endpoint` (after the key's quota accepted it)."""
        if is_write_endpoint(endpoint):
            self._used[endpoint] = self._used.get(endpoint, 0) + 1
            self._save()

    @callback
    def record(self, endpoint: str, status: int) -> None:
        """Note a write answered 429, so the `rate_limited` that follows blocks only it."""
        if is_write_endpoint(endpoint) and status == HTTPStatus.TOO_MANY_REQUESTS:
            self._rate_limited.append(endpoint)

    @callback
    def take_rate_limit(self, error: EnphaseRateLimited) -> bool:
        """Block the write endpoint whose 429 this is; False when it answered a read."""
        if not self._rate_limited:
            return False
        endpoint = self._rate_limited.popleft()
        self._blocked[endpoint] = max(error.retry_at, self._blocked.get(endpoint, error.retry_at))
        LOGGER.warning(
            "Enphase refused a write to %s (limit per %s); writes to it wait until %s, "
            "polling goes on",
            endpoint,
            error.period,
            self._blocked[endpoint].isoformat(),
        )
        self._save()
        return True

    def as_diagnostics(self) -> dict[str, Any]:
        """Return the month's writes per endpoint, the cap and any block."""
        self._roll_over(dt_util.utcnow())
        return {
            "cap_per_endpoint": self.cap,
            "used": dict(self._used),
            "blocked_until": {e: until.isoformat() for e, until in self._blocked.items()},
        }

    def _roll_over(self, now: datetime) -> None:
        if (month := _month_key(now)) != self._month:
            self._month = month
            self._used = {}
            self._blocked = {e: until for e, until in self._blocked.items() if until > now}
            self._save()

    def _refusal(self, endpoint: str, retry_at: datetime) -> EnphaseRateLimited:
        return EnphaseRateLimited(
            f"Monthly write cap of the Enphase {self._plan().value} plan reached for "
            f"{endpoint}; next write at {retry_at.isoformat()}",
            period=PERIOD_MONTH,
            retry_at=retry_at,
            limit=self.cap,
        )

    def _save(self) -> None:
        self._store.async_delay_save(self._data_to_save, SAVE_DELAY)

    def _data_to_save(self) -> _StoredWrites:
        return {
            "month": self._month,
            "used": dict(self._used),
            "blocked": {e: until.isoformat() for e, until in self._blocked.items()},
        }


async def async_get_budget(hass: HomeAssistant, api_key: str, plan: Plan) -> ApiBudget:
    """Return the loaded budget of `api_key`, shared by every entry using it.

    The latest caller's plan wins: entries of one key all describe the same plan.
    """
    budgets = hass.data.setdefault(DATA_BUDGETS, {})
    ident = key_id(api_key)
    if (budget := budgets.get(ident)) is None:
        budget = budgets[ident] = ApiBudget(hass, ident, plan)
    else:
        budget.plan = plan
    await budget.async_load()
    return budget


@dataclass(frozen=True, slots=True, kw_only=True)
class Cadence:
    """How often to run the fast rounds (battery, power) and the bulk rounds (energy)."""

    fast: timedelta
    bulk: timedelta


def _rounds(seconds: int, slots: int) -> int:
    """Return the rounds every `slots` quarter hours take in `seconds`, the first one now."""
    return -(-seconds // (slots * int(_SLOT.total_seconds())))


def _fewest_slots(budget: int, calls: int, seconds: int) -> int | None:
    """Return the shortest cadence, in quarter hours, whose rounds fit in `budget` calls."""
    if calls == 0:
        return 1 if budget >= 0 else None
    rounds = budget // calls
    if rounds < 1:
        return None
    return max(1, -(-seconds // (rounds * int(_SLOT.total_seconds()))))


def plan_cadence(  # noqa: PLR0913 - all keyword-only, named by the coordinator
    *,
    limits: PlanLimits,
    used_this_month: int,
    now: datetime,
    fast_calls: int,
    bulk_calls: int,
    target_share: float = TARGET_SHARE,
) -> Cadence:
    """Return the cadences that keep the UTC month under `target_share` of its quota.

    `fast_calls` and `bulk_calls` are the calls one round of each needs for every
    system on the key. Both cadences are whole quarter hours. The fast round is
    kept short first: the bulk one stretches up to a day, then the fast one, and
    then both. With nothing left, both wait for the month to end. Meant to be
    recomputed every poll so it follows the month's actual use.
    """
    seconds = math.ceil((next_month_start(now) - now).total_seconds())
    to_month_end = _rounds(seconds, 1)
    allowance = math.floor(target_share * limits.per_month) - used_this_month
    max_bulk = min(_MAX_BULK_SLOTS, to_month_end)

    def cadence(fast: int, bulk: int) -> Cadence:
        return Cadence(fast=_SLOT * fast, bulk=_SLOT * bulk)

    bulk = _fewest_slots(allowance - fast_calls * _rounds(seconds, 1), bulk_calls, seconds)
    if bulk is not None and bulk <= max_bulk:
        return cadence(1, bulk)
    fast = _fewest_slots(allowance - bulk_calls * _rounds(seconds, max_bulk), fast_calls, seconds)
    if fast is not None and fast <= max_bulk:
        return cadence(fast, max_bulk)
    # Past this point both exceed a day, so stretching them together keeps them ordered.
    both = _fewest_slots(allowance, fast_calls + bulk_calls, seconds)
    if both is not None:
        return cadence(both, both)
    return cadence(to_month_end, to_month_end)
