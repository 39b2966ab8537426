"""OAuth: consent page, decision, token exchange, refresh rotation, revocation."""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.simulator.conftest import Harness, HarnessFactory

REDIRECT = "https://my.home-assistant.io/redirect/oauth"
TOKEN_KEYS = {
    "access_token",
    "token_type",
    "refresh_token",
    "expires_in",
    "scope",
    "enl_uid",
    "enl_cid",
    "enl_password_last_changed",
    "is_internal_app",
    "app_type",
    "jti",
}


def basic(client_id: str = "demo-client", secret: str = "demo-secret") -> dict[str, str]:  # noqa: S107
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def approve(h: Harness, decision: str = "approve", **extra: str) -> dict[str, str]:
    form = {
        "client_id": "demo-client",
        "redirect_uri": REDIRECT,
        "state": "xyz",
        "decision": decision,
    }
    response = await h.client.post(
        "/oauth/authorize/decision", data=form | extra, allow_redirects=False
    )
    assert response.status == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT)
    return query_of(location)


async def exchange(
    h: Harness, status: int = 200, *, form: bool = False, **params: str
) -> dict[str, Any]:
    fields = {"grant_type": "authorization_code", "redirect_uri": REDIRECT} | params
    headers = params.pop("headers", None) or basic()
    if form:
        response = await h.client.post("/oauth/token", data=fields, headers=headers)
    else:
        response = await h.client.post("/oauth/token", params=fields, headers=headers)
    body = await response.json()
    assert response.status == status, body
    return body


async def refresh(h: Harness, token: str, status: int = 200) -> dict[str, Any]:
    params = {"grant_type": "refresh_token", "refresh_token": token}
    response = await h.client.post("/oauth/token", params=params, headers=basic())
    body = await response.json()
    assert response.status == status, body
    return body


async def test_consent_page_offers_approve_and_deny(harness: Harness) -> None:
    params = {
        "response_type": "code",
        "client_id": "demo-client",
        "redirect_uri": REDIRECT,
        "state": "s1",
    }
    response = await harness.client.get("/oauth/authorize", params=params, allow_redirects=False)
    assert response.status == 200
    page = await response.text()
    assert 'action="/oauth/authorize/decision"' in page
    assert 'value="approve"' in page
    assert 'value="deny"' in page
    assert "demo@example.com" in page
    assert 'name="state" value="s1"' in page


async def test_full_dance_gives_the_exact_token_response(harness: Harness) -> None:
    code = (await approve(harness))["code"]
    tokens = await exchange(harness, code=code)
    assert set(tokens) == TOKEN_KEYS
    assert tokens["token_type"] == "bearer"
    assert tokens["scope"] == "read write"
    assert tokens["expires_in"] == 86393
    assert tokens["enl_uid"] == "4001"
    assert isinstance(tokens["enl_cid"], str)
    assert isinstance(tokens["enl_password_last_changed"], str)
    assert tokens["is_internal_app"] is False
    assert tokens["app_type"] == "system"
    body = await harness.json("systems", token=tokens["access_token"])
    assert body["total"] == 2


async def test_state_is_returned(harness: Harness) -> None:
    assert (await approve(harness))["state"] == "xyz"


async def test_form_body_parameters_are_accepted(harness: Harness) -> None:
    code = (await approve(harness))["code"]
    tokens = await exchange(harness, form=True, code=code)
    assert tokens["access_token"]


async def test_form_body_can_be_ignored(make_harness: HarnessFactory) -> None:
    # Enphase documents only query parameters: the simulator can refuse the form body.
    h = await make_harness(token_form_body=False)
    code = (await approve(h))["code"]
    assert (await exchange(h, 400, form=True, code=code))["error"] == "unsupported_grant_type"
    assert (await exchange(h, code=code))["access_token"]


async def test_deny_redirects_with_access_denied(harness: Harness) -> None:
    answer = await approve(harness, decision="deny")
    assert answer == {"error": "access_denied", "state": "xyz"}


