"""Tests for the RequestLimiter protocol."""

from __future__ import annotations

from custom_components.enphase_cloud.api import RequestLimiter

from .fake_server import RecordingLimiter


class _Incomplete:
    async def acquire(self, endpoint: str) -> None:
        """Only one of the three methods."""


def test_protocol_is_checkable() -> None:
    assert isinstance(RecordingLimiter(), RequestLimiter)
    assert not isinstance(_Incomplete(), RequestLimiter)
