"""Tests for the exceptions and how HTTP error answers map to them."""

from __future__ import annotations

from datetime import UTC, datetime
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.enphase_cloud.api import (
    ENDPOINTS,
    PLAN_GATED_ENDPOINTS,
    Endpoint,
    EnphaseApiKeyError,
    EnphaseAuthError,
    EnphaseError,
    EnphaseNotFound,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseResponseError,
    EnphaseServerError,
    EnphaseUnprocessable,
)
from custom_components.enphase_cloud.api.errors import (
    default_retry_at,
    error_from_response,
    next_month_start,
    parse_error_body,
    rate_limited_from_body,
    scrub,
)

from .common import load_fixture

NOW = datetime(2026, 6, 15, 19, 0, 20, 500000, tzinfo=UTC)


def body(details: str, message: str = "Not Authorized", code: int = 401) -> bytes:
    return json.dumps({"message": message, "details": details, "code": code}).encode()


# --------------------------------------------------------------------------- 401 / 403


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("endpoint", [Endpoint.SUMMARY, Endpoint.BATTERY_SETTINGS])
def test_key_mismatch(status: int, endpoint: Endpoint) -> None:
    error = error_from_response(status, body("API Key -Client mismatch"), endpoint=endpoint)
    assert type(error) is EnphaseApiKeyError
    assert error.mismatch is True
    assert isinstance(error, EnphaseAuthError)


@pytest.mark.parametrize("endpoint", [Endpoint.SYSTEMS, Endpoint.GRID_STATUS])
def test_invalid_key(endpoint: Endpoint) -> None:
    error = error_from_response(401, body("Invalid API key"), endpoint=endpoint)
    assert type(error) is EnphaseApiKeyError
    assert error.mismatch is False


@pytest.mark.parametrize("endpoint", [Endpoint.LATEST_TELEMETRY, Endpoint.STORM_GUARD])
@pytest.mark.parametrize(
    "details", ["Access token is invalid or expired", "Invalid access token", "token revoked"]
)
def test_dead_token(endpoint: Endpoint, details: str) -> None:
    error = error_from_response(401, body(details), endpoint=endpoint)
    assert type(error) is EnphaseAuthError


def test_token_named_in_message_only() -> None:
    data = {"message": "Invalid token", "details": "Not Authorized", "code": 401}
    error = error_from_response(401, data, endpoint=Endpoint.BATTERY_SETTINGS)
    assert type(error) is EnphaseAuthError


@pytest.mark.parametrize("endpoint", sorted(PLAN_GATED_ENDPOINTS))
def test_plan_gated_not_authorized(endpoint: Endpoint) -> None:
    error = error_from_response(401, load_fixture("error_401_plan.json"), endpoint=endpoint)
    assert type(error) is EnphasePlanError
    assert error.endpoint == endpoint
    assert not isinstance(error, EnphaseAuthError)  # a plan problem is no reason to reauth


@pytest.mark.parametrize("endpoint", sorted(set(ENDPOINTS) - PLAN_GATED_ENDPOINTS))
def test_not_authorized_on_free_endpoint_is_auth(endpoint: Endpoint) -> None:
    error = error_from_response(401, body("Not Authorized"), endpoint=endpoint)
    assert type(error) is EnphaseAuthError


@pytest.mark.parametrize("endpoint", [Endpoint.SUMMARY, Endpoint.BATTERY_SETTINGS])
def test_forbidden_is_plan(endpoint: Endpoint) -> None:
    error = error_from_response(403, body("Forbidden", "Forbidden", 403), endpoint=endpoint)
    assert type(error) is EnphasePlanError
    assert error.endpoint == endpoint


@pytest.mark.parametrize("raw", [b"", b"<html>401</html>", b"\xff\xfe", b"[1, 2]", b"null", None])
def test_unparseable_bodies_map_by_status(raw: bytes | None) -> None:
    assert type(error_from_response(401, raw, endpoint=Endpoint.SUMMARY)) is EnphaseAuthError
    assert type(error_from_response(401, raw, endpoint=Endpoint.GRID_STATUS)) is EnphasePlanError
    assert type(error_from_response(403, raw, endpoint=Endpoint.SUMMARY)) is EnphasePlanError
    assert type(error_from_response(404, raw, endpoint=Endpoint.SUMMARY)) is EnphaseNotFound
    error = error_from_response(422, raw, endpoint=Endpoint.SUMMARY)
    assert isinstance(error, EnphaseUnprocessable)
    assert error.details is None
    error = error_from_response(500, raw, endpoint=Endpoint.SUMMARY)
    assert isinstance(error, EnphaseServerError)
    assert error.status == 500
    error = error_from_response(429, raw, endpoint=Endpoint.SUMMARY, now=NOW)
    assert isinstance(error, EnphaseRateLimited)
    assert error.period == "unknown"


