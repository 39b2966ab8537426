"""Sun position and PV output for a site (clear sky times a seeded cloud factor)."""

from __future__ import annotations

import math

from .rng import unit

TROPICAL_YEAR_S = 31_556_952.0
EPOCH_2000 = 946_684_800.0
DERATE = 0.82
DAY_S = 86_400
CLEAR, PARTLY, OVERCAST = 0, 1, 2


def _day_terms(ts: float, lat_rad: float, lon_deg: float) -> tuple[float, float, float]:
    # The year fraction from a fixed epoch is within a day of the calendar one,
    # which is far below what a PV simulation can notice.
    gamma = 2.0 * math.pi * (((ts - EPOCH_2000) / TROPICAL_YEAR_S) % 1.0)
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    return (
        math.sin(lat_rad) * math.sin(decl),
        math.cos(lat_rad) * math.cos(decl),
        eqtime + 4.0 * lon_deg,
    )


class SolarSite:
    """Clear-sky output of one array; the sun's daily terms are cached per UTC day."""

    def __init__(self, lat_deg: float, lon_deg: float, dc_w: int, ac_w: int) -> None:
        """Describe an array of `dc_w` panels behind `ac_w` of inverters."""
        self.lat_rad = math.radians(lat_deg)
        self.lon_deg = lon_deg
        self.dc_w = dc_w
        self.ac_w = float(ac_w)
        self._days: dict[int, tuple[float, float, float]] = {}

    def clear_sky_w(self, ts: float) -> float:
        """Return the AC output in W at `ts` under a clear sky."""
        day = int(ts // DAY_S)
        terms = self._days.get(day)
        if terms is None:
            # The sun's daily terms barely move within a day: noon's serve all of it.
            terms = self._days[day] = _day_terms(
                day * DAY_S + DAY_S / 2, self.lat_rad, self.lon_deg
            )
        a, b, offset = terms
        s = a + b * math.cos(math.radians(((ts % DAY_S) / 60.0 + offset) / 4.0 - 180.0))
        if s <= 0.0:
            return 0.0
        return min(self.ac_w, self.dc_w * DERATE * math.pow(s, 1.2))


def weather(seed: int, system_id: int, ts: float, lon_deg: float) -> int:
    """Return the day's weather kind; days run from local mean solar midnight."""
    day = math.floor((ts + lon_deg * 240.0) / DAY_S)
    draw = unit(seed, system_id, day, 1)
    if draw < 0.55:  # noqa: PLR2004 - climate mix: mostly clear days
        return CLEAR
    if draw < 0.85:  # noqa: PLR2004
        return PARTLY
    return OVERCAST


def cloud_factor(seed: int, system_id: int, ts: float, lon_deg: float) -> float:
    """Return the fraction of clear-sky output reaching the array at `ts`."""
    kind = weather(seed, system_id, ts, lon_deg)
    slot = math.floor(ts / 900)
    noise = unit(seed, system_id, slot, 2)
    if kind == CLEAR:
        return 0.97 + 0.03 * noise
    if kind == OVERCAST:
        return 0.12 + 0.23 * noise
    # Passing clouds: two slow waves with phases fixed per day, plus noise.
    day = math.floor((ts + lon_deg * 240.0) / DAY_S)
    phase_a = unit(seed, system_id, day, 3) * 2 * math.pi
    phase_b = unit(seed, system_id, day, 4) * 2 * math.pi
    hours = ts / 3600.0
    level = 0.62 + 0.22 * math.sin(phase_a + hours * 1.7) + 0.14 * math.sin(phase_b + hours * 4.1)
    return min(1.0, max(0.2, level + 0.16 * (noise - 0.5)))
