"""Tests for the battery actions, end to end against the simulator's battery physics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.number import (
    ATTR_VALUE,
    DOMAIN as NUMBER_DOMAIN,
    SERVICE_SET_VALUE,
)
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, translation
from homeassistant.helpers.service import async_get_all_descriptions
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_cloud.const import DOMAIN

from .battery_helpers import (
    EVENING,
    MINUTE,
    RESERVE_NUMBER,
    advance,
    call,
    command_attribute,
    command_state,
    requested,
    set_shutdown_level,
    setup_entry,
    setup_evening,
)
from .conftest import API_KEY, BATTERY_SYSTEM, PLAIN_SYSTEM, SimHarness, token_data


@pytest.fixture
def plan() -> str:
    """Battery control needs the Megawatt plan."""
    return "megawatt"


async def assert_translated(hass: HomeAssistant, err: ServiceValidationError) -> None:
    """The error's key has English text, and every placeholder it names is filled in."""
    assert err.translation_domain == DOMAIN
    loaded = await translation.async_get_translations(hass, "en", "exceptions", {DOMAIN})
    template = loaded[f"component.{DOMAIN}.exceptions.{err.translation_key}.message"]
    message = template.format(**(err.translation_placeholders or {}))
    assert "{" not in message


def soc_now(simulator: SimHarness) -> int:
    return int(simulator.sim.truth(BATTERY_SYSTEM)[-1]["soc_percent"])


