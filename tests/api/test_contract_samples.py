"""Contract: Enphase's own answers (recorded and documented) through the real client.

Every body in `../shared/reference/samples/` (a sibling of the checkout) is served
by a small aiohttp server on 127.0.0.1 for the path it answers, and what the
client makes of it is checked: values, units, signs, what is ignored, and which
`EnphaseError` an error body becomes. The samples are read where they lie, never
copied into the project.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.enphase_cloud.api import (
    BatteryActivity,
    BatteryMode,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseNotFound,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseResponseError,
    EnphaseServerError,
    EnphaseUnprocessable,
)

from .fake_server import FakeEnphase

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "samples"
SYSTEM = 1
NOT_ANSWERS = {
    "index.json": "provenance of the samples",
    "doc_battery_settings_put_request.json": "a request body, checked by the simulator tests",
    "doc_storm_guard_put_request.json": "a request body, checked by the simulator tests",
    "doc_oauth_basic_auth_example.json": "how the Basic header is built (tests/api/test_oauth)",
    "doc_oauth_token.json": "read by Home Assistant's OAuth helper, not by this client",
}
# The lifetime series are not read by the integration (interval telemetry is): ignored.
IGNORED = {
    "doc_battery_lifetime.json",
    "doc_consumption_lifetime.json",
    "doc_energy_export_lifetime.json",
    "doc_energy_import_lifetime.json",
    "doc_energy_lifetime.json",
}


def sample(name: str) -> Any:
    """Return one sample body."""
    return json.loads((SAMPLES / name).read_text())


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@pytest.fixture(autouse=True)
def _samples_present() -> None:
    if not SAMPLES.is_dir():
        pytest.skip(
            f"Enphase's reference samples are not at {SAMPLES} (a checkout outside the "
            "project's home); CI has them"
        )


Check = Callable[[EnphaseClient, FakeEnphase, Any], Awaitable[None]]


async def _summary(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
    fake.reply(f"/systems/{SYSTEM}/summary", body)
    summary = await client.async_get_summary(SYSTEM)
    assert summary.current_power == body["current_power"]
    # Ratings, kept as ratings: maximum charge/discharge power and capacity.
    assert summary.battery_charge_w == body["battery_charge_w"]
    assert summary.battery_discharge_w == body["battery_discharge_w"]
    assert summary.battery_capacity_wh == body["battery_capacity_wh"]
    assert summary.nmi == body["nmi"]
    assert summary.operational_at == (
        None if body["operational_at"] is None else utc(body["operational_at"])
    )
    # An arbitrary second, taken as it is.
    assert summary.last_interval_end_at == utc(body["last_interval_end_at"])
    assert summary.summary_date == date.fromisoformat(body["summary_date"])


async def _systems(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
    fake.reply("/systems", body)
    systems = await client.async_get_systems()
    assert [s.system_id for s in systems] == [s["system_id"] for s in body["systems"]]
    assert systems[0].timezone == body["systems"][0]["timezone"]


async def _devices(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
    fake.reply(f"/systems/{SYSTEM}/devices", body)
    devices = await client.async_get_devices(SYSTEM)
    groups = body["devices"]
    assert len(devices.micros) == len(groups["micros"])
    assert devices.has_battery is bool(groups.get("encharges"))
    assert devices.has_production_meter
    assert devices.has_consumption_meter
    if devices.has_battery:
        # The battery's model is "": its product name says what it is.
        assert groups["encharges"][0]["model"] == ""
        assert devices.battery_model == groups["encharges"][0]["product_name"]


async def _latest(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
    fake.reply(f"/systems/{SYSTEM}/latest_telemetry", body)
    latest = await client.async_get_latest_telemetry(SYSTEM)
    meters = body["devices"]["meters"]

    def channel_sum(name: str) -> int:
        return sum(m["power"] for m in meters if m["name"] == name and m["power"] is not None)

    # Three channels per meter; the null ones are ignored, not zero.
    assert latest.production_power == channel_sum("production")
    assert latest.consumption_power == channel_sum("consumption")
    encharges = body["devices"].get("encharges", [])
    if not encharges:
        assert latest.battery_power is None
        return
    # Idle batteries: the reported power as it is (live_data's sign: discharge positive).
    assert [b.operational_mode for b in latest.encharges] == [BatteryActivity.IDLE] * len(encharges)
    assert latest.battery_power == sum(b["power"] for b in encharges)
    assert all(b.name.startswith("Encharge ") for b in latest.encharges)


def _energy(method: str, path: str, field: str) -> Check:
    async def check(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
        fake.reply(f"/systems/{SYSTEM}/{path}", body)
        telemetry = await getattr(client, method)(SYSTEM)
        rows = body["intervals"]
        if rows and isinstance(rows[0], list):  # import/export: one array per local day
            rows = [row for day in rows for row in day]
        assert [i.wh for i in telemetry.intervals] == [row[field] for row in rows]
        assert [i.end_at for i in telemetry.intervals] == [utc(row["end_at"]) for row in rows]
        assert [i.devices_reporting for i in telemetry.intervals] == [
            row.get("devices_reporting") for row in rows
        ]
        assert telemetry.start_at == utc(body["start_at"])
        assert telemetry.total_devices == body["total_devices"]
        meta = body.get("meta")
        assert telemetry.last_report_at == (utc(meta["last_report_at"]) if meta else None)

    return check


async def _battery(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
    fake.reply(f"/systems/{SYSTEM}/telemetry/battery", body)
    telemetry = await client.async_get_battery_telemetry(SYSTEM)
    (interval,) = telemetry.intervals
    assert (interval.charge_wh, interval.discharge_wh, interval.soc_percent) == (40, 0, 25)
    assert telemetry.last_reported_aggregate_soc == 97


async def _settings(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
    fake.reply(f"/systems/config/{SYSTEM}/battery_settings", body)
    settings = await client.async_get_battery_settings(SYSTEM)
    # "Self - Consumption" (GET) and "self-consumption" (PUT echo) are one mode.
    assert settings.mode is BatteryMode.SELF_CONSUMPTION
    assert settings.reserve_soc == body["reserve_soc"]
    assert settings.shutdown_level == body["battery_shutdown_level"]
    assert settings.energy_independence is True
    assert settings.charge_from_grid is False


async def _storm_guard(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
    fake.reply(f"/systems/config/{SYSTEM}/storm_guard", body)
    storm_guard = await client.async_get_storm_guard(SYSTEM)
    # "enabled" and the echo's "Enabled (Inactive)" both mean on; "false" is a string.
    assert storm_guard.enabled is True
    assert storm_guard.storm_alert is False


async def _grid(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
    fake.reply(f"/systems/config/{SYSTEM}/grid_status", body)
    status = await client.async_get_grid_status(SYSTEM)
    assert status.on_grid is True
    assert status.last_report_date == utc(body["last_report_date"])
    fake.reply(f"/systems/config/{SYSTEM}/grid_status", body | {"grid_state": "Unknown"})
    assert (await client.async_get_grid_status(SYSTEM)).on_grid is None


def _error(
    status: int, error: type[Exception], *, gated: bool = False, plan_free_ok: bool = True
) -> Check:
    async def check(client: EnphaseClient, fake: FakeEnphase, body: Any) -> None:
        if gated:
            path = f"/systems/config/{SYSTEM}/battery_settings"
            call = client.async_get_battery_settings
        else:
            path = f"/systems/{SYSTEM}/summary"
            call = client.async_get_summary
        fake.reply(path, body, status=status)
        fake.reply(
            "/systems",
            sample("live_systems.json") if plan_free_ok else body,
            status=200 if plan_free_ok else status,
        )
        with pytest.raises(error) as caught:
            await call(SYSTEM)
        assert type(caught.value) is error

    return check


CHECKS: dict[str, list[Check]] = {
    "doc_summary.json": [_summary],
    "live_summary.json": [_summary],
    "doc_systems.json": [_systems],
    "live_systems.json": [_systems],
    "unverified_systems_yhuang.json": [_systems],
    "doc_devices.json": [_devices],
    "live_devices.json": [_devices],
    "doc_latest_telemetry.json": [_latest],
    "live_latest_telemetry.json": [_latest],
    "doc_production_meter.json": [
        _energy("async_get_production_telemetry", "telemetry/production_meter", "wh_del")
    ],
    "live_production_meter.json": [
        _energy("async_get_production_telemetry", "telemetry/production_meter", "wh_del")
    ],
    "doc_consumption_meter.json": [
        _energy("async_get_consumption_telemetry", "telemetry/consumption_meter", "enwh")
    ],
    "live_consumption_meter.json": [
        _energy("async_get_consumption_telemetry", "telemetry/consumption_meter", "enwh")
    ],
    "doc_energy_import_telemetry.json": [
        _energy("async_get_import_telemetry", "energy_import_telemetry", "wh_imported")
    ],
    "live_energy_import_telemetry.json": [
        _energy("async_get_import_telemetry", "energy_import_telemetry", "wh_imported")
    ],
    "doc_energy_export_telemetry.json": [
        _energy("async_get_export_telemetry", "energy_export_telemetry", "wh_exported")
    ],
    "live_energy_export_telemetry.json": [
        _energy("async_get_export_telemetry", "energy_export_telemetry", "wh_exported")
    ],
    "doc_battery_telemetry.json": [_battery],
    "doc_battery_settings_get.json": [_settings],
    "doc_battery_settings_put.json": [_settings],
    "doc_storm_guard_get.json": [_storm_guard],
    "doc_storm_guard_put.json": [_storm_guard],
    "doc_grid_status.json": [_grid],
    # The generic 401: a token problem on a plan-free endpoint; on a plan-gated one the
    # plan when a plan-free call with the same token succeeds, else the token.
    "doc_error_401.json": [
        _error(401, EnphaseAuthError),
        _error(401, EnphasePlanError, gated=True),
        _error(401, EnphaseAuthError, gated=True, plan_free_ok=False),
    ],
    "doc_error_403.json": [_error(403, EnphasePlanError)],
    "doc_error_404.json": [_error(404, EnphaseNotFound)],
    "doc_error_405.json": [_error(405, EnphaseResponseError)],
    "doc_error_422_date_range.json": [_error(422, EnphaseUnprocessable)],
    "doc_error_422_grid_not_reported.json": [_error(422, EnphaseUnprocessable, gated=True)],
    "doc_error_422_no_encharges.json": [_error(422, EnphaseUnprocessable, gated=True)],
    "doc_error_429_plain.json": [_error(429, EnphaseRateLimited)],
    "doc_error_429_with_period.json": [_error(429, EnphaseRateLimited)],
    "doc_error_500.json": [_error(500, EnphaseServerError)],
    "doc_error_500_temporarily_unavailable.json": [_error(500, EnphaseServerError)],
    "doc_error_501.json": [_error(501, EnphaseServerError)],
}


def test_every_sample_is_checked_or_said_why_not() -> None:
    names = {path.name for path in SAMPLES.glob("*.json")}
    assert names == set(CHECKS) | set(NOT_ANSWERS) | IGNORED


@pytest.mark.parametrize("name", sorted(CHECKS))
async def test_sample(client: EnphaseClient, fake: FakeEnphase, name: str) -> None:
    for check in CHECKS[name]:
        await check(client, fake, sample(name))


async def test_rate_limit_sample_says_when_to_retry(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    body = sample("doc_error_429_with_period.json")
    fake.reply(f"/systems/{SYSTEM}/summary", body, status=429)
    with pytest.raises(EnphaseRateLimited) as caught:
        await client.async_get_summary(SYSTEM)
    assert (caught.value.period, caught.value.limit) == ("minute", 5)
    assert caught.value.retry_at == utc(body["period_end"])


async def test_error_texts_are_quoted_without_secrets(
    client: EnphaseClient, fake: FakeEnphase
) -> None:
    body = sample("doc_error_422_grid_not_reported.json")
    fake.reply(f"/systems/config/{SYSTEM}/grid_status", body, status=422)
    with pytest.raises(EnphaseUnprocessable) as caught:
        await client.async_get_grid_status(SYSTEM)
    assert caught.value.details == body["details"]
