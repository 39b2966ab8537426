"""Battery command engine: timed reserve holds and discharges, restored afterwards.

A command changes the battery settings for a while and puts them back when it
ends. The engine is pure asyncio (no Home Assistant import) so the rules that
must never be wrong can be tested exhaustively; its persistence lives in
`command_store`.

- The settings in force before the first command on a system are read fresh
  and kept as the snapshot; a command that replaces a running one (or one whose
  restore is still under way) keeps that original snapshot, so stacking never
  restores to an intermediate state.
- The gateway applies a change a minute or more after the PUT: until
  `effective_from` (counted from the PUT's answer) the command is pending and
  no telemetry is trusted to say the target was reached.
- A command ends when a discharge reaches its target, when `ends_at` passes,
  or on cancel; the snapshot is then PUT back and confirmed by reading the
  settings (read first, so a change made meanwhile in the Enphase app is
  seen). A restore that fails is retried with exponential back-off, and
  `restore_failing_since` tells the caller to raise a repair issue. A restore
  the plan refuses waits for `async_retry_restore` (the plan permits again, or
  a reload) instead of retrying for ever.
- A PUT whose answer was lost is reconciled by reading the settings back: the
  command runs when its values are in force; otherwise the write is tracked
  and checked (and undone if it landed late) a gateway delay later.
- A change made by hand, in Home Assistant or in the Enphase app (any observed
  setting that is neither the snapshot's nor one the engine wrote), ends the
  command without restoring: the user's latest intent wins.
- A snapshot reserve below a shutdown level raised meanwhile is restored at
  the nearest allowed value, and the status says so.
- While a grid services event is active no command starts and no restore is
  sent: the utility's event is neither fought nor overwritten.

Time is always passed in (`now`, aware datetimes): the engine never reads a
clock, and the caller runs `async_tick` at `next_wakeup()`. `Reckoning` gives
the caller a `now` that a wall clock jumping back cannot hold back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
import logging
from typing import Final, Protocol, TypeIs
from uuid import uuid4

from .api.errors import (
    EnphaseConnectionError,
    EnphaseError,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseResponseError,
    EnphaseServerError,
    EnphaseUnprocessable,
)
from .api.models import AnyBatteryMode, BatteryMode, BatterySettings, mode_key

_LOGGER = logging.getLogger(__name__)

MIN_RESERVE: Final = 10
"""Lowest reserve a command may set, in percent, whatever the shutdown level."""
MAX_RESERVE: Final = 100
MAX_DURATION: Final = timedelta(hours=4)
MIN_APPLY_DELAY: Final = timedelta(minutes=1)
"""The gateway applies a change a minute or more after the PUT."""
RESTORE_RETRY_FIRST: Final = timedelta(seconds=30)
RESTORE_RETRY_MAX: Final = timedelta(minutes=15)
WRITES_PER_COMMAND: Final = 2
"""A command's own PUT and its restore's: both must be affordable before it starts."""
MAX_SERVER_LEAD: Final = timedelta(days=1)
"""A server time further ahead of the reckoning than this is a broken clock, not news."""

# Translation keys of CommandValidationError.code.
ERROR_RESERVE_OUT_OF_RANGE: Final = "reserve_out_of_range"
ERROR_RESERVE_BELOW_SHUTDOWN: Final = "reserve_below_shutdown"
ERROR_DURATION_OUT_OF_RANGE: Final = "duration_out_of_range"
ERROR_NO_COMMAND_RUNNING: Final = "no_command_running"
ERROR_GRID_EVENT_ACTIVE: Final = "grid_event_active"
ERROR_WRITE_QUOTA: Final = "write_quota_exhausted"


class CommandKind(StrEnum):
    """What a command does to the battery."""

    HOLD_RESERVE = "hold_reserve"
    DISCHARGE = "discharge"


class CommandState(StrEnum):
    """Where a system's command stands."""

    IDLE = "idle"
    PENDING = "pending"
    ACTIVE = "active"
    RESTORING = "restoring"


class EndReason(StrEnum):
    """Why the last command of a system ended."""

    TARGET_REACHED = "target_reached"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REPLACED = "replaced"
    MANUAL_OVERRIDE = "manual_override"
    CHANGED_ELSEWHERE = "changed_elsewhere"
    """A setting seen at Enphase (the Enphase app, the installer) was neither ours nor the snapshot's."""


class RestoreWait(StrEnum):
    """Why a due restore is not being sent."""

    PLAN = "plan"
    GRID_EVENT = "grid_event"


