"""IQ EV Chargers of one system: plugging, charging sessions and the energy they draw.

A charger is stepped one 15-minute interval at a time by the system's physics
(`SystemSim.ensure`), so its energy is part of the home's consumption in the same
interval and the energy balance holds. Like the battery settings, commands and
plug changes only ever reach intervals not yet computed: the past never changes.

The daily routine is deterministic: a car is plugged in at 09:00 local time and
needs 4 to 16 kWh; the charger charges it from the solar surplus only (Enphase's
green charging: the battery is never discharged into a car, and the grid is not
used) until the need is met; the car leaves at 17:00 (the session ends). Tests and
the admin API plug, unplug, add and remove chargers; the Partner plan's
start_charging makes the car charge at full power (from the grid too, while the
grid is up) and stop_charging pauses it until the next start or the next car.

UNCONFIRMED (no source settles them): the texts of events other than "Charging
started on IQ EV Charger (SNo. …)." (documented), that a session still running
is listed with `end_time` null, and the miles and cost per kWh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .rng import unit

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from .simulator import Simulator

QUARTER = 900
HALF_QUARTER = timedelta(seconds=QUARTER // 2)
PLUG_AT = (9, 0)
LEAVE_AT = (17, 0)
# Green charging starts only with at least this surplus in an interval (1.2 kW).
MIN_GREEN_WH = 300
POWER_W = 7_200
MILES_PER_KWH = 3.0
COST_PER_KWH = 0.30
MIN_NEED_WH = 4_000
NEED_SPAN = 120  # hundreds of Wh
EXTRA_NEED_WH = 5_000
MODEL = "IQ-EVSE-40R"
SKU = "IQ-EVSE-NA-1040-0110-0100"
PART_NUMBER = "800-00555 0303"
FIRMWARE = "v0.04.22"

# Event texts: "Charging started" is Enphase's documented example; the rest UNCONFIRMED.
EVENT_TEXTS = {
    "plug": "EV connected to IQ EV Charger (SNo. {serial}).",
    "unplug": "EV disconnected from IQ EV Charger (SNo. {serial}).",
    "start": "Charging started on IQ EV Charger (SNo. {serial}).",
    "stop": "Charging stopped on IQ EV Charger (SNo. {serial}).",
}


@dataclass(slots=True)
class Session:
    """One plug-in of a car: from plug to unplug, with the energy it took."""

    start: int
    start_index: int
    end: int | None = None
    end_index: int | None = None
    energy_wh: int = 0
    charge_s: int = 0


@dataclass(slots=True)
class Event:
    """Something the charger reported."""

    at: int
    kind: str


@dataclass(slots=True)
class EvCharger:
    """One IQ EV Charger and everything it did, interval by interval."""

    serial: str
    added_at: int
    removed_at: int | None = None
    power_w: int = POWER_W
    # Wh per interval, from `first_index` on (the system's interval index).
    first_index: int | None = None
    energy: list[int] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    commands: list[tuple[int, str]] = field(default_factory=list)
    charging: bool = False
    need_wh: int = 0
    paused: bool = False
    boost: bool = False

    @property
    def plugged(self) -> bool:
        """Whether a car is connected (a session is running)."""
        return bool(self.sessions) and self.sessions[-1].end is None

    def present(self, begin: int) -> bool:
        """Whether the charger is installed during the interval starting at `begin`."""
        return self.added_at <= begin and (self.removed_at is None or begin < self.removed_at)

    def energy_at(self, index: int) -> int:
        """Return the Wh drawn in interval `index` (0 where the charger was not there)."""
        if self.first_index is None or index < self.first_index:
            return 0
        offset = index - self.first_index
        return self.energy[offset] if offset < len(self.energy) else 0

    def _act(self, action: str, at: int, index: int, need: int) -> None:
        if action == "plug" and not self.plugged:
            self.sessions.append(Session(start=at, start_index=index))
            self.events.append(Event(at, "plug"))
            self.need_wh, self.paused, self.boost = need, False, False
        elif action == "unplug" and self.plugged:
            self._charging(now=False, at=at)
            session = self.sessions[-1]
            session.end, session.end_index = at, index
            self.events.append(Event(at, "unplug"))
        elif action == "start" and self.plugged:
            self.paused, self.boost = False, True
            self.need_wh = max(self.need_wh, self.sessions[-1].energy_wh + EXTRA_NEED_WH)
        elif action == "stop" and self.plugged:
            self.paused, self.boost = True, False

    def _charging(self, *, now: bool, at: int) -> None:
        if now != self.charging:
            self.charging = now
            self.events.append(Event(at, "start" if now else "stop"))

    def step(  # noqa: PLR0913 - the physics' inputs of one interval
        self,
        index: int,
        begin: int,
        *,
        seed: int,
        system_id: int,
        local_mid: datetime,
        surplus_wh: int,
        can_import: bool,
    ) -> int:
        """Advance through interval `index` (starting at `begin`); return the Wh drawn.

        Green charging takes only the solar surplus (`surplus_wh`, what would be
        exported); after a start command the car charges at full power, from the
        grid too when `can_import`.
        """
        if self.first_index is None:
            self.first_index = index
        if not self.present(begin):
            self.energy.append(0)
            return 0
        end = begin + QUARTER
        # The physics passes the interval's middle in local time; its start is 7.5 min before.
        local = local_mid - HALF_QUARTER
        at = (local.hour, local.minute)
        if at == LEAVE_AT:
            self._act("unplug", begin, index, 0)
        if at == PLUG_AT:
            need = (
                MIN_NEED_WH + round(unit(seed, system_id, local.toordinal(), 40) * NEED_SPAN) * 100
            )
            self._act("plug", begin, index, need)
        while self.commands and self.commands[0][0] < end:
            moment, action = self.commands.pop(0)
            self._act(action, max(moment, begin), index, MIN_NEED_WH)
        wh = 0
        if self.plugged and not self.paused:
            session = self.sessions[-1]
            want = min(self.power_w * QUARTER // 3600, self.need_wh - session.energy_wh)
            if self.boost:
                wh = want if can_import else min(want, surplus_wh)
            elif surplus_wh >= MIN_GREEN_WH:
                wh = min(want, surplus_wh)
            session.energy_wh += wh
            session.charge_s += wh * 3600 // self.power_w
        self._charging(now=wh > 0, at=begin)
        self.energy.append(wh)
        return wh

    def to_json(self) -> dict[str, Any]:
        """Return what must survive a restart (the rest is recomputed from the seed)."""
        return {
            "serial": self.serial,
            "added_at": self.added_at,
            "removed_at": self.removed_at,
            "commands": [list(c) for c in self.commands],
        }


class EvFleet:
    """The chargers of one system; its physics asks it for their energy each interval."""

    def __init__(self, system_id: int, seed: int, zone: ZoneInfo) -> None:
        """Start with no charger."""
        self.system_id = system_id
        self.seed = seed
        self.zone = zone
        self.chargers: list[EvCharger] = []

    def serial_for(self, n: int) -> str:
        """Return the serial number of the system's `n`th charger (12 digits)."""
        return f"2023{self.system_id % 100_000:05d}{n:03d}"

    def add(self, added_at: int) -> EvCharger:
        """Install a charger from `added_at` (an interval start)."""
        charger = EvCharger(serial=self.serial_for(len(self.chargers)), added_at=added_at)
        self.chargers.append(charger)
        return charger

    def find(self, serial: str) -> EvCharger | None:
        """Return the charger with `serial` (installed or removed)."""
        return next((c for c in self.chargers if c.serial == serial), None)

    def active(self, at: int) -> list[EvCharger]:
        """Return the chargers installed at `at`."""
        return [c for c in self.chargers if c.present(at - at % QUARTER)]

    def load_wh(
        self,
        index: int,
        begin: int,
        local_mid: datetime,
        surplus_wh: int,
        can_import: bool,  # noqa: FBT001
    ) -> int:
        """Return what every charger draws in interval `index` (the physics' hook).

        `local_mid` is the interval's middle in the system's time zone.
        """
        total = 0
        for charger in self.chargers:
            total += charger.step(
                index,
                begin,
                seed=self.seed,
                system_id=self.system_id,
                local_mid=local_mid,
                surplus_wh=surplus_wh - total,
                can_import=can_import,
            )
        return total

    def to_json(self) -> list[dict[str, Any]]:
        """Return the chargers to persist."""
        return [c.to_json() for c in self.chargers]

    def load_json(self, data: list[dict[str, Any]]) -> None:
        """Restore `to_json`'s chargers (before any interval is simulated)."""
        self.chargers = [
            EvCharger(
                serial=str(item["serial"]),
                added_at=int(item["added_at"]),
                removed_at=item["removed_at"],
                commands=[(int(at), str(action)) for at, action in item["commands"]],
            )
            for item in data
        ]


