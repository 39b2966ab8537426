"""The hook through which the client lets its owner pace and count requests.

Enphase counts every call against the developer application's plan (Watt:
10 a minute, 1,000 a month). The client knows nothing of budgets: it tells a
`RequestLimiter` about each request, and the limiter decides.

For each request the client calls, in this order:

1. `await acquire(endpoint)` before anything else (before the token is even
   fetched). It may sleep to space calls, or raise `EnphaseRateLimited` itself
   to refuse the call, which then propagates to the caller unchanged.
2. `record(endpoint, status)` as soon as a response's status is known, for
   every response that reached the server, errors included. A request that
   failed to connect or timed out before the status arrived is not recorded
   (it may or may not have been counted by Enphase).
3. `rate_limited(error)` after `record(endpoint, 429)`, before the
   `EnphaseRateLimited` is raised to the caller.

`endpoint` is one of `const.ENDPOINTS` (a `const.Endpoint`, which is a str).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .errors import EnphaseRateLimited


@runtime_checkable
class RequestLimiter(Protocol):
    """Paces and counts the client's requests (see the module docstring)."""

    async def acquire(self, endpoint: str) -> None:
        """Wait until a request to `endpoint` may be sent, or raise EnphaseRateLimited."""

    def record(self, endpoint: str, status: int) -> None:
        """Note that a request to `endpoint` reached the server and got `status`."""

    def rate_limited(self, error: EnphaseRateLimited) -> None:
        """Note that the server answered 429 (after `record`)."""
