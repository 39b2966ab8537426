"""Site settings and their history: what was requested, and when it took effect."""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, replace
import re
from typing import Any

SELF_CONSUMPTION = "self_consumption"
SAVINGS = "savings_mode"
FULL_BACKUP = "full_backup"
MODE_LABELS = {
    SELF_CONSUMPTION: "Self - Consumption",
    SAVINGS: "Savings Mode",
    FULL_BACKUP: "Full Backup",
}
# The battery_settings PUT is case sensitive and takes exactly these spellings.
PUT_MODES = {
    "Self-consumption": SELF_CONSUMPTION,
    "Savings Mode": SAVINGS,
    "Full Backup": FULL_BACKUP,
}
_MODE_KEYS = {
    "selfconsumption": SELF_CONSUMPTION,
    "savingsmode": SAVINGS,
    "fullbackup": FULL_BACKUP,
}


def normalise_mode(raw: str) -> str | None:
    """Map any spelling Enphase uses ("Self - Consumption", "self-consumption"…) to a mode."""
    return _MODE_KEYS.get(re.sub(r"[\s_-]+", "", raw.lower()))


def mode_label(mode: str) -> str:
    """Return how the GET spells `mode`; a mode the simulator does not model keeps its text.

    Enphase's apps offer modes outside the documented three (e.g. "AI Optimisation"):
    such a mode is stored as its own label and behaves like self-consumption.
    """
    return MODE_LABELS.get(mode, mode)


def mode_from_label(label: str) -> str:
    """Return the mode key of a documented label, else the label itself (an unknown mode)."""
    return PUT_MODES.get(label) or normalise_mode(label) or label


@dataclass(frozen=True, slots=True)
class SiteSettings:
    """Every setting that steers the battery physics of one system."""

    mode: str = SELF_CONSUMPTION
    reserve_soc: int = 30
    energy_independence: bool = True
    charge_from_grid: bool = False
    storm_guard: bool = False
    storm_alert: bool = False
    grid_on: bool = True


def effective_mode(settings: SiteSettings) -> str:
    """Return the mode the battery follows: a storm alert under storm guard forces backup."""
    if settings.storm_alert and settings.storm_guard:
        return FULL_BACKUP
    return settings.mode


SETTING_NAMES = frozenset(SiteSettings.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Change:
    """Settings requested at `requested_at` that take effect at `effective_at`."""

    effective_at: int
    seq: int
    requested_at: int
    values: dict[str, Any]


class SettingsTimeline:
    """The ordered history of setting changes of one system.

    An interval uses the changes whose `effective_at` lies strictly before its
    end, so a change never touches an interval that was already simulated.
    """

    def __init__(self, initial: SiteSettings) -> None:
        """Start from `initial` with no changes."""
        self.initial = initial
        self.changes: list[Change] = []

    def add(self, effective_at: int, requested_at: int, values: dict[str, Any]) -> Change:
        """Record a change, keeping the history sorted by effect time."""
        unknown = set(values) - SETTING_NAMES
        if unknown:
            msg = f"unknown settings {sorted(unknown)}"
            raise ValueError(msg)
        change = Change(effective_at, len(self.changes), requested_at, dict(values))
        keys = [(c.effective_at, c.seq) for c in self.changes]
        self.changes.insert(bisect.bisect_right(keys, (effective_at, change.seq)), change)
        return change

    def at(self, ts: int) -> SiteSettings:
        """Return the settings in force for an interval ending at `ts`."""
        settings = self.initial
        for change in self.changes:
            if change.effective_at >= ts:
                break
            settings = replace(settings, **change.values)
        return settings

    def requested(self) -> SiteSettings:
        """Return the settings once every change, pending or not, has applied."""
        settings = self.initial
        for change in self.changes:
            settings = replace(settings, **change.values)
        return settings

    def pending(self, now: int) -> list[Change]:
        """Return the changes that have not taken effect at `now`."""
        return [c for c in self.changes if c.effective_at > now]

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready form for the state file."""
        return {
            "initial": asdict(self.initial),
            "changes": [[c.effective_at, c.seq, c.requested_at, c.values] for c in self.changes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SettingsTimeline:
        """Rebuild a timeline saved by `to_json`."""
        timeline = cls(SiteSettings(**data["initial"]))
        timeline.changes = [
            Change(int(eff), int(seq), int(req), dict(values))
            for eff, seq, req, values in data["changes"]
        ]
        return timeline
