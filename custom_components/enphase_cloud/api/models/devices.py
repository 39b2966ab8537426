"""The active devices of a system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
import re
from typing import Final, Self

from .parsing import (
    as_mapping,
    mapping,
    opt_datetime,
    opt_list,
    opt_str,
    required,
)

DEVICE_KIND_MICRO: Final = "micro"
DEVICE_KIND_METER: Final = "meter"
DEVICE_KIND_GATEWAY: Final = "gateway"
DEVICE_KIND_ENCHARGE: Final = "encharge"
DEVICE_KIND_ENPOWER: Final = "enpower"

_CONSUMPTION_CONFIG_TYPES: Final = frozenset({"net", "consumption"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    """One active device; `kind` is "micro", "meter", "gateway", "encharge" or "enpower"."""

    kind: str
    serial_number: str | None = None
    model: str | None = None
    """Often "" (batteries, relays): see `product_name`."""
    product_name: str | None = None
    name: str | None = None
    status: str | None = None
    last_report_at: datetime | None = None
    config_type: str | None = None

    @classmethod
    def from_dict(cls, data: object, kind: str) -> Self:
        """Parse one device object of the group `kind`; every field is optional."""
        data = mapping(data, f"devices.{kind}")
        return cls(
            kind=kind,
            serial_number=opt_str(data, "serial_number"),
            model=opt_str(data, "model"),
            product_name=opt_str(data, "product_name"),
            name=opt_str(data, "name"),
            status=opt_str(data, "status"),
            last_report_at=opt_datetime(data, "last_report_at"),
            config_type=opt_str(data, "config_type"),
        )


def _config_words(meter: Device) -> set[str]:
    """Return the words of a meter's config_type, or of its name when config_type is absent."""
    text = meter.config_type if meter.config_type is not None else meter.name or ""
    return set(re.findall(r"[a-z]+", text.lower()))


@dataclass(frozen=True, slots=True, kw_only=True)
class Devices:
    """`/systems/{id}/devices`, the groups this integration uses."""

    micros: tuple[Device, ...] = ()
    meters: tuple[Device, ...] = ()
    gateways: tuple[Device, ...] = ()
    encharges: tuple[Device, ...] = ()
    enpowers: tuple[Device, ...] = ()

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse the answer; `devices` is required, each group optional."""
        what = "devices"
        groups = required(mapping(data, what), "devices", what, as_mapping, "an object")

        def group(key: str, kind: str) -> tuple[Device, ...]:
            return tuple(Device.from_dict(item, kind) for item in opt_list(groups, key, what))

        return cls(
            micros=group("micros", DEVICE_KIND_MICRO),
            meters=group("meters", DEVICE_KIND_METER),
            gateways=group("gateways", DEVICE_KIND_GATEWAY),
            encharges=group("encharges", DEVICE_KIND_ENCHARGE),
            enpowers=group("enpowers", DEVICE_KIND_ENPOWER),
        )

    @property
    def has_battery(self) -> bool:
        """Return True when the system has an IQ Battery (encharge)."""
        return bool(self.encharges)

    @property
    def has_production_meter(self) -> bool:
        """Return True when a meter measures production (config_type "Production")."""
        return any("production" in _config_words(meter) for meter in self.meters)

    @property
    def has_consumption_meter(self) -> bool:
        """Return True when a meter measures consumption (config_type "Net" or "Consumption")."""
        return any(_config_words(meter) & _CONSUMPTION_CONFIG_TYPES for meter in self.meters)

    @property
    def gateway_model(self) -> str | None:
        """Return the model of the first gateway that names one."""
        return next((gw.model for gw in self.gateways if gw.model), None)

    @property
    def battery_model(self) -> str | None:
        """Return the model of the first battery that names one ("" is no name: product name)."""
        return next(
            (
                bat.model or bat.product_name
                for bat in self.encharges
                if bat.model or bat.product_name
            ),
            None,
        )
