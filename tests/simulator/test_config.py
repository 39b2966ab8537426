"""`SimConfig`: values that would make the simulation meaningless are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from enphase_simulator import SYSTEM_BATTERY, Outage, SimConfig, Simulator


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("plan", "gigawatt", "unknown plan"),
        ("battery_power_sign", 0, "battery_power_sign must be 1 or -1"),
        ("clock_factor", -1.0, "clock_factor must not be negative"),
        ("connection_types", {SYSTEM_BATTERY: "satellite"}, "unknown connection type"),
    ],
)
def test_bad_values_are_refused(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimConfig(**{field: value})


def test_naive_times_are_utc() -> None:
    sim = Simulator(
        SimConfig(
            start=datetime(2026, 6, 15, 19),  # noqa: DTZ001 - naive on purpose
            clock_factor=0.0,
            outages=(Outage(system_id=SYSTEM_BATTERY, start=datetime(2026, 6, 15, 20)),),  # noqa: DTZ001
        )
    )
    assert sim.now().isoformat() == "2026-06-15T19:00:00+00:00"
    assert sim.reporting(SYSTEM_BATTERY)["outages"] == [{"start": 1781553600, "end": None}]