async def test_discharge_end_to_end(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Full backup holds the charge; a discharge drains it to the target, then restores."""
    await setup_evening(hass, simulator, config_entry, freezer, mode="full_backup")
    start_soc = soc_now(simulator)
    assert start_soc > 85

    response = await call(hass, "discharge", target_reserve=80, duration={"hours": 3})

    assert response == {
        "system_id": BATTERY_SYSTEM,
        "command_id": response["command_id"],
        "kind": "discharge",
        "state": "pending",
        "target_reserve": 80,
        "effective_from": (EVENING + MINUTE).isoformat(),
        "ends_at": (EVENING + timedelta(hours=3)).isoformat(),
        "restore_to": {"mode": "full_backup", "reserve_soc": 30},
    }
    assert requested(simulator) == ("self_consumption", 80)
    assert command_state(hass) == "pending"

    await advance(hass, freezer, MINUTE)
    assert command_state(hass) == "active"

    # The battery now covers the home: its charge falls until a fresh reading shows the target.
    ended_at = None
    while ended_at is None and datetime.now(UTC) < EVENING + timedelta(hours=3):
        await advance(hass, freezer, MINUTE)
        if command_state(hass) != "active":
            ended_at = datetime.now(UTC)
    assert ended_at is not None
    assert ended_at < EVENING + timedelta(hours=2)
    assert command_attribute(hass, "last_end_reason") == "target_reached"
    assert soc_now(simulator) <= 81
    assert requested(simulator) == ("full_backup", 30)

    # Confirmed by reading the settings back a minute later.
    await advance(hass, freezer, 2 * MINUTE)
    assert command_state(hass) == "idle"
    assert hass.states.get(RESERVE_NUMBER).state == "30"


async def test_hold_reserve_expires_at_four_hours(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    start = datetime.now(UTC)
    response = await call(hass, "hold_reserve", target_reserve=90, duration={"hours": 4})
    assert response["ends_at"] == (start + timedelta(hours=4)).isoformat()
    assert requested(simulator) == ("self_consumption", 90)

    await advance(hass, freezer, timedelta(hours=4) - MINUTE, step=timedelta(minutes=5))
    assert command_state(hass) == "active"
    assert requested(simulator) == ("self_consumption", 90)

    await advance(hass, freezer, MINUTE)
    assert command_state(hass) == "restoring"
    assert command_attribute(hass, "last_end_reason") == "expired"
    assert requested(simulator) == ("self_consumption", 30)
    await advance(hass, freezer, 2 * MINUTE)
    assert command_state(hass) == "idle"


async def test_default_duration_is_one_hour(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    start = datetime.now(UTC)
    response = await call(hass, "hold_reserve", target_reserve=50)
    assert response["ends_at"] == (start + timedelta(hours=1)).isoformat()


async def test_pending_window_ignores_readings_from_before(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The battery is already below the target, but only a fresh reading may say so."""
    await setup_evening(hass, simulator, config_entry, freezer)
    assert soc_now(simulator) < 98
    await call(hass, "discharge", target_reserve=98, duration={"hours": 1})
    assert command_state(hass) == "pending"

    # Polls land 5 minutes after the quarters: the 03:05 one still reads the interval ending
    # 03:00, from before the discharge took effect; the 03:20 one reads the 03:15 interval.
    await advance(hass, freezer, timedelta(minutes=17))
    assert command_state(hass) == "active"
    await advance(hass, freezer, timedelta(minutes=5))
    assert command_attribute(hass, "last_end_reason") == "target_reached"
    assert command_attribute(hass, "last_ended_at") == EVENING + timedelta(minutes=18)
    assert requested(simulator) == ("self_consumption", 30)


async def test_stacking_keeps_the_original_snapshot(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await setup_evening(hass, simulator, config_entry, freezer, mode="savings_mode", reserve_soc=40)
    first = await call(hass, "hold_reserve", target_reserve=60, duration={"hours": 2})
    await advance(hass, freezer, 5 * MINUTE)
    second = await call(hass, "discharge", target_reserve=50, duration={"hours": 2})
    await advance(hass, freezer, 5 * MINUTE)
    third = await call(hass, "hold_reserve", target_reserve=70, duration={"hours": 2})

    original = {"mode": "savings", "reserve_soc": 40}
    assert first["restore_to"] == second["restore_to"] == third["restore_to"] == original
    assert len({first["command_id"], second["command_id"], third["command_id"]}) == 3
    # The hold after a discharge puts the original mode back along with its reserve.
    assert requested(simulator) == ("savings_mode", 70)
    assert command_attribute(hass, "last_end_reason") == "replaced"

    await call(hass, "cancel_command")
    assert requested(simulator) == ("savings_mode", 40)


async def test_cancel_restores_at_once(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await call(hass, "discharge", target_reserve=40, duration={"hours": 2})
    assert requested(simulator) == ("self_consumption", 40)

    response = await call(hass, "cancel_command", system_id=BATTERY_SYSTEM)

    assert response == {
        "system_id": BATTERY_SYSTEM,
        "state": "restoring",
        "restore_to": {"mode": "self_consumption", "reserve_soc": 30},
    }
    assert requested(simulator) == ("self_consumption", 30)
    assert command_attribute(hass, "last_end_reason") == "cancelled"
    await advance(hass, freezer, 2 * MINUTE)
    assert command_state(hass) == "idle"

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "cancel_command")
    assert err.value.translation_key == "no_command_running"
    await assert_translated(hass, err.value)


async def test_manual_change_ends_the_command_without_restoring(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await call(hass, "hold_reserve", target_reserve=80, duration={"hours": 2})
    with caplog.at_level(logging.INFO):
        await hass.services.async_call(
            NUMBER_DOMAIN,
            SERVICE_SET_VALUE,
            {ATTR_ENTITY_ID: RESERVE_NUMBER, ATTR_VALUE: 55},
            blocking=True,
        )
    assert "changed by hand during a battery command" in caplog.text
    assert command_state(hass) == "idle"
    assert command_attribute(hass, "last_end_reason") == "manual_override"

    await advance(hass, freezer, timedelta(hours=3), step=timedelta(minutes=5))
    assert requested(simulator) == ("self_consumption", 55)
    assert hass.states.get(RESERVE_NUMBER).state == "55"


async def test_export_to_grid_is_reported_unsupported(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    response = await call(hass, "discharge", target_reserve=20, export_to_grid=True)
    assert response["export"] == "not_supported"
    assert "cannot change tariff or grid export" in response["export_reason"]
    assert command_attribute(hass, "export_to_grid") == "not_supported"
    assert requested(simulator) == ("self_consumption", 20)


@pytest.mark.parametrize("identifier", [str(BATTERY_SYSTEM), f"{BATTERY_SYSTEM}_battery"])
async def test_device_target(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    identifier: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, identifier), init_integration.entry_id
    )
    assert device is not None
    response = await call(hass, "hold_reserve", device_id=device.id, target_reserve=70)
    assert response["system_id"] == BATTERY_SYSTEM
    assert requested(simulator) == ("self_consumption", 70)
    # The device's entry is read through the current API, not the deprecated one.
    assert "config_entries" not in caplog.text


async def test_entry_target(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    response = await call(
        hass,
        "hold_reserve",
        config_entry_id=init_integration.entry_id,
        system_id=BATTERY_SYSTEM,
        target_reserve=65,
    )
    assert response["system_id"] == BATTERY_SYSTEM
    assert requested(simulator) == ("self_consumption", 65)


async def test_two_accounts(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    """With two entries loaded, the action needs to be told which one."""
    tokens = simulator.sim.mint_tokens("neighbour@example.com")
    neighbour = MockConfigEntry(
        domain=DOMAIN,
        title="Maple Cottage",
        unique_id=str(tokens["enl_uid"]),
        data={"auth_implementation": DOMAIN, "token": token_data(tokens), "api_key": API_KEY},
        options=dict(init_integration.options),
    )
    await setup_entry(hass, neighbour)

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "hold_reserve", target_reserve=60)
    assert err.value.translation_key == "service_found_multiple_config_entry_for_domain"

    response = await call(
        hass, "hold_reserve", config_entry_id=neighbour.entry_id, target_reserve=60
    )
    assert response["system_id"] == 1003
    assert response["restore_to"] == {"mode": "self_consumption", "reserve_soc": 20}
    assert requested(simulator) == ("self_consumption", 30)


@pytest.mark.parametrize("service", ["hold_reserve", "discharge", "cancel_command"])
async def test_system_required(
    hass: HomeAssistant, simulator: SimHarness, config_entry: MockConfigEntry, service: str
) -> None:
    """An entry without a battery system (or with several) must be told which system."""
    tokens = simulator.sim.mint_tokens("empty@example.com")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Empty",
        unique_id=str(tokens["enl_uid"]),
        data={"auth_implementation": DOMAIN, "token": token_data(tokens), "api_key": API_KEY},
        options=dict(config_entry.options),
    )
    await setup_entry(hass, entry)
    data = {} if service == "cancel_command" else {"target_reserve": 50}

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, **data)
    assert err.value.translation_key == "system_required"
    await assert_translated(hass, err.value)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"target_reserve": 9}, "reserve_out_of_range"),
        ({"target_reserve": 101}, "reserve_out_of_range"),
        ({"target_reserve": 50.5}, "reserve_out_of_range"),
        ({"target_reserve": 50, "duration": {"seconds": 0}}, "duration_out_of_range"),
        ({"target_reserve": 50, "duration": "-00:10:00"}, "duration_out_of_range"),
        ({"target_reserve": 50, "duration": {"hours": 4, "seconds": 1}}, "duration_out_of_range"),
        ({"target_reserve": 50, "system_id": PLAIN_SYSTEM}, "no_battery"),
        ({"target_reserve": 50, "system_id": 999}, "system_not_found"),
    ],
)
@pytest.mark.parametrize("service", ["hold_reserve", "discharge"])
async def test_validation_errors(
    hass: HomeAssistant,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
    service: str,
    data: dict[str, Any],
    key: str,
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, **data)
    assert err.value.translation_key == key
    await assert_translated(hass, err.value)
    assert requested(simulator) == ("self_consumption", 30)
    assert command_state(hass) == "idle"


