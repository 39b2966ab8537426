"""IQ EV Chargers: discovery, status, sessions and energy, polled within the API budget.

Enphase serves EV charger monitoring on every plan, the free one included. The
coordinator calls `EvChargerPoller.async_poll` once per poll; the poller reads a
system's chargers only when the systems list shows that its gateway uploaded
something new since the last read, so the charger costs nothing between uploads:
- the charger list (`/ev_charger/devices`) at most hourly (daily on the free plan,
  whose systems list is read daily), so chargers come and go without a reload;
- per system with chargers the events (one call: the plug/charge status of every
  charger), per charger its newest session, and once a day its lifetime energy;
- the 15-minute energy through a `TelemetrySync` per charger that the poller adds
  to the coordinator's streams, so it is caught up and backfilled like the others.

A charger's serial number addresses it in every call, but it is a secret of the
homeowner's: it never appears in a name, an attribute, a unique id or a log line.
Entities, devices and the statistic use `charger_key`, a hash of the system and
serial (Enphase's device id is `<serial>:<system_id>`, so it is no better).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
import hashlib
from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .api import (
    ChargerState,
    EnergyTelemetry,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseError,
    EnphaseRateLimited,
    EvCharger,
    EvEvents,
    Granularity,
)
from .api.models import EvSession
from .const import DOMAIN, LOGGER
from .devices import MANUFACTURER, system_identifier
from .interval_fetch import Source, TelemetrySync
from .statistics_writer import DeviceStream, StatisticsImporter

if TYPE_CHECKING:
    from homeassistant.helpers.device_registry import DeviceInfo

    from .data import SystemSnapshot

# The charger list is re-read at most this often (new and removed chargers).
DEVICES_EVERY = timedelta(hours=1)
# Lifetime energy is a daily series: once a day is all it can change.
LIFETIME_EVERY = timedelta(days=1)
# Lifetime energy is asked from this far back (Enphase keeps two years of detail).
LIFETIME_SPAN = timedelta(days=729)
KEY_LENGTH = 12


def charger_key(system_id: int, serial: str) -> str:
    """Return the stable, lowercase key of a charger that does not reveal its serial."""
    digest = hashlib.sha256(f"{system_id}:{serial}".encode()).hexdigest()
    return digest[:KEY_LENGTH]


def charger_stream(key: str, label: str) -> DeviceStream:
    """Return the statistic stream of a charger: `enphase_cloud:<system_id>_ev_<key>`."""
    return DeviceStream(value=f"ev_{key}", name=label)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargerSnapshot:
    """Everything known about one charger after a poll; replaced, never mutated."""

    system_id: int
    key: str
    label: str
    """"EV charger", numbered when a system has several (never the serial)."""
    serial: str
    model: str | None = None
    firmware: str | None = None
    state: ChargerState | None = None
    power_w: int | None = None
    power_at: datetime | None = None
    session: EvSession | None = None
    lifetime_wh: int | None = None
    lifetime_at: datetime | None = None
    fetched_at: datetime | None = None


def charger_identifier(system_id: int, key: str) -> tuple[str, str]:
    """Return the registry identifier of a charger's device."""
    return (DOMAIN, f"{system_id}_ev_{key}")


def charger_device_info(
    hass: HomeAssistant, entry_id: str, system_name: str, charger: ChargerSnapshot
) -> DeviceInfo:
    """Describe a charger's device, connected through its system's device."""
    return {
        "identifiers": {charger_identifier(charger.system_id, charger.key)},
        "manufacturer": MANUFACTURER,
        "model": charger.model or "IQ EV Charger",
        "sw_version": charger.firmware,
        "name": f"{system_name} {charger.label}",
        "via_device_id": dr.async_get_device_id_by_identifier(
            hass, system_identifier(charger.system_id), config_entry_id=entry_id
        ),
    }


@dataclass(slots=True)
class _SystemState:
    """The poller's bookkeeping of one system."""

    chargers: dict[str, ChargerSnapshot]
    syncs: dict[str, TelemetrySync]
    seen_report: datetime | None = None
    devices_at: datetime | None = None
    due: bool = True


