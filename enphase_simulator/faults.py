"""Injected failures: error statuses, hangs, malformed and truncated bodies, bad intervals.

`interval` spoils one interval of a good telemetry answer (`details` says how: drop
it, make its energy negative, move its end off the quarter hour, put its charge
above 100 %, or revise its energy up, as a later read from Enphase corrects it).
`skew` answers 429 with a `period_end` moved by `delay` seconds (a clock that
differs from Enphase's).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Any

STATUSES = frozenset({401, 403, 404, 422, 429, 500, 503})
KINDS = frozenset({"status", "timeout", "malformed", "truncated", "interval", "skew"})
# How an "interval" fault spoils the middle interval of a telemetry answer (its `details`).
INTERVAL_FAULTS = frozenset({"drop", "negative", "off_quarter", "soc", "revise"})
DEFAULT_PATTERN = "/api/v4/*"


@dataclass(slots=True)
class Fault:
    """The next `remaining` calls whose path matches `path` fail this way."""

    kind: str
    remaining: int
    path: str = DEFAULT_PATTERN
    status: int | None = None
    delay: float | None = None
    details: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the fault as the admin API shows it."""
        return asdict(self)


def make_fault(  # noqa: PLR0913 - mirrors the admin call's optional fields
    *,
    kind: str = "status",
    status: int | None = None,
    count: int = 1,
    path: str | None = None,
    delay: float | None = None,
    details: str | None = None,
) -> Fault:
    """Validate the arguments and return a fault (ValueError when inconsistent)."""
    if kind not in KINDS:
        msg = f"kind must be one of {sorted(KINDS)}"
        raise ValueError(msg)
    if kind == "status" and status not in STATUSES:
        msg = f"status must be one of {sorted(STATUSES)}"
        raise ValueError(msg)
    if kind == "interval" and details not in INTERVAL_FAULTS:
        msg = f"details must be one of {sorted(INTERVAL_FAULTS)}"
        raise ValueError(msg)
    if kind == "skew" and delay is None:
        msg = "a skew fault needs delay: seconds added to a 429's period_end (negative: past)"
        raise ValueError(msg)
    if count < 1:
        msg = "count must be at least 1"
        raise ValueError(msg)
    if delay is not None and delay < 0 and kind != "skew":
        msg = "delay must not be negative"
        raise ValueError(msg)
    return Fault(kind, count, path or DEFAULT_PATTERN, status, delay, details)


class FaultInjector:
    """Queue of armed faults, consumed first-come by matching requests."""

    def __init__(self, default_delay: float) -> None:
        """Hang `default_delay` seconds for a timeout fault without its own delay."""
        self.default_delay = default_delay
        self.faults: list[Fault] = []
        self._wake = asyncio.Event()

    def add(self, fault: Fault) -> None:
        """Arm a fault behind those already armed."""
        self.faults.append(fault)

    def clear(self) -> None:
        """Disarm every fault and end every hang."""
        self.faults.clear()
        self.cancel_sleeps()

    def take(self, path: str) -> Fault | None:
        """Consume one use of the first fault matching `path`."""
        for fault in self.faults:
            if fnmatchcase(path, fault.path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def hang(self, fault: Fault) -> None:
        """Sleep for the fault's delay, or until `cancel_sleeps` is called."""
        delay = self.default_delay if fault.delay is None else fault.delay
        wake = self._wake
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), delay)

    def cancel_sleeps(self) -> None:
        """End every running hang now (used on shutdown and by tests)."""
        self._wake.set()
        # A fresh event lets later hangs sleep again.
        self._wake = asyncio.Event()


def _middle(intervals: list[Any]) -> tuple[list[Any], int] | None:
    """Return the flat list holding the middle interval and its index (arrays of arrays too)."""
    flat = [(day, i) for day in intervals if isinstance(day, list) for i in range(len(day))]
    if flat:
        return flat[len(flat) // 2]
    return (intervals, len(intervals) // 2) if intervals else None


def _energy_keys(interval: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    found: list[tuple[dict[str, Any], str]] = []
    for key, value in interval.items():
        if isinstance(value, dict):
            found += [(value, "enwh")] if isinstance(value.get("enwh"), int) else []
        elif key.startswith(("wh", "enwh")) and isinstance(value, int):
            found.append((interval, key))
    return found


def spoil_intervals(body: dict[str, Any], how: str) -> dict[str, Any]:
    """Spoil the middle interval of a telemetry body in place (see the module doc)."""
    intervals = body.get("intervals")
    where = _middle(intervals) if isinstance(intervals, list) else None
    if where is None:
        return body
    holder, index = where
    interval = holder[index]
    if how == "drop":
        del holder[index]
    elif how == "off_quarter":
        interval["end_at"] += 420
    elif how == "soc" and isinstance(interval.get("soc"), dict):
        interval["soc"]["percent"] = 150
    else:
        for mapping, key in _energy_keys(interval):
            mapping[key] = -abs(mapping[key]) - 1 if how == "negative" else mapping[key] + 1000
    return body
