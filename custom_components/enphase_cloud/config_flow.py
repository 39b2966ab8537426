"""Config flow: application credentials, API key, Enphase OAuth, reauth, reconfigure, options."""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any, override

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigFlowResult,
    FlowType,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_API_KEY, CONF_TOKEN
from homeassistant.core import callback
from homeassistant.exceptions import OAuth2TokenRequestBaseError, OAuth2TokenRequestReauthError
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio

from .api import (
    EnphaseApiKeyError,
    EnphaseAuthError,
    EnphaseClient,
    EnphaseError,
    EnphaseRateLimited,
    System,
)
from .budget import Plan
from .connection import async_create_client
from .const import (
    CONF_HISTORY_DAYS,
    CONF_PLAN,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_PLAN,
    DEVELOPER_PORTAL_URL,
    DOMAIN,
    LOGGER,
    MAX_HISTORY_DAYS,
)
from .data import EnphaseCloudConfigEntry


def _plan_selector() -> SelectSelector:
    return SelectSelector(
        SelectSelectorConfig(
            options=[plan.value for plan in Plan],
            translation_key="plan",
            mode=SelectSelectorMode.DROPDOWN,
        )
    )


def _api_key_schema(api_key: str = "", plan: str = DEFAULT_PLAN) -> probatio.Schema:
    return probatio.Schema(
        {
            probatio.Required(CONF_API_KEY, default=api_key): TextSelector(
                TextSelectorConfig(type=TextSelectorType.PASSWORD)
            ),
            probatio.Required(CONF_PLAN, default=plan): _plan_selector(),
        }
    )


async def _async_validate(  # noqa: PLR0911 - one answer per error kind
    client: EnphaseClient, *, fresh_login: bool = False
) -> tuple[list[System], str | None]:
    """List the account's systems with a real call; return them and an error key.

    Enphase's 401 body does not say whether the token or the key was refused; with
    a token issued moments ago (`fresh_login`) it is the key.
    """
    try:
        systems = await client.async_get_systems()
    except EnphaseApiKeyError as err:
        return [], "api_key_mismatch" if err.mismatch else "invalid_api_key"
    except EnphaseAuthError:
        if fresh_login:
            return [], "invalid_api_key"
        return [], "invalid_auth"
    except EnphaseRateLimited:
        return [], "rate_limited"
    except EnphaseError as err:
        # The text only: a traceback's frames hold the request, API key included.
        LOGGER.debug("Enphase could not be reached while validating the API key: %s", err)
        return [], "cannot_connect"
    if not systems:
        return [], "no_systems"
    return systems, None


def _title(systems: list[System]) -> str:
    """Name the entry after the account's systems, as the homeowner named them in Enlighten.

    The account's e-mail would be recognisable too, but it is personal data that
    diagnostics and screenshots must not carry; the token has none anyway.
    """
    names = sorted(system.name for system in systems)
    if len(names) <= 2:  # noqa: PLR2004 - two names still read as a title
        return " and ".join(names)
    return f"Enphase ({len(names)} systems)"


