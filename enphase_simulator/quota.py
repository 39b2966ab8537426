"""Per-API-key rate limits in calendar minutes and calendar months (UTC)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import Plan

MINUTE = "minute"
MONTH = "month"
DECEMBER = 12


def month_bounds(ts: int) -> tuple[int, int]:
    """Return the epoch start and end of the UTC calendar month holding `ts`."""
    when = datetime.fromtimestamp(ts, UTC)
    start = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == DECEMBER:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    return int(start.timestamp()), int(end.timestamp())


def period_bounds(period: str, ts: int) -> tuple[int, int]:
    """Return the window of `period` ("minute" or "month") holding `ts`."""
    if period == MINUTE:
        start = ts - ts % 60
        return start, start + 60
    return month_bounds(ts)


@dataclass(slots=True)
class Counter:
    """Calls in the current minute and month windows, reset lazily."""

    windows: dict[str, list[int]] = field(default_factory=dict)
    total: int = 0

    def count(self, period: str, now: int) -> int:
        """Return the calls counted in the window of `period` holding `now`."""
        start, _ = period_bounds(period, now)
        window = self.windows.get(period)
        return window[1] if window and window[0] == start else 0

    def add(self, now: int) -> None:
        """Count one call at `now`."""
        self.total += 1
        for period in (MINUTE, MONTH):
            self.set(period, now, self.count(period, now) + 1)

    def set(self, period: str, now: int, value: int) -> None:
        """Force the count of the current `period` window (fault injection)."""
        self.windows[period] = [period_bounds(period, now)[0], value]

    def to_json(self, now: int) -> dict[str, int]:
        """Return the counts as seen at `now`."""
        return {"total": self.total, MINUTE: self.count(MINUTE, now), MONTH: self.count(MONTH, now)}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a call was refused with 429."""

    period: str
    start: int
    end: int
    limit: int


class QuotaTracker:
    """Counts accepted calls per key and per endpoint and enforces the plans."""

    def __init__(self) -> None:
        """Start with no calls counted."""
        self.keys: dict[str, Counter] = defaultdict(Counter)
        self.endpoints: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))

    def check(
        self, key: str, plan: Plan, endpoint: str, *, write: bool, now: int
    ) -> Rejection | None:
        """Return why a call would exceed the plan, or None when it may proceed."""
        counter = self.keys[key]
        # The month is checked first: when both are spent, the longer wait is the truth.
        for period, limit in ((MONTH, plan.per_month), (MINUTE, plan.per_minute)):
            if counter.count(period, now) >= limit:
                return Rejection(period, *period_bounds(period, now), limit)
        if write and plan.write_per_month is not None:
            used = self.endpoints[key][endpoint].count(MONTH, now)
            if used >= plan.write_per_month:
                return Rejection(MONTH, *period_bounds(MONTH, now), plan.write_per_month)
        return None

    def record(self, key: str, endpoint: str, now: int) -> None:
        """Count one accepted call."""
        self.keys[key].add(now)
        self.endpoints[key][endpoint].add(now)

    def usage(self, key: str, plan: Plan, now: int) -> dict[str, Any]:
        """Return the counts of `key` as the admin API shows them."""
        counter = self.keys[key]
        periods = {}
        for period, limit in ((MINUTE, plan.per_minute), (MONTH, plan.per_month)):
            start, end = period_bounds(period, now)
            periods[period] = {
                "period_start": start,
                "period_end": end,
                "count": counter.count(period, now),
                "limit": limit,
            }
        return {
            "key": key,
            "plan": plan.name,
            "total": counter.total,
            **periods,
            "endpoints": {name: c.to_json(now) for name, c in sorted(self.endpoints[key].items())},
        }

    def to_json(self) -> dict[str, Any]:
        """Return the counters for the state file."""
        return {
            "keys": {k: [c.total, c.windows] for k, c in self.keys.items()},
            "endpoints": {
                k: {e: [c.total, c.windows] for e, c in eps.items()}
                for k, eps in self.endpoints.items()
            },
        }

    def load_json(self, data: dict[str, Any]) -> None:
        """Restore counters saved by `to_json`."""
        for key, (total, windows) in data.get("keys", {}).items():
            self.keys[key] = Counter(dict(windows), total)
        for key, eps in data.get("endpoints", {}).items():
            for name, (total, windows) in eps.items():
                self.endpoints[key][name] = Counter(dict(windows), total)
