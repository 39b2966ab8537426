"""Application credentials: Enphase's OAuth 2 server, with HTTP Basic client authentication."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, cast, override

from aiohttp import BasicAuth, ClientError, ClientResponseError
from homeassistant.components.application_credentials import (
    AuthImplementation,
    AuthorizationServer,
    ClientCredential,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    OAuth2TokenRequestConnectionError,
    OAuth2TokenRequestError,
    OAuth2TokenRequestReauthError,
    OAuth2TokenRequestTransientError,
)
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import AUTHORIZE_PATH, TOKEN_PATH
from .const import DEVELOPER_PORTAL_URL, DOMAIN, LOGGER, base_url


def authorization_server() -> AuthorizationServer:
    """Return Enphase's authorize and token URLs (or the simulator's, when overridden)."""
    return AuthorizationServer(
        authorize_url=f"{base_url()}{AUTHORIZE_PATH}",
        token_url=f"{base_url()}{TOKEN_PATH}",
    )


class EnphaseOAuth2Implementation(AuthImplementation):
    """Enphase's token endpoint wants HTTP Basic client authentication.

    Home Assistant's default implementation sends the client secret in the form body,
    which Enphase documents nowhere; the documented form is Basic auth with the
    parameters in the query string.
    """

    @override
    async def _token_request(self, data: dict[str, Any]) -> dict[str, Any]:
        """Request a token with Basic client authentication."""
        # The refresh grant of the base class adds client_id; Basic auth carries it.
        params = {key: value for key, value in data.items() if key != "client_id"}
        session = async_get_clientsession(self.hass)
        try:
            response = await session.post(
                self.token_url,
                params=params,
                auth=BasicAuth(self.client_id, self.client_secret),
            )
            response.raise_for_status()
            return cast("dict[str, Any]", await response.json())
        except ClientResponseError as err:
            LOGGER.debug("Enphase token request failed with HTTP %s", err.status)
            kwargs: dict[str, Any] = {
                "request_info": err.request_info,
                "history": err.history,
                "status": err.status,
                "message": err.message,
                "headers": err.headers,
                "domain": DOMAIN,
            }
            if (
                err.status == HTTPStatus.TOO_MANY_REQUESTS
                or err.status >= HTTPStatus.INTERNAL_SERVER_ERROR
            ):
                raise OAuth2TokenRequestTransientError(**kwargs) from err
            if err.status >= HTTPStatus.BAD_REQUEST:
                # Expired or revoked refresh token: only a new browser login helps.
                raise OAuth2TokenRequestReauthError(**kwargs) from err
            raise OAuth2TokenRequestError(**kwargs) from err
        except (ClientError, ValueError) as err:
            LOGGER.debug("Enphase token request got no usable answer: %s", type(err).__name__)
            raise OAuth2TokenRequestConnectionError(domain=DOMAIN) from err


async def async_get_auth_implementation(
    hass: HomeAssistant, auth_domain: str, credential: ClientCredential
) -> config_entry_oauth2_flow.AbstractOAuth2Implementation:
    """Return the Enphase OAuth implementation for a stored client credential."""
    return EnphaseOAuth2Implementation(hass, auth_domain, credential, authorization_server())


async def async_get_description_placeholders(hass: HomeAssistant) -> dict[str, str]:
    """Return the links shown in the application credentials dialog."""
    return {
        "developer_portal_url": DEVELOPER_PORTAL_URL,
        "redirect_url": "https://my.home-assistant.io/redirect/oauth",
    }
