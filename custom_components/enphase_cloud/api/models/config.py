"""System configuration: battery settings, storm guard, grid status."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Self

from ..errors import EnphaseResponseError
from .parsing import (
    as_bool,
    as_percent,
    mapping,
    normalise,
    opt_bool,
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
        """Return the spelling the battery_settings PUT expects."""
        return _MODE_API_VALUES[self]


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


_MODE_API_VALUES: Final[dict[BatteryMode, str]] = {
    BatteryMode.SELF_CONSUMPTION: "Self - Consumption",
    BatteryMode.SAVINGS: "Savings Mode",
    BatteryMode.FULL_BACKUP: "Full Backup",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BatterySettings:
    """`/systems/config/{id}/battery_settings` (Megawatt plan and above)."""

    system_id: int
    mode: BatteryMode
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
            mode=required(data, "battery_mode", what, as_mode, "a battery mode"),
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
        """Parse storm guard; "Enabled (Inactive)" counts as enabled."""
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
    on_grid: bool

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the grid status; `on_grid` is True for "On Grid" in any spelling."""
        what = "grid_status"
        data = mapping(data, what)
        grid_state = req_str(data, "grid_state", what)
        return cls(
            system_id=req_int(data, "system_id", what),
            grid_state=grid_state,
            on_grid=normalise(grid_state) == "ongrid",
        )
