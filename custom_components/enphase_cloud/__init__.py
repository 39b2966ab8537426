"""The Enphase Cloud integration: Enphase solar and IQ Battery through the Enlighten API v4."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from homeassistant.const import CONF_API_KEY, Platform
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_entry_oauth2_flow, config_validation as cv

from .api import EnphaseClient
from .command_runner import BatteryCommander, async_delete_issues, async_restore_removed
from .connection import async_create_client
from .const import CONF_PLAN, DEFAULT_PLAN, DOMAIN
from .coordinator import EnphaseCloudCoordinator
from .data import EnphaseCloudConfigEntry, EnphaseCloudData
from .energy_setup import async_track_offer
from .health import async_remove_health
from .services import async_setup_services

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.EVENT,
    Platform.BUTTON,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
]
# A stored token this close to expiry is refreshed before the removal's restore call.
TOKEN_MARGIN_S = 60


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration: its actions live here, independent of any entry."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EnphaseCloudConfigEntry) -> bool:
    """Connect to one Enphase account and start polling it."""
    try:
        implementation = await config_entry_oauth2_flow.async_get_config_entry_implementation(
            hass, entry
        )
    except config_entry_oauth2_flow.ImplementationUnavailableError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN, translation_key="credentials_unavailable"
        ) from err
    session = config_entry_oauth2_flow.OAuth2Session(hass, entry, implementation)
    # Token errors map themselves: an expired refresh token starts reauth, a
    # transient failure retries setup.
    await session.async_ensure_token_valid()

    async def _access_token() -> str:
        await session.async_ensure_token_valid()
        return str(session.token["access_token"])

    async def _refreshed_token(refused: str) -> str:
        """Refresh a token Enphase refused although it looked valid (clock skew)."""
        if session.token["access_token"] == refused:
            # Marked expired, HA's own refresh runs (with its reauth on a dead refresh token).
            hass.config_entries.async_update_entry(
                entry, data={**entry.data, "token": {**session.token, "expires_at": 0}}
            )
        return await _access_token()

    client, budget = await async_create_client(
        hass,
        entry.data[CONF_API_KEY],
        entry.options.get(CONF_PLAN, DEFAULT_PLAN),
        _access_token,
        _refreshed_token,
    )
    coordinator = EnphaseCloudCoordinator(hass, entry, client, budget)
    await coordinator.async_config_entry_first_refresh()
    commands = BatteryCommander(hass, entry, coordinator, client)
    await commands.async_setup()
    entry.runtime_data = EnphaseCloudData(coordinator=coordinator, budget=budget, commands=commands)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(async_track_offer(hass, entry))
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EnphaseCloudConfigEntry) -> bool:
    """Unload a config entry; a running battery command stays stored for the next setup."""
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        return False
    await entry.runtime_data.commands.async_unload()
    return True


async def async_remove_entry(hass: HomeAssistant, entry: EnphaseCloudConfigEntry) -> None:
    """Restore the battery settings a running command changed, then forget the entry's data."""

    async def _client() -> EnphaseClient:
        implementation = await config_entry_oauth2_flow.async_get_config_entry_implementation(
            hass, entry
        )
        token: dict[str, Any] = dict(entry.data["token"])
        if float(token.get("expires_at", 0)) < time.time() + TOKEN_MARGIN_S:
            # The entry is gone from the registry: the refreshed token is used, not saved.
            token = await implementation.async_refresh_token(token)

        async def _access_token() -> str:
            return str(token["access_token"])

        client, _budget = await async_create_client(
            hass,
            entry.data[CONF_API_KEY],
            entry.options.get(CONF_PLAN, DEFAULT_PLAN),
            _access_token,
        )
        return client

    await async_restore_removed(hass, entry.entry_id, _client)
    async_delete_issues(hass, entry.entry_id)
    await async_remove_health(hass, entry.entry_id)
