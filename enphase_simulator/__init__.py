"""Enphase Enlighten API v4 cloud simulator (OAuth, `/api/v4`, admin under `/_sim`)."""

from .access_log import RedactingAccessLogger
from .app import create_app
from .clock import ClockIsExternalError, SimClock
from .config import PLANS, Outage, Plan, SimConfig
from .keys import SIMULATOR_KEY
from .simulator import Simulator, UnknownError
from .world import SYSTEM_BATTERY, SYSTEM_NEIGHBOUR, SYSTEM_NO_BATTERY

__all__ = [
    "PLANS",
    "SIMULATOR_KEY",
    "SYSTEM_BATTERY",
    "SYSTEM_NEIGHBOUR",
    "SYSTEM_NO_BATTERY",
    "ClockIsExternalError",
    "Outage",
    "Plan",
    "RedactingAccessLogger",
    "SimClock",
    "SimConfig",
    "Simulator",
    "UnknownError",
    "create_app",
]
