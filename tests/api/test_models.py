"""Tests for parsing the API answers into models."""

from __future__ import annotations

import contextlib
import copy
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.enphase_cloud.api import (
    Address,
    BatteryMode,
    BatterySettings,
    BatteryTelemetry,
    Devices,
    EnergyField,
    EnergyTelemetry,
    EnphaseResponseError,
    Granularity,
    GridStatus,
    LatestTelemetry,
    StormGuard,
    Summary,
    System,
)
from custom_components.enphase_cloud.api.models import (
    BatteryActivity,
    Device,
    SystemsPage,
    known_mode,
    mode_from_key,
    mode_key,
)

from .common import load_fixture

MIDNIGHT = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)  # 2026-06-15T00:00 America/Los_Angeles
NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


# --------------------------------------------------------------------------- systems


def test_systems_page() -> None:
    page = SystemsPage.from_dict(load_fixture("systems.json"))
    assert page.total == 2
    assert page.current_page == 1
    assert page.size == 100
    first, second = page.systems
    assert first == System(
        system_id=1001,
        name="Casa Solar",
        public_name="Residential System",
        timezone="America/Los_Angeles",
        status="normal",
        connection_type="wifi",
        last_report_at=utc(1781549851),
        last_energy_at=utc(1781549551),
        operational_at=utc(1776355200),
        address=Address(city="Sacramento", state="CA", country="US", postal_code="95814"),
    )
    assert first.last_report_at is not None
    assert first.last_report_at.tzinfo is UTC
    assert second.system_id == 1002
    assert second.public_name is None
    assert second.connection_type is None
    assert second.last_report_at is None
    assert second.operational_at is None


def test_system_address_absent_or_wrong() -> None:
    data = load_fixture("systems.json")["systems"][0]
    data["address"] = None
    assert System.from_dict(data).address == Address()
    data["address"] = "Sacramento"
    assert System.from_dict(data).address == Address()
    del data["address"]
    assert System.from_dict(data).address == Address()
    data["address"] = {"city": 5, "country": "US"}
    assert System.from_dict(data).address == Address(country="US")


@pytest.mark.parametrize("field", ["system_id", "name", "timezone", "status"])
@pytest.mark.parametrize("value", [None, "<missing>", ["x"], {"a": 1}])
def test_system_required_fields(field: str, value: object) -> None:
    data = load_fixture("systems.json")["systems"][0]
    if value == "<missing>":
        del data[field]
    else:
        data[field] = value
    with pytest.raises(EnphaseResponseError, match=field):
        System.from_dict(data)


@pytest.mark.parametrize(("field", "value"), [("system_id", "1001"), ("system_id", True)])
def test_system_id_must_be_a_number(field: str, value: object) -> None:
    data = load_fixture("systems.json")["systems"][0]
    data[field] = value
    with pytest.raises(EnphaseResponseError):
        System.from_dict(data)


def test_system_error_messages_carry_no_values() -> None:
    data = load_fixture("systems.json")["systems"][0]
    data["name"] = ["Casa Solar", "Sacramento"]
    with pytest.raises(EnphaseResponseError) as err:
        System.from_dict(data)
    assert "Sacramento" not in str(err.value)
    assert "Casa" not in str(err.value)


def test_systems_page_requires_systems() -> None:
    data = load_fixture("systems.json")
    del data["systems"]
    with pytest.raises(EnphaseResponseError, match="systems"):
        SystemsPage.from_dict(data)
    data["systems"] = {"1001": {}}
    with pytest.raises(EnphaseResponseError, match="list"):
        SystemsPage.from_dict(data)
    data["systems"] = [1001]
    with pytest.raises(EnphaseResponseError, match="object"):
        SystemsPage.from_dict(data)


def test_systems_page_optional_counts() -> None:
    page = SystemsPage.from_dict({"systems": [], "total": "2", "size": None})
    assert page == SystemsPage(total=None, current_page=None, size=None, systems=())


