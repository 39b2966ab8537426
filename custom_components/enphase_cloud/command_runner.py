"""Home Assistant side of the battery command engine: storage, timers, polls, repairs.

One `BatteryCommander` per config entry owns the entry's `CommandEngine`. It
persists the engine with a Store (`command_store`; a restart resumes the
timers, a command that expired while Home Assistant was down is restored at
once), runs `async_tick` at the engine's `next_wakeup()` and after every poll,
feeds it what the polls see (state of charge, settings changed in the Enphase
app, grid services events, server times for its `Reckoning`), publishes every
setting written or read back through the coordinator, and keeps the entry's
repair issues (plan without battery control, restore failing or refused) in
step. Entries that see the same system share one command per system through
`hass.data` (`DATA_SYSTEM_OWNERS`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
import logging
import time
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .api import AnyBatteryMode, BatteryMode, BatterySettings, EnphaseClient, StormGuard, mode_key
from .api.const import Endpoint
from .command_engine import (
    BatterySettingsApi,
    Command,
    CommandEngine,
    CommandKind,
    CommandState,
    CommandStatus,
    Reckoning,
    RestoreWait,
)
from .command_store import (
    STORAGE_VERSION,
    engine_to_dict,
    reckoned_from_dict,
    records_from_dict,
    stored_restores,
)
from .const import DEVELOPER_PORTAL_URL, DOMAIN

if TYPE_CHECKING:
    from .coordinator import EnphaseCloudCoordinator
    from .data import EnphaseCloudConfigEntry, SystemSnapshot

_LOGGER = logging.getLogger(__name__)

RESTORE_ISSUE_AFTER: Final = timedelta(minutes=15)
ISSUE_NOT_PERMITTED: Final = "battery_control_not_permitted"
ISSUE_RESTORE_FAILING: Final = "battery_restore_failing"
ISSUE_RESTORE_REFUSED: Final = "battery_restore_refused_by_plan"
DATA_SYSTEM_OWNERS: Final[HassKey[dict[int, BatteryCommander]]] = HassKey(
    f"{DOMAIN}_command_owners"
)
"""Per system id, the commander whose command (or restore) is under way, across entries."""
MODE_NAMES: Final[dict[BatteryMode, str]] = {
    BatteryMode.SELF_CONSUMPTION: "Self-Consumption",
    BatteryMode.SAVINGS: "Savings",
    BatteryMode.FULL_BACKUP: "Full Backup",
}
"""The mode as the Enphase app names it, for repair texts (placeholders are not translated)."""
SAVE_DELAY: Final = 1
# Seconds between two timer ticks at least: a wakeup a tick did not move
# (a due step that waits on something else) must not spin the event loop.
TICK_MIN_INTERVAL: Final = 1.0
EXPORT_NOT_SUPPORTED_REASON: Final = (
    "The Enphase API cannot change tariff or grid export settings: the battery "
    "discharges to cover home loads only."
)


def storage_key(entry_id: str) -> str:
    """Return the Store key of an entry's battery commands."""
    return f"{DOMAIN}.battery_commands.{entry_id}"  # the stored name predates the rename


def not_permitted_issue_id(entry_id: str) -> str:
    """Return the id of the entry's "plan does not permit battery control" issue."""
    return f"{ISSUE_NOT_PERMITTED}_{entry_id}"


def restore_issue_id(entry_id: str, system_id: int, kind: str = ISSUE_RESTORE_FAILING) -> str:
    """Return the id of a system's restore issue (`kind`: failing, or refused by the plan)."""
    return f"{kind}_{entry_id}_{system_id}"


