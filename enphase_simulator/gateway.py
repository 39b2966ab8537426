"""When a gateway uploads, and so which intervals the cloud has seen.

An upload happens at a period boundary plus a seeded lag of 1-5 minutes and
carries every interval that ended by that boundary. Uploads that fall in an
outage do not happen; the first one after it carries the whole backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from .rng import mix

PERIODS = {"ethernet": 900, "wifi": 900, "cellular": 21_600}
MIN_LAG = 60
LAG_SPAN = 241
COMM_AFTER_S = 3_600


@dataclass(slots=True)
class OutageWindow:
    """An outage: uploads from `start` until `end` (None: still going) fail."""

    start: int
    end: int | None = None

    def covers(self, ts: int) -> bool:
        """Whether an upload at `ts` falls in this outage."""
        return self.start <= ts and (self.end is None or ts < self.end)


@dataclass(frozen=True, slots=True)
class Upload:
    """One successful upload: when it happened and the data it carried."""

    at: int
    through: int


class Gateway:
    """Upload schedule of one system's gateway."""

    def __init__(
        self, seed: int, system_id: int, connection_type: str, operational_at: int
    ) -> None:
        """Schedule uploads for a gateway connected by `connection_type`."""
        self.seed = seed
        self.system_id = system_id
        self.connection_type = connection_type
        self.operational_at = operational_at
        self.outages: list[OutageWindow] = []

    @property
    def period(self) -> int:
        """Seconds between uploads."""
        return PERIODS[self.connection_type]

    def lag(self, boundary: int) -> int:
        """Seconds after `boundary` at which its upload happens (seeded)."""
        return MIN_LAG + mix(self.seed, self.system_id, boundary, 20) % LAG_SPAN

    def _outage_at(self, ts: int) -> OutageWindow | None:
        return next((o for o in self.outages if o.covers(ts)), None)

    def last_upload(self, now: int) -> Upload | None:
        """Return the latest upload at or before `now`, or None before the first."""
        period = self.period
        boundary = math.floor(now / period) * period
        while boundary > self.operational_at:
            at = boundary + self.lag(boundary)
            outage = self._outage_at(at)
            if at > now:
                boundary -= period
            elif outage is not None:
                # Skip the whole outage at once: long outages stay cheap.
                earlier = math.floor((outage.start - 1) / period) * period
                boundary = min(earlier, boundary - period)
            else:
                return Upload(at, boundary)
        return None

    def next_upload(self, now: int) -> Upload | None:
        """Return the first upload after `now` (None while an open outage lasts)."""
        period = self.period
        boundary = math.floor(now / period) * period
        for _ in range(10_000):
            at = boundary + self.lag(boundary)
            outage = self._outage_at(at)
            if outage is not None and outage.end is None:
                return None
            if at > now and outage is None:
                return Upload(at, boundary)
            boundary += period
        return None  # pragma: no cover - only with thousands of back-to-back outages

    def start_outage(self, at: int) -> OutageWindow:
        """Begin an open-ended outage at `at` (returns the running one if any)."""
        current = next((o for o in self.outages if o.end is None), None)
        if current is not None:
            return current
        outage = OutageWindow(at)
        self.outages.append(outage)
        return outage

    def end_outage(self, at: int) -> OutageWindow | None:
        """End the running outage at `at`; None when there was none."""
        current = next((o for o in self.outages if o.end is None), None)
        if current is not None:
            current.end = max(at, current.start)
        return current

    def status(self, now: int) -> str:
        """Return "normal", or "comm" when the cloud has not heard from it for long."""
        upload = self.last_upload(now)
        silence = max(COMM_AFTER_S, 2 * self.period)
        if upload is None or now - upload.at > silence:
            return "comm"
        return "normal"