@pytest.mark.parametrize("answer", [None, [], "systems", 3])
def test_not_an_object(answer: object) -> None:
    with pytest.raises(EnphaseResponseError, match="expected an object"):
        SystemsPage.from_dict(answer)
    with pytest.raises(EnphaseResponseError, match="expected an object"):
        Summary.from_dict(answer)


# --------------------------------------------------------------------------- summary


def test_summary() -> None:
    summary = Summary.from_dict(load_fixture("summary.json"))
    assert summary == Summary(
        system_id=1001,
        current_power=4120,
        energy_lifetime=2845311,
        energy_today=18230,
        last_interval_end_at=utc(1781549100),
        last_report_at=utc(1781549851),
        operational_at=utc(1776355200),
        modules=20,
        size_w=8200,
        source="meter",
        status="normal",
        summary_date=date(2026, 6, 15),
        battery_charge_w=3840,
        battery_discharge_w=3840,
        battery_capacity_wh=10080,
    )


def test_summary_without_battery() -> None:
    summary = Summary.from_dict(load_fixture("summary_no_battery.json"))
    assert summary.system_id == 1002
    assert summary.battery_capacity_wh is None
    assert summary.battery_charge_w is None
    assert summary.battery_discharge_w is None


def test_summary_optional_fields_tolerated() -> None:
    data = {
        "system_id": 1001,
        "status": "comm",
        "current_power": "n/a",  # wrong type: unknown
        "energy_today": 1234.6,  # float: rounded
        "energy_lifetime": True,  # a bool is never a number
        "last_report_at": "2026-06-15T18:50:00+00:00",  # ISO text accepted
        "last_interval_end_at": "2026-06-15T18:45:00",  # naive ISO text is UTC
        "operational_at": "yesterday",
        "summary_date": "2026-06-15T00:00:00-07:00",
        "modules": float("nan"),
        "size_w": 1e400,  # inf
        "source": 3,
    }
    summary = Summary.from_dict(data)
    assert summary.current_power is None
    assert summary.energy_today == 1235
    assert summary.energy_lifetime is None
    assert summary.last_report_at == datetime(2026, 6, 15, 18, 50, tzinfo=UTC)
    assert summary.last_interval_end_at == datetime(2026, 6, 15, 18, 45, tzinfo=UTC)
    assert summary.operational_at is None
    assert summary.summary_date == date(2026, 6, 15)
    assert summary.modules is None
    assert summary.size_w is None
    assert summary.source is None
    assert summary.battery_capacity_wh is None


@pytest.mark.parametrize("value", ["15/06/2026", 20260615, None])
def test_summary_date_unparseable(value: object) -> None:
    data = load_fixture("summary.json")
    data["summary_date"] = value
    assert Summary.from_dict(data).summary_date is None


@pytest.mark.parametrize("value", [1e300, -1e300, float("inf"), float("nan"), True, [1]])
def test_timestamp_out_of_range_is_none(value: object) -> None:
    data = load_fixture("summary.json")
    data["last_report_at"] = value
    assert Summary.from_dict(data).last_report_at is None


@pytest.mark.parametrize("field", ["system_id", "status"])
def test_summary_required(field: str) -> None:
    data = load_fixture("summary.json")
    del data[field]
    with pytest.raises(EnphaseResponseError, match=field):
        Summary.from_dict(data)


def test_models_are_frozen() -> None:
    summary = Summary.from_dict(load_fixture("summary.json"))
    with pytest.raises(FrozenInstanceError):
        summary.current_power = 1  # type: ignore[misc]


# --------------------------------------------------------------------------- devices


