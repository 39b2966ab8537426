"""Tests for the client's HTTP behaviour against a programmable server.

The realistic flows run against the simulator in test_client_simulator.py;
these cover what the simulator cannot be told to do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
import socket
from typing import Any

import aiohttp
import pytest

from custom_components.enphase_cloud.api import (
    ENDPOINTS,
    BatteryMode,
    BatterySettings,
    Endpoint,
    EnphaseApiKeyError,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseConnectionError,
    EnphaseNotFound,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseResponseError,
    EnphaseServerError,
    EnphaseUnprocessable,
    Granularity,
    GridStatus,
    RequestLimiter,
    StormGuard,
)

from .common import load_fixture
from .conftest import API_KEY, TOKEN
from .fake_server import FakeEnphase, Received, RecordingLimiter, Reply

START = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)  # 2026-06-15T00:00 America/Los_Angeles
START_EPOCH = 1781506800


def _system(system_id: int) -> dict[str, Any]:
    return {
        "system_id": system_id,
        "name": f"System {system_id}",
        "timezone": "UTC",
        "status": "normal",
    }


# --------------------------------------------------------------------------- every request


async def test_headers_key_and_accept(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("/systems/1001/summary", load_fixture("summary.json"))
    summary = await client.async_get_summary(1001)
    assert summary.system_id == 1001
    (request,) = fake.received
    assert request.method == "GET"
    assert request.path == "/systems/1001/summary"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.query == {"key": API_KEY}
    assert request.headers["Accept"] == "application/json"


async def test_token_getter_awaited_for_each_request(
    session: aiohttp.ClientSession, fake: FakeEnphase
) -> None:
    fake.reply("/systems/1001/summary", load_fixture("summary.json"))
    tokens = iter(["first", "second"])

    async def token_getter() -> str:
        return next(tokens)

    client = EnphaseClient(session, token_getter, "k", base_url=fake.base_url)
    await client.async_get_summary(1001)
    await client.async_get_summary(1001)
    assert [r.headers["Authorization"] for r in fake.received] == [
        "Bearer first",
        "Bearer second",
    ]
    assert [r.query["key"] for r in fake.received] == ["k", "k"]


async def test_token_getter_errors_propagate(
    session: aiohttp.ClientSession, fake: FakeEnphase
) -> None:
    class RefreshFailedError(Exception):
        pass

    async def token_getter() -> str:
        raise RefreshFailedError

    limiter = RecordingLimiter()
    client = EnphaseClient(session, token_getter, "k", base_url=fake.base_url, limiter=limiter)
    with pytest.raises(RefreshFailedError):
        await client.async_get_summary(1001)
    assert fake.received == []
    assert limiter.calls == [("acquire", "summary")]


async def test_base_url_trailing_slash(session: aiohttp.ClientSession, fake: FakeEnphase) -> None:
    fake.reply("/systems/1001/devices", load_fixture("devices.json"))

    async def token_getter() -> str:
        return "t"

    assert fake.base_url.endswith("/")
    client = EnphaseClient(session, token_getter, "k", base_url=fake.base_url)
    devices = await client.async_get_devices(1001)
    assert devices.has_battery
    assert fake.received[0].path == "/systems/1001/devices"


# --------------------------------------------------------------------------- each method

type Call = Callable[[EnphaseClient], Awaitable[object]]

_METHODS: list[tuple[str, Call, str, str, str, dict[str, str]]] = [
    # (name, call, endpoint, path, fixture, extra query)
    (
        "summary",
        lambda c: c.async_get_summary(1001),
        "summary",
        "/systems/1001/summary",
        "summary.json",
        {},
    ),
    (
        "devices",
        lambda c: c.async_get_devices(1001),
        "devices",
        "/systems/1001/devices",
        "devices.json",
        {},
    ),
    (
        "latest",
        lambda c: c.async_get_latest_telemetry(1001),
        "latest_telemetry",
        "/systems/1001/latest_telemetry",
        "latest_telemetry.json",
        {},
    ),
    (
        "production",
        lambda c: c.async_get_production_telemetry(1001),
        "telemetry/production_meter",
        "/systems/1001/telemetry/production_meter",
        "production_meter.json",
        {"granularity": "day"},
    ),
    (
        "consumption",
        lambda c: c.async_get_consumption_telemetry(
            1001, start_at=START, granularity=Granularity.FIFTEEN_MINUTES
        ),
        "telemetry/consumption_meter",
        "/systems/1001/telemetry/consumption_meter",
        "consumption_meter.json",
        {"granularity": "15mins", "start_at": str(START_EPOCH)},
    ),
    (
        "import",
        lambda c: c.async_get_import_telemetry(1001, start_at=START, granularity=Granularity.WEEK),
        "energy_import_telemetry",
        "/systems/1001/energy_import_telemetry",
        "energy_import_telemetry.json",
        {"granularity": "week", "start_at": str(START_EPOCH)},
    ),
    (
        "export",
        lambda c: c.async_get_export_telemetry(1001, start_at=START),
        "energy_export_telemetry",
        "/systems/1001/energy_export_telemetry",
        "energy_export_telemetry.json",
        {"granularity": "day", "start_at": str(START_EPOCH)},
    ),
    (
        "battery",
        lambda c: c.async_get_battery_telemetry(1001, start_at=START.replace(microsecond=999)),
        "telemetry/battery",
        "/systems/1001/telemetry/battery",
        "battery_telemetry.json",
        {"granularity": "day", "start_at": str(START_EPOCH)},
    ),
    (
        "battery_settings",
        lambda c: c.async_get_battery_settings(1001),
        "battery_settings",
        "/systems/config/1001/battery_settings",
        "battery_settings.json",
        {},
    ),
    (
        "storm_guard",
        lambda c: c.async_get_storm_guard(1001),
        "storm_guard",
        "/systems/config/1001/storm_guard",
        "storm_guard.json",
        {},
    ),
    (
        "grid_status",
        lambda c: c.async_get_grid_status(1001),
        "grid_status",
        "/systems/config/1001/grid_status",
        "grid_status.json",
        {},
    ),
]


@pytest.mark.parametrize(
    ("call", "endpoint", "path", "fixture", "query"),
    [m[1:] for m in _METHODS],
    ids=[m[0] for m in _METHODS],
)
async def test_methods(
    client: EnphaseClient,
    fake: FakeEnphase,
    limiter: RecordingLimiter,
    call: Call,
    endpoint: str,
    path: str,
    fixture: str,
    query: dict[str, str],
) -> None:
    fake.reply(path, load_fixture(fixture))
    result = await call(client)
    assert result is not None
    (request,) = fake.received
    assert request.method == "GET"
    assert request.path == path
    assert request.query == {"key": API_KEY, **query}
    assert endpoint in ENDPOINTS
    assert limiter.calls == [("acquire", endpoint), ("record", endpoint, 200)]


async def test_method_results(client: EnphaseClient, fake: FakeEnphase) -> None:
    for method in _METHODS:
        fake.reply(method[3], load_fixture(method[4]))
    latest = await client.async_get_latest_telemetry(1001)
    assert latest.production_power == 4120
    imports = await client.async_get_import_telemetry(1001)
    assert [i.wh for i in imports.intervals] == list(range(100, 200, 10))
    exports = await client.async_get_export_telemetry(1001)
    assert len(exports.intervals) == 10
    consumption = await client.async_get_consumption_telemetry(1001)
    assert consumption.intervals[0].wh == 210
    production = await client.async_get_production_telemetry(1001)
    assert production.intervals[-1].wh == 12
    battery = await client.async_get_battery_telemetry(1001)
    assert battery.last_reported_aggregate_soc == 97
    assert await client.async_get_grid_status(1001) == GridStatus(
        system_id=1001,
        grid_state="On Grid",
        on_grid=True,
        last_report_date=datetime.fromtimestamp(1781549851, UTC),
    )
    assert await client.async_get_storm_guard(1001) == StormGuard(
        system_id=1001, enabled=True, storm_alert=False
    )


async def test_telemetry_argument_checks(client: EnphaseClient, fake: FakeEnphase) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await client.async_get_production_telemetry(1001, start_at=datetime(2026, 6, 15))  # noqa: DTZ001
    with pytest.raises(ValueError, match="hour"):
        await client.async_get_battery_telemetry(1001, granularity="hour")  # type: ignore[arg-type]
    assert fake.received == []


async def test_granularity_as_text(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("/systems/1001/telemetry/production_meter", load_fixture("production_meter.json"))
    await client.async_get_production_telemetry(1001, granularity="week")  # type: ignore[arg-type]
    assert fake.received[0].query["granularity"] == "week"


async def test_config_answer_without_system_id(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("/systems/config/1001/grid_status", {"grid_state": "Off Grid"})
    status = await client.async_get_grid_status(1001)
    assert status == GridStatus(system_id=1001, grid_state="Off Grid", on_grid=False)


# --------------------------------------------------------------------------- pagination


async def test_systems_pagination(
    client: EnphaseClient, fake: FakeEnphase, limiter: RecordingLimiter
) -> None:
    everything = [_system(i) for i in range(1, 251)]

    def page(request: Received) -> Reply:
        number, size = int(request.query["page"]), int(request.query["size"])
        items = everything[(number - 1) * size : number * size]
        return Reply(
            json_body={
                "total": len(everything),
                "current_page": number,
                "size": size,
                "count": len(items),
                "items": "systems",
                "systems": items,
            }
        )

    fake.replies["/systems"] = page
    systems = await client.async_get_systems()
    assert [s.system_id for s in systems] == list(range(1, 251))
    assert [(r.query["page"], r.query["size"]) for r in fake.received] == [
        ("1", "100"),
        ("2", "100"),
        ("3", "100"),
    ]
    assert limiter.calls.count(("acquire", "systems")) == 3


async def test_systems_single_page(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("/systems", load_fixture("systems.json"))
    systems = await client.async_get_systems()
    assert [s.system_id for s in systems] == [1001, 1002]
    assert len(fake.received) == 1


async def test_systems_without_total(client: EnphaseClient, fake: FakeEnphase) -> None:
    def page(request: Received) -> Reply:
        number = int(request.query["page"])
        count = 100 if number == 1 else 3
        items = [_system(number * 1000 + i) for i in range(count)]
        return Reply(json_body={"systems": items})

    fake.replies["/systems"] = page
    systems = await client.async_get_systems()
    assert len(systems) == 103
    assert len(fake.received) == 2


async def test_systems_page_ignored_by_server(client: EnphaseClient, fake: FakeEnphase) -> None:
    """A server that repeats page 1 must not make the client loop forever."""
    fake.reply("/systems", {"total": 500, "systems": [_system(i) for i in range(100)]})
    systems = await client.async_get_systems()
    assert len(systems) == 100
    assert len(fake.received) == 2


async def test_systems_page_limit(
    client: EnphaseClient, fake: FakeEnphase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that never stops inventing systems is asked a bounded number of times."""
    monkeypatch.setattr("custom_components.enphase_cloud.api.client._MAX_SYSTEM_PAGES", 3)

    def page(request: Received) -> Reply:
        number = int(request.query["page"])
        return Reply(json_body={"systems": [_system(number * 1000 + i) for i in range(100)]})

    fake.replies["/systems"] = page
    systems = await client.async_get_systems()
    assert len(systems) == 300
    assert len(fake.received) == 3


