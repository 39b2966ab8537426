"""Tests for the one way the integration builds its client."""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant

from custom_components.enphase_cloud import connection
from custom_components.enphase_cloud.budget import Plan, async_get_budget


async def test_client_is_limited_by_the_keys_shared_budget(hass: HomeAssistant) -> None:
    async def token() -> str:
        return "token"

    client, budget = await connection.async_create_client(hass, "key", "kilowatt", token)
    assert budget is await async_get_budget(hass, "key", Plan.KILOWATT)
    assert budget.plan is Plan.KILOWATT
    assert client is not None


def test_only_connection_builds_a_client() -> None:
    """Setup, removal and the config flow all build their client one way."""
    package = Path(connection.__file__).parent
    builders = sorted(
        path.name
        for path in package.glob("*.py")
        if "EnphaseClient(" in path.read_text(encoding="utf-8")
    )
    assert builders == ["connection.py"]