def test_devices() -> None:
    devices = Devices.from_dict(load_fixture("devices.json"))
    assert len(devices.micros) == 2
    assert devices.micros[0] == Device(
        kind="micro",
        serial_number="482301000001",
        model="IQ8+",
        product_name="IQ8+",
        name="Microinverter 482301000001",
        status="normal",
        last_report_at=utc(1781549851),
    )
    assert [meter.config_type for meter in devices.meters] == ["Production", "Net"]
    assert {device.kind for device in devices.meters} == {"meter"}
    assert devices.gateways[0].kind == "gateway"
    assert devices.encharges[0].kind == "encharge"
    assert devices.enpowers[0].kind == "enpower"
    assert devices.has_battery
    assert devices.has_production_meter
    assert devices.has_consumption_meter
    assert devices.gateway_model == "IQ Gateway"
    assert devices.battery_model == "IQ Battery 10"


def test_devices_without_battery() -> None:
    devices = Devices.from_dict(load_fixture("devices_no_battery.json"))
    assert not devices.has_battery
    assert devices.has_production_meter
    assert not devices.has_consumption_meter
    assert devices.gateway_model == "Envoy-S-Metered"
    assert devices.battery_model is None
    assert devices.encharges == ()
    assert devices.enpowers == ()


def test_devices_empty() -> None:
    devices = Devices.from_dict({"devices": {"micros": None}})
    assert devices == Devices()
    assert not devices.has_battery
    assert not devices.has_production_meter
    assert not devices.has_consumption_meter
    assert devices.gateway_model is None


@pytest.mark.parametrize(
    ("config_type", "name", "production", "consumption"),
    [
        ("Production", "meter", True, False),
        ("production", "consumption", True, False),  # config_type wins over the name
        ("Net", "production", False, True),
        ("Consumption", None, False, True),
        ("net-consumption", None, False, True),
        ("Total Consumption", None, False, True),
        ("Storage", "production", False, False),
        (None, "production", True, False),  # no config_type: the name tells
        (None, "consumption", False, True),
        (None, None, False, False),
    ],
)
def test_meter_kinds(
    config_type: str | None, name: str | None, production: bool, consumption: bool
) -> None:
    meter: dict[str, Any] = {"name": name, "config_type": config_type}
    devices = Devices.from_dict({"devices": {"meters": [meter]}})
    assert devices.has_production_meter is production
    assert devices.has_consumption_meter is consumption


def test_models_without_a_name() -> None:
    devices = Devices.from_dict(
        {"devices": {"gateways": [{"name": "gw"}, {"model": "IQ Gateway"}], "encharges": [{}]}}
    )
    assert devices.gateway_model == "IQ Gateway"
    assert devices.has_battery
    assert devices.battery_model is None


def test_devices_broken() -> None:
    with pytest.raises(EnphaseResponseError, match="devices"):
        Devices.from_dict({"system_id": 1001})
    with pytest.raises(EnphaseResponseError, match="object"):
        Devices.from_dict({"devices": []})
    with pytest.raises(EnphaseResponseError, match="list"):
        Devices.from_dict({"devices": {"micros": {"id": 1}}})
    with pytest.raises(EnphaseResponseError, match="object"):
        Devices.from_dict({"devices": {"meters": ["production"]}})


# --------------------------------------------------------------------------- latest telemetry


def test_latest_telemetry() -> None:
    latest = LatestTelemetry.from_dict(load_fixture("latest_telemetry.json"))
    assert latest.production_power == 4120
    assert latest.consumption_power == 1630
    assert latest.battery_power == -2490
    assert latest.meters[0].channel == 1
    assert latest.meters[0].last_report_at == utc(1781549851)
    assert [m.power for m in latest.meters[1:3]] == [None, None]
    assert latest.encharges[0].operational_mode is BatteryActivity.CHARGING
    assert latest.encharges[0].name == "Encharge 122201001000"


@pytest.mark.parametrize(
    ("raw", "activity"),
    [
        ("Idle", BatteryActivity.IDLE),
        ("Charging", BatteryActivity.CHARGING),
        ("DISCHARGING", BatteryActivity.DISCHARGING),
        ("self_consumption", None),
        (3, None),
        (None, None),
    ],
)
def test_latest_telemetry_operational_mode(raw: object, activity: BatteryActivity | None) -> None:
    """`operational_mode` is what the battery does (Idle/Charging/Discharging)."""
    data = {"devices": {"encharges": [{"name": "b1", "operational_mode": raw}]}}
    assert LatestTelemetry.from_dict(data).encharges[0].operational_mode is activity


