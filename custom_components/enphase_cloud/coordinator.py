"""One coordinator per Enphase account: quota-aware polls, snapshots, statistics catch-up.

Each poll decides what is due. The *fast* tier reads battery telemetry (state of
charge, battery energy); the *bulk* tier reads the systems list (one call tells
which systems uploaded anything new), then summary, latest telemetry (for a
consumption meter) and the energy streams of the systems that did; a battery
read is skipped when the systems list shows no upload since the last one. The budget sets both cadences so the
month stays under the plan's quota, and polls land a few minutes after the
quarter hours, when gateways have uploaded. Statistics history is caught up a few
calls per poll, so setup and the first refresh are never held up by it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.core import callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    BatterySettings,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseError,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseUnprocessable,
    Granularity,
    StormGuard,
    System,
)
from .api.errors import PERIOD_MINUTE
from .budget import PLAN_LIMITS, TARGET_SHARE, ApiBudget, Cadence, plan_cadence
from .const import CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS, DOMAIN, LOGGER
from .data import AccountSnapshot, SystemSnapshot
from .devices import async_register_devices, async_remove_devices
from .ev_charger import EvChargerPoller
from .interval_fetch import BATTERY, SOURCES, TelemetrySync, latest_level
from .statistics_writer import StatisticsImporter

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .data import EnphaseCloudConfigEntry

QUARTER = timedelta(minutes=15)
# Battery settings, storm guard and grid status, read in each bulk round where permitted.
CONFIG_READS = ("battery_settings", "storm_guard", "grid_status")
# Gateways upload a few minutes after each quarter hour; polling then finds the new interval.
REPORTING_LAG = timedelta(minutes=5)
# Calls kept back from history catch-up for the user's own actions within a minute.
RESERVED_CALLS = 2
# History import stops for the month once this share of the quota is used, so the
# regular polls keep what they need (a long horizon on the free plan takes months).
HISTORY_MONTH_SHARE = 0.25
BACKLOG_RETRY = timedelta(minutes=1)
# Streams further behind than this are a backfill subject to the month's history share
# (a long horizon); up to five `week` calls per stream (the default 30-day horizon, a
# week or a month offline) always go, so statistics never wait for the next month.
HISTORY_AFTER = timedelta(days=35)
FIRST_POLL_DELAY = timedelta(seconds=30)


def next_aligned(after: datetime) -> datetime:
    """Return the first quarter hour + reporting lag at or after `after`."""
    base = after.replace(minute=0, second=0, microsecond=0)
    candidate = base + REPORTING_LAG
    while candidate < after:
        candidate += QUARTER
    return candidate


def _no_upload_since_battery_read(snapshot: SystemSnapshot, now: datetime) -> bool:
    """Return whether the systems list read at `now` shows no upload since the last battery read."""
    last_report = snapshot.system.last_report_at
    last_read = snapshot.battery_fetched_at
    return (
        snapshot.system_fetched_at == now
        and last_report is not None
        and last_read is not None
        and last_report < last_read
    )


def _live_calls(snapshot: SystemSnapshot) -> int:
    """Return the calls a bulk round makes for a system's power sensors.

    The summary, and the latest telemetry only for a consumption meter's power:
    production power is in the summary too, battery power in the summary alone.
    """
    return 2 if snapshot.has_consumption_meter else 1


class EnphaseCloudCoordinator(DataUpdateCoordinator[AccountSnapshot]):
    """Polls one Enphase account within its plan and imports its statistics."""

    config_entry: EnphaseCloudConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        config_entry: EnphaseCloudConfigEntry,
        client: EnphaseClient,
        budget: ApiBudget,
    ) -> None:
        """Create the coordinator; the first refresh lists the systems."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=config_entry,
            name=DOMAIN,
            update_interval=QUARTER,
        )
        self.client = client
        self.budget = budget
        self._horizon = timedelta(
            days=int(config_entry.options.get(CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS))
        )
        self._systems: dict[int, SystemSnapshot] = {}
        self._syncs: dict[int, list[TelemetrySync]] = {}
        self._next_fast: datetime | None = None
        self._next_bulk: datetime | None = None
        self._history_in_progress = False
        self._history_retry = False
        self._first_poll_done = False
        self._refresh_requested = False
        self.ev_chargers = EvChargerPoller(
            hass,
            config_entry.entry_id,
            client,
            horizon=self._horizon,
            calls_left=budget.calls_available_now,
        )

    async def _async_add_system(self, system: System, now: datetime) -> None:
        devices = await self.client.async_get_devices(system.system_id)
        snapshot = SystemSnapshot(system=system, devices=devices, system_fetched_at=now)
        if devices.has_battery:
            snapshot = await self._async_probe_control(snapshot, now)
        self._systems[system.system_id] = snapshot
        async_register_devices(self.hass, self.config_entry.entry_id, snapshot)
        importer = StatisticsImporter(self.hass, system.system_id, system.name)
        self._syncs[system.system_id] = [
            TelemetrySync(
                self.client, importer, source, system_id=system.system_id, horizon=self._horizon
            )
            for source in SOURCES
            if source.applies(devices)
        ]

    async def _async_probe_control(self, snapshot: SystemSnapshot, now: datetime) -> SystemSnapshot:
        """Find out once whether the plan permits battery control (one call)."""
        try:
            settings = await self.client.async_get_battery_settings(snapshot.system_id)
        except EnphasePlanError:
            LOGGER.info(
                "The Enphase plan does not permit battery control of system %s", snapshot.system_id
            )
            return replace(snapshot, control_denied_by_plan=True)
        except EnphaseUnprocessable:
            # Enphase lists a battery but has no settings for it ("no encharges").
            return snapshot
        return replace(
            snapshot, control_permitted=True, battery_settings=settings, config_fetched_at=now
        )

    def _cadence_calls(self) -> tuple[int, int]:
        """Return the calls one fast round and one bulk round cost for this account."""
        fast = sum(1 for s in self._systems.values() if s.has_battery)
        bulk = 1 + sum(
            _live_calls(s)
            + len(self._syncs[sid])
            - (1 if s.has_battery else 0)
            + (len(CONFIG_READS) if s.control_permitted else 0)
            + self.ev_chargers.round_calls(sid)
            for sid, s in self._systems.items()
        )
        return fast, bulk

    def _cadence(self, now: datetime) -> Cadence:
        fast, bulk = self._cadence_calls()
        return plan_cadence(
            limits=PLAN_LIMITS[self.budget.plan],
            used_this_month=self.budget.used_this_month,
            now=now,
            fast_calls=fast,
            bulk_calls=bulk,
        )

    async def _async_update_data(self) -> AccountSnapshot:
        """Run whatever is due now, within the budget."""
        now = dt_util.utcnow()
        retry_at: datetime | None = None
        try:
            await self._async_poll(now)
        except EnphaseAuthError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_failed"
            ) from err
        except EnphaseRateLimited as err:
            # A minute's limit only delays the rest of the first poll once the systems
            # are known: setup goes on and the entities fill in a minute later.
            if not self._first_poll_done and (err.period != PERIOD_MINUTE or not self._systems):
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key="rate_limited",
                    translation_placeholders={
                        "retry_at": dt_util.as_local(err.retry_at).isoformat()
                    },
                    retry_after=max(1.0, (err.retry_at - now).total_seconds()),
                ) from err
            # Keep what we have; try again once the plan allows it.
            retry_at = err.retry_at
        except EnphaseError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cannot_connect",
                translation_placeholders={"error": str(err)},
            ) from err
        self._first_poll_done = True
        return self._snapshot(now, retry_at)

    def _snapshot(self, now: datetime, retry_at: datetime | None) -> AccountSnapshot:
        candidates = [moment for moment in (self._next_fast, self._next_bulk) if moment is not None]
        next_poll = min(candidates) if candidates else now + QUARTER
        if self._history_retry:
            next_poll = min(next_poll, now + BACKLOG_RETRY)
        if retry_at is not None:
            next_poll = max(retry_at, now + timedelta(seconds=1))
        self.update_interval = max(next_poll - now, timedelta(seconds=1))
        cadence = self._cadence(now)
        return AccountSnapshot(
            systems=dict(self._systems),
            next_poll=next_poll,
            history_in_progress=self._history_in_progress,
            # One missed poll never blanks a sensor; a dead link or an empty quota does.
            stale_after=2 * max(cadence.fast, cadence.bulk) + timedelta(hours=1),
        )

    @callback
    def _async_refresh_finished(self) -> None:
        """Let entities judge staleness again after every failed poll; show the budget.

        The base class tells listeners only about the first of several failures in a
        row; entities that keep the last data must still turn unavailable once it is
        older than `stale_after`. The budget's figures are shared with every entry on
        the API key, so all of them are told that this poll spent some.
        """
        if not self.last_update_success and self.data is not None:
            self.async_update_listeners()
        self.budget.async_update_listeners()

    async def async_request_refresh(self) -> None:
        """Poll everything now at the user's request (`homeassistant.update_entity`).

        Honoured only when the budget has room for the round: see `_manual_allowed`.
        """
        self._refresh_requested = True
        await super().async_request_refresh()

    def _manual_allowed(self) -> bool:
        """Return whether a requested round's live reads fit this minute and the month.

        The live reads are the systems list, each system's summary (and latest
        telemetry, see `_live_calls`), and the battery; energy streams that do not fit this minute
        follow a minute later. A requested round never spends the reserve the
        cadence keeps back (the last 5 % of the quota), so the scheduled polls
        still see the month out.
        """
        calls = self._cadence_calls()[0] + 1 + sum(_live_calls(s) for s in self._systems.values())
        limits = PLAN_LIMITS[self.budget.plan]
        return (
            self.budget.calls_available_now() >= calls
            and self.budget.used_this_month + calls <= TARGET_SHARE * limits.per_month
        )

    async def _async_poll(self, now: datetime) -> None:
        cadence = self._cadence(now)
        bulk_due = self._next_bulk is None or now >= self._next_bulk
        if self._refresh_requested:
            self._refresh_requested = False
            if self._manual_allowed():
                bulk_due = True
            else:
                LOGGER.info("Refresh request skipped: the Enphase API budget has no room now")
        fast_due = bulk_due or self._next_fast is None or now >= self._next_fast
        if bulk_due:
            await self._async_bulk(now)
            self._next_bulk = next_aligned(now + cadence.bulk - REPORTING_LAG)
        if fast_due:
            await self._async_fast(now)
            self._next_fast = next_aligned(now + cadence.fast - REPORTING_LAG)
        await self._async_history(now)
        # Chargers take what the history leaves this minute (what is left waits for the
        # next poll); their own energy stream joins the streams above from then on.
        keep_back = RESERVED_CALLS + self._cadence_calls()[0]
        await self.ev_chargers.async_poll(self._systems, self._syncs, now, keep_back)

    async def _async_bulk(self, now: datetime) -> None:
        """Refresh the systems list, then the systems that uploaded something new.

        The first round (setup's first refresh) checks the token this way too.
        """
        systems = {system.system_id: system for system in await self.client.async_get_systems()}
        for system_id in list(self._systems):
            if system_id not in systems:
                self._remove_system(system_id)
        added = [system_id for system_id in systems if system_id not in self._systems]
        for system_id in added:
            await self._async_add_system(systems[system_id], now)
        fresh: list[int] = []
        for system_id, system in systems.items():
            snapshot = self._systems[system_id]
            news = (
                snapshot.summary is None
                or system.last_report_at is None
                or snapshot.system.last_report_at != system.last_report_at
            )
            snapshot = replace(snapshot, system=system, system_fetched_at=now)
            self._systems[system_id] = snapshot
            if snapshot.control_permitted:
                # The control probe of a system added just now has read its settings.
                await self._async_read_config(
                    system_id, now, snapshot.battery_settings if system_id in added else None
                )
            if not news:
                continue
            summary = await self.client.async_get_summary(system_id)
            telemetry = (
                await self.client.async_get_latest_telemetry(system_id)
                if snapshot.has_consumption_meter
                else None
            )
            self._systems[system_id] = replace(
                self._systems[system_id], summary=summary, telemetry=telemetry, live_fetched_at=now
            )
            for sync in self._syncs[system_id]:
                sync.idle = False
            fresh.append(system_id)
        await self._async_catch_up_energy(fresh, now)

    async def _async_catch_up_energy(self, fresh: list[int], now: datetime) -> None:
        """Import the energy streams of the systems that uploaded, within this minute.

        Runs after every system's live data, and only with what the fast round and the
        user's actions leave this minute: the rest is picked up by the history catch-up
        a minute later.
        """
        keep_back = RESERVED_CALLS + self._cadence_calls()[0]
        for system_id in fresh:
            for sync in self._syncs[system_id]:
                if (
                    sync.source is not BATTERY
                    and self.budget.calls_available_now() > keep_back
                    and await sync.async_behind(now) <= timedelta(days=7)
                ):
                    await sync.async_catch_up(now, max_calls=1)

    async def _async_read_config(
        self, system_id: int, now: datetime, settings: BatterySettings | None = None
    ) -> None:
        """Read the battery settings (unless given), storm guard and grid status."""
        if settings is None:
            settings = await self.client.async_get_battery_settings(system_id)
        storm_guard = await self.client.async_get_storm_guard(system_id)
        grid_status = await self.client.async_get_grid_status(system_id)
        self._systems[system_id] = replace(
            self._systems[system_id],
            battery_settings=settings,
            storm_guard=storm_guard,
            grid_status=grid_status,
            config_fetched_at=now,
        )

    def async_set_config(
        self,
        system_id: int,
        *,
        battery_settings: BatterySettings | None = None,
        storm_guard: StormGuard | None = None,
    ) -> None:
        """Publish settings a control or command has just written, without a poll."""
        if system_id not in self._systems:
            return
        snapshot = self._systems[system_id]
        self._systems[system_id] = replace(
            snapshot,
            battery_settings=battery_settings or snapshot.battery_settings,
            storm_guard=storm_guard or snapshot.storm_guard,
            config_fetched_at=dt_util.utcnow(),
        )
        # Not async_set_updated_data: that would push the next poll a whole interval out.
        self.data = replace(self.data, systems=dict(self._systems))
        self.async_update_listeners()

    async def _async_fast(self, now: datetime) -> None:
        """Read battery telemetry: state of charge now, battery energy into statistics.

        A system whose gateway, by the systems list read this round, has not uploaded
        since the last read has nothing new: its read is skipped (a gateway offline
        for days would otherwise cost a call every round).
        """
        for system_id, snapshot in self._systems.items():
            if not snapshot.has_battery:
                continue
            if _no_upload_since_battery_read(snapshot, now):
                self._systems[system_id] = replace(snapshot, battery_fetched_at=now)
                continue
            sync = next(s for s in self._syncs[system_id] if s.source is BATTERY)
            if await sync.async_behind(now) <= timedelta(days=1):
                level = (await sync.async_catch_up(now, max_calls=1)).battery_level
            else:
                # History still being imported: today's window gives the current level.
                level = latest_level(
                    await self.client.async_get_battery_telemetry(
                        system_id, granularity=Granularity.DAY
                    )
                )
            self._systems[system_id] = replace(
                self._systems[system_id],
                battery_level=level or snapshot.battery_level,
                battery_fetched_at=now,
            )

    async def _async_history(self, now: datetime) -> None:
        """Import older intervals with the calls left this minute, a few per poll.

        Only a backfill beyond five weeks (a long horizon, months offline) counts
        against the month's history share; a stream less far behind (the default
        horizon, the free plan's daily energy round, a restart, a gateway's
        backlog) is regular work. A retry a minute later is planned only when the
        minute's window is what held the import back, never for the month's.
        """
        if not self._first_poll_done:
            # Setup's first refresh shows current data at once; history follows.
            self._history_in_progress = self._history_retry = True
            return
        behind = retry = False
        month_cap = HISTORY_MONTH_SHARE * PLAN_LIMITS[self.budget.plan].per_month
        for syncs in self._syncs.values():
            for sync in syncs:
                if not await sync.async_needs_history(now):
                    continue
                if (
                    await sync.async_behind(now) > HISTORY_AFTER
                    and self.budget.used_this_month >= month_cap
                ):
                    behind = True
                    continue
                calls = self.budget.calls_available_now() - RESERVED_CALLS
                if calls <= 0:
                    behind = True
                    retry = retry or self._minute_limited()
                    continue
                result = await sync.async_catch_up(now, max_calls=calls)
                if not result.caught_up:
                    behind = retry = True
        self._history_in_progress = behind
        self._history_retry = retry

    def _minute_limited(self) -> bool:
        """Return whether only the minute's window (not a block or the month) stops calls."""
        budget = self.budget
        return budget.blocked_until is None and budget.remaining_this_month > RESERVED_CALLS

    def _remove_system(self, system_id: int) -> None:
        """Forget a system that left the account, and its devices."""
        self._systems.pop(system_id, None)
        self._syncs.pop(system_id, None)
        async_remove_devices(self.hass, self.config_entry.entry_id, system_id)