class OAuth2FlowHandler(config_entry_oauth2_flow.AbstractOAuth2FlowHandler, domain=DOMAIN):
    """Add an Enphase account: credentials, API key, then the Enphase login."""

    DOMAIN = DOMAIN
    VERSION = 1

    def __init__(self) -> None:
        """Initialise the flow."""
        super().__init__()
        self._api_key: str | None = None
        self._plan: str = DEFAULT_PLAN
        self._oauth_data: dict[str, Any] | None = None

    @property
    @override
    def logger(self) -> logging.Logger:
        """Return the logger the OAuth helper writes to."""
        return LOGGER

    @callback
    @override
    def async_abort(
        self,
        *,
        reason: str,
        description_placeholders: Mapping[str, str] | None = None,
        translation_domain: str | None = None,
        next_flow: tuple[FlowType, str] | None = None,
    ) -> ConfigFlowResult:
        """Abort with the integration's own text, also for the OAuth helper's shared reasons.

        Home Assistant's OAuth helper points its reasons (a rejected client secret, a
        denied consent…) at its generic texts, which say nothing about where to fix
        them; ours do (translations/en.json, `config.abort`).
        """
        return super().async_abort(
            reason=reason,
            description_placeholders=description_placeholders,
            translation_domain=translation_domain or DOMAIN,
            next_flow=next_flow,
        )

    @override
    async def async_step_auth(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the API key once the credentials are chosen, before the Enphase login."""
        if user_input is None and self._api_key is None:
            return await self.async_step_api_key()
        return await super().async_step_auth(user_input)

    async def async_step_api_key(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Enter the API key of the Enphase developer app and its plan."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._api_key = user_input[CONF_API_KEY].strip()
            self._plan = user_input[CONF_PLAN]
            if self._oauth_data is None:
                return await self.async_step_auth()
            # The login already happened and the key was rejected: validate the new one.
            result = await self._async_finish(self._oauth_data)
            if not isinstance(result, str):
                return result
            errors = {"base": result}
        return self.async_show_form(
            # After the login the form says so, instead of announcing the login again.
            step_id="api_key" if self._oauth_data is None else "api_key_again",
            data_schema=_api_key_schema(self._api_key or "", self._plan),
            errors=errors,
            description_placeholders={"developer_portal_url": DEVELOPER_PORTAL_URL},
        )

    async def async_step_api_key_again(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Correct the API key after the Enphase login rejected it with the key given."""
        return await self.async_step_api_key(user_input)

    @override
    async def async_oauth_create_entry(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Validate the API key with the new token and create or update the entry."""
        uid = data[CONF_TOKEN].get("enl_uid")
        if not uid:
            return self.async_abort(reason="oauth_error")
        await self.async_set_unique_id(str(uid))
        if self.source == SOURCE_REAUTH:
            self._abort_if_unique_id_mismatch(reason="wrong_account")
        else:
            self._abort_if_unique_id_configured()
        self._oauth_data = data
        result = await self._async_finish(data)
        if not isinstance(result, str):
            return result
        return self.async_show_form(
            step_id="api_key_again",
            data_schema=_api_key_schema(self._api_key or "", self._plan),
            errors={"base": result},
            description_placeholders={"developer_portal_url": DEVELOPER_PORTAL_URL},
        )

    async def _async_finish(self, data: dict[str, Any]) -> ConfigFlowResult | str:
        """Create (or, in reauth, update) the entry, or return the API key step's error."""
        token: str = data[CONF_TOKEN]["access_token"]

        async def _token() -> str:
            return token

        client, _budget = await async_create_client(
            self.hass, self._api_key or "", self._plan, _token
        )
        systems, error = await _async_validate(client, fresh_login=True)
        if error == "no_systems":
            return self.async_abort(reason="no_systems")
        if error is not None:
            return error
        if self.source == SOURCE_REAUTH:
            entry = self._get_reauth_entry()
            return self.async_update_reload_and_abort(
                entry,
                data_updates={CONF_TOKEN: data[CONF_TOKEN], CONF_API_KEY: self._api_key},
                options={**entry.options, CONF_PLAN: self._plan},
                # Named, so that our text ends it, not Home Assistant's generic one.
                reason="reauth_successful",
            )
        return self.async_create_entry(
            title=_title(systems),
            data={**data, CONF_API_KEY: self._api_key},
            options={CONF_PLAN: self._plan, CONF_HISTORY_DAYS: DEFAULT_HISTORY_DAYS},
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start a new Enphase login when the refresh token expired or was revoked."""
        self._api_key = entry_data[CONF_API_KEY]
        self._plan = self._get_reauth_entry().options.get(CONF_PLAN, DEFAULT_PLAN)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Explain the new login; the API key can be corrected here too."""
        if user_input is None:
            return self.async_show_form(
                step_id="reauth_confirm",
                data_schema=probatio.Schema(
                    {
                        probatio.Required(CONF_API_KEY, default=self._api_key or ""): TextSelector(
                            TextSelectorConfig(type=TextSelectorType.PASSWORD)
                        )
                    }
                ),
            )
        self._api_key = user_input[CONF_API_KEY].strip()
        return await self.async_step_user()

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the API key and the plan of an existing entry."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            implementation = await config_entry_oauth2_flow.async_get_config_entry_implementation(
                self.hass, entry
            )
            session = config_entry_oauth2_flow.OAuth2Session(self.hass, entry, implementation)

            async def _token() -> str:
                await session.async_ensure_token_valid()
                return str(session.token["access_token"])

            api_key = user_input[CONF_API_KEY].strip()
            # The running entry's budget keeps its plan until the change is saved.
            client, _budget = await async_create_client(
                self.hass,
                api_key,
                entry.options.get(CONF_PLAN, DEFAULT_PLAN)
                if api_key == entry.data[CONF_API_KEY]
                else user_input[CONF_PLAN],
                _token,
            )
            try:
                _systems, error = await _async_validate(client)
            except OAuth2TokenRequestReauthError:
                # The saved login is dead: only a new Enphase login helps, not a new key.
                # Reauth cannot start while this flow runs; the entry starts it itself
                # at its next call to Enphase.
                return self.async_abort(reason="reauth_required")
            except OAuth2TokenRequestBaseError as err:
                LOGGER.debug("Refreshing the Enphase token failed: %s", type(err).__name__)
                error = "cannot_connect"
            if error == "invalid_auth":
                return self.async_abort(reason="reauth_required")
            if error is None:
                return self.async_update_reload_and_abort(
                    entry,
                    data_updates={CONF_API_KEY: api_key},
                    options={**entry.options, CONF_PLAN: user_input[CONF_PLAN]},
                    reason="reconfigure_successful",
                )
            errors["base"] = error
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_api_key_schema(
                entry.data[CONF_API_KEY], entry.options.get(CONF_PLAN, DEFAULT_PLAN)
            ),
            errors=errors,
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: EnphaseCloudConfigEntry) -> OptionsFlowHandler:
        """Return the options flow."""
        return OptionsFlowHandler()


class OptionsFlowHandler(OptionsFlowWithReload):
    """The developer app's plan (it sets the polling budget) and the history to import."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and store the options."""
        if user_input is not None:
            user_input[CONF_HISTORY_DAYS] = int(user_input[CONF_HISTORY_DAYS])
            return self.async_create_entry(data={**self.config_entry.options, **user_input})
        options = self.config_entry.options
        return self.async_show_form(
            step_id="init",
            data_schema=probatio.Schema(
                {
                    probatio.Required(
                        CONF_PLAN, default=options.get(CONF_PLAN, DEFAULT_PLAN)
                    ): _plan_selector(),
                    probatio.Required(
                        CONF_HISTORY_DAYS,
                        default=options.get(CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS),
                    ): NumberSelector(
                        NumberSelectorConfig(
                            min=1,
                            max=MAX_HISTORY_DAYS,
                            step=1,
                            mode=NumberSelectorMode.BOX,
                            unit_of_measurement="d",
                        )
                    ),
                }
            ),
        )
