"""Systems list and summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Self

from .parsing import (
    as_date,
    as_list,
    mapping,
    opt_datetime,
    opt_int,
    opt_str,
    req_int,
    req_str,
    required,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """Where a system is (as coarse as the API gives it)."""

    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse an `address` object; anything but an object is an empty address."""
        if not isinstance(data, Mapping):
            return cls()
        return cls(
            city=opt_str(data, "city"),
            state=opt_str(data, "state"),
            country=opt_str(data, "country"),
            postal_code=opt_str(data, "postal_code"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class System:
    """One entry of `/systems`."""

    system_id: int
    name: str
    public_name: str | None = None
    timezone: str
    status: str
    connection_type: str | None = None
    last_report_at: datetime | None = None
    last_energy_at: datetime | None = None
    operational_at: datetime | None = None
    address: Address

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse one system object."""
        what = "system"
        data = mapping(data, what)
        return cls(
            system_id=req_int(data, "system_id", what),
            name=req_str(data, "name", what),
            public_name=opt_str(data, "public_name"),
            timezone=req_str(data, "timezone", what),
            status=req_str(data, "status", what),
            connection_type=opt_str(data, "connection_type"),
            last_report_at=opt_datetime(data, "last_report_at"),
            last_energy_at=opt_datetime(data, "last_energy_at"),
            operational_at=opt_datetime(data, "operational_at"),
            address=Address.from_dict(data.get("address")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemsPage:
    """One page of `/systems`."""

    total: int | None = None
    current_page: int | None = None
    size: int | None = None
    systems: tuple[System, ...]

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a page; `systems` is required."""
        what = "systems"
        data = mapping(data, what)
        systems = required(data, "systems", what, as_list, "a list")
        return cls(
            total=opt_int(data, "total"),
            current_page=opt_int(data, "current_page"),
            size=opt_int(data, "size"),
            systems=tuple(System.from_dict(item) for item in systems),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """`/systems/{id}/summary`: power now, energy today and lifetime, battery sizes."""

    system_id: int
    current_power: int | None = None
    energy_lifetime: int | None = None
    energy_today: int | None = None
    last_interval_end_at: datetime | None = None
    last_report_at: datetime | None = None
    operational_at: datetime | None = None
    modules: int | None = None
    size_w: int | None = None
    nmi: str | None = None
    """The grid connection's meter number (Australia); null elsewhere."""
    source: str | None = None
    status: str
    summary_date: date | None = None
    battery_charge_w: int | None = None
    """The batteries' MAXIMUM charge power (a rating, not what they do now)."""
    battery_discharge_w: int | None = None
    """The batteries' MAXIMUM discharge power (a rating)."""
    battery_capacity_wh: int | None = None
    """The batteries' total capacity."""

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Parse a summary."""
        what = "summary"
        data = mapping(data, what)
        return cls(
            system_id=req_int(data, "system_id", what),
            current_power=opt_int(data, "current_power"),
            energy_lifetime=opt_int(data, "energy_lifetime"),
            energy_today=opt_int(data, "energy_today"),
            last_interval_end_at=opt_datetime(data, "last_interval_end_at"),
            last_report_at=opt_datetime(data, "last_report_at"),
            operational_at=opt_datetime(data, "operational_at"),
            modules=opt_int(data, "modules"),
            size_w=opt_int(data, "size_w"),
            nmi=opt_str(data, "nmi"),
            source=opt_str(data, "source"),
            status=req_str(data, "status", what),
            summary_date=as_date(data.get("summary_date")),
            battery_charge_w=opt_int(data, "battery_charge_w"),
            battery_discharge_w=opt_int(data, "battery_discharge_w"),
            battery_capacity_wh=opt_int(data, "battery_capacity_wh"),
        )
