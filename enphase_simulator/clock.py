"""Simulated time: an own clock that tests can move, or an external one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
import math
import time


class ClockIsExternalError(RuntimeError):
    """Raised when asked to move a clock the simulator does not own."""


def as_utc(when: datetime) -> datetime:
    """Return `when` as an aware UTC datetime (naive values are taken as UTC)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


class SimClock:
    """A clock running `factor` times wall speed from a chosen start.

    Sim time is a function of wall time (anchor plus scaled elapsed wall
    time), so a saved anchor keeps the clock running across a restart.
    A factor of 0 freezes it: then only `advance` and `set` move it.
    """

    def __init__(
        self,
        start: datetime,
        factor: float = 1.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """Start at `start`, running `factor` times as fast as `wall`."""
        self._wall = wall
        self.factor = factor
        self._anchor_sim = as_utc(start).timestamp()
        self._anchor_wall = wall()

    def timestamp(self) -> float:
        """Return the current sim time as epoch seconds."""
        return self._anchor_sim + (self._wall() - self._anchor_wall) * self.factor

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, when negative) by `seconds`."""
        self._anchor_sim += seconds

    def set(self, when: datetime) -> None:
        """Jump the clock to `when`."""
        self._anchor_sim = as_utc(when).timestamp()
        self._anchor_wall = self._wall()

    def snapshot(self) -> dict[str, float]:
        """Return the anchors that `restore` needs after a restart."""
        return {"sim": self.timestamp(), "wall": self._wall()}

    def restore(self, snapshot: dict[str, float]) -> None:
        """Resume from a snapshot: the clock kept running while stopped."""
        self._anchor_sim = float(snapshot["sim"])
        self._anchor_wall = float(snapshot["wall"])


class Clock:
    """The simulator's single source of time: its own SimClock or a callable."""

    def __init__(self, external: Callable[[], datetime] | None, own: SimClock) -> None:
        """Read from `external` when given, else from `own`."""
        self._external = external
        self.own = own

    @property
    def external(self) -> bool:
        """Whether time comes from outside (then it cannot be moved here)."""
        return self._external is not None

    def now(self) -> datetime:
        """Return the current time, aware UTC."""
        if self._external is not None:
            return as_utc(self._external())
        return datetime.fromtimestamp(self.own.timestamp(), UTC)

    def now_ts(self) -> int:
        """Return the current time as whole epoch seconds."""
        if self._external is not None:
            return math.floor(as_utc(self._external()).timestamp())
        return math.floor(self.own.timestamp())

    def advance(self, seconds: float) -> datetime:
        """Move the own clock forward by `seconds` and return the new time."""
        self._require_own()
        self.own.advance(seconds)
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Jump the own clock to `when` and return it."""
        self._require_own()
        self.own.set(when)
        return self.now()

    def _require_own(self) -> None:
        if self._external is not None:
            msg = "the clock is external: move it where it comes from"
            raise ClockIsExternalError(msg)
