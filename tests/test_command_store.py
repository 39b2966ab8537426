"""Tests for the battery command engine's persistence (`command_store`)."""

from __future__ import annotations

from datetime import timedelta
import json

import pytest

from custom_components.enphase_cloud.api.errors import EnphaseConnectionError
from custom_components.enphase_cloud.command_engine import CommandEngine, CommandKind
from custom_components.enphase_cloud.command_store import (
    engine_to_dict,
    reckoned_from_dict,
    records_from_dict,
    stored_restores,
)

from .test_command_engine import HOUR, MINUTE, ORIGINAL, SYSTEM, T0, Clock, FakeBatteryApi


async def test_new_fields_survive_a_round_trip() -> None:
    api = FakeBatteryApi(Clock(), gateway_delay=30 * timedelta(seconds=1))
    api.add_system()
    engine = CommandEngine(api)
    api.lost_answers = 1
    with pytest.raises(EnphaseConnectionError):
        await engine.async_start(
            SYSTEM,
            CommandKind.HOLD_RESERVE,
            target_reserve=90,
            duration=HOUR,
            shutdown_level=None,
            now=T0,
        )

    data = json.loads(json.dumps(engine_to_dict(engine, T0 + MINUTE)))

    assert reckoned_from_dict(data) == T0 + MINUTE
    record = records_from_dict(data)[SYSTEM]
    assert record.check_first
    assert record.restore_to == ORIGINAL
    assert {item.reserve_soc for item in record.known} == {30, 90}
    assert stored_restores(data) == {SYSTEM: ORIGINAL}


def test_data_saved_before_the_new_fields_still_loads() -> None:
    data = {
        "version": 1,
        "systems": [
            {
                "system_id": SYSTEM,
                "command": None,
                "restore_to": {"mode": ORIGINAL.mode.value, "reserve_soc": 30},
                "next_attempt_at": T0.isoformat(),
                "failures": 0,
                "last_end_reason": "expired",
            }
        ],
    }

    record = records_from_dict(data)[SYSTEM]

    assert record.known == {ORIGINAL}
    assert not record.check_first
    assert not record.blocked_by_plan
    assert reckoned_from_dict(data) is None


def test_unreadable_reckoning_and_known_values_are_dropped() -> None:
    assert reckoned_from_dict({"reckoned": "yesterday"}) is None
    bad = {"version": 1, "systems": [{"system_id": SYSTEM, "known": "all"}]}
    assert records_from_dict(bad) == {}
