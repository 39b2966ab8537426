"""Tests for times in messages."""

from __future__ import annotations

from datetime import UTC, datetime

from homeassistant.core import HomeAssistant

from custom_components.enphase_cloud.human_time import local_time_text


async def test_local_time_text(hass: HomeAssistant) -> None:
    """Local, to the minute; the date only on another day; never ISO."""
    await hass.config.async_set_time_zone("America/Los_Angeles")
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Nov 30, 18:00 in California
    assert local_time_text(datetime(2026, 12, 1, 2, 54, 12, 498048, tzinfo=UTC), now) == "18:54"
    assert local_time_text(datetime(2026, 12, 1, 8, 0, tzinfo=UTC), now) == "Dec 1, 00:00"
