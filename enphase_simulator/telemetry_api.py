"""Interval telemetry endpoints: meters, micros, battery, import and export.

Only intervals the gateway has uploaded are served: the list ends at the last
upload even when the window reaches further.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from .api_v4 import observe
from .simulation import FIVE_MIN, QUARTER, SystemSim
from .system import Observation
from .windows import Window, local_date, local_midnight, parse_window
from .world import SystemSpec

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stream:
    """One 15-minute telemetry stream: which devices feed it and its row shape."""

    devices: Callable[[SystemSpec], int]
    row: Callable[[SystemSim, int, int], Row]


def _meters(spec: SystemSpec) -> int:
    return 1


def _consumption_meters(spec: SystemSpec) -> int:
    return 1 if spec.consumption_meter else 0


def _batteries(spec: SystemSpec) -> int:
    return spec.batteries


def _battery_row(sim: SystemSim, i: int, n: int) -> Row:
    return {
        "charge": {"enwh": sim.charge[i], "devices_reporting": n},
        "discharge": {"enwh": sim.discharge[i], "devices_reporting": n},
        "soc": {"percent": sim.soc_percent(i), "devices_reporting": n},
    }


PRODUCTION = Stream(
    _meters, lambda sim, i, n: {"devices_reporting": n, "wh_del": sim.production[i]}
)
CONSUMPTION = Stream(
    _consumption_meters, lambda sim, i, n: {"devices_reporting": n, "enwh": sim.consumption[i]}
)
BATTERY = Stream(_batteries, _battery_row)
# Import and export rows carry no devices_reporting, and their total_devices is 0.
IMPORT = Stream(_consumption_meters, lambda sim, i, _n: {"wh_imported": sim.imported[i]})
EXPORT = Stream(_consumption_meters, lambda sim, i, _n: {"wh_exported": sim.exported[i]})


def _envelope(
    seen: Observation, window: Window, total: int, intervals: list[Any], *, meta: bool = True
) -> dict[str, Any]:
    body = {
        "system_id": seen.runtime.spec.system_id,
        "granularity": window.granularity,
        "total_devices": total,
        "start_at": window.echo_start,
        "end_at": window.echo_end,
        "items": "intervals",
        "intervals": intervals,
    }
    if meta:
        body["meta"] = seen.meta()
    return body


def visible_indices(seen: Observation, window: Window, step: int) -> range:
    """Return the `step`-second slots inside `window` that have been uploaded."""
    origin = seen.runtime.operational_at
    last_end = min(window.end, seen.through)
    return range((window.start - origin) // step, (last_end - origin) // step)


def _rows(seen: Observation, window: Window, stream: Stream) -> tuple[int, list[Row]]:
    total = stream.devices(seen.runtime.spec)
    if total == 0:
        return 0, []
    origin, sim = seen.runtime.operational_at, seen.sim
    return total, [
        {"end_at": origin + (i + 1) * QUARTER, **stream.row(sim, i, total)}
        for i in visible_indices(seen, window, QUARTER)
    ]


def _window(seen: Observation, request: web.Request, step: int) -> Window:
    spec = seen.runtime.spec
    return parse_window(request.query, spec.zone, seen.now, seen.runtime.operational_at, step)


def _flat(stream: Stream, *, meta: bool = True) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        seen = observe(request)
        window = _window(seen, request, QUARTER)
        total, rows = _rows(seen, window, stream)
        return web.json_response(_envelope(seen, window, total, rows, meta=meta))

    return handler


def _by_local_day(stream: Stream) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        seen = observe(request)
        window = _window(seen, request, QUARTER)
        _total, rows = _rows(seen, window, stream)
        # total_devices is 0 on these two endpoints in every recording and example.
        return web.json_response(_envelope(seen, window, 0, split_days(rows, seen.runtime.spec)))

    return handler


def split_days(rows: list[Row], spec: SystemSpec) -> list[list[Row]]:
    """Group rows by the local day their interval lies in (an array per day)."""
    days: list[list[Row]] = []
    boundary = None
    for row in rows:
        begin = row["end_at"] - QUARTER
        if boundary is None or begin >= boundary:
            boundary = local_midnight(local_date(begin, spec.zone) + timedelta(days=1), spec.zone)
            days.append([])
        days[-1].append(row)
    return days


# Enphase's production_meter answer has no `meta` (recordings and the spec agree).
production_meter = _flat(PRODUCTION, meta=False)
consumption_meter = _flat(CONSUMPTION)
import_telemetry = _by_local_day(IMPORT)
export_telemetry = _by_local_day(EXPORT)


async def battery(request: web.Request) -> web.Response:
    """`GET /telemetry/battery`: charge, discharge and SoC per interval."""
    seen = observe(request)
    window = _window(seen, request, QUARTER)
    total, rows = _rows(seen, window, BATTERY)
    body = _envelope(seen, window, total, rows)
    last = seen.last_index()
    aggregate = None if total == 0 or last is None else f"{seen.sim.soc_percent(last)}%"
    body["last_reported_aggregate_soc"] = aggregate
    return web.json_response(body)


async def production_micro(request: web.Request) -> web.Response:
    """`GET /telemetry/production_micro`: 5-minute production of the microinverters."""
    seen = observe(request)
    window = _window(seen, request, FIVE_MIN)
    micros = seen.runtime.spec.micros
    origin, sim = seen.runtime.operational_at, seen.sim
    rows = []
    parts: list[int] = []
    for slot in visible_indices(seen, window, FIVE_MIN):
        quarter, part = divmod(slot, 3)
        if part == 0 or not parts:
            parts = sim.micro_split(quarter)
        enwh = parts[part]
        reporting = micros if sim.production[quarter] > 0 else 0
        rows.append(
            {
                "end_at": origin + (slot + 1) * FIVE_MIN,
                "devices_reporting": reporting,
                "powr": enwh * 12,
                "enwh": enwh,
            }
        )
    return web.json_response(_envelope(seen, window, micros, rows))
