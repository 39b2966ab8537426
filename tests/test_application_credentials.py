"""Tests for the application credentials: Enphase's OAuth server, Basic client auth."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

import aiohttp
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    OAuth2TokenRequestConnectionError,
    OAuth2TokenRequestReauthError,
    OAuth2TokenRequestTransientError,
)
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.setup import async_setup_component
import pytest

from custom_components.enphase_cloud.application_credentials import (
    async_get_description_placeholders,
    authorization_server,
)
from custom_components.enphase_cloud.const import BASE_URL_ENV, DOMAIN

from .conftest import CLIENT_ID, SimHarness

REDIRECT_URI = "https://example.com/auth/external/callback"


def test_authorization_server_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    server = authorization_server()
    assert server.authorize_url == "https://api.enphaseenergy.com/oauth/authorize"
    assert server.token_url == "https://api.enphaseenergy.com/oauth/token"


def test_authorization_server_follows_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, "http://127.0.0.1:8765/")
    server = authorization_server()
    assert server.authorize_url == "http://127.0.0.1:8765/oauth/authorize"
    assert server.token_url == "http://127.0.0.1:8765/oauth/token"


async def test_description_placeholders(hass: HomeAssistant) -> None:
    placeholders = await async_get_description_placeholders(hass)
    assert placeholders["developer_portal_url"].startswith("https://")
    assert placeholders["redirect_url"] == "https://my.home-assistant.io/redirect/oauth"


async def _implementation(
    hass: HomeAssistant,
) -> config_entry_oauth2_flow.AbstractOAuth2Implementation:
    implementations = await config_entry_oauth2_flow.async_get_implementations(hass, DOMAIN)
    return implementations[DOMAIN]


async def _authorization_code(
    implementation: config_entry_oauth2_flow.AbstractOAuth2Implementation, email: str
) -> str:
    """Ask Enphase's (the simulator's) authorize endpoint for a code, approved at once."""
    url = f"{implementation.authorize_url}?" + "&".join(  # type: ignore[attr-defined]
        f"{key}={value}"
        for key, value in {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "state": "s",
            "login_hint": email,
        }.items()
    )
    async with aiohttp.ClientSession() as session, session.get(url, allow_redirects=False) as resp:
        assert resp.status == 302
        return parse_qs(urlparse(resp.headers["Location"]).query)["code"][0]


async def _login(
    implementation: config_entry_oauth2_flow.AbstractOAuth2Implementation,
    email: str = "demo@example.com",
) -> dict[str, Any]:
    code = await _authorization_code(implementation, email)
    return await implementation.async_resolve_external_data(
        {"code": code, "state": {"redirect_uri": REDIRECT_URI}}
    )


@pytest.mark.parametrize(
    "sim_options",
    # Whether Enphase reads token parameters from a form body is UNCONFIRMED: the
    # integration sends them in the query string, which works with either answer.
    [{}, {"token_form_body": False}],
    ids=["form_body_accepted", "query_only"],
)
@pytest.mark.usefixtures("credentials")
async def test_code_exchange_and_refresh(hass: HomeAssistant, simulator: SimHarness) -> None:
    """The simulator accepts only HTTP Basic client auth, as Enphase documents."""
    implementation = await _implementation(hass)
    assert implementation.authorize_url == f"{simulator.url}/oauth/authorize"  # type: ignore[attr-defined]
    token = await _login(implementation, "neighbour@example.com")
    assert token["enl_uid"] == "4002"
    assert token["access_token"]
    assert token["refresh_token"]

    refreshed = await implementation.async_refresh_token(token)
    assert refreshed["enl_uid"] == "4002"
    # Enphase rotates the refresh token on every refresh; the new one must be kept.
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert refreshed["access_token"] != token["access_token"]
    assert await implementation.async_refresh_token(refreshed)

    # The old refresh token is spent: only a new login helps. The error never
    # names the token (aiohttp's errors show the URL, and the grant is in its query).
    with pytest.raises(OAuth2TokenRequestReauthError) as err:
        await implementation.async_refresh_token(token)
    assert err.value.status == 401
    assert token["refresh_token"] not in f"{err.value} {err.value!r}"


@pytest.mark.usefixtures("credentials")
async def test_revoked_login_needs_reauth(hass: HomeAssistant, simulator: SimHarness) -> None:
    implementation = await _implementation(hass)
    token = await _login(implementation)
    simulator.sim.revoke()
    with pytest.raises(OAuth2TokenRequestReauthError):
        await implementation.async_refresh_token(token)


async def test_wrong_client_secret(hass: HomeAssistant, simulator: SimHarness) -> None:
    assert await async_setup_component(hass, "application_credentials", {})
    await async_import_client_credential(
        hass, DOMAIN, ClientCredential(CLIENT_ID, "not-the-secret"), DOMAIN
    )
    implementation = await _implementation(hass)
    code = await _authorization_code(implementation, "demo@example.com")
    with pytest.raises(OAuth2TokenRequestReauthError) as err:
        await implementation.async_resolve_external_data(
            {"code": code, "state": {"redirect_uri": REDIRECT_URI}}
        )
    assert err.value.status == 401
    assert code not in f"{err.value} {err.value!r}"


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("status", [500, 503, 429])
async def test_refused_refresh_is_transient(
    hass: HomeAssistant, simulator: SimHarness, status: int
) -> None:
    """Enphase failing or busy: retry later; the login is kept."""
    implementation = await _implementation(hass)
    token = await _login(implementation)
    simulator.sim.add_fault(count=1, path="/oauth/token", status=status)
    with pytest.raises(OAuth2TokenRequestTransientError) as err:
        await implementation.async_refresh_token(token)
    assert err.value.status == status
    assert token["refresh_token"] not in f"{err.value} {err.value!r}"
    # Enphase never handled the request: the refresh token still works.
    assert await implementation.async_refresh_token(token)


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("kind", ["malformed", "truncated"])
async def test_unusable_token_answer(hass: HomeAssistant, simulator: SimHarness, kind: str) -> None:
    """A garbled answer is a connection problem (retry), not a dead login."""
    implementation = await _implementation(hass)
    token = await _login(implementation)
    simulator.sim.add_fault(count=1, path="/oauth/token", kind=kind)
    with pytest.raises(OAuth2TokenRequestConnectionError) as err:
        await implementation.async_refresh_token(token)
    assert err.value.__cause__ is None


@pytest.mark.usefixtures("credentials")
async def test_token_endpoint_unreachable(
    hass: HomeAssistant, simulator: SimHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(BASE_URL_ENV, "http://127.0.0.1:9")
    implementation = await _implementation(hass)
    with pytest.raises(OAuth2TokenRequestConnectionError):
        await implementation.async_refresh_token(
            {"refresh_token": "any", "access_token": "any", "expires_in": 1}
        )


@pytest.mark.usefixtures("credentials")
async def test_token_answer_not_an_object(
    hass: HomeAssistant, simulator: SimHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    implementation = await _implementation(hass)
    token = await _login(implementation)
    monkeypatch.setattr(simulator.sim, "token_response", lambda _pair: ["not", "a", "token"])
    with pytest.raises(OAuth2TokenRequestConnectionError):
        await implementation.async_refresh_token(token)
