"""Contract: the simulator answers every endpoint in the shape Enphase documents.

The shapes come from Enphase's recorded and documented answers in
`../shared/reference/samples/` (a sibling of the checkout; recordings win over the
documented examples): the same keys, the same JSON types, null where Enphase has
null, and the documented enum values. The samples are read where they lie.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.simulator.conftest import Harness

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "samples"
# Optional keys: present in one of Enphase's samples and absent in another.
NOT_MODELLED = {
    "reference": "an installer's reference: optional, not every system has one",
    "cellular_modem": "only gateways with a modem list it",
}


@pytest.fixture(autouse=True)
def _samples_present() -> None:
    if not SAMPLES.is_dir():
        pytest.skip(
            f"Enphase's reference samples are not at {SAMPLES} (a checkout outside the "
            "project's home); CI has them"
        )


def sample(name: str) -> Any:
    """Return one sample body."""
    return json.loads((SAMPLES / name).read_text())


def kind(value: Any) -> str:
    """Return the JSON type of `value`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def assert_shape(ours: Any, theirs: Any, where: str = "$") -> None:
    """Assert `ours` has the keys and JSON types of `theirs` (null may stand for any type).

    A key Enphase shows as null may carry a value in ours and vice versa only where
    the samples themselves disagree; lists are compared item by item against the
    sample's first item.
    """
    if theirs is None or ours is None:
        return
    assert kind(ours) == kind(theirs), f"{where}: {kind(ours)} != {kind(theirs)}"
    if isinstance(theirs, dict):
        missing = set(theirs) - set(ours) - set(NOT_MODELLED)
        extra = set(ours) - set(theirs) - set(NOT_MODELLED)
        assert not missing, f"{where}: missing {sorted(missing)}"
        assert not extra, f"{where}: not in Enphase's answer {sorted(extra)}"
        for key in theirs.keys() & ours.keys():
            assert_shape(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list) and theirs:
        for n, item in enumerate(ours):
            assert_shape(item, theirs[0], f"{where}[{n}]")


@pytest.mark.parametrize(
    ("path", "name", "params"),
    [
        ("systems", "live_systems.json", {}),
        ("systems/1001/summary", "live_summary.json", {}),
        ("systems/1001/summary", "doc_summary.json", {}),
        ("systems/1001/latest_telemetry", "doc_latest_telemetry.json", {}),
        ("systems/1002/latest_telemetry", "live_latest_telemetry.json", {}),
        ("systems/1001/telemetry/production_meter", "live_production_meter.json", {}),
        ("systems/1001/telemetry/consumption_meter", "live_consumption_meter.json", {}),
        ("systems/1001/telemetry/battery", "doc_battery_telemetry.json", {}),
        ("systems/1001/energy_import_telemetry", "live_energy_import_telemetry.json", {}),
        ("systems/1001/energy_export_telemetry", "live_energy_export_telemetry.json", {}),
        ("systems/1001/energy_lifetime", "doc_energy_lifetime.json", {}),
        ("systems/1001/consumption_lifetime", "doc_consumption_lifetime.json", {}),
        ("systems/1001/battery_lifetime", "doc_battery_lifetime.json", {}),
        ("systems/1001/energy_import_lifetime", "doc_energy_import_lifetime.json", {}),
        ("systems/1001/energy_export_lifetime", "doc_energy_export_lifetime.json", {}),
    ],
)
async def test_monitoring_shapes(
    harness: Harness, path: str, name: str, params: dict[str, Any]
) -> None:
    ours = await harness.json(path, **params)
    if name == "doc_battery_telemetry.json":
        # UNCONFIRMED: the documented example has no `meta`, no recording settles it;
        # the simulator keeps it (the other interval answers but production have it).
        assert set(ours.pop("meta")) == {
            "status",
            "last_report_at",
            "last_energy_at",
            "operational_at",
        }
    assert_shape(ours, sample(name))


async def test_devices_shape(harness: Harness) -> None:
    documented = sample("doc_devices.json")["devices"]
    for system_id in (1001, 1002):
        body = await harness.json(f"systems/{system_id}/devices")
        assert set(body) == {"system_id", "total_devices", "items", "devices"}
        # Only groups with devices; each device as Enphase lists it.
        assert all(body["devices"].values())
        for group, devices in body["devices"].items():
            for device in devices:
                assert_shape(device, documented[group][0], f"devices.{group}")
        meters = body["devices"]["meters"]
        assert all(m["sku"] is None for m in meters)
        assert {m["config_type"] for m in meters} <= {"Production", "Net"}