def device_entries(
    fleet: EvFleet, system_id: int, now: int, status: str, last_report_at: int | None
) -> list[dict[str, Any]]:
    """Return the chargers installed at `now` as `ChargerSummary` entries.

    The id carries the serial, as Enphase's does (`<serial>:<system_id>`).
    """
    return [
        {
            "id": f"{charger.serial}:{system_id}",
            "sku": SKU,
            "status": status,
            "serial_number": charger.serial,
            "name": f"IQ EV Charger {charger.serial}",
            "model": MODEL,
            "part_number": PART_NUMBER,
            "last_report_at": last_report_at,
            "firmware": FIRMWARE,
            "active": True,
        }
        for charger in fleet.active(now)
    ]


# --- Python control (the admin API wraps these) --------------------------------------


def _fleet(sim: Simulator, system_id: int) -> tuple[EvFleet, int]:
    """Return the system's fleet and the first moment not yet simulated."""
    runtime = sim.system(system_id)
    now = sim.now_ts()
    runtime.sim.ensure(now)
    return runtime.ev, max(now, runtime.sim.computed_through)


def add_charger(sim: Simulator, system_id: int) -> str:
    """Install a new charger on the system from now on; return its serial."""
    fleet, at = _fleet(sim, system_id)
    charger = fleet.add(at - at % QUARTER)
    sim.mark_dirty()
    return charger.serial


