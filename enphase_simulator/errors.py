"""Enphase's JSON error bodies and the exception handlers raise to produce them."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web

MESSAGES = {
    401: "Not Authorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
DEFAULT_DETAILS = {
    401: "User is not authorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "unable to fetch data",
    503: "Service Unavailable",
}
# Enphase's documented 401 body is the same whatever the reason (bad or expired
# token, unknown key, endpoint outside the plan): nothing here tells them apart.
NOT_AUTHORIZED = "User is not authorized"
TOKEN_INVALID = NOT_AUTHORIZED
KEY_INVALID = NOT_AUTHORIZED
KEY_MISMATCH = "API Key -Client mismatch"
SYSTEM_NOT_FOUND = "System not found"
BAD_RANGE = "Requested date range is invalid for this system"
NO_ENCHARGES = "System doesn't have encharges"
GRID_NOT_REPORTED = "grid_state not available as the site has not reported yet"


def error_body(status: int, details: str | None = None) -> dict[str, object]:
    """Return Enphase's `{"message","details","code"}` body for `status`."""
    message = MESSAGES.get(status) or HTTPStatus(status).phrase
    return {
        "message": message,
        "details": details or DEFAULT_DETAILS.get(status, message),
        "code": status,
    }


def error_response(status: int, details: str | None = None) -> web.Response:
    """Return a JSON error response in Enphase's format."""
    return web.json_response(error_body(status, details), status=status)


class ApiError(Exception):
    """A handler's way to answer with an Enphase error body."""

    def __init__(self, status: int, details: str | None = None) -> None:
        """Remember the status and the `details` text of the body."""
        super().__init__(details or str(status))
        self.status = status
        self.details = details

    def response(self) -> web.Response:
        """Return the JSON response for this error."""
        return error_response(self.status, self.details)


def unprocessable(details: str) -> ApiError:
    """Return a 422 error with `details`."""
    return ApiError(422, details)
