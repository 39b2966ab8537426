"""Persistence of the battery command engine: its records as JSON-safe data for a Store.

Kept apart from `command_engine` so the state machine stays small; this module
knows the stored layout, the engine knows the rules. An unreadable stored
system is dropped with an error in the log rather than preventing the
integration from starting.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
import logging
from typing import Any, Final, TypeIs

from .api.models import mode_from_key, mode_key
from .command_engine import (
    Command,
    CommandEngine,
    CommandKind,
    EndReason,
    SettingsSnapshot,
    SystemRecord,
)

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
"""Fields added later are optional, so the version has not moved."""


def engine_to_dict(engine: CommandEngine, reckoned: datetime | None = None) -> dict[str, Any]:
    """Return the engine's records (and the latest reckoned time) as JSON-safe data."""
    systems: list[dict[str, Any]] = [
        {
            "system_id": system_id,
            "command": _command_to_dict(system.command) if system.command else None,
            "restore_to": _snapshot_to_dict(system.restore_to) if system.restore_to else None,
            "restore_sent_at": _dt_to_str(system.restore_sent_at),
            "check_first": system.check_first,
            "next_attempt_at": _dt_to_str(system.next_attempt_at),
            "failures": system.failures,
            "failing_since": _dt_to_str(system.failing_since),
            "blocked_by_plan": system.blocked_by_plan,
            "adjusted_from": system.adjusted_from,
            "known": [_snapshot_to_dict(item) for item in sorted(system.known, key=_order)],
            "last_end_reason": system.last_end_reason,
            "last_ended_at": _dt_to_str(system.last_ended_at),
            "shutdown_level": system.shutdown_level,
        }
        for system_id, system in sorted(engine.records().items())
        if system.busy() or system.last_end_reason is not None
    ]
    return {"version": STORAGE_VERSION, "systems": systems, "reckoned": _dt_to_str(reckoned)}


def reckoned_from_dict(data: Mapping[str, Any] | None) -> datetime | None:
    """Return the latest reckoned time saved with the records, if readable."""
    try:
        return _opt_dt_from((data or {}).get("reckoned"))
    except TypeError, ValueError:
        return None


def records_from_dict(data: Mapping[str, Any] | None) -> dict[int, SystemRecord]:
    """Read `engine_to_dict` data; an unreadable system entry is dropped with an error logged."""
    if not data:
        return {}
    if data.get("version") != STORAGE_VERSION:
        _LOGGER.error("Unsupported battery command storage version %r", data.get("version"))
        return {}
    systems: dict[int, SystemRecord] = {}
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


def stored_restores(data: Mapping[str, Any] | None) -> dict[int, SettingsSnapshot]:
    """Return, per system, the snapshot that `engine_to_dict` data still has to put back.

    For a caller that sends the restores itself, once, without an engine (an
    entry being removed): nothing will confirm or retry them afterwards.
    """
    return {
        system_id: snapshot
        for system_id, system in records_from_dict(data).items()
        if (snapshot := system.snapshot()) is not None
    }


# ---------------------------------------------------------------------- fields


def _order(snapshot: SettingsSnapshot) -> tuple[str, int]:
    return (str(snapshot.mode), snapshot.reserve_soc)


def _is_int(value: object) -> TypeIs[int]:
    return isinstance(value, int) and not isinstance(value, bool)


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


def _opt_int_from(value: object) -> int | None:
    return None if value is None else _int_from(value)


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


def _system_from_dict(data: object) -> tuple[int, SystemRecord]:
    if not isinstance(data, Mapping):
        msg = f"expected an object, got {data!r}"
        raise TypeError(msg)
    command = _command_from_dict(data["command"]) if data.get("command") else None
    restore_to = _snapshot_from_dict(data["restore_to"]) if data.get("restore_to") else None
    reason = data.get("last_end_reason")
    known = data.get("known") or []
    if not isinstance(known, list):
        msg = f"expected a list of settings, got {known!r}"
        raise TypeError(msg)
    system = SystemRecord(
        command=command,
        restore_to=restore_to,
        restore_sent_at=_opt_dt_from(data.get("restore_sent_at")),
        check_first=bool(data.get("check_first", False)),
        next_attempt_at=_opt_dt_from(data.get("next_attempt_at")),
        failures=_int_from(data.get("failures", 0)),
        failing_since=_opt_dt_from(data.get("failing_since")),
        blocked_by_plan=bool(data.get("blocked_by_plan", False)),
        adjusted_from=_opt_int_from(data.get("adjusted_from")),
        known={_snapshot_from_dict(item) for item in known},
        last_end_reason=EndReason(reason) if reason is not None else None,
        last_ended_at=_opt_dt_from(data.get("last_ended_at")),
        shutdown_level=_opt_int_from(data.get("shutdown_level")),
    )
    if system.busy() and (snapshot := system.snapshot()) is not None:
        # Data saved before `known` existed: the snapshot is ours at least.
        system.known.add(snapshot)
        if command is not None:
            system.known.add(command.values)
    return _int_from(data["system_id"]), system
