"""The client against the Enphase simulator, served in-process on 127.0.0.1.

The simulator enforces what the real API enforces (key, bearer token, plan,
quota), so every successful call here also proves the request was well formed.
Its clock is frozen (clock_factor=0) at 2026-06-15T19:00Z unless a test moves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp.test_utils import TestServer
import pytest

from custom_components.enphase_cloud.api import (
    TOKEN_PATH,
    BatteryMode,
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
    basic_auth_header,
)
from enphase_simulator import (
    SIMULATOR_KEY,
    SYSTEM_BATTERY,
    SYSTEM_NEIGHBOUR,
    SYSTEM_NO_BATTERY,
    SimConfig,
    Simulator,
    create_app,
)

from .fake_server import RecordingLimiter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
LOCAL_MIDNIGHT = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)  # America/Los_Angeles
API_KEY = "demo-key"


@dataclass(slots=True)
class SimRun:
    """A running simulator, a session and a minted access token."""

    sim: Simulator
    base_url: str
    token: str
    session: aiohttp.ClientSession
    limiter: RecordingLimiter

    def client(
        self, *, api_key: str = API_KEY, token: str | None = None, timeout: float = 10
    ) -> EnphaseClient:
        """Return a client of this simulator that records into `limiter`."""

        async def token_getter() -> str:
            return token or self.token

        return EnphaseClient(
            self.session,
            token_getter,
            api_key,
            base_url=self.base_url,
            timeout=timeout,
            limiter=self.limiter,
        )


type StartSim = Callable[..., Awaitable[SimRun]]


@pytest.fixture
async def start_sim(
    socket_enabled: None, session: aiohttp.ClientSession
) -> AsyncIterator[StartSim]:
    """Return a starter of simulators (keyword arguments go to SimConfig)."""
    servers: list[TestServer] = []

    async def start(**options: Any) -> SimRun:
        app = create_app(SimConfig(**{"clock_factor": 0, **options}))
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        sim = app[SIMULATOR_KEY]
        return SimRun(
            sim=sim,
            base_url=str(server.make_url("")).rstrip("/"),
            token=sim.mint_tokens()["access_token"],
            session=session,
            limiter=RecordingLimiter(),
        )

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def watt(start_sim: StartSim) -> SimRun:
    """Return a simulator on the free Watt plan."""
    return await start_sim(plan="watt")


@pytest.fixture
async def megawatt(start_sim: StartSim) -> SimRun:
    """Return a simulator on the Megawatt plan (system configuration allowed)."""
    return await start_sim(plan="megawatt")


# --------------------------------------------------------------------------- monitoring


async def test_systems(watt: SimRun) -> None:
    systems = await watt.client().async_get_systems()
    assert [s.system_id for s in systems] == [SYSTEM_BATTERY, SYSTEM_NO_BATTERY]
    casa, ranch = systems
    assert casa.name == "Casa Solar"
    assert casa.timezone == "America/Los_Angeles"
    assert casa.address.state == "CA"
    assert casa.status == "normal"
    assert casa.last_report_at is not None
    assert casa.last_report_at <= NOW
    assert casa.operational_at is not None
    assert casa.operational_at < NOW - timedelta(days=59)
    assert ranch.timezone == "America/Chicago"
    assert watt.limiter.calls == [("acquire", "systems"), ("record", "systems", 200)]
    assert watt.sim.usage()["total"] == 1


async def test_systems_of_another_account(watt: SimRun) -> None:
    token = watt.sim.mint_tokens("neighbour@example.com")["access_token"]
    systems = await watt.client(token=token).async_get_systems()
    assert [s.system_id for s in systems] == [SYSTEM_NEIGHBOUR]


async def test_summary_matches_telemetry(watt: SimRun) -> None:
    client = watt.client()
    summary = await client.async_get_summary(SYSTEM_BATTERY)
    assert summary.system_id == SYSTEM_BATTERY
    assert summary.summary_date == NOW.date()
    assert summary.battery_capacity_wh == 10_000
    production = await client.async_get_production_telemetry(SYSTEM_BATTERY)
    assert production.start_at == LOCAL_MIDNIGHT
    assert production.granularity == "day"
    assert production.intervals
    assert sum(i.wh for i in production.intervals) == summary.energy_today
    assert production.intervals[-1].end_at <= NOW
    # production_meter has no `meta`: its last report is unknown, other streams carry it.
    assert production.last_report_at is None
    consumption = await client.async_get_consumption_telemetry(SYSTEM_BATTERY)
    assert consumption.last_report_at == summary.last_report_at


async def test_devices(watt: SimRun) -> None:
    client = watt.client()
    casa = await client.async_get_devices(SYSTEM_BATTERY)
    assert casa.has_battery
    assert casa.has_production_meter
    assert casa.has_consumption_meter
    assert casa.gateway_model is not None
    assert casa.battery_model is not None
    assert len(casa.micros) > 0
    ranch = await client.async_get_devices(SYSTEM_NO_BATTERY)
    assert not ranch.has_battery
    assert ranch.has_production_meter
    assert not ranch.has_consumption_meter
    assert ranch.battery_model is None


async def test_latest_telemetry(watt: SimRun) -> None:
    client = watt.client()
    casa = await client.async_get_latest_telemetry(SYSTEM_BATTERY)
    assert casa.production_power is not None
    assert casa.production_power > 0  # a June afternoon
    assert casa.consumption_power is not None
    assert casa.battery_power is not None
    ranch = await client.async_get_latest_telemetry(SYSTEM_NO_BATTERY)
    assert ranch.consumption_power is None
    assert ranch.battery_power is None


async def test_interval_telemetry_matches_truth(watt: SimRun) -> None:
    client = watt.client()
    truth = {row["end_at"]: row for row in watt.sim.truth(SYSTEM_BATTERY)}
    consumption = await client.async_get_consumption_telemetry(SYSTEM_BATTERY)
    imports = await client.async_get_import_telemetry(SYSTEM_BATTERY)
    exports = await client.async_get_export_telemetry(SYSTEM_BATTERY)
    battery = await client.async_get_battery_telemetry(SYSTEM_BATTERY)
    for telemetry, field in (
        (consumption, "consumption"),
        (imports, "import"),
        (exports, "export"),
    ):
        assert telemetry.intervals
        for interval in telemetry.intervals:
            assert interval.wh == truth[int(interval.end_at.timestamp())][field]
    assert battery.intervals
    for battery_interval in battery.intervals:
        row = truth[int(battery_interval.end_at.timestamp())]
        assert (battery_interval.charge_wh, battery_interval.discharge_wh) == (
            row["charge"],
            row["discharge"],
        )
        assert battery_interval.soc_percent == row["soc_percent"]
    assert battery.last_reported_aggregate_soc == battery.intervals[-1].soc_percent


async def test_import_export_across_local_midnight(watt: SimRun) -> None:
    """A window from 22:00 local spans two local days: two arrays, one flat list."""
    start = datetime(2026, 6, 14, 5, 0, tzinfo=UTC)  # 2026-06-13T22:00 America/Los_Angeles
    client = watt.client()
    imports = await client.async_get_import_telemetry(SYSTEM_BATTERY, start_at=start)
    assert imports.start_at == start
    assert imports.end_at == start + timedelta(days=1)
    assert len(imports.intervals) == 96
    ends = [interval.end_at for interval in imports.intervals]
    assert ends == sorted(ends)
    assert ends[0] == start + timedelta(minutes=15)
    truth = {row["end_at"]: row["import"] for row in watt.sim.truth(SYSTEM_BATTERY, start=start)}
    assert [i.wh for i in imports.intervals] == [truth[int(end.timestamp())] for end in ends]


@pytest.mark.parametrize(
    ("granularity", "count"), [(Granularity.FIFTEEN_MINUTES, 1), (Granularity.WEEK, 672)]
)
async def test_granularity(watt: SimRun, granularity: Granularity, count: int) -> None:
    start = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
    production = await watt.client().async_get_production_telemetry(
        SYSTEM_BATTERY, start_at=start, granularity=granularity
    )
    assert production.granularity == granularity.value
    assert production.start_at == start
    assert len(production.intervals) == count


async def test_window_before_operation_is_unprocessable(watt: SimRun) -> None:
    with pytest.raises(EnphaseUnprocessable) as caught:
        await watt.client().async_get_production_telemetry(
            SYSTEM_BATTERY, start_at=NOW - timedelta(days=3 * 365)
        )
    assert caught.value.details == "Requested date range is invalid for this system"


async def test_other_accounts_system_not_found(watt: SimRun) -> None:
    with pytest.raises(EnphaseNotFound):
        await watt.client().async_get_summary(SYSTEM_NEIGHBOUR)
    assert watt.limiter.calls[-1] == ("record", "summary", 404)


# --------------------------------------------------------------------------- plans


@pytest.mark.parametrize(
    ("call", "endpoint"),
    [
        (lambda c: c.async_get_battery_settings(SYSTEM_BATTERY), "battery_settings"),
        (
            lambda c: c.async_set_battery_settings(SYSTEM_BATTERY, reserve_soc=50),
            "battery_settings/put",
        ),
        (lambda c: c.async_get_storm_guard(SYSTEM_BATTERY), "storm_guard"),
        (lambda c: c.async_set_storm_guard(SYSTEM_BATTERY, enabled=True), "storm_guard/put"),
        (lambda c: c.async_get_grid_status(SYSTEM_BATTERY), "grid_status"),
    ],
)
async def test_watt_plan_cannot_configure(
    watt: SimRun, call: Callable[[EnphaseClient], Awaitable[object]], endpoint: str
) -> None:
    with pytest.raises(EnphasePlanError) as caught:
        await call(watt.client())
    assert caught.value.endpoint == endpoint
    # The generic 401 is confirmed as the plan by one plan-free call with the same token.
    assert watt.limiter.calls == [
        ("acquire", endpoint),
        ("record", endpoint, 401),
        ("acquire", "systems"),
        ("record", "systems", 200),
    ]


async def test_a_dead_token_on_a_plan_gated_endpoint_is_a_reauth_not_the_plan(
    megawatt: SimRun,
) -> None:
    megawatt.sim.expire_access_tokens()
    with pytest.raises(EnphaseAuthError) as caught:
        await megawatt.client().async_get_battery_settings(SYSTEM_BATTERY)
    assert not isinstance(caught.value, EnphasePlanError)


async def test_kilowatt_plan_cannot_configure(start_sim: StartSim) -> None:
    run = await start_sim(plan="kilowatt")
    with pytest.raises(EnphasePlanError):
        await run.client().async_get_grid_status(SYSTEM_BATTERY)


async def test_dead_token_on_plan_gated_endpoint_is_auth(watt: SimRun) -> None:
    """A revoked token must ask for reauth, even where the plan would refuse too."""
    watt.sim.revoke()
    with pytest.raises(EnphaseAuthError) as caught:
        await watt.client().async_get_battery_settings(SYSTEM_BATTERY)
    assert type(caught.value) is EnphaseAuthError


# --------------------------------------------------------------------------- configuration


async def test_battery_settings_round_trip(megawatt: SimRun) -> None:
    client = megawatt.client()
    settings = await client.async_get_battery_settings(SYSTEM_BATTERY)
    assert settings.mode is BatteryMode.SELF_CONSUMPTION
    assert settings.reserve_soc == 30
    assert settings.shutdown_level == 10
    assert settings.charge_from_grid is False

    echoed = await client.async_set_battery_settings(SYSTEM_BATTERY, mode=BatteryMode.SAVINGS)
    assert echoed.mode is BatteryMode.SAVINGS
    assert echoed.reserve_soc == 30
    echoed = await client.async_set_battery_settings(
        SYSTEM_BATTERY, reserve_soc=80, energy_independence=False
    )
    assert (echoed.mode, echoed.reserve_soc, echoed.energy_independence) == (
        BatteryMode.SAVINGS,
        80,
        False,
    )
    echoed = await client.async_set_battery_settings(SYSTEM_BATTERY, mode=BatteryMode.FULL_BACKUP)
    assert echoed.mode is BatteryMode.FULL_BACKUP
    again = await client.async_get_battery_settings(SYSTEM_BATTERY)
    assert again == echoed
    # The gateway applies the request later; the simulator keeps both views.
    state = megawatt.sim.battery_state(SYSTEM_BATTERY)
    assert state["requested"]["reserve_soc"] == 80
    assert state["effective"]["reserve_soc"] == 30
    assert ("record", "battery_settings/put", 200) in megawatt.limiter.calls


async def test_every_documented_mode_is_written_and_read_back(megawatt: SimRun) -> None:
    """The PUT is case sensitive: the client's spelling is what Enphase accepts."""
    client = megawatt.client()
    for mode in (BatteryMode.SAVINGS, BatteryMode.FULL_BACKUP, BatteryMode.SELF_CONSUMPTION):
        echoed = await client.async_set_battery_settings(SYSTEM_BATTERY, mode=mode)
        assert echoed.mode is mode
    megawatt.sim.advance(3600)
    megawatt.sim.set_battery_mode(SYSTEM_BATTERY, "AI Optimisation")
    settings = await client.async_get_battery_settings(SYSTEM_BATTERY)
    assert settings.mode == "AI Optimisation"
    restored = await client.async_set_battery_settings(SYSTEM_BATTERY, mode=settings.mode)
    assert restored.mode == "AI Optimisation"


