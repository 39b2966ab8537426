"""Client of the Enphase Enlighten Systems API v4.

This package imports nothing from Home Assistant: it needs only aiohttp.
"""

from __future__ import annotations

from .client import EnphaseClient
from .const import DEFAULT_BASE_URL, ENDPOINTS, PLAN_GATED_ENDPOINTS, WRITE_ENDPOINTS, Endpoint
from .errors import (
    EnphaseApiKeyError,
    EnphaseAuthError,
    EnphaseConnectionError,
    EnphaseError,
    EnphaseNotFound,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseResponseError,
    EnphaseServerError,
    EnphaseUnprocessable,
)
from .limiter import RequestLimiter
from .models import (
    Address,
    AnyBatteryMode,
    BatteryActivity,
    BatteryInterval,
    BatteryMode,
    BatteryReading,
    BatterySettings,
    BatteryTelemetry,
    Device,
    Devices,
    EnergyField,
    EnergyInterval,
    EnergyTelemetry,
    Granularity,
    GridStatus,
    LatestTelemetry,
    MeterReading,
    StormGuard,
    Summary,
    System,
    known_mode,
    mode_from_key,
    mode_key,
)
from .oauth import AUTHORIZE_PATH, TOKEN_PATH, basic_auth_header

__all__ = [
    "AUTHORIZE_PATH",
    "DEFAULT_BASE_URL",
    "ENDPOINTS",
    "PLAN_GATED_ENDPOINTS",
    "TOKEN_PATH",
    "WRITE_ENDPOINTS",
    "Address",
    "AnyBatteryMode",
    "BatteryActivity",
    "BatteryInterval",
    "BatteryMode",
    "BatteryReading",
    "BatterySettings",
    "BatteryTelemetry",
    "Device",
    "Devices",
    "Endpoint",
    "EnergyField",
    "EnergyInterval",
    "EnergyTelemetry",
    "EnphaseApiKeyError",
    "EnphaseAuthError",
    "EnphaseClient",
    "EnphaseConnectionError",
    "EnphaseError",
    "EnphaseNotFound",
    "EnphasePlanError",
    "EnphaseRateLimited",
    "EnphaseResponseError",
    "EnphaseServerError",
    "EnphaseUnprocessable",
    "Granularity",
    "GridStatus",
    "LatestTelemetry",
    "MeterReading",
    "RequestLimiter",
    "StormGuard",
    "Summary",
    "System",
    "basic_auth_header",
    "known_mode",
    "mode_from_key",
    "mode_key",
]