class CommandValidationError(ValueError):
    """A command request was refused before anything was sent.

    `code` is a translation key and `placeholders` its translation placeholders,
    so the Home Assistant layer can raise a translated ServiceValidationError.
    """

    def __init__(self, code: str, placeholders: Mapping[str, str] | None = None) -> None:
        """Initialize the error."""
        self.code = code
        self.placeholders: dict[str, str] = dict(placeholders or {})
        details = ", ".join(f"{key}={value}" for key, value in self.placeholders.items())
        super().__init__(f"{code} ({details})" if details else code)


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingsSnapshot:
    """Battery settings to put back when a command ends (or seen in force)."""

    mode: AnyBatteryMode
    """A mode this integration does not know keeps Enphase's text, to be put back as is."""
    reserve_soc: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A battery command as sent; immutable, replaced by a new one when stacked."""

    command_id: str
    system_id: int
    kind: CommandKind
    target_reserve: int
    sent_at: datetime
    effective_from: datetime
    ends_at: datetime
    restore_to: SettingsSnapshot
    export_requested: bool = False

    @property
    def values(self) -> SettingsSnapshot:
        """Return the settings in force while the command runs."""
        mode = BatteryMode.SELF_CONSUMPTION if self.kind is CommandKind.DISCHARGE else None
        return SettingsSnapshot(mode=mode or self.restore_to.mode, reserve_soc=self.target_reserve)


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandStatus:
    """Everything the caller shows about one system's command: one frozen view."""

    command: Command | None = None
    restore_to: SettingsSnapshot | None = None
    """What is (or will be) put back: the running command's snapshot or the pending restore."""
    restore_failing_since: datetime | None = None
    restore_waits_for: RestoreWait | None = None
    restore_adjusted_from: int | None = None
    """The snapshot's reserve when a raised shutdown level made `restore_to` differ from it."""
    last_end_reason: EndReason | None = None
    last_ended_at: datetime | None = None

    @property
    def busy(self) -> bool:
        """Return whether a command runs or a restore is under way."""
        return self.command is not None or self.restore_to is not None

    def state(self, now: datetime) -> CommandState:
        """Return the command state at `now`."""
        if (command := self.command) is not None:
            # Past its end the command is due for restore even before a tick ran.
            if now >= command.ends_at:
                return CommandState.RESTORING
            if now < command.effective_from:
                return CommandState.PENDING
            return CommandState.ACTIVE
        if self.restore_to is not None:
            return CommandState.RESTORING
        return CommandState.IDLE


IDLE_STATUS: Final = CommandStatus()


class BatterySettingsApi(Protocol):
    """The part of the API client the engine uses."""

    async def async_get_battery_settings(self, system_id: int) -> BatterySettings:
        """Return the battery settings in force."""
        ...

    async def async_set_battery_settings(
        self,
        system_id: int,
        *,
        mode: AnyBatteryMode | None = None,
        reserve_soc: int | None = None,
    ) -> BatterySettings:
        """Change the given battery settings."""
        ...


@dataclass(slots=True)
class SystemRecord:
    """Mutable per-system bookkeeping; `command_store` saves and loads it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)
    command: Command | None = None
    # Set while the snapshot has to be put back (no command running).
    restore_to: SettingsSnapshot | None = None
    # When the restore PUT was accepted; None means it still has to be sent.
    restore_sent_at: datetime | None = None
    # The next restore attempt reads first: a write whose answer was lost may
    # or may not have landed, and only a read tells whether to undo it.
    check_first: bool = False
    next_attempt_at: datetime | None = None
    failures: int = 0
    failing_since: datetime | None = None
    blocked_by_plan: bool = False
    adjusted_from: int | None = None
    # Every setting this episode (first command to restore) wrote or found in
    # force: anything else seen at Enphase is the user's.
    known: set[SettingsSnapshot] = field(default_factory=set)
    last_end_reason: EndReason | None = None
    last_ended_at: datetime | None = None
    shutdown_level: int | None = None
    grid_event: bool | None = None
    active_announced: bool = False
    # Bumped by an override, which cannot wait for the lock: an operation that
    # awaited the API discards its result when the generation moved on.
    generation: int = 0

    def busy(self) -> bool:
        """Return whether a command runs or a restore is owed."""
        return self.command is not None or self.restore_to is not None

    def snapshot(self) -> SettingsSnapshot | None:
        """Return what is (or will be) put back: the command's snapshot or the pending one."""
        return self.command.restore_to if self.command else self.restore_to

    def waits_for(self) -> RestoreWait | None:
        """Return why a restore owed now is held back, if it is."""
        if self.restore_to is None:
            return None
        if self.grid_event:
            return RestoreWait.GRID_EVENT
        return RestoreWait.PLAN if self.blocked_by_plan else None