@pytest.mark.parametrize(
    ("power", "mode", "expected"),
    [
        (500, "Discharging", 500),
        (-500, "Discharging", 500),
        (500, "Charging", -500),
        (-500, "Charging", -500),
        (-15, "Idle", -15),
        (40, None, 40),
        (None, "Charging", None),
    ],
)
def test_battery_power_sign_follows_the_operational_mode(
    power: int | None, mode: str | None, expected: int | None
) -> None:
    """Whichever sign Enphase uses (UNCONFIRMED), discharge reads positive."""
    data = {"devices": {"encharges": [{"name": "b1", "power": power, "operational_mode": mode}]}}
    assert LatestTelemetry.from_dict(data).battery_power == expected


def test_latest_telemetry_stale_devices() -> None:
    data = {
        "devices": {
            "meters": [
                {"name": "production", "channel": None, "last_report_at": None, "power": None},
                {"name": "Consumption", "channel": 1, "last_report_at": None, "power": None},
            ],
            "encharges": [
                {"name": "b1", "power": None},
                {"name": "b2", "power": None, "operational_mode": None},
            ],
        }
    }
    latest = LatestTelemetry.from_dict(data)
    assert latest.production_power is None
    assert latest.consumption_power is None
    assert latest.battery_power is None
    assert latest.meters[0].last_report_at is None


def test_latest_telemetry_sums() -> None:
    data = {
        "devices": {
            "meters": [
                {"name": "production", "channel": 1, "power": 1000},
                {"name": "production", "channel": 2, "power": 500},
                {"name": "storage", "channel": 1, "power": 77},
            ],
            "encharges": [
                {"name": "b1", "power": 300},
                {"name": "b2", "power": None},
                {"name": "b3", "power": 200},
            ],
        }
    }
    latest = LatestTelemetry.from_dict(data)
    assert latest.production_power == 1500
    assert latest.consumption_power is None
    assert latest.battery_power == 500


def test_latest_telemetry_without_groups() -> None:
    latest = LatestTelemetry.from_dict({"devices": {}})
    assert latest == LatestTelemetry()
    assert latest.production_power is None
    assert latest.battery_power is None


def test_latest_telemetry_broken() -> None:
    with pytest.raises(EnphaseResponseError, match="devices"):
        LatestTelemetry.from_dict({})
    with pytest.raises(EnphaseResponseError, match="name"):
        LatestTelemetry.from_dict({"devices": {"meters": [{"power": 5}]}})
    with pytest.raises(EnphaseResponseError, match="name"):
        LatestTelemetry.from_dict({"devices": {"encharges": [{"name": 5, "power": 5}]}})
    with pytest.raises(EnphaseResponseError, match="object"):
        LatestTelemetry.from_dict({"devices": {"encharges": [None]}})


# --------------------------------------------------------------------------- energy telemetry


@pytest.mark.parametrize(
    ("fixture", "field", "values"),
    [
        ("production_meter.json", EnergyField.PRODUCTION, [0, 0, 3, 12]),
        ("consumption_meter.json", EnergyField.CONSUMPTION, [210, 195, 188, 202]),
    ],
)
def test_meter_telemetry(fixture: str, field: EnergyField, values: list[int]) -> None:
    telemetry = EnergyTelemetry.from_dict(load_fixture(fixture), field)
    assert telemetry.system_id == 1001
    assert telemetry.granularity == Granularity.DAY
    assert telemetry.start_at == MIDNIGHT
    assert telemetry.end_at == NOW
    assert telemetry.total_devices == 1
    assert telemetry.last_report_at == utc(1781549851)
    assert [interval.wh for interval in telemetry.intervals] == values
    assert [interval.end_at.minute for interval in telemetry.intervals] == [15, 30, 45, 0]
    assert telemetry.intervals[0].end_at == datetime(2026, 6, 15, 7, 15, tzinfo=UTC)
    assert all(interval.devices_reporting == 1 for interval in telemetry.intervals)