def _charger(fleet: EvFleet, serial: str) -> EvCharger:
    charger = fleet.find(serial)
    if charger is None:
        msg = f"unknown EV charger {serial!r}"
        raise LookupError(msg)
    return charger


def remove_charger(sim: Simulator, system_id: int, serial: str) -> None:
    """Uninstall a charger from the next interval on (its history stays)."""
    fleet, at = _fleet(sim, system_id)
    charger = _charger(fleet, serial)
    charger.removed_at = at - at % QUARTER + QUARTER
    sim.mark_dirty()


def command(sim: Simulator, system_id: int, serial: str, action: str) -> None:
    """Queue `action` (plug, unplug, start, stop) for the interval holding now."""
    if action not in EVENT_TEXTS:
        msg = f"unknown EV charger action {action!r}"
        raise ValueError(msg)
    fleet, at = _fleet(sim, system_id)
    _charger(fleet, serial).commands.append((at, action))
    sim.mark_dirty()


def charger_state(sim: Simulator, system_id: int, serial: str) -> dict[str, Any]:
    """Return what the charger does now (ground truth, uploaded or not)."""
    fleet, _at = _fleet(sim, system_id)
    charger = _charger(fleet, serial)
    return {
        "serial": charger.serial,
        "installed": charger.present(sim.now_ts() - sim.now_ts() % QUARTER),
        "plugged": charger.plugged,
        "charging": charger.charging,
        "sessions": len(charger.sessions),
    }


def truth(
    sim: Simulator, system_id: int, serial: str, start: datetime, end: datetime
) -> list[dict[str, int]]:
    """Return the charger's true Wh of every interval ending in `(start, end]`."""
    fleet, _at = _fleet(sim, system_id)
    charger = _charger(fleet, serial)
    physics = sim.system(system_id).sim
    first = max(0, physics.index_of_end(int(start.timestamp())) + 1)
    last = min(physics.index_of_end(int(end.timestamp())), len(physics.production) - 1)
    return [
        {"end_at": physics.start + (i + 1) * QUARTER, "energy": charger.energy_at(i)}
        for i in range(first, last + 1)
    ]
