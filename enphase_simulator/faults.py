"""Injected failures: error statuses, hangs, malformed and truncated bodies."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Any

STATUSES = frozenset({401, 403, 404, 422, 429, 500, 503})
KINDS = frozenset({"status", "timeout", "malformed", "truncated"})
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
    if count < 1:
        msg = "count must be at least 1"
        raise ValueError(msg)
    if delay is not None and delay < 0:
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
