"""The one map from client errors to Home Assistant's, for polls and actions alike.

A poll (`coordinator_error`) and an action or control (`translate_errors`,
`translate_call_errors`) translate the same `EnphaseError`s through `translated`,
so a user reads the same words whichever path met the error. An auth error from
an action starts reauth, as one from a poll does through `ConfigEntryAuthFailed`.

Every translated error is raised `from None`: the client's own errors never
chain an aiohttp exception (its URL carries the API key), and the chain would
add nothing the translated message does not say.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from functools import wraps
from typing import TYPE_CHECKING, Any

from homeassistant.exceptions import ConfigEntryAuthFailed, HomeAssistantError
from homeassistant.helpers.update_coordinator import UpdateFailed

from .api import (
    EnphaseAuthError,
    EnphaseConnectionError,
    EnphaseError,
    EnphasePlanError,
    EnphaseRateLimited,
    EnphaseUnprocessable,
)
from .api.errors import sane_retry_at
from .const import DOMAIN, LOGGER
from .human_time import local_time_text

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.core import HomeAssistant, ServiceCall


def _retry_at(err: EnphaseRateLimited) -> str:
    return local_time_text(err.retry_at)


def translated(err: EnphaseError, *, polling: bool = False) -> tuple[str, dict[str, str] | None]:
    """Return the translation key and placeholders telling the user about `err`.

    A poll and an action differ only where the user's next step differs: a poll
    failing to connect says why, an action says to try again.
    """
    if isinstance(err, EnphaseAuthError):
        return "auth_failed", None
    if isinstance(err, EnphasePlanError):
        return "plan_not_permitted", None
    if isinstance(err, EnphaseRateLimited):
        return "rate_limited", {"retry_at": _retry_at(err)}
    if isinstance(err, EnphaseUnprocessable) and not polling:
        return "rejected", {"details": err.details or ""}
    if isinstance(err, EnphaseConnectionError) and not polling:
        return "cannot_connect_action", None
    return "cannot_connect", {"error": str(err)}


def coordinator_error(err: EnphaseError, now: datetime, floor: float) -> Exception:
    """Return what a failed poll raises: reauth for auth errors, UpdateFailed otherwise.

    A rate limit's retry waits at least `floor` seconds (a `period_end` in the
    past, from a clock ahead of Enphase's, must not make polls spin).
    """
    if isinstance(err, EnphaseAuthError):
        return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="auth_failed")
    key, placeholders = translated(err, polling=True)
    retry_after = (
        max(floor, (sane_retry_at(err, now) - now).total_seconds())
        if isinstance(err, EnphaseRateLimited)
        else None
    )
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
        retry_after=retry_after,
    )


def action_error(
    err: EnphaseError, hass: HomeAssistant | None, entry: ConfigEntry | None
) -> HomeAssistantError:
    """Return what an action raises for `err`; an auth error also starts reauth."""
    if isinstance(err, EnphaseAuthError) and hass is not None and entry is not None:
        LOGGER.info("Enphase refused the login during an action; asking to log in again")
        entry.async_start_reauth(hass)
    key, placeholders = translated(err)
    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _entry_of(owner: object) -> tuple[HomeAssistant | None, ConfigEntry | None]:
    """Return Home Assistant and the config entry of an entity (through its coordinator)."""
    coordinator = getattr(owner, "coordinator", None)
    hass: HomeAssistant | None = getattr(coordinator, "hass", None)
    entry: ConfigEntry | None = getattr(coordinator, "config_entry", None)
    return hass, entry


def translate_errors[**P, R](
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn client errors raised by an entity's control into translated errors."""

    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except EnphaseError as err:
            raise action_error(err, *_entry_of(args[0] if args else None)) from None

    return wrapper


def translate_call_errors[R](
    find_entry: Callable[[ServiceCall], ConfigEntry | None],
) -> Callable[
    [Callable[[ServiceCall], Awaitable[R]]], Callable[[ServiceCall], Coroutine[Any, Any, R]]
]:
    """Turn client errors raised by an action into translated errors.

    `find_entry` names the entry the call is aimed at, so an auth error starts its reauth.
    """

    def decorator(
        func: Callable[[ServiceCall], Awaitable[R]],
    ) -> Callable[[ServiceCall], Coroutine[Any, Any, R]]:
        @wraps(func)
        async def wrapper(call: ServiceCall) -> R:
            try:
                return await func(call)
            except EnphaseError as err:
                raise action_error(err, call.hass, find_entry(call)) from None

        return wrapper

    return decorator
