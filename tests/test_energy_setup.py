"""Tests for the one-step Energy dashboard set-up: the offer, the proposal and the result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.energy.data import async_get_manager
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from sqlalchemy.exc import SQLAlchemyError

from custom_components.enphase_cloud.const import DOMAIN
from custom_components.enphase_cloud.energy_setup import async_apply, async_propose, issue_id
from custom_components.enphase_cloud.repairs import EnergySetupFlow, async_create_fix_flow

from .conftest import BATTERY_SYSTEM, PLAIN_SYSTEM, run_until

# Past the first polls: the two days of history are imported by then.
IMPORTED_BY = datetime(2026, 6, 15, 19, 40, tzinfo=UTC)


async def _imported(
    hass: HomeAssistant, init_integration: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> MockConfigEntry:
    await async_setup_component(hass, "energy", {})
    await async_setup_component(hass, "repairs", {})
    await run_until(hass, freezer, IMPORTED_BY)
    await async_wait_recording_done(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    return init_integration


async def _validate(client: Any) -> dict[str, Any]:
    await client.send_json_auto_id({"type": "energy/validate"})
    answer = await client.receive_json()
    assert answer["success"], answer
    result: dict[str, Any] = answer["result"]
    return result


async def test_offer_and_clean_validation(
    hass: HomeAssistant,
    recorder_mock: Recorder,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
    hass_admin_user: MockUser,
) -> None:
    """Once statistics exist a fixable issue offers the set-up; its result validates clean."""
    entry = await _imported(hass, init_integration, freezer)
    # A token minted now: the test's own one expired while the clock moved on.
    refresh = await hass.auth.async_create_refresh_token(hass_admin_user, "http://127.0.0.1/")
    client = await hass_ws_client(hass, hass.auth.async_create_access_token(refresh))
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id(entry.entry_id))
    assert issue is not None
    assert issue.is_fixable
    assert "Casa Solar" in (issue.translation_placeholders or {})["sources"]

    flow = await async_create_fix_flow(hass, issue.issue_id, issue.data)
    assert isinstance(flow, EnergySetupFlow)
    flow.hass = hass
    form = await flow.async_step_init()
    assert form["type"] == "form"
    assert "Texas Ranch" in form["description_placeholders"]["sources"]
    done = await flow.async_step_confirm({})
    assert done["type"] == "create_entry"

    manager = await async_get_manager(hass)
    assert manager.data is not None
    sources = manager.data["energy_sources"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for source in sources:
        by_type.setdefault(source["type"], []).append(dict(source))
    assert {s["stat_energy_from"] for s in by_type["solar"]} == {
        f"{DOMAIN}:{BATTERY_SYSTEM}_production",
        f"{DOMAIN}:{PLAIN_SYSTEM}_production",
    }
    (grid,) = by_type["grid"]
    assert grid["stat_energy_from"] == f"{DOMAIN}:{BATTERY_SYSTEM}_grid_import"
    assert grid["stat_energy_to"] == f"{DOMAIN}:{BATTERY_SYSTEM}_grid_export"
    assert grid["stat_rate"].startswith("sensor.")
    (battery,) = by_type["battery"]
    assert battery["stat_energy_from"] == f"{DOMAIN}:{BATTERY_SYSTEM}_battery_discharge"
    assert battery["stat_energy_to"] == f"{DOMAIN}:{BATTERY_SYSTEM}_battery_charge"
    assert battery["stat_soc"].startswith("sensor.")
    assert battery["stat_rate"].startswith("sensor.")

    # The power sensors' statistics exist from Home Assistant's next 5-minute compile on.
    do_adhoc_statistics(hass, start=datetime(2026, 6, 15, 19, 30, tzinfo=UTC))
    await async_wait_recording_done(hass)
    validation = await _validate(client)
    issues = [i for group in validation["energy_sources"] for i in group]
    assert issues == []
    assert len(validation["energy_sources"]) == len(sources)

    # Nothing is left to add, and the issue goes away once the set-up is done.
    assert (await async_propose(hass, entry)).sources == []
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id(entry.entry_id)) is None


async def test_user_sources_are_kept(
    hass: HomeAssistant,
    recorder_mock: Recorder,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A grid connection and a solar source the user configured stay; no duplicate is added."""
    entry = await _imported(hass, init_integration, freezer)
    manager = await async_get_manager(hass)
    own_grid = {
        "type": "grid",
        "stat_energy_from": "sensor.utility_meter_import",
        "stat_energy_to": None,
        "stat_cost": None,
        "entity_energy_price": None,
        "number_energy_price": 0.3,
        "stat_compensation": None,
        "entity_energy_price_export": None,
        "number_energy_price_export": None,
        "cost_adjustment_day": 0.0,
    }
    own_solar = {
        "type": "solar",
        "stat_energy_from": f"{DOMAIN}:{PLAIN_SYSTEM}_production",
        "config_entry_solar_forecast": None,
    }
    await manager.async_update({"energy_sources": [own_grid, own_solar]})  # type: ignore[typeddict-item]

    proposal = await async_propose(hass, entry)
    assert proposal.kept_grid
    assert {s["type"] for s in proposal.sources} == {"solar", "battery"}
    assert [s["system_id"] for s in proposal.sources if s["type"] == "solar"] == [BATTERY_SYSTEM]
    await async_apply(hass, proposal)
    assert manager.data is not None
    sources = manager.data["energy_sources"]
    assert sources[0] == own_grid
    assert sources[1] == own_solar
    assert len(sources) == 4


async def test_fix_flow_aborts_when_nothing_to_add(
    hass: HomeAssistant,
    recorder_mock: Recorder,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The fix flow says so when the dashboard already has everything, or the entry is gone."""
    entry = await _imported(hass, init_integration, freezer)
    await async_apply(hass, await async_propose(hass, entry))
    flow = EnergySetupFlow(entry.entry_id)
    flow.hass = hass
    result = await flow.async_step_init()
    assert result["type"] == "abort"
    assert result["reason"] == "energy_nothing_to_add"
    gone = EnergySetupFlow("unknown")
    gone.hass = hass
    assert (await gone.async_step_init())["reason"] == "entry_not_loaded"


async def test_offer_waits_out_a_failing_recorder(
    hass: HomeAssistant,
    recorder_mock: Recorder,
    init_integration: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A recorder query that fails (busy, closing) leaves no error behind; a later poll offers."""
    failed: list[str] = []

    async def _busy(*_: object) -> list[dict[str, Any]]:
        failed.append("busy")
        raise SQLAlchemyError

    monkeypatch.setattr(
        "custom_components.enphase_cloud.energy_setup.async_list_statistic_ids", _busy
    )
    entry = await _imported(hass, init_integration, freezer)
    assert failed
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id(entry.entry_id)) is None

    monkeypatch.undo()
    # The next poll (hourly on the free plan) asks again.
    await run_until(hass, freezer, IMPORTED_BY + timedelta(minutes=61))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id(entry.entry_id)) is not None
