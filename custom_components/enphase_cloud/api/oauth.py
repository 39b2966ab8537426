"""OAuth 2 facts of Enphase's authorization server (authorization code grant).

Authorize: `GET {base}/oauth/authorize?response_type=code&client_id=…&redirect_uri=…&state=…`
(no `scope`). Token and refresh: `POST {base}/oauth/token` with
`Authorization: Basic base64(client_id:client_secret)`; every refresh returns a
new refresh token, which must be stored.
"""

from __future__ import annotations

import base64
from typing import Final

AUTHORIZE_PATH: Final = "/oauth/authorize"
TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 (a path, not a secret)


def basic_auth_header(client_id: str, client_secret: str) -> str:
    """Return the `Authorization` header value for the token endpoint."""
    credentials = f"{client_id}:{client_secret}".encode()
    return f"Basic {base64.b64encode(credentials).decode('ascii')}"
