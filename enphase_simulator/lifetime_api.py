"""Lifetime endpoints: Wh per local day, zero for what has not been uploaded yet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aiohttp import web

from .api_v4 import observe
from .simulation import QUARTER, SystemSim
from .system import Observation
from .windows import day_range, local_midnight
from .world import SystemSpec

Series = Callable[[SystemSim], list[int]]


def daily_sums(seen: Observation, stream: list[int], days: list[Any]) -> list[int]:
    """Return the uploaded Wh of `stream` for each local day in `days`."""
    spec, origin, reported = seen.runtime.spec, seen.runtime.operational_at, seen.reported
    sums = []
    for day in days:
        first = (local_midnight(day, spec.zone) - origin) // QUARTER
        stop = (local_midnight(day + timedelta(days=1), spec.zone) - origin) // QUARTER
        sums.append(sum(stream[max(0, first) : max(0, min(stop, reported))]))
    return sums


def _lifetime(
    fields: dict[str, Series], available: Callable[[SystemSpec], bool]
) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        seen = observe(request)
        spec = seen.runtime.spec
        days = day_range(request.query, spec.zone, seen.now, seen.runtime.operational_at)
        body: dict[str, Any] = {
            "system_id": spec.system_id,
            "start_date": days[0].isoformat() if days else request.query.get("start_date"),
        }
        for name, series in fields.items():
            body[name] = daily_sums(seen, series(seen.sim), days) if available(spec) else []
        if "production" in fields:
            # The production meter counted from the first day; the micros' own count
            # is the same energy here (no metering gap is modelled).
            body["meter_start_date"] = body["start_date"]
            body["micro_production"] = list(body["production"])
            body["meter_production"] = list(body["production"])
        body["meta"] = seen.meta()
        return web.json_response(body)

    return handler


def _always(spec: SystemSpec) -> bool:
    return True


def _metered(spec: SystemSpec) -> bool:
    return spec.consumption_meter


def _battery(spec: SystemSpec) -> bool:
    return spec.has_battery


energy_lifetime = _lifetime({"production": lambda sim: sim.production}, _always)
consumption_lifetime = _lifetime({"consumption": lambda sim: sim.consumption}, _metered)
battery_lifetime = _lifetime(
    {"charge": lambda sim: sim.charge, "discharge": lambda sim: sim.discharge}, _battery
)
import_lifetime = _lifetime({"import": lambda sim: sim.imported}, _metered)
export_lifetime = _lifetime({"export": lambda sim: sim.exported}, _metered)
