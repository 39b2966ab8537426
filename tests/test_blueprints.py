"""The shipped blueprints load, validate and act in a real Home Assistant."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.enphase_cloud.const import DOMAIN

SHIPPED = Path(__file__).resolve().parents[1] / "blueprints" / "automation" / DOMAIN
BATTERY_DEVICE = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """Give each test a configuration folder of its own to install the blueprints into."""
    return hass_tmp_config_dir


@pytest.fixture
def installed(hass: HomeAssistant) -> None:
    """Install the blueprints where Home Assistant imports them to."""
    shutil.copytree(SHIPPED, Path(hass.config.path("blueprints", "automation", DOMAIN)))


async def _automation(hass: HomeAssistant, name: str, inputs: dict[str, Any]) -> None:
    """Set up one automation from a blueprint; fail when Home Assistant rejects it."""
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "id": name,
                    "alias": name,
                    "use_blueprint": {"path": f"{DOMAIN}/{name}.yaml", "input": inputs},
                }
            ]
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get(f"automation.{name}")
    assert state is not None
    assert state.state == "on", state


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.stem)
def test_blueprint_is_valid(path: Path) -> None:
    """Every shipped file is an automation blueprint Home Assistant accepts."""
    blueprint = models.Blueprint(
        load_yaml_dict(path), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    assert blueprint.metadata["source_url"].endswith(f"/{DOMAIN}/{path.name}")
    assert blueprint.inputs


def test_the_three_blueprints_ship() -> None:
    assert {p.stem for p in SHIPPED.glob("*.yaml")} == {
        "storm_hold",
        "evening_peak_discharge",
        "alarm_notification",
    }


@pytest.mark.usefixtures("installed")
async def test_storm_hold_holds_the_reserve(hass: HomeAssistant) -> None:
    calls = async_mock_service(hass, DOMAIN, "hold_reserve")
    hass.states.async_set("binary_sensor.storm_warning", "off")
    await _automation(
        hass, "storm_hold", {"warning": "binary_sensor.storm_warning", "battery": BATTERY_DEVICE}
    )
    hass.states.async_set("binary_sensor.storm_warning", "on")
    await hass.async_block_till_done()
    assert len(calls) == 1
    assert calls[0].data == {
        "device_id": BATTERY_DEVICE,
        "target_reserve": 100,
        "duration": {"hours": 4, "minutes": 0, "seconds": 0},
    }


@pytest.mark.usefixtures("installed")
async def test_evening_peak_discharges_on_weekdays(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    calls = async_mock_service(hass, DOMAIN, "discharge")
    # A Monday, shortly before the peak.
    monday = datetime(2026, 6, 15, 16, 59, 30, tzinfo=dt_util.get_default_time_zone())
    freezer.move_to(monday)
    await _automation(
        hass, "evening_peak_discharge", {"battery": BATTERY_DEVICE, "target_reserve": 30}
    )
    freezer.move_to(monday.replace(hour=17, minute=0, second=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert len(calls) == 1
    assert calls[0].data == {
        "device_id": BATTERY_DEVICE,
        "target_reserve": 30,
        "duration": {"hours": 3, "minutes": 0, "seconds": 0},
    }
    # A time trigger keeps a timer: turning the automation off releases it.
    await hass.services.async_call("automation", "turn_off", {"entity_id": "all"}, blocking=True)


@pytest.mark.usefixtures("installed")
async def test_alarm_notification_runs_the_chosen_actions(hass: HomeAssistant) -> None:
    calls = async_mock_service(hass, "notify", "phone")
    entity_id = "event.casa_solar_alarm"
    hass.states.async_set(entity_id, "unknown", {"event_type": None, "friendly_name": "Alarm"})
    await _automation(
        hass,
        "alarm_notification",
        {
            "alarm_event": entity_id,
            "notify": [
                {
                    "action": "notify.phone",
                    "data": {"message": "{{ event_name }}: {{ event_type }}"},
                }
            ],
        },
    )
    # An event entity's state is the time it last fired.
    hass.states.async_set(
        entity_id,
        "2026-06-15T17:00:00.000+00:00",
        {"event_type": "grid_outage", "friendly_name": "Alarm"},
    )
    await hass.async_block_till_done()
    hass.states.async_set(
        entity_id,
        "2026-06-15T18:00:00.000+00:00",
        {"event_type": "grid_restored", "friendly_name": "Alarm"},
    )
    await hass.async_block_till_done()
    assert [call.data["message"] for call in calls] == [
        "Alarm: grid_outage",
        "Alarm: grid_restored",
    ]
