"""Tests for the simulator's fault arguments and the interval-spoiling fault."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from enphase_simulator.faults import make_fault, spoil_intervals

FLAT: dict[str, Any] = {
    "intervals": [
        {"end_at": 900, "devices_reporting": 3, "wh_del": 10},
        {"end_at": 1800, "devices_reporting": 3, "wh_del": 20},
        {"end_at": 2700, "devices_reporting": 3, "wh_del": 30},
    ]
}
BATTERY: dict[str, Any] = {
    "intervals": [
        {"end_at": 900, "charge": {"enwh": 5}, "discharge": {"enwh": 0}, "soc": {"percent": 50}},
        {"end_at": 1800, "charge": {"enwh": 6}, "discharge": {"enwh": 1}, "soc": {"percent": 51}},
    ]
}
SPLIT: dict[str, Any] = {
    "intervals": [[{"end_at": 900, "wh_imported": 7}], [{"end_at": 1800, "wh_imported": 8}]]
}


def test_interval_faults() -> None:
    assert spoil_intervals(copy.deepcopy(FLAT), "drop")["intervals"][1]["end_at"] == 2700
    assert spoil_intervals(copy.deepcopy(FLAT), "negative")["intervals"][1]["wh_del"] == -21
    assert spoil_intervals(copy.deepcopy(FLAT), "revise")["intervals"][1]["wh_del"] == 1020
    assert spoil_intervals(copy.deepcopy(FLAT), "off_quarter")["intervals"][1]["end_at"] == 2220
    battery = spoil_intervals(copy.deepcopy(BATTERY), "soc")["intervals"][1]
    assert battery["soc"]["percent"] == 150
    negative = spoil_intervals(copy.deepcopy(BATTERY), "negative")["intervals"][1]
    assert (negative["charge"]["enwh"], negative["discharge"]["enwh"]) == (-7, -2)
    split = spoil_intervals(copy.deepcopy(SPLIT), "drop")["intervals"]
    assert split == [[{"end_at": 900, "wh_imported": 7}], []]
    assert spoil_intervals({"intervals": []}, "drop") == {"intervals": []}
    assert spoil_intervals({"other": 1}, "drop") == {"other": 1}


def test_fault_arguments() -> None:
    assert make_fault(kind="skew", delay=-3600).delay == -3600
    assert make_fault(kind="interval", details="drop").details == "drop"
    with pytest.raises(ValueError, match="details"):
        make_fault(kind="interval", details="explode")
    with pytest.raises(ValueError, match="skew"):
        make_fault(kind="skew")
    with pytest.raises(ValueError, match="negative"):
        make_fault(kind="timeout", delay=-1)
