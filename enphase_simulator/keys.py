"""Typed keys under which the app and requests carry simulator objects."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .simulator import Simulator
from .tokens import Grant


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What the gate needs to know about an `/api/v4` route."""

    name: str
    min_level: int = 0
    write: bool = False


SIMULATOR_KEY = web.AppKey("enphase_simulator", Simulator)
ENDPOINTS_KEY = web.AppKey("enphase_endpoints", dict[tuple[str, str], Endpoint])
GRANT_KEY = web.RequestKey("enphase_grant", Grant)


def simulator(request: web.Request) -> Simulator:
    """Return the simulator serving `request`."""
    return request.app[SIMULATOR_KEY]