async def test_reserve_below_shutdown_level(
    hass: HomeAssistant,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
) -> None:
    set_shutdown_level(simulator, 20)
    await setup_entry(hass, config_entry)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "discharge", target_reserve=15)
    assert err.value.translation_key == "reserve_below_shutdown"
    assert err.value.translation_placeholders == {"shutdown_level": "20", "value": "15"}
    await assert_translated(hass, err.value)


@pytest.mark.parametrize("identifier", [("other", "x"), (DOMAIN, "account_4001"), (DOMAIN, "5555")])
async def test_unknown_device(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    identifier: tuple[str, str],
) -> None:
    """Another integration's device, the API's device, a device of no Enphase entry."""
    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    device = device_registry.async_get_or_create(
        config_entry_id=other.entry_id, identifiers={identifier}
    )
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "cancel_command", device_id=device.id)
    assert err.value.translation_key == "device_not_found"
    # A raw device id means nothing to the user: the message does not show it.
    assert not err.value.translation_placeholders
    await assert_translated(hass, err.value)


async def test_enphase_error_is_translated(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry
) -> None:
    simulator.sim.add_fault(500, path="*battery_settings")
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "hold_reserve", target_reserve=50)
    assert err.value.translation_key == "cannot_connect"
    assert command_state(hass) == "idle"


@pytest.mark.parametrize("plan", ["watt"])
@pytest.mark.parametrize("service", ["hold_reserve", "discharge", "cancel_command"])
async def test_plan_without_permission(
    hass: HomeAssistant, simulator: SimHarness, init_integration: MockConfigEntry, service: str
) -> None:
    data = {} if service == "cancel_command" else {"target_reserve": 50}
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, service, **data)
    assert err.value.translation_key == "control_not_permitted"
    await assert_translated(hass, err.value)
    assert requested(simulator) == ("self_consumption", 30)


async def test_actions_are_described(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    """services.yaml parses, and every action and field has an English name and description."""
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    texts = await translation.async_get_translations(hass, "en", "services", {DOMAIN})
    assert set(descriptions) == {"hold_reserve", "discharge", "cancel_command"}
    for service, description in descriptions.items():
        prefix = f"component.{DOMAIN}.services.{service}"
        assert texts[f"{prefix}.name"]
        assert texts[f"{prefix}.description"]
        assert set(description["fields"]) >= {"config_entry_id", "device_id", "system_id"}
        # The device picker offers batteries only, not the "Enphase API" service device.
        picker = description["fields"]["device_id"]["selector"]["device"]
        assert picker["entity"] == [
            {"integration": DOMAIN, "domain": ["sensor"], "device_class": ["battery"]}
        ]
        for name, field in description["fields"].items():
            assert texts[f"{prefix}.fields.{name}.name"]
            assert texts[f"{prefix}.fields.{name}.description"]
            assert "selector" in field
        if service != "cancel_command":
            reserve = description["fields"]["target_reserve"]["selector"]["number"]
            assert (reserve["min"], reserve["max"]) == (10, 100)
