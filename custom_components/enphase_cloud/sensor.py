"""Sensors: power, energy, battery, status and report times per system; the API budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api import ChargerState
from .command_engine import CommandState
from .const import DOMAIN, SYSTEM_STATUSES
from .coordinator import EnphaseCloudCoordinator
from .data import EnphaseCloudConfigEntry, SystemSnapshot
from .entity import (
    EnphaseChargerEntity,
    EnphaseCloudEntity,
    async_add_charger_entities,
    async_add_system_entities,
)
from .ev_charger import ChargerSnapshot

# Entities only read the coordinator's snapshot; the coordinator does the calls.
PARALLEL_UPDATES = 0

type Value = float | int | str | datetime | None


@dataclass(frozen=True, kw_only=True)
class EnphaseSensorEntityDescription(SensorEntityDescription):
    """A system sensor: where its value comes from and when it exists."""

    value_fn: Callable[[SystemSnapshot], Value]
    exists_fn: Callable[[SystemSnapshot], bool] = lambda _: True
    fetched_fn: Callable[[SystemSnapshot], datetime | None] = lambda s: s.live_fetched_at
    """When the data behind the value was fetched, to judge staleness."""
    battery: bool = False
    """Belongs to the battery's device rather than the system's."""


def _grid_power(s: SystemSnapshot) -> int | None:
    """Import positive: what the home draws beyond solar and battery.

    Home = production + grid + battery (discharge positive), with the consumption
    meter read as the home's load (see `_battery_power` and the README).
    """
    t = s.telemetry
    if t is None or t.consumption_power is None or t.production_power is None:
        return None
    battery = _battery_power(s)
    if s.has_battery and battery is None:
        return None
    return t.consumption_power - t.production_power - (battery or 0)


def _battery_power(s: SystemSnapshot) -> int | None:
    """Discharge positive, charge negative: latest_telemetry's batteries summed.

    The summary's battery watts are ratings (maximum power), never the flow; each
    battery's sign is taken from its operational mode (see `BatteryReading`).
    """
    return s.telemetry.battery_power if s.telemetry else None


def _production_power(s: SystemSnapshot) -> int | None:
    if s.telemetry is not None and s.telemetry.production_power is not None:
        return s.telemetry.production_power
    return s.summary.current_power if s.summary else None


def _grid_state(s: SystemSnapshot) -> str | None:
    # "Unknown" (on_grid None) is an unknown state, never off grid.
    if s.grid_status is None or s.grid_status.on_grid is None:
        return None
    return "on_grid" if s.grid_status.on_grid else "off_grid"


SYSTEM_SENSORS: tuple[EnphaseSensorEntityDescription, ...] = (
    EnphaseSensorEntityDescription(
        key="production_power",
        translation_key="production_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_production_power,
    ),
    EnphaseSensorEntityDescription(
        key="consumption_power",
        translation_key="consumption_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        exists_fn=lambda s: s.has_consumption_meter,
        value_fn=lambda s: s.telemetry.consumption_power if s.telemetry else None,
    ),
    EnphaseSensorEntityDescription(
        key="grid_power",
        translation_key="grid_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        exists_fn=lambda s: s.has_consumption_meter,
        value_fn=_grid_power,
    ),
    EnphaseSensorEntityDescription(
        key="production_energy_today",
        translation_key="production_energy_today",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2,
        value_fn=lambda s: s.summary.energy_today if s.summary else None,
    ),
    EnphaseSensorEntityDescription(
        key="production_energy_lifetime",
        translation_key="production_energy_lifetime",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        value_fn=lambda s: s.summary.energy_lifetime if s.summary else None,
    ),
    EnphaseSensorEntityDescription(
        key="status",
        translation_key="status",
        device_class=SensorDeviceClass.ENUM,
        options=list(SYSTEM_STATUSES),
        value_fn=lambda s: s.system.status if s.system.status in SYSTEM_STATUSES else None,
        # A gateway that stopped uploading is what this sensor reports: judge its age
        # by the systems list, which every bulk round reads.
        fetched_fn=lambda s: s.system_fetched_at,
    ),
    EnphaseSensorEntityDescription(
        key="last_report",
        translation_key="last_report",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda s: s.system.last_report_at,
        fetched_fn=lambda s: s.system_fetched_at,
    ),
    EnphaseSensorEntityDescription(
        key="last_interval_end",
        translation_key="last_interval_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda s: s.summary.last_interval_end_at if s.summary else None,
        # Last report says when the gateway uploaded; this finer point interests few.
        entity_registry_enabled_default=False,
        # Still the latest interval while the systems list reports no new upload.
        fetched_fn=lambda s: s.system_fetched_at,
    ),
    EnphaseSensorEntityDescription(
        key="battery_level",
        translation_key="battery_level",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        battery=True,
        exists_fn=lambda s: s.has_battery,
        fetched_fn=lambda s: s.battery_fetched_at,
        value_fn=lambda s: s.battery_level.percent if s.battery_level else None,
    ),
    EnphaseSensorEntityDescription(
        key="battery_power",
        translation_key="battery_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        battery=True,
        exists_fn=lambda s: s.has_battery,
        value_fn=_battery_power,
    ),
    # Ratings from the summary (the batteries' maximum power and capacity), not flows.
    EnphaseSensorEntityDescription(
        key="battery_max_charge_power",
        translation_key="battery_max_charge_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        battery=True,
        exists_fn=lambda s: s.has_battery,
        value_fn=lambda s: s.summary.battery_charge_w if s.summary else None,
    ),
    EnphaseSensorEntityDescription(
        key="battery_max_discharge_power",
        translation_key="battery_max_discharge_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        battery=True,
        exists_fn=lambda s: s.has_battery,
        value_fn=lambda s: s.summary.battery_discharge_w if s.summary else None,
    ),
    EnphaseSensorEntityDescription(
        key="battery_capacity",
        translation_key="battery_capacity",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        # A rating that never changes: useful to few, so it is not shown unless wanted.
        entity_registry_enabled_default=False,
        battery=True,
        exists_fn=lambda s: s.has_battery,
        value_fn=lambda s: s.summary.battery_capacity_wh if s.summary else None,
    ),
    EnphaseSensorEntityDescription(
        key="grid_state",
        translation_key="grid_state",
        device_class=SensorDeviceClass.ENUM,
        options=["on_grid", "off_grid"],
        exists_fn=lambda s: s.has_battery and s.control_permitted,
        fetched_fn=lambda s: s.config_fetched_at,
        value_fn=_grid_state,
    ),
)

BATTERY_COMMAND_SENSOR = SensorEntityDescription(
    key="battery_command",
    translation_key="battery_command",
    device_class=SensorDeviceClass.ENUM,
    options=[state.value for state in CommandState],
)


@dataclass(frozen=True, kw_only=True)
class EnphaseBudgetSensorEntityDescription(SensorEntityDescription):
    """A sensor of the account's API budget."""

    value_fn: Callable[[EnphaseCloudCoordinator], Value]


