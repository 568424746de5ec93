"""Who the console acts as, and with which role.

Two sources, chosen the way Streamlit itself decides whether authentication is configured (an
``[auth]`` section in ``.streamlit/secrets.toml``):

- ``oidc``: every visitor signs in with the identity provider through ``st.login()``. The name is
  the ID token's e-mail (else its ``name``, else its ``sub``); the role is the e-mail's entry in
  ``console_user_roles``, else ``console_default_role``.
- ``local``: no identity provider. The console acts as the local operator: the name typed in the
  sidebar (default ``settings.operator``) with the role ``console_role``.

What a role may do is :mod:`shipway.auth.roles`, the table the gateway consults too. The pages hide
the buttons a role may not use; :mod:`console.actions` checks again with :func:`require`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

import streamlit as st
from streamlit.errors import StreamlitAuthError

from shipway.auth.roles import Action, Role, allows
from shipway.settings import Settings, get_settings

LOCAL_NAME_KEY = "acting_as"  # session key of the local operator's name (the sidebar edits it)
ROLE_SETTING = "SHIPWAY_CONSOLE_ROLE"
USER_ROLES_SETTING = "SHIPWAY_CONSOLE_USER_ROLES"
DEFAULT_ROLE_SETTING = "SHIPWAY_CONSOLE_DEFAULT_ROLE"


class ConsoleRoleError(ValueError):
    """A role setting names no :class:`~shipway.auth.roles.Role`; the message names the setting."""


class NotAllowed(PermissionError):
    """The identity's role does not allow the action; the message names both and the roles that would."""


@dataclass(frozen=True)
class Identity:
    """Who the console acts as.

    Attributes:
        name: recorded as submitter, approver or resuming actor; ``""`` when the local operator
            cleared the sidebar's name.
        role: what the identity may do (:func:`shipway.auth.roles.allows`).
        tenant: the tenant whose runs the console shows (``console_tenant``); None = every tenant.
        source: ``"oidc"`` (signed in with the identity provider) or ``"local"`` (the local operator).
    """

    name: str
    role: Role
    tenant: str | None
    source: Literal["oidc", "local"]

    def may(self, action: Action) -> bool:
        """Whether this identity's role allows ``action``."""
        return allows(self.role, action)


def roles_allowed(action: Action) -> str:
    """The roles that allow ``action`` in words, in :class:`Role` order: ``"admin, operator or approver"``."""
    names = [str(role) for role in Role if allows(role, action)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def require(identity: Identity, action: Action) -> None:
    """Refuse ``action`` unless ``identity``'s role allows it.

    Raises:
        NotAllowed: the role does not allow it.
    """
    if not identity.may(action):
        raise NotAllowed(f"{identity.name or 'the console'} (role {identity.role}) may not {action}; "
                         f"that takes the {roles_allowed(action)} role")


def parse_role(value: str, setting: str) -> Role:
    """``value`` as a :class:`Role`, case and surrounding blanks ignored.

    Raises:
        ConsoleRoleError: ``value`` is not a role; the message names ``setting``, the value and the roles.
    """
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise ConsoleRoleError(f"{setting} is {value!r}, which is not a role; use one of "
                               f"{', '.join(Role)}") from None


def role_for_email(email: str | None, user_roles: Mapping[str, str], default_role: str) -> Role:
    """The role of a signed-in user: ``user_roles[email]`` (e-mails compared case-insensitively),
    else ``default_role`` (also for ``email=None``).

    Raises:
        ConsoleRoleError: the role used (the user's entry, or the default) is not a role. Other
            users' entries are not judged, so one typo does not lock everybody out.
    """
    if email:
        wanted = email.strip().casefold()
        for listed, role in user_roles.items():
            if listed.strip().casefold() == wanted:
                return parse_role(role, f"{USER_ROLES_SETTING}[{listed!r}]")
    return parse_role(default_role, DEFAULT_ROLE_SETTING)


def oidc_identity(claims: Mapping[str, Any], settings: Settings) -> Identity:
    """The identity of a signed-in user from their ID token's ``claims`` (``st.user``).

    An e-mail the provider marks unverified (``email_verified`` false) is not used: anybody could
    otherwise claim a mapped address at a provider that lets users type theirs.

    Raises:
        ConsoleRoleError: see :func:`role_for_email`.
    """
    email = claims.get("email")
    if claims.get("email_verified") in (False, "false"):
        email = None
    if email:
        name = str(email)
    else:
        name = next((str(claims[c]) for c in ("name", "sub") if claims.get(c)), "")
    return Identity(name=name, role=role_for_email(email, settings.console_user_roles, settings.console_default_role),
                    tenant=settings.console_tenant, source="oidc")


def local_identity(name: str, settings: Settings) -> Identity:
    """The local operator called ``name``, with the role ``console_role``.

    Raises:
        ConsoleRoleError: ``console_role`` is not a role.
    """
    return Identity(name=name, role=parse_role(settings.console_role, ROLE_SETTING), tenant=settings.console_tenant,
                    source="local")


def oidc_configured() -> bool:
    """Whether sign-in is configured: the secrets have a non-empty ``[auth]`` section, the test
    Streamlit makes before it gives ``st.user`` an ``is_logged_in`` flag."""
    # st.secrets is read at call time: AppTest swaps the module attribute for its own secrets
    return st.secrets.load_if_toml_exists() and bool(st.secrets.get("auth"))


def current_identity() -> Identity:
    """Who this script run acts as (see the module docstring); call it in a Streamlit script run.

    With sign-in configured and nobody signed in, renders the sign-in button and stops the run;
    with an invalid role setting, renders the error and stops the run, so neither ever returns.
    """
    settings = get_settings()
    try:
        if oidc_configured():
            claims = st.user.to_dict()
            if not claims.get("is_logged_in"):
                _sign_in()
            return oidc_identity(claims, settings)
        return local_identity(st.session_state.get(LOCAL_NAME_KEY, settings.operator), settings)
    except ConsoleRoleError as exc:
        st.error(f"The console's role settings are invalid: {exc}.")
        st.stop()


def _sign_in() -> NoReturn:
    st.title("Shipway console")
    st.caption("Sign in with your organisation's account to use the console.")
    if st.button("Sign in", key="sign_in", type="primary"):
        try:
            st.login()
        except StreamlitAuthError as exc:  # e.g. redirect_uri or cookie_secret missing from [auth]
            st.error(f"Sign-in is misconfigured in .streamlit/secrets.toml: {exc}")
    st.stop()
