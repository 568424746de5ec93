"""Who the console acts as: the role mapping (no Streamlit), the actions' own role check, and the
console with sign-in configured, rendered by AppTest (``at.secrets`` holds the ``[auth]`` section,
``at.user`` is what ``st.user`` reads)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from console import actions
from console.identity import ConsoleRoleError, Identity, NotAllowed, local_identity, oidc_identity, role_for_email
from shipway.auth.roles import Role
from shipway.db.models import Agent, AgentVersion
from shipway.settings import Settings, get_settings
from tests.console.conftest import APP, APP_TIMEOUT_S
from workflows.statuses import ApprovalKind, VersionStatus

# The shape of a real [auth] section; st.login() is never reached, so nothing is contacted.
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret",
    "client_id": "shipway-console",
    "client_secret": "a-test-client-secret",
    "server_metadata_url": "https://idp.bank.example/.well-known/openid-configuration",
}
CAROL = {"is_logged_in": True, "email": "carol@bank.example", "email_verified": True, "name": "Carol"}
DAVE = {"is_logged_in": True, "email": "dave@bank.example", "email_verified": True, "name": "Dave"}
USER_ROLES = {"Carol@Bank.example": "approver"}


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_a_listed_email_gets_its_role_whatever_its_case_and_anyone_else_the_default_role():
    roles = {"Carol@Bank.example": "approver", "ops@bank.example": " Operator "}
    assert role_for_email("carol@bank.example", roles, "viewer") == Role.APPROVER
    assert role_for_email("OPS@bank.example", roles, "viewer") == Role.OPERATOR
    assert role_for_email("dave@bank.example", roles, "viewer") == Role.VIEWER
    assert role_for_email(None, roles, "caller") == Role.CALLER


def test_an_invalid_role_names_the_setting_it_came_from():
    roles = {"carol@bank.example": "boss"}
    with pytest.raises(ConsoleRoleError, match=r"^SHIPWAY_CONSOLE_USER_ROLES\['carol@bank.example'\] is 'boss', which is not "
                                               r"a role; use one of admin, operator, approver, viewer, caller$"):
        role_for_email("carol@bank.example", roles, "viewer")
    assert role_for_email("dave@bank.example", roles, "viewer") == Role.VIEWER  # carol's typo does not lock dave out
    with pytest.raises(ConsoleRoleError, match=r"^SHIPWAY_CONSOLE_DEFAULT_ROLE is 'nobody', "):
        role_for_email("dave@bank.example", roles, "nobody")
    with pytest.raises(ConsoleRoleError, match=r"^SHIPWAY_CONSOLE_ROLE is 'superuser', "):
        local_identity("olivia", Settings(console_role="superuser"))


def test_a_signed_in_user_is_named_by_a_verified_email_only():
    settings = Settings(console_user_roles=USER_ROLES, console_default_role="viewer", console_tenant="bank-a")
    assert oidc_identity(CAROL, settings) == Identity("carol@bank.example", Role.APPROVER, "bank-a", "oidc")
    # anybody can type carol's address at a provider that does not verify it: it earns nothing
    assert oidc_identity({**CAROL, "email_verified": False, "name": "Mallory"}, settings) == \
        Identity("Mallory", Role.VIEWER, "bank-a", "oidc")
    assert oidc_identity({"is_logged_in": True, "sub": "00u1abcd"}, settings) == Identity("00u1abcd", Role.VIEWER, "bank-a", "oidc")
    assert local_identity("olivia", Settings(console_role="approver")) == Identity("olivia", Role.APPROVER, None, "local")


def test_the_actions_refuse_a_role_that_may_not_take_them_before_anything_is_sent():
    # Were the role let through, these would reach for Temporal (not configured here) and fail otherwise.
    viewer = Identity("vera@bank.example", Role.VIEWER, "default", "local")
    with pytest.raises(NotAllowed, match=r"^vera@bank.example \(role viewer\) may not version.approve; "
                                         r"that takes the admin or approver role$"):
        actions.decide(viewer, "credit-underwriting", 2, ApprovalKind.APPROVE, "looks fine")
    with pytest.raises(NotAllowed, match=r"may not run.resume; that takes the admin, operator or approver role$"):
        actions.resume(viewer, "r-wait", {"decision": "refer"})
    with pytest.raises(NotAllowed, match=r"may not version.submit; that takes the admin or operator role$"):
        actions.submit(viewer, {"name": "credit-desk"})
    with pytest.raises(NotAllowed, match=r"^otto \(role operator\) may not version.approve"):
        actions.decide(Identity("otto", Role.OPERATOR, "default", "local"), "credit-underwriting", 2, ApprovalKind.REJECT, "no")


def _pending_version(seed) -> None:
    seed(Agent(name="credit-underwriting", owner="alice@bank.example", template="credit_underwriting",
               description="Scores consumer credit applications."))
    seed(AgentVersion(agent_name="credit-underwriting", version=1, status=VersionStatus.AWAITING_APPROVAL,
                      spec={"name": "credit-underwriting", "owner": "alice@bank.example", "template": "credit_underwriting",
                            "description": "Scores consumer credit applications."},
                      submitted_by="alice@bank.example", workflow_id="agent:credit-underwriting:v1"))


def _oidc_console(user: dict, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The console with sign-in configured, ``user`` as ``st.user`` and :data:`USER_ROLES`, run once."""
    monkeypatch.setenv("SHIPWAY_CONSOLE_USER_ROLES", json.dumps(USER_ROLES))
    get_settings.cache_clear()
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
    at.secrets["auth"] = AUTH
    at.user = user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_with_sign_in_configured_nobody_gets_past_the_sign_in_button(console_env, seed, monkeypatch):
    _pending_version(seed)
    at = _oidc_console({"is_logged_in": False}, monkeypatch)
    assert [b.label for b in at.button] == ["Sign in"]
    assert [t.value for t in at.title] == ["Shipway console"]
    assert len(at.main) == 3  # the title, the caption and the button
    assert not at.sidebar  # no name to type, no links, no pages


