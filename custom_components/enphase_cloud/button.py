"""Buttons: start and stop charging of an IQ EV Charger, where the plan permits it.

Enphase serves `start_charging`/`stop_charging` on the Partner plan only (its spec:
"access via VPP api for partners"), so the buttons exist only on an entry set to
that plan. Should Enphase refuse anyway (the entry's plan is wrong), the press
fails with the translated plan error and nothing else changes. Enphase accepts a
command (202) and the charger applies it later: the status follows at a later poll.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import EnphaseClient, EnphasePlanError
from .budget import Plan
from .const import DOMAIN
from .data import EnphaseCloudConfigEntry
from .entity import EnphaseChargerEntity, async_add_charger_entities
from .helpers import translate_errors

# Each press is a write call capped at 200 a month per endpoint: one at a time.
PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class EnphaseChargerButtonEntityDescription(ButtonEntityDescription):
    """A command sent to an IQ EV Charger."""

    press_fn: Callable[[EnphaseClient, int, str], Awaitable[None]]


CHARGER_BUTTONS: tuple[EnphaseChargerButtonEntityDescription, ...] = (
    EnphaseChargerButtonEntityDescription(
        key="ev_start_charging",
        translation_key="ev_start_charging",
        press_fn=lambda client, system_id, serial: client.async_start_ev_charging(
            system_id, serial
        ),
    ),
    EnphaseChargerButtonEntityDescription(
        key="ev_stop_charging",
        translation_key="ev_stop_charging",
        press_fn=lambda client, system_id, serial: client.async_stop_ev_charging(system_id, serial),
    ),
)


def control_permitted(plan: Plan) -> bool:
    """Return whether Enphase lets the plan start and stop charging."""
    return plan is Plan.PARTNER


class EnphaseChargerButton(EnphaseChargerEntity, ButtonEntity):
    """Starts or stops charging through Enphase's cloud."""

    entity_description: EnphaseChargerButtonEntityDescription

    @translate_errors
    async def async_press(self) -> None:
        """Send the command; Enphase's refusal (the plan) comes back as a translated error."""
        charger = self.charger
        if charger is None:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="ev_charger_gone")
        try:
            await self.entity_description.press_fn(
                self.coordinator.client, self.system_id, charger.serial
            )
        except EnphasePlanError:
            # The shared text speaks of battery control; this is the charger's reason.
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="ev_control_not_permitted"
            ) from None


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnphaseCloudConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add start/stop buttons to every charger, on the Partner plan only."""
    if not control_permitted(entry.runtime_data.budget.plan):
        return
    async_add_charger_entities(
        entry,
        async_add_entities,
        lambda coordinator, charger: [
            EnphaseChargerButton(coordinator, charger, description)
            for description in CHARGER_BUTTONS
        ],
    )
