#!/usr/bin/env python3
"""A homeowner's journey in a real browser: `script/e2e [--screenshots DIR]` runs this.

It starts the Enphase simulator and a real Home Assistant (with its frontend) on free
127.0.0.1 ports with a throw-away configuration, and drives Debian's Chromium through
Playwright the way a person would: onboarding; adding the integration (application
credentials, API key, Enphase's consent page) including a wrong client secret, a
denied consent and a wrong API key; the devices; the one-step Energy set-up and the
Energy dashboard; a battery action from Developer tools (refused, then pending ->
active, cancelled -> restored); reauthentication; diagnostics.

Every step saves a screenshot and fails on: a raw translation key or placeholder,
an error toast, an error of the integration in Home Assistant's log, a raw ISO time
or a raw id in what the page shows, or taking longer than its bound.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import re
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any
from urllib import request

from playwright.async_api import BrowserContext, Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "script"))

from ha_config import write as write_config  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OWNER = {"name": "Homeowner", "username": "owner", "password": "e2e-Passw0rd-long"}
CLIENT_ID, CLIENT_SECRET, API_KEY = "demo-client", "demo-secret", "demo-key"
UI_BOUND_S = 2.0
# An action that writes to Enphase waits for Enphase's answer before the UI can show it.
ACTION_BOUND_S = 4.0
FIRST_LOAD_BOUND_S = 6.0
BATTERY_SYSTEM = 1001

# What a person must never see.
RAW_KEY = re.compile(r"\b(?:component|ui|state_attributes|config_entry)\.[a-z0-9_]+\.[a-z0-9_.]+")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
RAW_ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
RAW_ID = re.compile(r"\b(?:[0-9A-HJKMNP-TV-Z]{26}|[0-9a-f]{32})\b")
ERROR_TOAST = re.compile(r"fail|error|unable|unknown|not found|invalid", re.IGNORECASE)

# Visible text of the page, through every open shadow root.
DEEP_TEXT_JS = """() => {
  const out = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) {
      const text = node.textContent.trim();
      if (text) out.push(text);
      return;
    }
    if (node.nodeType === Node.ELEMENT_NODE) {
      if (["SCRIPT", "STYLE", "TEMPLATE"].includes(node.tagName)) return;
      const style = getComputedStyle(node);
      if (style.display === "none" || style.visibility === "hidden") return;
      if (node.shadowRoot) walk(node.shadowRoot);
    }
    for (const child of node.childNodes) walk(child);
  };
  walk(document.body);
  return out.join("\\n");
}"""
TOASTS_JS = """() => {
  const found = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.tagName === "HA-TOAST" && el.open !== false) found.push(el.labelText || el.textContent || "");
      if (el.shadowRoot) walk(el.shadowRoot);
    }
  };
  walk(document);
  return found;
}"""


class JourneyError(RuntimeError):
    """A step of the journey failed."""


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_json(url: str, body: dict[str, Any] | None = None, method: str | None = None) -> Any:  # noqa: ANN401 - JSON of any shape
    """Call the simulator's admin API (127.0.0.1 only)."""
    if not url.startswith("http://127.0.0.1:"):
        msg = f"not a local URL: {url}"
        raise JourneyError(msg)
    data = json.dumps(body).encode() if body is not None else None
    req = request.Request(  # noqa: S310 - checked above
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with request.urlopen(req, timeout=10) as response:  # noqa: S310 - checked above
        return json.loads(response.read() or b"null")


@dataclass
class Journey:
    """The running services, the browser page and the checks every step makes."""

    shots: Path
    ha_url: str
    sim_url: str
    log: Path
    page: Page
    context: BrowserContext
    index: int = 0
    log_offset: int = 0
    timings: list[tuple[str, float, float]] = field(default_factory=list)

    async def text(self) -> str:
        """Return the visible text of the page."""
        result: str = await self.page.evaluate(DEEP_TEXT_JS)
        return result

    def new_log_errors(self) -> list[str]:
        """Return the integration's errors logged since the last check."""
        with self.log.open(encoding="utf-8", errors="replace") as handle:
            handle.seek(self.log_offset)
            lines = handle.read().splitlines()
            self.log_offset = handle.tell()
        return [
            line
            for line in lines
            if (" ERROR " in line or " CRITICAL " in line)
            and ("enphase_cloud" in line or "custom_components" in line)
        ]

    async def check(self, name: str, *, allow_iso: bool = False, allow_toast: bool = False) -> str:
        """Screenshot the page and fail on anything a person must not see."""
        self.index += 1
        shot = self.shots / f"{self.index:02d}-{name}.png"
        await self.page.screenshot(path=str(shot))
        text = await self.text()
        problems: list[str] = []
        problems += [f"raw translation key {m!r}" for m in RAW_KEY.findall(text)]
        problems += [f"raw placeholder {m!r}" for m in PLACEHOLDER.findall(text)]
        if not allow_iso:
            problems += [f"raw ISO time {m!r}" for m in RAW_ISO.findall(text)]
            problems += [f"raw id {m!r}" for m in RAW_ID.findall(text)]
        if not allow_toast:
            toasts = await self.page.evaluate(TOASTS_JS)
            problems += [f"error toast {t!r}" for t in toasts if ERROR_TOAST.search(t)]
        problems += [f"logged: {line}" for line in self.new_log_errors()]
        if problems:
            msg = f"step {name} ({shot.name}): " + "; ".join(problems)
            raise JourneyError(msg)
        return text

    @contextlib.asynccontextmanager
    async def step(
        self, name: str, bound_s: float, *, allow_iso: bool = False, allow_toast: bool = False
    ) -> AsyncIterator[None]:
        """Time a step against its bound, then check and screenshot what it shows."""
        began = time.monotonic()
        try:
            yield
        except Exception:
            self.index += 1
            await self.page.screenshot(path=str(self.shots / f"{self.index:02d}-{name}-FAILED.png"))
            raise
        took = time.monotonic() - began
        self.timings.append((name, took, bound_s))
        print(f"  {name}: {took:.2f} s (bound {bound_s:.0f} s)", flush=True)
        if took > bound_s:
            msg = f"step {name} took {took:.2f} s, more than its bound of {bound_s} s"
            raise JourneyError(msg)
        await self.check(name, allow_iso=allow_iso, allow_toast=allow_toast)

    async def expect_text(self, needle: str, timeout_s: float = 10) -> None:
        """Wait until the page shows `needle`."""
        deadline = time.monotonic() + timeout_s
        while needle not in await self.text():
            if time.monotonic() > deadline:
                msg = f"the page never showed {needle!r}"
                raise JourneyError(msg)
            await asyncio.sleep(0.1)

    async def ws(self, message: dict[str, Any]) -> Any:  # noqa: ANN401 - JSON of any shape
        """Send a websocket command through the frontend's own connection."""
        return await self.page.evaluate(
            "(msg) => document.querySelector('home-assistant').hass.callWS(msg)", message
        )

    async def wait_for(
        self, what: str, probe: Callable[[], Awaitable[bool]], timeout_s: float
    ) -> None:
        """Wait until `probe` holds."""
        deadline = time.monotonic() + timeout_s
        while not await probe():
            if time.monotonic() > deadline:
                msg = f"timed out waiting for {what}"
                raise JourneyError(msg)
            await asyncio.sleep(0.5)


async def onboarding(j: Journey) -> None:
    """Create the owner account and finish the onboarding."""
    page = j.page
    async with j.step("onboarding-welcome", 15):
        await page.goto(j.ha_url)
        await page.get_by_role("button", name="Create my smart home").wait_for()
    async with j.step("onboarding-user", UI_BOUND_S):
        await page.get_by_role("button", name="Create my smart home").click()
        await page.locator("input[name=name]").fill(OWNER["name"])
    await page.locator("input[name=username]").fill(OWNER["username"])
    await page.locator("input[name=password]").fill(OWNER["password"])
    await page.locator("input[name=password_confirm]").fill(OWNER["password"])
    await page.get_by_role("button", name="Create account").click()
    # Location, country, analytics: keep the defaults.
    deadline = time.monotonic() + 60
    while "/onboarding" in page.url and time.monotonic() < deadline:
        for label in ("Next", "Finish"):
            button = page.get_by_role("button", name=label, exact=True)
            with contextlib.suppress(Exception):
                if await button.count() and await button.first.is_enabled():
                    await button.first.click(timeout=1000)
        await page.wait_for_timeout(500)
    async with j.step("home", 15):
        await page.wait_for_url(re.compile(r"/(lovelace|home)"), timeout=15000)
        await page.wait_for_load_state("networkidle")


async def start_adding(j: Journey) -> None:
    """Open Add integration and pick Enphase Cloud, as a person would."""
    page = j.page
    await page.goto(f"{j.ha_url}/config/integrations/dashboard")
    await page.get_by_role("button", name="Add integration").wait_for()
    await page.get_by_role("button", name="Add integration").click()
    await page.get_by_placeholder("Search for a brand name").fill("Enphase")
    await page.get_by_text("Enphase Cloud", exact=True).first.click()


async def add_wrong_secret(j: Journey) -> None:
    """Application credentials with a wrong secret: our text says where to fix them."""
    page = j.page
    async with j.step("credentials-dialog", 15):
        await start_adding(j)
        await page.get_by_text("Add application credentials").first.wait_for()
    await add_credentials(j, "Enphase (typo)", CLIENT_SECRET + "-typo")
    await enter_api_key(j, API_KEY, "api-key")
    async with j.step("oauth-unauthorized", 10):
        await consent(j, approve=True)
        await j.expect_text("Enphase rejected the client ID or client secret")
        await j.expect_text("Application credentials")
    await close_dialog(j)
    # The person follows the text and deletes the wrong credential (through the
    # frontend's own connection: the same call as the credentials page's delete).
    for item in await j.ws({"type": "application_credentials/list"}):
        await j.ws(
            {"type": "application_credentials/delete", "application_credentials_id": item["id"]}
        )


async def add_denied(j: Journey) -> None:
    """Right credentials, but the consent is denied at Enphase: our text says what to do."""
    page = j.page
    async with j.step("credentials-dialog-again", 10):
        await start_adding(j)
        await page.get_by_text("Add application credentials").first.wait_for()
    await add_credentials(j, "Enphase", CLIENT_SECRET)
    await enter_api_key(j, API_KEY, "api-key-denied")
    async with j.step("consent-denied", 10):
        await consent(j, approve=False)
        await j.expect_text("access was denied on Enphase's page")
    await close_dialog(j)


async def add_entry(j: Journey) -> None:
    """A wrong API key is asked again after the login; the right one creates the entry."""
    page = j.page
    async with j.step("api-key-first", 10):
        await start_adding(j)
        await j.expect_text("Enphase API key")
    await enter_api_key(j, "not-my-key", "api-key-wrong")
    async with j.step("api-key-again", 10):
        await consent(j, approve=True)
        await j.expect_text("You are logged in to Enphase, but the API key did not work")
        await j.expect_text("Enphase does not know this API key")
    await page.locator("input[name=api_key]").fill(API_KEY)
    async with j.step("entry-created", 10):
        await page.get_by_role("button", name="Submit").click()
        await j.expect_text("Connected to Enphase.")
    await page.get_by_role("button", name="Skip and finish").click()


async def devices(j: Journey) -> None:
    """The entry is named after the systems; each system is a device."""
    page = j.page
    async with j.step("integration-page", 10):
        await page.goto(f"{j.ha_url}/config/integrations/integration/enphase_cloud")
        await j.expect_text("Casa Solar and Texas Ranch")
    async with j.step("devices", 10):
        await page.goto(f"{j.ha_url}/config/devices/dashboard")
        await j.expect_text("Texas Ranch")
        await j.expect_text("Casa Solar battery")


async def energy(j: Journey) -> None:
    """The set-up is offered as a repair; confirmed, the Energy dashboard shows today."""
    page = j.page

    async def offered() -> bool:
        issues = (await j.ws({"type": "repairs/list_issues"}))["issues"]
        return any(
            i["domain"] == "enphase_cloud" and i["issue_id"].startswith("energy_setup_")
            for i in issues
        )

    # The first poll imports the history, then the set-up is offered. The person asks
    # for fresh data (Update entity) rather than waiting for the next quarter hour.
    await j.ws(
        {
            "type": "call_service",
            "domain": "homeassistant",
            "service": "update_entity",
            "service_data": {"entity_id": "sensor.casa_solar_solar_power"},
        }
    )
    await j.wait_for("the Energy set-up offer", offered, 150)
    async with j.step("repairs", 10):
        await page.goto(f"{j.ha_url}/config/repairs")
        await j.expect_text("Show your Enphase systems in the Energy dashboard")
    async with j.step("energy-setup-confirm", UI_BOUND_S * 2):
        await page.get_by_text("Show your Enphase systems in the Energy dashboard").first.click()
        await j.expect_text("Solar production: Casa Solar")
    async with j.step("energy-setup-done", UI_BOUND_S * 2):
        await page.get_by_role("button", name="Submit").click()
        await j.expect_text("Success")
    prefs = await j.ws({"type": "energy/get_prefs"})
    kinds = sorted(source["type"] for source in prefs["energy_sources"])
    if kinds != ["battery", "grid", "solar", "solar"]:
        msg = f"unexpected Energy sources {kinds}"
        raise JourneyError(msg)
    validation = await j.ws({"type": "energy/validate"})
    problems = [i for group in validation["energy_sources"] for i in group]
    print(f"  energy/validate: {problems or 'clean'}")
    async with j.step("energy-dashboard", 15):
        await page.goto(f"{j.ha_url}/energy")
        await j.expect_text("Solar")
        await page.wait_for_load_state("networkidle")


async def run_action(j: Journey, yaml: str) -> None:
    """Type an action in Developer tools' YAML mode and perform it."""
    page = j.page
    editor = page.locator(".cm-content").first
    await editor.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(yaml)
    await page.get_by_role("button", name="Perform action").click()


async def command_state(j: Journey) -> str:
    """Return the state of Casa Solar's battery command sensor."""
    state: str = await page_state(j, "sensor.casa_solar_battery_command")
    return state


async def page_state(j: Journey, entity_id: str) -> str:
    """Return an entity's state as the frontend knows it."""
    state: str = await j.page.evaluate(
        "(id) => document.querySelector('home-assistant').hass.states[id]?.state", entity_id
    )
    return state


async def actions(j: Journey) -> None:
    """hold_reserve from Developer tools: refused with a message, then pending, active, cancelled."""
    page = j.page
    async with j.step("developer-tools", 10):
        await page.goto(f"{j.ha_url}/developer-tools/action")
        await page.get_by_role("button", name=re.compile("YAML mode")).first.click()
        await page.locator(".cm-content").first.wait_for()
    async with j.step("action-refused", UI_BOUND_S, allow_toast=True):
        await run_action(
            j,
            "action: enphase_cloud.hold_reserve\ndata:\n  system_id: 1002\n  target_reserve: 80\n",
        )
        await j.expect_text("has no IQ Battery")
    # The action's response is data for automations (command id, ISO times), shown
    # as YAML by Developer tools: the raw-value checks do not apply to that step.
    async with j.step("action-pending", ACTION_BOUND_S, allow_iso=True):
        await run_action(
            j,
            "action: enphase_cloud.hold_reserve\ndata:\n  system_id: 1001\n  target_reserve: 80\n",
        )
        await j.wait_for("the command pending", lambda: _is(j, "pending"), ACTION_BOUND_S)
    # The simulator applies settings after a few seconds (--apply-delay).
    await j.wait_for("the command active", lambda: _is(j, "active"), 90)
    async with j.step("action-cancel", ACTION_BOUND_S, allow_iso=True):
        await run_action(j, "action: enphase_cloud.cancel_command\ndata:\n  system_id: 1001\n")
        await j.wait_for(
            "the command ended", lambda: _is(j, "idle", "restoring", "restored"), ACTION_BOUND_S
        )
    await j.wait_for("the settings restored", lambda: _restored(j), 90)
    async with j.step("command-restored", 10):
        await page.goto(f"{j.ha_url}/config/devices/dashboard")
        await j.expect_text("Casa Solar battery")


async def _is(j: Journey, *states: str) -> bool:
    return await command_state(j) in states


async def _restored(j: Journey) -> bool:
    battery = http_json(f"{j.sim_url}/_sim/systems/{BATTERY_SYSTEM}/battery")
    return json.dumps(battery).count("80") == 0 and await command_state(j) not in {
        "pending",
        "active",
    }


async def reauth(j: Journey) -> None:
    """Access revoked at Enphase: log in again from the integration page; our text ends it."""
    page = j.page
    http_json(f"{j.sim_url}/_sim/revoke", {})
    entries = await j.ws({"type": "config_entries/get", "domain": "enphase_cloud"})
    # The entry notices at its next call to Enphase; reloading makes that call now.
    await page.evaluate(
        "(id) => document.querySelector('home-assistant').hass.callApi('POST', `config/config_entries/entry/${id}/reload`)",
        entries[0]["entry_id"],
    )

    async def asked() -> bool:
        flows = await j.ws({"type": "config_entries/flow/progress"})
        return any(
            f["handler"] == "enphase_cloud" and f["context"]["source"] == "reauth" for f in flows
        )

    await j.wait_for("the reauthentication request", asked, 30)
    async with j.step("reauth-offered", 10):
        await page.goto(f"{j.ha_url}/config/integrations/dashboard")
        await j.expect_text("Reconfigure")
    async with j.step("reauth-form", UI_BOUND_S * 2):
        await page.get_by_role("button", name="Reconfigure").first.click()
        await j.expect_text("Log in to Enphase again")
    async with j.step("reauth-done", 10):
        await consent(j, approve=True)
        await j.expect_text("Logged in again.")
    await close_dialog(j)


async def diagnostics(j: Journey) -> None:
    """The diagnostics file holds what helps and none of the secrets."""
    entries = await j.ws({"type": "config_entries/get", "domain": "enphase_cloud"})
    text = await j.page.evaluate(
        """async (id) => {
          const hass = document.querySelector('home-assistant').hass;
          const r = await fetch(`/api/diagnostics/config_entry/${id}`,
            {headers: {Authorization: `Bearer ${hass.auth.data.access_token}`}});
          return await r.text();
        }""",
        entries[0]["entry_id"],
    )
    (j.shots / "diagnostics.json").write_text(text, encoding="utf-8")
    leaked = [
        s
        for s in (CLIENT_ID, CLIENT_SECRET, API_KEY, "demo@example.com", 'access_token": "ey')
        if s in text
    ]
    if leaked or "battery_commands" not in text or "__type" in text:
        msg = f"diagnostics: leaked {leaked} or incomplete"
        raise JourneyError(msg)
    print("  diagnostics: no secret, battery command and dates present")


async def add_credentials(j: Journey, name: str, secret: str) -> None:
    """Fill the application credentials dialog, its required Name field included."""
    page = j.page
    await page.locator("input[name=name]").fill(name)
    await page.locator("input[name=clientId]").fill(CLIENT_ID)
    await page.locator("input[name=clientSecret]").fill(secret)
    # The first flow imports the integration's code: a one-time cost beyond a UI step.
    async with j.step("credentials-added", FIRST_LOAD_BOUND_S):
        await page.get_by_role("button", name="Add", exact=True).click()
        await j.expect_text("Enphase API key")


async def enter_api_key(j: Journey, key: str, shot: str) -> None:
    """Fill the API key and choose the Megawatt plan."""
    page = j.page
    await page.locator("input[name=api_key]").fill(key)
    await page.locator("ha-select ha-picker-field").last.click()
    async with j.step(f"{shot}-plan", UI_BOUND_S):
        await page.get_by_role("menuitem", name=re.compile("^Megawatt")).click()


async def consent(j: Journey, *, approve: bool, button: str = "Submit") -> None:
    """Open Enphase's (the simulator's) consent page from the flow and decide."""
    page = j.page
    async with j.context.expect_page(timeout=10000) as popup_info:
        await page.get_by_role("button", name=button).click()
    popup = await popup_info.value
    await popup.wait_for_load_state()
    shot = j.shots / f"{j.index + 1:02d}-enphase-consent.png"
    j.index += 1
    await popup.screenshot(path=str(shot))
    await popup.get_by_role("button", name="Approve" if approve else "Deny").click()
    # Home Assistant's callback page closes the window (maybe before we listen).
    deadline = time.monotonic() + 10
    while not popup.is_closed():
        if time.monotonic() > deadline:
            msg = "the Enphase window did not close after the decision"
            raise JourneyError(msg)
        await asyncio.sleep(0.1)


async def close_dialog(j: Journey) -> None:
    """Close the flow dialog."""
    await j.page.get_by_role("button", name="Close").first.click()


def main_sync(args: argparse.Namespace) -> int:
    """Start everything, walk the journey, stop everything; return the exit status."""
    shots = Path(args.screenshots).resolve()
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="enphase-e2e-") as tmp:
        config = Path(tmp) / "config"
        ha_port, sim_port = free_port(), free_port()
        write_config(config, ha_port)
        sim_url, ha_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{ha_port}"
        python = str(ROOT / ".venv" / "bin" / "python")
        sim = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [python, "-m", "enphase_simulator", "--host", "127.0.0.1", "--port", str(sim_port),
             "--plan", "megawatt", "--apply-delay", "5"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        env = {**os.environ, "ENPHASE_CLOUD_BASE_URL": sim_url}
        ha = subprocess.Popen(  # noqa: S603 - our own interpreter and Home Assistant
            [python, "-m", "homeassistant", "--config", str(config)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            asyncio.run(wait_http(f"{ha_url}/manifest.json", 120))
            # Onboarding waits for the end of the start-up (first starts install packages).
            asyncio.run(
                wait_log(config / "home-assistant.log", "Home Assistant initialized in", 180)
            )
            print(f"Home Assistant up after {time.monotonic() - began:.1f} s", flush=True)
            asyncio.run(run(args, shots, ha_url, sim_url, config / "home-assistant.log"))
        finally:
            for proc in (ha, sim):
                proc.terminate()
            for proc in (ha, sim):
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(f"e2e: passed in {time.monotonic() - began:.0f} s; screenshots in {shots}")
    return 0


async def wait_log(log: Path, needle: str, timeout_s: float) -> None:
    """Wait until Home Assistant's log holds `needle`."""
    deadline = time.monotonic() + timeout_s
    while not (log.exists() and needle in log.read_text(encoding="utf-8", errors="replace")):  # noqa: ASYNC240 - a small local file, polled
        if time.monotonic() > deadline:
            msg = f"Home Assistant did not finish starting within {timeout_s} s"
            raise JourneyError(msg)
        await asyncio.sleep(0.5)


async def wait_http(url: str, timeout_s: float) -> None:
    """Wait until `url` answers."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await asyncio.to_thread(request.urlopen, url, timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                msg = f"{url} did not answer within {timeout_s} s"
                raise JourneyError(msg) from None
            await asyncio.sleep(0.5)
        else:
            return


async def run(args: argparse.Namespace, shots: Path, ha_url: str, sim_url: str, log: Path) -> None:
    """Drive the browser through the journey."""
    async with async_playwright() as playwright:
        with tempfile.TemporaryDirectory(prefix="enphase-e2e-chromium-") as profile:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900},
                locale="en-US",
                timezone_id="America/Los_Angeles",
            )
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(15000)
            journey = Journey(
                shots=shots, ha_url=ha_url, sim_url=sim_url, log=log, page=page, context=context
            )
            try:
                for part in PARTS:
                    if args.until and part.__name__ == args.until:
                        break
                    print(f"{part.__name__}", flush=True)
                    await part(journey)
            finally:
                await context.close()


PARTS: list[Callable[[Journey], Awaitable[None]]] = [
    onboarding,
    add_wrong_secret,
    add_denied,
    add_entry,
    devices,
    energy,
    actions,
    reauth,
    diagnostics,
]


def main() -> int:
    """Parse the command line and run the journey."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--screenshots", default="e2e-screenshots", help="folder for the PNGs")
    parser.add_argument("--until", help="stop before this part (development aid)")
    args = parser.parse_args()
    try:
        return main_sync(args)
    except JourneyError as err:
        print(f"e2e: FAILED: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
