"""Tests for the constants, whose endpoint names are part of the public API."""

from __future__ import annotations

from custom_components.enphase_cloud.api import (
    DEFAULT_BASE_URL,
    ENDPOINTS,
    PLAN_GATED_ENDPOINTS,
    WRITE_ENDPOINTS,
    Endpoint,
)


def test_endpoint_names_are_stable() -> None:
    """A limiter may key its bookkeeping on these names: changing one breaks it."""
    assert [e.value for e in ENDPOINTS] == [
        "systems",
        "summary",
        "devices",
        "latest_telemetry",
        "telemetry/production_meter",
        "telemetry/consumption_meter",
        "telemetry/battery",
        "energy_import_telemetry",
        "energy_export_telemetry",
        "telemetry/production_micro",
        "battery_settings",
        "battery_settings/put",
        "storm_guard",
        "storm_guard/put",
        "grid_status",
        "events",
        "alarms",
        "event_types",
        "ev_charger/devices",
        "ev_charger/events",
        "ev_charger/sessions",
        "ev_charger/schedules",
        "ev_charger/lifetime",
        "ev_charger/telemetry",
        "ev_charger/start_charging",
        "ev_charger/stop_charging",
    ]
    assert isinstance(Endpoint.SUMMARY, str)


def test_plan_gated_and_writes() -> None:
    assert {e.value for e in PLAN_GATED_ENDPOINTS} == {
        "telemetry/production_micro",
        "battery_settings",
        "battery_settings/put",
        "storm_guard",
        "storm_guard/put",
        "grid_status",
        "ev_charger/start_charging",
        "ev_charger/stop_charging",
    }
    assert {
        Endpoint.SET_BATTERY_SETTINGS,
        Endpoint.SET_STORM_GUARD,
        Endpoint.EV_START_CHARGING,
        Endpoint.EV_STOP_CHARGING,
    } == WRITE_ENDPOINTS
    assert WRITE_ENDPOINTS <= PLAN_GATED_ENDPOINTS


def test_default_base_url() -> None:
    assert DEFAULT_BASE_URL == "https://api.enphaseenergy.com"