class Reckoning:
    """A `now` for the engine that HA's wall clock cannot stretch or shrink.

    The wall clock is read once per process (at the first call, never behind
    the reckoning saved before a restart); from then on time advances by the
    monotonic clock, and server times observed (Enphase's, the gateway's) lift
    it when it is behind them. A wall clock that jumps either way while Home
    Assistant runs therefore changes nothing, a restart with a stale clock is
    corrected by the next poll, and waits for the gateway last real time.
    """

    def __init__(self, last: datetime | None = None) -> None:
        """Start from `last` (a saved reckoning) or from nothing."""
        self._last = last
        self._mono: float | None = None

    @property
    def last(self) -> datetime | None:
        """Return the latest reckoned time, to be saved."""
        return self._last

    def now(self, wall: datetime, mono: float) -> datetime:
        """Return the reckoned time given the wall clock and a monotonic reading (seconds)."""
        if self._mono is None or self._last is None:
            when = wall if self._last is None else max(wall, self._last)
        else:
            when = self._last + timedelta(seconds=max(0.0, mono - self._mono))
        self._last, self._mono = when, mono
        return when

    def observe(self, server_time: datetime, wall: datetime, mono: float) -> None:
        """Take a time a server stamped (an upload, an interval end): real time is past it."""
        current = self.now(wall, mono)
        if current < server_time <= current + MAX_SERVER_LEAD:
            self._last = server_time


