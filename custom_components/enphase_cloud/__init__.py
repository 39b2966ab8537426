"""The Enphase Cloud integration: Enphase solar and IQ Battery through the Enlighten API v4."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.const import CONF_API_KEY, Platform
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import config_entry_oauth2_flow, config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import EnphaseClient
from .budget import Plan, async_get_budget
from .const import CONF_PLAN, DEFAULT_PLAN, DOMAIN, base_url
from .coordinator import EnphaseCloudCoordinator
from .data import EnphaseCloudConfigEntry, EnphaseCloudData

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.typing import ConfigType

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
PLATFORMS: list[Platform] = [Platform.SENSOR]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up the integration: its actions live here, independent of any entry."""
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

    budget = await async_get_budget(
        hass, entry.data[CONF_API_KEY], Plan(entry.options.get(CONF_PLAN, DEFAULT_PLAN))
    )
    client = EnphaseClient(
        async_get_clientsession(hass),
        _access_token,
        entry.data[CONF_API_KEY],
        base_url=base_url(),
        limiter=budget,
    )
    coordinator = EnphaseCloudCoordinator(hass, entry, client, budget)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = EnphaseCloudData(client=client, coordinator=coordinator, budget=budget)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EnphaseCloudConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
