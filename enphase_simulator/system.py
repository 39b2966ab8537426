"""One system at run time: its physics, gateway and settings, and what the cloud has seen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .ev_charger import EvFleet
from .gateway import Gateway, OutageWindow, Upload
from .settings import SettingsTimeline, SiteSettings
from .simulation import QUARTER, SystemSim
from .world import SystemSpec

DEFAULT_LOADS = (
    {
        "name": "NC1",
        "load_name": "Pool pump",
        "status": "enabled",
        "mode": "scheduled",
        "soc_low": 25,
        "soc_high": 75,
    },
    {
        "name": "NC2",
        "load_name": "EV charger",
        "status": "disabled",
        "mode": "manual",
        "soc_low": 40,
        "soc_high": 90,
    },
)


class SystemRuntime:
    """Everything mutable about one system."""

    def __init__(
        self, spec: SystemSpec, seed: int, operational_at: int, connection_type: str
    ) -> None:
        """Create the physics, gateway and settings of `spec`."""
        self.spec = spec
        self.operational_at = operational_at
        initial = SiteSettings(reserve_soc=spec.initial_reserve)
        self.timeline = SettingsTimeline(initial)
        self.sim = SystemSim(spec, seed, operational_at, self.timeline)
        self.gateway = Gateway(seed, spec.system_id, connection_type, operational_at)
        self.loads: list[dict[str, Any]] = [dict(load) for load in DEFAULT_LOADS]
        # Python control only (not in the state file): shapes Enphase shows for some sites.
        self.hide_operational_at = False
        """The summary's `operational_at` is null (documented for some sites)."""
        self.site_reported = True
        """False: grid_status and storm_guard answer 422 "site has not reported yet"."""
        self.grid_state_unknown = False
        """grid_status reads "Unknown"."""
        self.ev = EvFleet(spec.system_id, seed, spec.zone)
        for _ in range(spec.ev_chargers):
            self.ev.add(operational_at)
        self.sim.extra_load = self.ev.load_wh

    def observe(self, now: int) -> Observation:
        """Simulate up to `now` and return what the cloud knows at `now`."""
        self.sim.ensure(now)
        upload = self.gateway.last_upload(now)
        through = (
            self.operational_at
            if upload is None
            else min(upload.through, self.sim.computed_through)
        )
        return Observation(self, now, upload, through)

    def settings_at(self, now: int) -> SiteSettings:
        """Return the settings in force at `now`."""
        return self.timeline.at(now + 1)

    def to_json(self) -> dict[str, Any]:
        """Return the state to persist for this system."""
        return {
            "timeline": self.timeline.to_json(),
            "connection_type": self.gateway.connection_type,
            "outages": [[o.start, o.end] for o in self.gateway.outages],
            "loads": self.loads,
            "ev_chargers": self.ev.to_json(),
        }

    def load_json(self, data: dict[str, Any]) -> None:
        """Restore what `to_json` saved (before any interval is simulated)."""
        self.timeline = SettingsTimeline.from_json(data["timeline"])
        self.sim.timeline = self.timeline
        self.gateway.connection_type = data["connection_type"]
        self.gateway.outages = [OutageWindow(start, end) for start, end in data["outages"]]
        self.loads = data["loads"]
        if "ev_chargers" in data:
            self.ev.load_json(data["ev_chargers"])


@dataclass(frozen=True, slots=True)
class Observation:
    """The cloud's view of one system at one instant."""

    runtime: SystemRuntime
    now: int
    upload: Upload | None
    through: int

    @property
    def sim(self) -> SystemSim:
        """The system's physics."""
        return self.runtime.sim

    @property
    def reported(self) -> int:
        """How many intervals the cloud has received."""
        return (self.through - self.runtime.operational_at) // QUARTER

    @property
    def last_report_at(self) -> int | None:
        """When the last upload happened."""
        return None if self.upload is None else self.upload.at

    @property
    def status(self) -> str:
        """The system status Enphase would show."""
        return self.runtime.gateway.status(self.now)

    def last_energy_at(self) -> int | None:
        """When the last reported production was read: an arbitrary second, not a quarter hour.

        Enphase's recordings show a second a few minutes after the end of the last
        interval with production (never after the upload).
        """
        production = self.sim.production
        for index in range(self.reported - 1, -1, -1):
            if production[index] > 0:
                end = self.runtime.operational_at + (index + 1) * QUARTER
                offset = (index * 7_919 + self.runtime.spec.system_id) % 300
                upload = self.last_report_at
                return end + offset if upload is None else min(end + offset, upload)
        return None

    def meta(self) -> dict[str, Any]:
        """Return the `meta` object of the telemetry and lifetime answers."""
        return {
            "status": self.status,
            "last_report_at": self.last_report_at,
            "last_energy_at": self.last_energy_at(),
            "operational_at": self.runtime.operational_at,
        }

    def last_index(self) -> int | None:
        """Index of the last reported interval, if any."""
        return self.reported - 1 if self.reported > 0 else None