async def test_systems_none(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("/systems", {"total": 0, "systems": []})
    assert await client.async_get_systems() == []
    assert len(fake.received) == 1


# --------------------------------------------------------------------------- writes


async def test_set_battery_settings(client: EnphaseClient, fake: FakeEnphase) -> None:
    def echo(request: Received) -> Reply:
        settings = load_fixture("battery_settings.json")
        settings.update(request.body)
        return Reply(json_body=settings)

    fake.replies["/systems/config/1001/battery_settings"] = echo
    result = await client.async_set_battery_settings(1001, mode=BatteryMode.SAVINGS)
    assert result.mode is BatteryMode.SAVINGS
    result = await client.async_set_battery_settings(
        1001, reserve_soc=45, energy_independence=False
    )
    assert result.reserve_soc == 45
    assert result.energy_independence is False
    result = await client.async_set_battery_settings(
        1001, mode=BatteryMode.FULL_BACKUP, reserve_soc=100, energy_independence=True
    )
    assert result == BatterySettings(
        system_id=1001,
        mode=BatteryMode.FULL_BACKUP,
        reserve_soc=100,
        energy_independence=True,
        charge_from_grid=False,
        shutdown_level=10,
    )
    assert [(r.method, r.body) for r in fake.received] == [
        ("PUT", {"battery_mode": "Savings Mode"}),
        ("PUT", {"reserve_soc": 45, "energy_independence": "disabled"}),
        (
            "PUT",
            {"battery_mode": "Full Backup", "reserve_soc": 100, "energy_independence": "enabled"},
        ),
    ]
    assert fake.received[0].headers["Content-Type"] == "application/json"
    assert fake.received[0].query == {"key": API_KEY}


async def test_set_battery_settings_endpoint_name(
    client: EnphaseClient, fake: FakeEnphase, limiter: RecordingLimiter
) -> None:
    fake.reply("/systems/config/1001/battery_settings", load_fixture("battery_settings.json"))
    await client.async_set_battery_settings(1001, mode=BatteryMode.SELF_CONSUMPTION)
    assert limiter.calls == [
        ("acquire", Endpoint.SET_BATTERY_SETTINGS),
        ("record", Endpoint.SET_BATTERY_SETTINGS, 200),
    ]
    # The PUT is case sensitive: the documented spelling, not the GET's "Self - Consumption".
    assert fake.received[0].body == {"battery_mode": "Self-consumption"}


async def test_set_battery_settings_sends_an_unknown_mode_as_enphase_wrote_it(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    fake.reply("/systems/config/1001/battery_settings", load_fixture("battery_settings.json"))
    await client.async_set_battery_settings(1001, mode="AI Optimisation")
    await client.async_set_battery_settings(1001, mode="savings mode")
    assert [r.body for r in fake.received] == [
        {"battery_mode": "AI Optimisation"},
        {"battery_mode": "Savings Mode"},
    ]


async def test_a_401_on_a_plan_gated_endpoint_is_the_token_when_a_plan_free_call_fails_too(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    """Enphase's 401 body is generic: a plan-free call with the same token decides."""
    generic = {"message": "Not Authorized", "details": "User is not authorized", "code": 401}
    fake.reply("/systems/config/1001/battery_settings", generic, status=401)
    fake.reply("/systems", generic, status=401)
    with pytest.raises(EnphaseAuthError) as caught:
        await client.async_get_battery_settings(1001)
    assert type(caught.value) is EnphaseAuthError
    fake.reply("/systems", load_fixture("systems.json"))
    with pytest.raises(EnphasePlanError):
        await client.async_get_battery_settings(1001)
    assert [r.path for r in fake.received][-2:] == [
        "/systems/config/1001/battery_settings",
        "/systems",
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"reserve_soc": -1}, {"reserve_soc": 101}, {"mode": None, "energy_independence": None}],
)
async def test_set_battery_settings_checks(
    client: EnphaseClient, fake: FakeEnphase, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"setting|reserve_soc"):
        await client.async_set_battery_settings(1001, **kwargs)
    assert fake.received == []


async def test_set_battery_settings_mode_as_text(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply("/systems/config/1001/battery_settings", load_fixture("battery_settings.json"))
    await client.async_set_battery_settings(1001, mode="savings")  # type: ignore[arg-type]
    assert fake.received[0].body == {"battery_mode": "Savings Mode"}


@pytest.mark.parametrize(("enabled", "sent"), [(True, "enabled"), (False, "disabled")])
async def test_set_storm_guard(
    client: EnphaseClient,
    fake: FakeEnphase,
    limiter: RecordingLimiter,
    enabled: bool,
    sent: str,
) -> None:
    fake.reply(
        "/systems/config/1001/storm_guard",
        {"system_id": 1001, "storm_guard_status": sent, "storm_alert": "false"},
    )
    result = await client.async_set_storm_guard(1001, enabled=enabled)
    assert result == StormGuard(system_id=1001, enabled=enabled, storm_alert=False)
    (request,) = fake.received
    assert request.method == "PUT"
    assert request.body == {"storm_guard_status": sent}
    assert limiter.calls[0] == ("acquire", "storm_guard/put")


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "body", "path", "error"),
    [
        (401, {"details": "Access token is invalid or expired"}, "summary", EnphaseAuthError),
        (401, {"details": "Invalid API key"}, "summary", EnphaseApiKeyError),
        (401, {"details": "API Key -Client mismatch"}, "summary", EnphaseApiKeyError),
        (401, {"details": "Not Authorized"}, "summary", EnphaseAuthError),
        (401, {"details": "Not Authorized"}, "battery_settings", EnphasePlanError),
        (403, {"message": "Forbidden"}, "summary", EnphasePlanError),
        (404, {"details": "System not found"}, "summary", EnphaseNotFound),
        (
            422,
            {"details": "System doesn't have encharges"},
            "battery_settings",
            EnphaseUnprocessable,
        ),
        (500, {"details": "unable to fetch data"}, "summary", EnphaseServerError),
        (503, None, "summary", EnphaseServerError),
        (429, {"period": "minute", "period_end": 1781550060}, "summary", EnphaseRateLimited),
    ],
)
async def test_error_statuses(
    client: EnphaseClient,
    fake: FakeEnphase,
    limiter: RecordingLimiter,
    status: int,
    body: Any,
    path: str,
    error: type[Exception],
) -> None:
    full = "/systems/1001/summary" if path == "summary" else "/systems/config/1001/" + path
    fake.reply(full, body, status=status)
    # The plan-free call that confirms a 401 on a plan-gated endpoint is the plan.
    fake.reply("/systems", load_fixture("systems.json"))
    call = client.async_get_summary if path == "summary" else client.async_get_battery_settings
    with pytest.raises(error) as caught:
        await call(1001)
    assert type(caught.value) is error
    assert ("record", path, status) in limiter.calls
    assert API_KEY not in str(caught.value)
    assert TOKEN not in str(caught.value)


