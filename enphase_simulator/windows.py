"""Query windows of the telemetry and lifetime endpoints, and local-day helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .errors import BAD_RANGE, ApiError, unprocessable

GRANULARITIES = {"15mins": 900, "day": 86_400, "week": 604_800}
MAX_AGE_S = 2 * 365 * 86_400


@dataclass(frozen=True, slots=True)
class Window:
    """`[start, end)` of a telemetry request, after defaults and clamping."""

    granularity: str
    start: int
    end: int
    echo_start: int = 0
    """`start_at` as the answer shows it: the value requested (or the default start)."""
    echo_end: int = 0
    """`end_at` as the answer shows it: `min(now, echo_start + granularity)`."""


def local_midnight(day: date, zone: ZoneInfo) -> int:
    """Return the epoch of local midnight starting `day` in `zone`."""
    return int(datetime.combine(day, time(0), zone).timestamp())


def local_date(ts: int, zone: ZoneInfo) -> date:
    """Return the local date in `zone` of epoch `ts`."""
    return datetime.fromtimestamp(ts, zone).date()


def parse_date(raw: str) -> date:
    """Parse YYYY-MM-DD or raise a 422."""
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise unprocessable(BAD_RANGE) from None


def parse_window(
    query: Mapping[str, str], zone: ZoneInfo, now: int, operational_at: int, step: int
) -> Window:
    """Apply Enphase's rules to `start_at`/`start_date`/`granularity`.

    `start_at` wins over `start_date`; the start is floored to `step` (the
    interval length), must be within two years and not in the future, and is
    clamped to `operational_at`. The window ends at `min(now, start + size)`.
    The answer echoes the requested start (Enphase's recordings show the
    requested second, not a quarter hour).
    """
    granularity = query.get("granularity", "day")
    size = GRANULARITIES.get(granularity)
    if size is None:
        msg = "Invalid granularity, allowed values are 15mins, day, week"
        raise unprocessable(msg)
    if "start_at" in query:
        try:
            start = int(query["start_at"])
        except ValueError:
            raise unprocessable(BAD_RANGE) from None
    elif "start_date" in query:
        start = local_midnight(parse_date(query["start_date"]), zone)
    else:
        start = local_midnight(local_date(now, zone), zone)
    if start < now - MAX_AGE_S or start > now:
        raise ApiError(422, BAD_RANGE)
    requested = start
    start = max(start - start % step, operational_at)
    # A start clamped to the first report ends its window a granularity after that.
    shown_end = max(requested, start) + size
    return Window(granularity, start, min(now, start + size), requested, min(now, shown_end))


def day_range(
    query: Mapping[str, str], zone: ZoneInfo, now: int, operational_at: int
) -> list[date]:
    """Return the local days a lifetime request covers (clamped to what exists)."""
    first = local_date(operational_at, zone)
    today = local_date(now, zone)
    start = parse_date(query["start_date"]) if "start_date" in query else first
    end = parse_date(query["end_date"]) if "end_date" in query else today
    if start > end or start > today or start < today - timedelta(days=2 * 365):
        raise unprocessable(BAD_RANGE)
    start = max(start, first)
    end = min(end, today)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
