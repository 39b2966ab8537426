"""Tests for the battery command engine (pure asyncio, no Home Assistant)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
import json
import logging
import os
from typing import Any

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
import pytest

from custom_components.enphase_cloud.api.errors import (
    EnphaseConnectionError,
    EnphaseError,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseServerError,
    EnphaseUnprocessable,
)
from custom_components.enphase_cloud.api.models import BatteryMode, BatterySettings
from custom_components.enphase_cloud.command_engine import (
    MAX_DURATION,
    MIN_RESERVE,
    Command,
    CommandEngine,
    CommandKind,
    CommandState,
    CommandStatus,
    CommandValidationError,
    EndReason,
    Reckoning,
    RestoreWait,
    SettingsSnapshot,
)
from custom_components.enphase_cloud.command_store import (
    engine_to_dict,
    reckoned_from_dict,
    records_from_dict,
    stored_restores,
)

SYSTEM = 1001
OTHER = 1002
T0 = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
ORIGINAL = SettingsSnapshot(mode=BatteryMode.SAVINGS, reserve_soc=30)


@dataclass(frozen=True, slots=True)
class Put:
    """One PUT the fake received (accepted or not)."""

    system_id: int
    mode: BatteryMode | None
    reserve_soc: int | None
    at: datetime
    during_event: bool = False


class Clock:
    """A clock the test moves by hand; the fake reads it to model the gateway delay."""

    def __init__(self, now: datetime = T0) -> None:
        """Start at `now`."""
        self.now = now

    def __call__(self) -> datetime:
        """Return the current time."""
        return self.now


class FakeBatteryApi:
    """In-memory battery_settings endpoint.

    Records every PUT attempt, fails the next calls with queued errors, refuses
    a reserve below the shutdown level like Enphase (422), and can model the
    gateway applying a change `gateway_delay` after the PUT (reads show the
    applied settings).
    """

    def __init__(self, clock: Clock | None = None, gateway_delay: timedelta = timedelta(0)) -> None:
        """Create the fake with no systems."""
        self.clock = clock or Clock()
        self.gateway_delay = gateway_delay
        self._applied: dict[int, BatterySettings] = {}
        self._queue: list[tuple[datetime, int, BatterySettings]] = []
        self.put_attempts: list[Put] = []
        self.get_count = 0
        self.put_errors: deque[Exception] = deque()
        self.get_errors: deque[Exception] = deque()
        self.gate: asyncio.Event | None = None
        self.lost_answers = 0
        """The next PUTs are applied, but their answers are lost (a client timeout)."""
        self.write_cap: int | None = None
        self.writes = 0
        self.events: set[int] = set()
        """Systems whose battery a grid services event controls now."""

    def add_system(
        self,
        system_id: int = SYSTEM,
        *,
        mode: BatteryMode = ORIGINAL.mode,
        reserve: int = ORIGINAL.reserve_soc,
        shutdown_level: int | None = 10,
    ) -> None:
        """Add a system with a battery."""
        self._applied[system_id] = BatterySettings(
            system_id=system_id,
            mode=mode,
            reserve_soc=reserve,
            energy_independence=True,
            charge_from_grid=False,
            shutdown_level=shutdown_level,
        )

    def visible(self, system_id: int = SYSTEM) -> BatterySettings:
        """Return the settings in force now (queued changes that are due applied)."""
        now = self.clock()
        due = [entry for entry in self._queue if entry[0] <= now]
        self._queue = [entry for entry in self._queue if entry[0] > now]
        for _, sid, values in due:
            self._applied[sid] = values
        return self._applied[system_id]

    def snapshot(self, system_id: int = SYSTEM) -> SettingsSnapshot:
        """Return the settings in force as a snapshot."""
        current = self.visible(system_id)
        return SettingsSnapshot(mode=current.mode, reserve_soc=current.reserve_soc)

    def change_by_hand(self, system_id: int, mode: BatteryMode, reserve: int) -> None:
        """Model the user changing the settings (their change lands last)."""
        self._queue = [entry for entry in self._queue if entry[1] != system_id]
        self._applied[system_id] = replace(self.visible(system_id), mode=mode, reserve_soc=reserve)

    def set_shutdown(self, system_id: int, level: int) -> None:
        """Model the installer raising (or lowering) the shutdown level."""
        self._queue = [
            (when, sid, replace(values, shutdown_level=level) if sid == system_id else values)
            for when, sid, values in self._queue
        ]
        self._applied[system_id] = replace(self.visible(system_id), shutdown_level=level)

    def writes_left(self) -> int | None:
        """Return the writes the cap still allows (None: no cap)."""
        return None if self.write_cap is None else max(0, self.write_cap - self.writes)

    def puts(self, system_id: int = SYSTEM) -> list[tuple[BatteryMode | None, int | None]]:
        """Return (mode, reserve) of every PUT attempt on a system."""
        return [(p.mode, p.reserve_soc) for p in self.put_attempts if p.system_id == system_id]

    async def _wait_gate(self) -> None:
        if self.gate is not None:
            await self.gate.wait()

    async def async_get_battery_settings(self, system_id: int) -> BatterySettings:
        """Return the settings in force, or raise the next queued error."""
        await self._wait_gate()
        self.get_count += 1
        if self.get_errors:
            raise self.get_errors.popleft()
        return self.visible(system_id)

    async def async_set_battery_settings(
        self,
        system_id: int,
        *,
        mode: BatteryMode | None = None,
        reserve_soc: int | None = None,
    ) -> BatterySettings:
        """Queue a change (applied after the gateway delay) and echo it."""
        self.put_attempts.append(
            Put(system_id, mode, reserve_soc, self.clock(), system_id in self.events)
        )
        await self._wait_gate()
        if self.put_errors:
            raise self.put_errors.popleft()
        if self.write_cap is not None:
            if self.writes >= self.write_cap:
                raise EnphaseRateLimited(period="month", retry_at=self.clock() + 30 * HOUR)
            self.writes += 1
        requested = self.visible(system_id)
        for _, sid, values in self._queue:
            if sid == system_id:
                requested = values
        shutdown = requested.shutdown_level or 0
        if reserve_soc is not None and reserve_soc < shutdown:
            raise EnphaseUnprocessable(details="reserve below shutdown level")
        requested = replace(
            requested,
            mode=mode or requested.mode,
            reserve_soc=requested.reserve_soc if reserve_soc is None else reserve_soc,
        )
        self._queue.append((self.clock() + self.gateway_delay, system_id, requested))
        self.visible(system_id)
        if self.lost_answers:
            self.lost_answers -= 1
            msg = "Timeout waiting for Enphase (battery_settings/put)"
            raise EnphaseConnectionError(msg)
        return requested


@pytest.fixture
def clock() -> Clock:
    """Return a hand-moved clock at T0."""
    return Clock()


@pytest.fixture
def api(clock: Clock) -> FakeBatteryApi:
    """Return the fake API with SYSTEM in savings mode, reserve 30 %."""
    fake = FakeBatteryApi(clock)
    fake.add_system()
    return fake


@pytest.fixture
def changes() -> list[int]:
    """Collect the system ids passed to on_change."""
    return []


@pytest.fixture
def engine(api: FakeBatteryApi, changes: list[int]) -> CommandEngine:
    """Return an engine with the default one-minute apply delay."""
    return CommandEngine(api, on_change=changes.append)


async def start(
    engine: CommandEngine,
    kind: CommandKind = CommandKind.HOLD_RESERVE,
    *,
    target: int = 80,
    duration: timedelta = HOUR,
    now: datetime = T0,
    shutdown_level: int | None = 10,
    system_id: int = SYSTEM,
) -> Command:
    """Start a command with defaults that pass validation."""
    return await engine.async_start(
        system_id,
        kind,
        target_reserve=target,
        duration=duration,
        shutdown_level=shutdown_level,
        now=now,
    )


async def run_until(engine: CommandEngine, clock: Clock, until: datetime) -> None:
    """Tick the engine at each wakeup up to `until`, as the HA layer does."""
    while (wakeup := engine.next_wakeup()) is not None and wakeup <= until:
        clock.now = max(clock.now, wakeup)
        await engine.async_tick(clock.now)
    clock.now = max(clock.now, until)
    await engine.async_tick(clock.now)


def load_engine(data: Any, api: FakeBatteryApi, **kwargs: Any) -> CommandEngine:
    """Build an engine from stored data, as the runner does."""
    return CommandEngine(api, systems=records_from_dict(data), **kwargs)


def roundtrip(engine: CommandEngine, api: FakeBatteryApi, **kwargs: Any) -> CommandEngine:
    """Serialize the engine through JSON and build a new one, as after a restart."""
    data = json.loads(json.dumps(engine_to_dict(engine)))
    return load_engine(data, api, **kwargs)


# ---------------------------------------------------------------------- end to end


async def test_hold_reserve_end_to_end(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock, changes: list[int]
) -> None:
    command = await start(engine, target=80, duration=HOUR)

    assert command.kind is CommandKind.HOLD_RESERVE
    assert command.system_id == SYSTEM
    assert len(command.command_id) == 32
    assert command.sent_at == T0
    assert command.effective_from == T0 + MINUTE
    assert command.ends_at == T0 + HOUR
    assert command.restore_to == ORIGINAL
    assert engine.status(SYSTEM).command == command
    assert engine.status(SYSTEM).state(T0) is CommandState.PENDING
    # The first PUT only touches the reserve: the mode is left as it is.
    assert api.puts() == [(None, 80)]
    assert changes == [SYSTEM]
    assert engine.next_wakeup() == T0 + MINUTE

    await run_until(engine, clock, T0 + MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.ACTIVE
    assert changes == [SYSTEM, SYSTEM]
    assert engine.next_wakeup() == T0 + HOUR
    # A hold does not end on the state of charge.
    await engine.async_on_soc(SYSTEM, 5, T0 + 30 * MINUTE, T0 + 31 * MINUTE)
    assert engine.status(SYSTEM).state(T0 + 31 * MINUTE) is CommandState.ACTIVE

    # Past its end, before the tick, the command already reads as restoring.
    assert engine.status(SYSTEM).state(T0 + HOUR) is CommandState.RESTORING
    clock.now = T0 + HOUR
    await engine.async_tick(clock.now)
    assert engine.status(SYSTEM).command is None
    assert engine.status(SYSTEM).state(clock.now) is CommandState.RESTORING
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)
    assert engine.status(SYSTEM).last_end_reason == EndReason.EXPIRED
    assert engine.status(SYSTEM).last_ended_at == T0 + HOUR
    assert engine.status(SYSTEM).restore_to == ORIGINAL
    # Confirmed only once the gateway had time to apply the restore.
    assert engine.next_wakeup() == T0 + HOUR + MINUTE

    await run_until(engine, clock, T0 + 2 * HOUR)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert engine.status(SYSTEM).restore_to is None
    assert engine.next_wakeup() is None
    assert engine.status(SYSTEM).restore_failing_since is None
    assert api.snapshot() == ORIGINAL
    assert len(api.puts()) == 2


async def test_discharge_end_to_end_target_reached(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    command = await start(engine, CommandKind.DISCHARGE, target=20, duration=2 * HOUR)

    # A discharge is self-consumption down to the target reserve.
    assert api.puts() == [(BatteryMode.SELF_CONSUMPTION, 20)]
    assert api.visible().mode is BatteryMode.SELF_CONSUMPTION
    assert command.restore_to == ORIGINAL

    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.ACTIVE
    await engine.async_on_soc(SYSTEM, 20.5, clock.now, clock.now)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.ACTIVE

    await engine.async_on_soc(SYSTEM, 20.0, clock.now, clock.now)
    assert engine.status(SYSTEM).command is None
    assert engine.status(SYSTEM).last_end_reason == EndReason.TARGET_REACHED
    assert engine.status(SYSTEM).state(clock.now) is CommandState.RESTORING
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)

    await run_until(engine, clock, clock.now + 5 * MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL


async def test_discharge_expires_without_reaching_target(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, CommandKind.DISCHARGE, target=20, duration=30 * MINUTE)
    await engine.async_on_soc(SYSTEM, 40, T0 + 10 * MINUTE, T0 + 10 * MINUTE)

    await run_until(engine, clock, T0 + HOUR)

    assert engine.status(SYSTEM).last_end_reason == EndReason.EXPIRED
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL


async def test_soc_after_end_expires_the_command(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    await start(engine, CommandKind.DISCHARGE, target=20, duration=30 * MINUTE)

    # No tick ran at ends_at: a late reading still ends it as expired.
    await engine.async_on_soc(SYSTEM, 50, T0 + 31 * MINUTE, T0 + 31 * MINUTE)

    assert engine.status(SYSTEM).last_end_reason == EndReason.EXPIRED
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)


@pytest.mark.parametrize(
    ("measured_at", "now"),
    [
        # Telemetry from before the command, read while pending.
        (T0 - 5 * MINUTE, T0 + 30 * timedelta(seconds=1)),
        # Old telemetry arriving after the command became active.
        (T0 + 30 * timedelta(seconds=1), T0 + 10 * MINUTE),
        # Exactly at effective_from: it may predate the gateway applying the change.
        (T0 + MINUTE, T0 + 10 * MINUTE),
        # A reading stamped in the future must not end a pending command early.
        (T0 + 2 * MINUTE, T0 + 30 * timedelta(seconds=1)),
    ],
)
async def test_pending_window_ignores_stale_telemetry(
    engine: CommandEngine, api: FakeBatteryApi, measured_at: datetime, now: datetime
) -> None:
    await start(engine, CommandKind.DISCHARGE, target=20)

    await engine.async_on_soc(SYSTEM, 10, measured_at, now)

    assert engine.status(SYSTEM).command is not None
    assert len(api.puts()) == 1
    # The first reading newer than effective_from counts.
    await engine.async_on_soc(SYSTEM, 10, T0 + MINUTE + timedelta(seconds=1), T0 + 10 * MINUTE)
    assert engine.status(SYSTEM).last_end_reason == EndReason.TARGET_REACHED


async def test_soc_for_unknown_or_idle_system_is_ignored(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    await engine.async_on_soc(OTHER, 5, T0, T0)
    await start(engine, CommandKind.DISCHARGE, target=20)
    await engine.async_cancel(SYSTEM, T0 + MINUTE)
    await engine.async_on_soc(SYSTEM, 5, T0 + 2 * MINUTE, T0 + 2 * MINUTE)

    assert engine.status(OTHER).state(T0) is CommandState.IDLE
    assert len(api.puts()) == 2


async def test_command_shorter_than_apply_delay_never_becomes_active(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, duration=timedelta(seconds=30))
    assert engine.next_wakeup() == T0 + timedelta(seconds=30)

    await run_until(engine, clock, T0 + 5 * MINUTE)

    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL


# ---------------------------------------------------------------------- stacking


async def test_stacking_keeps_the_original_snapshot(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, target=80)
    clock.now = T0 + 10 * MINUTE
    second = await start(engine, CommandKind.DISCHARGE, target=20, now=clock.now)
    assert engine.status(SYSTEM).last_end_reason == EndReason.REPLACED
    clock.now = T0 + 20 * MINUTE
    third = await start(engine, target=50, duration=HOUR, now=clock.now)

    assert api.get_count == 1  # only the first command reads the snapshot
    assert second.restore_to == ORIGINAL
    assert third.restore_to == ORIGINAL
    assert engine.status(SYSTEM).command == third
    assert third.command_id != second.command_id
    # The hold after a discharge puts the original mode back with its reserve.
    assert api.puts() == [
        (None, 80),
        (BatteryMode.SELF_CONSUMPTION, 20),
        (ORIGINAL.mode, 50),
    ]
    # The replacement restarts the pending window and the duration.
    assert engine.status(SYSTEM).state(clock.now) is CommandState.PENDING
    assert third.ends_at == clock.now + HOUR

    await engine.async_cancel(SYSTEM, clock.now)
    await run_until(engine, clock, clock.now + 5 * MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)


async def test_new_command_during_restore_keeps_the_snapshot(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, CommandKind.DISCHARGE, target=20)
    api.put_errors.append(EnphaseConnectionError("down"))
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)
    assert engine.status(SYSTEM).state(T0 + 5 * MINUTE) is CommandState.RESTORING
    assert engine.status(SYSTEM).restore_failing_since == T0 + 5 * MINUTE

    command = await start(engine, target=60, now=T0 + 6 * MINUTE)

    assert command.restore_to == ORIGINAL
    # The snapshot and the read before the failed restore; no second snapshot.
    assert api.get_count == 2
    assert engine.status(SYSTEM).restore_failing_since is None
    assert engine.next_wakeup() == command.effective_from
    await engine.async_cancel(SYSTEM, T0 + 7 * MINUTE)
    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert api.snapshot() == ORIGINAL


async def test_next_command_after_idle_takes_a_fresh_snapshot(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, target=80, duration=10 * MINUTE)
    await run_until(engine, clock, T0 + HOUR)
    api.change_by_hand(SYSTEM, BatteryMode.FULL_BACKUP, 100)

    command = await start(engine, target=50, now=clock.now)

    assert command.restore_to == SettingsSnapshot(mode=BatteryMode.FULL_BACKUP, reserve_soc=100)
    # The first snapshot, the reads before and after its restore, then the fresh snapshot.
    assert api.get_count == 4


async def test_systems_are_independent(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    api.add_system(OTHER, mode=BatteryMode.SELF_CONSUMPTION, reserve=40)
    await start(engine, target=80, duration=HOUR)
    await start(engine, CommandKind.DISCHARGE, target=20, duration=2 * HOUR, system_id=OTHER)

    await run_until(engine, clock, T0 + HOUR + 5 * MINUTE)

    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert engine.status(OTHER).state(clock.now) is CommandState.ACTIVE
    assert api.snapshot() == ORIGINAL
    assert api.visible(OTHER).reserve_soc == 20


# ---------------------------------------------------------------------- cancel


async def test_cancel_restores_at_once(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock, changes: list[int]
) -> None:
    await start(engine, target=80)
    changes.clear()

    await engine.async_cancel(SYSTEM, T0 + 30 * MINUTE)

    assert engine.status(SYSTEM).command is None
    assert engine.status(SYSTEM).last_end_reason == EndReason.CANCELLED
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)
    assert changes  # the HA layer is told to save and refresh
    # A second cancel while the PUT travels sends nothing more.
    await engine.async_cancel(SYSTEM, T0 + 30 * MINUTE)
    assert len(api.puts()) == 2
    await run_until(engine, clock, T0 + 32 * MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE


async def test_cancel_without_command_raises(engine: CommandEngine, clock: Clock) -> None:
    with pytest.raises(CommandValidationError) as unknown:
        await engine.async_cancel(SYSTEM, T0)
    assert unknown.value.code == "no_command_running"

    await start(engine, duration=10 * MINUTE)
    await run_until(engine, clock, T0 + HOUR)
    with pytest.raises(CommandValidationError) as finished:
        await engine.async_cancel(SYSTEM, clock.now)
    assert finished.value.code == "no_command_running"
    assert finished.value.placeholders == {}


async def test_cancel_during_failing_restore_retries_now(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    await start(engine)
    api.put_errors.extend([EnphaseConnectionError("down"), EnphaseConnectionError("down")])
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE + timedelta(seconds=5))
    assert engine.next_wakeup() == T0 + 5 * MINUTE + timedelta(seconds=65)

    await engine.async_cancel(SYSTEM, T0 + 6 * MINUTE)

    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)
    assert engine.next_wakeup() == T0 + 7 * MINUTE


async def test_cancel_racing_a_tick_restores_once(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    await start(engine, duration=10 * MINUTE)
    api.gate = asyncio.Event()
    end = T0 + 10 * MINUTE

    racers = asyncio.gather(engine.async_tick(end), engine.async_cancel(SYSTEM, end))
    await asyncio.sleep(0)
    api.gate.set()
    results = await asyncio.gather(racers, return_exceptions=True)

    # Whichever won, the loser saw a restore already under way: one PUT only.
    assert results == [[None, None]]
    assert api.puts() == [(None, 80), (ORIGINAL.mode, ORIGINAL.reserve_soc)]
    assert engine.status(SYSTEM).last_end_reason == EndReason.EXPIRED


# ---------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("target", "duration", "shutdown", "code", "placeholders"),
    [
        (9, HOUR, None, "reserve_out_of_range", {"min": "10", "max": "100", "value": "9"}),
        (101, HOUR, None, "reserve_out_of_range", {"min": "10", "max": "100", "value": "101"}),
        (-1, HOUR, None, "reserve_out_of_range", {"min": "10", "max": "100", "value": "-1"}),
        (50.5, HOUR, None, "reserve_out_of_range", {"min": "10", "max": "100", "value": "50.5"}),
        (True, HOUR, None, "reserve_out_of_range", {"min": "10", "max": "100", "value": "True"}),
        ("50", HOUR, None, "reserve_out_of_range", {"min": "10", "max": "100", "value": "50"}),
        (14, HOUR, 15, "reserve_below_shutdown", {"shutdown_level": "15", "value": "14"}),
        (50, timedelta(0), None, "duration_out_of_range", {"max_hours": "4", "value": "0:00:00"}),
        (
            50,
            -MINUTE,
            None,
            "duration_out_of_range",
            {"max_hours": "4", "value": "-1 day, 23:59:00"},
        ),
        (
            50,
            4 * HOUR + timedelta(seconds=1),
            None,
            "duration_out_of_range",
            {"max_hours": "4", "value": "4:00:01"},
        ),
        (50, 60, None, "duration_out_of_range", {"max_hours": "4", "value": "60"}),
    ],
)
async def test_validation_errors(
    engine: CommandEngine,
    api: FakeBatteryApi,
    target: Any,
    duration: Any,
    shutdown: int | None,
    code: str,
    placeholders: dict[str, str],
) -> None:
    with pytest.raises(CommandValidationError) as err:
        await engine.async_start(
            SYSTEM,
            CommandKind.HOLD_RESERVE,
            target_reserve=target,
            duration=duration,
            shutdown_level=shutdown,
            now=T0,
        )

    assert err.value.code == code
    assert err.value.placeholders == placeholders
    assert code in str(err.value)
    assert api.put_attempts == []
    assert api.get_count == 0
    assert engine.status(SYSTEM).state(T0) is CommandState.IDLE


@pytest.mark.parametrize(("target", "duration"), [(10, 4 * HOUR), (100, timedelta(seconds=1))])
async def test_validation_bounds_are_inclusive(
    engine: CommandEngine, api: FakeBatteryApi, target: int, duration: timedelta
) -> None:
    command = await start(engine, target=target, duration=duration, shutdown_level=10)

    assert command.target_reserve == target
    assert command.ends_at == T0 + duration


async def test_shutdown_level_read_with_the_snapshot_is_enforced(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    api.add_system(mode=BatteryMode.SELF_CONSUMPTION, reserve=40, shutdown_level=20)

    with pytest.raises(CommandValidationError) as err:
        await start(engine, target=15, shutdown_level=None)

    assert err.value.code == "reserve_below_shutdown"
    assert err.value.placeholders == {"shutdown_level": "20", "value": "15"}
    assert api.put_attempts == []
    assert engine.status(SYSTEM).state(T0) is CommandState.IDLE

    # Remembered for stacked commands, which do not read the settings again.
    await start(engine, target=30, shutdown_level=None)
    with pytest.raises(CommandValidationError):
        await start(engine, target=15, shutdown_level=None, now=T0 + MINUTE)
    assert engine.status(SYSTEM).command is not None
    assert api.puts() == [(None, 30)]


async def test_kind_may_be_given_as_text(engine: CommandEngine) -> None:
    command = await engine.async_start(
        SYSTEM,
        "discharge",  # type: ignore[arg-type]
        target_reserve=20,
        duration=HOUR,
        shutdown_level=None,
        now=T0,
        export_requested=True,
    )

    assert command.kind is CommandKind.DISCHARGE
    assert command.export_requested


def test_apply_delay_below_a_minute_is_refused(api: FakeBatteryApi) -> None:
    with pytest.raises(ValueError, match="apply_delay"):
        CommandEngine(api, apply_delay=timedelta(seconds=59))


async def test_longer_apply_delay(api: FakeBatteryApi, clock: Clock) -> None:
    engine = CommandEngine(api, apply_delay=5 * MINUTE)
    command = await start(engine)

    assert command.effective_from == T0 + 5 * MINUTE
    assert engine.status(SYSTEM).state(T0 + 4 * MINUTE) is CommandState.PENDING


# ---------------------------------------------------------------------- start failures


@pytest.mark.parametrize("failing", ["get", "put"])
async def test_failed_first_start_leaves_nothing(
    engine: CommandEngine, api: FakeBatteryApi, changes: list[int], failing: str
) -> None:
    # A read that failed, or a PUT Enphase refused: nothing can have changed.
    if failing == "get":
        api.get_errors.append(EnphaseServerError(status=500))
    else:
        api.put_errors.append(EnphaseUnprocessable(details="refused"))

    with pytest.raises(EnphaseError):
        await start(engine)

    assert engine.status(SYSTEM).command is None
    assert engine.status(SYSTEM).state(T0) is CommandState.IDLE
    assert engine.status(SYSTEM).restore_to is None
    assert engine.next_wakeup() is None
    assert engine_to_dict(engine) == {"version": 1, "systems": [], "reckoned": None}
    assert changes == []
    # Nothing to restore afterwards either: the next command reads a new snapshot.
    await start(engine, now=T0 + MINUTE)
    assert api.get_count == 2


async def test_failed_replacement_keeps_the_running_command(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    first = await start(engine, target=80)
    api.put_errors.append(EnphaseConnectionError("down"))

    with pytest.raises(EnphaseConnectionError):
        await start(engine, CommandKind.DISCHARGE, target=20, now=T0 + 5 * MINUTE)

    assert engine.status(SYSTEM).command == first
    assert engine.status(SYSTEM).last_end_reason is None


async def test_server_refusal_below_shutdown_propagates(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    # The coordinator's shutdown level was unknown and the server reports none.
    api.add_system(reserve=30, shutdown_level=None)
    api.put_errors.append(EnphaseUnprocessable(details="System doesn't have encharges"))

    with pytest.raises(EnphaseUnprocessable):
        await start(engine, shutdown_level=None)

    assert engine.status(SYSTEM).state(T0) is CommandState.IDLE


# ---------------------------------------------------------------------- restore failures


async def test_restore_failure_backs_off_then_recovers(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock, changes: list[int]
) -> None:
    await start(engine, duration=10 * MINUTE)
    end = T0 + 10 * MINUTE
    api.put_errors.extend(EnphaseConnectionError("down") for _ in range(8))
    seconds = timedelta(seconds=1)

    clock.now = end
    await engine.async_tick(end)
    attempts = [end]
    for _ in range(7):
        wakeup = engine.next_wakeup()
        assert wakeup is not None
        attempts.append(wakeup)
        clock.now = wakeup
        await engine.async_tick(wakeup)
        assert engine.status(SYSTEM).state(wakeup) is CommandState.RESTORING
        assert engine.status(SYSTEM).restore_failing_since == end

    gaps = [(b - a) // seconds for a, b in pairwise(attempts)]
    assert gaps == [30, 60, 120, 240, 480, 900, 900]
    # A tick before the retry is due sends nothing.
    before = len(api.put_attempts)
    await engine.async_tick(clock.now + MINUTE)
    assert len(api.put_attempts) == before

    changes.clear()
    await run_until(engine, clock, clock.now + HOUR)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert engine.status(SYSTEM).restore_failing_since is None
    assert api.snapshot() == ORIGINAL
    assert changes


async def test_rate_limited_restore_waits_for_retry_at(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    cancel_at = T0 + 5 * MINUTE
    retry_at = cancel_at + 10 * MINUTE
    api.put_errors.append(EnphaseRateLimited(period="minute", retry_at=retry_at))
    # A retry_at earlier than the back-off does not shorten it.
    api.put_errors.append(EnphaseRateLimited(period="minute", retry_at=retry_at))

    await engine.async_cancel(SYSTEM, cancel_at)
    assert engine.next_wakeup() == retry_at
    assert engine.next_wakeup() == retry_at
    await engine.async_tick(retry_at - timedelta(seconds=1))
    assert len(api.put_attempts) == 2

    clock.now = retry_at
    await engine.async_tick(retry_at)
    assert engine.next_wakeup() == retry_at + MINUTE

    await run_until(engine, clock, retry_at + 10 * MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert engine.status(SYSTEM).restore_failing_since is None


async def test_failed_confirmation_reads_again_without_a_new_put(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)
    api.get_errors.append(EnphaseConnectionError("down"))

    clock.now = T0 + 6 * MINUTE
    await engine.async_tick(clock.now)
    assert engine.status(SYSTEM).restore_failing_since == clock.now
    assert engine.next_wakeup() == clock.now + timedelta(seconds=30)

    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert len(api.puts()) == 2


async def test_restore_not_applied_is_sent_again(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)
    # The gateway dropped the restore: the command's own values are still in force.
    api.change_by_hand(SYSTEM, ORIGINAL.mode, 80)

    clock.now = T0 + 6 * MINUTE
    await engine.async_tick(clock.now)
    assert engine.status(SYSTEM).restore_failing_since == clock.now
    assert engine.status(SYSTEM).state(clock.now) is CommandState.RESTORING

    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert api.puts()[-2:] == [(ORIGINAL.mode, ORIGINAL.reserve_soc)] * 2
    assert api.snapshot() == ORIGINAL


async def test_gateway_delay_is_waited_for(clock: Clock) -> None:
    api = FakeBatteryApi(clock, gateway_delay=MINUTE)
    api.add_system()
    engine = CommandEngine(api)
    await start(engine, duration=10 * MINUTE)
    # Cancelled before the gateway applied the command: a read now would show the
    # original settings and wrongly confirm the restore.
    clock.now = T0 + 30 * timedelta(seconds=1)
    await engine.async_cancel(SYSTEM, clock.now)
    assert api.get_count == 1

    await run_until(engine, clock, T0 + 10 * MINUTE)

    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL
    assert engine.status(SYSTEM).restore_failing_since is None


async def test_unexpected_error_in_restore_is_retried(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await start(engine)
    api.put_errors.append(TimeoutError())

    with caplog.at_level(logging.WARNING):
        await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)

    assert "retrying at" in caplog.text
    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE


async def test_reserve_below_the_floor_is_restored_at_the_floor(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    api.add_system(mode=BatteryMode.SELF_CONSUMPTION, reserve=5, shutdown_level=5)

    command = await start(engine, target=50, shutdown_level=12)
    await engine.async_cancel(SYSTEM, T0 + MINUTE)
    await run_until(engine, clock, T0 + 5 * MINUTE)

    assert command.restore_to == SettingsSnapshot(mode=BatteryMode.SELF_CONSUMPTION, reserve_soc=12)
    assert api.snapshot().reserve_soc == 12
    assert min(reserve or 100 for _, reserve in api.puts()) >= MIN_RESERVE


# ---------------------------------------------------------------------- manual override


async def test_manual_override_ends_without_restoring(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock, changes: list[int]
) -> None:
    await start(engine, CommandKind.DISCHARGE, target=20)
    changes.clear()
    api.change_by_hand(SYSTEM, BatteryMode.FULL_BACKUP, 100)

    engine.manual_override(SYSTEM, T0 + 5 * MINUTE)

    assert engine.status(SYSTEM).command is None
    assert engine.status(SYSTEM).state(T0 + 5 * MINUTE) is CommandState.IDLE
    assert engine.status(SYSTEM).last_end_reason == "manual_override"
    assert engine.status(SYSTEM).last_ended_at == T0 + 5 * MINUTE
    assert changes == [SYSTEM]
    await run_until(engine, clock, T0 + 5 * HOUR)
    assert len(api.puts()) == 1
    assert api.visible().mode is BatteryMode.FULL_BACKUP

    # The next command snapshots the user's new settings.
    command = await start(engine, target=60, now=clock.now)
    assert command.restore_to == SettingsSnapshot(mode=BatteryMode.FULL_BACKUP, reserve_soc=100)


async def test_manual_override_drops_a_failing_restore(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    api.put_errors.append(EnphaseConnectionError("down"))
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)

    engine.manual_override(SYSTEM, T0 + 5 * MINUTE)

    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert engine.status(SYSTEM).restore_failing_since is None
    assert engine.next_wakeup() is None


async def test_manual_override_while_idle_changes_nothing(
    engine: CommandEngine, changes: list[int]
) -> None:
    engine.manual_override(SYSTEM, T0)
    await start(engine, duration=10 * MINUTE)
    await engine.async_cancel(SYSTEM, T0)
    changes.clear()
    await engine.async_tick(T0 + MINUTE)
    changes.clear()

    engine.manual_override(SYSTEM, T0 + 2 * MINUTE)

    assert changes == []
    assert engine.status(SYSTEM).last_end_reason == EndReason.CANCELLED


@pytest.mark.parametrize("outcome", ["success", "failure"])
async def test_manual_override_during_restore_call_wins(
    engine: CommandEngine, api: FakeBatteryApi, outcome: str
) -> None:
    await start(engine)
    api.gate = asyncio.Event()
    if outcome == "failure":
        api.put_errors.append(EnphaseConnectionError("down"))
    cancel = asyncio.ensure_future(engine.async_cancel(SYSTEM, T0 + 5 * MINUTE))
    await asyncio.sleep(0)

    engine.manual_override(SYSTEM, T0 + 5 * MINUTE)
    api.gate.set()
    await cancel

    # The restore call's outcome is dropped: nothing is retried or confirmed.
    assert engine.status(SYSTEM).state(T0 + 5 * MINUTE) is CommandState.IDLE
    assert engine.next_wakeup() is None
    assert engine.status(SYSTEM).restore_failing_since is None
    assert engine.status(SYSTEM).last_end_reason == EndReason.MANUAL_OVERRIDE


async def test_manual_override_during_confirmation_wins(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    await start(engine)
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)
    api.gate = asyncio.Event()
    tick = asyncio.ensure_future(engine.async_tick(T0 + 6 * MINUTE))
    await asyncio.sleep(0)

    engine.manual_override(SYSTEM, T0 + 6 * MINUTE)
    api.gate.set()
    await tick

    assert engine.status(SYSTEM).state(T0 + 6 * MINUTE) is CommandState.IDLE
    assert engine.status(SYSTEM).last_end_reason == EndReason.MANUAL_OVERRIDE


# ---------------------------------------------------------------------- persistence


async def test_restart_mid_command(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    command = await start(engine, CommandKind.DISCHARGE, target=20, duration=2 * HOUR)
    changes: list[int] = []

    restarted = roundtrip(engine, api, on_change=changes.append)
    restarted.resume(T0 + 30 * timedelta(seconds=1))

    assert restarted.status(SYSTEM).command == command
    assert restarted.status(SYSTEM).state(T0 + 30 * timedelta(seconds=1)) is CommandState.PENDING
    assert restarted.next_wakeup() == T0 + MINUTE
    assert changes == []
    # The timers go on: telemetry ends it, then the restore completes.
    await run_until(restarted, clock, T0 + 10 * MINUTE)
    assert changes == [SYSTEM]
    await restarted.async_on_soc(SYSTEM, 19, clock.now, clock.now)
    await run_until(restarted, clock, clock.now + 5 * MINUTE)
    assert restarted.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL


async def test_restart_after_active_keeps_the_active_state(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    await start(engine, duration=2 * HOUR)

    restarted = roundtrip(engine, api)
    restarted.resume(T0 + HOUR)

    assert restarted.status(SYSTEM).state(T0 + HOUR) is CommandState.ACTIVE
    assert restarted.next_wakeup() == T0 + 2 * HOUR


async def test_restart_after_expiry_restores_at_once(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, duration=HOUR)
    changes: list[int] = []
    restarted = roundtrip(engine, api, on_change=changes.append)
    clock.now = T0 + 3 * HOUR

    restarted.resume(clock.now)

    assert restarted.status(SYSTEM).command is None
    assert restarted.status(SYSTEM).state(clock.now) is CommandState.RESTORING
    assert restarted.status(SYSTEM).last_end_reason == EndReason.EXPIRED
    assert restarted.next_wakeup() == clock.now
    assert changes == [SYSTEM]
    await restarted.async_tick(clock.now)
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)
    await run_until(restarted, clock, clock.now + 5 * MINUTE)
    assert restarted.status(SYSTEM).state(clock.now) is CommandState.IDLE


async def test_restart_during_failing_restore_keeps_the_schedule(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    retry_at = T0 + HOUR
    api.put_errors.append(EnphaseRateLimited(period="month", retry_at=retry_at))
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)

    restarted = roundtrip(engine, api)
    restarted.resume(T0 + 10 * MINUTE)

    assert restarted.status(SYSTEM).state(T0 + 10 * MINUTE) is CommandState.RESTORING
    assert restarted.next_wakeup() == retry_at
    assert restarted.status(SYSTEM).restore_failing_since == T0 + 5 * MINUTE
    assert restarted.status(SYSTEM).last_end_reason == EndReason.CANCELLED
    await run_until(restarted, clock, retry_at + 5 * MINUTE)
    assert restarted.status(SYSTEM).state(clock.now) is CommandState.IDLE


async def test_restart_while_confirming_only_reads(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)

    restarted = roundtrip(engine, api)
    restarted.resume(T0 + 20 * MINUTE)
    await run_until(restarted, clock, T0 + 20 * MINUTE)

    assert restarted.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert len(api.puts()) == 2


async def test_to_dict_is_json_and_keeps_only_what_matters(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    api.add_system(OTHER)
    await start(engine, CommandKind.DISCHARGE, target=20)
    await engine.async_on_soc(OTHER, 50, T0, T0)

    data = engine_to_dict(engine)

    assert json.loads(json.dumps(data)) == data
    assert data["version"] == 1
    assert [item["system_id"] for item in data["systems"]] == [SYSTEM]
    stored = data["systems"][0]["command"]
    assert stored["kind"] == "discharge"
    assert stored["restore_to"] == {"mode": "savings", "reserve_soc": 30}
    assert stored["ends_at"] == (T0 + HOUR).isoformat()


def test_resume_without_next_attempt_restores_now(api: FakeBatteryApi) -> None:
    data = {
        "version": 1,
        "systems": [
            {"system_id": SYSTEM, "restore_to": {"mode": "savings", "reserve_soc": 30}},
        ],
    }
    engine = load_engine(data, api)

    engine.resume(T0)

    assert engine.status(SYSTEM).state(T0) is CommandState.RESTORING
    assert engine.next_wakeup() == T0


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        {"version": 99, "systems": []},
        {"version": 1, "systems": "nope"},
        {"version": 1, "systems": ["nope"]},
        {"version": 1, "systems": [{"system_id": "x"}]},
        {"version": 1, "systems": [{"system_id": True}]},
        {"version": 1, "systems": [{"system_id": 1, "restore_to": {"mode": "turbo"}}]},
        {"version": 1, "systems": [{"system_id": 1, "next_attempt_at": 5}]},
        {"version": 1, "systems": [{"system_id": 1, "failing_since": "2026-06-15T19:00:00"}]},
        {"version": 1, "systems": [{"system_id": 1, "command": {"kind": "discharge"}}]},
    ],
)
def test_from_dict_drops_unreadable_data(api: FakeBatteryApi, data: Any) -> None:
    engine = load_engine(data, api)

    assert engine_to_dict(engine) == {"version": 1, "systems": [], "reckoned": None}
    assert engine.status(1).state(T0) is CommandState.IDLE


def test_from_dict_keeps_good_entries_beside_bad_ones(api: FakeBatteryApi) -> None:
    data = {
        "version": 1,
        "systems": [
            {"system_id": "bad"},
            {"system_id": OTHER, "last_end_reason": "cancelled", "shutdown_level": 12},
        ],
    }

    engine = load_engine(data, api)

    assert engine.status(OTHER).last_end_reason == EndReason.CANCELLED
    assert engine_to_dict(engine)["systems"][0]["shutdown_level"] == 12


async def test_stored_restores_name_every_snapshot_still_owed(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    """A running command, a restore under way; a system that is done owes nothing."""
    third = 1003
    for system_id, reserve in ((OTHER, 40), (third, 50)):
        api.add_system(system_id, mode=BatteryMode.FULL_BACKUP, reserve=reserve)
    await start(engine, target=80)
    await start(engine, CommandKind.DISCHARGE, target=20, system_id=OTHER)
    await start(engine, target=90, system_id=third)
    await engine.async_cancel(third, T0)
    await run_until(engine, clock, T0 + 2 * MINUTE)
    assert engine.status(third).state(clock.now) is CommandState.IDLE
    api.put_errors.append(EnphaseConnectionError("down"))
    await engine.async_cancel(OTHER, clock.now)
    assert engine.status(OTHER).state(clock.now) is CommandState.RESTORING

    assert stored_restores(json.loads(json.dumps(engine_to_dict(engine)))) == {
        SYSTEM: ORIGINAL,
        OTHER: SettingsSnapshot(mode=BatteryMode.FULL_BACKUP, reserve_soc=40),
    }
    assert stored_restores(None) == {}


def test_queries_for_unknown_system(engine: CommandEngine) -> None:
    assert engine.status(SYSTEM).state(T0) is CommandState.IDLE
    assert engine.status(SYSTEM).command is None
    assert engine.status(SYSTEM).restore_to is None
    assert engine.status(SYSTEM).restore_failing_since is None
    assert engine.status(SYSTEM).last_end_reason is None
    assert engine.status(SYSTEM).last_ended_at is None
    assert engine.next_wakeup() is None
    assert engine.busy_systems() == []


async def test_busy_systems_while_running_and_restoring(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    api.add_system(OTHER)
    await start(engine, system_id=OTHER)
    await start(engine, duration=MINUTE)
    assert engine.busy_systems() == [SYSTEM, OTHER]

    # SYSTEM's command ended: it stays busy until its restore is confirmed.
    await run_until(engine, clock, T0 + MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.RESTORING
    assert engine.busy_systems() == [SYSTEM, OTHER]
    await run_until(engine, clock, T0 + 3 * MINUTE)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE
    assert engine.busy_systems() == [OTHER]


# ---------------------------------------------------------------------- the real world


async def test_lost_answer_with_values_in_force_runs_the_command(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    api.lost_answers = 1

    command = await start(engine, target=90, duration=30 * MINUTE)

    assert command.target_reserve == 90
    await run_until(engine, clock, T0 + HOUR)
    assert api.snapshot() == ORIGINAL


async def test_lost_answer_landing_late_is_undone(clock: Clock) -> None:
    api = FakeBatteryApi(clock, gateway_delay=30 * timedelta(seconds=1))
    api.add_system()
    engine = CommandEngine(api)
    api.lost_answers = 1

    with pytest.raises(EnphaseConnectionError):
        await start(engine, target=90)

    # The read-back still saw the old settings: the write is tracked, checked, undone.
    assert engine.status(SYSTEM).state(T0) is CommandState.RESTORING
    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert api.snapshot() == ORIGINAL
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE


async def test_unanswered_write_that_never_landed_costs_no_restore(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    api.put_errors.append(EnphaseConnectionError("timeout"))

    with pytest.raises(EnphaseConnectionError):
        await start(engine, target=90)

    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert api.puts() == [(None, 90)]
    assert engine.status(SYSTEM).state(clock.now) is CommandState.IDLE


async def test_setting_seen_elsewhere_ends_without_restoring(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, target=80)
    api.change_by_hand(SYSTEM, BatteryMode.SAVINGS, 85)

    # Our own values and the snapshot are not news; anything else is the user's.
    engine.observe_settings(SYSTEM, replace(api.visible(), reserve_soc=80), T0 + MINUTE)
    assert engine.status(SYSTEM).busy
    engine.observe_settings(SYSTEM, api.visible(), T0 + 2 * MINUTE)

    status = engine.status(SYSTEM)
    assert not status.busy
    assert status.last_end_reason is EndReason.CHANGED_ELSEWHERE
    await run_until(engine, clock, T0 + 2 * HOUR)
    assert api.snapshot().reserve_soc == 85


async def test_change_made_before_the_restore_read_is_kept(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, target=80, duration=30 * MINUTE)
    clock.now = T0 + 10 * MINUTE
    api.change_by_hand(SYSTEM, BatteryMode.FULL_BACKUP, 85)

    await run_until(engine, clock, T0 + HOUR)

    assert api.snapshot() == SettingsSnapshot(mode=BatteryMode.FULL_BACKUP, reserve_soc=85)
    assert engine.status(SYSTEM).last_end_reason is EndReason.CHANGED_ELSEWHERE


async def test_raised_shutdown_level_restores_the_nearest_allowed_value(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, target=80, duration=10 * MINUTE)
    api.set_shutdown(SYSTEM, 40)

    await run_until(engine, clock, T0 + HOUR)

    assert api.snapshot() == SettingsSnapshot(mode=ORIGINAL.mode, reserve_soc=40)
    status = engine.status(SYSTEM)
    assert status.restore_adjusted_from == ORIGINAL.reserve_soc
    assert status.state(clock.now) is CommandState.IDLE


async def test_shutdown_level_learnt_from_a_refused_restore(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, target=80, duration=MINUTE / 2)
    # Raised while the command was still pending: the restore is written at once.
    api.set_shutdown(SYSTEM, 35)

    await run_until(engine, clock, T0 + 10 * MINUTE)

    assert api.puts()[-2:] == [(ORIGINAL.mode, 30), (ORIGINAL.mode, 35)]
    assert api.snapshot().reserve_soc == 35


async def test_grid_event_refuses_commands_and_defers_the_restore(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    with pytest.raises(CommandValidationError) as refused:
        await engine.async_start(
            SYSTEM,
            CommandKind.HOLD_RESERVE,
            target_reserve=80,
            duration=HOUR,
            shutdown_level=None,
            now=T0,
            grid_event_active=True,
        )
    assert refused.value.code == "grid_event_active"
    assert api.puts() == []

    engine.set_grid_event(SYSTEM, active=None, now=T0)
    await start(engine, target=80, duration=10 * MINUTE)
    engine.set_grid_event(SYSTEM, active=True, now=T0 + 5 * MINUTE)
    await run_until(engine, clock, T0 + HOUR)
    assert engine.status(SYSTEM).restore_waits_for is RestoreWait.GRID_EVENT
    assert engine.next_wakeup() is None
    assert api.snapshot().reserve_soc == 80

    engine.set_grid_event(SYSTEM, active=False, now=clock.now)
    await run_until(engine, clock, clock.now + 5 * MINUTE)
    assert api.snapshot() == ORIGINAL


async def test_grid_event_ending_before_a_sent_restore_is_confirmed(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    # Found by the state machine: the restore PUT goes out, an event starts and
    # ends within the gateway's apply delay; the confirmation keeps its time and
    # the wakeup never lies in the past (the runner would spin on it).
    await start(engine, target=80, duration=10 * MINUTE)
    await engine.async_cancel(SYSTEM, T0)
    engine.set_grid_event(SYSTEM, active=True, now=T0)
    engine.set_grid_event(SYSTEM, active=False, now=T0)
    await engine.async_tick(T0)

    assert engine.next_wakeup() == T0 + MINUTE
    await run_until(engine, clock, T0 + 5 * MINUTE)
    assert api.snapshot() == ORIGINAL
    assert not engine.status(SYSTEM).busy


async def test_write_cap_refuses_a_command_it_cannot_restore(engine: CommandEngine) -> None:
    with pytest.raises(CommandValidationError) as refused:
        await engine.async_start(
            SYSTEM,
            CommandKind.HOLD_RESERVE,
            target_reserve=80,
            duration=HOUR,
            shutdown_level=None,
            now=T0,
            writes_left=1,
        )
    assert refused.value.code == "write_quota_exhausted"
    assert refused.value.placeholders == {"needed": "2", "left": "1"}


async def test_plan_refusal_waits_for_the_plan(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, target=80, duration=10 * MINUTE)
    api.put_errors.append(EnphasePlanError("battery_settings/put"))

    await run_until(engine, clock, T0 + 15 * MINUTE)
    status = engine.status(SYSTEM)
    assert status.restore_waits_for is RestoreWait.PLAN
    assert status.restore_failing_since is not None
    assert engine.next_wakeup() is None
    attempts = len(api.put_attempts)
    await run_until(engine, clock, T0 + 5 * HOUR)
    assert len(api.put_attempts) == attempts

    await engine.async_retry_restore(SYSTEM, clock.now)
    await run_until(engine, clock, clock.now + 5 * MINUTE)
    assert api.snapshot() == ORIGINAL


async def test_plan_refusal_is_retried_on_reload(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, target=80, duration=10 * MINUTE)
    api.put_errors.append(EnphasePlanError("battery_settings/put"))
    await run_until(engine, clock, T0 + 15 * MINUTE)

    restarted = roundtrip(engine, api)
    restarted.resume(clock.now)
    await run_until(restarted, clock, clock.now + 5 * MINUTE)

    assert api.snapshot() == ORIGINAL


def test_reckoning_ignores_wall_clock_jumps_while_running() -> None:
    reckoning = Reckoning()
    assert reckoning.now(T0, 100.0) == T0
    # The wall clock jumps back two hours, then forward: only monotonic time counts.
    assert reckoning.now(T0 - 2 * HOUR, 160.0) == T0 + MINUTE
    assert reckoning.now(T0 + 5 * HOUR, 220.0) == T0 + 2 * MINUTE
    # A server time ahead of the reckoning lifts it; one behind it does not.
    reckoning.observe(T0 + HOUR, T0, 220.0)
    assert reckoning.now(T0, 220.0) == T0 + HOUR
    reckoning.observe(T0, T0, 220.0)
    assert reckoning.now(T0, 280.0) == T0 + HOUR + MINUTE
    # Absurdly far ahead is a broken clock.
    reckoning.observe(T0 + 30 * HOUR, T0, 280.0)
    assert reckoning.last == T0 + HOUR + MINUTE


def test_reckoning_after_a_restart_never_goes_back() -> None:
    reckoning = Reckoning(T0 + HOUR)
    # The clock came back stale: the saved reckoning holds.
    assert reckoning.now(T0, 5.0) == T0 + HOUR
    assert Reckoning(T0).now(T0 + HOUR, 5.0) == T0 + HOUR


# ---------------------------------------------------------------------- invariants


APPLY_DELAY = MINUTE
SYSTEMS = (SYSTEM, OTHER)
POLL = timedelta(minutes=15)
"""Longest a poll's server time (an interval end) lags real time."""
OVERRIDES = frozenset({EndReason.MANUAL_OVERRIDE, EndReason.CHANGED_ELSEWHERE})
MACHINE_EXAMPLES = int(os.environ.get("ENPHASE_COMMAND_MACHINE_EXAMPLES", "1000"))


