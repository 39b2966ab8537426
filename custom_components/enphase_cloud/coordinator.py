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
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .api import (
    BatterySettings,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseConnectionError,
    EnphaseError,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseUnprocessable,
    Granularity,
    StormGuard,
    Summary,
    System,
)
from .api.errors import PERIOD_MINUTE, sane_retry_at
from .budget import BACKOFF_FLOOR, PLAN_LIMITS, TARGET_SHARE, ApiBudget, Cadence, plan_cadence
from .const import CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS, DOMAIN, INTERVAL, LOGGER
from .data import AccountSnapshot, SystemSnapshot
from .devices import async_register_devices, async_remove_battery_device, async_remove_devices
from .ev_charger import EvChargerPoller
from .health import HealthMonitor
from .helpers import coordinator_error
from .interval_fetch import BATTERY, SOURCES, TelemetrySync, latest_level
from .statistics_writer import StatisticsImporter

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from homeassistant.core import HomeAssistant

    from .data import EnphaseCloudConfigEntry

# Battery settings, storm guard and grid status, read in each bulk round where permitted.
CONFIG_READS = ("battery_settings", "storm_guard", "grid_status")
# The declared streams; any other stream of a system belongs to a single device (a charger).
SOURCE_KEYS = frozenset(source.key for source in SOURCES)
# Gateways upload a few minutes after each quarter hour; polling then finds the new interval.
REPORTING_LAG = timedelta(minutes=5)
# Calls kept back from history catch-up for the user's own actions within a minute.
RESERVED_CALLS = 2
# History import stops for the month once this share of the quota is used, so the
# regular polls keep what they need (a long horizon on the free plan takes months).
HISTORY_MONTH_SHARE = 0.25
BACKLOG_RETRY = timedelta(minutes=1)
# The history the first refresh held back starts this soon after setup (not a minute
# later) when the minute has calls left for it.
HISTORY_START = timedelta(seconds=1)
# Streams further behind than this are a backfill subject to the month's history share
# (a long horizon); up to five `week` calls per stream (the default 30-day horizon, a
# week or a month offline) always go, so statistics never wait for the next month.
HISTORY_AFTER = timedelta(days=35)
# The device list is read again this often (a meter or battery added or removed), and
# at once when a system's summary changes in a way only new hardware explains.
DEVICES_RECHECK = timedelta(days=7)
# Polls failing for this long make the entities unavailable, whatever their data's age:
# one failed poll never blanks a sensor, Enphase unreachable for half an hour does.
FAILURE_GRACE = timedelta(minutes=30)


def next_aligned(after: datetime) -> datetime:
    """Return the first quarter hour + reporting lag at or after `after`."""
    base = after.replace(minute=0, second=0, microsecond=0)
    candidate = base + REPORTING_LAG
    while candidate < after:
        candidate += INTERVAL
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


def _needs_latest_telemetry(snapshot: SystemSnapshot) -> bool:
    """Return whether the bulk round reads latest_telemetry for this system.

    For a consumption meter's power, and for the batteries' power: latest_telemetry
    is the only place Enphase reports it live (the summary's battery watts are
    ratings). Production power alone is in the summary.
    """
    return snapshot.has_consumption_meter or snapshot.has_battery