class PublishingBatteryApi:
    """The engine's view of the client: every answer is published via the coordinator.

    The settings Enphase echoes after a PUT, or returns on the confirming read,
    are the freshest there are: the entities show them at once, without a poll.
    """

    def __init__(self, client: EnphaseClient, coordinator: EnphaseCloudCoordinator) -> None:
        """Wrap `client`, publishing through `coordinator`."""
        self._client = client
        self._coordinator = coordinator

    async def async_get_battery_settings(self, system_id: int) -> BatterySettings:
        """Read the battery settings in force and publish them."""
        settings = await self._client.async_get_battery_settings(system_id)
        self._coordinator.async_set_config(system_id, battery_settings=settings)
        return settings

    async def async_set_battery_settings(
        self,
        system_id: int,
        *,
        mode: AnyBatteryMode | None = None,
        reserve_soc: int | None = None,
    ) -> BatterySettings:
        """Change the battery settings and publish what Enphase accepted."""
        settings = await self._client.async_set_battery_settings(
            system_id, mode=mode, reserve_soc=reserve_soc
        )
        self._coordinator.async_set_config(system_id, battery_settings=settings)
        return settings


class BatteryCommander:
    """Runs the battery commands of one config entry inside Home Assistant."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EnphaseCloudConfigEntry,
        coordinator: EnphaseCloudCoordinator,
        client: EnphaseClient,
    ) -> None:
        """Prepare the commander; `async_setup` loads the stored commands."""
        self._hass = hass
        self._entry = entry
        self._coordinator = coordinator
        self._api = PublishingBatteryApi(client, coordinator)
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, storage_key(entry.entry_id)
        )
        self._reckoning = Reckoning()
        self._engine = self._new_engine(None)
        self._listeners: list[CALLBACK_TYPE] = []
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._unsub_coordinator: CALLBACK_TYPE | None = None
        self._fed: dict[int, datetime] = {}
        self._seen_settings: dict[int, BatterySettings] = {}
        self._restore_issues: dict[int, str] = {}
        self._not_permitted_issue = False
        self._running = False
        self._tick_running = False

    def _new_engine(self, data: dict[str, Any] | None) -> CommandEngine:
        return CommandEngine(
            self._api,
            on_change=self._on_change,
            clock=self._now,
            systems=records_from_dict(data),
        )

    def _now(self) -> datetime:
        """Return the reckoned time: HA's clock, never behind monotonic or server time."""
        return self._reckoning.now(dt_util.utcnow(), time.monotonic())

    # ------------------------------------------------------------------ lifecycle

    async def async_setup(self) -> None:
        """Load the stored commands, resume their timers and start listening."""
        data = await self._store.async_load()
        self._reckoning = Reckoning(reckoned_from_dict(data))
        self._engine = self._new_engine(data)
        self._engine.resume(self._now())
        owners = self._hass.data.setdefault(DATA_SYSTEM_OWNERS, {})
        for system_id in self._engine.busy_systems():
            owners.setdefault(system_id, self)
        self._running = True
        self._unsub_coordinator = self._coordinator.async_add_listener(self._on_coordinator_update)
        self._on_coordinator_update()
        self._update_restore_issues(self._now())
        # Raising an issue again keeps the user's dismissal; only what is no longer true goes.
        async_delete_issues(self._hass, self._entry.entry_id, keep=self._raised_issues())
        self._schedule()

    async def async_unload(self) -> None:
        """Stop the timers and save: the running command stays persisted for the next setup."""
        self._running = False
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if self._unsub_coordinator is not None:
            self._unsub_coordinator()
            self._unsub_coordinator = None
        owners = self._hass.data.get(DATA_SYSTEM_OWNERS, {})
        for system_id in [sid for sid, owner in owners.items() if owner is self]:
            del owners[system_id]
        self._now()  # the reckoning saved is the time of the unload
        await self._store.async_save(self._to_dict())
        # The issues stay (with their dismissals); the next setup drops the resolved ones.
        self._restore_issues.clear()
        self._not_permitted_issue = False

    # ------------------------------------------------------------------ queries

    def _owner(self, system_id: int) -> BatteryCommander:
        """Return the commander in charge of a system: another entry's while it runs one."""
        owner = self._hass.data.get(DATA_SYSTEM_OWNERS, {}).get(system_id)
        return owner if owner is not None and owner._running else self  # noqa: SLF001

    def status(self, system_id: int) -> CommandStatus:
        """Return the frozen status of a system's command (whichever entry runs it)."""
        return self._owner(system_id)._engine.status(system_id)  # noqa: SLF001

    def state(self, system_id: int) -> CommandState:
        """Return the command state of a system now."""
        return self.status(system_id).state(self._now())

    def attributes(self, system_id: int) -> dict[str, Any]:
        """Return what the command sensor shows about a system's (last) command.

        Attributes that do not apply (export while nothing was asked, an
        adjustment that did not happen) are left out rather than shown unknown.
        """
        status = self.status(system_id)
        command = status.command
        restore_to = status.restore_to
        attributes: dict[str, Any] = {
            "command_id": command.command_id if command else None,
            "kind": command.kind.value if command else None,
            "target_reserve": command.target_reserve if command else None,
            "started": command.sent_at if command else None,
            "effective_from": command.effective_from if command else None,
            "ends_at": command.ends_at if command else None,
            "restore_to_mode": mode_key(restore_to.mode) if restore_to else None,
            "restore_to_reserve": restore_to.reserve_soc if restore_to else None,
            "restore_failing_since": status.restore_failing_since,
            "last_end_reason": status.last_end_reason.value if status.last_end_reason else None,
            "last_ended_at": status.last_ended_at,
        }
        if command is not None and command.export_requested:
            attributes["export_to_grid"] = "not_supported"
        if status.restore_waits_for is not None:
            attributes["restore_waits_for"] = status.restore_waits_for.value
        if status.restore_adjusted_from is not None:
            attributes["restore_adjusted_from"] = status.restore_adjusted_from
        return attributes

    def response(self, system_id: int, command: Command | None) -> dict[str, Any]:
        """Return an action's response data for `command` (None: after a cancel)."""
        status = self.status(system_id)
        restore_to = status.restore_to
        data: dict[str, Any] = {
            "system_id": system_id,
            "state": status.state(self._now()).value,
            "restore_to": (
                {"mode": mode_key(restore_to.mode), "reserve_soc": restore_to.reserve_soc}
                if restore_to
                else None
            ),
        }
        if command is not None:
            data |= {
                "command_id": command.command_id,
                "kind": command.kind.value,
                "target_reserve": command.target_reserve,
                "effective_from": command.effective_from.isoformat(),
                "ends_at": command.ends_at.isoformat(),
            }
            if command.export_requested:
                data |= {"export": "not_supported", "export_reason": EXPORT_NOT_SUPPORTED_REASON}
        return data

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update` whenever a command changes; returns the function that stops it."""
        self._listeners.append(update)

        @callback
        def _remove() -> None:
            self._listeners.remove(update)

        return _remove

    # ------------------------------------------------------------------ commands

    async def async_start(  # noqa: PLR0913 - the action's fields
        self,
        system_id: int,
        kind: CommandKind,
        *,
        target_reserve: int,
        duration: timedelta,
        shutdown_level: int | None,
        export_requested: bool = False,
        grid_event_active: bool | None = None,
    ) -> Command:
        """Start a command (see `CommandEngine.async_start`).

        Another entry that runs a command on the same system runs this one too,
        so it keeps that command's snapshot; the write cap is the key's own.
        """
        owner = self._owner(system_id)
        if owner is not self:
            return await owner.async_start(
                system_id,
                kind,
                target_reserve=target_reserve,
                duration=duration,
                shutdown_level=shutdown_level,
                export_requested=export_requested,
                grid_event_active=grid_event_active,
            )
        owners = self._hass.data.setdefault(DATA_SYSTEM_OWNERS, {})
        owners[system_id] = self
        try:
            return await self._engine.async_start(
                system_id,
                kind,
                target_reserve=target_reserve,
                duration=duration,
                shutdown_level=shutdown_level,
                now=self._now(),
                export_requested=export_requested,
                grid_event_active=grid_event_active,
                writes_left=self._coordinator.budget.writes.remaining(
                    Endpoint.SET_BATTERY_SETTINGS
                ),
            )
        finally:
            self._release_if_idle(system_id)

    async def async_cancel(self, system_id: int) -> None:
        """End a system's command now and restore (see `CommandEngine.async_cancel`)."""
        owner = self._owner(system_id)
        if owner is not self:
            await owner.async_cancel(system_id)
            return
        await self._engine.async_cancel(system_id, self._now())

    @callback
    def async_manual_change(
        self,
        system_id: int,
        what: str,
        *,
        battery_settings: BatterySettings | None = None,
        storm_guard: StormGuard | None = None,
    ) -> None:
        """Publish a setting the user wrote; during a command their latest intent wins."""
        owner = self._owner(system_id)
        if owner.state(system_id) is not CommandState.IDLE:
            _LOGGER.info(
                "%s of system %s was changed by hand during a battery command: "
                "the command ends and the earlier settings are not restored",
                what,
                system_id,
            )
            # Before publishing: the published value would otherwise look foreign.
            owner._engine.manual_override(system_id, self._now())  # noqa: SLF001
        self._coordinator.async_set_config(
            system_id, battery_settings=battery_settings, storm_guard=storm_guard
        )

    # ------------------------------------------------------------------ internals

    def _to_dict(self) -> dict[str, Any]:
        return engine_to_dict(self._engine, self._reckoning.last)

    @callback
    def _release_if_idle(self, system_id: int) -> None:
        owners = self._hass.data.get(DATA_SYSTEM_OWNERS, {})
        if owners.get(system_id) is self and not self._engine.status(system_id).busy:
            del owners[system_id]

    @callback
    def _on_change(self, system_id: int) -> None:
        """Save, re-plan the timer, update repairs and sensors after any engine change."""
        self._store.async_delay_save(self._to_dict, SAVE_DELAY)
        if self._engine.status(system_id).busy:
            self._hass.data.setdefault(DATA_SYSTEM_OWNERS, {}).setdefault(system_id, self)
        else:
            self._release_if_idle(system_id)
        if not self._running:
            return
        self._update_restore_issues(self._now())
        self._schedule()
        for update in list(self._listeners):
            update()

    @callback
    def _schedule(self, *, min_delay: float = 0.0) -> None:
        """Arm one timer for the earliest moment the engine or a repair issue needs.

        The delay is measured on the reckoned clock and waited on the event
        loop's monotonic one, so a wall clock set back does not postpone it.
        After a tick `min_delay` keeps a wakeup that did not move from
        turning the timer into a busy loop.
        """
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if not self._running:
            return
        moments = [
            since + RESTORE_ISSUE_AFTER
            for system_id in self._engine.busy_systems()
            if system_id not in self._restore_issues
            and (since := self._engine.status(system_id).restore_failing_since) is not None
        ]
        if (wakeup := self._engine.next_wakeup()) is not None:
            moments.append(wakeup)
        if not moments:
            return
        delay = max((min(moments) - self._now()).total_seconds(), min_delay)
        if delay <= 0:
            # Due already (a restore after a restart): no need to wait for the clock.
            self._fire(dt_util.utcnow())
        else:
            self._unsub_timer = async_call_later(self._hass, delay, self._fire)

    @callback
    def _fire(self, _now: datetime) -> None:
        self._unsub_timer = None
        if self._tick_running:
            # The running tick plans the next one when it is done.
            return
        self._tick_running = True
        self._entry.async_create_background_task(
            self._hass, self._async_tick(), f"{DOMAIN} battery command timer"
        )

    async def _async_tick(self) -> None:
        now = self._now()
        try:
            await self._engine.async_tick(now)
        finally:
            self._tick_running = False
        self._update_restore_issues(now)
        self._schedule(min_delay=TICK_MIN_INTERVAL)
        for update in list(self._listeners):
            update()

    @callback
    def _update_restore_issues(self, now: datetime) -> None:
        """Raise a repair issue for a restore failing 15 minutes or refused; remove it after."""
        for system_id in self._engine.busy_systems() + list(self._restore_issues):
            status = self._engine.status(system_id)
            since = status.restore_failing_since
            refused = status.restore_waits_for is RestoreWait.PLAN
            wanted: str | None = None
            if refused:
                wanted = ISSUE_RESTORE_REFUSED
            elif since is not None and now - since >= RESTORE_ISSUE_AFTER:
                wanted = ISSUE_RESTORE_FAILING
            current = self._restore_issues.get(system_id)
            if wanted == current:
                continue
            if current is not None:
                del self._restore_issues[system_id]
                ir.async_delete_issue(
                    self._hass, DOMAIN, restore_issue_id(self._entry.entry_id, system_id, current)
                )
            if wanted is None or since is None:
                continue
            self._restore_issues[system_id] = wanted
            restore_to = status.restore_to
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                restore_issue_id(self._entry.entry_id, system_id, wanted),
                is_fixable=False,
                severity=ir.IssueSeverity.ERROR,
                learn_more_url=DEVELOPER_PORTAL_URL if refused else None,
                translation_key=wanted,
                translation_placeholders={
                    "system": self._system_name(system_id),
                    "since": _local_text(since),
                    "mode": _mode_name(restore_to.mode) if restore_to else "",
                    "reserve": str(restore_to.reserve_soc) if restore_to else "",
                },
            )
            _LOGGER.error(
                "Restoring the battery settings of system %s has failed since %s (%s)",
                system_id,
                since.isoformat(),
                "the plan refuses it; waiting for the plan" if refused else "still retrying",
            )

    def _raised_issues(self) -> set[str]:
        """Return the ids of the issues this runner has raised (still true)."""
        raised = {
            restore_issue_id(self._entry.entry_id, sid, kind)
            for sid, kind in self._restore_issues.items()
        }
        if self._not_permitted_issue:
            raised.add(not_permitted_issue_id(self._entry.entry_id))
        return raised

    def _system_name(self, system_id: int) -> str:
        snapshot = self._coordinator.data.systems.get(system_id)
        return snapshot.system.name if snapshot else str(system_id)

    @callback
    def _on_coordinator_update(self) -> None:
        """Feed what the poll saw to the engine; keep the plan issue current."""
        now = self._now()
        for system_id, snapshot in self._coordinator.data.systems.items():
            self._observe(system_id, snapshot, now)
        self._update_not_permitted_issue()
        if self._running:
            # Every poll is also a tick: a timer the clock held back cannot hold a command.
            self._schedule()

    @callback
    def _observe(self, system_id: int, snapshot: SystemSnapshot, now: datetime) -> None:
        wall, mono = dt_util.utcnow(), time.monotonic()
        for server_time in (
            snapshot.battery_level.measured_at if snapshot.battery_level else None,
            snapshot.system.last_report_at,
        ):
            if server_time is not None:
                self._reckoning.observe(server_time, wall, mono)
        if snapshot.grid_services_event_active is not None or (self._engine.status(system_id).busy):
            self._engine.set_grid_event(
                system_id, active=snapshot.grid_services_event_active, now=now
            )
        settings = snapshot.battery_settings
        if settings is not None and self._seen_settings.get(system_id) is not settings:
            self._seen_settings[system_id] = settings
            self._engine.observe_settings(system_id, settings, now)
        status = self._engine.status(system_id)
        if (
            status.restore_waits_for is RestoreWait.PLAN
            and snapshot.control_permitted
            and snapshot.config_fetched_at is not None
            and status.restore_failing_since is not None
            and snapshot.config_fetched_at > status.restore_failing_since
        ):
            # The settings were read since Enphase refused: the plan permits again.
            self._entry.async_create_background_task(
                self._hass,
                self._engine.async_retry_restore(system_id, now),
                f"{DOMAIN} battery restore retry",
            )
        level = snapshot.battery_level
        if level is None or status.command is None or self._fed.get(system_id) == level.measured_at:
            return
        self._fed[system_id] = level.measured_at
        self._entry.async_create_background_task(
            self._hass,
            self._engine.async_on_soc(system_id, level.percent, level.measured_at, now),
            f"{DOMAIN} battery state of charge",
        )

    @callback
    def _update_not_permitted_issue(self) -> None:
        blocked = [
            snapshot.system.name
            for snapshot in self._coordinator.data.systems.values()
            if snapshot.has_battery and snapshot.control_denied_by_plan
        ]
        issue_id = not_permitted_issue_id(self._entry.entry_id)
        if blocked and not self._not_permitted_issue:
            self._not_permitted_issue = True
            ir.async_create_issue(
                self._hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                learn_more_url=DEVELOPER_PORTAL_URL,
                translation_key=ISSUE_NOT_PERMITTED,
                translation_placeholders={
                    "entry": self._entry.title,
                    "systems": ", ".join(sorted(blocked)),
                },
            )
        elif not blocked and self._not_permitted_issue:
            self._not_permitted_issue = False
            ir.async_delete_issue(self._hass, DOMAIN, issue_id)


def _local_text(when: datetime) -> str:
    """Return a time as people read it: local, to the minute, with its zone."""
    return dt_util.as_local(when).strftime("%Y-%m-%d %H:%M %Z")


def _mode_name(mode: AnyBatteryMode) -> str:
    # An unknown mode is shown as Enphase spells it.
    return MODE_NAMES.get(mode, mode) if isinstance(mode, BatteryMode) else mode


@callback
def async_delete_issues(hass: HomeAssistant, entry_id: str, keep: Collection[str] = ()) -> None:
    """Delete the repair issues of an entry, but those in `keep`."""
    registry = ir.async_get(hass)
    for issue_id in [
        issue_id
        for (domain, issue_id) in registry.issues
        if domain == DOMAIN
        and issue_id.startswith((ISSUE_NOT_PERMITTED, ISSUE_RESTORE_FAILING, ISSUE_RESTORE_REFUSED))
        and entry_id in issue_id
        and issue_id not in keep
    ]:
        ir.async_delete_issue(hass, DOMAIN, issue_id)


async def async_restore_removed(
    hass: HomeAssistant,
    entry_id: str,
    api_factory: Callable[[], Awaitable[BatterySettingsApi]],
) -> None:
    """Put back the settings of every command of an entry being removed, then forget them.

    The entry is already unloaded and nothing will retry or confirm later, so
    each snapshot is PUT now, once, whatever stage its restore had reached (the
    engine's own restore would wait for a back-off or a read-back); a failure
    is logged as an error naming the settings to set by hand. The factory logs
    in only when there is something to restore.
    """
    store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, storage_key(entry_id))
    api: BatterySettingsApi | None = None
    try:
        for system_id, restore_to in stored_restores(await store.async_load()).items():
            try:
                api = api or await api_factory()
                await api.async_set_battery_settings(
                    system_id, mode=restore_to.mode, reserve_soc=restore_to.reserve_soc
                )
            # Whatever went wrong (the login too), the user must learn what to set.
            except Exception as err:  # noqa: BLE001
                _LOGGER.error(  # noqa: TRY400 - the cause is in the message, no traceback URLs
                    "Could not restore the battery settings of system %s while removing the "
                    "entry (%s); set them by hand: mode %s, reserve %s %%",
                    system_id,
                    err,
                    _mode_name(restore_to.mode),
                    restore_to.reserve_soc,
                )
    finally:
        await store.async_remove()
