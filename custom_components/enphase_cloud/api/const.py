"""Constants of the Enphase Enlighten API v4 client."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DEFAULT_BASE_URL: Final = "https://api.enphaseenergy.com"
API_PREFIX: Final = "/api/v4"
DEFAULT_TIMEOUT: Final = 30.0
SYSTEMS_PAGE_SIZE: Final = 100
"""Largest page the `/systems` endpoint accepts."""


class Endpoint(StrEnum):
    """Stable names of the endpoints, as passed to a `RequestLimiter`.

    The names are part of the public API: a limiter may key its bookkeeping on
    them. Reads and writes of the same path have different names so a limiter
    can keep budget for user commands.
    """

    SYSTEMS = "systems"
    SUMMARY = "summary"
    DEVICES = "devices"
    LATEST_TELEMETRY = "latest_telemetry"
    PRODUCTION_TELEMETRY = "telemetry/production_meter"
    CONSUMPTION_TELEMETRY = "telemetry/consumption_meter"
    BATTERY_TELEMETRY = "telemetry/battery"
    IMPORT_TELEMETRY = "energy_import_telemetry"
    EXPORT_TELEMETRY = "energy_export_telemetry"
    MICRO_TELEMETRY = "telemetry/production_micro"
    """Kilowatt plan and above; not called by this client, kept for classification."""
    BATTERY_SETTINGS = "battery_settings"
    SET_BATTERY_SETTINGS = "battery_settings/put"
    STORM_GUARD = "storm_guard"
    SET_STORM_GUARD = "storm_guard/put"
    GRID_STATUS = "grid_status"
    EVENTS = "events"
    ALARMS = "alarms"
    EVENT_TYPES = "event_types"
    EV_CHARGERS = "ev_charger/devices"
    EV_EVENTS = "ev_charger/events"
    EV_SESSIONS = "ev_charger/sessions"
    EV_SCHEDULES = "ev_charger/schedules"
    EV_LIFETIME = "ev_charger/lifetime"
    EV_TELEMETRY = "ev_charger/telemetry"
    EV_START_CHARGING = "ev_charger/start_charging"
    EV_STOP_CHARGING = "ev_charger/stop_charging"
    """Partner plan only (Enphase: "access via VPP api for partners")."""


ENDPOINTS: Final[tuple[Endpoint, ...]] = tuple(Endpoint)
"""Every endpoint name the client can pass to a limiter."""

PLAN_GATED_ENDPOINTS: Final[frozenset[Endpoint]] = frozenset(
    {
        Endpoint.MICRO_TELEMETRY,
        Endpoint.BATTERY_SETTINGS,
        Endpoint.SET_BATTERY_SETTINGS,
        Endpoint.STORM_GUARD,
        Endpoint.SET_STORM_GUARD,
        Endpoint.GRID_STATUS,
        Endpoint.EV_START_CHARGING,
        Endpoint.EV_STOP_CHARGING,
    }
)
"""Endpoints that the free Watt plan does not include: a plain 401 there means the plan."""

WRITE_ENDPOINTS: Final[frozenset[Endpoint]] = frozenset(
    {
        Endpoint.SET_BATTERY_SETTINGS,
        Endpoint.SET_STORM_GUARD,
        Endpoint.EV_START_CHARGING,
        Endpoint.EV_STOP_CHARGING,
    }
)
"""Endpoints that change something on the gateway (HTTP PUT or POST)."""

EVENTS_MAX_WINDOW_S: Final = 7 * 86_400
"""`/events` and `/alarms` give at most one week a call."""
