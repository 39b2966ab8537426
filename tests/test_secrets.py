"""No secret or personal datum leaves the integration: logs, exceptions, repairs, diagnostics.

The whole integration runs at DEBUG level through setup, polls, a protocol
failure, a refused token, a dead login (reauth), actions that fail and
diagnostics; every log record (with its exception and the exception's chain),
every repair issue and the diagnostics dump are scanned for the tokens, the API
key, the client secret, the e-mail, addresses and serial numbers the simulator
issued. Zero hits.
"""

from __future__ import annotations

from dataclasses import astuple
from datetime import timedelta
import logging
import traceback

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.enphase_cloud.diagnostics import async_get_config_entry_diagnostics
from enphase_simulator.errors import KEY_INVALID
from enphase_simulator.simulator import DEFAULT_EMAIL

from .battery_helpers import STORM_GUARD_SWITCH, call, requested
from .conftest import API_KEY, CLIENT_SECRET, SimHarness, run_until


@pytest.fixture
def plan() -> str:
    """Battery control (and its actions) needs the Megawatt plan."""
    return "megawatt"


def _secrets(simulator: SimHarness, entry: MockConfigEntry, seen_tokens: set[str]) -> set[str]:
    found = {API_KEY, CLIENT_SECRET, DEFAULT_EMAIL, *seen_tokens}
    for token in (entry.data["token"]["access_token"], entry.data["token"]["refresh_token"]):
        found.add(token)
    for spec in simulator.sim.world.systems.values():
        address = spec.address
        found.update(str(part) for part in astuple(address) if len(str(part)) > 3)
        found.update({str(spec.latitude), str(spec.longitude)})
    coordinator = entry.runtime_data.coordinator
    for snapshot in coordinator.data.systems.values():
        devices = snapshot.devices
        for group in (devices.micros, devices.meters, devices.gateways, devices.encharges):
            found.update(device.serial_number for device in group if device.serial_number)
    # The country code alone ("US") is not personal; everything else is.
    return {secret for secret in found if secret and secret != "US"}


def _texts(record: logging.LogRecord) -> list[str]:
    texts = [record.getMessage()]
    if record.exc_info and record.exc_info[1] is not None:
        texts.append("".join(traceback.format_exception(record.exc_info[1])))
    return texts


def _record_action_error(caplog: pytest.LogCaptureFixture, err: Exception) -> None:
    """Add an action's error (message and chain) to the texts checked, as HA would show it."""
    record = logging.LogRecord("action", logging.ERROR, "", 0, "%s", (err,), None)
    record.exc_info = (type(err), err, None)
    caplog.records.append(record)


async def test_nothing_secret_or_personal_escapes(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    simulator: SimHarness,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = {init_integration.data["token"]["access_token"]}
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=20))
    # A protocol failure, a connection failure and a refused (but refreshable) token.
    simulator.sim.add_fault(kind="malformed", path="*summary")
    simulator.sim.add_fault(kind="truncated", path="*devices")
    simulator.sim.add_fault(500, details=f"backend down for {API_KEY}")
    simulator.sim.expire_access_tokens()
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=40))
    tokens.add(init_integration.data["token"]["access_token"])
    # Actions failing: a key refused (reauth) and a malformed answer.
    for fault in ({"kind": "malformed"}, {"status": 401, "details": KEY_INVALID}):
        simulator.sim.add_fault(path="*storm_guard", **fault)
        with pytest.raises(HomeAssistantError) as caught:
            await hass.services.async_call(
                SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: STORM_GUARD_SWITCH}, blocking=True
            )
        _record_action_error(caplog, caught.value)
    # A battery command that runs and is restored, then one Enphase fails.
    await call(hass, "hold_reserve", target_reserve=80, duration={"minutes": 5})
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=10))
    assert requested(simulator)[1] != 80
    simulator.sim.add_fault(500, path="*battery_settings", details=f"backend down for {API_KEY}")
    with pytest.raises(HomeAssistantError) as failed:
        await call(hass, "hold_reserve", target_reserve=80)
    _record_action_error(caplog, failed.value)
    # The login dies: the refresh fails, reauth starts.
    simulator.sim.revoke()
    simulator.sim.expire_access_tokens()
    await run_until(hass, freezer, dt_util.utcnow() + timedelta(minutes=20))
    # Called directly: Home Assistant's own HTTP login has expired on the moved clock.
    diagnostics = await async_get_config_entry_diagnostics(hass, init_integration)
    secrets = _secrets(simulator, init_integration, tokens)
    assert len(secrets) > 5

    # Not Home Assistant's logs: the test harness's storage mock (it logs every file it
    # writes) and the simulator's side of the wire (its server's access log).
    foreign = ("pytest_homeassistant", "aiohttp.access", "enphase_simulator")
    records = [r for r in caplog.records if not r.name.startswith(foreign)]
    texts = [text for record in records for text in _texts(record)]
    assert any("refreshing it once" in text for text in texts)  # the paths above really ran
    texts += [repr(issue.translation_placeholders) for issue in issue_registry.issues.values()]
    texts.append(repr(diagnostics))
    hits = [(secret, text[:200]) for text in texts for secret in secrets if secret in text]
    assert hits == []
