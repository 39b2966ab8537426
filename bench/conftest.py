"""Fixtures of the benchmark: the test suite's Home Assistant preparation, reused."""

from __future__ import annotations

import logging
from typing import Any

import pytest

# Importing the fixtures registers them for this folder too (same recorder and
# custom-integration setup as the tests, same application credentials).
from tests.conftest import auto_prepare_hass, credentials

__all__ = ["auto_prepare_hass", "credentials"]

# The simulator's access log runs on a frozen clock where aiohttp cannot format the
# time: every request would log a traceback. The figures come from the bench's probe.
logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


@pytest.fixture
def recorder_config() -> dict[str, Any]:
    """Commit every 5 seconds like a real recorder (the test harness commits each event)."""
    return {"commit_interval": 5}
