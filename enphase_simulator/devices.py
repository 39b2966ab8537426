"""The device inventory of a system (what `/devices` lists)."""

from __future__ import annotations

from typing import Any

from .world import SystemSpec


def _serial(spec: SystemSpec, kind: int, n: int) -> str:
    return f"12{kind}2{spec.system_id:05d}{n:03d}"


def meter_id(spec: SystemSpec, n: int) -> int:
    """Id of meter `n` (0: production, 1: consumption)."""
    return spec.system_id * 1000 + 100 + n


def encharge_id(spec: SystemSpec, n: int) -> int:
    """Id of battery `n`."""
    return spec.system_id * 1000 + 200 + n


def encharge_serial(spec: SystemSpec, n: int) -> str:
    """Serial number of battery `n`."""
    return _serial(spec, 3, n)


def inventory(
    spec: SystemSpec, last_report_at: int | None, status: str
) -> dict[str, list[dict[str, Any]]]:
    """Return the active devices of `spec`, grouped as Enphase groups them (no empty group)."""
    common = {"last_report_at": last_report_at, "status": status, "active": True}
    micros = [
        {
            "id": spec.system_id * 1000 + n,
            "name": f"Microinverter {_serial(spec, 1, n)}",
            "serial_number": _serial(spec, 1, n),
            "part_number": "800-01391-r02",
            "sku": "IQ8M-72-2-US",
            "model": "IQ8M-72-2-US",
            "product_name": "IQ8M",
            **common,
        }
        for n in range(spec.micros)
    ]
    gateway_serial = _serial(spec, 2, 0)
    meters = [
        {
            "id": meter_id(spec, 0),
            "name": "production",
            "serial_number": f"{gateway_serial}EIM1",
            "part_number": "800-00654-r08",
            "sku": None,
            "model": "Envoy-S-Metered-NA",
            "product_name": "Envoy-S-Metered-NA",
            "state": "enabled",
            "config_type": "Production",
            **common,
        }
    ]
    if spec.consumption_meter:
        meters.append(
            {
                "id": meter_id(spec, 1),
                "name": "consumption",
                "serial_number": f"{gateway_serial}EIM2",
                "part_number": "800-00654-r08",
                "sku": None,
                "model": "Envoy-S-Metered-NA",
                "product_name": "Envoy-S-Metered-NA",
                "state": "enabled",
                "config_type": "Net",
                **common,
            }
        )
    gateways = [
        {
            "id": spec.system_id * 1000 + 300,
            "name": f"Gateway {gateway_serial}",
            "serial_number": gateway_serial,
            "part_number": "800-00654-r08",
            "sku": "ENV-IQ-AM1-240",
            "model": "IQ Gateway",
            "product_name": "IQ Gateway",
            "emu_sw_version": "D8.2.4264",
            **common,
        }
    ]
    encharges = [
        {
            "id": encharge_id(spec, n),
            "name": f"IQ Battery {encharge_serial(spec, n)}",
            "serial_number": encharge_serial(spec, n),
            "part_number": "836-00750-r31",
            "sku": "ENCHARGE-10T-1P-NA",
            "model": "",
            "product_name": "IQ Battery 10T",
            **common,
        }
        for n in range(spec.batteries)
    ]
    groups = {"micros": micros, "meters": meters, "gateways": gateways, "encharges": encharges}
    # Enphase leaves out the groups a system has no device of.
    return {name: group for name, group in groups.items() if group}
