"""`/api/v4` answers checked field by field against the API facts file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.simulator.conftest import (
    CHICAGO,
    LA,
    START_TS,
    Harness,
    HarnessFactory,
    local_today as today,
    midnight,
)

# 22:00 in California: the battery covers the evening load.
EVENING = datetime(2026, 6, 16, 5, 0, tzinfo=UTC)
STATUSES = {
    "normal",
    "comm",
    "micro",
    "power",
    "meter",
    "battery",
    "storage_idle",
    "meter_issue",
    "enpower",
    "encharge",
    "enpower_issue",
    "encharge_issue",
}
ENVELOPE = {
    "system_id",
    "granularity",
    "total_devices",
    "start_at",
    "end_at",
    "items",
    "intervals",
    "meta",
}
META = {"status", "last_report_at", "last_energy_at", "operational_at"}
SYSTEM_PATHS = (
    "summary",
    "devices",
    "latest_telemetry",
    "telemetry/production_meter",
    "telemetry/production_micro",
    "telemetry/consumption_meter",
    "telemetry/battery",
    "energy_import_telemetry",
    "energy_export_telemetry",
    "energy_lifetime",
    "consumption_lifetime",
    "battery_lifetime",
    "energy_import_lifetime",
    "energy_export_lifetime",
)


def truth(h: Harness, system_id: int, start: int, end: int) -> dict[int, dict[str, int]]:
    """The true intervals ending in (start, end], by end_at."""
    rows = h.sim.truth(
        system_id, datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
    )
    return {row["end_at"]: row for row in rows}


def assert_envelope(body: dict[str, Any], system_id: int, granularity: str) -> None:
    # production_meter is the one interval answer without `meta`.
    assert set(body) - {"last_reported_aggregate_soc"} in (ENVELOPE, ENVELOPE - {"meta"})
    assert body["system_id"] == system_id
    assert body["granularity"] == granularity
    assert body["items"] == "intervals"
    assert isinstance(body["total_devices"], int)
    assert isinstance(body["start_at"], int)
    assert isinstance(body["end_at"], int)
    assert isinstance(body["intervals"], list)
    if "meta" not in body:
        return
    assert set(body["meta"]) == META
    assert body["meta"]["status"] in STATUSES
    for name in ("last_report_at", "last_energy_at", "operational_at"):
        assert isinstance(body["meta"][name], int)


def yesterday_window(h: Harness) -> dict[str, Any]:
    return {"start_at": midnight(today(h) - timedelta(days=1)), "granularity": "day"}


# --- systems --------------------------------------------------------------------


async def test_systems_list_shape(harness: Harness) -> None:
    body = await harness.json("systems")
    assert {"total", "current_page", "size", "count", "items", "systems"} <= set(body)
    assert body["items"] == "systems"
    assert (body["total"], body["current_page"], body["count"]) == (2, 1, 2)
    first, second = body["systems"]
    assert (first["system_id"], second["system_id"]) == (1001, 1002)
    assert (first["timezone"], second["timezone"]) == ("America/Los_Angeles", "America/Chicago")
    for system in body["systems"]:
        assert {
            "system_id",
            "name",
            "public_name",
            "timezone",
            "address",
            "connection_type",
            "status",
            "last_report_at",
            "last_energy_at",
            "operational_at",
        } <= set(system)
        assert set(system["address"]) == {"city", "state", "country", "postal_code"}
        assert all(isinstance(v, str) for v in system["address"].values())
        assert (system["energy_lifetime"], system["energy_today"], system["system_size"]) == (
            -1,
            -1,
            -1,
        )
        assert system["status"] == "normal"
        assert system["connection_type"] in {"ethernet", "wifi", "cellular"}
        assert system["operational_at"] < system["last_energy_at"] < system["last_report_at"]
        assert system["last_report_at"] <= START_TS


@pytest.mark.parametrize(
    ("page", "size", "ids"),
    [(1, 1, [1001]), (2, 1, [1002]), (3, 1, []), (1, 100, [1001, 1002]), (2, 100, [])],
)
async def test_systems_pagination(harness: Harness, page: int, size: int, ids: list[int]) -> None:
    body = await harness.json("systems", page=page, size=size)
    assert [s["system_id"] for s in body["systems"]] == ids
    assert (body["total"], body["current_page"], body["size"], body["count"]) == (
        2,
        page,
        size,
        len(ids),
    )


@pytest.mark.parametrize(
    "params", [{"size": 101}, {"size": 0}, {"page": 0}, {"page": "x"}, {"size": "1.5"}]
)
async def test_systems_pagination_limits(harness: Harness, params: dict[str, Any]) -> None:
    body = await harness.json("systems", 422, **params)
    assert body["code"] == 422


@pytest.mark.parametrize(
    ("email", "ids"), [("neighbour@example.com", [1003]), ("empty@example.com", [])]
)
async def test_systems_only_lists_the_accounts_own(
    harness: Harness, email: str, ids: list[int]
) -> None:
    harness.login(email)
    body = await harness.json("systems")
    assert [s["system_id"] for s in body["systems"]] == ids
    assert body["total"] == len(ids)


async def test_status_turns_comm_when_the_gateway_is_silent(harness: Harness) -> None:
    harness.sim.start_outage(1001)
    harness.sim.advance(timedelta(hours=2))
    statuses = {s["system_id"]: s["status"] for s in (await harness.json("systems"))["systems"]}
    assert statuses == {1001: "comm", 1002: "normal"}
    assert (await harness.json("systems/1001/summary"))["status"] == "comm"


# --- summary and devices --------------------------------------------------------


async def test_summary_shape_and_consistency(harness: Harness) -> None:
    body = await harness.json("systems/1001/summary")
    assert set(body) == {
        "system_id",
        "current_power",
        "energy_lifetime",
        "energy_today",
        "last_interval_end_at",
        "last_report_at",
        "modules",
        "operational_at",
        "size_w",
        "nmi",
        "source",
        "status",
        "summary_date",
        "battery_charge_w",
        "battery_discharge_w",
        "battery_capacity_wh",
    }
    assert body["system_id"] == 1001
    assert body["summary_date"] == today(harness).isoformat()
    assert (body["modules"], body["size_w"], body["battery_capacity_wh"]) == (24, 9600, 10_000)
    assert body["status"] == "normal"
    meter = await harness.json("systems/1001/telemetry/consumption_meter")
    production = await harness.json("systems/1001/telemetry/production_meter")
    reported = production["intervals"]
    assert body["energy_today"] == sum(row["wh_del"] for row in reported) > 0
    assert body["current_power"] == reported[-1]["wh_del"] * 4
    # An arbitrary second after the end of the last interval with production.
    assert 0 <= body["last_interval_end_at"] - reported[-1]["end_at"] < 900
    assert body["last_interval_end_at"] <= body["last_report_at"]
    assert body["nmi"] is None
    lifetime = await harness.json("systems/1001/energy_lifetime")
    assert body["energy_lifetime"] == sum(lifetime["production"])
    assert body["last_report_at"] == meter["meta"]["last_report_at"]


async def test_summary_battery_figures_are_ratings_not_flows(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(start=EVENING)
    h.login()
    body = await h.json("systems/1001/summary")
    last = (await h.json("systems/1001/telemetry/battery"))["intervals"][-1]
    assert last["discharge"]["enwh"] > 0
    # The maximum charge/discharge power of the batteries, whatever they do now.
    assert body["battery_discharge_w"] == body["battery_charge_w"] == 3840
    h.sim.advance(timedelta(hours=3))
    assert (await h.json("systems/1001/summary"))["battery_charge_w"] == 3840


async def test_summary_at_night_keeps_the_last_interval_with_production(
    make_harness: HarnessFactory,
) -> None:
    h = await make_harness(start=EVENING)
    h.login()
    body = await h.json("systems/1001/summary")
    meter = await h.json("systems/1001/telemetry/production_meter")
    last_reported = meter["intervals"][-1]["end_at"]
    assert body["current_power"] == 0
    # Reported a minute ago, but the sun set hours ago.
    assert body["last_report_at"] > last_reported > body["last_interval_end_at"]
    producing = [row["end_at"] for row in meter["intervals"] if row["wh_del"] > 0]
    assert 0 <= body["last_interval_end_at"] - producing[-1] < 900
    battery = await h.json("systems/1001/telemetry/battery")
    assert battery["meta"]["last_energy_at"] == body["last_interval_end_at"]


async def test_field_types(harness: Harness) -> None:
    summary = await harness.json("systems/1001/summary")
    for name, value in summary.items():
        expected = str if name in {"source", "status", "summary_date"} else int
        if name == "nmi":
            expected = type(None)
        assert type(value) is expected, name
    system = (await harness.json("systems"))["systems"][0]
    for name in ("system_id", "last_report_at", "last_energy_at", "operational_at"):
        assert type(system[name]) is int, name
    for name in ("name", "public_name", "timezone", "connection_type", "status"):
        assert type(system[name]) is str, name
    latest = (await harness.json("systems/1001/latest_telemetry"))["devices"]
    for device in (*latest["meters"], *latest["encharges"]):
        power_type = int if device["channel"] == 1 else type(None)
        assert (type(device["channel"]), type(device["power"])) == (int, power_type)


async def test_summary_without_battery(harness: Harness) -> None:
    body = await harness.json("systems/1002/summary")
    assert (body["battery_charge_w"], body["battery_discharge_w"]) == (0, 0)
    assert body["battery_capacity_wh"] == 0
    assert body["summary_date"] == today(harness, CHICAGO).isoformat()


GROUPS = {"micros", "meters", "gateways", "encharges"}


async def test_devices_battery_system(harness: Harness) -> None:
    body = await harness.json("systems/1001/devices")
    devices = body["devices"]
    # Only the groups the system has a device of (no empty q_relays, acbs, ...).
    assert set(devices) == GROUPS | {"ev_chargers"}
    assert body["system_id"] == 1001
    assert body["total_devices"] == sum(len(group) for group in devices.values())
    assert len(devices["micros"]) == 24
    assert [m["config_type"] for m in devices["meters"]] == ["Production", "Net"]
    assert len(devices["encharges"]) == 1
    assert len(devices["gateways"]) == 1
    assert len(devices["ev_chargers"]) == 1
    # As in Enphase's example: the charger's id is its serial as a number, active a string.
    (charger,) = devices["ev_chargers"]
    assert charger["id"] == int(charger["serial_number"])
    assert charger["active"] == "true"
    for name, group in devices.items():
        for device in group:
            assert device["active"] is True or name == "ev_chargers"
            assert isinstance(device["serial_number"], str)


async def test_devices_without_battery_or_consumption_meter(harness: Harness) -> None:
    devices = (await harness.json("systems/1002/devices"))["devices"]
    assert [m["config_type"] for m in devices["meters"]] == ["Production"]
    assert "encharges" not in devices
    assert len(devices["micros"]) == 16


# --- latest telemetry -----------------------------------------------------------


async def test_latest_telemetry_shape(harness: Harness) -> None:
    body = await harness.json("systems/1001/latest_telemetry")
    meters = body["devices"]["meters"]
    assert body["items"] == "devices"
    # Three channels per meter; only channel 1 is wired on these single-phase sites.
    assert [(m["name"], m["channel"]) for m in meters] == [
        ("production", 1),
        ("production", 2),
        ("production", 3),
        ("consumption", 1),
        ("consumption", 2),
        ("consumption", 3),
    ]
    meter = await harness.json("systems/1001/telemetry/consumption_meter")
    last_report = meter["meta"]["last_report_at"]
    for device in (*meters, *body["devices"]["encharges"]):
        assert {"name", "channel", "last_report_at", "power"} <= set(device)
        wired = device["channel"] == 1
        assert device["last_report_at"] == (last_report if wired else None)
        assert isinstance(device["power"], int) is wired
    production = await harness.json("systems/1001/telemetry/production_meter")
    assert meters[0]["power"] == production["intervals"][-1]["wh_del"] * 4
    (encharge,) = body["devices"]["encharges"]
    serial = (await harness.json("systems/1001/devices"))["devices"]["encharges"][0][
        "serial_number"
    ]
    assert encharge["name"] == f"Encharge {serial}"
    assert encharge["operational_mode"] in {"Idle", "Charging", "Discharging"}


async def test_latest_telemetry_without_battery(harness: Harness) -> None:
    devices = (await harness.json("systems/1002/latest_telemetry"))["devices"]
    assert [m["name"] for m in devices["meters"]] == ["production"] * 3
    assert "encharges" not in devices


@pytest.mark.parametrize("sign", [1, -1])
async def test_latest_battery_power_sign_is_configurable(
    make_harness: HarnessFactory, sign: int
) -> None:
    h = await make_harness(start=EVENING, battery_power_sign=sign)
    h.login()
    body = await h.json("systems/1001/latest_telemetry")
    battery = await h.json("systems/1001/telemetry/battery", granularity="day")
    last = battery["intervals"][-1]
    net = (last["discharge"]["enwh"] - last["charge"]["enwh"]) * 4
    assert net > 0
    assert body["devices"]["encharges"][0]["power"] == net * sign


async def test_latest_telemetry_is_null_after_seven_silent_days(harness: Harness) -> None:
    before = await harness.json("systems/1001/latest_telemetry")
    reported_at = before["devices"]["meters"][0]["last_report_at"]
    harness.sim.start_outage(1001)
    harness.sim.advance(reported_at + 7 * 86_400 - START_TS)
    harness.login()
    still = await harness.json("systems/1001/latest_telemetry")
    assert still["devices"]["meters"][0]["last_report_at"] == reported_at
    harness.sim.advance(1)
    stale = (await harness.json("systems/1001/latest_telemetry"))["devices"]
    for device in (*stale["meters"], *stale["encharges"]):
        assert device["last_report_at"] is None
        assert device["power"] is None
    assert stale["encharges"][0]["operational_mode"] is None


# --- interval telemetry ---------------------------------------------------------


async def test_production_meter(harness: Harness) -> None:
    window = yesterday_window(harness)
    body = await harness.json("systems/1001/telemetry/production_meter", **window)
    assert_envelope(body, 1001, "day")
    assert "meta" not in body
    assert body["total_devices"] == 1
    rows = body["intervals"]
    assert len(rows) == 96
    real = truth(harness, 1001, window["start_at"], window["start_at"] + 86_400)
    for row in rows:
        assert set(row) == {"end_at", "devices_reporting", "wh_del"}
        assert row["end_at"] % 900 == 0
        assert row["devices_reporting"] == 1
        assert row["wh_del"] == real[row["end_at"]]["production"]
    assert sum(row["wh_del"] for row in rows) > 0


async def test_consumption_meter(harness: Harness) -> None:
    window = yesterday_window(harness)
    body = await harness.json("systems/1001/telemetry/consumption_meter", **window)
    assert_envelope(body, 1001, "day")
    real = truth(harness, 1001, window["start_at"], window["start_at"] + 86_400)
    assert len(body["intervals"]) == 96
    for row in body["intervals"]:
        assert set(row) == {"end_at", "devices_reporting", "enwh"}
        assert row["enwh"] == real[row["end_at"]]["consumption"] > 0


async def test_consumption_meter_without_a_consumption_meter(harness: Harness) -> None:
    body = await harness.json("systems/1002/telemetry/consumption_meter")
    assert (body["total_devices"], body["intervals"]) == (0, [])


async def test_battery_telemetry(harness: Harness) -> None:
    window = yesterday_window(harness)
    body = await harness.json("systems/1001/telemetry/battery", **window)
    assert_envelope(body, 1001, "day")
    assert body["total_devices"] == 1
    real = truth(harness, 1001, window["start_at"], window["start_at"] + 86_400)
    assert len(body["intervals"]) == 96
    for row in body["intervals"]:
        assert set(row) == {"end_at", "charge", "discharge", "soc"}
        assert row["charge"] == {"enwh": real[row["end_at"]]["charge"], "devices_reporting": 1}
        assert row["discharge"] == {
            "enwh": real[row["end_at"]]["discharge"],
            "devices_reporting": 1,
        }
        assert row["soc"] == {"percent": real[row["end_at"]]["soc_percent"], "devices_reporting": 1}
    assert any(row["charge"]["enwh"] for row in body["intervals"])
    assert any(row["discharge"]["enwh"] for row in body["intervals"])
    today_body = await harness.json("systems/1001/telemetry/battery")
    last_soc = today_body["intervals"][-1]["soc"]["percent"]
    assert body["last_reported_aggregate_soc"] == f"{last_soc}%"


async def test_battery_telemetry_without_battery(harness: Harness) -> None:
    body = await harness.json("systems/1002/telemetry/battery", **yesterday_window(harness))
    assert (body["total_devices"], body["intervals"]) == (0, [])
    assert body["last_reported_aggregate_soc"] is None


async def test_production_micro_has_five_minute_intervals(make_harness: HarnessFactory) -> None:
    h = await make_harness(plan="kilowatt")
    h.login()
    window = yesterday_window(h)
    body = await h.json("systems/1001/telemetry/production_micro", **window)
    assert_envelope(body, 1001, "day")
    assert body["total_devices"] == 24
    rows = body["intervals"]
    assert len(rows) == 288
    assert [row["end_at"] for row in rows] == [
        window["start_at"] + 300 * (n + 1) for n in range(288)
    ]
    meter = await h.json("systems/1001/telemetry/production_meter", **window)
    for n, quarter in enumerate(meter["intervals"]):
        parts = rows[3 * n : 3 * n + 3]
        assert sum(part["enwh"] for part in parts) == quarter["wh_del"]
    for row in rows:
        assert set(row) == {"end_at", "devices_reporting", "powr", "enwh"}
        assert row["powr"] == row["enwh"] * 12
        assert row["devices_reporting"] in {0, 24}


async def test_production_micro_needs_kilowatt(harness: Harness) -> None:
    body = await harness.json("systems/1001/telemetry/production_micro", 401)
    assert body == {"message": "Not Authorized", "details": "User is not authorized", "code": 401}


@pytest.mark.parametrize(
    ("path", "field", "truth_field"),
    [
        ("energy_import_telemetry", "wh_imported", "import"),
        ("energy_export_telemetry", "wh_exported", "export"),
    ],
)
async def test_import_export_are_arrays_of_local_days(
    harness: Harness, path: str, field: str, truth_field: str
) -> None:
    first = today(harness) - timedelta(days=7)
    start = midnight(first)
    body = await harness.json(f"systems/1001/{path}", start_at=start, granularity="week")
    assert_envelope(body, 1001, "week")
    assert body["total_devices"] == 0
    days = body["intervals"]
    assert [len(day) for day in days] == [96] * 7
    real = truth(harness, 1001, start, start + 7 * 86_400)
    for n, day in enumerate(days):
        low, high = midnight(first + timedelta(days=n)), midnight(first + timedelta(days=n + 1))
        for row in day:
            assert set(row) == {"end_at", field}
            assert low < row["end_at"] <= high
            assert row[field] == real[row["end_at"]][truth_field]
    assert sum(row[field] for day in days for row in day) > 0


@pytest.mark.parametrize(
    ("start_hour", "zone", "sizes"),
    [(12, LA, [48, 48]), (0, CHICAGO, [8, 88])],
)
async def test_import_splits_at_the_systems_own_midnight(
    harness: Harness, start_hour: int, zone: ZoneInfo, sizes: list[int]
) -> None:
    start = midnight(today(harness, zone) - timedelta(days=2), zone) + start_hour * 3600
    body = await harness.json(
        "systems/1001/energy_import_telemetry", start_at=start, granularity="day"
    )
    # System 1001 is in California: days break at midnight there, whatever the request.
    assert [len(day) for day in body["intervals"]] == sizes
    boundary = body["intervals"][1][0]["end_at"] - 900
    assert datetime.fromtimestamp(boundary, LA).time().isoformat() == "00:00:00"


# --- lifetime series ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("energy_lifetime", {"production": "production"}),
        ("consumption_lifetime", {"consumption": "consumption"}),
        ("battery_lifetime", {"charge": "charge", "discharge": "discharge"}),
        ("energy_import_lifetime", {"import": "import"}),
        ("energy_export_lifetime", {"export": "export"}),
    ],
)
async def test_lifetime_series(harness: Harness, path: str, fields: dict[str, str]) -> None:
    first = today(harness) - timedelta(days=5)
    body = await harness.json(f"systems/1001/{path}", start_date=first.isoformat())
    extra = (
        {"meter_start_date", "micro_production", "meter_production"}
        if path == "energy_lifetime"
        else set()
    )
    assert set(body) == {"system_id", "start_date", "meta", *fields, *extra}
    assert body["system_id"] == 1001
    assert body["start_date"] == first.isoformat()
    assert set(body["meta"]) == META
    for name, truth_field in fields.items():
        series = body[name]
        assert len(series) == 6
        for n, value in enumerate(series[:-1]):
            day = first + timedelta(days=n)
            real = truth(harness, 1001, midnight(day), midnight(day + timedelta(days=1)))
            assert value == sum(row[truth_field] for row in real.values())
        assert all(isinstance(value, int) for value in series)


async def test_lifetime_trailing_zeros_are_days_not_reported(harness: Harness) -> None:
    harness.sim.start_outage(1001)
    harness.sim.advance(timedelta(days=3))
    harness.login()
    first = today(harness) - timedelta(days=5)
    body = await harness.json("systems/1001/energy_lifetime", start_date=first.isoformat())
    production = body["production"]
    assert len(production) == 6
    assert all(value > 0 for value in production[:3])
    assert production[3:] == [0, 0, 0]
    truth_rows = truth(harness, 1001, midnight(today(harness)) - 86_400, midnight(today(harness)))
    assert sum(row["production"] for row in truth_rows.values()) > 0


async def test_lifetime_without_the_devices_is_empty(harness: Harness) -> None:
    for path, name in (
        ("consumption_lifetime", "consumption"),
        ("battery_lifetime", "charge"),
        ("energy_import_lifetime", "import"),
    ):
        body = await harness.json(f"systems/1002/{path}")
        assert body[name] == []


# --- authentication and errors --------------------------------------------------

INVALID_TOKEN = {
    "message": "Not Authorized",
    "details": "User is not authorized",
    "code": 401,
}


@pytest.mark.parametrize(
    ("kwargs", "details"),
    [
        ({"token": ""}, "User is not authorized"),
        ({"token": "not-a-token"}, "User is not authorized"),
        ({"key": None}, "User is not authorized"),
        ({"key": "nope"}, "User is not authorized"),
        ({"key": "other-key"}, "API Key -Client mismatch"),
    ],
)
async def test_token_and_key_are_both_required(
    harness: Harness, kwargs: dict[str, Any], details: str
) -> None:
    body = await harness.json("systems", 401, **kwargs)
    assert body == {"message": "Not Authorized", "details": details, "code": 401}


async def test_token_of_the_other_client_needs_its_own_key(harness: Harness) -> None:
    harness.login(client_id="other-client")
    body = await harness.json("systems", 401)
    assert body["details"] == "API Key -Client mismatch"
    assert (await harness.json("systems", key="other-key"))["total"] == 2


async def test_basic_scheme_is_not_a_bearer_token(harness: Harness) -> None:
    response = await harness.client.get(
        "/api/v4/systems",
        params={"key": "demo-key"},
        headers={"Authorization": f"Basic {harness.access_token}"},
    )
    assert response.status == 401
    assert await response.json() == INVALID_TOKEN


async def test_expired_access_token(harness: Harness) -> None:
    harness.sim.advance(86_393)
    assert await harness.json("systems", 401) == INVALID_TOKEN


@pytest.mark.parametrize("system", ["9999", "1003", "abc"])
@pytest.mark.parametrize("path", SYSTEM_PATHS)
async def test_unknown_or_foreign_system_is_404(
    make_harness: HarnessFactory, system: str, path: str
) -> None:
    h = await make_harness(plan="kilowatt")
    h.login()
    body = await h.json(f"systems/{system}/{path}", 404)
    assert body == {"message": "Not Found", "details": "System not found", "code": 404}


async def test_unknown_path_and_method(harness: Harness) -> None:
    body = await harness.json("nothing_here", 404)
    assert body["code"] == 404
    body = await harness.json("systems", 405, method="POST")
    assert body == {"reason": "405", "message": ["Method not allowed"]}
