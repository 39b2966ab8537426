"""Exceptions raised by the Enphase Enlighten API v4 client, and how HTTP errors map to them.

No message ever carries the access token, the API key, a serial number or an
address: the server's own `details` text is quoted only for 404, 422 and 5xx
answers, shortened, and with the caller's secrets blanked out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
import json
from typing import Any, Final

from .const import PLAN_GATED_ENDPOINTS

_MAX_QUOTE: Final = 200
_REDACTED: Final = "**REDACTED**"

PERIOD_MINUTE: Final = "minute"
PERIOD_MONTH: Final = "month"
PERIOD_UNKNOWN: Final = "unknown"
_LONGEST_PERIOD: Final = timedelta(days=32)


class EnphaseError(Exception):
    """Base class of every error raised by the client."""


class EnphaseConnectionError(EnphaseError):
    """The server could not be reached or did not answer in time."""


class EnphaseAuthError(EnphaseError):
    """The access token was refused (invalid, expired or revoked): authorize again."""


class EnphaseApiKeyError(EnphaseAuthError):
    """The API key was refused.

    `mismatch` is True when the key is valid but belongs to another developer
    application than the token's OAuth client ("API Key -Client mismatch").
    """

    def __init__(self, message: str | None = None, *, mismatch: bool) -> None:
        """Initialize the error."""
        if message is None:
            message = (
                "The API key belongs to another application than the OAuth client"
                if mismatch
                else "The API key is invalid"
            )
        super().__init__(message)
        self.mismatch = mismatch


class EnphasePlanError(EnphaseError):
    """The endpoint is not included in the developer application's plan."""

    def __init__(self, endpoint: str, message: str | None = None) -> None:
        """Initialize the error."""
        super().__init__(
            message or f"The endpoint '{endpoint}' is not included in the application's API plan"
        )
        self.endpoint = endpoint


class EnphaseRateLimited(EnphaseError):  # noqa: N818
    """The plan's request limit was reached (HTTP 429).

    `period` is "minute", "month" or "unknown"; `retry_at` (aware, UTC) is when
    the period ends; `limit` is the plan's number of calls per period when known.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        period: str,
        retry_at: datetime,
        limit: int | None = None,
    ) -> None:
        """Initialize the error."""
        super().__init__(
            message
            or f"Enphase API request limit reached (period: {period}); retry at "
            f"{retry_at.isoformat()}"
        )
        self.period = period
        self.retry_at = retry_at
        self.limit = limit


class EnphaseNotFound(EnphaseError):  # noqa: N818
    """The system or resource does not exist for this account (HTTP 404)."""


class EnphaseUnprocessable(EnphaseError):  # noqa: N818
    """The server refused the request's content (HTTP 422).

    For example a date range outside the system's life, or a battery setting on
    a system without a battery. `details` is the server's explanation.
    """

    def __init__(self, message: str | None = None, *, details: str | None = None) -> None:
        """Initialize the error."""
        super().__init__(message or _with_details("Request refused by Enphase (422)", details))
        self.details = details


class EnphaseServerError(EnphaseError):
    """The server failed (HTTP 5xx); usually temporary."""

    def __init__(self, message: str | None = None, *, status: int) -> None:
        """Initialize the error."""
        super().__init__(message or f"Enphase server error (HTTP {status})")
        self.status = status


class EnphaseResponseError(EnphaseError):
    """The answer was not understood: malformed JSON, a missing or wrongly typed field."""


def _with_details(message: str, details: str | None) -> str:
    return f"{message}: {details}" if details else message


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every non-empty secret replaced."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, _REDACTED)
    return text


def _text(value: object) -> str | None:
    """Return a body field as text: strings as is, lists of strings joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [part for part in value if isinstance(part, str)]
        return "; ".join(parts) if parts else None
    return None


def parse_error_body(body: bytes | str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Return an error body as a mapping; anything unparseable gives an empty one."""
    if body is None:
        return {}
    if isinstance(body, Mapping):
        return body
    try:
        data = json.loads(body)
    except ValueError, RecursionError:  # JSONDecodeError, UnicodeDecodeError, deep nesting
        return {}
    return data if isinstance(data, dict) else {}


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def next_month_start(now: datetime) -> datetime:
    """Return the first instant of the UTC month after `now`'s (quotas reset then)."""
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=32)).replace(day=1)


