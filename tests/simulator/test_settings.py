"""Battery mode spellings and the settings timeline (requested versus in force)."""

from __future__ import annotations

import pytest

from enphase_simulator.settings import (
    FULL_BACKUP,
    SAVINGS,
    SELF_CONSUMPTION,
    SettingsTimeline,
    SiteSettings,
    effective_mode,
    normalise_mode,
)


@pytest.mark.parametrize(
    ("raw", "mode"),
    [
        ("Self - Consumption", SELF_CONSUMPTION),
        ("Self-consumption", SELF_CONSUMPTION),
        ("self-consumption", SELF_CONSUMPTION),
        ("SELF_CONSUMPTION", SELF_CONSUMPTION),
        ("Savings Mode", SAVINGS),
        ("savings_mode", SAVINGS),
        ("Full Backup", FULL_BACKUP),
        ("full-backup", FULL_BACKUP),
        ("Backup", None),
        ("", None),
    ],
)
def test_normalise_mode(raw: str, mode: str | None) -> None:
    assert normalise_mode(raw) == mode


def test_storm_alert_under_storm_guard_forces_backup() -> None:
    assert effective_mode(SiteSettings(storm_alert=True)) == SELF_CONSUMPTION
    assert effective_mode(SiteSettings(storm_guard=True)) == SELF_CONSUMPTION
    both = SiteSettings(mode=SAVINGS, storm_guard=True, storm_alert=True)
    assert effective_mode(both) == FULL_BACKUP


def test_timeline_applies_changes_strictly_before_an_interval_end() -> None:
    timeline = SettingsTimeline(SiteSettings())
    timeline.add(200, 100, {"reserve_soc": 50})
    timeline.add(150, 120, {"mode": FULL_BACKUP})
    assert timeline.at(150) == SiteSettings()
    assert timeline.at(151).mode == FULL_BACKUP
    assert timeline.at(200).reserve_soc == 30
    assert timeline.at(201) == SiteSettings(mode=FULL_BACKUP, reserve_soc=50)
    assert timeline.requested() == SiteSettings(mode=FULL_BACKUP, reserve_soc=50)
    assert [c.effective_at for c in timeline.pending(150)] == [200]


def test_later_request_wins_at_the_same_effect_time() -> None:
    timeline = SettingsTimeline(SiteSettings())
    timeline.add(100, 40, {"reserve_soc": 40})
    timeline.add(100, 50, {"reserve_soc": 60})
    assert timeline.at(101).reserve_soc == 60
    assert timeline.requested().reserve_soc == 60


def test_unknown_setting_is_refused() -> None:
    timeline = SettingsTimeline(SiteSettings())
    with pytest.raises(ValueError, match="unknown settings"):
        timeline.add(100, 50, {"turbo": True})
    assert timeline.changes == []


def test_timeline_round_trips_through_json() -> None:
    timeline = SettingsTimeline(SiteSettings(reserve_soc=20))
    timeline.add(300, 240, {"mode": SAVINGS, "energy_independence": False})
    restored = SettingsTimeline.from_json(timeline.to_json())
    assert restored.initial == timeline.initial
    assert restored.changes == timeline.changes
    assert restored.at(301) == timeline.at(301)