def _error(kind: str, now: datetime) -> Exception:
    if kind == "rate_limited":
        return EnphaseRateLimited(period="minute", retry_at=now + 3 * MINUTE)
    if kind == "server":
        return EnphaseServerError(status=503)
    return EnphaseConnectionError("down")


@dataclass(slots=True)
class Entry:
    """One config entry as its runner holds it: an engine and its reckoning."""

    engine: CommandEngine
    reckoning: Reckoning
    booted_at: datetime
    """Real time of the process start: the monotonic clock counts from here."""
    restarted: bool = False


class CommandMachine(RuleBasedStateMachine):
    """Random starts, cancels, restarts, faults, polls, app changes and clocks, two entries.

    Real time is `self.clock` (the fake gateway's); each entry sees a wall
    clock (real time plus `offset`, which jumps both ways) and a monotonic one
    that restarts with the process, and feeds its engine the `Reckoning` of
    both plus the server times polls bring. Entries share one command per
    system (as the runners' registry does). The model keeps, per system, the
    snapshot that must come back, and whether the user changed the settings.
    """

    def __init__(self) -> None:
        """Create the loop; the world is built by `setup`."""
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.api = FakeBatteryApi(self.clock)
        self.offset = timedelta(0)
        self.entries = [self._entry(None, None), self._entry(None, None)]
        self.owners: dict[int, int] = {}
        self.last_owner: dict[int, int] = {}
        self.pending_events: set[int] = set()
        self.user_value: dict[int, SettingsSnapshot | None] = dict.fromkeys(SYSTEMS)
        self.written: dict[int, set[SettingsSnapshot]] = {sid: set() for sid in SYSTEMS}
        self.max_shutdown: dict[int, int] = dict.fromkeys(SYSTEMS, 0)
        self.shutdown: dict[int, int | None] = {}
        self.original: dict[int, SettingsSnapshot | None] = dict.fromkeys(SYSTEMS)
        self.user_changed: dict[int, bool] = dict.fromkeys(SYSTEMS, False)
        self.sent: dict[str, tuple[datetime, timedelta]] = {}
        """Per command id: real time sent, and how far the reckoning led real time then."""
        self.unticked: dict[str, timedelta] = {}
        """Per running command: real time that passed with no timer able to fire (HA hung or down)."""

    def _entry(self, data: Any, last: datetime | None) -> Entry:
        reckoning = Reckoning(last)
        entry = Entry(
            engine=CommandEngine(self.api, apply_delay=APPLY_DELAY),
            reckoning=reckoning,
            booted_at=self.clock.now,
        )
        entry.engine = CommandEngine(
            self.api,
            apply_delay=APPLY_DELAY,
            clock=lambda: self.now(entry),
            systems=records_from_dict(data),
        )
        return entry

    def now(self, entry: Entry) -> datetime:
        """Return what the entry's runner would pass as `now`."""
        mono = (self.clock.now - entry.booted_at).total_seconds()
        return entry.reckoning.now(self.clock.now + self.offset, mono)

    def teardown(self) -> None:
        """Close the event loop."""
        self.loop.close()

    def run(self, coro: Any) -> Any:
        """Run one engine call to completion."""
        return self.loop.run_until_complete(coro)

    def status(self, system_id: int) -> CommandStatus:
        """Return the status of a system from the entry that owns it (or owned it last)."""
        return self._route(system_id, self.last_owner.get(system_id, 0)).engine.status(system_id)

    def _route(self, system_id: int, pick: int) -> Entry:
        """Return the entry that runs a system's command, as the runners' registry does."""
        owner = self.owners.get(system_id)
        return self.entries[pick if owner is None else owner]

    def _settle_owners(self) -> None:
        for index, entry in enumerate(self.entries):
            for system_id in SYSTEMS:
                if entry.engine.status(system_id).busy:
                    assert self.owners.setdefault(system_id, index) == index
                    self.last_owner[system_id] = index
                elif self.owners.get(system_id) == index:
                    del self.owners[system_id]

    @initialize(
        delay=st.sampled_from([timedelta(0), timedelta(seconds=30), APPLY_DELAY]),
        modes=st.lists(st.sampled_from(list(BatteryMode)), min_size=2, max_size=2),
        reserves=st.lists(st.integers(0, 100), min_size=2, max_size=2),
        shutdowns=st.lists(st.one_of(st.none(), st.integers(5, 20)), min_size=2, max_size=2),
        write_cap=st.sampled_from([None, None, 2, 3, 5, 8]),
    )
    def setup(
        self,
        delay: timedelta,
        modes: list[BatteryMode],
        reserves: list[int],
        shutdowns: list[int | None],
        write_cap: int | None,
    ) -> None:
        """Build the fake's two systems."""
        self.api.gateway_delay = delay
        self.api.write_cap = write_cap
        for system_id, mode, reserve, shutdown in zip(
            SYSTEMS, modes, reserves, shutdowns, strict=True
        ):
            self.api.add_system(
                system_id, mode=mode, reserve=max(reserve, shutdown or 0), shutdown_level=shutdown
            )
            self.shutdown[system_id] = shutdown
            self.max_shutdown[system_id] = shutdown or 0

    def _expected_snapshot(self, system_id: int, shutdown_level: int | None) -> SettingsSnapshot:
        current = self.api.visible(system_id)
        floor = max(MIN_RESERVE, current.shutdown_level or 0, shutdown_level or 0)
        return SettingsSnapshot(mode=current.mode, reserve_soc=max(current.reserve_soc, floor))

    @rule(
        system_id=st.sampled_from(SYSTEMS),
        pick=st.integers(0, 1),
        kind=st.sampled_from(list(CommandKind)),
        # Mostly valid, so that commands run; sometimes out of range.
        reserve=st.one_of(st.integers(10, 100), st.integers(0, 110)),
        minutes=st.one_of(st.sampled_from([2, 15, 60, 120, 240]), st.integers(-5, 260)),
        tell_shutdown=st.booleans(),
        failure=st.sampled_from([None, None, None, None, "get", "put", "lost"]),
        error_kind=st.sampled_from(["connection", "rate_limited", "server"]),
    )
    def start(  # noqa: PLR0915 - the drawn arguments; one rule, read top down
        self,
        system_id: int,
        pick: int,
        kind: CommandKind,
        reserve: int,
        minutes: int,
        tell_shutdown: bool,
        failure: str | None,
        error_kind: str,
    ) -> None:
        """Start a command through either entry, sometimes invalid, failing or unanswered."""
        entry = self._route(system_id, pick)
        engine = entry.engine
        now = self.now(entry)
        shutdown = self.shutdown[system_id] if tell_shutdown else None
        before = engine.status(system_id)
        busy = before.busy
        expected = None if busy else self._expected_snapshot(system_id, shutdown)
        if failure == "get":
            self.api.get_errors.append(_error(error_kind, self.clock.now))
        elif failure == "put":
            self.api.put_errors.append(_error(error_kind, self.clock.now))
        elif failure == "lost":
            self.api.lost_answers = 1
        writes_left = self.api.writes_left()
        in_force = self.api.snapshot(system_id)
        outcomes = self._start_outcomes(
            system_id, reserve, minutes, shutdown, failure, busy=busy, writes_left=writes_left
        )
        raised: Exception | None = None
        lead = now - self.clock.now
        try:
            command = self.run(
                engine.async_start(
                    system_id,
                    kind,
                    target_reserve=reserve,
                    duration=timedelta(minutes=minutes),
                    shutdown_level=shutdown,
                    now=now,
                    grid_event_active=system_id in self.api.events,
                    writes_left=writes_left,
                )
            )
        except (CommandValidationError, EnphaseError) as err:
            raised = err
        else:
            assert None in outcomes or (
                "unknown" in outcomes and (failure == "lost" or command.values == in_force)
            ), outcomes
            if expected is not None:
                assert command.restore_to == expected
                self.original[system_id] = expected
                self.written[system_id] = {in_force}
            self._our_write(system_id, command.values)
            self._check_snapshot(system_id, command.restore_to)
            assert command.target_reserve == reserve
            assert command.ends_at - command.sent_at <= MAX_DURATION
            self.sent[command.command_id] = (self.clock.now, max(lead, timedelta(0)))
            self.unticked.setdefault(command.command_id, timedelta(0))
        finally:
            # A queued error the engine did not reach must not leak into later steps.
            self.api.get_errors.clear()
            self.api.put_errors.clear()
            self.api.lost_answers = 0
        if raised is not None:
            if "unknown" in outcomes and isinstance(raised, EnphaseError):
                # The write may have landed: it is tracked, never forgotten.
                assert engine.status(system_id).busy
                if expected is not None:
                    self.original[system_id] = expected
                    self.written[system_id] = {in_force}
                values = SettingsSnapshot(
                    mode=BatteryMode.SELF_CONSUMPTION
                    if kind is CommandKind.DISCHARGE
                    else self.original[system_id].mode,  # type: ignore[union-attr]
                    reserve_soc=reserve,
                )
                self._our_write(system_id, values)
            else:
                assert any(
                    isinstance(outcome, type) and isinstance(raised, outcome)
                    for outcome in outcomes
                ), (raised, outcomes)
                # A refused or failed start changes nothing.
                assert engine.status(system_id).command == before.command
        self._settle_owners()
        self._check_model()

    def _our_write(self, system_id: int, values: SettingsSnapshot) -> None:
        """Note a write of ours: the newest write wins over an earlier change by the user."""
        self.written[system_id].add(values)
        self.user_changed[system_id] = False

    def _check_snapshot(self, system_id: int, restore_to: SettingsSnapshot | None) -> None:
        """The snapshot is the original one, or its reserve raised to a shutdown level."""
        original = self.original[system_id]
        assert original is not None
        assert restore_to is not None
        assert restore_to.mode == original.mode
        assert restore_to.reserve_soc == original.reserve_soc or (
            self.status(system_id).restore_adjusted_from == original.reserve_soc
            and restore_to.reserve_soc > original.reserve_soc
        )

    def _start_outcomes(
        self,
        system_id: int,
        reserve: int,
        minutes: int,
        shutdown: int | None,
        failure: str | None,
        *,
        busy: bool,
        writes_left: int | None,
    ) -> set[type[Exception] | str | None]:
        """Return what a start may do: raise one of these, "unknown" (tracked), or None."""
        if not (10 <= reserve <= 100 and 0 < minutes <= 240 and reserve >= (shutdown or 0)):
            return {CommandValidationError}
        if system_id in self.api.events:
            return {CommandValidationError}
        if writes_left is not None and writes_left < 2:
            return {CommandValidationError}
        if failure == "get" and not busy:
            return {EnphaseError}
        outcomes: set[type[Exception] | str | None] = set()
        if reserve < self.max_shutdown[system_id]:
            # The engine refuses what it knows to be below the shutdown level;
            # Enphase refuses (422) what is below it now.
            outcomes.add(CommandValidationError)
        below_shutdown = reserve < (self.api.visible(system_id).shutdown_level or 0)
        if failure == "put":
            # The failure comes first (a lost connection hides Enphase's 422 too).
            refused = isinstance(self.api.put_errors[0], EnphaseRateLimited)
            outcomes.add(EnphaseRateLimited if refused else "unknown")
        elif below_shutdown:
            outcomes.add(EnphaseUnprocessable)
        elif failure == "lost":
            outcomes.add("unknown")
        else:
            outcomes.add(None)
        return outcomes

    @rule(system_id=st.sampled_from(SYSTEMS), pick=st.integers(0, 1), fail=st.booleans())
    def cancel(self, system_id: int, pick: int, fail: bool) -> None:
        """Cancel, sometimes with a failing restore."""
        entry = self._route(system_id, pick)
        now = self.now(entry)
        idle = not entry.engine.status(system_id).busy
        if fail:
            self.api.put_errors.append(EnphaseConnectionError("down"))
        refused: CommandValidationError | None = None
        try:
            self.run(entry.engine.async_cancel(system_id, now))
        except CommandValidationError as err:
            refused = err
        assert (refused is not None) == idle
        assert refused is None or refused.code == "no_command_running"
        assert entry.engine.status(system_id).command is None
        self.api.put_errors.clear()
        self._settle_owners()
        self._check_model()

    @rule(
        system_id=st.sampled_from(SYSTEMS),
        soc=st.one_of(st.integers(0, 100), st.floats(0, 100)),
        lag=st.sampled_from([0, 0, 5, 120, 900]),
    )
    def soc_reading(self, system_id: int, soc: float, lag: int) -> None:
        """Feed a reading the gateway measured `lag` seconds ago."""
        entry = self._route(system_id, 0)
        command = entry.engine.status(system_id).command
        measured_at = self.clock.now - timedelta(seconds=lag)
        now = self.now(entry)
        self.run(entry.engine.async_on_soc(system_id, soc, measured_at, now))
        after = entry.engine.status(system_id)
        if command is not None and now < command.ends_at:
            if (
                command.kind is CommandKind.DISCHARGE
                and measured_at > command.effective_from
                and now >= command.effective_from
                and soc <= command.target_reserve
            ):
                assert after.command is None
                assert after.last_end_reason == EndReason.TARGET_REACHED
            else:
                # Old telemetry never ends a command, nor does any reading end a hold.
                assert after.command == command
        self._settle_owners()
        self._check_model()

    @rule(
        seconds=st.sampled_from([1, 29, 30, 31, 59, 60, 61, 120, 600, 1800, 3600, 4 * 3600]),
        timers=st.booleans(),
    )
    def advance(self, seconds: int, timers: bool) -> None:
        """Let real time pass; the timers fire on the way (or HA hangs and none does)."""
        remaining = timedelta(seconds=seconds)
        for _ in range(100):
            delays = [
                wakeup - self.now(entry)
                for entry in self.entries
                if timers and (wakeup := entry.engine.next_wakeup()) is not None
            ]
            # A timer's delay, set on the reckoned clock, is waited on the monotonic one.
            if not delays or (delay := max(min(delays), timedelta(0))) > remaining:
                break
            self.clock.now += delay
            remaining -= delay
            self._tick()
        self._pass_unticked(remaining if not timers else timedelta(0))
        self.clock.now += remaining
        if timers:
            self._tick()
        self._check_model()

    def _pass_unticked(self, gap: timedelta) -> None:
        for command_id in self.unticked:
            self.unticked[command_id] += gap

    @rule(minutes=st.sampled_from([-240, -120, -30, -1, 1, 30, 120, 240]))
    def jump_wall_clock(self, minutes: int) -> None:
        """The wall clock jumps (NTP, a bad RTC, a user): real time does not."""
        self.offset += timedelta(minutes=minutes)
        self._check_model()

    @precondition(
        lambda self: any(entry.engine.next_wakeup() is not None for entry in self.entries)
    )
    @rule(late=st.sampled_from([0, 0, 1, 45]))
    def wake_up(self, late: int) -> None:
        """Fire the earliest timer: its delay is waited on the monotonic clock."""
        delays = [
            wakeup - self.now(entry)
            for entry in self.entries
            if (wakeup := entry.engine.next_wakeup()) is not None
        ]
        self.clock.now += max(min(delays), timedelta(0)) + timedelta(seconds=late)
        self._tick()
        self._check_model()

    @rule(
        call=st.sampled_from(["put", "get"]),
        error=st.sampled_from(["connection", "rate_limited", "server"]),
        count=st.integers(1, 3),
    )
    def fail_next_tick(self, call: str, error: str, count: int) -> None:
        """Make the calls of the next wakeup's tick fail."""
        queue = self.api.put_errors if call == "put" else self.api.get_errors
        queue.extend(_error(error, self.clock.now) for _ in range(count))
        delays = [
            wakeup - self.now(entry)
            for entry in self.entries
            if (wakeup := entry.engine.next_wakeup()) is not None
        ]
        if delays:
            self.clock.now += max(min(delays), timedelta(0))
        self._tick()
        self.api.get_errors.clear()
        self.api.put_errors.clear()
        self._check_model()

    @rule(
        pick=st.integers(0, 1),
        downtime=st.sampled_from([0, 60, 1800, 3 * 3600]),
        stale=st.sampled_from([0, 0, -120, 120]),
        tick=st.booleans(),
    )
    def restart(self, pick: int, downtime: int, stale: int, tick: bool) -> None:
        """Stop an entry, maybe for a while and with a stale clock, then set it up again."""
        entry = self.entries[pick]
        data = json.loads(json.dumps(engine_to_dict(entry.engine, entry.reckoning.last)))
        before = {sid: entry.engine.status(sid).restore_to for sid in SYSTEMS}
        self._pass_unticked(timedelta(seconds=downtime))
        self.clock.now += timedelta(seconds=downtime)
        self.offset = timedelta(minutes=stale)
        restarted = self._entry(data, reckoned_from_dict(data))
        restarted.restarted = True
        self.entries[pick] = restarted
        restarted.engine.resume(self.now(restarted))
        for system_id in SYSTEMS:
            # Set-up feeds the coordinator's data at once, grid events included.
            restarted.engine.set_grid_event(
                system_id, active=system_id in self.api.events, now=self.now(restarted)
            )
        assert {sid: restarted.engine.status(sid).restore_to for sid in SYSTEMS} == before
        if tick:
            self._tick()
        self._check_model()

    @rule(
        system_id=st.sampled_from(SYSTEMS),
        mode=st.sampled_from(list(BatteryMode)),
        reserve=st.integers(20, 100),
        in_app=st.booleans(),
    )
    def user_change(self, system_id: int, mode: BatteryMode, reserve: int, in_app: bool) -> None:
        """The user changes the settings: from an entity, or in the Enphase app (seen by polls)."""
        if system_id in self.api.events:
            return
        self.api.change_by_hand(system_id, mode, reserve)
        value = SettingsSnapshot(mode=mode, reserve_soc=reserve)
        # Through an entity it is the user's whatever the value; seen in the app,
        # a value this episode wrote (or the snapshot) cannot be told from ours.
        if not in_app or (
            value not in self.written[system_id] and value != self.original[system_id]
        ):
            self.user_changed[system_id] = True
            self.user_value[system_id] = value
        entry = self._route(system_id, 0)
        now = self.now(entry)
        if not in_app:
            entry.engine.manual_override(system_id, now)
            assert not entry.engine.status(system_id).busy
        else:
            # Polling saw the change in the Enphase app.
            entry.engine.observe_settings(system_id, self.api.visible(system_id), now)
            if self.user_changed[system_id]:
                assert not entry.engine.status(system_id).busy
        self._settle_owners()
        self._check_model()

    @rule(system_id=st.sampled_from(SYSTEMS), level=st.integers(5, 60))
    def shutdown_level_changes(self, system_id: int, level: int) -> None:
        """The installer moves the shutdown level (the reserve may now lie below it)."""
        self.api.set_shutdown(system_id, level)
        self.shutdown[system_id] = level
        self.max_shutdown[system_id] = max(self.max_shutdown[system_id], level)
        self._check_model()

    @rule(system_id=st.sampled_from(SYSTEMS), active=st.booleans())
    def grid_event(self, system_id: int, active: bool) -> None:
        """A utility's grid services event starts or ends (the next poll tells)."""
        if active:
            self.pending_events.add(system_id)
        else:
            self.pending_events.discard(system_id)
        self._check_model()

    @rule(lag=st.integers(0, int(POLL.total_seconds())))
    def poll(self, lag: int) -> None:
        """A poll: server times, the settings in force and grid events reach every entry."""
        server_time = self.clock.now - timedelta(seconds=lag)
        # From the engine's side an event starts or ends when a poll says so.
        self.api.events = set(self.pending_events)
        for entry in self.entries:
            mono = (self.clock.now - entry.booted_at).total_seconds()
            entry.reckoning.observe(server_time, self.clock.now + self.offset, mono)
            now = self.now(entry)
            for system_id in SYSTEMS:
                entry.engine.set_grid_event(system_id, active=system_id in self.api.events, now=now)
                entry.engine.observe_settings(system_id, self.api.visible(system_id), now)
        self._settle_owners()
        # Every poll is also a tick.
        self._tick()
        self._check_model()

    def _tick(self) -> None:
        for entry in self.entries:
            now = self.now(entry)
            self.run(entry.engine.async_tick(now))
            for system_id in SYSTEMS:
                command = entry.engine.status(system_id).command
                # No command outlives its end (by the reckoning) by more than one tick.
                assert command is None or now < command.ends_at
            wakeup = entry.engine.next_wakeup()
            assert wakeup is None or wakeup > now
        self._settle_owners()
        self._check_in_force()

    def _check_in_force(self) -> None:
        """Nothing is in force longer than 4 hours plus one poll, by real time.

        Allowed beyond that: real time in which no timer could fire (HA hung or
        down), and, after a restart, how far a wall clock running ahead had
        put the reckoning ahead of real time when the command was sent.
        """
        restarted = any(entry.restarted for entry in self.entries)
        running = {
            command.command_id
            for entry in self.entries
            for system_id in SYSTEMS
            if (command := entry.engine.status(system_id).command) is not None
        }
        for command_id in list(self.unticked):
            sent, lead = self.sent[command_id]
            allowed = MAX_DURATION + POLL + self.unticked[command_id]
            assert self.clock.now - sent <= allowed + (lead if restarted else timedelta(0))
            if command_id not in running:
                del self.unticked[command_id]

    def _check_model(self) -> None:
        self._check_in_force()
        for system_id in SYSTEMS:
            others = [
                entry
                for index, entry in enumerate(self.entries)
                if self.owners.get(system_id) != index
            ]
            # One command per system across entries.
            assert not any(entry.engine.status(system_id).busy for entry in others)
            status = self.status(system_id)
            original = self.original[system_id]
            if not status.busy:
                if original is not None:
                    seen = self.api.snapshot(system_id)
                    if self.user_changed[system_id]:
                        # Ended as the user's override: their settings stay.
                        assert status.last_end_reason in OVERRIDES
                        assert seen == self.user_value[system_id]
                    else:
                        # Done: the settings are back to the snapshot (or the nearest allowed).
                        assert seen.mode == original.mode
                        assert seen.reserve_soc == original.reserve_soc or (
                            status.restore_adjusted_from == original.reserve_soc
                            and seen.reserve_soc > original.reserve_soc
                        )
                    self.original[system_id] = None
                    self.user_changed[system_id] = False
                assert status.restore_to is None
            else:
                # No write left untracked: a busy system always has its snapshot.
                self._check_snapshot(system_id, status.restore_to)
                waiting = status.restore_waits_for is not None or (system_id in self.api.events)
                assert waiting or any(
                    entry.engine.next_wakeup() is not None for entry in self.entries
                )

    @invariant()
    def puts_respect_the_floor(self) -> None:
        """No PUT below 10 % or the shutdown level, and none during a grid event."""
        for put in self.api.put_attempts:
            assert not put.during_event
            if put.reserve_soc is not None:
                assert put.reserve_soc >= MIN_RESERVE


CommandMachine.TestCase.settings = settings(
    max_examples=MACHINE_EXAMPLES,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCommandMachine = CommandMachine.TestCase
