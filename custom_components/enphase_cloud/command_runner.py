"""Home Assistant side of the battery command engine: storage, timers, telemetry, repairs.

One `BatteryCommander` per config entry owns the entry's `CommandEngine`. It
persists the engine with a Store (a restart resumes the timers; a command that
expired while Home Assistant was down is restored at once), runs `async_tick` at
the engine's `next_wakeup()`, feeds it fresh state of charge from the
coordinator, publishes every setting written or read back through the
coordinator, and keeps the entry's repair issues (plan without battery control,
restore failing for 15 minutes) in step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
import logging
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .api import BatteryMode, BatterySettings, EnphaseClient, StormGuard
from .command_engine import (
    STORAGE_VERSION,
    BatterySettingsApi,
    Command,
    CommandEngine,
    CommandKind,
    CommandState,
    stored_restores,
)
from .const import DEVELOPER_PORTAL_URL, DOMAIN

if TYPE_CHECKING:
    from .coordinator import EnphaseCloudCoordinator
    from .data import EnphaseCloudConfigEntry

_LOGGER = logging.getLogger(__name__)

RESTORE_ISSUE_AFTER: Final = timedelta(minutes=15)
ISSUE_NOT_PERMITTED: Final = "battery_control_not_permitted"
ISSUE_RESTORE_FAILING: Final = "battery_restore_failing"
SAVE_DELAY: Final = 1
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


def restore_issue_id(entry_id: str, system_id: int) -> str:
    """Return the id of a system's "restore keeps failing" issue."""
    return f"{ISSUE_RESTORE_FAILING}_{entry_id}_{system_id}"


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
        mode: BatteryMode | None = None,
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
        self._engine = CommandEngine(self._api, on_change=self._on_change)
        self._listeners: list[CALLBACK_TYPE] = []
        self._unsub_timer: CALLBACK_TYPE | None = None
        self._unsub_coordinator: CALLBACK_TYPE | None = None
        self._fed: dict[int, datetime] = {}
        self._restore_issues: set[int] = set()
        self._not_permitted_issue = False
        self._running = False
        self._tick_running = False

    # ------------------------------------------------------------------ lifecycle

    async def async_setup(self) -> None:
        """Load the stored commands, resume their timers and start listening."""
        data = await self._store.async_load()
        self._engine = CommandEngine.from_dict(data, self._api, on_change=self._on_change)
        self._engine.resume(dt_util.utcnow())
        self._running = True
        self._unsub_coordinator = self._coordinator.async_add_listener(self._on_coordinator_update)
        self._on_coordinator_update()
        self._update_restore_issues(dt_util.utcnow())
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
        await self._store.async_save(self._engine.to_dict())
        # The issues stay (with their dismissals); the next setup drops the resolved ones.
        self._restore_issues.clear()
        self._not_permitted_issue = False

    # ------------------------------------------------------------------ queries

    def state(self, system_id: int) -> CommandState:
        """Return the command state of a system now."""
        return self._engine.state(system_id, dt_util.utcnow())

    def attributes(self, system_id: int) -> dict[str, Any]:
        """Return what the command sensor shows about a system's (last) command."""
        command = self._engine.command(system_id)
        restore_to = self._engine.restore_to(system_id)
        reason = self._engine.last_end_reason(system_id)
        return {
            "command_id": command.command_id if command else None,
            "kind": command.kind.value if command else None,
            "target_reserve": command.target_reserve if command else None,
            "started": command.sent_at if command else None,
            "effective_from": command.effective_from if command else None,
            "ends_at": command.ends_at if command else None,
            "export_to_grid": "not_supported" if command and command.export_requested else None,
            "restore_to_mode": restore_to.mode.value if restore_to else None,
            "restore_to_reserve": restore_to.reserve_soc if restore_to else None,
            "restore_failing_since": self._engine.restore_failing_since(system_id),
            "last_end_reason": str(reason) if reason is not None else None,
            "last_ended_at": self._engine.last_ended_at(system_id),
        }

    def response(self, system_id: int, command: Command | None) -> dict[str, Any]:
        """Return an action's response data for `command` (None: after a cancel)."""
        restore_to = self._engine.restore_to(system_id)
        data: dict[str, Any] = {
            "system_id": system_id,
            "state": self.state(system_id).value,
            "restore_to": (
                {"mode": restore_to.mode.value, "reserve_soc": restore_to.reserve_soc}
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
    ) -> Command:
        """Start a command (see `CommandEngine.async_start`)."""
        return await self._engine.async_start(
            system_id,
            kind,
            target_reserve=target_reserve,
            duration=duration,
            shutdown_level=shutdown_level,
            now=dt_util.utcnow(),
            export_requested=export_requested,
        )

    async def async_cancel(self, system_id: int) -> None:
        """End a system's command now and restore (see `CommandEngine.async_cancel`)."""
        await self._engine.async_cancel(system_id, dt_util.utcnow())

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
        self._coordinator.async_set_config(
            system_id, battery_settings=battery_settings, storm_guard=storm_guard
        )
        if self.state(system_id) is CommandState.IDLE:
            return
        _LOGGER.info(
            "%s of system %s was changed by hand during a battery command: "
            "the command ends and the earlier settings are not restored",
            what,
            system_id,
        )
        self._engine.manual_override(system_id, dt_util.utcnow())

    # ------------------------------------------------------------------ internals

    @callback
    def _on_change(self, system_id: int) -> None:
        """Save, re-plan the timer, update repairs and sensors after any engine change."""
        self._store.async_delay_save(self._engine.to_dict, SAVE_DELAY)
        if not self._running:
            return
        self._update_restore_issues(dt_util.utcnow())
        self._schedule()
        for update in list(self._listeners):
            update()

    @callback
    def _schedule(self) -> None:
        """Arm one timer for the earliest moment the engine or a repair issue needs."""
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None
        if not self._running:
            return
        moments = [
            since + RESTORE_ISSUE_AFTER
            for system_id in self._engine.busy_systems()
            if system_id not in self._restore_issues
            and (since := self._engine.restore_failing_since(system_id)) is not None
        ]
        if (wakeup := self._engine.next_wakeup()) is not None:
            moments.append(wakeup)
        if not moments:
            return
        if (when := min(moments)) <= dt_util.utcnow():
            # Due already (a restore after a restart): no need to wait for the clock.
            self._fire(when)
        else:
            self._unsub_timer = async_track_point_in_utc_time(self._hass, self._fire, when)

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
        now = dt_util.utcnow()
        try:
            await self._engine.async_tick(now)
        finally:
            self._tick_running = False
        self._update_restore_issues(now)
        self._schedule()
        for update in list(self._listeners):
            update()

    @callback
    def _update_restore_issues(self, now: datetime) -> None:
        """Raise a repair issue for a restore failing 15 minutes; remove it on recovery."""
        for system_id in self._engine.busy_systems() + list(self._restore_issues):
            issue_id = restore_issue_id(self._entry.entry_id, system_id)
            since = self._engine.restore_failing_since(system_id)
            if since is not None and now - since >= RESTORE_ISSUE_AFTER:
                if system_id in self._restore_issues:
                    continue
                self._restore_issues.add(system_id)
                restore_to = self._engine.restore_to(system_id)
                ir.async_create_issue(
                    self._hass,
                    DOMAIN,
                    issue_id,
                    is_fixable=False,
                    severity=ir.IssueSeverity.ERROR,
                    translation_key=ISSUE_RESTORE_FAILING,
                    translation_placeholders={
                        "system": self._system_name(system_id),
                        "since": dt_util.as_local(since).isoformat(timespec="minutes"),
                        "mode": restore_to.mode.value if restore_to else "",
                        "reserve": str(restore_to.reserve_soc) if restore_to else "",
                    },
                )
                _LOGGER.error(
                    "Restoring the battery settings of system %s has failed since %s; "
                    "still retrying",
                    system_id,
                    since.isoformat(),
                )
            elif since is None and system_id in self._restore_issues:
                self._restore_issues.discard(system_id)
                ir.async_delete_issue(self._hass, DOMAIN, issue_id)

    def _raised_issues(self) -> set[str]:
        """Return the ids of the issues this runner has raised (still true)."""
        raised = {restore_issue_id(self._entry.entry_id, sid) for sid in self._restore_issues}
        if self._not_permitted_issue:
            raised.add(not_permitted_issue_id(self._entry.entry_id))
        return raised

    def _system_name(self, system_id: int) -> str:
        snapshot = self._coordinator.data.systems.get(system_id)
        return snapshot.system.name if snapshot else str(system_id)

    @callback
    def _on_coordinator_update(self) -> None:
        """Feed new state-of-charge readings to the engine; keep the plan issue current."""
        now = dt_util.utcnow()
        for system_id, snapshot in self._coordinator.data.systems.items():
            level = snapshot.battery_level
            if (
                level is None
                or self._engine.command(system_id) is None
                or self._fed.get(system_id) == level.measured_at
            ):
                continue
            self._fed[system_id] = level.measured_at
            self._entry.async_create_background_task(
                self._hass,
                self._engine.async_on_soc(system_id, level.percent, level.measured_at, now),
                f"{DOMAIN} battery state of charge",
            )
        self._update_not_permitted_issue()

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


@callback
def async_delete_issues(hass: HomeAssistant, entry_id: str, keep: Collection[str] = ()) -> None:
    """Delete the repair issues of an entry, but those in `keep`."""
    registry = ir.async_get(hass)
    for issue_id in [
        issue_id
        for (domain, issue_id) in registry.issues
        if domain == DOMAIN
        and issue_id.startswith((ISSUE_NOT_PERMITTED, ISSUE_RESTORE_FAILING))
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
                    restore_to.mode.value,
                    restore_to.reserve_soc,
                )
    finally:
        await store.async_remove()