async def test_rate_limited_tells_the_limiter(
    client: EnphaseClient, fake: FakeEnphase, limiter: RecordingLimiter
) -> None:
    fake.reply(
        "/systems/1001/summary",
        {"message": "Too Many Requests", "period": "minute", "period_end": 1781550060, "limit": 10},
        status=429,
    )
    with pytest.raises(EnphaseRateLimited) as caught:
        await client.async_get_summary(1001)
    retry_at = datetime(2026, 6, 15, 19, 1, tzinfo=UTC)
    assert caught.value.retry_at == retry_at
    assert caught.value.limit == 10
    assert limiter.calls == [
        ("acquire", "summary"),
        ("record", "summary", 429),
        ("rate_limited", "minute", retry_at),
    ]


async def test_limiter_refusal_sends_nothing(
    session: aiohttp.ClientSession, fake: FakeEnphase
) -> None:
    refusal = EnphaseRateLimited(period="month", retry_at=datetime(2026, 7, 1, tzinfo=UTC))
    limiter = RecordingLimiter(refuse=refusal)
    assert isinstance(limiter, RequestLimiter)
    tokens: list[str] = []

    async def token_getter() -> str:
        tokens.append("t")
        return "t"

    client = EnphaseClient(session, token_getter, "k", base_url=fake.base_url, limiter=limiter)
    with pytest.raises(EnphaseRateLimited) as caught:
        await client.async_get_summary(1001)
    assert caught.value is refusal
    assert fake.received == []
    assert tokens == []
    assert limiter.calls == [("acquire", "summary")]


