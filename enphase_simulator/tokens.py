"""Authorization codes, access tokens and rotating refresh tokens.

Tokens are kept only as SHA-256 digests, so neither memory dumps nor the
state file hold a usable token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import hashlib
import secrets
from typing import Any
import uuid


def digest(token: str) -> str:
    """Return the digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class Grant:
    """What a token or code stands for."""

    uid: str
    client_id: str
    expires_at: int
    redirect_uri: str = ""


@dataclass(frozen=True, slots=True)
class TokenPair:
    """A freshly issued access/refresh token pair."""

    access_token: str
    refresh_token: str
    jti: str
    uid: str
    client_id: str


class TokenStore:
    """Issues, checks, rotates and revokes OAuth credentials."""

    def __init__(self, access_ttl: int, refresh_ttl: int, code_ttl: int) -> None:
        """Use the given lifetimes in seconds."""
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.code_ttl = code_ttl
        self.codes: dict[str, Grant] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}

    def issue_code(self, uid: str, client_id: str, redirect_uri: str, now: int) -> str:
        """Return a new single-use authorization code."""
        code = secrets.token_urlsafe(12)
        self.codes[digest(code)] = Grant(uid, client_id, now + self.code_ttl, redirect_uri)
        return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str, now: int) -> Grant | None:
        """Consume `code`; None when unknown, used, expired, or for another client/URI."""
        grant = self.codes.pop(digest(code), None)
        if grant is None or grant.expires_at <= now:
            return None
        if grant.client_id != client_id or grant.redirect_uri != redirect_uri:
            return None
        return grant

    def issue_pair(self, uid: str, client_id: str, now: int) -> TokenPair:
        """Issue a new access and refresh token for `uid` and `client_id`."""
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        self.access[digest(access)] = Grant(uid, client_id, now + self.access_ttl)
        self.refresh[digest(refresh)] = Grant(uid, client_id, now + self.refresh_ttl)
        return TokenPair(access, refresh, str(uuid.uuid4()), uid, client_id)

    def rotate(self, refresh_token: str, client_id: str, now: int) -> TokenPair | None:
        """Trade a refresh token for a new pair; the old refresh token dies at once."""
        key = digest(refresh_token)
        grant = self.refresh.get(key)
        if grant is None or grant.client_id != client_id:
            return None
        del self.refresh[key]
        if grant.expires_at <= now:
            return None
        return self.issue_pair(grant.uid, client_id, now)

    def check_access(self, token: str, now: int) -> Grant | None:
        """Return the grant behind a valid, unexpired access token."""
        grant = self.access.get(digest(token))
        if grant is None or grant.expires_at <= now:
            return None
        return grant

    def revoke(self, uid: str, client_id: str | None) -> int:
        """Drop every token of `uid` (for one client or all); return how many."""
        dropped = 0
        for table in (self.access, self.refresh):
            for key in [k for k, g in table.items() if _matches(g, uid, client_id)]:
                del table[key]
                dropped += 1
        return dropped

    def expire_access(self, now: int, uid: str | None, client_id: str | None) -> int:
        """Make matching access tokens expire now; return how many."""
        count = 0
        for grant in self.access.values():
            if (uid is None or grant.uid == uid) and _matches(grant, grant.uid, client_id):
                if grant.expires_at > now:
                    count += 1
                grant.expires_at = min(grant.expires_at, now)
        return count

    def purge(self, now: int) -> None:
        """Forget expired entries so the tables and the state file stay small."""
        for table in (self.codes, self.access, self.refresh):
            for key in [k for k, g in table.items() if g.expires_at <= now]:
                del table[key]

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-ready tables (digests only)."""
        return {
            "access": {k: asdict(g) for k, g in self.access.items()},
            "refresh": {k: asdict(g) for k, g in self.refresh.items()},
        }

    def load_json(self, data: dict[str, Any]) -> None:
        """Restore tables saved by `to_json`."""
        self.access = {k: Grant(**g) for k, g in data.get("access", {}).items()}
        self.refresh = {k: Grant(**g) for k, g in data.get("refresh", {}).items()}


def _matches(grant: Grant, uid: str, client_id: str | None) -> bool:
    return grant.uid == uid and (client_id is None or grant.client_id == client_id)
