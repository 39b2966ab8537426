"""Battery command engine: timed reserve holds and discharges, restored afterwards.

A command changes the battery settings for a while and puts them back when it
ends. The engine is pure asyncio (no Home Assistant import) so the rules that
must never be wrong can be tested exhaustively:

- The settings in force before the first command on a system are read fresh
  and kept as the snapshot; a command that replaces a running one (or one whose
  restore is still under way) keeps that original snapshot, so stacking never
  restores to an intermediate state.
- The gateway applies a change a minute or more after the PUT: until
  `effective_from` the command is pending and no telemetry is trusted to say
  the target was reached.
- A command ends when a discharge reaches its target, when `ends_at` passes,
  or on cancel; the snapshot is then PUT back and confirmed by reading the
  settings. A restore that fails is retried with exponential back-off, forever,
  and `restore_failing_since` tells the caller to raise a repair issue.
- A change made by hand ends the command without restoring: the user's latest
  intent wins.

Time is always passed in (`now`, aware datetimes): the engine never reads a
clock, and the caller runs `async_tick` at `next_wakeup()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import logging
from typing import Any, Final, Protocol, Self, TypeIs
from uuid import uuid4

from .api.errors import EnphaseRateLimited
from .api.models import AnyBatteryMode, BatteryMode, BatterySettings, mode_from_key, mode_key

_LOGGER = logging.getLogger(__name__)

MIN_RESERVE: Final = 10
"""Lowest reserve a command may set, in percent, whatever the shutdown level."""
MAX_RESERVE: Final = 100
MAX_DURATION: Final = timedelta(hours=4)
MIN_APPLY_DELAY: Final = timedelta(minutes=1)
"""The gateway applies a change a minute or more after the PUT."""
RESTORE_RETRY_FIRST: Final = timedelta(seconds=30)
RESTORE_RETRY_MAX: Final = timedelta(minutes=15)
STORAGE_VERSION: Final = 1

# Translation keys of CommandValidationError.code.
ERROR_RESERVE_OUT_OF_RANGE: Final = "reserve_out_of_range"
ERROR_RESERVE_BELOW_SHUTDOWN: Final = "reserve_below_shutdown"
ERROR_DURATION_OUT_OF_RANGE: Final = "duration_out_of_range"
ERROR_NO_COMMAND_RUNNING: Final = "no_command_running"


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
    """Battery settings to put back when a command ends."""

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
class _System:
    """Mutable per-system bookkeeping; the object lives as long as the engine."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    command: Command | None = None
    # Set while the snapshot has to be put back (no command running).
    restore_to: SettingsSnapshot | None = None
    # When the restore PUT was accepted; None means it still has to be sent.
    restore_sent_at: datetime | None = None
    next_attempt_at: datetime | None = None
    failures: int = 0
    failing_since: datetime | None = None
    last_end_reason: EndReason | None = None
    last_ended_at: datetime | None = None
    shutdown_level: int | None = None
    active_announced: bool = False
    # Bumped by manual_override, which cannot wait for the lock: an operation
    # that awaited the API discards its result when the generation moved on.
    generation: int = 0

    def busy(self) -> bool:
        return self.command is not None or self.restore_to is not None

    def snapshot(self) -> SettingsSnapshot | None:
        """Return what is (or will be) put back: the command's snapshot or the pending one."""
        return self.command.restore_to if self.command else self.restore_to