async def test_secrets_in_server_details_are_blanked(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    fake.reply(
        "/systems/1001/summary",
        {"details": f"bad request key={API_KEY} token={TOKEN}"},
        status=422,
    )
    with pytest.raises(EnphaseUnprocessable) as caught:
        await client.async_get_summary(1001)
    assert API_KEY not in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert caught.value.details is not None
    assert API_KEY not in caught.value.details


async def test_redirect_not_followed(client: EnphaseClient, fake: FakeEnphase) -> None:
    fake.reply(
        "/systems/1001/summary", None, status=302, headers={"Location": "http://127.0.0.1:1/x"}
    )
    with pytest.raises(EnphaseResponseError, match="302"):
        await client.async_get_summary(1001)
    assert len(fake.received) == 1


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b'{"system_id": 1001, "status": "nor', "Malformed JSON"),
        (b"", "Malformed JSON"),
        (b"<html>maintenance</html>", "Malformed JSON"),
        (b"\xff\xfe\x00", "Malformed JSON"),
        (b"[1, 2]", "JSON object"),
        (b"null", "JSON object"),
        (b'{"system_id": "1001", "status": "normal"}', "system_id"),
    ],
)
async def test_malformed_answers(
    client: EnphaseClient, fake: FakeEnphase, limiter: RecordingLimiter, raw: bytes, match: str
) -> None:
    fake.reply("/systems/1001/summary", raw=raw)
    with pytest.raises(EnphaseResponseError, match=match):
        await client.async_get_summary(1001)
    assert limiter.calls[-1] == ("record", "summary", 200)