async def test_battery_power_in_latest_telemetry(megawatt: SimRun) -> None:
    client = megawatt.client()
    latest = await client.async_get_latest_telemetry(SYSTEM_BATTERY)
    (battery,) = latest.encharges
    truth = megawatt.sim.truth(SYSTEM_BATTERY)
    reported = [row for row in truth if row["end_at"] <= int(battery.last_report_at.timestamp())]
    last = reported[-1]
    assert latest.battery_power == (last["discharge"] - last["charge"]) * 4


async def test_reserve_below_shutdown_level(megawatt: SimRun) -> None:
    with pytest.raises(EnphaseUnprocessable) as caught:
        await megawatt.client().async_set_battery_settings(SYSTEM_BATTERY, reserve_soc=5)
    assert caught.value.details is not None
    assert "reserve_soc" in caught.value.details


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.async_get_battery_settings(SYSTEM_NO_BATTERY),
        lambda c: c.async_set_battery_settings(SYSTEM_NO_BATTERY, mode=BatteryMode.SAVINGS),
        lambda c: c.async_get_storm_guard(SYSTEM_NO_BATTERY),
    ],
)
async def test_no_battery(
    megawatt: SimRun, call: Callable[[EnphaseClient], Awaitable[object]]
) -> None:
    with pytest.raises(EnphaseUnprocessable) as caught:
        await call(megawatt.client())
    assert caught.value.details == "System doesn't have encharges"


