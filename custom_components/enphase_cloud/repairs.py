"""Repair fix flows: the one-step Energy dashboard set-up, confirmed by the user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow, RepairsFlowResult
from homeassistant.helpers import issue_registry as ir
import probatio

from .const import DOMAIN
from .energy_setup import ISSUE_PREFIX, EnergyProposal, async_apply, async_propose, issue_id

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

    from .data import EnphaseCloudConfigEntry


class EnergySetupFlow(RepairsFlow):
    """Show the Energy sources the entry's systems offer; add them on confirmation."""

    def __init__(self, entry_id: str) -> None:
        """Remember the entry whose systems are offered."""
        self._entry_id = entry_id
        self._proposal: EnergyProposal | None = None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> RepairsFlowResult:
        """Start with the confirmation."""
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> RepairsFlowResult:
        """List what would be added; add it when the user confirms."""
        entry: EnphaseCloudConfigEntry | None = self.hass.config_entries.async_get_entry(
            self._entry_id
        )
        if entry is None or entry.domain != DOMAIN or not hasattr(entry, "runtime_data"):
            return self.async_abort(reason="entry_not_loaded")
        if user_input is not None and self._proposal is not None:
            await async_apply(self.hass, self._proposal)
            # The repairs manager removes the issue too, but only when it ran the flow.
            ir.async_delete_issue(self.hass, DOMAIN, issue_id(self._entry_id))
            return self.async_create_entry(data={})
        self._proposal = await async_propose(self.hass, entry)
        if not self._proposal.sources:
            return self.async_abort(reason="energy_nothing_to_add")
        names = {
            s.system_id: s.system.name for s in entry.runtime_data.coordinator.data.systems.values()
        }
        return self.async_show_form(
            step_id="confirm",
            data_schema=probatio.Schema({}),
            description_placeholders={"sources": self._proposal.describe(names)},
        )


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Return the fix flow of a fixable issue."""
    if issue_id.startswith(ISSUE_PREFIX) and data is not None:
        return EnergySetupFlow(str(data["entry_id"]))
    return ConfirmRepairFlow()