def test_meter_telemetry_needs_the_right_field() -> None:
    # Production intervals carry wh_del, not enwh: parsing as consumption must fail.
    with pytest.raises(EnphaseResponseError, match="enwh"):
        EnergyTelemetry.from_dict(load_fixture("production_meter.json"), EnergyField.CONSUMPTION)


@pytest.mark.parametrize(
    ("fixture", "field", "first", "last"),
    [
        ("energy_import_telemetry.json", EnergyField.IMPORT, 100, 190),
        ("energy_export_telemetry.json", EnergyField.EXPORT, 0, 0),
    ],
)
def test_import_export_array_of_arrays(
    fixture: str, field: EnergyField, first: int, last: int
) -> None:
    data = load_fixture(fixture)
    assert [len(day) for day in data["intervals"]] == [8, 2]  # split at local midnight
    telemetry = EnergyTelemetry.from_dict(data, field)
    assert len(telemetry.intervals) == 10
    ends = [interval.end_at for interval in telemetry.intervals]
    assert ends == sorted(ends)
    assert ends[0] == datetime(2026, 6, 15, 5, 15, tzinfo=UTC)
    assert ends[-1] == datetime(2026, 6, 15, 7, 30, tzinfo=UTC)
    assert telemetry.intervals[0].wh == first
    assert telemetry.intervals[-1].wh == last


def test_intervals_are_sorted() -> None:
    data = load_fixture("energy_import_telemetry.json")
    data["intervals"].reverse()  # the later day first
    data["intervals"][0].reverse()
    telemetry = EnergyTelemetry.from_dict(data, EnergyField.IMPORT)
    assert [interval.wh for interval in telemetry.intervals] == list(range(100, 200, 10))


def test_flat_and_nested_intervals_mixed() -> None:
    data = load_fixture("production_meter.json")
    first, *rest = data["intervals"]
    data["intervals"] = [rest, first]
    telemetry = EnergyTelemetry.from_dict(data, EnergyField.PRODUCTION)
    assert [interval.wh for interval in telemetry.intervals] == [0, 0, 3, 12]


def test_empty_intervals_mean_not_reported() -> None:
    data = load_fixture("production_meter.json")
    data["intervals"] = []
    del data["meta"]
    telemetry = EnergyTelemetry.from_dict(data, EnergyField.PRODUCTION)
    assert telemetry.intervals == ()
    assert telemetry.last_report_at is None
    data["intervals"] = [[], []]
    assert EnergyTelemetry.from_dict(data, EnergyField.PRODUCTION).intervals == ()


def test_interval_optional_devices_reporting() -> None:
    data = load_fixture("energy_export_telemetry.json")
    for day in data["intervals"]:
        for interval in day:
            del interval["devices_reporting"]
    telemetry = EnergyTelemetry.from_dict(data, EnergyField.EXPORT)
    assert {interval.devices_reporting for interval in telemetry.intervals} == {None}


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("intervals"), "intervals"),
        (lambda d: d.update(intervals={"a": 1}), "list"),
        (lambda d: d.update(intervals=[1, 2]), "object"),
        (lambda d: d.update(intervals=[[1]]), "object"),
        (lambda d: d.update(intervals=[[[]]]), "object"),
        (lambda d: d["intervals"][0].pop("end_at"), "end_at"),
        (lambda d: d["intervals"][0].update(end_at="soon"), "end_at"),
        (lambda d: d["intervals"][1].update(wh_del=None), "wh_del"),
        (lambda d: d["intervals"][1].update(wh_del="12"), "wh_del"),
        (lambda d: d.pop("system_id"), "system_id"),
        (lambda d: d.pop("granularity"), "granularity"),
        (lambda d: d.update(start_at=None), "start_at"),
        (lambda d: d.update(end_at=[1]), "end_at"),
    ],
)
def test_energy_telemetry_broken(mutate: Any, match: str) -> None:
    data = load_fixture("production_meter.json")
    mutate(data)
    with pytest.raises(EnphaseResponseError, match=match):
        EnergyTelemetry.from_dict(data, EnergyField.PRODUCTION)


