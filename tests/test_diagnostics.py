"""Tests for diagnostics: useful content, nothing personal or secret."""

from __future__ import annotations

from datetime import timedelta
import json

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.enphase_cloud.const import DOMAIN

from .conftest import API_KEY, BATTERY_SYSTEM, PLAIN_SYSTEM, START, SimHarness, run_until


async def test_diagnostics(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    # After the entry: the simulator fixture moves the clock, and the client's token
    # must be issued on the moved clock.
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
) -> None:
    result = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert result == snapshot(
        exclude=props("created_at", "modified_at", "expires_at", "expires_in")
    )


# Kilowatt: the charger is read in the first minutes (on Watt, in the day's bulk round).
@pytest.mark.parametrize("plan", ["kilowatt"])
async def test_diagnostics_reveal_nothing_personal(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
) -> None:
    await run_until(hass, freezer, START + timedelta(minutes=2))
    result = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    text = json.dumps(result)
    # Still useful: both systems and their device groups are there.
    assert [system["system"]["system_id"] for system in result["systems"]] == [
        BATTERY_SYSTEM,
        PLAIN_SYSTEM,
    ]
    assert result["systems"][0]["devices"]["micros"]
    (charger,) = result["ev_chargers"][str(BATTERY_SYSTEM)]
    assert charger["serial"] == "**REDACTED**"
    assert charger["state"] is not None

    token = init_integration.data["token"]
    secrets = [
        API_KEY,
        token["access_token"],
        token["refresh_token"],
        str(token["enl_uid"]),
        "demo@example.com",
        init_integration.title,
    ]
    for system_id in (BATTERY_SYSTEM, PLAIN_SYSTEM):
        spec = simulator.sim.world.systems[system_id]
        secrets += [
            spec.name,
            spec.address.city,
            spec.address.postal_code,
            str(spec.latitude),
            str(spec.longitude),
        ]
        devices = init_integration.runtime_data.coordinator.data.systems[system_id].devices
        for group in (devices.micros, devices.meters, devices.gateways, devices.encharges):
            secrets += [device.serial_number for device in group if device.serial_number]
        secrets += [charger.serial for charger in simulator.sim.system(system_id).ev.chargers]
    assert len(secrets) > 20
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == []


@pytest.mark.parametrize("plan", ["megawatt"])
async def test_diagnostics_show_the_running_battery_command(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """A command in progress is part of what helps to debug the battery."""
    await hass.services.async_call(
        DOMAIN,
        "hold_reserve",
        {"system_id": BATTERY_SYSTEM, "target_reserve": 80},
        blocking=True,
        return_response=True,
    )
    result = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    command = result["battery_commands"][str(BATTERY_SYSTEM)]
    assert command["command_state"] == "pending"
    assert command["kind"] == "hold_reserve"
    assert command["target_reserve"] == 80
    # Times are ISO text, never a Python type's repr.
    assert isinstance(command["ends_at"], str)
    assert "__type" not in json.dumps(result)