async def test_storm_guard(megawatt: SimRun) -> None:
    client = megawatt.client()
    guard = await client.async_get_storm_guard(SYSTEM_BATTERY)
    assert guard.enabled is False
    assert guard.storm_alert is False
    guard = await client.async_set_storm_guard(SYSTEM_BATTERY, enabled=True)
    assert guard.enabled is True
    megawatt.sim.set_storm_alert(SYSTEM_BATTERY, active=True)
    guard = await client.async_get_storm_guard(SYSTEM_BATTERY)
    assert (guard.enabled, guard.storm_alert) == (True, True)
    guard = await client.async_set_storm_guard(SYSTEM_BATTERY, enabled=False)
    assert guard.enabled is False


async def test_grid_status(megawatt: SimRun) -> None:
    client = megawatt.client()
    status = await client.async_get_grid_status(SYSTEM_BATTERY)
    assert (status.grid_state, status.on_grid) == ("On Grid", True)
    megawatt.sim.set_grid(SYSTEM_BATTERY, on=False)
    status = await client.async_get_grid_status(SYSTEM_BATTERY)
    assert (status.grid_state, status.on_grid) == ("Off Grid", False)


# --------------------------------------------------------------------------- credentials


async def test_unknown_key(watt: SimRun) -> None:
    """Enphase's 401 does not say that the key is unknown: it is a plain refusal."""
    with pytest.raises(EnphaseAuthError) as caught:
        await watt.client(api_key="not-a-key").async_get_systems()
    assert not isinstance(caught.value, EnphaseApiKeyError)
    assert "not-a-key" not in str(caught.value)