class CommandEngine:
    """Runs timed battery commands, one per system, and restores the settings after them."""

    def __init__(
        self,
        api: BatterySettingsApi,
        *,
        apply_delay: timedelta = MIN_APPLY_DELAY,
        on_change: Callable[[int], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        systems: Mapping[int, SystemRecord] | None = None,
    ) -> None:
        """Initialize the engine.

        `apply_delay` is how long the gateway takes to apply a change (at least a
        minute); `on_change(system_id)` is called whenever a system's command,
        state or restore progress changes, so the caller can save and refresh.
        `clock` gives the time after an API call (when its answer arrived);
        without it the `now` passed in is used. `systems` are loaded records
        (see `command_store`); call `resume(now)` next.
        """
        if apply_delay < MIN_APPLY_DELAY:
            msg = f"apply_delay must be at least {MIN_APPLY_DELAY}"
            raise ValueError(msg)
        self._api = api
        self._apply_delay = apply_delay
        self._on_change = on_change
        self._clock = clock
        self._systems: dict[int, SystemRecord] = dict(systems or {})

    # ------------------------------------------------------------------ queries

    def status(self, system_id: int) -> CommandStatus:
        """Return a frozen view of a system's command, restore and last end."""
        system = self._systems.get(system_id)
        if system is None:
            return IDLE_STATUS
        return CommandStatus(
            command=system.command,
            restore_to=system.snapshot(),
            restore_failing_since=system.failing_since,
            restore_waits_for=system.waits_for(),
            restore_adjusted_from=system.adjusted_from,
            last_end_reason=system.last_end_reason,
            last_ended_at=system.last_ended_at,
        )

    def records(self) -> dict[int, SystemRecord]:
        """Return the per-system records (for `command_store`; do not mutate)."""
        return dict(self._systems)

    def busy_systems(self) -> list[int]:
        """Return the systems with a command running or a restore under way."""
        return sorted(system_id for system_id, system in self._systems.items() if system.busy())

    def next_wakeup(self) -> datetime | None:
        """Return the earliest time `async_tick` must run, or None when nothing waits."""
        times: list[datetime] = []
        for system in self._systems.values():
            if (command := system.command) is not None:
                if not system.active_announced:
                    times.append(command.effective_from)
                times.append(command.ends_at)
            elif (
                system.restore_to is not None
                and system.next_attempt_at is not None
                and system.waits_for() is None
            ):
                times.append(system.next_attempt_at)
        return min(times, default=None)

    # ------------------------------------------------------------------ commands

    async def async_start(  # noqa: PLR0913 - the action's fields, all keyword-only
        self,
        system_id: int,
        kind: CommandKind,
        *,
        target_reserve: int,
        duration: timedelta,
        shutdown_level: int | None,
        now: datetime,
        export_requested: bool = False,
        grid_event_active: bool | None = None,
        writes_left: int | None = None,
    ) -> Command:
        """Start a command, replacing the running one, and return it.

        `grid_event_active` (None: unknown) refuses the command during a grid
        services event; `writes_left` (None: not capped) refuses it when the
        plan's write cap cannot pay for its PUT and its restore's.

        Raises CommandValidationError for a refusal (nothing is sent) and the
        API's errors when the settings cannot be read or changed; then the
        running command, if any, goes on unchanged. A PUT whose answer was
        lost and whose values are not seen in force is tracked for undoing.
        """
        kind = CommandKind(kind)
        _validate(target_reserve, duration, shutdown_level)
        system = self._systems.setdefault(system_id, SystemRecord())
        _check_conditions(system, grid_event_active=grid_event_active, writes_left=writes_left)
        async with system.lock:
            previous = system.command
            restore_to = previous.restore_to if previous else system.restore_to
            found: SettingsSnapshot | None = None
            if restore_to is None:
                current = await self._api.async_get_battery_settings(system_id)
                if current.shutdown_level is not None:
                    system.shutdown_level = current.shutdown_level
                _check_shutdown(target_reserve, current.shutdown_level)
                restore_to = self._snapshot_of(current, shutdown_level)
                found = SettingsSnapshot(mode=current.mode, reserve_soc=current.reserve_soc)
            else:
                _check_shutdown(target_reserve, system.shutdown_level)

            if kind is CommandKind.DISCHARGE:
                mode: AnyBatteryMode | None = BatteryMode.SELF_CONSUMPTION
            elif system.busy():
                # A discharge before may have switched the mode: a hold keeps the
                # original one, so send it back along with the new reserve.
                mode = restore_to.mode
            else:
                mode = None
            values = SettingsSnapshot(mode=mode or restore_to.mode, reserve_soc=target_reserve)
            # Known before the PUT: its echo, published at once, must not look foreign.
            if not system.busy():
                system.known = {restore_to}
                system.adjusted_from = None
            system.known |= {values, *([found] if found else [])}
            try:
                await self._api.async_set_battery_settings(
                    system_id, mode=mode, reserve_soc=target_reserve
                )
            except Exception as err:
                if not _outcome_unknown(err):
                    raise
                if not await self._reconcile(
                    system_id, system, restore_to=restore_to, values=values, now=now
                ):
                    raise
            answered = self._clock() if self._clock is not None else now

            command = Command(
                command_id=uuid4().hex,
                system_id=system_id,
                kind=kind,
                target_reserve=target_reserve,
                sent_at=now,
                effective_from=max(answered, now) + self._apply_delay,
                ends_at=now + duration,
                restore_to=restore_to,
                export_requested=export_requested,
            )
            if system.command is not None:
                system.last_end_reason = EndReason.REPLACED
                system.last_ended_at = now
            system.command = command
            system.active_announced = False
            self._clear_restore(system)
            _LOGGER.debug(
                "System %s: %s to %s %% until %s (restore to %s)",
                system_id,
                kind.value,
                target_reserve,
                command.ends_at.isoformat(),
                restore_to,
            )
            self._notify(system_id)
            return command

    async def _reconcile(
        self,
        system_id: int,
        system: SystemRecord,
        *,
        restore_to: SettingsSnapshot,
        values: SettingsSnapshot,
        now: datetime,
    ) -> bool:
        """Read back after a PUT whose answer was lost; True when its values are in force.

        Otherwise the write may still land (or have landed unseen): it is
        tracked, and a restore that reads first is due a gateway delay later,
        unless a running command's own restore already covers it.
        """
        try:
            current = await self._api.async_get_battery_settings(system_id)
        except Exception:  # noqa: BLE001 - unknown stays unknown; tracked below
            current = None
        if current is not None and _settings_of(current) == values:
            _LOGGER.info(
                "System %s: the answer to the battery command was lost, but the settings "
                "read back show it in force; the command runs",
                system_id,
            )
            return True
        if not system.busy():
            system.restore_to = restore_to
            system.check_first = True
            system.next_attempt_at = now + self._apply_delay
        _LOGGER.warning(
            "System %s: the answer to the battery command was lost and its settings are "
            "not in force; the earlier settings are checked again at %s",
            system_id,
            (now + self._apply_delay).isoformat(),
        )
        self._notify(system_id)
        return False

    async def async_cancel(self, system_id: int, now: datetime) -> None:
        """End the running command now and restore the settings.

        While a restore is already under way this tries it again at once.
        Raises CommandValidationError("no_command_running") when there is
        nothing to end. A failing restore does not raise: it is retried.
        """
        system = self._systems.get(system_id)
        if system is None:
            raise CommandValidationError(ERROR_NO_COMMAND_RUNNING)
        async with system.lock:
            if system.command is not None:
                self._end(system_id, system, EndReason.CANCELLED, now)
            elif system.restore_to is None:
                raise CommandValidationError(ERROR_NO_COMMAND_RUNNING)
            system.blocked_by_plan = False
            await self._attempt_restore(system_id, system, now)

    async def async_on_soc(
        self, system_id: int, soc_percent: float, measured_at: datetime, now: datetime
    ) -> None:
        """Take a state-of-charge reading; ends a discharge that reached its target.

        Readings measured at or before `effective_from` are ignored: they may
        predate the gateway applying the command.
        """
        system = self._systems.get(system_id)
        if system is None:
            return
        async with system.lock:
            command = system.command
            if command is None:
                return
            if now >= command.ends_at:
                self._end(system_id, system, EndReason.EXPIRED, now)
            elif (
                command.kind is CommandKind.DISCHARGE
                and measured_at > command.effective_from
                and now >= command.effective_from
                and soc_percent <= command.target_reserve
            ):
                self._end(system_id, system, EndReason.TARGET_REACHED, now)
            else:
                return
            await self._attempt_restore(system_id, system, now)

    async def async_tick(self, now: datetime) -> None:
        """Advance every system to `now`: pending→active, expiries and restore retries."""
        for system_id, system in list(self._systems.items()):
            async with system.lock:
                await self._advance(system_id, system, now)

    async def async_retry_restore(self, system_id: int, now: datetime) -> None:
        """Try a restore the plan refused again (the plan permits battery control again)."""
        system = self._systems.get(system_id)
        if system is None or not system.blocked_by_plan:
            return
        async with system.lock:
            system.blocked_by_plan = False
            system.next_attempt_at = now
            self._notify(system_id)
            await self._advance(system_id, system, now)

    def set_grid_event(self, system_id: int, *, active: bool | None, now: datetime) -> None:
        """Take whether a grid services event is active (None: unknown).

        During an event no command starts and a restore waits; when it ends, a
        waiting restore is due at once.
        """
        system = self._systems.setdefault(system_id, SystemRecord())
        if system.grid_event == active:
            return
        was_waiting = system.waits_for() is RestoreWait.GRID_EVENT
        system.grid_event = active
        if was_waiting and not active:
            _LOGGER.info("System %s: grid services event over, restoring", system_id)
            system.next_attempt_at = now
            self._notify(system_id)
        elif system.restore_to is not None and active:
            _LOGGER.info(
                "System %s: grid services event active, the restore waits for its end", system_id
            )
            self._notify(system_id)

    def observe_settings(self, system_id: int, settings: BatterySettings, now: datetime) -> None:
        """Take settings read at Enphase (a poll): a foreign value is the user's override.

        Any mode and reserve that is neither the snapshot nor one this episode
        wrote was set elsewhere (the Enphase app, an installer): the command
        ends without restoring. During a grid event the event owns the battery,
        so what is seen then proves nothing.
        """
        system = self._systems.get(system_id)
        if system is None:
            return
        if settings.shutdown_level is not None:
            system.shutdown_level = settings.shutdown_level
        if not system.busy() or system.grid_event:
            return
        seen = _settings_of(settings)
        if seen in system.known or seen == system.snapshot():
            return
        _LOGGER.info(
            "System %s: the battery settings were changed outside Home Assistant during a "
            "command (mode %s, reserve %s %%); the command ends and the earlier settings "
            "are not restored",
            system_id,
            mode_key(seen.mode),
            seen.reserve_soc,
        )
        self._override(system_id, system, now, EndReason.CHANGED_ELSEWHERE)

    def manual_override(self, system_id: int, now: datetime) -> None:
        """Record that the user changed the settings by hand: end without restoring.

        The command and its snapshot are dropped (a restore under way too), so
        the engine never undoes the user's latest choice.
        """
        system = self._systems.get(system_id)
        if system is None or not system.busy():
            return
        self._override(system_id, system, now, EndReason.MANUAL_OVERRIDE)

    def resume(self, now: datetime) -> None:
        """Pick up after a restart: expired commands are due for restore at once.

        Running commands keep their timers (see `next_wakeup`); nothing is sent
        here, the restores happen at the next `async_tick`. A restore the plan
        refused is tried again: a reload is how the user says the plan changed.
        """
        for system_id, system in self._systems.items():
            if (command := system.command) is not None:
                if now >= command.ends_at:
                    self._end(system_id, system, EndReason.EXPIRED, now)
                else:
                    system.active_announced = now >= command.effective_from
            elif system.restore_to is not None and (
                system.next_attempt_at is None or system.blocked_by_plan
            ):
                system.blocked_by_plan = False
                system.next_attempt_at = now

    # ------------------------------------------------------------------ internals

    def _notify(self, system_id: int) -> None:
        if self._on_change is not None:
            self._on_change(system_id)

    def _snapshot_of(
        self, settings: BatterySettings, shutdown_level: int | None
    ) -> SettingsSnapshot:
        # The restore PUT obeys the same floor as every command: a reserve below
        # 10 % or the shutdown level is put back at that floor, never lower.
        floor = max(MIN_RESERVE, settings.shutdown_level or 0, shutdown_level or 0)
        reserve = max(settings.reserve_soc, floor)
        if reserve != settings.reserve_soc:
            _LOGGER.warning(
                "System %s: reserve %s %% is below the floor; it will be restored as %s %%",
                settings.system_id,
                settings.reserve_soc,
                reserve,
            )
        return SettingsSnapshot(mode=settings.mode, reserve_soc=min(reserve, MAX_RESERVE))

    @staticmethod
    def _clear_restore(system: SystemRecord) -> None:
        system.restore_to = None
        system.restore_sent_at = None
        system.check_first = False
        system.next_attempt_at = None
        system.failures = 0
        system.failing_since = None
        system.blocked_by_plan = False

    def _override(
        self, system_id: int, system: SystemRecord, now: datetime, reason: EndReason
    ) -> None:
        system.generation += 1
        system.command = None
        system.active_announced = False
        self._clear_restore(system)
        system.known = set()
        system.adjusted_from = None
        system.last_end_reason = reason
        system.last_ended_at = now
        _LOGGER.debug("System %s: command dropped (%s)", system_id, reason.value)
        self._notify(system_id)

    def _end(self, system_id: int, system: SystemRecord, reason: EndReason, now: datetime) -> None:
        """Turn the running command into a restore due now."""
        command = system.command
        if command is None:  # pragma: no cover - callers check
            return
        system.command = None
        system.active_announced = False
        self._clear_restore(system)
        system.restore_to = command.restore_to
        # Read before writing back: a change made in the Enphase app since the
        # last poll is the user's and must not be overwritten. A read before
        # `effective_from` could still show the old settings, so then write at once.
        system.check_first = now >= command.effective_from
        system.next_attempt_at = now
        system.last_end_reason = reason
        system.last_ended_at = now
        _LOGGER.debug("System %s: %s ended (%s)", system_id, command.kind.value, reason.value)
        self._notify(system_id)

    async def _advance(self, system_id: int, system: SystemRecord, now: datetime) -> None:
        if (command := system.command) is not None:
            if now >= command.ends_at:
                self._end(system_id, system, EndReason.EXPIRED, now)
            else:
                if not system.active_announced and now >= command.effective_from:
                    system.active_announced = True
                    self._notify(system_id)
                return
        if (
            system.restore_to is not None
            and system.next_attempt_at is not None
            and now >= system.next_attempt_at
        ):
            await self._attempt_restore(system_id, system, now)

    async def _attempt_restore(self, system_id: int, system: SystemRecord, now: datetime) -> None:
        """Move the restore one step: PUT the snapshot, or confirm an accepted PUT."""
        if system.restore_to is None:  # pragma: no cover - callers check
            return
        if system.waits_for() is not None:
            return
        if system.check_first:
            await self._check_then_restore(system_id, system, now)
        elif system.restore_sent_at is None:
            await self._send_restore(system_id, system, now)
        # The confirmation waits until the gateway had `apply_delay` to apply the
        # PUT: an earlier read could show the original settings only because the
        # command's own change had not been applied yet, and call it done. So a
        # cancel while the PUT travels does nothing more.
        elif now >= system.restore_sent_at + self._apply_delay:
            await self._confirm_restore(system_id, system, now)
        else:
            # Called early (a grid event ended, a cancel): the confirmation
            # keeps its own time, or the wakeup would stay in the past.
            system.next_attempt_at = system.restore_sent_at + self._apply_delay

    def _allowed_target(self, system_id: int, system: SystemRecord) -> SettingsSnapshot:
        """Return the restore target, raised to a shutdown level raised since the snapshot."""
        target = system.restore_to
        assert target is not None  # noqa: S101 - callers check
        floor = min(max(MIN_RESERVE, system.shutdown_level or 0), MAX_RESERVE)
        if target.reserve_soc >= floor:
            return target
        allowed = replace(target, reserve_soc=floor)
        if system.adjusted_from is None:
            system.adjusted_from = target.reserve_soc
        system.restore_to = allowed
        system.known.add(allowed)
        _LOGGER.warning(
            "System %s: the shutdown level was raised to %s %% during the command; the "
            "reserve is restored to %s %% instead of %s %%",
            system_id,
            floor,
            floor,
            system.adjusted_from,
        )
        self._notify(system_id)
        return allowed

    async def _check_then_restore(
        self, system_id: int, system: SystemRecord, now: datetime
    ) -> None:
        """Read first: undo a lost write that landed, stop if it did not."""
        generation = system.generation
        try:
            current = await self._api.async_get_battery_settings(system_id)
        except Exception as err:  # noqa: BLE001 - any failure is retried
            if system.generation == generation:
                self._read_failed(system_id, system, now, err)
            return
        if system.generation != generation or system.restore_to is None:
            return
        if current.shutdown_level is not None:
            system.shutdown_level = current.shutdown_level
        seen = _settings_of(current)
        if seen == system.restore_to:
            # Looks done, but a write of ours may still be on its way to the
            # gateway (a wall clock ahead of it, a lost answer): confirm once
            # more a gateway delay later, as after a restore PUT.
            system.check_first = False
            system.restore_sent_at = now
            system.next_attempt_at = now + self._apply_delay
            self._notify(system_id)
        elif seen in system.known:
            system.check_first = False
            await self._send_restore(system_id, system, now)
        else:
            self._override(system_id, system, now, EndReason.CHANGED_ELSEWHERE)

    async def _send_restore(self, system_id: int, system: SystemRecord, now: datetime) -> None:
        generation = system.generation
        target = self._allowed_target(system_id, system)
        try:
            await self._api.async_set_battery_settings(
                system_id, mode=target.mode, reserve_soc=target.reserve_soc
            )
        except EnphasePlanError as err:
            if system.generation == generation:
                self._plan_refused(system_id, system, now, err)
            return
        except EnphaseUnprocessable as err:
            # Perhaps the shutdown level moved above the target: learn it and
            # try the nearest allowed value at once.
            if (
                system.generation == generation
                and await self._relearn_shutdown(system_id)
                and system.generation == generation
                and self._allowed_target(system_id, system) != target
            ):
                await self._send_restore(system_id, system, now)
                return
            if system.generation == generation:
                self._restore_failed(system_id, system, now, err)
            return
        # Any other failure, not only the client's own errors, must lead to a
        # retry: giving up would leave the battery at the command's settings.
        except Exception as err:  # noqa: BLE001
            if system.generation == generation:
                self._restore_failed(system_id, system, now, err)
            return
        if system.generation != generation:
            return
        system.restore_sent_at = now
        system.next_attempt_at = now + self._apply_delay
        self._notify(system_id)

    async def _relearn_shutdown(self, system_id: int) -> bool:
        system = self._systems[system_id]
        try:
            current = await self._api.async_get_battery_settings(system_id)
        except Exception:  # noqa: BLE001 - the restore's own retry handles it
            return False
        if current.shutdown_level is not None:
            system.shutdown_level = current.shutdown_level
        return True

    async def _confirm_restore(self, system_id: int, system: SystemRecord, now: datetime) -> None:
        generation = system.generation
        try:
            current = await self._api.async_get_battery_settings(system_id)
        except Exception as err:  # noqa: BLE001 - as in _send_restore
            if system.generation == generation:
                # The PUT was accepted: the next attempt only reads again.
                self._read_failed(system_id, system, now, err)
            return
        if system.generation != generation or system.restore_to is None:
            return
        if current.shutdown_level is not None:
            system.shutdown_level = current.shutdown_level
        seen = _settings_of(current)
        if seen == system.restore_to:
            self._done(system_id, system)
            return
        if seen not in system.known:
            self._override(system_id, system, now, EndReason.CHANGED_ELSEWHERE)
            return
        # Accepted but not applied: send it again.
        system.restore_sent_at = None
        self._restore_failed(system_id, system, now, None)

    def _done(self, system_id: int, system: SystemRecord) -> None:
        target = system.restore_to
        self._clear_restore(system)
        system.known = set()
        _LOGGER.debug("System %s: settings restored to %s", system_id, target)
        self._notify(system_id)

    def _read_failed(
        self, system_id: int, system: SystemRecord, now: datetime, err: Exception
    ) -> None:
        if isinstance(err, EnphasePlanError):
            self._plan_refused(system_id, system, now, err)
        else:
            self._restore_failed(system_id, system, now, err)

    def _plan_refused(
        self, system_id: int, system: SystemRecord, now: datetime, err: Exception
    ) -> None:
        system.blocked_by_plan = True
        system.next_attempt_at = None
        if system.failing_since is None:
            system.failing_since = now
        _LOGGER.warning(
            "System %s: the Enphase plan no longer permits battery control (%s); the "
            "earlier settings are restored once it does again (or on reload)",
            system_id,
            err,
        )
        self._notify(system_id)

    def _restore_failed(
        self, system_id: int, system: SystemRecord, now: datetime, err: Exception | None
    ) -> None:
        system.failures += 1
        delay = min(RESTORE_RETRY_FIRST * 2 ** min(system.failures - 1, 16), RESTORE_RETRY_MAX)
        next_attempt = now + delay
        if isinstance(err, EnphaseRateLimited) and err.retry_at > next_attempt:
            next_attempt = err.retry_at
        system.next_attempt_at = next_attempt
        if system.failing_since is None:
            system.failing_since = now
        _LOGGER.warning(
            "System %s: restoring the battery settings failed (%s); retrying at %s",
            system_id,
            err if err is not None else "settings not applied",
            next_attempt.isoformat(),
        )
        self._notify(system_id)


# ---------------------------------------------------------------------- helpers


def _settings_of(settings: BatterySettings) -> SettingsSnapshot:
    return SettingsSnapshot(mode=settings.mode, reserve_soc=settings.reserve_soc)


def _outcome_unknown(err: BaseException) -> bool:
    """Return whether a failed PUT may still have been applied.

    A refusal Enphase answered (or the budget's own) changed nothing; a lost
    answer, a garbled one or a server error may have come after the change.
    """
    if isinstance(err, (EnphaseConnectionError, EnphaseResponseError, EnphaseServerError)):
        return True
    return not isinstance(err, EnphaseError)


def _is_int(value: object) -> TypeIs[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(target_reserve: object, duration: object, shutdown_level: int | None) -> None:
    if not _is_int(target_reserve) or not MIN_RESERVE <= target_reserve <= MAX_RESERVE:
        raise CommandValidationError(
            ERROR_RESERVE_OUT_OF_RANGE,
            {"min": str(MIN_RESERVE), "max": str(MAX_RESERVE), "value": str(target_reserve)},
        )
    _check_shutdown(target_reserve, shutdown_level)
    if not isinstance(duration, timedelta) or not timedelta(0) < duration <= MAX_DURATION:
        raise CommandValidationError(
            ERROR_DURATION_OUT_OF_RANGE,
            {"max_hours": str(int(MAX_DURATION.total_seconds() // 3600)), "value": str(duration)},
        )


def _check_conditions(
    system: SystemRecord, *, grid_event_active: bool | None, writes_left: int | None
) -> None:
    """Refuse a command during a grid event or when the write cap cannot pay for it."""
    if grid_event_active is not None:
        system.grid_event = grid_event_active
    if system.grid_event:
        raise CommandValidationError(ERROR_GRID_EVENT_ACTIVE)
    if writes_left is not None and writes_left < WRITES_PER_COMMAND:
        raise CommandValidationError(
            ERROR_WRITE_QUOTA, {"needed": str(WRITES_PER_COMMAND), "left": str(writes_left)}
        )


def _check_shutdown(target_reserve: int, shutdown_level: int | None) -> None:
    if shutdown_level is not None and target_reserve < shutdown_level:
        raise CommandValidationError(
            ERROR_RESERVE_BELOW_SHUTDOWN,
            {"shutdown_level": str(shutdown_level), "value": str(target_reserve)},
        )
