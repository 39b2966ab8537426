"""Asynchronous client of the Enphase Enlighten Systems API v4."""

from __future__ import annotations

from contextvars import ContextVar
import functools
from http import HTTPStatus
import inspect
import json
import logging
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from .const import (
    API_PREFIX,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    EVENTS_MAX_WINDOW_S,
    SYSTEMS_PAGE_SIZE,
    Endpoint,
)
from .errors import (
    EnphaseAuthError,
    EnphaseConnectionError,
    EnphaseError,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseResponseError,
    error_from_response,
    scrub,
)
from .models import (
    AnyBatteryMode,
    BatterySettings,
    BatteryTelemetry,
    Devices,
    EnergyField,
    EnergyTelemetry,
    EvChargers,
    EvEvents,
    EvLifetime,
    EvSchedules,
    EvSessions,
    Granularity,
    GridStatus,
    LatestTelemetry,
    StormGuard,
    Summary,
    System,
    SystemsPage,
    ev_telemetry_from_dict,
)
from .models.config import mode_api_value
from .models.events import Alarms, EventType, SystemEvents

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping
    from datetime import date, datetime

    from .limiter import RequestLimiter

_LOGGER = logging.getLogger(__name__)

_MAX_SYSTEM_PAGES: Final = 1000
_JSON = dict[str, Any]
# Set once a call of the current public method got a JSON answer: a foreign
# exception after that comes from the answer, before it from the caller's arguments.
_ANSWERED: ContextVar[bool] = ContextVar("enphase_answered", default=False)
# What parsing an absurd answer can raise besides EnphaseError (a date at year 1,
# a 400-digit number, nesting deeper than the interpreter's stack).
_FOREIGN: Final = (
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    AttributeError,
    RecursionError,
)


def _answer_or_enphase_error[T](cls: type[T]) -> type[T]:
    """Hold every public method of `cls` to the contract: a model or an `EnphaseError`.

    Methods added later (new endpoints) are held to it too, without a line of their own.
    """
    for name, method in list(vars(cls).items()):
        if name.startswith("async_") and inspect.iscoroutinefunction(method):
            setattr(cls, name, _contract(method))
    return cls