def test_405_body_with_message_list() -> None:
    raw = json.dumps({"reason": "405", "message": ["Method not allowed"]}).encode()
    error = error_from_response(405, raw, endpoint=Endpoint.SUMMARY)
    assert type(error) is EnphaseResponseError
    assert "405" in str(error)


def test_details_as_list() -> None:
    raw = {"details": ["System doesn't have encharges", 3, "again"], "code": 422}
    error = error_from_response(422, raw, endpoint=Endpoint.SET_BATTERY_SETTINGS)
    assert isinstance(error, EnphaseUnprocessable)
    assert error.details == "System doesn't have encharges; again"
    assert error_from_response(422, {"details": [1, 2]}, endpoint="x").details is None  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- other statuses


def test_not_found() -> None:
    error = error_from_response(404, body("System not found", "Not Found", 404), endpoint="summary")
    assert type(error) is EnphaseNotFound
    assert "System not found" in str(error)


def test_unprocessable() -> None:
    details = "Requested date range is invalid for this system"
    error = error_from_response(422, body(details, "Unprocessable Entity", 422), endpoint="x")
    assert isinstance(error, EnphaseUnprocessable)
    assert error.details == details
    assert details in str(error)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(status: int) -> None:
    error = error_from_response(status, body("unable to fetch data", "Error", status), endpoint="x")
    assert isinstance(error, EnphaseServerError)
    assert error.status == status
    assert str(status) in str(error)


@pytest.mark.parametrize("status", [301, 400, 409])
def test_unexpected_status(status: int) -> None:
    error = error_from_response(status, b"{}", endpoint="x")
    assert type(error) is EnphaseResponseError
    assert str(status) in str(error)


def test_all_errors_share_the_base() -> None:
    for status in (401, 403, 404, 422, 429, 500, 400):
        assert isinstance(error_from_response(status, None, endpoint="x"), EnphaseError)


# --------------------------------------------------------------------------- 429


def test_rate_limited_with_period() -> None:
    error = error_from_response(429, load_fixture("error_429_minute.json"), endpoint="x", now=NOW)
    assert isinstance(error, EnphaseRateLimited)
    assert error.period == "minute"
    assert error.limit == 10
    assert error.retry_at == datetime(2026, 6, 15, 19, 0, 40, tzinfo=UTC)
    assert error.retry_at.tzinfo is UTC


def test_rate_limited_month() -> None:
    raw = {"message": "Too Many Requests", "period": "Month", "period_end": 1782889200.0}
    error = rate_limited_from_body(raw, now=NOW)
    assert error.period == "month"
    assert error.retry_at == datetime.fromtimestamp(1782889200, tz=UTC)
    assert error.limit is None


@pytest.mark.parametrize(
    ("raw", "period", "retry_at"),
    [
        ({"period": "minute"}, "minute", datetime(2026, 6, 15, 19, 1, 1, tzinfo=UTC)),
        (
            {"period": "minute", "period_end": None},
            "minute",
            datetime(2026, 6, 15, 19, 1, 1, tzinfo=UTC),
        ),
        ({"period": "minute", "period_end": "soon"}, "minute", None),
        ({"period": "day"}, "unknown", datetime(2026, 6, 15, 19, 1, 20, 500000, tzinfo=UTC)),
        ({}, "unknown", datetime(2026, 6, 15, 19, 1, 20, 500000, tzinfo=UTC)),
        ({"period": 5}, "unknown", datetime(2026, 6, 15, 19, 1, 20, 500000, tzinfo=UTC)),
        ({"period": "month"}, "month", datetime(2026, 7, 1, 0, 0, 1, tzinfo=UTC)),
        ({"period_end": 10**20}, "unknown", datetime(2026, 6, 15, 19, 1, 20, 500000, tzinfo=UTC)),
    ],
)
def test_rate_limited_defaults(
    raw: dict[str, object], period: str, retry_at: datetime | None
) -> None:
    error = rate_limited_from_body(json.dumps(raw), now=NOW)
    assert error.period == period
    expected = retry_at or datetime(2026, 6, 15, 19, 1, 1, tzinfo=UTC)
    assert error.retry_at == expected


