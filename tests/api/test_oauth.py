"""Tests for the OAuth helpers."""

from __future__ import annotations

import base64

from custom_components.enphase_cloud.api import AUTHORIZE_PATH, TOKEN_PATH, basic_auth_header


def test_basic_auth_header() -> None:
    assert (
        basic_auth_header("demo-client", "demo-secret") == "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ="
    )


def test_basic_auth_header_round_trip() -> None:
    header = basic_auth_header("client:with:colons", "sécret")
    scheme, encoded = header.split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == "client:with:colons:sécret"


def test_paths() -> None:
    assert AUTHORIZE_PATH == "/oauth/authorize"
    assert TOKEN_PATH == "/oauth/token"