async def test_timeout(session: aiohttp.ClientSession, fake: FakeEnphase) -> None:
    fake.reply("/systems/1001/summary", load_fixture("summary.json"), hang=True)
    limiter = RecordingLimiter()

    async def token_getter() -> str:
        return TOKEN

    client = EnphaseClient(
        session, token_getter, API_KEY, base_url=fake.base_url, timeout=0.2, limiter=limiter
    )
    with pytest.raises(EnphaseConnectionError, match="Timeout") as caught:
        await client.async_get_summary(1001)
    assert API_KEY not in str(caught.value)
    assert limiter.calls == [("acquire", "summary")]  # no status: nothing recorded


async def test_connection_refused(session: aiohttp.ClientSession, socket_enabled: None) -> None:
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def token_getter() -> str:
        return TOKEN

    limiter = RecordingLimiter()
    client = EnphaseClient(
        session, token_getter, API_KEY, base_url=f"http://127.0.0.1:{port}", limiter=limiter
    )
    with pytest.raises(EnphaseConnectionError) as caught:
        await client.async_get_systems()
    # aiohttp's exception quotes the URL, key included: never chained.
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert API_KEY not in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert limiter.calls == [("acquire", "systems")]


async def test_client_error_message_scrubbed(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever aiohttp puts in its message (here a URL with the key), the key goes."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        msg = f"bad url https://api.example/?key={API_KEY}"
        raise aiohttp.InvalidURL(msg)

    monkeypatch.setattr(session, "request", broken)

    async def token_getter() -> str:
        return TOKEN

    client = EnphaseClient(session, token_getter, API_KEY)
    with pytest.raises(EnphaseConnectionError, match="InvalidURL") as caught:
        await client.async_get_summary(1001)
    assert API_KEY not in str(caught.value)
    assert "REDACTED" in str(caught.value)


async def test_server_disconnects(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise aiohttp.ServerDisconnectedError

    monkeypatch.setattr(session, "request", broken)

    async def token_getter() -> str:
        return TOKEN

    client = EnphaseClient(session, token_getter, API_KEY)
    with pytest.raises(EnphaseConnectionError, match="ServerDisconnectedError"):
        await client.async_get_summary(1001)


async def test_client_error_without_text(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise aiohttp.ClientPayloadError

    monkeypatch.setattr(session, "request", broken)

    async def token_getter() -> str:
        return TOKEN

    client = EnphaseClient(session, token_getter, API_KEY)
    with pytest.raises(EnphaseConnectionError) as caught:
        await client.async_get_summary(1001)
    assert str(caught.value) == "Error talking to Enphase (summary): ClientPayloadError"


async def test_no_limiter(session: aiohttp.ClientSession, fake: FakeEnphase) -> None:
    fake.reply("/systems/1001/summary", {"period": "month"}, status=429)

    async def token_getter() -> str:
        return TOKEN

    client = EnphaseClient(session, token_getter, API_KEY, base_url=fake.base_url)
    with pytest.raises(EnphaseRateLimited) as caught:
        await client.async_get_summary(1001)
    assert caught.value.period == "month"
