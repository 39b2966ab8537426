"""System configuration: battery settings, storm guard, grid status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, Self

from ..errors import EnphaseResponseError
from .parsing import (
    as_bool,
    as_percent,
    mapping,
    normalise,
    opt_bool,
    opt_datetime,
    req_int,
    req_str,
    required,
)


class BatteryMode(StrEnum):
    """Battery profile; the server spells it in several ways, normalise with `parse`."""

    SELF_CONSUMPTION = "self_consumption"
    SAVINGS = "savings"
    FULL_BACKUP = "full_backup"

    @classmethod
    def parse(cls, text: object) -> BatteryMode:
        """Return the mode for any server spelling ("Self - Consumption", "savings-mode", ...).

        Raises EnphaseResponseError for anything else.
        """
        if (mode := as_mode(text)) is not None:
            return mode
        msg = "Unknown battery mode in the answer"
        raise EnphaseResponseError(msg)

    @property
    def api_value(self) -> str:
        """Return the spelling the battery_settings PUT expects (it is case sensitive)."""
        return _MODE_API_VALUES[self]


type AnyBatteryMode = BatteryMode | str
"""A known battery mode, or the text of a mode Enphase reports that this client does not know
(Enphase's apps offer more than the three documented, e.g. "AI Optimisation")."""


_MODE_ALIASES: Final[dict[str, BatteryMode]] = {
    "selfconsumption": BatteryMode.SELF_CONSUMPTION,
    "selfconsumptionmode": BatteryMode.SELF_CONSUMPTION,
    "savings": BatteryMode.SAVINGS,
    "savingsmode": BatteryMode.SAVINGS,
    "costsavings": BatteryMode.SAVINGS,
    "costsavingsmode": BatteryMode.SAVINGS,
    "fullbackup": BatteryMode.FULL_BACKUP,
    "fullbackupmode": BatteryMode.FULL_BACKUP,
    "backuponly": BatteryMode.FULL_BACKUP,
}


def as_mode(value: object) -> BatteryMode | None:
    """Return the battery mode for any known spelling, None for anything else."""
    return _MODE_ALIASES.get(normalise(value)) if isinstance(value, str) else None


def as_any_mode(value: object) -> AnyBatteryMode | None:
    """Return a known mode, or a non-empty mode text kept exactly as Enphase wrote it."""
    if (mode := as_mode(value)) is not None:
        return mode
    return value.strip() if isinstance(value, str) and value.strip() else None


def known_mode(mode: AnyBatteryMode | None) -> BatteryMode | None:
    """Return `mode` when it is one this client knows, else None."""
    return mode if isinstance(mode, BatteryMode) else None


def mode_key(mode: AnyBatteryMode) -> str:
    """Return a known mode's key ("self_consumption") or an unknown mode's own text."""
    return mode.value if isinstance(mode, BatteryMode) else mode


def mode_from_key(key: object) -> AnyBatteryMode:
    """Return what `mode_key` gave: a known mode for its key, else the text itself.

    Raises TypeError for anything but a non-empty string.
    """
    if not isinstance(key, str) or not key.strip():
        msg = f"expected a battery mode, got {key!r}"
        raise TypeError(msg)
    try:
        return BatteryMode(key)
    except ValueError:
        return key


def mode_api_value(mode: AnyBatteryMode) -> str:
    """Return how the battery_settings PUT spells `mode`.

    A known mode in the documented, case-sensitive spelling; an unknown one exactly
    as Enphase reported it (to put back a mode set in the apps).
    """
    known = mode if isinstance(mode, BatteryMode) else as_mode(mode)
    return known.api_value if known is not None else mode


_MODE_API_VALUES: Final[dict[BatteryMode, str]] = {
    # The GET says "Self - Consumption"; the PUT accepts exactly "Self-consumption".
    BatteryMode.SELF_CONSUMPTION: "Self-consumption",
    BatteryMode.SAVINGS: "Savings Mode",
    BatteryMode.FULL_BACKUP: "Full Backup",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BatterySettings:
    """`/systems/config/{id}/battery_settings` (Megawatt plan and above)."""

    system_id: int
    mode: AnyBatteryMode
    """A known mode, or Enphase's own text for a mode this client does not know."""
    reserve_soc: int
    energy_independence: bool | None = None
    charge_from_grid: bool | None = None
    shutdown_level: int | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse battery settings; "enabled"/"disabled" become booleans."""
        what = "battery_settings"
        data = mapping(data, what)
        return cls(
            system_id=req_int(data, "system_id", what),
            mode=required(data, "battery_mode", what, as_any_mode, "a battery mode"),
            reserve_soc=required(data, "reserve_soc", what, as_percent, "a percentage"),
            energy_independence=opt_bool(data, "energy_independence"),
            charge_from_grid=opt_bool(data, "charge_from_grid"),
            shutdown_level=as_percent(data.get("battery_shutdown_level")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StormGuard:
    """`/systems/config/{id}/storm_guard`."""

    system_id: int
    enabled: bool
    storm_alert: bool | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse storm guard; "Enabled (Inactive)" counts as enabled.

        `storm_alert` is the string "true"/"false" in Enphase's answers.
        """
        what = "storm_guard"
        data = mapping(data, what)
        return cls(
            system_id=req_int(data, "system_id", what),
            enabled=required(data, "storm_guard_status", what, as_bool, "enabled or disabled"),
            storm_alert=opt_bool(data, "storm_alert"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GridStatus:
    """`/systems/config/{id}/grid_status`."""

    system_id: int
    grid_state: str
    on_grid: bool | None
    """True on grid, False off grid, None when Enphase does not know ("Unknown")."""
    last_report_date: datetime | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the grid status: "On Grid", "Off Grid" or "Unknown", in any spelling."""
        what = "grid_status"
        data = mapping(data, what)
        grid_state = req_str(data, "grid_state", what)
        return cls(
            system_id=req_int(data, "system_id", what),
            grid_state=grid_state,
            on_grid=_GRID_STATES.get(normalise(grid_state)),
            last_report_date=opt_datetime(data, "last_report_date"),
        )


_GRID_STATES: Final[dict[str, bool]] = {"ongrid": True, "offgrid": False}
