"""Times in messages as a person reads them: local, to the minute, the date only when needed."""

from __future__ import annotations

from datetime import datetime

from homeassistant.util import dt as dt_util


def local_time_text(moment: datetime, now: datetime | None = None) -> str:
    """Return `moment` in Home Assistant's time zone: "18:54", or "Dec 1, 18:54" on another day.

    Messages (errors, repairs) are read by people; a raw ISO 8601 time with seconds,
    fractions and an offset is not what they should have to decode.
    """
    local = dt_util.as_local(moment)
    today = dt_util.as_local(now or dt_util.utcnow()).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return clock
    return f"{local.strftime('%b')} {local.day}, {clock}"
