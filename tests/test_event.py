"""The event entity: each new Enphase event fires once, never again, not even after a restart."""

from __future__ import annotations

from datetime import timedelta
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE, STATE_UNKNOWN, Platform
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from .conftest import BATTERY_SYSTEM, SimHarness, run_until

EVENT = "event.casa_solar_enphase_event"
PLAIN_EVENT = "event.texas_ranch_enphase_event"


@pytest.fixture
def plan() -> str:
    """A paid plan: a bulk round every quarter hour."""
    return "kilowatt"


@pytest.fixture(autouse=True)
def only_events() -> object:
    """Set up the event platform alone."""
    with patch("custom_components.enphase_cloud.PLATFORMS", [Platform.EVENT]):
        yield


def fired(hass: HomeAssistant, entity_id: str) -> list[dict[str, object]]:
    """Record the events the entity fires from now on (one state change each).

    A reload restores the last event as the state again: that is no new firing.
    """
    seen: list[dict[str, object]] = []
    keys: set[tuple[object, ...]] = set()

    def _changed(event: Event) -> None:
        new = event.data["new_state"]
        if (
            event.data["entity_id"] != entity_id
            or new is None
            or new.state in {STATE_UNKNOWN, STATE_UNAVAILABLE}
        ):
            return
        key = (new.state, new.attributes.get("type"), new.attributes.get("started_at"))
        if key not in keys:
            keys.add(key)
            seen.append(dict(new.attributes))

    hass.bus.async_listen(EVENT_STATE_CHANGED, _changed)
    return seen


async def settle(hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int = 20) -> None:
    """Let the polls of the next `minutes` run (one bulk round on a paid plan)."""
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=minutes))


async def test_events(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await settle(hass, freezer, 2)
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


async def test_existing_events_are_not_fired_at_first_setup(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    config_entry: MockConfigEntry,
) -> None:
    simulator.sim.health.inject(BATTERY_SYSTEM, "battery_low_soc")
    seen = fired(hass, EVENT)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await settle(hass, freezer)
    assert seen == []
    assert hass.states.get(EVENT).state == STATE_UNKNOWN


async def test_new_event_fires_once_and_never_after_a_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
) -> None:
    await settle(hass, freezer, 2)
    seen = fired(hass, EVENT)
    simulator.sim.health.inject(BATTERY_SYSTEM, "battery_low_soc")
    await settle(hass, freezer)
    assert len(seen) == 1
    assert seen[0]["event_type"] == "open"
    assert seen[0]["type"] == "battery_low_soc"
    assert seen[0]["name"] == "Battery low state of charge"
    assert "below its low threshold" in str(seen[0]["description"])
    # More rounds, the event closing: nothing fires again.
    simulator.sim.health.clear(BATTERY_SYSTEM, "battery_low_soc")
    await settle(hass, freezer, 45)
    assert len(seen) == 1
    # A restart (the entry reloaded, its store read back): still nothing.
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await settle(hass, freezer, 45)
    assert len(seen) == 1
    # A new event after the restart fires.
    simulator.sim.health.inject(BATTERY_SYSTEM, "acb_sleeping")
    await settle(hass, freezer)
    assert [s["event_type"] for s in seen] == ["open", "info"]
    assert len(fired(hass, PLAIN_EVENT)) == 0


async def test_event_while_home_assistant_was_down_fires_after_start(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimHarness,
    init_integration: MockConfigEntry,
) -> None:
    await settle(hass, freezer, 2)
    assert await hass.config_entries.async_unload(init_integration.entry_id)
    simulator.sim.set_grid(BATTERY_SYSTEM, on=False)
    freezer.tick(timedelta(hours=2))
    simulator.sim.set_grid(BATTERY_SYSTEM, on=True)
    seen = fired(hass, EVENT)
    assert await hass.config_entries.async_setup(init_integration.entry_id)
    await settle(hass, freezer)
    assert [(s["event_type"], s["type"]) for s in seen] == [("closed", "grid_outage")]
