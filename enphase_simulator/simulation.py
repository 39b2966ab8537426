"""Lazy, forward-only simulation of one system, 15 minutes at a time.

Intervals are computed in order from `operational_at` and cached; a later
request only extends the arrays. Settings come from the system's timeline,
whose changes never reach an interval already computed, so the past is never
recomputed and answers do not depend on the order of requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
import math

from .battery import Flows, behaviour, step
from .load import Household
from .settings import SettingsTimeline
from .solar import SolarSite, cloud_factor
from .world import SystemSpec

QUARTER = 900
FIVE_MIN = 300
INITIAL_SOC_PERCENT = 50


class SystemSim:
    """The true energy flows of one system, one list entry per 15-minute interval."""

    def __init__(
        self, spec: SystemSpec, seed: int, operational_at: int, timeline: SettingsTimeline
    ) -> None:
        """Simulate `spec` from `operational_at` (a quarter hour) with `timeline`."""
        self.spec = spec
        self.seed = seed
        self.start = operational_at
        self.timeline = timeline
        self.capacity = spec.capacity_wh
        self.shutdown_wh = -(-self.capacity * spec.shutdown_level // 100)
        self.site = SolarSite(
            spec.latitude, spec.longitude, spec.size_w, spec.micros * spec.micro_ac_w
        )
        self.household = Household(seed, spec.system_id, spec.base_load_w)
        self.production: list[int] = []
        self.consumption: list[int] = []
        self.imported: list[int] = []
        self.exported: list[int] = []
        self.charge: list[int] = []
        self.discharge: list[int] = []
        self.soc: list[int] = []
        # Loads the battery does not serve (EV chargers): Wh of interval (index, begin,
        # local middle) given the surplus it may take and whether the grid may supply the rest.
        self.extra_load: Callable[[int, int, datetime, int, bool], int] | None = None

    @property
    def computed_through(self) -> int:
        """End of the last computed interval (epoch)."""
        return self.start + len(self.production) * QUARTER

    def index_of_end(self, end_at: int) -> int:
        """Return the list index of the interval ending at `end_at`."""
        return (end_at - self.start) // QUARTER - 1

    def soc_before(self, index: int) -> int:
        """Return the SoC in Wh at the start of interval `index`."""
        if index == 0:
            return self.capacity * INITIAL_SOC_PERCENT // 100
        return self.soc[index - 1]

    def ensure(self, until: int) -> None:
        """Compute every interval that ends at or before `until`."""
        target = (until - self.start) // QUARTER
        done = len(self.production)
        if target <= done:
            return
        zone, watts = self.spec.zone, self.household.watts
        changes = self.timeline.changes
        first_end = self.start + (done + 1) * QUARTER
        settings = self.timeline.at(first_end)
        pending = next((k for k, c in enumerate(changes) if c.effective_at >= first_end), None)
        soc = self.soc_before(done)
        for i in range(done, target):
            begin = self.start + i * QUARTER
            end = begin + QUARTER
            while pending is not None and changes[pending].effective_at < end:
                settings = replace(settings, **changes[pending].values)
                pending = pending + 1 if pending + 1 < len(changes) else None
            local = datetime.fromtimestamp(begin + QUARTER // 2, zone)
            hour = local.hour + local.minute / 60
            load = round(watts(begin // QUARTER, hour, local.weekday()) / 4)
            rule = behaviour(settings, hour, self.capacity, self.shutdown_wh)
            flows, soc = step(self.pv_wh(begin), load, soc, self.capacity, rule)
            if self.extra_load is not None:
                ev = self.extra_load(i, begin, local, flows.exported, settings.grid_on)
                flows = add_unbuffered_load(flows, ev)
            self.production.append(flows.production)
            self.consumption.append(flows.consumption)
            self.imported.append(flows.imported)
            self.exported.append(flows.exported)
            self.charge.append(flows.charge)
            self.discharge.append(flows.discharge)
            self.soc.append(soc)

    def _clear_parts(self, begin: int) -> list[float]:
        clear = self.site.clear_sky_w
        return [clear(begin + FIVE_MIN // 2 + k * FIVE_MIN) for k in range(3)]

    def pv_wh(self, begin: int) -> int:
        """Return what the array could produce in the interval starting at `begin`."""
        parts = self._clear_parts(begin)
        if not any(parts):
            return 0
        cloud = cloud_factor(self.seed, self.spec.system_id, begin, self.spec.longitude)
        return round(sum(parts) / 3 * cloud / 4)

    def micro_split(self, index: int) -> list[int]:
        """Split interval `index`'s production into three 5-minute parts (exact sum)."""
        total = self.production[index]
        weights = self._clear_parts(self.start + index * QUARTER)
        weight = sum(weights)
        if total == 0 or weight == 0:
            return [0, 0, total]
        first = math.floor(total * weights[0] / weight)
        second = math.floor(total * weights[1] / weight)
        return [first, second, total - first - second]

    def soc_percent(self, index: int) -> int:
        """Return the SoC after interval `index` as a whole percent (rounded down)."""
        if self.capacity == 0:
            return 0
        return self.soc[index] * 100 // self.capacity


def add_unbuffered_load(flows: Flows, wh: int) -> Flows:
    """Add a load the battery does not serve: it takes the export first, then the grid.

    Enphase systems do not discharge the battery into an EV by default, so an EV
    charger's energy is consumption met by surplus solar or by import.
    """
    if wh <= 0:
        return flows
    from_surplus = min(wh, flows.exported)
    return replace(
        flows,
        consumption=flows.consumption + wh,
        exported=flows.exported - from_surplus,
        imported=flows.imported + wh - from_surplus,
    )