# --------------------------------------------------------------------------- battery telemetry


def test_battery_telemetry() -> None:
    telemetry = BatteryTelemetry.from_dict(load_fixture("battery_telemetry.json"))
    assert telemetry.system_id == 1001
    assert telemetry.granularity == "day"
    assert telemetry.start_at == MIDNIGHT
    assert telemetry.end_at == NOW
    assert telemetry.total_devices == 1
    assert telemetry.last_reported_aggregate_soc == 97
    assert telemetry.last_report_at == utc(1781549851)
    assert [i.discharge_wh for i in telemetry.intervals] == [55, 50, 48, 51]
    assert [i.charge_wh for i in telemetry.intervals] == [0, 0, 0, 0]
    assert [i.soc_percent for i in telemetry.intervals] == [62, 61, 60, 59]
    assert telemetry.intervals[0].devices_reporting == 1
    assert telemetry.intervals[0].end_at == datetime(2026, 6, 15, 7, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("97%", 97),
        ("5 %", 5),
        ("100", 100),
        (97, 97),
        (96.6, 97),
        ("12.4%", 12),
        (None, None),
        ("n/a", None),
        ("%", None),
        (True, None),
        ([97], None),
    ],
)
def test_aggregate_soc(value: object, expected: int | None) -> None:
    data = load_fixture("battery_telemetry.json")
    data["last_reported_aggregate_soc"] = value
    assert BatteryTelemetry.from_dict(data).last_reported_aggregate_soc == expected


def test_battery_interval_partial() -> None:
    data = load_fixture("battery_telemetry.json")
    interval = data["intervals"][0]
    del interval["soc"]
    del interval["charge"]["devices_reporting"]
    interval["discharge"]["devices_reporting"] = 2
    parsed = BatteryTelemetry.from_dict(data).intervals[0]
    assert parsed.soc_percent is None
    assert parsed.devices_reporting == 2
    interval["soc"] = {"percent": None, "devices_reporting": 3}
    del interval["discharge"]["devices_reporting"]
    parsed = BatteryTelemetry.from_dict(data).intervals[0]
    assert parsed.soc_percent is None
    assert parsed.devices_reporting == 3
    del interval["soc"]
    assert BatteryTelemetry.from_dict(data).intervals[0].devices_reporting is None


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda i: i.pop("charge"), "charge"),
        (lambda i: i.update(discharge=5), "discharge"),
        (lambda i: i["charge"].pop("enwh"), "enwh"),
        (lambda i: i["discharge"].update(enwh="5"), "enwh"),
        (lambda i: i.pop("end_at"), "end_at"),
    ],
)
def test_battery_interval_broken(mutate: Any, match: str) -> None:
    data = load_fixture("battery_telemetry.json")
    mutate(data["intervals"][2])
    with pytest.raises(EnphaseResponseError, match=match):
        BatteryTelemetry.from_dict(data)


def test_battery_telemetry_nested_intervals() -> None:
    data = load_fixture("battery_telemetry.json")
    data["intervals"] = [data["intervals"][2:], data["intervals"][:2]]
    telemetry = BatteryTelemetry.from_dict(data)
    assert [i.soc_percent for i in telemetry.intervals] == [62, 61, 60, 59]


