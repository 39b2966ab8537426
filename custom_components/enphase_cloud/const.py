"""Constants for the Enphase Cloud integration."""

from __future__ import annotations

from datetime import timedelta
import logging
import os
from typing import Final

from .api.const import DEFAULT_BASE_URL

DOMAIN: Final = "enphase_cloud"
LOGGER = logging.getLogger(__package__)

# Lets script/develop, the tests and the benchmarks point the integration at the
# simulator without a code change.
BASE_URL_ENV: Final = "ENPHASE_CLOUD_BASE_URL"


def base_url() -> str:
    """Return the Enphase base URL for OAuth and the API, honouring the override."""
    return os.environ.get(BASE_URL_ENV, DEFAULT_BASE_URL).rstrip("/")


DEVELOPER_PORTAL_URL: Final = "https://developer-v4.enphase.com"

# Enphase reports telemetry in 15-minute intervals, and gateways upload each quarter
# hour; the recorder keeps hourly statistics.
INTERVAL: Final = timedelta(minutes=15)
HOUR: Final = timedelta(hours=1)

CONF_PLAN: Final = "plan"
CONF_HISTORY_DAYS: Final = "history_days"
DEFAULT_PLAN: Final = "watt"
DEFAULT_HISTORY_DAYS: Final = 30
# Enphase serves telemetry up to two years back.
MAX_HISTORY_DAYS: Final = 730

# The `status` values Enphase documents for a system.
SYSTEM_STATUSES: Final = (
    "normal",
    "comm",
    "micro",
    "power",
    "meter",
    "battery",
    "storage_idle",
    "meter_issue",
    "enpower",
    "encharge",
    "enpower_issue",
    "encharge_issue",
)
