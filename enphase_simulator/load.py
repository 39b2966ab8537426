"""A household's consumption: base load, morning and evening peaks, noise."""

from __future__ import annotations

from dataclasses import dataclass
import math

from .rng import unit

SATURDAY = 5
SPIKE_CHANCE = 0.07
SPIKE_W = 1_600.0
NIGHT_END_HOUR = 5.0


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-0.5 * ((hour - centre) / width) ** 2)


@dataclass(frozen=True, slots=True)
class Household:
    """The load profile of one home, its noise drawn from the seed."""

    seed: int
    system_id: int
    base_w: int

    def watts(self, slot: int, local_hour: float, weekday: int) -> float:
        """Return the mean load in W of 15-minute `slot` (epoch // 900).

        `local_hour` is the slot's middle in local time, so peaks follow the
        household's clock (and daylight saving time), not UTC.
        """
        weekend = weekday >= SATURDAY
        morning = _bump(local_hour, 8.5 if weekend else 7.0, 1.0) * 750.0
        midday = _bump(local_hour, 13.0, 2.5) * (450.0 if weekend else 150.0)
        evening = _bump(local_hour, 19.0, 1.6) * 1_500.0
        # Deep night: only the fridge and standby loads.
        night = 0.8 if local_hour < NIGHT_END_HOUR else 1.0
        noise = 0.85 + 0.3 * unit(self.seed, self.system_id, slot, 10)
        spike = SPIKE_W if unit(self.seed, self.system_id, slot, 11) < SPIKE_CHANCE else 0.0
        return (self.base_w * night + morning + midday + evening) * noise + spike