async def test_key_of_another_app(watt: SimRun) -> None:
    with pytest.raises(EnphaseApiKeyError) as caught:
        await watt.client(api_key="other-key").async_get_summary(SYSTEM_BATTERY)
    assert caught.value.mismatch is True


async def test_revoked_token(watt: SimRun) -> None:
    watt.sim.revoke()
    with pytest.raises(EnphaseAuthError) as caught:
        await watt.client().async_get_summary(SYSTEM_BATTERY)
    assert not isinstance(caught.value, EnphaseApiKeyError)
    assert watt.token not in str(caught.value)


async def test_expired_token(watt: SimRun) -> None:
    watt.sim.advance(timedelta(days=1, seconds=1))
    with pytest.raises(EnphaseAuthError) as caught:
        await watt.client().async_get_devices(SYSTEM_BATTERY)
    assert type(caught.value) is EnphaseAuthError


async def test_refreshed_token_is_used(watt: SimRun) -> None:
    """The token getter runs per request: a refresh through /oauth/token takes effect."""
    tokens = watt.sim.mint_tokens()
    async with watt.session.post(
        f"{watt.base_url}{TOKEN_PATH}",
        params={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": basic_auth_header("demo-client", "demo-secret")},
    ) as response:
        assert response.status == 200
        refreshed = await response.json()
    assert refreshed["access_token"] != tokens["access_token"]
    current = {"token": "invalid"}

    async def token_getter() -> str:
        return current["token"]

    client = EnphaseClient(watt.session, token_getter, API_KEY, base_url=watt.base_url)
    with pytest.raises(EnphaseAuthError):
        await client.async_get_summary(SYSTEM_BATTERY)
    current["token"] = refreshed["access_token"]
    assert (await client.async_get_summary(SYSTEM_BATTERY)).system_id == SYSTEM_BATTERY


async def test_wrong_client_secret(watt: SimRun) -> None:
    tokens = watt.sim.mint_tokens()
    async with watt.session.post(
        f"{watt.base_url}{TOKEN_PATH}",
        params={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers={"Authorization": basic_auth_header("demo-client", "wrong")},
    ) as response:
        assert response.status == 401


# --------------------------------------------------------------------------- quota


async def test_minute_limit(watt: SimRun) -> None:
    watt.sim.set_usage(minute=10)
    with pytest.raises(EnphaseRateLimited) as caught:
        await watt.client().async_get_summary(SYSTEM_BATTERY)
    error = caught.value
    assert (error.period, error.limit) == ("minute", 10)
    assert error.retry_at == NOW + timedelta(minutes=1)
    assert watt.limiter.calls == [
        ("acquire", "summary"),
        ("record", "summary", 429),
        ("rate_limited", "minute", error.retry_at),
    ]


async def test_month_limit(watt: SimRun) -> None:
    watt.sim.set_usage(month=1000)
    with pytest.raises(EnphaseRateLimited) as caught:
        await watt.client().async_get_latest_telemetry(SYSTEM_BATTERY)
    assert (caught.value.period, caught.value.limit) == ("month", 1000)
    assert caught.value.retry_at == datetime(2026, 7, 1, tzinfo=UTC)


async def test_limit_without_period_fields(start_sim: StartSim) -> None:
    run = await start_sim(plan="watt", quota_period_fields=False)
    run.sim.set_usage(minute=10)
    before = datetime.now(UTC)
    with pytest.raises(EnphaseRateLimited) as caught:
        await run.client().async_get_summary(SYSTEM_BATTERY)
    assert caught.value.period == "unknown"
    assert caught.value.limit is None
    wait = (caught.value.retry_at - before).total_seconds()
    assert 55 <= wait <= 65


async def test_limit_reached_by_calls(watt: SimRun) -> None:
    client = watt.client()
    for _ in range(10):
        await client.async_get_summary(SYSTEM_BATTERY)
    with pytest.raises(EnphaseRateLimited):
        await client.async_get_summary(SYSTEM_BATTERY)
    assert watt.sim.usage()["minute"]["count"] == 10


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("status", "details", "error"),
    [
        (500, None, EnphaseServerError),
        (503, None, EnphaseServerError),
        (404, None, EnphaseNotFound),
        (422, "Requested date range is invalid for this system", EnphaseUnprocessable),
        (401, None, EnphaseAuthError),
        (401, "Invalid API key", EnphaseApiKeyError),
        (401, "API Key -Client mismatch", EnphaseApiKeyError),
        (403, None, EnphasePlanError),
        (429, None, EnphaseRateLimited),
    ],
)
async def test_status_faults(
    watt: SimRun, status: int, details: str | None, error: type[Exception]
) -> None:
    watt.sim.add_fault(status, details=details)
    client = watt.client()
    with pytest.raises(error) as caught:
        await client.async_get_summary(SYSTEM_BATTERY)
    assert type(caught.value) is error
    assert ("record", "summary", status) in watt.limiter.calls
    # The fault is spent: the next call succeeds.
    assert (await client.async_get_summary(SYSTEM_BATTERY)).system_id == SYSTEM_BATTERY


async def test_plan_fault_on_config_endpoint(megawatt: SimRun) -> None:
    megawatt.sim.add_fault(401, details="Not Authorized", path="*/battery_settings")
    client = megawatt.client()
    with pytest.raises(EnphasePlanError):
        await client.async_get_battery_settings(SYSTEM_BATTERY)
    megawatt.sim.add_fault(401, details="Not Authorized", path="*/summary")
    with pytest.raises(EnphaseAuthError):
        await client.async_get_summary(SYSTEM_BATTERY)


async def test_429_fault_has_period(watt: SimRun) -> None:
    watt.sim.add_fault(429)
    with pytest.raises(EnphaseRateLimited) as caught:
        await watt.client().async_get_summary(SYSTEM_BATTERY)
    assert caught.value.period == "minute"
    assert caught.value.retry_at == NOW + timedelta(minutes=1)


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.async_get_systems(),
        lambda c: c.async_get_production_telemetry(SYSTEM_BATTERY),
        lambda c: c.async_get_import_telemetry(SYSTEM_BATTERY),
    ],
)
async def test_broken_bodies(
    watt: SimRun, kind: str, call: Callable[[EnphaseClient], Awaitable[object]]
) -> None:
    watt.sim.add_fault(kind=kind)
    with pytest.raises(EnphaseResponseError, match="Malformed JSON"):
        await call(watt.client())


async def test_timeout(watt: SimRun) -> None:
    watt.sim.add_fault(kind="timeout", delay=5)
    client = watt.client(timeout=0.2)
    with pytest.raises(EnphaseConnectionError, match="Timeout"):
        await client.async_get_summary(SYSTEM_BATTERY)
    assert watt.limiter.calls == [("acquire", "summary")]
    watt.sim.cancel_sleeps()
    assert (await client.async_get_summary(SYSTEM_BATTERY)).system_id == SYSTEM_BATTERY