class EvChargerPoller:
    """Follows the IQ EV Chargers of one account's systems (called by the coordinator)."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        client: EnphaseClient,
        *,
        horizon: timedelta,
        calls_left: Callable[[], int],
    ) -> None:
        """Poll through `client`; `calls_left` says how many calls this minute may still take."""
        self._hass = hass
        self._entry_id = entry_id
        self._client = client
        self._horizon = horizon
        self._calls_left = calls_left
        self._systems: dict[int, _SystemState] = {}

    # ---------------------------------------------------------------- reading

    def chargers(self, system_id: int) -> Mapping[str, ChargerSnapshot]:
        """Return the chargers of a system by key (empty if none or not read yet)."""
        state = self._systems.get(system_id)
        return dict(state.chargers) if state else {}

    def charger(self, system_id: int, key: str) -> ChargerSnapshot | None:
        """Return one charger, None once it is gone."""
        state = self._systems.get(system_id)
        return state.chargers.get(key) if state else None

    def round_calls(self, system_id: int) -> int:
        """Return the calls a round costs for a system, its charger energy streams aside.

        The charger list, the events and per charger its session and (daily, counted
        every round to stay on the safe side) its lifetime energy.
        """
        state = self._systems.get(system_id)
        chargers = len(state.chargers) if state else 0
        return 1 + (1 + 2 * chargers if chargers else 0)

    # ---------------------------------------------------------------- polling

    async def async_poll(
        self,
        systems: Mapping[int, SystemSnapshot],
        syncs: dict[int, list[TelemetrySync]],
        now: datetime,
        keep_back: int,
    ) -> None:
        """Read the chargers of every system with news, within this minute's calls.

        `syncs` is the coordinator's streams per system: a charger's energy stream is
        added when it appears and removed when it goes. `keep_back` calls stay unused.
        """
        for system_id in list(self._systems):
            if system_id not in systems:
                self._forget_system(system_id)
        for system_id, snapshot in systems.items():
            state = self._systems.setdefault(system_id, _SystemState(chargers={}, syncs={}))
            report = snapshot.system.last_report_at
            if report is None or report != state.seen_report:
                state.due = True
            if not state.due:
                continue
            try:
                done = await self._async_poll_system(snapshot, state, syncs, now, keep_back)
            except EnphaseAuthError, EnphaseRateLimited:
                raise
            except EnphaseError as err:
                # One charger's trouble never stops the system's polling.
                LOGGER.warning("EV chargers of system %s not read: %s", system_id, err)
                done = True
            if done:
                # Otherwise the minute had too few calls: the next poll goes on.
                state.due = False
                state.seen_report = report

    def _room(self, keep_back: int, calls: int = 1) -> bool:
        return self._calls_left() - keep_back >= calls

    async def _async_poll_system(
        self,
        snapshot: SystemSnapshot,
        state: _SystemState,
        syncs: dict[int, list[TelemetrySync]],
        now: datetime,
        keep_back: int,
    ) -> bool:
        """Read one system's chargers; return False when this minute had too few calls."""
        system_id = snapshot.system_id
        if state.devices_at is None or now - state.devices_at >= DEVICES_EVERY:
            if not self._room(keep_back):
                return False
            listed = await self._client.async_get_ev_chargers(system_id)
            state.devices_at = now
            self._update_chargers(snapshot, state, syncs, listed.chargers)
        if not state.chargers:
            return True
        if not self._room(keep_back, 1 + len(state.chargers)):
            return False
        events = await self._client.async_get_ev_events(system_id)
        for key, known in list(state.chargers.items()):
            sessions = await self._client.async_get_ev_sessions(system_id, known.serial, limit=1)
            charger = replace(
                known,
                session=sessions.latest,
                state=_state(events, known, sessions.latest),
                fetched_at=now,
            )
            if (
                charger.lifetime_at is None or now - charger.lifetime_at >= LIFETIME_EVERY
            ) and self._room(keep_back):
                # No end date: Enphase's default, yesterday in the system's time zone
                # (a date past it is not documented to be accepted).
                lifetime = await self._client.async_get_ev_lifetime(
                    system_id, charger.serial, start=(now - LIFETIME_SPAN).date()
                )
                charger = replace(charger, lifetime_wh=lifetime.total_wh, lifetime_at=now)
            state.chargers[key] = charger
        return True

    def _update_chargers(
        self,
        snapshot: SystemSnapshot,
        state: _SystemState,
        syncs: dict[int, list[TelemetrySync]],
        listed: tuple[EvCharger, ...],
    ) -> None:
        """Add new chargers (device, stream), refresh known ones, forget the gone."""
        system_id = snapshot.system_id
        current = {charger_key(system_id, c.serial_number): c for c in listed}
        streams = syncs.setdefault(system_id, [])
        for key in [k for k in state.chargers if k not in current]:
            LOGGER.info("An EV charger left system %s", system_id)
            state.chargers.pop(key)
            sync = state.syncs.pop(key)
            if sync in streams:
                streams.remove(sync)
            self._remove_device(system_id, key)
        registry = dr.async_get(self._hass)
        for key, found in current.items():
            known = state.chargers.get(key)
            if known is None:
                count = len(state.chargers)
                label = "EV charger" if count == 0 else f"EV charger {count + 1}"
                known = ChargerSnapshot(
                    system_id=system_id, key=key, label=label, serial=found.serial_number
                )
                LOGGER.info("Found an EV charger on system %s", system_id)
                sync = TelemetrySync(
                    self._client,
                    StatisticsImporter(self._hass, system_id, snapshot.system.name),
                    self._source(system_id, key, label, found.serial_number),
                    system_id=system_id,
                    horizon=self._horizon,
                )
                state.syncs[key] = sync
                streams.append(sync)
            known = replace(known, model=found.model, firmware=found.firmware)
            state.chargers[key] = known
            registry.async_get_or_create(
                config_entry_id=self._entry_id,
                **charger_device_info(self._hass, self._entry_id, snapshot.system.name, known),
            )

    def _source(self, system_id: int, key: str, label: str, serial: str) -> Source:
        """Return the telemetry source of a charger; its newest interval gives the power."""

        async def fetch(
            client: EnphaseClient,
            system_id: int,
            /,
            *,
            start_at: datetime | None,
            granularity: Granularity,
        ) -> EnergyTelemetry:
            telemetry = await client.async_get_ev_telemetry(
                system_id, serial, start_at=start_at, granularity=granularity
            )
            self._note_power(system_id, key, telemetry)
            return telemetry

        return Source(key=f"ev_{key}", fetch=fetch, streams=(charger_stream(key, label),))

    def _note_power(self, system_id: int, key: str, telemetry: EnergyTelemetry) -> None:
        """Keep the mean power of the newest interval seen (Wh in 15 minutes x 4)."""
        state = self._systems.get(system_id)
        charger = state.chargers.get(key) if state else None
        if charger is None or state is None or not telemetry.intervals:
            return
        newest = telemetry.intervals[-1]
        if charger.power_at is None or newest.end_at >= charger.power_at:
            state.chargers[key] = replace(charger, power_w=newest.wh * 4, power_at=newest.end_at)

    @callback
    def _remove_device(self, system_id: int, key: str) -> None:
        """Detach a charger's device from the entry (its entities go with it)."""
        registry = dr.async_get(self._hass)
        device = registry.async_get_device_by_identifier(
            charger_identifier(system_id, key), self._entry_id
        )
        if device is not None:
            registry.async_update_device(device.id, remove_config_entry_id=self._entry_id)

    def _forget_system(self, system_id: int) -> None:
        """Forget a system that left the account (the coordinator removes its devices)."""
        state = self._systems.pop(system_id)
        for key in state.chargers:
            self._remove_device(system_id, key)


def _state(
    events: EvEvents, charger: ChargerSnapshot, session: EvSession | None
) -> ChargerState | None:
    """Return the charger's state: its newest event, else what its session and power say."""
    if (state := events.latest_state(charger.serial)) is not None:
        return state
    if session is None:
        return None
    if session.end_at is not None:
        return ChargerState.DISCONNECTED
    return ChargerState.CHARGING if charger.power_w else ChargerState.CONNECTED
