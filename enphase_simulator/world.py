"""The demo world: developer apps, homeowner accounts and their systems."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from .config import SimConfig

SYSTEM_BATTERY = 1001
SYSTEM_NO_BATTERY = 1002
SYSTEM_NEIGHBOUR = 1003
COMPANY_ID = "9001"
OTHER_CLIENT_ID = "other-client"
OTHER_CLIENT_SECRET = "other-secret"  # noqa: S105 - a published demo credential
OTHER_API_KEY = "other-key"


@dataclass(frozen=True, slots=True)
class DeveloperApp:
    """A registered developer application: OAuth client plus its API key."""

    client_id: str
    client_secret: str
    api_key: str


@dataclass(frozen=True, slots=True)
class Account:
    """A homeowner's Enlighten account."""

    email: str
    uid: str
    password_last_changed: int
    system_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Address:
    """Where a system stands (what the systems list shows)."""

    city: str
    state: str
    country: str
    postal_code: str


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """The fixed description of one PV system and its devices."""

    system_id: int
    name: str
    timezone: str
    address: Address
    latitude: float
    longitude: float
    micros: int
    module_w: int = 400
    micro_ac_w: int = 325
    consumption_meter: bool = False
    batteries: int = 0
    battery_capacity_wh: int = 10_000
    shutdown_level: int = 10
    initial_reserve: int = 30
    base_load_w: int = 350
    connection_type: str = "ethernet"
    ev_chargers: int = 0
    zone: ZoneInfo = field(init=False, compare=False)

    def __post_init__(self) -> None:
        """Resolve the zone once: every local-time computation needs it."""
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    @property
    def size_w(self) -> int:
        """DC size of the array in W."""
        return self.micros * self.module_w

    @property
    def has_battery(self) -> bool:
        """Whether the system has at least one IQ Battery."""
        return self.batteries > 0

    @property
    def capacity_wh(self) -> int:
        """Usable battery capacity over all batteries, in Wh."""
        return self.batteries * self.battery_capacity_wh


@dataclass(frozen=True, slots=True)
class World:
    """Everything static the simulator serves."""

    apps: tuple[DeveloperApp, ...]
    accounts: tuple[Account, ...]
    systems: dict[int, SystemSpec]

    def app_by_key(self, key: str | None) -> DeveloperApp | None:
        """Return the app owning API key `key`."""
        return next((app for app in self.apps if app.api_key == key), None)

    def app_by_client(self, client_id: str | None) -> DeveloperApp | None:
        """Return the app with OAuth client id `client_id`."""
        return next((app for app in self.apps if app.client_id == client_id), None)

    def account_by_email(self, email: str | None) -> Account | None:
        """Return the account with this e-mail address (case-insensitive)."""
        wanted = (email or "").lower()
        return next((acc for acc in self.accounts if acc.email == wanted), None)

    def account_by_uid(self, uid: str) -> Account | None:
        """Return the account with this uid."""
        return next((acc for acc in self.accounts if acc.uid == uid), None)


def build_world(config: SimConfig) -> World:
    """Return the demo world of docs/contracts.md."""
    apps = (
        DeveloperApp(config.client_id, config.client_secret, config.api_key),
        DeveloperApp(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, OTHER_API_KEY),
    )
    accounts = (
        Account("demo@example.com", "4001", 1_700_000_000, (SYSTEM_BATTERY, SYSTEM_NO_BATTERY)),
        Account("neighbour@example.com", "4002", 1_710_000_000, (SYSTEM_NEIGHBOUR,)),
        # An Enlighten login whose systems were all transferred away: no systems at all.
        Account("empty@example.com", "4003", 1_720_000_000, ()),
    )
    systems = {
        SYSTEM_BATTERY: SystemSpec(
            SYSTEM_BATTERY,
            "Casa Solar",
            "America/Los_Angeles",
            Address("San Luis Obispo", "CA", "US", "93401"),
            35.28,
            -120.66,
            micros=24,
            consumption_meter=True,
            batteries=1,
            ev_chargers=1,
        ),
        SYSTEM_NO_BATTERY: SystemSpec(
            SYSTEM_NO_BATTERY,
            "Texas Ranch",
            "America/Chicago",
            Address("Austin", "TX", "US", "78701"),
            30.27,
            -97.74,
            micros=16,
            base_load_w=450,
            connection_type="wifi",
        ),
        SYSTEM_NEIGHBOUR: SystemSpec(
            SYSTEM_NEIGHBOUR,
            "Maple Cottage",
            "America/Los_Angeles",
            Address("Portland", "OR", "US", "97201"),
            45.52,
            -122.68,
            micros=12,
            consumption_meter=True,
            batteries=1,
            initial_reserve=20,
            base_load_w=250,
        ),
    }
    return World(apps, accounts, systems)
