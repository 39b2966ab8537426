"""Tests for the battery command engine (pure asyncio, no Home Assistant)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
import json
import logging
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
    CommandValidationError,
    EndReason,
    SettingsSnapshot,
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
        self.put_attempts.append(Put(system_id, mode, reserve_soc, self.clock()))
        await self._wait_gate()
        if self.put_errors:
            raise self.put_errors.popleft()
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


def roundtrip(engine: CommandEngine, api: FakeBatteryApi, **kwargs: Any) -> CommandEngine:
    """Serialize the engine through JSON and build a new one, as after a restart."""
    data = json.loads(json.dumps(engine.to_dict()))
    return CommandEngine.from_dict(data, api, **kwargs)


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
    assert engine.command(SYSTEM) == command
    assert engine.state(SYSTEM, T0) is CommandState.PENDING
    # The first PUT only touches the reserve: the mode is left as it is.
    assert api.puts() == [(None, 80)]
    assert changes == [SYSTEM]
    assert engine.next_wakeup() == T0 + MINUTE

    await run_until(engine, clock, T0 + MINUTE)
    assert engine.state(SYSTEM, clock.now) is CommandState.ACTIVE
    assert changes == [SYSTEM, SYSTEM]
    assert engine.next_wakeup() == T0 + HOUR
    # A hold does not end on the state of charge.
    await engine.async_on_soc(SYSTEM, 5, T0 + 30 * MINUTE, T0 + 31 * MINUTE)
    assert engine.state(SYSTEM, T0 + 31 * MINUTE) is CommandState.ACTIVE

    # Past its end, before the tick, the command already reads as restoring.
    assert engine.state(SYSTEM, T0 + HOUR) is CommandState.RESTORING
    clock.now = T0 + HOUR
    await engine.async_tick(clock.now)
    assert engine.command(SYSTEM) is None
    assert engine.state(SYSTEM, clock.now) is CommandState.RESTORING
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)
    assert engine.last_end_reason(SYSTEM) == EndReason.EXPIRED
    assert engine.last_ended_at(SYSTEM) == T0 + HOUR
    assert engine.restore_to(SYSTEM) == ORIGINAL
    # Confirmed only once the gateway had time to apply the restore.
    assert engine.next_wakeup() == T0 + HOUR + MINUTE

    await run_until(engine, clock, T0 + 2 * HOUR)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert engine.restore_to(SYSTEM) is None
    assert engine.next_wakeup() is None
    assert engine.restore_failing_since(SYSTEM) is None
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
    assert engine.state(SYSTEM, clock.now) is CommandState.ACTIVE
    await engine.async_on_soc(SYSTEM, 20.5, clock.now, clock.now)
    assert engine.state(SYSTEM, clock.now) is CommandState.ACTIVE

    await engine.async_on_soc(SYSTEM, 20.0, clock.now, clock.now)
    assert engine.command(SYSTEM) is None
    assert engine.last_end_reason(SYSTEM) == EndReason.TARGET_REACHED
    assert engine.state(SYSTEM, clock.now) is CommandState.RESTORING
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)

    await run_until(engine, clock, clock.now + 5 * MINUTE)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL


async def test_discharge_expires_without_reaching_target(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, CommandKind.DISCHARGE, target=20, duration=30 * MINUTE)
    await engine.async_on_soc(SYSTEM, 40, T0 + 10 * MINUTE, T0 + 10 * MINUTE)

    await run_until(engine, clock, T0 + HOUR)

    assert engine.last_end_reason(SYSTEM) == EndReason.EXPIRED
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL


async def test_soc_after_end_expires_the_command(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    await start(engine, CommandKind.DISCHARGE, target=20, duration=30 * MINUTE)

    # No tick ran at ends_at: a late reading still ends it as expired.
    await engine.async_on_soc(SYSTEM, 50, T0 + 31 * MINUTE, T0 + 31 * MINUTE)

    assert engine.last_end_reason(SYSTEM) == EndReason.EXPIRED
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

    assert engine.command(SYSTEM) is not None
    assert len(api.puts()) == 1
    # The first reading newer than effective_from counts.
    await engine.async_on_soc(SYSTEM, 10, T0 + MINUTE + timedelta(seconds=1), T0 + 10 * MINUTE)
    assert engine.last_end_reason(SYSTEM) == EndReason.TARGET_REACHED


async def test_soc_for_unknown_or_idle_system_is_ignored(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    await engine.async_on_soc(OTHER, 5, T0, T0)
    await start(engine, CommandKind.DISCHARGE, target=20)
    await engine.async_cancel(SYSTEM, T0 + MINUTE)
    await engine.async_on_soc(SYSTEM, 5, T0 + 2 * MINUTE, T0 + 2 * MINUTE)

    assert engine.state(OTHER, T0) is CommandState.IDLE
    assert len(api.puts()) == 2


async def test_command_shorter_than_apply_delay_never_becomes_active(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, duration=timedelta(seconds=30))
    assert engine.next_wakeup() == T0 + timedelta(seconds=30)

    await run_until(engine, clock, T0 + 5 * MINUTE)

    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL


# ---------------------------------------------------------------------- stacking


async def test_stacking_keeps_the_original_snapshot(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, target=80)
    clock.now = T0 + 10 * MINUTE
    second = await start(engine, CommandKind.DISCHARGE, target=20, now=clock.now)
    assert engine.last_end_reason(SYSTEM) == EndReason.REPLACED
    clock.now = T0 + 20 * MINUTE
    third = await start(engine, target=50, duration=HOUR, now=clock.now)

    assert api.get_count == 1  # only the first command reads the snapshot
    assert second.restore_to == ORIGINAL
    assert third.restore_to == ORIGINAL
    assert engine.command(SYSTEM) == third
    assert third.command_id != second.command_id
    # The hold after a discharge puts the original mode back with its reserve.
    assert api.puts() == [
        (None, 80),
        (BatteryMode.SELF_CONSUMPTION, 20),
        (ORIGINAL.mode, 50),
    ]
    # The replacement restarts the pending window and the duration.
    assert engine.state(SYSTEM, clock.now) is CommandState.PENDING
    assert third.ends_at == clock.now + HOUR

    await engine.async_cancel(SYSTEM, clock.now)
    await run_until(engine, clock, clock.now + 5 * MINUTE)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)


async def test_new_command_during_restore_keeps_the_snapshot(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, CommandKind.DISCHARGE, target=20)
    api.put_errors.append(EnphaseConnectionError("down"))
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)
    assert engine.state(SYSTEM, T0 + 5 * MINUTE) is CommandState.RESTORING
    assert engine.restore_failing_since(SYSTEM) == T0 + 5 * MINUTE

    command = await start(engine, target=60, now=T0 + 6 * MINUTE)

    assert command.restore_to == ORIGINAL
    assert api.get_count == 1
    assert engine.restore_failing_since(SYSTEM) is None
    assert engine.next_restore_attempt(SYSTEM) is None
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
    # The first snapshot, the confirmation of its restore, then the fresh snapshot.
    assert api.get_count == 3


async def test_systems_are_independent(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    api.add_system(OTHER, mode=BatteryMode.SELF_CONSUMPTION, reserve=40)
    await start(engine, target=80, duration=HOUR)
    await start(engine, CommandKind.DISCHARGE, target=20, duration=2 * HOUR, system_id=OTHER)

    await run_until(engine, clock, T0 + HOUR + 5 * MINUTE)

    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert engine.state(OTHER, clock.now) is CommandState.ACTIVE
    assert api.snapshot() == ORIGINAL
    assert api.visible(OTHER).reserve_soc == 20


# ---------------------------------------------------------------------- cancel


async def test_cancel_restores_at_once(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock, changes: list[int]
) -> None:
    await start(engine, target=80)
    changes.clear()

    await engine.async_cancel(SYSTEM, T0 + 30 * MINUTE)

    assert engine.command(SYSTEM) is None
    assert engine.last_end_reason(SYSTEM) == EndReason.CANCELLED
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)
    assert changes  # the HA layer is told to save and refresh
    # A second cancel while the PUT travels sends nothing more.
    await engine.async_cancel(SYSTEM, T0 + 30 * MINUTE)
    assert len(api.puts()) == 2
    await run_until(engine, clock, T0 + 32 * MINUTE)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE


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
    assert engine.next_restore_attempt(SYSTEM) == T0 + 5 * MINUTE + timedelta(seconds=65)

    await engine.async_cancel(SYSTEM, T0 + 6 * MINUTE)

    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)
    assert engine.next_restore_attempt(SYSTEM) == T0 + 7 * MINUTE


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
    assert engine.last_end_reason(SYSTEM) == EndReason.EXPIRED


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
    assert engine.state(SYSTEM, T0) is CommandState.IDLE


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
    assert engine.state(SYSTEM, T0) is CommandState.IDLE

    # Remembered for stacked commands, which do not read the settings again.
    await start(engine, target=30, shutdown_level=None)
    with pytest.raises(CommandValidationError):
        await start(engine, target=15, shutdown_level=None, now=T0 + MINUTE)
    assert engine.command(SYSTEM) is not None
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

    assert engine.apply_delay == 5 * MINUTE
    assert command.effective_from == T0 + 5 * MINUTE
    assert engine.state(SYSTEM, T0 + 4 * MINUTE) is CommandState.PENDING


# ---------------------------------------------------------------------- start failures


@pytest.mark.parametrize("failing", ["get", "put"])
async def test_failed_first_start_leaves_nothing(
    engine: CommandEngine, api: FakeBatteryApi, changes: list[int], failing: str
) -> None:
    error = EnphaseServerError(status=500)
    (api.get_errors if failing == "get" else api.put_errors).append(error)

    with pytest.raises(EnphaseServerError):
        await start(engine)

    assert engine.command(SYSTEM) is None
    assert engine.state(SYSTEM, T0) is CommandState.IDLE
    assert engine.restore_to(SYSTEM) is None
    assert engine.next_wakeup() is None
    assert engine.to_dict() == {"version": 1, "systems": []}
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

    assert engine.command(SYSTEM) == first
    assert engine.last_end_reason(SYSTEM) is None


async def test_server_refusal_below_shutdown_propagates(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    # The coordinator's shutdown level was unknown and the server reports none.
    api.add_system(reserve=30, shutdown_level=None)
    api.put_errors.append(EnphaseUnprocessable(details="System doesn't have encharges"))

    with pytest.raises(EnphaseUnprocessable):
        await start(engine, shutdown_level=None)

    assert engine.state(SYSTEM, T0) is CommandState.IDLE


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
        assert engine.state(SYSTEM, wakeup) is CommandState.RESTORING
        assert engine.restore_failing_since(SYSTEM) == end

    gaps = [(b - a) // seconds for a, b in pairwise(attempts)]
    assert gaps == [30, 60, 120, 240, 480, 900, 900]
    # A tick before the retry is due sends nothing.
    before = len(api.put_attempts)
    await engine.async_tick(clock.now + MINUTE)
    assert len(api.put_attempts) == before

    changes.clear()
    await run_until(engine, clock, clock.now + HOUR)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert engine.restore_failing_since(SYSTEM) is None
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
    assert engine.next_restore_attempt(SYSTEM) == retry_at
    assert engine.next_wakeup() == retry_at
    await engine.async_tick(retry_at - timedelta(seconds=1))
    assert len(api.put_attempts) == 2

    clock.now = retry_at
    await engine.async_tick(retry_at)
    assert engine.next_restore_attempt(SYSTEM) == retry_at + MINUTE

    await run_until(engine, clock, retry_at + 10 * MINUTE)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert engine.restore_failing_since(SYSTEM) is None


async def test_failed_confirmation_reads_again_without_a_new_put(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)
    api.get_errors.append(EnphaseConnectionError("down"))

    clock.now = T0 + 6 * MINUTE
    await engine.async_tick(clock.now)
    assert engine.restore_failing_since(SYSTEM) == clock.now
    assert engine.next_restore_attempt(SYSTEM) == clock.now + timedelta(seconds=30)

    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert len(api.puts()) == 2


async def test_restore_not_applied_is_sent_again(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)
    # Someone changes the settings outside Home Assistant before the check.
    api.change_by_hand(SYSTEM, BatteryMode.FULL_BACKUP, 100)

    clock.now = T0 + 6 * MINUTE
    await engine.async_tick(clock.now)
    assert engine.restore_failing_since(SYSTEM) == clock.now
    assert engine.state(SYSTEM, clock.now) is CommandState.RESTORING

    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
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

    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL
    assert engine.restore_failing_since(SYSTEM) is None


async def test_unexpected_error_in_restore_is_retried(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    await start(engine)
    api.put_errors.append(TimeoutError())

    with caplog.at_level(logging.WARNING):
        await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)

    assert "retrying at" in caplog.text
    await run_until(engine, clock, T0 + 10 * MINUTE)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE


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

    assert engine.command(SYSTEM) is None
    assert engine.state(SYSTEM, T0 + 5 * MINUTE) is CommandState.IDLE
    assert engine.last_end_reason(SYSTEM) == "manual_override"
    assert engine.last_ended_at(SYSTEM) == T0 + 5 * MINUTE
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

    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert engine.restore_failing_since(SYSTEM) is None
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
    assert engine.last_end_reason(SYSTEM) == EndReason.CANCELLED


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
    assert engine.state(SYSTEM, T0 + 5 * MINUTE) is CommandState.IDLE
    assert engine.next_wakeup() is None
    assert engine.restore_failing_since(SYSTEM) is None
    assert engine.last_end_reason(SYSTEM) == EndReason.MANUAL_OVERRIDE


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

    assert engine.state(SYSTEM, T0 + 6 * MINUTE) is CommandState.IDLE
    assert engine.last_end_reason(SYSTEM) == EndReason.MANUAL_OVERRIDE


# ---------------------------------------------------------------------- persistence


async def test_restart_mid_command(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    command = await start(engine, CommandKind.DISCHARGE, target=20, duration=2 * HOUR)
    changes: list[int] = []

    restarted = roundtrip(engine, api, on_change=changes.append)
    restarted.resume(T0 + 30 * timedelta(seconds=1))

    assert restarted.command(SYSTEM) == command
    assert restarted.state(SYSTEM, T0 + 30 * timedelta(seconds=1)) is CommandState.PENDING
    assert restarted.next_wakeup() == T0 + MINUTE
    assert changes == []
    # The timers go on: telemetry ends it, then the restore completes.
    await run_until(restarted, clock, T0 + 10 * MINUTE)
    assert changes == [SYSTEM]
    await restarted.async_on_soc(SYSTEM, 19, clock.now, clock.now)
    await run_until(restarted, clock, clock.now + 5 * MINUTE)
    assert restarted.state(SYSTEM, clock.now) is CommandState.IDLE
    assert api.snapshot() == ORIGINAL


async def test_restart_after_active_keeps_the_active_state(
    engine: CommandEngine, api: FakeBatteryApi
) -> None:
    await start(engine, duration=2 * HOUR)

    restarted = roundtrip(engine, api)
    restarted.resume(T0 + HOUR)

    assert restarted.state(SYSTEM, T0 + HOUR) is CommandState.ACTIVE
    assert restarted.next_wakeup() == T0 + 2 * HOUR


async def test_restart_after_expiry_restores_at_once(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine, duration=HOUR)
    changes: list[int] = []
    restarted = roundtrip(engine, api, on_change=changes.append)
    clock.now = T0 + 3 * HOUR

    restarted.resume(clock.now)

    assert restarted.command(SYSTEM) is None
    assert restarted.state(SYSTEM, clock.now) is CommandState.RESTORING
    assert restarted.last_end_reason(SYSTEM) == EndReason.EXPIRED
    assert restarted.next_wakeup() == clock.now
    assert changes == [SYSTEM]
    await restarted.async_tick(clock.now)
    assert api.puts()[-1] == (ORIGINAL.mode, ORIGINAL.reserve_soc)
    await run_until(restarted, clock, clock.now + 5 * MINUTE)
    assert restarted.state(SYSTEM, clock.now) is CommandState.IDLE


async def test_restart_during_failing_restore_keeps_the_schedule(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    retry_at = T0 + HOUR
    api.put_errors.append(EnphaseRateLimited(period="month", retry_at=retry_at))
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)

    restarted = roundtrip(engine, api)
    restarted.resume(T0 + 10 * MINUTE)

    assert restarted.state(SYSTEM, T0 + 10 * MINUTE) is CommandState.RESTORING
    assert restarted.next_wakeup() == retry_at
    assert restarted.restore_failing_since(SYSTEM) == T0 + 5 * MINUTE
    assert restarted.last_end_reason(SYSTEM) == EndReason.CANCELLED
    await run_until(restarted, clock, retry_at + 5 * MINUTE)
    assert restarted.state(SYSTEM, clock.now) is CommandState.IDLE


async def test_restart_while_confirming_only_reads(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    await start(engine)
    await engine.async_cancel(SYSTEM, T0 + 5 * MINUTE)

    restarted = roundtrip(engine, api)
    restarted.resume(T0 + 20 * MINUTE)
    await run_until(restarted, clock, T0 + 20 * MINUTE)

    assert restarted.state(SYSTEM, clock.now) is CommandState.IDLE
    assert len(api.puts()) == 2


async def test_to_dict_is_json_and_keeps_only_what_matters(
    engine: CommandEngine, api: FakeBatteryApi, clock: Clock
) -> None:
    api.add_system(OTHER)
    await start(engine, CommandKind.DISCHARGE, target=20)
    await engine.async_on_soc(OTHER, 50, T0, T0)

    data = engine.to_dict()

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
    engine = CommandEngine.from_dict(data, api)

    engine.resume(T0)

    assert engine.state(SYSTEM, T0) is CommandState.RESTORING
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
    engine = CommandEngine.from_dict(data, api)

    assert engine.to_dict() == {"version": 1, "systems": []}
    assert engine.state(1, T0) is CommandState.IDLE


def test_from_dict_keeps_good_entries_beside_bad_ones(api: FakeBatteryApi) -> None:
    data = {
        "version": 1,
        "systems": [
            {"system_id": "bad"},
            {"system_id": OTHER, "last_end_reason": "cancelled", "shutdown_level": 12},
        ],
    }

    engine = CommandEngine.from_dict(data, api)

    assert engine.last_end_reason(OTHER) == EndReason.CANCELLED
    assert engine.to_dict()["systems"][0]["shutdown_level"] == 12


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
    assert engine.state(third, clock.now) is CommandState.IDLE
    api.put_errors.append(EnphaseConnectionError("down"))
    await engine.async_cancel(OTHER, clock.now)
    assert engine.state(OTHER, clock.now) is CommandState.RESTORING

    assert stored_restores(json.loads(json.dumps(engine.to_dict()))) == {
        SYSTEM: ORIGINAL,
        OTHER: SettingsSnapshot(mode=BatteryMode.FULL_BACKUP, reserve_soc=40),
    }
    assert stored_restores(None) == {}


def test_queries_for_unknown_system(engine: CommandEngine) -> None:
    assert engine.state(SYSTEM, T0) is CommandState.IDLE
    assert engine.command(SYSTEM) is None
    assert engine.restore_to(SYSTEM) is None
    assert engine.restore_failing_since(SYSTEM) is None
    assert engine.next_restore_attempt(SYSTEM) is None
    assert engine.last_end_reason(SYSTEM) is None
    assert engine.last_ended_at(SYSTEM) is None
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
    assert engine.state(SYSTEM, clock.now) is CommandState.RESTORING
    assert engine.busy_systems() == [SYSTEM, OTHER]
    await run_until(engine, clock, T0 + 3 * MINUTE)
    assert engine.state(SYSTEM, clock.now) is CommandState.IDLE
    assert engine.busy_systems() == [OTHER]


# ---------------------------------------------------------------------- invariants


APPLY_DELAY = MINUTE
SYSTEMS = (SYSTEM, OTHER)


def _error(kind: str, now: datetime) -> Exception:
    if kind == "rate_limited":
        return EnphaseRateLimited(period="minute", retry_at=now + 3 * MINUTE)
    if kind == "server":
        return EnphaseServerError(status=503)
    return EnphaseConnectionError("down")


class CommandMachine(RuleBasedStateMachine):
    """Random starts, cancels, restarts, failures, readings and clock jumps.

    The model keeps, per system, the snapshot the engine must restore (taken
    from the fake when the first command starts) and drops it on a manual
    change; every step checks the invariants against the fake's settings.
    """

    def __init__(self) -> None:
        """Create the loop; the world is built by `setup`."""
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.api = FakeBatteryApi(self.clock)
        self.engine = CommandEngine(self.api, apply_delay=APPLY_DELAY)
        self.shutdown: dict[int, int | None] = {}
        self.original: dict[int, SettingsSnapshot | None] = dict.fromkeys(SYSTEMS)
        self.ticked = True

    def teardown(self) -> None:
        """Close the event loop."""
        self.loop.close()

    def run(self, coro: Any) -> Any:
        """Run one engine call to completion."""
        return self.loop.run_until_complete(coro)

    @initialize(
        delay=st.sampled_from([timedelta(0), timedelta(seconds=30), APPLY_DELAY]),
        modes=st.lists(st.sampled_from(list(BatteryMode)), min_size=2, max_size=2),
        reserves=st.lists(st.integers(0, 100), min_size=2, max_size=2),
        shutdowns=st.lists(st.one_of(st.none(), st.integers(5, 20)), min_size=2, max_size=2),
    )
    def setup(
        self,
        delay: timedelta,
        modes: list[BatteryMode],
        reserves: list[int],
        shutdowns: list[int | None],
    ) -> None:
        """Build the fake's two systems."""
        self.api.gateway_delay = delay
        for system_id, mode, reserve, shutdown in zip(
            SYSTEMS, modes, reserves, shutdowns, strict=True
        ):
            self.api.add_system(
                system_id, mode=mode, reserve=max(reserve, shutdown or 0), shutdown_level=shutdown
            )
            self.shutdown[system_id] = shutdown

    def _expected_snapshot(self, system_id: int, shutdown_level: int | None) -> SettingsSnapshot:
        current = self.api.visible(system_id)
        floor = max(MIN_RESERVE, current.shutdown_level or 0, shutdown_level or 0)
        return SettingsSnapshot(mode=current.mode, reserve_soc=max(current.reserve_soc, floor))

    @rule(
        system_id=st.sampled_from(SYSTEMS),
        kind=st.sampled_from(list(CommandKind)),
        # Mostly valid, so that commands run; sometimes out of range.
        reserve=st.one_of(st.integers(10, 100), st.integers(0, 110)),
        minutes=st.one_of(st.sampled_from([2, 15, 60, 120, 240]), st.integers(-5, 260)),
        tell_shutdown=st.booleans(),
        failure=st.sampled_from([None, None, None, None, None, "get", "put"]),
        error_kind=st.sampled_from(["connection", "rate_limited", "server"]),
    )
    def start(
        self,
        system_id: int,
        kind: CommandKind,
        reserve: int,
        minutes: int,
        tell_shutdown: bool,
        failure: str | None,
        error_kind: str,
    ) -> None:
        """Start a command, sometimes invalid, sometimes failing."""
        now = self.clock.now
        shutdown = self.shutdown[system_id] if tell_shutdown else None
        busy = self.engine.state(system_id, now) is not CommandState.IDLE
        before = self.engine.command(system_id)
        expected = None if busy else self._expected_snapshot(system_id, shutdown)
        if failure == "get":
            self.api.get_errors.append(_error(error_kind, now))
        elif failure == "put":
            self.api.put_errors.append(_error(error_kind, now))
        outcome = self._start_outcome(system_id, reserve, minutes, shutdown, failure, busy=busy)
        raised: Exception | None = None
        try:
            command = self.run(
                self.engine.async_start(
                    system_id,
                    kind,
                    target_reserve=reserve,
                    duration=timedelta(minutes=minutes),
                    shutdown_level=shutdown,
                    now=now,
                )
            )
        except (CommandValidationError, EnphaseError) as err:
            raised = err
        else:
            assert outcome is None
            if expected is not None:
                assert command.restore_to == expected
                self.original[system_id] = expected
            assert command.restore_to == self.original[system_id]
            assert command.target_reserve == reserve
        finally:
            # A queued error the engine did not reach must not leak into later steps.
            self.api.get_errors.clear()
            self.api.put_errors.clear()
        if raised is not None:
            assert outcome is not None
            assert isinstance(raised, outcome)
            # A refused or failed start changes nothing.
            assert self.engine.command(system_id) == before
        self._check_model()

    def _start_outcome(
        self,
        system_id: int,
        reserve: int,
        minutes: int,
        shutdown: int | None,
        failure: str | None,
        *,
        busy: bool,
    ) -> type[Exception] | None:
        """Return the error a start must raise, or None when it must succeed."""
        # Checked in this order: arguments, reading the snapshot (first command
        # only), the shutdown level the battery reports, then the PUT.
        if not (10 <= reserve <= 100 and 0 < minutes <= 240 and reserve >= (shutdown or 0)):
            return CommandValidationError
        if failure == "get" and not busy:
            return EnphaseError
        if reserve < (self.shutdown[system_id] or 0):
            return CommandValidationError
        if failure == "put":
            return EnphaseError
        return None

    @rule(system_id=st.sampled_from(SYSTEMS), fail=st.booleans())
    def cancel(self, system_id: int, fail: bool) -> None:
        """Cancel, sometimes with a failing restore."""
        now = self.clock.now
        idle = self.engine.state(system_id, now) is CommandState.IDLE
        if fail:
            self.api.put_errors.append(EnphaseConnectionError("down"))
        refused: CommandValidationError | None = None
        try:
            self.run(self.engine.async_cancel(system_id, now))
        except CommandValidationError as err:
            refused = err
        assert (refused is not None) == idle
        assert refused is None or refused.code == "no_command_running"
        assert self.engine.command(system_id) is None
        self.api.put_errors.clear()
        self._check_model()

    @rule(
        pick=st.integers(0, 1),
        soc=st.one_of(st.integers(0, 100), st.floats(0, 100)),
        offset=st.integers(-300, 900),
        lag=st.sampled_from([0, 0, 5, 120, 900]),
    )
    def soc_reading(self, pick: int, soc: float, offset: int, lag: int) -> None:
        """Feed a reading measured around effective_from, read `lag` seconds later.

        A system with a command is preferred; without one the reading is placed
        around the current time.
        """
        running = [sid for sid in SYSTEMS if self.engine.command(sid) is not None] or list(SYSTEMS)
        system_id = running[pick % len(running)]
        command = self.engine.command(system_id)
        anchor = command.effective_from if command is not None else self.clock.now
        measured_at = anchor + timedelta(seconds=offset)
        # Readings arrive after they were measured; the clock never goes back.
        self.clock.now = max(self.clock.now, measured_at + timedelta(seconds=lag))
        now = self.clock.now
        self.ticked = False
        self.run(self.engine.async_on_soc(system_id, soc, measured_at, now))
        if command is not None and now < command.ends_at:
            if measured_at <= command.effective_from or command.kind is CommandKind.HOLD_RESERVE:
                # Old telemetry never ends a command, nor does any reading end a hold.
                assert self.engine.command(system_id) == command
            elif soc <= command.target_reserve:
                assert self.engine.command(system_id) is None
                assert self.engine.last_end_reason(system_id) == EndReason.TARGET_REACHED
            else:
                assert self.engine.command(system_id) == command
        self._check_model()

    @rule(
        seconds=st.sampled_from([1, 29, 30, 31, 59, 60, 61, 120, 600, 1800, 3600, 4 * 3600]),
        tick=st.booleans(),
    )
    def advance(self, seconds: int, tick: bool) -> None:
        """Jump the clock, then (usually) tick as the HA scheduler would."""
        self.clock.now += timedelta(seconds=seconds)
        if tick:
            self._tick()
        else:
            self.ticked = False
        self._check_model()

    @precondition(lambda self: self.engine.next_wakeup() is not None)
    @rule(late=st.sampled_from([0, 0, 1, 45]))
    def wake_up(self, late: int) -> None:
        """Run the tick at the engine's next wakeup (or a little late)."""
        wakeup = self.engine.next_wakeup()
        assert wakeup is not None
        self.clock.now = max(self.clock.now, wakeup + timedelta(seconds=late))
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
        if (wakeup := self.engine.next_wakeup()) is not None:
            self.clock.now = max(self.clock.now, wakeup)
        self._tick()
        self.api.get_errors.clear()
        self.api.put_errors.clear()
        self._check_model()

    @rule(tick=st.booleans())
    def restart(self, tick: bool) -> None:
        """Serialize, build a new engine, resume (and tick as setup would)."""
        data = json.loads(json.dumps(self.engine.to_dict()))
        before = {sid: self.engine.restore_to(sid) for sid in SYSTEMS}
        self.engine = CommandEngine.from_dict(data, self.api, apply_delay=APPLY_DELAY)
        self.engine.resume(self.clock.now)
        assert {sid: self.engine.restore_to(sid) for sid in SYSTEMS} == before
        if tick:
            self._tick()
        else:
            self.ticked = False
        self._check_model()

    @rule(
        system_id=st.sampled_from(SYSTEMS),
        mode=st.sampled_from(list(BatteryMode)),
        reserve=st.integers(20, 100),
    )
    def manual_change(self, system_id: int, mode: BatteryMode, reserve: int) -> None:
        """The user changes the settings from an entity."""
        self.api.change_by_hand(system_id, mode, reserve)
        self.engine.manual_override(system_id, self.clock.now)
        self.original[system_id] = None
        assert self.engine.state(system_id, self.clock.now) is CommandState.IDLE
        self._check_model()

    def _tick(self) -> None:
        self.run(self.engine.async_tick(self.clock.now))
        self.ticked = True
        for system_id in SYSTEMS:
            command = self.engine.command(system_id)
            # No command outlives its end by more than one tick.
            assert command is None or self.clock.now < command.ends_at
        wakeup = self.engine.next_wakeup()
        assert wakeup is None or wakeup > self.clock.now

    def _check_model(self) -> None:
        now = self.clock.now
        for system_id in SYSTEMS:
            state = self.engine.state(system_id, now)
            command = self.engine.command(system_id)
            # At most 4 hours; `_tick` checks that none outlives its end by more than a tick.
            assert command is None or command.ends_at - command.sent_at <= MAX_DURATION
            if command is not None and now >= command.ends_at:
                assert state is CommandState.RESTORING
            if state is CommandState.IDLE:
                if self.original[system_id] is not None:
                    # Done: the settings are back to the original snapshot.
                    assert self.api.snapshot(system_id) == self.original[system_id]
                    self.original[system_id] = None
                assert self.engine.restore_to(system_id) is None
            else:
                # Stacking, failures and restarts never change what is restored.
                assert self.engine.restore_to(system_id) == self.original[system_id]
                assert self.engine.next_wakeup() is not None

    @invariant()
    def puts_respect_the_floor(self) -> None:
        """The engine never sends a reserve below 10 % or the shutdown level."""
        for put in self.api.put_attempts:
            if put.reserve_soc is not None:
                assert put.reserve_soc >= MIN_RESERVE
                assert put.reserve_soc >= (self.shutdown[put.system_id] or 0)


CommandMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCommandMachine = CommandMachine.TestCase