@pytest.mark.parametrize(
    ("limit", "expected"), [(10, 10), ("50", 50), (10.0, 10), (True, None), ("ten", None)]
)
def test_rate_limited_limit(limit: object, expected: int | None) -> None:
    assert rate_limited_from_body({"limit": limit}, now=NOW).limit == expected


def test_rate_limited_period_end_as_text() -> None:
    error = rate_limited_from_body({"period": "minute", "period_end": "1781550060"}, now=NOW)
    assert error.retry_at == datetime(2026, 6, 15, 19, 1, tzinfo=UTC)


def test_rate_limited_default_now_is_real_time() -> None:
    before = datetime.now(UTC)
    error = rate_limited_from_body(None)
    assert error.period == "unknown"
    assert (error.retry_at - before).total_seconds() == pytest.approx(60, abs=5)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 20, 5, 0, tzinfo=UTC), datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC)),
        (datetime(2026, 6, 30, 23, 59, tzinfo=UTC), datetime(2026, 7, 1, 0, 0, 1, tzinfo=UTC)),
        # Within a day after the UTC month turned, the server's own month may not have:
        (datetime(2026, 7, 1, 3, 0, tzinfo=UTC), datetime(2026, 7, 1, 4, 0, tzinfo=UTC)),
    ],
)
def test_default_retry_at_month(now: datetime, expected: datetime) -> None:
    assert default_retry_at("month", now) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        # The UTC month counts: 20:00 in Los Angeles on June 30 is July 1 in UTC.
        (
            datetime(2026, 6, 30, 20, 0, tzinfo=ZoneInfo("America/Los_Angeles")),
            datetime(2026, 8, 1, tzinfo=UTC),
        ),
    ],
)
def test_next_month_start(now: datetime, expected: datetime) -> None:
    assert next_month_start(now) == expected


def test_default_retry_at_converts_to_utc() -> None:
    local = datetime(2026, 6, 15, 12, 0, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    retry_at = default_retry_at("minute", local)
    assert retry_at == datetime(2026, 6, 15, 19, 1, 1, tzinfo=UTC)
    assert retry_at.tzinfo is UTC


# --------------------------------------------------------------------------- secrets and messages


def test_secrets_are_scrubbed_from_details() -> None:
    raw = body("bad key s3cr3t-key for token tok-123 at /x", "Unprocessable", 422)
    error = error_from_response(422, raw, endpoint="x", secrets=("s3cr3t-key", "tok-123", ""))
    assert isinstance(error, EnphaseUnprocessable)
    assert "s3cr3t-key" not in str(error)
    assert "tok-123" not in str(error)
    assert error.details is not None
    assert "s3cr3t-key" not in error.details
    assert "REDACTED" in error.details


def test_scrub() -> None:
    assert scrub("a key=abc&b=abc", ["abc", ""]) == "a key=**REDACTED**&b=**REDACTED**"
    assert scrub("nothing", []) == "nothing"


def test_auth_messages_do_not_quote_the_server() -> None:
    raw = body("Access token tok-123 is invalid or expired")
    error = error_from_response(401, raw, endpoint="summary")
    assert "tok-123" not in str(error)


def test_long_details_are_shortened() -> None:
    error = error_from_response(500, body("x" * 5000, "Error", 500), endpoint="summary")
    assert len(str(error)) < 300


def test_parse_error_body() -> None:
    assert parse_error_body(None) == {}
    assert parse_error_body(b'{"a": 1}') == {"a": 1}
    assert parse_error_body('{"a": 1}') == {"a": 1}
    assert parse_error_body(b"[1]") == {}
    assert parse_error_body({"b": 2}) == {"b": 2}


def test_constructor_defaults() -> None:
    assert "another application" in str(EnphaseApiKeyError(mismatch=True))
    assert "invalid" in str(EnphaseApiKeyError(mismatch=False))
    assert str(EnphaseApiKeyError("custom", mismatch=False)) == "custom"
    plan = EnphasePlanError("battery_settings")
    assert "battery_settings" in str(plan)
    assert str(EnphasePlanError("x", "custom")) == "custom"
    retry_at = datetime(2026, 1, 1, tzinfo=UTC)
    limited = EnphaseRateLimited(period="month", retry_at=retry_at, limit=1000)
    assert "month" in str(limited)
    assert "2026-01-01" in str(limited)
    assert str(EnphaseUnprocessable()) == "Request refused by Enphase (422)"
    assert str(EnphaseServerError(status=503)) == "Enphase server error (HTTP 503)"