BUDGET_SENSORS: tuple[EnphaseBudgetSensorEntityDescription, ...] = (
    EnphaseBudgetSensorEntityDescription(
        key="api_calls_month",
        translation_key="api_calls_month",
        state_class=SensorStateClass.TOTAL_INCREASING,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda c: c.budget.used_this_month,
    ),
    EnphaseBudgetSensorEntityDescription(
        key="api_calls_remaining",
        translation_key="api_calls_remaining",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        # The quota less the calls this month: the calls sensor and the repair issue suffice.
        entity_registry_enabled_default=False,
        value_fn=lambda c: c.budget.remaining_this_month,
    ),
    EnphaseBudgetSensorEntityDescription(
        key="next_poll",
        translation_key="next_poll",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Changes at every poll, and a timestamp has no unit to keep it out of the
        # logbook: enabled, it adds a line to the service device's activity each poll.
        entity_registry_enabled_default=False,
        value_fn=lambda c: c.data.next_poll,
    ),
)


class EnphaseSystemSensor(EnphaseCloudEntity, SensorEntity):
    """A sensor of one system."""

    entity_description: EnphaseSensorEntityDescription

    def fetched_at(self) -> datetime | None:
        """Return when the data behind this sensor was fetched."""
        return self.entity_description.fetched_fn(self.snapshot)

    @property
    def native_value(self) -> Value:
        """Return the value from the latest snapshot."""
        return self.entity_description.value_fn(self.snapshot)


class EnphaseBatteryCommandSensor(EnphaseCloudEntity, SensorEntity):
    """Where the battery command of a system stands, and what it will restore."""

    def fetched_at(self) -> datetime | None:
        """Return None: the state comes from Home Assistant's own command engine."""
        return None

    @property
    def native_value(self) -> str:
        """Return idle, pending, active or restoring."""
        return self.coordinator.config_entry.runtime_data.commands.state(self.system_id).value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Return the running (or last) command's details."""
        return self.coordinator.config_entry.runtime_data.commands.attributes(self.system_id)

    async def async_added_to_hass(self) -> None:
        """Follow the command engine as well as the coordinator."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.coordinator.config_entry.runtime_data.commands.async_add_listener(
                self.async_write_ha_state
            )
        )


class EnphaseBudgetSensor(CoordinatorEntity[EnphaseCloudCoordinator], SensorEntity):
    """A sensor of the API budget the account's developer app shares.

    Follows the budget as well as the coordinator: other entries on the same API
    key spend the same budget between this entry's polls.
    """

    _attr_has_entity_name = True
    entity_description: EnphaseBudgetSensorEntityDescription

    def __init__(
        self,
        coordinator: EnphaseCloudCoordinator,
        description: EnphaseBudgetSensorEntityDescription,
    ) -> None:
        """Attach the sensor to the account's service device."""
        super().__init__(coordinator)
        self.entity_description = description
        account = coordinator.config_entry.unique_id
        self._attr_unique_id = f"{account}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, f"account_{account}")},
            entry_type=DeviceEntryType.SERVICE,
            manufacturer="Enphase Energy",
            model="Enlighten API v4",
            translation_key="account",
        )

    @property
    def native_value(self) -> Value:
        """Return the budget figure."""
        return self.entity_description.value_fn(self.coordinator)

    async def async_added_to_hass(self) -> None:
        """Follow the shared budget as well as the coordinator."""
        await super().async_added_to_hass()
        self.async_on_remove(self.coordinator.budget.async_add_listener(self.async_write_ha_state))


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add sensors for every system with the data for them, also for systems added later."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        EnphaseBudgetSensor(coordinator, description) for description in BUDGET_SENSORS
    )

    def _create(
        coordinator: EnphaseCloudCoordinator, snapshot: SystemSnapshot
    ) -> list[SensorEntity]:
        entities: list[SensorEntity] = [
            EnphaseSystemSensor(
                coordinator, snapshot.system_id, description, battery=description.battery
            )
            for description in SYSTEM_SENSORS
            if description.exists_fn(snapshot)
        ]
        commands = coordinator.config_entry.runtime_data.commands
        # A restore still owed (the plan was downgraded meanwhile) keeps the sensor that
        # says what it waits for; otherwise it goes with the control it reports on.
        if snapshot.has_battery and (
            snapshot.control_permitted or commands.status(snapshot.system_id).busy
        ):
            entities.append(
                EnphaseBatteryCommandSensor(
                    coordinator, snapshot.system_id, BATTERY_COMMAND_SENSOR, battery=True
                )
            )
        return entities

    async_add_system_entities(entry, async_add_entities, _create)
    _async_add_charger_sensors(entry, async_add_entities)


# --- IQ EV Chargers -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EnphaseChargerSensorEntityDescription(SensorEntityDescription):
    """A sensor of one IQ EV Charger."""

    value_fn: Callable[[ChargerSnapshot], Value]


def _session_energy(c: ChargerSnapshot) -> float | None:
    return None if c.session is None else round(c.session.energy_wh, 2)


CHARGER_SENSORS: tuple[EnphaseChargerSensorEntityDescription, ...] = (
    EnphaseChargerSensorEntityDescription(
        key="ev_status",
        translation_key="ev_status",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value for state in ChargerState],
        value_fn=lambda c: None if c.state is None else c.state.value,
    ),
    EnphaseChargerSensorEntityDescription(
        key="ev_power",
        translation_key="ev_power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda c: c.power_w,
    ),
    EnphaseChargerSensorEntityDescription(
        key="ev_session_energy",
        translation_key="ev_session_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=_session_energy,
    ),
    EnphaseChargerSensorEntityDescription(
        key="ev_session_start",
        translation_key="ev_session_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda c: None if c.session is None else c.session.start_at,
    ),
    EnphaseChargerSensorEntityDescription(
        key="ev_session_end",
        translation_key="ev_session_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda c: None if c.session is None else c.session.end_at,
    ),
    EnphaseChargerSensorEntityDescription(
        key="ev_lifetime_energy",
        translation_key="ev_lifetime_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=1,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda c: c.lifetime_wh,
    ),
)


class EnphaseChargerSensor(EnphaseChargerEntity, SensorEntity):
    """A sensor of one IQ EV Charger."""

    entity_description: EnphaseChargerSensorEntityDescription

    @property
    def native_value(self) -> Value:
        """Return the value from the charger's latest data."""
        charger = self.charger
        return None if charger is None else self.entity_description.value_fn(charger)


@callback
def _async_add_charger_sensors(
    entry: EnphaseCloudConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the sensors of every charger, also of chargers installed later."""
    async_add_charger_entities(
        entry,
        async_add_entities,
        lambda coordinator, charger: [
            EnphaseChargerSensor(coordinator, charger, description)
            for description in CHARGER_SENSORS
        ],
    )
