"""Energy balance of one 15-minute interval: PV, home, battery and grid.

All quantities are integer Wh, so the balance
production + import + discharge == consumption + export + charge holds exactly.
The battery is lossless: its SoC moves by exactly charge - discharge.
"""

from __future__ import annotations

from dataclasses import dataclass

from .settings import FULL_BACKUP, SAVINGS, SiteSettings, effective_mode

MAX_POWER_W = 3_840
MAX_WH_PER_INTERVAL = MAX_POWER_W // 4
PEAK_START_HOUR = 16
PEAK_END_HOUR = 21


@dataclass(frozen=True, slots=True)
class Behaviour:
    """What the battery may do in one interval, derived from the settings."""

    discharge_floor_wh: int | None
    grid_charge: bool
    grid_on: bool


@dataclass(frozen=True, slots=True)
class Flows:
    """The energy flows of one interval, in Wh."""

    production: int
    consumption: int
    imported: int
    exported: int
    charge: int
    discharge: int


def behaviour(
    settings: SiteSettings, local_hour: float, capacity_wh: int, shutdown_wh: int
) -> Behaviour:
    """Translate the settings in force into what the battery may do now."""
    if not settings.grid_on:
        # Islanded: the reserve exists for exactly this, use it down to shutdown.
        return Behaviour(shutdown_wh, grid_charge=False, grid_on=False)
    mode = effective_mode(settings)
    reserve_wh = max(shutdown_wh, -(-capacity_wh * settings.reserve_soc // 100))
    if mode == FULL_BACKUP:
        return Behaviour(None, grid_charge=settings.charge_from_grid, grid_on=True)
    if mode == SAVINGS:
        # Savings keeps the battery for the expensive peak. Energy independence
        # (Enlighten: "use battery after peak hours") also lets it cover the home
        # for the rest of that day; before the next peak it holds again.
        in_peak = PEAK_START_HOUR <= local_hour < PEAK_END_HOUR
        after_peak = settings.energy_independence and local_hour >= PEAK_END_HOUR
        floor = reserve_wh if in_peak or after_peak else None
        return Behaviour(floor, grid_charge=False, grid_on=True)
    return Behaviour(reserve_wh, grid_charge=False, grid_on=True)


def step(pv: int, load: int, soc: int, capacity: int, rule: Behaviour) -> tuple[Flows, int]:
    """Balance one interval and return its flows and the SoC (Wh) after it."""
    room = capacity - soc
    surplus = pv - load
    if not rule.grid_on:
        return _islanded(pv, load, soc, capacity, rule)
    charge = discharge = imported = exported = 0
    if surplus >= 0:
        charge = min(surplus, MAX_WH_PER_INTERVAL, room)
        exported = surplus - charge
    else:
        deficit = -surplus
        if rule.discharge_floor_wh is not None:
            discharge = min(deficit, MAX_WH_PER_INTERVAL, max(0, soc - rule.discharge_floor_wh))
        imported = deficit - discharge
    if rule.grid_charge:
        extra = max(0, min(MAX_WH_PER_INTERVAL - charge, room - charge))
        charge += extra
        imported += extra
    flows = Flows(pv, load, imported, exported, charge, discharge)
    return flows, soc + charge - discharge


def _islanded(pv: int, load: int, soc: int, capacity: int, rule: Behaviour) -> tuple[Flows, int]:
    if capacity == 0:
        # Without a battery the micros trip with the grid (anti-islanding): dark house.
        return Flows(0, 0, 0, 0, 0, 0), soc
    room = capacity - soc
    surplus = pv - load
    if surplus >= 0:
        # Nowhere to send the surplus: the micros curtail to what is used.
        charge = min(surplus, MAX_WH_PER_INTERVAL, room)
        return Flows(load + charge, load, 0, 0, charge, 0), soc + charge
    floor = rule.discharge_floor_wh or 0
    discharge = min(-surplus, MAX_WH_PER_INTERVAL, max(0, soc - floor))
    # What PV and battery cannot cover is shed.
    return Flows(pv, pv + discharge, 0, 0, 0, discharge), soc - discharge
