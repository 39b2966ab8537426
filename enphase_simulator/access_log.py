"""An access log that never writes query strings.

Enphase's documented token call carries the code and the refresh token in the
query string, so aiohttp's default access log line would leak them.
"""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse


class RedactingAccessLogger(AbstractAccessLogger):
    """Logs method, path (no query), status and duration of each request."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write one access line."""
        self.logger.info(
            "%s %s %s %s %.1fms",
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )
