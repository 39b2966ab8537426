"""One-step Energy dashboard set-up: the exact statistics and power sensors of every system.

The imported statistics are the right choice for the Energy dashboard (complete and
exact however late Enphase reports), but a person picking them by hand meets a long
list. Once an entry's statistics exist, a fixable repair issue offers to add them;
its fix flow (`repairs.py`) shows what would be added and asks for confirmation.
Sources the user configured are never changed: a grid connection is added only when
none is configured, and nothing is added twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.energy.data import async_get_manager
from homeassistant.components.recorder.statistics import async_list_statistic_ids
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, issue_registry as ir

from .const import DOMAIN, LOGGER
from .statistics_writer import Stream, statistic_id

if TYPE_CHECKING:
    from homeassistant.core import CALLBACK_TYPE

    from .data import EnphaseCloudConfigEntry, SystemSnapshot

ISSUE_PREFIX: Final = "energy_setup_"


def issue_id(entry_id: str) -> str:
    """Return the id of the repair issue offering an entry's Energy set-up."""
    return f"{ISSUE_PREFIX}{entry_id}"


@dataclass(slots=True)
class EnergyProposal:
    """The sources the set-up would add, and what it leaves alone because the user has it."""

    sources: list[dict[str, Any]] = field(default_factory=list)
    kept_grid: bool = False
    """A grid connection the user configured exists: no Enphase grid meter is added."""

    def describe(self, names: dict[int, str]) -> str:
        """Return a Markdown list of the sources, named after their systems."""
        lines = [
            f"- {_LABELS[source['type']]}: {names[source['system_id']]}" for source in self.sources
        ]
        return "\n".join(lines)


_LABELS: Final = {
    "grid": "Grid import and export",
    "solar": "Solar production",
    "battery": "Battery",
}


def _entity(hass: HomeAssistant, system_id: int, key: str) -> str | None:
    """Return the entity id of a system's sensor, when it exists and is enabled."""
    registry = er.async_get(hass)
    entity_id = registry.async_get_entity_id(Platform.SENSOR, DOMAIN, f"{system_id}_{key}")
    if entity_id is None or (entry := registry.async_get(entity_id)) is None or entry.disabled:
        return None
    return entity_id


def _used(sources: list[dict[str, Any]]) -> set[str]:
    """Return every statistic or entity id the configured sources use."""
    used: set[str] = set()
    for source in sources:
        for key, value in source.items():
            if isinstance(value, str) and key.startswith("stat_"):
                used.add(value)
            elif key == "power_config" and isinstance(value, dict):
                used.update(str(item) for item in value.values())
    return used


def _system_sources(
    hass: HomeAssistant, snapshot: SystemSnapshot, stored: set[str]
) -> list[dict[str, Any]]:
    """Return the sources of one system whose statistics exist, tagged with its id."""
    system_id = snapshot.system_id

    def stat(stream: Stream) -> str | None:
        stat_id = statistic_id(system_id, stream)
        return stat_id if stat_id in stored else None

    sources: list[dict[str, Any]] = []
    if (grid_import := stat(Stream.GRID_IMPORT)) is not None:
        grid: dict[str, Any] = {
            "type": "grid",
            "stat_energy_from": grid_import,
            "stat_energy_to": stat(Stream.GRID_EXPORT),
            "stat_cost": None,
            "entity_energy_price": None,
            "number_energy_price": None,
            "stat_compensation": None,
            "entity_energy_price_export": None,
            "number_energy_price_export": None,
            "cost_adjustment_day": 0.0,
        }
        # Grid power is positive on import, as the Energy dashboard wants it.
        if (grid_power := _entity(hass, system_id, "grid_power")) is not None:
            grid["power_config"] = {"stat_rate": grid_power}
        sources.append(grid)
    if (production := stat(Stream.PRODUCTION)) is not None:
        solar: dict[str, Any] = {
            "type": "solar",
            "stat_energy_from": production,
            "config_entry_solar_forecast": None,
        }
        if (solar_power := _entity(hass, system_id, "production_power")) is not None:
            solar["stat_rate"] = solar_power
        sources.append(solar)
    discharge, charge = stat(Stream.BATTERY_DISCHARGE), stat(Stream.BATTERY_CHARGE)
    if discharge is not None and charge is not None:
        battery: dict[str, Any] = {
            "type": "battery",
            "stat_energy_from": discharge,
            "stat_energy_to": charge,
        }
        # Battery power is positive on discharge, as the Energy dashboard wants it.
        if (battery_power := _entity(hass, system_id, "battery_power")) is not None:
            battery["power_config"] = {"stat_rate": battery_power}
        if (soc := _entity(hass, system_id, "battery_level")) is not None:
            battery["stat_soc"] = soc
        sources.append(battery)
    for source in sources:
        source["system_id"] = system_id
    return sources


async def async_propose(hass: HomeAssistant, entry: EnphaseCloudConfigEntry) -> EnergyProposal:
    """Return what the set-up would add to the Energy preferences now."""
    snapshots = list(entry.runtime_data.coordinator.data.systems.values())
    wanted = {statistic_id(s.system_id, stream) for s in snapshots for stream in Stream}
    stored = {row["statistic_id"] for row in await async_list_statistic_ids(hass, wanted)}
    manager = await async_get_manager(hass)
    configured: list[dict[str, Any]] = (
        [dict(source) for source in manager.data["energy_sources"]] if manager.data else []
    )
    used = _used(configured)
    proposal = EnergyProposal()
    proposal.kept_grid = any(
        source["type"] == "grid" and source.get("stat_energy_from") not in wanted
        for source in configured
    )
    for snapshot in snapshots:
        for source in _system_sources(hass, snapshot, stored):
            if source["type"] == "grid" and proposal.kept_grid:
                continue
            if source["stat_energy_from"] in used:
                continue
            proposal.sources.append(source)
    return proposal


async def async_apply(hass: HomeAssistant, proposal: EnergyProposal) -> None:
    """Append the proposed sources to the Energy preferences, keeping every existing one."""
    manager = await async_get_manager(hass)
    configured = list(manager.data["energy_sources"]) if manager.data else []
    added = [{k: v for k, v in s.items() if k != "system_id"} for s in proposal.sources]
    await manager.async_update({"energy_sources": [*configured, *added]})  # type: ignore[typeddict-item]


async def async_offer(hass: HomeAssistant, entry: EnphaseCloudConfigEntry) -> bool:
    """Raise the repair issue when there is something to add; clear it otherwise.

    Returns whether the offer is settled (raised, or nothing left to add once every
    system's production statistic exists), so the caller stops checking.
    """
    snapshots = entry.runtime_data.coordinator.data.systems.values()
    proposal = await async_propose(hass, entry)
    if not proposal.sources:
        ir.async_delete_issue(hass, DOMAIN, issue_id(entry.entry_id))
        stored = await async_list_statistic_ids(
            hass, {statistic_id(s.system_id, Stream.PRODUCTION) for s in snapshots}
        )
        return len(stored) == len(snapshots)
    names = {s.system_id: s.system.name for s in snapshots}
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(entry.entry_id),
        is_fixable=True,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="energy_setup",
        translation_placeholders={"sources": proposal.describe(names)},
        data={"entry_id": entry.entry_id},
    )
    LOGGER.debug("Offering the Energy dashboard set-up (%s sources)", len(proposal.sources))
    return True


@callback
def async_track_offer(hass: HomeAssistant, entry: EnphaseCloudConfigEntry) -> CALLBACK_TYPE:
    """Offer the set-up once the entry's first statistics are imported; return the unsubscriber."""
    coordinator = entry.runtime_data.coordinator
    state = {"settled": False, "checking": False}

    async def _check() -> None:
        try:
            state["settled"] = await async_offer(hass, entry)
        except Exception:  # noqa: BLE001 - a busy or closing recorder; the next update asks again
            LOGGER.debug("The Energy dashboard offer could not be checked yet", exc_info=True)
        finally:
            state["checking"] = False

    @callback
    def _updated() -> None:
        if state["settled"] or state["checking"] or coordinator.data.history_in_progress:
            return
        state["checking"] = True
        entry.async_create_background_task(hass, _check(), f"{DOMAIN} energy set-up offer")

    _updated()
    return coordinator.async_add_listener(_updated)