# --------------------------------------------------------------------------- battery mode


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("Self - Consumption", BatteryMode.SELF_CONSUMPTION),
        ("Self-consumption", BatteryMode.SELF_CONSUMPTION),
        ("self-consumption", BatteryMode.SELF_CONSUMPTION),
        ("self_consumption", BatteryMode.SELF_CONSUMPTION),
        ("SELF CONSUMPTION", BatteryMode.SELF_CONSUMPTION),
        ("Savings Mode", BatteryMode.SAVINGS),
        ("savings-mode", BatteryMode.SAVINGS),
        ("Savings", BatteryMode.SAVINGS),
        ("savings", BatteryMode.SAVINGS),
        ("cost_savings", BatteryMode.SAVINGS),
        ("Full Backup", BatteryMode.FULL_BACKUP),
        ("full_backup", BatteryMode.FULL_BACKUP),
        ("full-backup", BatteryMode.FULL_BACKUP),
        ("Backup Only", BatteryMode.FULL_BACKUP),
    ],
)
def test_battery_mode_spellings(text: str, mode: BatteryMode) -> None:
    assert BatteryMode.parse(text) is mode


@pytest.mark.parametrize("text", ["", "Self", "Backup", "Economy", "savings!!x", None, 1])
def test_battery_mode_unknown(text: object) -> None:
    with pytest.raises(EnphaseResponseError):
        BatteryMode.parse(text)


def test_battery_mode_api_values() -> None:
    # The PUT is case sensitive: exactly these three spellings.
    assert BatteryMode.SELF_CONSUMPTION.api_value == "Self-consumption"
    assert BatteryMode.SAVINGS.api_value == "Savings Mode"
    assert BatteryMode.FULL_BACKUP.api_value == "Full Backup"
    for mode in BatteryMode:
        assert BatteryMode.parse(mode.api_value) is mode
        assert BatteryMode.parse(mode.value) is mode


def test_granularity_values() -> None:
    assert [g.value for g in Granularity] == ["15mins", "day", "week"]


# --------------------------------------------------------------------------- configuration


def test_battery_settings() -> None:
    settings_ = BatterySettings.from_dict(load_fixture("battery_settings.json"))
    assert settings_ == BatterySettings(
        system_id=1001,
        mode=BatteryMode.SELF_CONSUMPTION,
        reserve_soc=30,
        energy_independence=True,
        charge_from_grid=False,
        shutdown_level=10,
    )


def test_battery_settings_variants() -> None:
    data = {
        "system_id": 1001,
        "battery_mode": "Savings Mode",
        "reserve_soc": "40%",
        "energy_independence": "disabled",
        "charge_from_grid": True,
        "unknown": {"nested": [1]},
    }
    parsed = BatterySettings.from_dict(data)
    assert parsed.mode is BatteryMode.SAVINGS
    assert parsed.reserve_soc == 40
    assert parsed.energy_independence is False
    assert parsed.charge_from_grid is True
    assert parsed.shutdown_level is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("enabled", True),
        ("Enabled", True),
        ("disabled", False),
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        ("off", False),
        (None, None),
        ("maybe", None),
        ("", None),
        ([], None),
    ],
)
def test_enabled_disabled(value: object, expected: bool | None) -> None:
    data = load_fixture("battery_settings.json")
    data["energy_independence"] = value
    assert BatterySettings.from_dict(data).energy_independence is expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("battery_mode", None),
        ("battery_mode", ""),
        ("battery_mode", 3),
        ("reserve_soc", None),
        ("reserve_soc", "thirty"),
        ("system_id", None),
    ],
)
def test_battery_settings_broken(field: str, value: object) -> None:
    data = load_fixture("battery_settings.json")
    data[field] = value
    with pytest.raises(EnphaseResponseError):
        BatterySettings.from_dict(data)


@pytest.mark.parametrize(
    ("status", "alert", "enabled", "storm_alert"),
    [
        ("enabled", "false", True, False),
        ("Enabled (Inactive)", "true", True, True),
        ("Enabled (Active)", True, True, True),
        ("disabled", None, False, None),
        ("Disabled", "unknown", False, None),
        (False, False, False, False),
    ],
)
def test_storm_guard(
    status: object, alert: object, enabled: bool, storm_alert: bool | None
) -> None:
    data = load_fixture("storm_guard.json")
    data["storm_guard_status"] = status
    data["storm_alert"] = alert
    assert StormGuard.from_dict(data) == StormGuard(
        system_id=1001, enabled=enabled, storm_alert=storm_alert
    )


