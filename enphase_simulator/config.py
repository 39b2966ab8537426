"""Configuration of the simulator: the frozen `SimConfig` and the API plans."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

DEFAULT_START = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
CONNECTION_TYPES = ("ethernet", "wifi", "cellular")


@dataclass(frozen=True, slots=True)
class Plan:
    """An API plan: its rank (for endpoint gating) and its quotas."""

    name: str
    title: str
    level: int
    per_minute: int
    per_month: int
    write_per_month: int | None = None


PLANS: Mapping[str, Plan] = MappingProxyType(
    {
        "watt": Plan("watt", "Watt", 0, 10, 1_000),
        "kilowatt": Plan("kilowatt", "Kilowatt", 1, 50, 50_000),
        "megawatt": Plan("megawatt", "Megawatt", 2, 100, 300_000),
        "partner": Plan("partner", "Partner", 3, 300, 1_500_000, write_per_month=200),
    }
)
KILOWATT = PLANS["kilowatt"].level
MEGAWATT = PLANS["megawatt"].level
PARTNER = PLANS["partner"].level


def plan_named(name: str) -> Plan:
    """Return the plan called `name` (case-insensitive) or raise ValueError."""
    try:
        return PLANS[name.lower()]
    except KeyError:
        msg = f"unknown plan {name!r}; choose one of {', '.join(PLANS)}"
        raise ValueError(msg) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    """A window during which one system's gateway cannot upload."""

    system_id: int
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    """Everything that shapes one simulator instance (see docs/contracts.md).

    Fields after `api_key` are simulator extensions: the contract fields keep
    their agreed names and defaults.
    """

    plan: str = "watt"
    seed: int = 1
    clock: Callable[[], datetime] | None = None
    start: datetime | None = None
    clock_factor: float = 1.0
    auto_approve: bool = False
    apply_delay: timedelta = timedelta(seconds=60)
    access_token_ttl: timedelta = timedelta(seconds=86393)
    refresh_token_ttl: timedelta = timedelta(days=30)
    history: timedelta = timedelta(days=60)
    state_path: Path | None = None
    client_id: str = "demo-client"
    client_secret: str = "demo-secret"  # noqa: S105 - a published demo credential
    api_key: str = "demo-key"
    battery_power_sign: int = 1
    quota_period_fields: bool = True
    connection_types: Mapping[int, str] = field(default_factory=dict)
    outages: tuple[Outage, ...] = ()
    fault_timeout: timedelta = timedelta(seconds=30)
    code_ttl: timedelta = timedelta(minutes=10)
    save_interval: timedelta = timedelta(seconds=2)
    token_form_body: bool = True
    """UNCONFIRMED: whether /oauth/token also reads its parameters from a form body
    (clients do it; Enphase documents only the query string). False: query only."""

    def __post_init__(self) -> None:
        """Reject values that would make the simulation meaningless."""
        plan_named(self.plan)
        if self.battery_power_sign not in {1, -1}:
            msg = "battery_power_sign must be 1 or -1"
            raise ValueError(msg)
        if self.clock_factor < 0:
            msg = "clock_factor must not be negative"
            raise ValueError(msg)
        for kind in self.connection_types.values():
            if kind not in CONNECTION_TYPES:
                msg = f"unknown connection type {kind!r}"
                raise ValueError(msg)