async def test_auto_approve_redirects_at_once(make_harness: HarnessFactory) -> None:
    h = await make_harness(auto_approve=True)
    params = {
        "response_type": "code",
        "client_id": "demo-client",
        "redirect_uri": REDIRECT,
        "state": "a",
    }
    response = await h.client.get("/oauth/authorize", params=params, allow_redirects=False)
    assert response.status == 302
    answer = query_of(response.headers["Location"])
    assert answer["state"] == "a"
    tokens = await exchange(h, code=answer["code"])
    assert tokens["enl_uid"] == "4001"


async def test_redirect_keeps_existing_query_and_omits_missing_state(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(auto_approve=True)
    params = {"client_id": "demo-client", "redirect_uri": f"{REDIRECT}?flow=1"}
    response = await h.client.get("/oauth/authorize", params=params, allow_redirects=False)
    answer = query_of(response.headers["Location"])
    assert answer["flow"] == "1"
    assert "state" not in answer


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "nobody", "redirect_uri": REDIRECT},
        {"client_id": "demo-client"},
        {"client_id": "demo-client", "redirect_uri": REDIRECT, "response_type": "token"},
        {"client_id": "demo-client", "redirect_uri": REDIRECT, "login_hint": "ghost@example.com"},
    ],
)
async def test_bad_authorize_requests_get_a_400_page(
    harness: Harness, params: dict[str, str]
) -> None:
    response = await harness.client.get("/oauth/authorize", params=params, allow_redirects=False)
    assert response.status == 400
    assert response.content_type == "text/html"


async def test_bad_decision_gets_a_400_page(harness: Harness) -> None:
    form = {"client_id": "nobody", "redirect_uri": REDIRECT, "decision": "approve"}
    response = await harness.client.post(
        "/oauth/authorize/decision", data=form, allow_redirects=False
    )
    assert response.status == 400


async def test_login_hint_chooses_the_account(harness: Harness) -> None:
    code = (await approve(harness, login_hint="neighbour@example.com"))["code"]
    tokens = await exchange(harness, code=code)
    assert tokens["enl_uid"] == "4002"
    body = await harness.json("systems", token=tokens["access_token"])
    assert [s["system_id"] for s in body["systems"]] == [1003]


