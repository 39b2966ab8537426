"""`create_app`: the aiohttp application serving OAuth, `/api/v4` and `/_sim`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib

from aiohttp import web

from . import (
    admin,
    api_v4,
    config_api,
    ev_api,
    events_api,
    lifetime_api,
    oauth,
    state,
    telemetry_api,
)
from .config import KILOWATT, MEGAWATT, PARTNER, SimConfig
from .gate import gate
from .keys import ENDPOINTS_KEY, SIMULATOR_KEY, Endpoint
from .simulator import Simulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
API = "/api/v4"
SYSTEM = f"{API}/systems/{{system_id}}"
CONFIG = f"{API}/systems/config/{{system_id}}"
EV = f"{SYSTEM}/ev_charger"
ROUTES: tuple[tuple[str, str, Handler, int], ...] = (
    ("GET", f"{API}/systems", api_v4.systems, 0),
    ("GET", f"{SYSTEM}/summary", api_v4.summary, 0),
    ("GET", f"{SYSTEM}/devices", api_v4.device_list, 0),
    ("GET", f"{SYSTEM}/latest_telemetry", api_v4.latest_telemetry, 0),
    ("GET", f"{SYSTEM}/telemetry/production_meter", telemetry_api.production_meter, 0),
    ("GET", f"{SYSTEM}/telemetry/production_micro", telemetry_api.production_micro, KILOWATT),
    ("GET", f"{SYSTEM}/telemetry/consumption_meter", telemetry_api.consumption_meter, 0),
    ("GET", f"{SYSTEM}/telemetry/battery", telemetry_api.battery, 0),
    ("GET", f"{SYSTEM}/energy_import_telemetry", telemetry_api.import_telemetry, 0),
    ("GET", f"{SYSTEM}/energy_export_telemetry", telemetry_api.export_telemetry, 0),
    ("GET", f"{SYSTEM}/energy_lifetime", lifetime_api.energy_lifetime, 0),
    ("GET", f"{SYSTEM}/consumption_lifetime", lifetime_api.consumption_lifetime, 0),
    ("GET", f"{SYSTEM}/battery_lifetime", lifetime_api.battery_lifetime, 0),
    ("GET", f"{SYSTEM}/energy_import_lifetime", lifetime_api.import_lifetime, 0),
    ("GET", f"{SYSTEM}/energy_export_lifetime", lifetime_api.export_lifetime, 0),
    ("GET", f"{CONFIG}/battery_settings", config_api.get_battery_settings, MEGAWATT),
    ("PUT", f"{CONFIG}/battery_settings", config_api.put_battery_settings, MEGAWATT),
    ("GET", f"{CONFIG}/storm_guard", config_api.get_storm_guard, MEGAWATT),
    ("PUT", f"{CONFIG}/storm_guard", config_api.put_storm_guard, MEGAWATT),
    ("GET", f"{CONFIG}/grid_status", config_api.get_grid_status, MEGAWATT),
    ("GET", f"{CONFIG}/load_control", config_api.get_load_control, MEGAWATT),
    ("PUT", f"{CONFIG}/load_control", config_api.put_load_control, MEGAWATT),
    ("GET", f"{EV}/devices", ev_api.devices, 0),
    ("GET", f"{EV}/events", ev_api.events, 0),
    ("GET", f"{EV}/{{serial_no}}/sessions", ev_api.sessions, 0),
    ("GET", f"{EV}/{{serial_no}}/schedules", ev_api.schedules, 0),
    ("GET", f"{EV}/{{serial_no}}/lifetime", ev_api.lifetime, 0),
    ("GET", f"{EV}/{{serial_no}}/telemetry", ev_api.telemetry, 0),
    ("POST", f"{EV}/{{serial_no}}/start_charging", ev_api.start_charging, PARTNER),
    ("POST", f"{EV}/{{serial_no}}/stop_charging", ev_api.stop_charging, PARTNER),
)

ROUTES += events_api.routes(API, SYSTEM)


def _add_api_routes(app: web.Application) -> None:
    endpoints: dict[tuple[str, str], Endpoint] = {}
    for method, path, handler, level in ROUTES:
        route = app.router.add_route(method, path, handler)
        canonical = route.resource.canonical if route.resource else path
        endpoints[method, canonical] = Endpoint(
            f"{method} {canonical}", level, write=method != "GET"
        )
    app[ENDPOINTS_KEY] = endpoints


async def _autosave(app: web.Application) -> AsyncIterator[None]:
    sim = app[SIMULATOR_KEY]
    task = None
    if sim.config.state_path is not None:
        task = asyncio.create_task(state.autosave(sim, sim.config.save_interval.total_seconds()))
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sim.save_state()


async def _end_hangs(app: web.Application) -> None:
    # Hanging handlers would otherwise hold shutdown for their whole delay.
    app[SIMULATOR_KEY].cancel_sleeps()


def create_app(config: SimConfig | None = None) -> web.Application:
    """Return the simulator's aiohttp application; `app[SIMULATOR_KEY]` controls it."""
    app = web.Application(middlewares=[gate])
    app[SIMULATOR_KEY] = Simulator(config or SimConfig())
    app.router.add_get("/oauth/authorize", oauth.authorize)
    app.router.add_post("/oauth/authorize/decision", oauth.decision)
    app.router.add_post("/oauth/token", oauth.token)
    _add_api_routes(app)
    admin.add_routes(app)
    events_api.add_admin_routes(app)
    ev_api.add_admin_routes(app)
    app.cleanup_ctx.append(_autosave)
    app.on_shutdown.append(_end_hangs)
    return app