def _live_calls(snapshot: SystemSnapshot) -> int:
    """Return the calls a bulk round makes for a system's power sensors (see above)."""
    return 2 if _needs_latest_telemetry(snapshot) else 1


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
            update_interval=INTERVAL,
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
        self._history_started = False
        self._refresh_requested = False
        # Events and alarms: due every bulk round, polled as the minute allows (health.py).
        self.health = HealthMonitor(hass, config_entry, client, budget)
        self._importers: dict[int, StatisticsImporter] = {}
        config_entry.async_on_unload(lambda: budget.forget_rounds(config_entry.entry_id))
        self.failing_since: datetime | None = None
        """When the current run of failed polls began (None: the last poll succeeded)."""
        self.ev_chargers = EvChargerPoller(
            hass,
            config_entry.entry_id,
            client,
            horizon=self._horizon,
            calls_left=budget.calls_available_now,
        )

    async def _async_add_system(self, system: System, now: datetime) -> None:
        devices = await self.client.async_get_devices(system.system_id)
        snapshot = SystemSnapshot(
            system=system, devices=devices, system_fetched_at=now, devices_fetched_at=now
        )
        if devices.has_battery:
            snapshot = await self._async_probe_control(snapshot, now)
        self._systems[system.system_id] = snapshot
        async_register_devices(self.hass, self.config_entry.entry_id, snapshot)
        self._set_syncs(snapshot)

    def _set_syncs(self, snapshot: SystemSnapshot) -> None:
        """Follow the telemetry the system's devices report; keep the streams it still has."""
        system = snapshot.system
        kept = {sync.source.key: sync for sync in self._syncs.get(system.system_id, [])}
        importer = self._importers.get(system.system_id) or StatisticsImporter(
            self.hass, system.system_id, system.name
        )
        self._importers[system.system_id] = importer
        self._syncs[system.system_id] = [
            kept.get(source.key)
            or TelemetrySync(
                self.client, importer, source, system_id=system.system_id, horizon=self._horizon
            )
            for source in SOURCES
            if source.applies(snapshot.devices)
        ] + [
            # Streams of single devices (EV chargers) are their pollers' to add and drop.
            sync
            for sync in self._syncs.get(system.system_id, [])
            if sync.source.key not in SOURCE_KEYS
        ]

    async def _async_recheck_devices(self, system_id: int, now: datetime) -> None:
        """Read a system's device list again; follow a meter or battery added or removed."""
        snapshot = self._systems[system_id]
        devices = await self.client.async_get_devices(system_id)
        updated = replace(snapshot, devices=devices, devices_fetched_at=now)
        if devices == snapshot.devices:
            self._systems[system_id] = updated
            return
        LOGGER.info("The devices of system %s changed", system_id)
        if devices.has_battery and not snapshot.has_battery:
            updated = await self._async_probe_control(updated, now)
        elif not devices.has_battery:
            updated = replace(
                updated,
                control_permitted=False,
                control_denied_by_plan=False,
                battery_level=None,
                battery_settings=None,
                storm_guard=None,
                grid_status=None,
            )
            async_remove_battery_device(self.hass, self.config_entry.entry_id, system_id)
        self._systems[system_id] = updated
        async_register_devices(self.hass, self.config_entry.entry_id, updated)
        self._set_syncs(updated)

    def _devices_due(self, snapshot: SystemSnapshot, summary: Summary, now: datetime) -> bool:
        """Return whether the device list may have changed: a week old, or a hint in the summary."""
        fetched = snapshot.devices_fetched_at
        if fetched is None or now - fetched >= DEVICES_RECHECK:
            return True
        before = snapshot.summary
        if before is None:
            return False
        # More or fewer microinverters, or a battery's capacity appearing or going.
        return (before.modules, before.size_w, before.battery_capacity_wh is None) != (
            summary.modules,
            summary.size_w,
            summary.battery_capacity_wh is None,
        )

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
        bulk = (
            1
            + sum(
                _live_calls(s)
                + len(self._syncs[sid])
                - (1 if s.has_battery else 0)
                + (len(CONFIG_READS) if s.control_permitted else 0)
                + self.ev_chargers.round_calls(sid)
                for sid, s in self._systems.items()
            )
            + HealthMonitor.round_calls(self._systems)
        )
        return fast, bulk

    def _cadence(self, now: datetime) -> Cadence:
        # Planned for the rounds of every entry on the API key: the quota is the key's.
        fast, bulk = self.budget.round_calls(self.config_entry.entry_id, *self._cadence_calls())
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
        except EnphaseRateLimited as err:
            # A minute's limit only delays the rest of the first poll once the systems
            # are known: setup goes on and the entities fill in a minute later.
            if not self._first_poll_done and (err.period != PERIOD_MINUTE or not self._systems):
                raise coordinator_error(err, now, BACKOFF_FLOOR.total_seconds()) from None
            # Keep what we have; try again once the plan allows it.
            retry_at = sane_retry_at(err, now)
        except EnphaseError as err:
            raise coordinator_error(err, now, BACKOFF_FLOOR.total_seconds()) from None
        self._first_poll_done = True
        return self._snapshot(now, retry_at)

    def _snapshot(self, now: datetime, retry_at: datetime | None) -> AccountSnapshot:
        candidates = [moment for moment in (self._next_fast, self._next_bulk) if moment is not None]
        next_poll = min(candidates) if candidates else now + INTERVAL
        if self._history_retry:
            next_poll = min(next_poll, now + BACKLOG_RETRY)
            if not self._history_started and self.budget.calls_available_now() > RESERVED_CALLS:
                next_poll = min(next_poll, now + HISTORY_START)
        if retry_at is not None:
            next_poll = max(retry_at, now + BACKOFF_FLOOR)
        self.update_interval = max(next_poll - now, timedelta(seconds=1))
        cadence = self._cadence(now)
        return AccountSnapshot(
            systems=dict(self._systems),
            next_poll=next_poll,
            history_in_progress=self._history_in_progress,
            # One missed poll never blanks a sensor; a dead link or an empty quota does.
            stale_after=2 * max(cadence.fast, cadence.bulk) + timedelta(hours=1),
        )

    def polls_failing_too_long(self) -> bool:
        """Return whether the polls have failed for longer than `FAILURE_GRACE`."""
        return (
            not self.last_update_success
            and self.failing_since is not None
            and dt_util.utcnow() - self.failing_since >= FAILURE_GRACE
        )

    @callback
    def _async_refresh_finished(self) -> None:
        """Let entities judge staleness again after every failed poll; show the budget.

        The base class tells listeners only about the first of several failures in a
        row; entities that keep the last data must still turn unavailable once it is
        older than `stale_after`. The budget's figures are shared with every entry on
        the API key, so all of them are told that this poll spent some.
        """
        if self.last_update_success:
            self.failing_since = None
        elif self.failing_since is None:
            self.failing_since = dt_util.utcnow()
        if not self.last_update_success and self.data is not None:
            self.async_update_listeners()
        self.budget.async_update_listeners()

    async def async_request_refresh(self) -> None:
        """Poll everything now at the user's request (`homeassistant.update_entity`).

        Honoured only as the next scheduled round pulled forward: see `_manual_allowed`.
        """
        self._refresh_requested = True
        await super().async_request_refresh()

    def _manual_allowed(self, now: datetime, cadence: Cadence) -> bool:
        """Return whether a requested round may run now, and spend only what the schedule would.

        A requested round is the next scheduled round pulled forward (the one after
        it keeps its time), so it is allowed only while that round is not already
        pulled: a refresh asked for every minute gets the schedule's rounds, one
        cadence early, never the month's reserve. It must also fit this minute and
        the share of the month the cadence plans to use (the last 5 % are kept back).
        The live reads are the systems list, each system's summary (and latest
        telemetry, see `_live_calls`), and the battery; energy streams that do not
        fit this minute follow a minute later.
        """
        if self._next_bulk is not None and self._next_bulk - now > cadence.bulk:
            return False
        calls = self._cadence_calls()[0] + 1 + sum(_live_calls(s) for s in self._systems.values())
        limits = PLAN_LIMITS[self.budget.plan]
        return (
            self.budget.calls_available_now() >= calls
            and self.budget.used_this_month + calls <= TARGET_SHARE * limits.per_month
        )

    async def _async_poll(self, now: datetime) -> None:
        cadence = self._cadence(now)
        bulk_due = self._next_bulk is None or now >= self._next_bulk
        # Where the next rounds are counted from: now, or the rounds a request pulls forward.
        bulk_from = fast_from = now
        if self._refresh_requested and not bulk_due:
            self._refresh_requested = False
            if self._manual_allowed(now, cadence):
                bulk_due = True
                bulk_from = max(now, self._next_bulk or now)
                fast_from = max(now, self._next_fast or now)
            else:
                LOGGER.info(
                    "Refresh request skipped: the scheduled rounds' calls are spent; "
                    "next round at %s",
                    self._next_bulk,
                )
        self._refresh_requested = False
        fast_due = bulk_due or self._next_fast is None or now >= self._next_fast
        if bulk_due:
            await self._async_bulk(now)
            self._next_bulk = next_aligned(bulk_from + cadence.bulk - REPORTING_LAG)
        if fast_due:
            await self._async_fast(now)
            self._next_fast = next_aligned(fast_from + cadence.fast - REPORTING_LAG)
        await self._async_history(now)
        # After history: a first import finishes in minutes, then events and alarms follow.
        health_waits = await self.health.async_poll(self._systems, now, bulk=bulk_due)
        self._history_retry = self._history_retry or health_waits
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
            if system_id not in added and self._devices_due(snapshot, summary, now):
                await self._async_recheck_devices(system_id, now)
                snapshot = self._systems[system_id]
            telemetry = (
                await self.client.async_get_latest_telemetry(system_id)
                if _needs_latest_telemetry(snapshot)
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
        """Read the battery settings (unless given), storm guard and grid status.

        Each read fails alone: a site that has not reported answers 422 on grid
        status and storm guard, and that must not cost the battery settings or the
        rest of the round. A failed read keeps what was known. A dead token or a
        rate limit still ends the round (they concern every call). A plan refusal
        (the plan was downgraded at Enphase while the options still name a bigger
        one) ends control for the system, raises the plan issue (see
        `command_runner`) and leaves monitoring untouched.
        """
        client = self.client
        read = self._config_read
        try:
            if settings is None:
                settings = await read(
                    system_id, "battery_settings", client.async_get_battery_settings
                )
            storm_guard = await read(system_id, "storm_guard", client.async_get_storm_guard)
            grid_status = await read(system_id, "grid_status", client.async_get_grid_status)
        except EnphasePlanError:
            LOGGER.warning(
                "The Enphase plan no longer permits battery control of system %s; "
                "monitoring goes on",
                system_id,
            )
            self._systems[system_id] = replace(
                self._systems[system_id], control_permitted=False, control_denied_by_plan=True
            )
            return
        snapshot = self._systems[system_id]
        self._systems[system_id] = replace(
            snapshot,
            battery_settings=settings or snapshot.battery_settings,
            storm_guard=storm_guard or snapshot.storm_guard,
            grid_status=grid_status or snapshot.grid_status,
            config_fetched_at=now,
        )

    @staticmethod
    async def _config_read[T](
        system_id: int, what: str, fetch: Callable[[int], Awaitable[T]]
    ) -> T | None:
        """Return one configuration read, or None when only that read failed."""
        try:
            return await fetch(system_id)
        except EnphaseAuthError, EnphaseRateLimited, EnphaseConnectionError, EnphasePlanError:
            # These concern every call, or (the plan) end control for the system.
            raise
        except EnphaseError as err:
            LOGGER.debug("Reading %s of system %s failed: %s", what, system_id, err)
            return None

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
            # Setup's first refresh shows current data at once; history follows
            # right after it (see HISTORY_START), when there is any.
            pending = False
            for syncs in self._syncs.values():
                for sync in syncs:
                    pending = pending or await sync.async_needs_history(now)
            self._history_in_progress = self._history_retry = pending
            return
        self._history_started = True
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

    def import_health(self) -> dict[str, int]:
        """Return intervals quarantined and windows not imported, per statistic (diagnostics)."""
        health: dict[str, int] = {}
        for importer in self._importers.values():
            for stat_id, count in importer.quarantined.items():
                health[f"quarantined {stat_id}"] = count
        for syncs in self._syncs.values():
            for sync in syncs:
                if sync.import_failures:
                    key = f"import_failures {sync.source.key} {sync.system_id}"
                    health[key] = sync.import_failures
        return health

    def _minute_limited(self) -> bool:
        """Return whether only the minute's window (not a block or the month) stops calls."""
        budget = self.budget
        return budget.blocked_until is None and budget.remaining_this_month > RESERVED_CALLS

    def _remove_system(self, system_id: int) -> None:
        """Forget a system that left the account, and its devices."""
        self._systems.pop(system_id, None)
        self._syncs.pop(system_id, None)
        self._importers.pop(system_id, None)
        async_remove_devices(self.hass, self.config_entry.entry_id, system_id)