def default_retry_at(period: str, now: datetime) -> datetime:
    """Return when to try again after a 429 that did not say when its period ends.

    minute: one second after the next minute boundary. month: one second after
    the next month starts in UTC (within a day after a month started, when the
    server's month may not have turned yet in its own time zone: one hour from
    now). unknown: one minute from now.
    """
    now = now.astimezone(UTC)
    if period == PERIOD_MINUTE:
        return now.replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1)
    if period == PERIOD_MONTH:
        month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if now - month_start < timedelta(days=1):
            return now + timedelta(hours=1)
        return next_month_start(now) + timedelta(seconds=1)
    return now + timedelta(minutes=1)


def rate_limited_from_body(
    body: bytes | str | Mapping[str, Any] | None, *, now: datetime | None = None
) -> EnphaseRateLimited:
    """Build the error for a 429 answer from its (possibly absent or partial) body."""
    data = parse_error_body(body)
    now = now or datetime.now(UTC)
    raw_period = data.get("period")
    period = (
        raw_period.lower()
        if isinstance(raw_period, str) and raw_period.lower() in (PERIOD_MINUTE, PERIOD_MONTH)
        else PERIOD_UNKNOWN
    )
    retry_at: datetime | None = None
    if (period_end := _int_or_none(data.get("period_end"))) is not None:
        try:
            retry_at = datetime.fromtimestamp(period_end, tz=UTC)
        except OverflowError, OSError, ValueError:
            retry_at = None
    return EnphaseRateLimited(
        period=period,
        retry_at=retry_at or default_retry_at(period, now),
        limit=_int_or_none(data.get("limit")),
    )


def sane_retry_at(error: EnphaseRateLimited, now: datetime) -> datetime:
    """Return when to try again after `error`, judged by the caller's clock `now`.

    A `period_end` already past (the caller's clock ahead of Enphase's) or beyond
    any period (more than a month and a day away) says nothing: it is treated as
    unknown, and the period's default applies.
    """
    if now < error.retry_at <= now + _LONGEST_PERIOD:
        return error.retry_at
    return default_retry_at(error.period, now)


def error_from_response(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    endpoint: str,
    secrets: Iterable[str] = (),
    now: datetime | None = None,
) -> EnphaseError:
    """Return the exception for an HTTP error answer.

    Enphase's documented 401 body is the generic "User is not authorized" whatever
    the reason, so 401s are classified by endpoint: on an endpoint outside the
    free plan a 401 is taken for the plan (`EnphasePlanError`; the client then
    confirms it with a plan-free call, see `EnphaseClient`), elsewhere for the
    token (`EnphaseAuthError`). Texts that do say more only refine that: "mismatch"
    means a key of another application, a mention of the API key an unknown key, a
    mention of the token a dead token. Any 403 means the plan. A body that is not
    JSON still maps by status.
    """
    data = parse_error_body(body)
    details = _text(data.get("details"))
    message = _text(data.get("message"))
    if details is not None:
        details = scrub(details, secrets)[:_MAX_QUOTE]

    if status in (401, 403):
        return _auth_error(status, endpoint, f"{message or ''} {details or ''}".lower())
    if status == 404:  # noqa: PLR2004
        return EnphaseNotFound(_with_details("Not found on Enphase (404)", details))
    if status == 422:  # noqa: PLR2004
        return EnphaseUnprocessable(details=details)
    if status == 429:  # noqa: PLR2004
        return rate_limited_from_body(data, now=now)
    if status >= 500:  # noqa: PLR2004
        return EnphaseServerError(
            _with_details(f"Enphase server error (HTTP {status})", details), status=status
        )
    return EnphaseResponseError(f"Unexpected HTTP status {status} from Enphase")


def _auth_error(status: int, endpoint: str, text: str) -> EnphaseError:
    if "mismatch" in text:
        return EnphaseApiKeyError(mismatch=True)
    if "api key" in text or "api_key" in text or "apikey" in text:
        return EnphaseApiKeyError(mismatch=False)
    if "token" in text:
        return EnphaseAuthError("The access token is invalid, expired or revoked")
    if status == 403 or endpoint in PLAN_GATED_ENDPOINTS:  # noqa: PLR2004
        return EnphasePlanError(endpoint)
    return EnphaseAuthError("Not authorized by Enphase (401)")