def test_a_signed_in_user_acts_with_the_role_mapped_to_their_email_and_can_sign_out(console_env, seed, monkeypatch):
    _pending_version(seed)
    at = _oidc_console(CAROL, monkeypatch)
    # AppTest keeps the entrypoint's sidebar only on the default page's run, so check it there.
    sidebar = _texts(at.sidebar.markdown)
    assert "Signed in as **carol@bank.example**" in sidebar and "Role **approver** · every tenant" in sidebar
    assert len(at.sidebar.text_input) == 0  # no name to type: the identity provider names the user
    assert [b.label for b in at.sidebar.button] == ["Sign out"]

    at.switch_page("views/approvals.py").run()
    assert "You act as **carol@bank.example** (role approver)" in _texts(at.caption)
    assert {b.label for b in at.button} >= {"Approve", "Reject"}

    at.switch_page("views/agents.py").run()
    at.sidebar.button(key="sign_out").click().run()
    assert [b.label for b in at.button] == ["Sign in"]


def test_a_signed_in_user_not_mapped_to_a_role_is_a_viewer(console_env, seed, monkeypatch):
    _pending_version(seed)
    at = _oidc_console(DAVE, monkeypatch)
    assert "Role **viewer**" in _texts(at.sidebar.markdown)
    at.switch_page("views/approvals.py").run()
    assert [s.value for s in at.subheader] == ["credit-underwriting v1"]
    assert not [b for b in at.button if b.label in ("Approve", "Reject")]
    assert "Your role **viewer** cannot approve or reject versions; that takes the admin or approver role." in _texts(at.info)


def test_an_invalid_role_setting_is_explained_on_the_page(console_role, seed):
    _pending_version(seed)
    console_role("superuser")
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S).run()
    assert not at.exception
    assert [e.value for e in at.error] == ["The console's role settings are invalid: SHIPWAY_CONSOLE_ROLE is 'superuser', which "
                                          "is not a role; use one of admin, operator, approver, viewer, caller."]
    assert not at.dataframe and not at.sidebar