def _contract[**P, R](method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        answered = _ANSWERED.set(False)
        try:
            return await method(*args, **kwargs)
        except EnphaseError:
            raise
        except _FOREIGN as err:
            if not _ANSWERED.get():
                raise  # the caller's own arguments (ValueError by design)
            msg = f"Answer from Enphase not understood ({method.__name__}: {type(err).__name__})"
            raise EnphaseResponseError(msg) from None
        finally:
            _ANSWERED.reset(answered)

    return wrapper


def _enabled(value: bool) -> str:  # noqa: FBT001
    return "enabled" if value else "disabled"


@_answer_or_enphase_error
class EnphaseClient:
    """Client of one Enphase developer application acting for one homeowner.

    Every request sends `Authorization: Bearer <token>` (the token comes from
    `token_getter`, awaited for each request so a refreshed token is used at
    once) and the application's API key as the `key` query parameter.

    Errors: `EnphaseConnectionError` (no answer, timeout), `EnphaseAuthError`
    (token refused), `EnphaseApiKeyError` (key refused), `EnphasePlanError`
    (endpoint outside the plan), `EnphaseRateLimited` (429), `EnphaseNotFound`
    (404), `EnphaseUnprocessable` (422), `EnphaseServerError` (5xx),
    `EnphaseResponseError` (an answer that cannot be understood). Exceptions
    raised by `token_getter` or by the limiter propagate unchanged.
    """

    def __init__(  # noqa: PLR0913
        self,
        session: aiohttp.ClientSession,
        token_getter: Callable[[], Awaitable[str]],
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        limiter: RequestLimiter | None = None,
        token_refresher: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        """Initialize the client.

        Args:
            session: the aiohttp session to send requests with (not closed here).
            token_getter: returns a valid OAuth access token; called before each request.
            api_key: the developer application's API key.
            base_url: scheme and host of the API (a simulator in tests).
            timeout: seconds allowed for each request, including reading the answer.
            limiter: paces and counts requests (see `limiter.RequestLimiter`).
            token_refresher: given the token Enphase refused, returns a newly
                refreshed one (or the current one, when another call refreshed it
                meanwhile); without it a refused token is an `EnphaseAuthError` at once.
        """
        self._session = session
        self._token_getter = token_getter
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limiter = limiter
        self._token_refresher = token_refresher

    # ------------------------------------------------------------------ plumbing

    async def _request(
        self,
        endpoint: Endpoint,
        path: str,
        *,
        method: str = "GET",
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, object] | None = None,
    ) -> _JSON:
        """Send one request and return its JSON object, or raise an EnphaseError.

        A token refused (401) although its owner believes it valid (clocks differ
        around the daily expiry) is refreshed once through `token_refresher` and the
        call sent once more before the refusal is believed.
        """
        token: str | None = None
        for attempt in range(2):
            if self._limiter is not None:
                await self._limiter.acquire(endpoint)
            if token is None:
                token = await self._token_getter()
            status, raw = await self._send(
                endpoint, path, method=method, params=params, body=body, token=token
            )
            if 200 <= status < 300:  # noqa: PLR2004
                break
            error = error_from_response(
                status, raw, endpoint=endpoint, secrets=(token, self._api_key)
            )
            _LOGGER.debug("%s %s answered %s: %s", method, endpoint, status, error)
            if isinstance(error, EnphaseRateLimited) and self._limiter is not None:
                self._limiter.rate_limited(error)
            if status == HTTPStatus.UNAUTHORIZED and isinstance(error, EnphasePlanError):
                error = await self._plan_or_token(error, token)
            if type(error) is EnphaseAuthError and attempt == 0 and self._token_refresher:
                _LOGGER.debug("Enphase refused the access token; refreshing it once")
                token = await self._token_refresher(token)
                continue
            raise error
        try:
            data = json.loads(raw)
        except ValueError, RecursionError:  # JSONDecodeError, UnicodeDecodeError, deep nesting
            msg = f"Malformed JSON from Enphase ({endpoint})"
            raise EnphaseResponseError(msg) from None
        if not isinstance(data, dict):
            msg = f"Expected a JSON object from Enphase ({endpoint})"
            raise EnphaseResponseError(msg)
        _ANSWERED.set(True)
        return data

    async def _send(  # noqa: PLR0913
        self,
        endpoint: Endpoint,
        path: str,
        *,
        method: str,
        params: Mapping[str, str | int] | None,
        body: Mapping[str, object] | None,
        token: str,
    ) -> tuple[int, bytes]:
        """Send the request once; return its status and body.

        aiohttp's exceptions quote the URL, whose query carries the API key: they
        are never chained (`from None`), only their scrubbed text is kept.
        """
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        query: dict[str, str | int] = {"key": self._api_key, **(params or {})}
        try:
            async with self._session.request(
                method,
                f"{self._base_url}{API_PREFIX}{path}",
                params=query,
                json=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                if self._limiter is not None:
                    self._limiter.record(endpoint, status)
                return status, await response.read()
        except TimeoutError:
            msg = f"Timeout waiting for Enphase ({endpoint})"
            raise EnphaseConnectionError(msg) from None
        except aiohttp.ClientError as err:
            msg = f"Error talking to Enphase ({endpoint}): {type(err).__name__}"
            if detail := scrub(str(err), (token, self._api_key)):
                msg = f"{msg}: {detail}"
            raise EnphaseConnectionError(msg) from None

    async def _plan_or_token(self, refusal: EnphasePlanError, token: str) -> EnphaseError:
        """Tell a plan refusal from a dead token after a 401 on a plan-gated endpoint.

        Enphase answers both with the same generic 401 body. One plan-free call
        (`/systems`, one entry) with the same token decides: if it is refused too, the
        token is dead (`EnphaseAuthError`: refreshed once, then a reauth); if it
        succeeds, the endpoint is outside the plan (`EnphasePlanError`, never a
        reauth). Other errors of that call (429, no answer) propagate: nothing is
        decided then.
        """
        if self._limiter is not None:
            await self._limiter.acquire(Endpoint.SYSTEMS)
        status, raw = await self._send(
            Endpoint.SYSTEMS,
            "/systems",
            method="GET",
            params={"page": 1, "size": 1},
            body=None,
            token=token,
        )
        if 200 <= status < 300:  # noqa: PLR2004
            return refusal
        probe = error_from_response(
            status, raw, endpoint=Endpoint.SYSTEMS, secrets=(token, self._api_key)
        )
        if isinstance(probe, EnphaseRateLimited) and self._limiter is not None:
            self._limiter.rate_limited(probe)
        if isinstance(probe, EnphaseAuthError):
            return probe
        if isinstance(probe, EnphasePlanError):
            return refusal
        raise probe

    async def _config(
        self,
        endpoint: Endpoint,
        system_id: int,
        name: str,
        *,
        method: str = "GET",
        body: Mapping[str, object] | None = None,
    ) -> _JSON:
        """Request a `/systems/config/{id}/{name}` endpoint; fill in a missing system_id."""
        data = await self._request(
            endpoint, f"/systems/config/{int(system_id)}/{name}", method=method, body=body
        )
        if data.get("system_id") is None:
            data["system_id"] = system_id
        return data

    @staticmethod
    def _telemetry_params(
        start_at: datetime | None, granularity: Granularity | str
    ) -> dict[str, str | int]:
        params: dict[str, str | int] = {"granularity": Granularity(granularity).value}
        if start_at is not None:
            if start_at.tzinfo is None:
                msg = "start_at must be a timezone-aware datetime"
                raise ValueError(msg)
            params["start_at"] = int(start_at.timestamp())
        return params

    async def _energy(
        self,
        endpoint: Endpoint,
        path: str,
        value_key: EnergyField,
        start_at: datetime | None,
        granularity: Granularity | str,
    ) -> EnergyTelemetry:
        data = await self._request(
            endpoint, path, params=self._telemetry_params(start_at, granularity)
        )
        return EnergyTelemetry.from_dict(data, value_key)

    # ------------------------------------------------------------------ monitoring

    async def async_get_systems(self) -> list[System]:
        """Return every system of the account, following the pages (100 a page)."""
        systems: dict[int, System] = {}
        for page in range(1, _MAX_SYSTEM_PAGES + 1):
            data = await self._request(
                Endpoint.SYSTEMS, "/systems", params={"page": page, "size": SYSTEMS_PAGE_SIZE}
            )
            parsed = SystemsPage.from_dict(data)
            before = len(systems)
            for system in parsed.systems:
                systems.setdefault(system.system_id, system)
            if len(systems) == before:  # empty page, or the server repeats itself
                break
            if parsed.total is not None:
                if len(systems) >= parsed.total:
                    break
            elif len(parsed.systems) < SYSTEMS_PAGE_SIZE:
                break
        return list(systems.values())

    async def async_get_summary(self, system_id: int) -> Summary:
        """Return the system's summary (power now, energy today and lifetime)."""
        data = await self._request(Endpoint.SUMMARY, f"/systems/{int(system_id)}/summary")
        return Summary.from_dict(data)

    async def async_get_devices(self, system_id: int) -> Devices:
        """Return the system's active devices."""
        data = await self._request(Endpoint.DEVICES, f"/systems/{int(system_id)}/devices")
        return Devices.from_dict(data)

    async def async_get_latest_telemetry(self, system_id: int) -> LatestTelemetry:
        """Return the last power readings of the meters and batteries."""
        data = await self._request(
            Endpoint.LATEST_TELEMETRY, f"/systems/{int(system_id)}/latest_telemetry"
        )
        return LatestTelemetry.from_dict(data)

    async def async_get_production_telemetry(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity = Granularity.DAY,
    ) -> EnergyTelemetry:
        """Return production meter intervals (`wh_del`) from start_at (default local midnight)."""
        return await self._energy(
            Endpoint.PRODUCTION_TELEMETRY,
            f"/systems/{int(system_id)}/telemetry/production_meter",
            EnergyField.PRODUCTION,
            start_at,
            granularity,
        )

    async def async_get_consumption_telemetry(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity = Granularity.DAY,
    ) -> EnergyTelemetry:
        """Return consumption meter intervals (`enwh`)."""
        return await self._energy(
            Endpoint.CONSUMPTION_TELEMETRY,
            f"/systems/{int(system_id)}/telemetry/consumption_meter",
            EnergyField.CONSUMPTION,
            start_at,
            granularity,
        )

    async def async_get_import_telemetry(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity = Granularity.DAY,
    ) -> EnergyTelemetry:
        """Return grid import intervals (`wh_imported`), flattened across local days."""
        return await self._energy(
            Endpoint.IMPORT_TELEMETRY,
            f"/systems/{int(system_id)}/energy_import_telemetry",
            EnergyField.IMPORT,
            start_at,
            granularity,
        )

    async def async_get_export_telemetry(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity = Granularity.DAY,
    ) -> EnergyTelemetry:
        """Return grid export intervals (`wh_exported`), flattened across local days."""
        return await self._energy(
            Endpoint.EXPORT_TELEMETRY,
            f"/systems/{int(system_id)}/energy_export_telemetry",
            EnergyField.EXPORT,
            start_at,
            granularity,
        )

    async def async_get_battery_telemetry(
        self,
        system_id: int,
        *,
        start_at: datetime | None = None,
        granularity: Granularity = Granularity.DAY,
    ) -> BatteryTelemetry:
        """Return battery charge/discharge/state-of-charge intervals."""
        data = await self._request(
            Endpoint.BATTERY_TELEMETRY,
            f"/systems/{int(system_id)}/telemetry/battery",
            params=self._telemetry_params(start_at, granularity),
        )
        return BatteryTelemetry.from_dict(data)

    # ------------------------------------------------------------------ configuration

    async def async_get_battery_settings(self, system_id: int) -> BatterySettings:
        """Return the battery settings (Megawatt plan and above)."""
        data = await self._config(Endpoint.BATTERY_SETTINGS, system_id, "battery_settings")
        return BatterySettings.from_dict(data)

    async def async_set_battery_settings(
        self,
        system_id: int,
        *,
        mode: AnyBatteryMode | None = None,
        reserve_soc: int | None = None,
        energy_independence: bool | None = None,
    ) -> BatterySettings:
        """Change the given battery settings and return the settings Enphase echoes.

        Only the given fields are sent. A known mode is sent in the documented,
        case-sensitive spelling ("Self-consumption", "Savings Mode", "Full Backup");
        a mode this client does not know exactly as Enphase reported it. The gateway applies them later (a minute
        or more): the echo is what Enphase accepted, not yet what the battery does.

        Raises:
            ValueError: no setting given, or reserve_soc outside 0-100.
        """
        body: dict[str, object] = {}
        if mode is not None:
            body["battery_mode"] = mode_api_value(mode)
        if reserve_soc is not None:
            if not 0 <= reserve_soc <= 100:  # noqa: PLR2004
                msg = "reserve_soc must be between 0 and 100"
                raise ValueError(msg)
            body["reserve_soc"] = int(reserve_soc)
        if energy_independence is not None:
            body["energy_independence"] = _enabled(energy_independence)
        if not body:
            msg = "At least one battery setting must be given"
            raise ValueError(msg)
        data = await self._config(
            Endpoint.SET_BATTERY_SETTINGS, system_id, "battery_settings", method="PUT", body=body
        )
        return BatterySettings.from_dict(data)

    async def async_get_storm_guard(self, system_id: int) -> StormGuard:
        """Return the storm guard setting (Megawatt plan and above)."""
        data = await self._config(Endpoint.STORM_GUARD, system_id, "storm_guard")
        return StormGuard.from_dict(data)

    async def async_set_storm_guard(self, system_id: int, *, enabled: bool) -> StormGuard:
        """Enable or disable storm guard and return the setting Enphase echoes."""
        data = await self._config(
            Endpoint.SET_STORM_GUARD,
            system_id,
            "storm_guard",
            method="PUT",
            body={"storm_guard_status": _enabled(enabled)},
        )
        return StormGuard.from_dict(data)

    async def async_get_grid_status(self, system_id: int) -> GridStatus:
        """Return whether the site is on grid (Megawatt plan and above)."""
        data = await self._config(Endpoint.GRID_STATUS, system_id, "grid_status")
        return GridStatus.from_dict(data)

    # ------------------------------------------------------------------ health

    @staticmethod
    def _event_window(start: datetime, end: datetime) -> dict[str, str | int]:
        """Return `start_time`/`end_time`, checked against Enphase's documented limits.

        Raises:
            ValueError: naive times, end before start, or more than a week (a start
                older than nine months is Enphase's 422 to give).
        """
        if start.tzinfo is None or end.tzinfo is None:
            msg = "start and end must be timezone-aware datetimes"
            raise ValueError(msg)
        first, last = int(start.timestamp()), int(end.timestamp())
        if last < first or last - first > EVENTS_MAX_WINDOW_S:
            msg = "the window must end after it starts and span at most one week"
            raise ValueError(msg)
        return {"start_time": first, "end_time": last}

    async def async_get_events(
        self, system_id: int, *, start: datetime, end: datetime
    ) -> SystemEvents:
        """Return the system's events of `[start, end]` (at most one week; every plan)."""
        data = await self._request(
            Endpoint.EVENTS,
            f"/systems/{int(system_id)}/events",
            params=self._event_window(start, end),
        )
        return SystemEvents.from_dict(data)

    async def async_get_alarms(
        self, system_id: int, *, start: datetime, end: datetime, cleared: bool = False
    ) -> Alarms:
        """Return the active alarms (or the cleared ones) of `[start, end]` (every plan)."""
        params = self._event_window(start, end)
        params["cleared"] = "true" if cleared else "false"
        data = await self._request(
            Endpoint.ALARMS, f"/systems/{int(system_id)}/alarms", params=params
        )
        return Alarms.from_dict(data)

    async def async_get_event_types(
        self, event_type_id: int | None = None
    ) -> tuple[EventType, ...]:
        """Return Enphase's event types (or one): names, descriptions, recommended actions."""
        params: dict[str, str | int] = {}
        if event_type_id is not None:
            params["event_type_id"] = int(event_type_id)
        data = await self._request(Endpoint.EVENT_TYPES, "/systems/event_types", params=params)
        return EventType.list_from_dict(data)

    # ------------------------------------------------------------------ EV chargers

    @staticmethod
    def _ev_path(system_id: int, serial: str, name: str) -> str:
        """Return the path of one charger's endpoint; the serial is quoted safely."""
        if not serial or not serial.isalnum():
            msg = "An EV charger serial number must be letters and digits"
            raise ValueError(msg)
        return f"/systems/{int(system_id)}/ev_charger/{serial}/{name}"

    async def async_get_ev_chargers(self, system_id: int) -> EvChargers:
        """Return the system's active IQ EV Chargers (every plan)."""
        data = await self._request(
            Endpoint.EV_CHARGERS, f"/systems/{int(system_id)}/ev_charger/devices"
        )
        return EvChargers.from_dict(data)

    async def async_get_ev_events(
        self, system_id: int, *, serial: str | None = None, offset: int = 0, limit: int = 20
    ) -> EvEvents:
        """Return a page of the system's charger events (of one charger with `serial`)."""
        params: dict[str, str | int] = {"offset": offset, "limit": limit}
        if serial is not None:
            params["serial_num"] = serial
        data = await self._request(
            Endpoint.EV_EVENTS, f"/systems/{int(system_id)}/ev_charger/events", params=params
        )
        return EvEvents.from_dict(data)

    async def async_get_ev_sessions(
        self, system_id: int, serial: str, *, offset: int = 0, limit: int = 20
    ) -> EvSessions:
        """Return a page of a charger's sessions, newest first."""
        data = await self._request(
            Endpoint.EV_SESSIONS,
            self._ev_path(system_id, serial, "sessions"),
            params={"offset": offset, "limit": limit},
        )
        return EvSessions.from_dict(data)

    async def async_get_ev_schedules(self, system_id: int, serial: str) -> EvSchedules:
        """Return a charger's schedules."""
        data = await self._request(
            Endpoint.EV_SCHEDULES, self._ev_path(system_id, serial, "schedules")
        )
        return EvSchedules.from_dict(data)

    async def async_get_ev_lifetime(
        self, system_id: int, serial: str, *, start: date, end: date | None = None
    ) -> EvLifetime:
        """Return a charger's Wh per day from `start` to `end` (default: yesterday)."""
        params: dict[str, str | int] = {"start_date": start.strftime("%Y%m%d")}
        if end is not None:
            params["end_date"] = end.strftime("%Y%m%d")
        data = await self._request(
            Endpoint.EV_LIFETIME, self._ev_path(system_id, serial, "lifetime"), params=params
        )
        return EvLifetime.from_dict(data)

    async def async_get_ev_telemetry(
        self,
        system_id: int,
        serial: str,
        *,
        start_at: datetime | None = None,
        granularity: Granularity = Granularity.DAY,
    ) -> EnergyTelemetry:
        """Return a charger's 15-minute energy over a `day` or `week` window from start_at.

        Without start_at Enphase starts at the previous local day.
        """
        if Granularity(granularity) is Granularity.FIFTEEN_MINUTES:
            msg = "EV charger telemetry comes in day or week windows"
            raise ValueError(msg)
        data = await self._request(
            Endpoint.EV_TELEMETRY,
            self._ev_path(system_id, serial, "telemetry"),
            params=self._telemetry_params(start_at, granularity),
        )
        return ev_telemetry_from_dict(data, start_at)

    async def async_start_ev_charging(
        self, system_id: int, serial: str, *, charging_level: int | None = None
    ) -> None:
        """Ask a charger to start charging (Partner plan; 202 accepted, applied later)."""
        body: dict[str, object] = {"connectorId": "1"}
        if charging_level is not None:
            if not 0 <= charging_level <= 100:  # noqa: PLR2004
                msg = "The charging level is a percentage"
                raise ValueError(msg)
            body["chargingLevel"] = str(charging_level)
        await self._request(
            Endpoint.EV_START_CHARGING,
            self._ev_path(system_id, serial, "start_charging"),
            method="POST",
            body=body,
        )

    async def async_stop_ev_charging(self, system_id: int, serial: str) -> None:
        """Ask a charger to stop charging (Partner plan; 202 accepted, applied later)."""
        await self._request(
            Endpoint.EV_STOP_CHARGING,
            self._ev_path(system_id, serial, "stop_charging"),
            method="POST",
        )
