"""The `Simulator`: in-process control of one simulated Enphase cloud.

Everything the admin HTTP API (`/_sim/…`) can do is a method here, so tests
running in the same process can drive the simulator without HTTP.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
import logging
from typing import Any

from . import state
from .clock import Clock, SimClock, as_utc
from .config import DEFAULT_START, Plan, SimConfig, plan_named
from .errors import SYSTEM_NOT_FOUND, ApiError
from .events import HealthModel
from .faults import Fault, FaultInjector, make_fault
from .gateway import OutageWindow
from .quota import QuotaTracker
from .settings import SiteSettings, mode_from_label, mode_label
from .simulation import QUARTER
from .system import SystemRuntime
from .tokens import TokenPair, TokenStore
from .world import COMPANY_ID, Account, World, build_world

_LOGGER = logging.getLogger(__name__)
DEFAULT_EMAIL = "demo@example.com"


class UnknownError(LookupError):
    """An admin call named an account, system, client or key that does not exist."""


def settings_json(settings: SiteSettings) -> dict[str, Any]:
    """Return settings as the admin API shows them."""
    return {**asdict(settings), "battery_mode": mode_label(settings.mode)}


class Simulator:
    """State and control of the simulated cloud (see README for the admin API)."""

    def __init__(self, config: SimConfig) -> None:
        """Build the demo world and restore `config.state_path` when it exists."""
        self.config = config
        self.world: World = build_world(config)
        self.clock = Clock(
            config.clock, SimClock(config.start or DEFAULT_START, config.clock_factor)
        )
        self.tokens = TokenStore(
            int(config.access_token_ttl.total_seconds()),
            int(config.refresh_token_ttl.total_seconds()),
            int(config.code_ttl.total_seconds()),
        )
        self.quota = QuotaTracker()
        self.faults = FaultInjector(config.fault_timeout.total_seconds())
        self.plans: dict[str, str] = {
            app.api_key: plan_named(config.plan).name for app in self.world.apps
        }
        self.quota_period_fields = config.quota_period_fields
        self.battery_power_sign = config.battery_power_sign
        self.seed = config.seed
        self.dirty = False
        saved = state.read(config.state_path) if config.state_path else None
        if saved is not None and not self.clock.external:
            self.clock.own.restore(saved["clock"])
        now = self.now_ts()
        if saved is not None:
            self.seed = int(saved["seed"])
            self.operational_at = int(saved["operational_at"])
        else:
            begin = now - int(config.history.total_seconds())
            self.operational_at = begin - begin % QUARTER
        self.systems = {
            system_id: SystemRuntime(
                spec,
                self.seed,
                self.operational_at,
                config.connection_types.get(system_id, spec.connection_type),
            )
            for system_id, spec in self.world.systems.items()
        }
        for outage in config.outages:
            end = None if outage.end is None else int(as_utc(outage.end).timestamp())
            self.system(outage.system_id).gateway.outages.append(
                OutageWindow(int(as_utc(outage.start).timestamp()), end)
            )
        self.health = HealthModel(self)
        """Events, alarms and grid-services events: their Python control."""
        if saved is not None:
            self._restore(saved)

    # --- time -----------------------------------------------------------------

    def now(self) -> datetime:
        """Return the simulator's current time (aware UTC)."""
        return self.clock.now()

    def now_ts(self) -> int:
        """Return the simulator's current time as whole epoch seconds."""
        return self.clock.now_ts()

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move the own clock forward; ClockIsExternalError with an external clock."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        moved = self.clock.advance(seconds)
        self.mark_dirty()
        return moved

    def set_time(self, when: datetime) -> datetime:
        """Jump the own clock to `when`; ClockIsExternalError with an external clock."""
        moved = self.clock.set(when)
        self.mark_dirty()
        return moved

    # --- plans and usage ------------------------------------------------------

    def _key(self, key: str | None) -> str:
        key = key or self.config.api_key
        if key not in self.plans:
            msg = f"unknown API key {key!r}"
            raise UnknownError(msg)
        return key

    def plan_for(self, key: str | None = None) -> Plan:
        """Return the plan of API key `key` (default: the demo key)."""
        return plan_named(self.plans[self._key(key)])

    def set_plan(self, plan: str, key: str | None = None) -> Plan:
        """Put API key `key` (default: the demo key) on `plan`."""
        chosen = plan_named(plan)
        self.plans[self._key(key)] = chosen.name
        self.mark_dirty()
        return chosen

    def usage(self, key: str | None = None) -> dict[str, Any]:
        """Return call counts of `key` per period and per endpoint."""
        key = self._key(key)
        return self.quota.usage(key, self.plan_for(key), self.now_ts())

    def set_usage(
        self, key: str | None = None, *, minute: int | None = None, month: int | None = None
    ) -> None:
        """Force the current minute/month counts of `key` (to reach a limit quickly)."""
        counter = self.quota.keys[self._key(key)]
        now = self.now_ts()
        if minute is not None:
            counter.set("minute", now, minute)
        if month is not None:
            counter.set("month", now, month)
        self.mark_dirty()

    # --- tokens ---------------------------------------------------------------

    def account(self, email: str) -> Account:
        """Return the account with `email` or raise UnknownError."""
        account = self.world.account_by_email(email)
        if account is None:
            msg = f"unknown account {email!r}"
            raise UnknownError(msg)
        return account

    def _client(self, client_id: str | None) -> str:
        client_id = client_id or self.config.client_id
        if self.world.app_by_client(client_id) is None:
            msg = f"unknown client {client_id!r}"
            raise UnknownError(msg)
        return client_id

    def token_response(self, pair: TokenPair) -> dict[str, Any]:
        """Return Enphase's token endpoint body for a freshly issued pair."""
        account = self.world.account_by_uid(pair.uid)
        changed = account.password_last_changed if account else 0
        return {
            "access_token": pair.access_token,
            "token_type": "bearer",
            "refresh_token": pair.refresh_token,
            "expires_in": self.tokens.access_ttl,
            "scope": "read write",
            "enl_uid": pair.uid,
            "enl_cid": COMPANY_ID,
            "enl_password_last_changed": str(changed),
            "is_internal_app": False,
            "app_type": "system",
            "jti": pair.jti,
        }

    def mint_tokens(
        self, email: str = DEFAULT_EMAIL, client_id: str | None = None
    ) -> dict[str, Any]:
        """Issue a token pair without the browser dance; returns the token response."""
        account = self.account(email)
        pair = self.tokens.issue_pair(account.uid, self._client(client_id), self.now_ts())
        self.mark_dirty()
        return self.token_response(pair)

    def revoke(self, email: str = DEFAULT_EMAIL, client_id: str | None = None) -> int:
        """Revoke the account's tokens (for one client, or every client when None)."""
        if client_id is not None:
            self._client(client_id)
        dropped = self.tokens.revoke(self.account(email).uid, client_id)
        self.mark_dirty()
        return dropped

    def expire_access_tokens(self, email: str | None = None, client_id: str | None = None) -> int:
        """Make access tokens (of one account/client, or all) expire now."""
        uid = None if email is None else self.account(email).uid
        expired = self.tokens.expire_access(self.now_ts(), uid, client_id)
        self.mark_dirty()
        return expired

    # --- faults ---------------------------------------------------------------

    def add_fault(  # noqa: PLR0913 - mirrors the admin call's optional fields
        self,
        status: int | None = None,
        *,
        kind: str = "status",
        count: int = 1,
        path: str | None = None,
        delay: float | None = None,
        details: str | None = None,
    ) -> Fault:
        """Make the next `count` calls matching glob `path` fail (see README)."""
        fault = make_fault(
            kind=kind, status=status, count=count, path=path, delay=delay, details=details
        )
        self.faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Disarm every fault and end running hangs."""
        self.faults.clear()

    def cancel_sleeps(self) -> None:
        """End running timeout hangs at once."""
        self.faults.cancel_sleeps()

    # --- systems --------------------------------------------------------------

    def system(self, system_id: int) -> SystemRuntime:
        """Return system `system_id` or raise UnknownError."""
        try:
            return self.systems[system_id]
        except KeyError:
            msg = f"unknown system {system_id}"
            raise UnknownError(msg) from None

    def transfer_system(self, system_id: int, email: str | None) -> None:
        """Move a system to the account `email`, or to no account when None.

        Enphase does this when a home changes hands: the system disappears from
        one account's systems list and appears in another's. Python control only
        (tests of systems appearing and vanishing); the state file does not keep it.
        """
        self.system(system_id)
        owner = None if email is None else self.account(email).uid
        self.world = replace(
            self.world,
            accounts=tuple(
                replace(
                    account,
                    system_ids=tuple(sid for sid in account.system_ids if sid != system_id)
                    + ((system_id,) if account.uid == owner else ()),
                )
                for account in self.world.accounts
            ),
        )
        self.mark_dirty()

    def system_for(self, uid: str, system_id: int) -> SystemRuntime:
        """Return a system the account `uid` owns, else the API's 404."""
        account = self.world.account_by_uid(uid)
        if account is None or system_id not in account.system_ids:
            raise ApiError(404, SYSTEM_NOT_FOUND)
        return self.systems[system_id]

    def change_settings(self, system_id: int, values: dict[str, Any], *, delay: float) -> int:
        """Record settings taking effect `delay` seconds from now; return that time.

        The effect time never precedes an interval already simulated, so the
        past stays as it was (this only matters when a clock moved backwards).
        """
        runtime = self.system(system_id)
        now = self.now_ts()
        effective = max(now + round(delay), runtime.sim.computed_through)
        runtime.timeline.add(effective, now, values)
        self.mark_dirty()
        return effective

    def request_settings(self, system_id: int, values: dict[str, Any]) -> int:
        """Record settings as the cloud does: the gateway applies them after `apply_delay`."""
        return self.change_settings(
            system_id, values, delay=self.config.apply_delay.total_seconds()
        )

    def set_grid(self, system_id: int, *, on: bool) -> None:
        """Connect or disconnect the system from the grid, from now on."""
        self.change_settings(system_id, {"grid_on": on}, delay=0)

    def set_battery_mode(self, system_id: int, label: str) -> None:
        """Put the site in mode `label` from now, as Enphase's apps could.

        A documented label ("Self - Consumption", "Savings Mode", "Full Backup" or a
        PUT spelling) selects that mode; any other text (e.g. "AI Optimisation") is a
        mode the API does not document: the GET shows it as is, the battery behaves
        as in self-consumption.
        """
        self.change_settings(system_id, {"mode": mode_from_label(label)}, delay=0)

    def set_site_shape(
        self,
        system_id: int,
        *,
        reported: bool | None = None,
        grid_unknown: bool | None = None,
        operational_at_null: bool | None = None,
    ) -> None:
        """Model documented quirks of a site (Python control only, not saved).

        `reported=False`: the site has not reported yet, grid_status and storm_guard
        answer 422. `grid_unknown`: grid_status reads "Unknown".
        `operational_at_null`: the summary's operational_at is null.
        """
        runtime = self.system(system_id)
        if reported is not None:
            runtime.site_reported = reported
        if grid_unknown is not None:
            runtime.grid_state_unknown = grid_unknown
        if operational_at_null is not None:
            runtime.hide_operational_at = operational_at_null

    def set_storm_alert(self, system_id: int, *, active: bool) -> None:
        """Raise or clear a storm alert (acts as full backup when storm guard is on)."""
        self.change_settings(system_id, {"storm_alert": active}, delay=0)

    def set_charge_from_grid(self, system_id: int, *, enabled: bool) -> None:
        """Change the read-only (over the API) charge_from_grid setting."""
        self.change_settings(system_id, {"charge_from_grid": enabled}, delay=0)

    def set_connection_type(self, system_id: int, kind: str) -> None:
        """Switch the gateway between ethernet, wifi (15 min) and cellular (6 h)."""
        runtime = self.system(system_id)
        if kind not in {"ethernet", "wifi", "cellular"}:
            msg = f"unknown connection type {kind!r}"
            raise ValueError(msg)
        runtime.gateway.connection_type = kind
        self.mark_dirty()

    def start_outage(self, system_id: int, at: datetime | None = None) -> dict[str, Any]:
        """Cut the gateway's connection from `at` (default now) until `end_outage`."""
        gateway = self.system(system_id).gateway
        outage = gateway.start_outage(self._ts(at))
        self.mark_dirty()
        return {"start": outage.start, "end": outage.end}

    def end_outage(self, system_id: int, at: datetime | None = None) -> dict[str, Any] | None:
        """Reconnect the gateway at `at` (default now); its backlog goes up at the next upload."""
        outage = self.system(system_id).gateway.end_outage(self._ts(at))
        self.mark_dirty()
        return None if outage is None else {"start": outage.start, "end": outage.end}

    def _ts(self, when: datetime | None) -> int:
        return self.now_ts() if when is None else int(as_utc(when).timestamp())

    def battery_state(self, system_id: int) -> dict[str, Any]:
        """Return the settings in force now, the requested ones and those pending."""
        runtime = self.system(system_id)
        now = self.now_ts()
        return {
            "system_id": system_id,
            "now": now,
            "effective": settings_json(runtime.settings_at(now)),
            "requested": settings_json(runtime.timeline.requested()),
            "pending": [
                {"effective_at": c.effective_at, "requested_at": c.requested_at, "values": c.values}
                for c in runtime.timeline.pending(now)
            ],
        }

    def reporting(self, system_id: int) -> dict[str, Any]:
        """Return the gateway's upload state: last and next upload, outages."""
        runtime = self.system(system_id)
        now = self.now_ts()
        seen = runtime.observe(now)
        upcoming = runtime.gateway.next_upload(now)
        return {
            "system_id": system_id,
            "now": now,
            "connection_type": runtime.gateway.connection_type,
            "status": seen.status,
            "last_report_at": seen.last_report_at,
            "reported_through": seen.through,
            "next_upload_at": None if upcoming is None else upcoming.at,
            "outages": [{"start": o.start, "end": o.end} for o in runtime.gateway.outages],
        }

    def truth(
        self, system_id: int, start: datetime | None = None, end: datetime | None = None
    ) -> list[dict[str, int]]:
        """Return the true flows of intervals ending in `(start, end]` (default: the last day).

        Intervals are included whether or not the gateway has uploaded them.
        """
        runtime = self.system(system_id)
        now = self.now_ts()
        last = min(now, self._ts(end) if end else now)
        first = self._ts(start) if start else last - 86_400
        sim = runtime.sim
        sim.ensure(now)
        first_index = max(0, sim.index_of_end(first) + 1)
        last_index = min(sim.index_of_end(last - last % QUARTER), len(sim.production) - 1)
        return [
            {
                "end_at": sim.start + (i + 1) * QUARTER,
                "production": sim.production[i],
                "consumption": sim.consumption[i],
                "import": sim.imported[i],
                "export": sim.exported[i],
                "charge": sim.charge[i],
                "discharge": sim.discharge[i],
                "soc_wh": sim.soc[i],
                "soc_percent": sim.soc_percent(i),
            }
            for i in range(first_index, last_index + 1)
        ]

    # --- options and state ----------------------------------------------------

    def set_options(
        self, *, quota_period_fields: bool | None = None, battery_power_sign: int | None = None
    ) -> None:
        """Change the UNCONFIRMED behaviours at run time."""
        if battery_power_sign is not None:
            if battery_power_sign not in {1, -1}:
                msg = "battery_power_sign must be 1 or -1"
                raise ValueError(msg)
            self.battery_power_sign = battery_power_sign
        if quota_period_fields is not None:
            self.quota_period_fields = quota_period_fields
        self.mark_dirty()

    def options(self) -> dict[str, Any]:
        """Return the run-time options."""
        return {
            "quota_period_fields": self.quota_period_fields,
            "battery_power_sign": self.battery_power_sign,
        }

    def mark_dirty(self) -> None:
        """Note that the state file is behind (the autosave task writes it)."""
        self.dirty = True

    def save_state(self) -> None:
        """Write the state file now (no-op without `state_path`)."""
        if self.config.state_path is None:
            return
        self.tokens.purge(self.now_ts())
        state.write(self.config.state_path, self._snapshot())
        self.dirty = False

    def _snapshot(self) -> dict[str, Any]:
        return {
            "version": state.VERSION,
            "saved_at": datetime.now(UTC).isoformat(),
            "seed": self.seed,
            "operational_at": self.operational_at,
            "clock": self.clock.own.snapshot(),
            "plans": self.plans,
            "options": self.options(),
            "tokens": self.tokens.to_json(),
            "quota": self.quota.to_json(),
            "systems": {str(k): v.to_json() for k, v in self.systems.items()},
            "health": self.health.to_json(),
        }

    def _restore(self, saved: dict[str, Any]) -> None:
        self.plans.update(saved["plans"])
        self.quota_period_fields = bool(saved["options"]["quota_period_fields"])
        self.battery_power_sign = int(saved["options"]["battery_power_sign"])
        self.tokens.load_json(saved["tokens"])
        self.quota.load_json(saved["quota"])
        for key, data in saved["systems"].items():
            if int(key) in self.systems:
                self.systems[int(key)].load_json(data)
        self.health.load_json(saved.get("health", {}))
        _LOGGER.info("restored simulator state from %s", self.config.state_path)
