"""Tests for diagnostics: useful content, nothing personal or secret."""

from __future__ import annotations

import json

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from .conftest import API_KEY


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
    text = json.dumps(result)
    token = init_integration.data["token"]
    for secret in (API_KEY, token["access_token"], token["refresh_token"], "demo@example.com"):
        assert secret not in text