async def test_summary_values_as_documented(harness: Harness) -> None:
    body = await harness.json("systems/1001/summary")
    assert body["last_interval_end_at"] % 900 != 0 or body["last_interval_end_at"] is None
    harness.sim.set_site_shape(1001, operational_at_null=True)
    assert (await harness.json("systems/1001/summary"))["operational_at"] is None


async def test_latest_telemetry_values_as_documented(harness: Harness) -> None:
    body = await harness.json("systems/1001/latest_telemetry")
    assert body["items"] == "devices"
    for encharge in body["devices"]["encharges"]:
        assert encharge["name"].startswith("Encharge ")
        assert encharge["operational_mode"] in {"Idle", "Charging", "Discharging"}


async def test_interval_specifics(harness: Harness) -> None:
    production = await harness.json("systems/1001/telemetry/production_meter")
    assert "meta" not in production
    start = production["intervals"][0]["end_at"] - 900 + 123
    echoed = await harness.json("systems/1001/telemetry/consumption_meter", start_at=start)
    assert echoed["start_at"] == start
    for path in ("energy_import_telemetry", "energy_export_telemetry"):
        body = await harness.json(f"systems/1001/{path}")
        assert body["total_devices"] == 0
        assert all("devices_reporting" not in row for day in body["intervals"] for row in day)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("systems/config/1001/battery_settings", "doc_battery_settings_get.json"),
        ("systems/config/1001/storm_guard", "doc_storm_guard_get.json"),
        ("systems/config/1001/grid_status", "doc_grid_status.json"),
    ],
)
async def test_configuration_shapes(megawatt: Harness, path: str, name: str) -> None:
    assert_shape(await megawatt.json(path), sample(name))


async def test_configuration_values_as_documented(megawatt: Harness) -> None:
    request = sample("doc_battery_settings_put_request.json")
    modes = request["accepted_battery_modes"]
    for mode in modes:
        body = await megawatt.json(
            "systems/config/1001/battery_settings", method="PUT", json={"battery_mode": mode}
        )
        assert_shape(body, sample("doc_battery_settings_put.json"))
    for wrong in ("self-consumption", "Self - Consumption", "savings mode"):
        await megawatt.json(
            "systems/config/1001/battery_settings",
            422,
            method="PUT",
            json={"battery_mode": wrong},
        )
    for status in sample("doc_storm_guard_put_request.json")["storm_guard_status_values"]:
        echo = await megawatt.json(
            "systems/config/1001/storm_guard", method="PUT", json={"storm_guard_status": status}
        )
        assert_shape(echo, sample("doc_storm_guard_put.json"))
        assert echo["storm_alert"] in {"true", "false"}
    grid = await megawatt.json("systems/config/1001/grid_status")
    assert grid["grid_state"] in {"On Grid", "Off Grid", "Unknown"}


@pytest.mark.parametrize(
    ("status", "name", "call"),
    [
        (401, "doc_error_401.json", ("systems/config/1001/battery_settings", "watt")),
        (422, "doc_error_422_no_encharges.json", ("systems/config/1002/battery_settings", None)),
        (404, "doc_error_404.json", ("systems/9999/summary", None)),
        (405, "doc_error_405.json", ("systems", "post")),
    ],
)
async def test_error_shapes(
    megawatt: Harness, status: int, name: str, call: tuple[str, str | None]
) -> None:
    path, how = call
    if how == "watt":
        megawatt.sim.set_plan("watt")
    method = "POST" if how == "post" else "GET"
    body = await megawatt.json(path, status, method=method)
    assert_shape(body, sample(name))
    if status == 401:
        # The generic body, whatever the reason: nothing tells plan from token.
        assert body == sample(name)


async def test_grid_not_reported_error(megawatt: Harness) -> None:
    megawatt.sim.set_site_shape(1001, reported=False)
    body = await megawatt.json("systems/config/1001/grid_status", 422)
    assert body == sample("doc_error_422_grid_not_reported.json")


async def test_rate_limit_shape(harness: Harness) -> None:
    harness.sim.set_usage(minute=10)
    body = await harness.json("systems", 429)
    assert_shape(body, sample("doc_error_429_with_period.json"))


async def test_token_answer_shape(harness: Harness) -> None:
    assert_shape(harness.sim.mint_tokens(), sample("doc_oauth_token.json"))
    assert harness.sim.mint_tokens()["app_type"] == "system"