class CommandEngine:
    """Runs timed battery commands, one per system, and restores the settings after them."""

    def __init__(
        self,
        api: BatterySettingsApi,
        *,
        apply_delay: timedelta = MIN_APPLY_DELAY,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        """Initialize the engine.

        `apply_delay` is how long the gateway takes to apply a change (at least a
        minute); `on_change(system_id)` is called whenever a system's command,
        state or restore progress changes, so the caller can save and refresh.
        """
        if apply_delay < MIN_APPLY_DELAY:
            msg = f"apply_delay must be at least {MIN_APPLY_DELAY}"
            raise ValueError(msg)
        self._api = api
        self._apply_delay = apply_delay
        self._on_change = on_change
        self._systems: dict[int, _System] = {}

    # ------------------------------------------------------------------ queries

    @property
    def apply_delay(self) -> timedelta:
        """Return how long after a PUT the gateway is assumed to apply it."""
        return self._apply_delay

    def state(self, system_id: int, now: datetime) -> CommandState:
        """Return the command state of a system at `now`."""
        system = self._systems.get(system_id)
        if system is None:
            return CommandState.IDLE
        if (command := system.command) is not None:
            # Past its end the command is due for restore even before a tick ran.
            if now >= command.ends_at:
                return CommandState.RESTORING
            if now < command.effective_from:
                return CommandState.PENDING
            return CommandState.ACTIVE
        if system.restore_to is not None:
            return CommandState.RESTORING
        return CommandState.IDLE

    def command(self, system_id: int) -> Command | None:
        """Return the running command of a system, if any."""
        system = self._systems.get(system_id)
        return system.command if system else None

    def restore_to(self, system_id: int) -> SettingsSnapshot | None:
        """Return the snapshot that will be (or is being) put back, if any."""
        system = self._systems.get(system_id)
        return system.snapshot() if system else None

    def restore_failing_since(self, system_id: int) -> datetime | None:
        """Return when the current restore started failing, or None when it is not failing."""
        system = self._systems.get(system_id)
        return system.failing_since if system else None

    def next_restore_attempt(self, system_id: int) -> datetime | None:
        """Return when the pending restore is tried (or checked) next."""
        system = self._systems.get(system_id)
        return system.next_attempt_at if system and system.restore_to else None

    def last_end_reason(self, system_id: int) -> str | None:
        """Return why the last command of a system ended (an `EndReason`)."""
        system = self._systems.get(system_id)
        return system.last_end_reason if system else None

    def last_ended_at(self, system_id: int) -> datetime | None:
        """Return when the last command of a system ended."""
        system = self._systems.get(system_id)
        return system.last_ended_at if system else None

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
            elif system.restore_to is not None and system.next_attempt_at is not None:
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
    ) -> Command:
        """Start a command, replacing the running one, and return it.

        Raises CommandValidationError for invalid arguments (nothing is sent) and
        the API's errors when the settings cannot be read or changed; then the
        running command, if any, goes on unchanged and a first command leaves
        nothing behind.
        """
        kind = CommandKind(kind)
        _validate(target_reserve, duration, shutdown_level)
        system = self._systems.setdefault(system_id, _System())
        async with system.lock:
            previous = system.command
            restore_to = previous.restore_to if previous else system.restore_to
            if restore_to is None:
                current = await self._api.async_get_battery_settings(system_id)
                if current.shutdown_level is not None:
                    system.shutdown_level = current.shutdown_level
                _check_shutdown(target_reserve, current.shutdown_level)
                restore_to = self._snapshot_of(current, shutdown_level)
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
            await self._api.async_set_battery_settings(
                system_id, mode=mode, reserve_soc=target_reserve
            )

            command = Command(
                command_id=uuid4().hex,
                system_id=system_id,
                kind=kind,
                target_reserve=target_reserve,
                sent_at=now,
                effective_from=now + self._apply_delay,
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
                kind,
                target_reserve,
                command.ends_at.isoformat(),
                restore_to,
            )
            self._notify(system_id)
            return command

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

    def manual_override(self, system_id: int, now: datetime) -> None:
        """Record that the user changed the settings by hand: end without restoring.

        The command and its snapshot are dropped (a restore under way too), so
        the engine never undoes the user's latest choice.
        """
        system = self._systems.get(system_id)
        if system is None or not system.busy():
            return
        system.generation += 1
        system.command = None
        self._clear_restore(system)
        system.last_end_reason = EndReason.MANUAL_OVERRIDE
        system.last_ended_at = now
        _LOGGER.debug("System %s: settings changed by hand, command dropped", system_id)
        self._notify(system_id)

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """Return the engine's state as JSON-safe data for a Store."""
        systems: list[dict[str, Any]] = [
            {
                "system_id": system_id,
                "command": _command_to_dict(system.command) if system.command else None,
                "restore_to": _snapshot_to_dict(system.restore_to) if system.restore_to else None,
                "restore_sent_at": _dt_to_str(system.restore_sent_at),
                "next_attempt_at": _dt_to_str(system.next_attempt_at),
                "failures": system.failures,
                "failing_since": _dt_to_str(system.failing_since),
                "last_end_reason": system.last_end_reason,
                "last_ended_at": _dt_to_str(system.last_ended_at),
                "shutdown_level": system.shutdown_level,
            }
            for system_id, system in sorted(self._systems.items())
            if system.busy() or system.last_end_reason is not None
        ]
        return {"version": STORAGE_VERSION, "systems": systems}

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any] | None,
        api: BatterySettingsApi,
        *,
        apply_delay: timedelta = MIN_APPLY_DELAY,
        on_change: Callable[[int], None] | None = None,
    ) -> Self:
        """Return an engine rebuilt from `to_dict` data; call `resume(now)` next.

        An unreadable system entry is dropped with an error in the log rather
        than preventing the integration from starting.
        """
        engine = cls(api, apply_delay=apply_delay, on_change=on_change)
        engine._systems.update(_systems_from_dict(data))
        return engine

    def resume(self, now: datetime) -> None:
        """Pick up after a restart: expired commands are due for restore at once.

        Running commands keep their timers (see `next_wakeup`); nothing is sent
        here, the restores happen at the next `async_tick`.
        """
        for system_id, system in self._systems.items():
            if (command := system.command) is not None:
                if now >= command.ends_at:
                    self._end(system_id, system, EndReason.EXPIRED, now)
                else:
                    system.active_announced = now >= command.effective_from
            elif system.restore_to is not None and system.next_attempt_at is None:
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
    def _clear_restore(system: _System) -> None:
        system.restore_to = None
        system.restore_sent_at = None
        system.next_attempt_at = None
        system.failures = 0
        system.failing_since = None

    def _end(self, system_id: int, system: _System, reason: EndReason, now: datetime) -> None:
        """Turn the running command into a restore due now."""
        command = system.command
        if command is None:  # pragma: no cover - callers check
            return
        system.command = None
        system.active_announced = False
        self._clear_restore(system)
        system.restore_to = command.restore_to
        system.next_attempt_at = now
        system.last_end_reason = reason
        system.last_ended_at = now
        _LOGGER.debug("System %s: %s ended (%s)", system_id, command.kind, reason)
        self._notify(system_id)

    async def _advance(self, system_id: int, system: _System, now: datetime) -> None:
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

    async def _attempt_restore(self, system_id: int, system: _System, now: datetime) -> None:
        """Move the restore one step: PUT the snapshot, or confirm an accepted PUT."""
        target = system.restore_to
        if target is None:  # pragma: no cover - callers check
            return
        if system.restore_sent_at is None:
            await self._send_restore(system_id, system, target, now)
        # The confirmation waits until the gateway had `apply_delay` to apply the
        # PUT: an earlier read could show the original settings only because the
        # command's own change had not been applied yet, and call it done. So a
        # cancel while the PUT travels does nothing more.
        elif now >= system.restore_sent_at + self._apply_delay:
            await self._confirm_restore(system_id, system, target, now)

    async def _send_restore(
        self, system_id: int, system: _System, target: SettingsSnapshot, now: datetime
    ) -> None:
        generation = system.generation
        try:
            await self._api.async_set_battery_settings(
                system_id, mode=target.mode, reserve_soc=target.reserve_soc
            )
        # Any failure, not only the client's own errors, must lead to a retry:
        # giving up would leave the battery at the command's settings for good.
        except Exception as err:  # noqa: BLE001
            if system.generation == generation:
                self._restore_failed(system_id, system, now, err)
            return
        if system.generation != generation:
            return
        system.restore_sent_at = now
        system.next_attempt_at = now + self._apply_delay
        self._notify(system_id)

    async def _confirm_restore(
        self, system_id: int, system: _System, target: SettingsSnapshot, now: datetime
    ) -> None:
        generation = system.generation
        try:
            current = await self._api.async_get_battery_settings(system_id)
        except Exception as err:  # noqa: BLE001 - as in _send_restore
            if system.generation == generation:
                # The PUT was accepted: the next attempt only reads again.
                self._restore_failed(system_id, system, now, err)
            return
        if system.generation != generation:
            return
        if current.mode == target.mode and current.reserve_soc == target.reserve_soc:
            self._clear_restore(system)
            _LOGGER.debug("System %s: settings restored to %s", system_id, target)
            self._notify(system_id)
            return
        # Accepted but not applied, or changed since outside Home Assistant:
        # send it again.
        system.restore_sent_at = None
        self._restore_failed(system_id, system, now, None)

    def _restore_failed(
        self, system_id: int, system: _System, now: datetime, err: Exception | None
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


# ---------------------------------------------------------------------- validation


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


def _check_shutdown(target_reserve: int, shutdown_level: int | None) -> None:
    if shutdown_level is not None and target_reserve < shutdown_level:
        raise CommandValidationError(
            ERROR_RESERVE_BELOW_SHUTDOWN,
            {"shutdown_level": str(shutdown_level), "value": str(target_reserve)},
        )


# ---------------------------------------------------------------------- serialisation


def _dt_to_str(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt_from(value: object) -> datetime:
    if not isinstance(value, str):
        msg = f"expected an ISO datetime, got {value!r}"
        raise TypeError(msg)
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        msg = f"datetime without time zone: {value!r}"
        raise ValueError(msg)
    return parsed


def _opt_dt_from(value: object) -> datetime | None:
    return None if value is None else _dt_from(value)


def _int_from(value: object) -> int:
    if not _is_int(value):
        msg = f"expected an integer, got {value!r}"
        raise TypeError(msg)
    return value


def _snapshot_to_dict(snapshot: SettingsSnapshot) -> dict[str, Any]:
    return {"mode": mode_key(snapshot.mode), "reserve_soc": snapshot.reserve_soc}


def _snapshot_from_dict(data: Mapping[str, Any]) -> SettingsSnapshot:
    return SettingsSnapshot(
        mode=mode_from_key(data["mode"]), reserve_soc=_int_from(data["reserve_soc"])
    )


def _command_to_dict(command: Command) -> dict[str, Any]:
    return {
        "command_id": command.command_id,
        "system_id": command.system_id,
        "kind": command.kind.value,
        "target_reserve": command.target_reserve,
        "sent_at": command.sent_at.isoformat(),
        "effective_from": command.effective_from.isoformat(),
        "ends_at": command.ends_at.isoformat(),
        "restore_to": _snapshot_to_dict(command.restore_to),
        "export_requested": command.export_requested,
    }


def _command_from_dict(data: Mapping[str, Any]) -> Command:
    return Command(
        command_id=str(data["command_id"]),
        system_id=_int_from(data["system_id"]),
        kind=CommandKind(data["kind"]),
        target_reserve=_int_from(data["target_reserve"]),
        sent_at=_dt_from(data["sent_at"]),
        effective_from=_dt_from(data["effective_from"]),
        ends_at=_dt_from(data["ends_at"]),
        restore_to=_snapshot_from_dict(data["restore_to"]),
        export_requested=bool(data.get("export_requested", False)),
    )


def stored_restores(data: Mapping[str, Any] | None) -> dict[int, SettingsSnapshot]:
    """Return, per system, the snapshot that `to_dict` data still has to put back.

    For a caller that sends the restores itself, once, without an engine (an
    entry being removed): nothing will confirm or retry them afterwards.
    """
    return {
        system_id: snapshot
        for system_id, system in _systems_from_dict(data).items()
        if (snapshot := system.snapshot()) is not None
    }


def _systems_from_dict(data: Mapping[str, Any] | None) -> dict[int, _System]:
    """Read `to_dict` data; an unreadable system entry is dropped with an error logged."""
    if not data:
        return {}
    if data.get("version") != STORAGE_VERSION:
        _LOGGER.error("Unsupported battery command storage version %r", data.get("version"))
        return {}
    systems: dict[int, _System] = {}
    items = data.get("systems")
    for item in items if isinstance(items, list) else []:
        try:
            system_id, system = _system_from_dict(item)
        except (KeyError, TypeError, ValueError) as err:
            _LOGGER.error(  # noqa: TRY400 - a traceback adds nothing to bad data
                "Dropping unreadable stored battery command %r: %s", item, err
            )
            continue
        systems[system_id] = system
    return systems


def _system_from_dict(data: object) -> tuple[int, _System]:
    if not isinstance(data, Mapping):
        msg = f"expected an object, got {data!r}"
        raise TypeError(msg)
    command = _command_from_dict(data["command"]) if data.get("command") else None
    restore_to = _snapshot_from_dict(data["restore_to"]) if data.get("restore_to") else None
    reason = data.get("last_end_reason")
    shutdown_level = data.get("shutdown_level")
    system = _System(
        command=command,
        restore_to=restore_to,
        restore_sent_at=_opt_dt_from(data.get("restore_sent_at")),
        next_attempt_at=_opt_dt_from(data.get("next_attempt_at")),
        failures=_int_from(data.get("failures", 0)),
        failing_since=_opt_dt_from(data.get("failing_since")),
        last_end_reason=EndReason(reason) if reason is not None else None,
        last_ended_at=_opt_dt_from(data.get("last_ended_at")),
        shutdown_level=None if shutdown_level is None else _int_from(shutdown_level),
    )
    return _int_from(data["system_id"]), system
