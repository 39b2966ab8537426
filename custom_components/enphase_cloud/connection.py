"""The one way the integration builds its Enphase client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import EnphaseClient
from .budget import ApiBudget, Plan, async_get_budget
from .const import base_url


async def async_create_client(
    hass: HomeAssistant,
    api_key: str,
    plan: Plan | str,
    access_token: Callable[[], Awaitable[str]],
    token_refresher: Callable[[str], Awaitable[str]] | None = None,
) -> tuple[EnphaseClient, ApiBudget]:
    """Return a client on Home Assistant's session, counted by the key's shared budget.

    Every call, the config flow's included, spends the API key's quota, so every client
    is limited by the one budget of its key (returned too, for those who pace polls).
    `token_refresher` refreshes a token Enphase refused although it looked valid.
    """
    budget = await async_get_budget(hass, api_key, Plan(plan))
    client = EnphaseClient(
        async_get_clientsession(hass),
        access_token,
        api_key,
        base_url=base_url(),
        limiter=budget,
        token_refresher=token_refresher,
    )
    return client, budget
