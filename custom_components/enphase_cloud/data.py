"""Runtime data: the immutable snapshot the coordinator builds and the entities read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .api import BatterySettings, Devices, GridStatus, LatestTelemetry, StormGuard, Summary, System

if TYPE_CHECKING:
    from .budget import ApiBudget
    from .command_runner import BatteryCommander
    from .coordinator import EnphaseCloudCoordinator
    from .health import SystemHealth


@dataclass(frozen=True, slots=True, kw_only=True)
class BatteryLevel:
    """The latest state of charge and the end of the interval it was measured in."""

    percent: int
    measured_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemSnapshot:
    """Everything known about one system after a poll; replaced, never mutated."""

    system: System
    devices: Devices
    summary: Summary | None = None
    telemetry: LatestTelemetry | None = None
    live_fetched_at: datetime | None = None
    system_fetched_at: datetime | None = None
    """When the systems list last confirmed the status and last report (no upload, no news)."""
    battery_level: BatteryLevel | None = None
    battery_fetched_at: datetime | None = None
    control_permitted: bool = False
    """The plan lets this battery system's settings be read and changed."""
    control_denied_by_plan: bool = False
    """Enphase refused the settings because of the plan (not for want of a battery)."""
    battery_settings: BatterySettings | None = None
    storm_guard: StormGuard | None = None
    grid_status: GridStatus | None = None
    config_fetched_at: datetime | None = None
    health: SystemHealth | None = None
    """Alarms, new events and grid state from Enphase's events (None: not polled yet)."""
    grid_services_event_active: bool | None = None
    """A grid services (demand response) event has the battery now; None: not known.

    The battery commands read it: they refuse to change settings while it is True."""
    devices_fetched_at: datetime | None = None
    """When the device list was last read (it is re-read weekly, or on a hint)."""

    @property
    def system_id(self) -> int:
        """Return the Enphase system id."""
        return self.system.system_id

    @property
    def has_battery(self) -> bool:
        """Return whether the system has an IQ Battery."""
        return self.devices.has_battery

    @property
    def has_consumption_meter(self) -> bool:
        """Return whether the system measures home consumption."""
        return self.devices.has_consumption_meter


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSnapshot:
    """All systems of one Enphase account, keyed by system id."""

    systems: Mapping[int, SystemSnapshot] = field(default_factory=dict)
    next_poll: datetime | None = None
    history_in_progress: bool = False
    stale_after: timedelta = timedelta(hours=3)


@dataclass(slots=True, kw_only=True)
class EnphaseCloudData:
    """What a loaded config entry holds in `runtime_data`."""

    coordinator: EnphaseCloudCoordinator
    budget: ApiBudget
    commands: BatteryCommander
    """Timed battery commands of the entry's systems."""


type EnphaseCloudConfigEntry = ConfigEntry[EnphaseCloudData]
