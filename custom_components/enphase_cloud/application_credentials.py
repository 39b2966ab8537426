"""Application credentials: Enphase's OAuth 2 server, with HTTP Basic client authentication."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, cast, override

from aiohttp import ClientError, RequestInfo
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
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .api import AUTHORIZE_PATH, TOKEN_PATH, basic_auth_header
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
        headers = {"Authorization": basic_auth_header(self.client_id, self.client_secret)}
        try:
            async with session.post(self.token_url, params=params, headers=headers) as response:
                status = response.status
                reason = response.reason or ""
                ok = HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES
                body = await response.json(content_type=None) if ok else None
        except (ClientError, ValueError) as err:
            LOGGER.debug("Enphase token request got no usable answer: %s", type(err).__name__)
            # No chained cause: aiohttp's errors name the URL, whose query holds the grant.
            raise OAuth2TokenRequestConnectionError(domain=DOMAIN) from None
        if not ok:
            raise self._token_error(status, reason)
        if not isinstance(body, dict):
            LOGGER.debug("Enphase answered the token request with %s", type(body).__name__)
            raise OAuth2TokenRequestConnectionError(domain=DOMAIN)
        return cast("dict[str, Any]", body)

    def _token_error(self, status: int, reason: str) -> OAuth2TokenRequestError:
        """Map a refused token request; the error names the URL without its query."""
        LOGGER.debug("Enphase token request failed with HTTP %s", status)
        url = URL(self.token_url).with_query(None)
        kwargs: dict[str, Any] = {
            "request_info": RequestInfo(url, "POST", CIMultiDictProxy(CIMultiDict()), url),
            "status": status,
            "message": reason,
            "domain": DOMAIN,
        }
        if (
            HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR
            and status != HTTPStatus.TOO_MANY_REQUESTS
        ):
            # Expired or revoked refresh token, or a rejected client: only a new login helps.
            return OAuth2TokenRequestReauthError(**kwargs)
        # Enphase is overloaded or failing: try again later with the same token.
        return OAuth2TokenRequestTransientError(**kwargs)


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