@pytest.mark.parametrize("status", [None, "pending", ["enabled"]])
def test_storm_guard_broken(status: object) -> None:
    data = load_fixture("storm_guard.json")
    data["storm_guard_status"] = status
    with pytest.raises(EnphaseResponseError, match="storm_guard_status"):
        StormGuard.from_dict(data)


@pytest.mark.parametrize(
    ("state", "on_grid"),
    [
        ("On Grid", True),
        ("on_grid", True),
        ("ON-GRID", True),
        ("Off Grid", False),
        ("off_grid", False),
        ("Unknown", None),
        ("grid_unknown", None),
        ("Grid Status Unknown", None),
    ],
)
def test_grid_status(state: str, on_grid: bool | None) -> None:
    data = load_fixture("grid_status.json")
    data["grid_state"] = state
    assert GridStatus.from_dict(data) == GridStatus(
        system_id=1001, grid_state=state, on_grid=on_grid, last_report_date=utc(1781549851)
    )


def test_battery_settings_keep_a_mode_they_do_not_know() -> None:
    data = load_fixture("battery_settings.json")
    data["battery_mode"] = "AI Optimisation"
    settings = BatterySettings.from_dict(data)
    assert settings.mode == "AI Optimisation"
    assert known_mode(settings.mode) is None
    assert mode_from_key(mode_key(settings.mode)) == "AI Optimisation"
    assert mode_from_key(mode_key(BatteryMode.SAVINGS)) is BatteryMode.SAVINGS


def test_grid_status_broken() -> None:
    with pytest.raises(EnphaseResponseError, match="grid_state"):
        GridStatus.from_dict({"system_id": 1001})


# --------------------------------------------------------------------------- robustness

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)

_PARSERS: list[tuple[str, Any]] = [
    ("systems.json", SystemsPage.from_dict),
    ("summary.json", Summary.from_dict),
    ("devices.json", Devices.from_dict),
    ("latest_telemetry.json", LatestTelemetry.from_dict),
    ("production_meter.json", lambda d: EnergyTelemetry.from_dict(d, EnergyField.PRODUCTION)),
    (
        "energy_import_telemetry.json",
        lambda d: EnergyTelemetry.from_dict(d, EnergyField.IMPORT),
    ),
    ("battery_telemetry.json", BatteryTelemetry.from_dict),
    ("battery_settings.json", BatterySettings.from_dict),
    ("storm_guard.json", StormGuard.from_dict),
    ("grid_status.json", GridStatus.from_dict),
]


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Return the path of every node below `value`."""
    found: list[tuple[object, ...]] = []
    items: list[tuple[object, object]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_paths(child, (*prefix, key)))
    return found


@pytest.mark.parametrize(("fixture", "parse"), _PARSERS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_parsers_only_raise_response_errors(fixture: str, parse: Any, data: st.DataObject) -> None:
    """Replacing or deleting any node of a good answer never raises anything unexpected."""
    answer = load_fixture(fixture)
    paths = _paths(answer)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(paths))
        parent: Any = answer
        try:
            for key in path[:-1]:
                parent = parent[key]
            if data.draw(st.booleans()):
                parent[path[-1]] = data.draw(_json)
            elif isinstance(parent, dict):
                del parent[path[-1]]
        except KeyError, IndexError, TypeError:
            continue  # an earlier change removed this node
    with contextlib.suppress(EnphaseResponseError):
        parse(copy.deepcopy(answer))


@given(answer=_json)
@settings(max_examples=200, deadline=None)
def test_parsers_on_arbitrary_json(answer: object) -> None:
    for _, parse in _PARSERS:
        with contextlib.suppress(EnphaseResponseError):
            parse(answer)