async def test_consent_page_names_the_hinted_account(harness: Harness) -> None:
    params = {
        "client_id": "demo-client",
        "redirect_uri": REDIRECT,
        "login_hint": "neighbour@example.com",
    }
    page = await (await harness.client.get("/oauth/authorize", params=params)).text()
    assert "neighbour@example.com" in page


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic(secret="wrong"),
        basic(client_id="nobody"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer abc"},
    ],
)
async def test_token_requires_basic_client_authentication(
    harness: Harness, headers: dict[str, str]
) -> None:
    code = (await approve(harness))["code"]
    params = {"grant_type": "authorization_code", "redirect_uri": REDIRECT, "code": code}
    response = await harness.client.post("/oauth/token", params=params, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"] == "invalid_client"


async def test_client_credentials_in_parameters_are_not_enough(harness: Harness) -> None:
    code = (await approve(harness))["code"]
    params = {
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code": code,
        "client_id": "demo-client",
        "client_secret": "demo-secret",
    }
    response = await harness.client.post("/oauth/token", params=params)
    assert response.status == 401


async def test_redirect_uri_must_match(harness: Harness) -> None:
    code = (await approve(harness))["code"]
    body = await exchange(harness, 400, code=code, redirect_uri="https://evil.example/cb")
    assert body["error"] == "invalid_grant"


async def test_code_is_single_use(harness: Harness) -> None:
    code = (await approve(harness))["code"]
    await exchange(harness, code=code)
    body = await exchange(harness, 400, code=code)
    assert body["error"] == "invalid_grant"


async def test_code_of_another_client_is_refused(harness: Harness) -> None:
    code = (await approve(harness))["code"]
    fields = {"grant_type": "authorization_code", "redirect_uri": REDIRECT, "code": code}
    response = await harness.client.post(
        "/oauth/token", params=fields, headers=basic("other-client", "other-secret")
    )
    assert response.status == 400


async def test_code_expires_after_ten_minutes(harness: Harness) -> None:
    code = (await approve(harness))["code"]
    harness.sim.advance(600)
    assert (await exchange(harness, 400, code=code))["error"] == "invalid_grant"


async def test_code_is_good_just_before_expiry(harness: Harness) -> None:
    code = (await approve(harness))["code"]
    harness.sim.advance(599)
    await exchange(harness, code=code)


async def test_unknown_grant_type(harness: Harness) -> None:
    response = await harness.client.post(
        "/oauth/token", params={"grant_type": "password"}, headers=basic()
    )
    assert response.status == 400
    assert (await response.json())["error"] == "unsupported_grant_type"


async def test_refresh_rotates_the_refresh_token(harness: Harness) -> None:
    first = harness.login()
    second = await refresh(harness, first["refresh_token"])
    assert set(second) == TOKEN_KEYS
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (await refresh(harness, first["refresh_token"], 401))["error"] == "invalid_token"
    third = await refresh(harness, second["refresh_token"])
    await harness.json("systems", token=third["access_token"])


async def test_refresh_in_form_body(harness: Harness) -> None:
    first = harness.login()
    fields = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    response = await harness.client.post("/oauth/token", data=fields, headers=basic())
    assert response.status == 200


async def test_refresh_token_of_another_client_is_refused(harness: Harness) -> None:
    first = harness.login()
    fields = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    response = await harness.client.post(
        "/oauth/token", params=fields, headers=basic("other-client", "other-secret")
    )
    assert response.status == 401


async def test_refresh_token_expires_after_thirty_days(harness: Harness) -> None:
    first = harness.login()
    harness.sim.advance(30 * 86400)
    assert (await refresh(harness, first["refresh_token"], 401))["error"] == "invalid_token"


async def test_refresh_token_lives_until_thirty_days(harness: Harness) -> None:
    first = harness.login()
    harness.sim.advance(30 * 86400 - 1)
    await refresh(harness, first["refresh_token"])


async def test_access_token_expires(harness: Harness) -> None:
    harness.sim.advance(86392)
    await harness.json("systems")
    harness.sim.advance(1)
    body = await harness.json("systems", 401)
    assert body["details"] == "User is not authorized"


async def test_configurable_access_token_lifetime(make_harness: HarnessFactory) -> None:
    from datetime import timedelta  # noqa: PLC0415

    h = await make_harness(access_token_ttl=timedelta(seconds=100))
    assert h.login()["expires_in"] == 100
    h.sim.advance(100)
    await h.json("systems", 401)


async def test_revocation_kills_refresh_and_access(harness: Harness) -> None:
    first = harness.login()
    # Two pairs: the fixture's and this test's.
    assert harness.sim.revoke("demo@example.com", "demo-client") == 4
    assert (await refresh(harness, first["refresh_token"], 401))["error"] == "invalid_token"
    body = await harness.json("systems", 401)
    assert body == {
        "message": "Not Authorized",
        "details": "User is not authorized",
        "code": 401,
    }


async def test_revocation_is_per_client(harness: Harness) -> None:
    other = harness.sim.mint_tokens("demo@example.com", "other-client")
    harness.sim.revoke("demo@example.com", "demo-client")
    await harness.json("systems", key="other-key", token=other["access_token"])


async def test_tokens_never_reach_the_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code = (await approve(harness))["code"]
    tokens = await exchange(harness, code=code)
    renewed = await refresh(harness, tokens["refresh_token"])
    secrets = [
        code,
        tokens["access_token"],
        tokens["refresh_token"],
        renewed["refresh_token"],
        "demo-secret",
    ]
    assert not [s for s in secrets if s in caplog.text]
