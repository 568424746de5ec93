"""API key format and hashing, and the roles table."""

from __future__ import annotations

import pytest

from shipway.auth import keys
from shipway.auth.roles import PERMISSIONS, Action, Role, allows


def test_a_key_is_shown_once_and_only_its_salted_hash_is_kept():
    made = keys.new_key()
    prefix, secret = keys.parse(made.token)
    assert prefix == made.prefix and secret not in (made.hash, made.salt) and made.token not in made.hash
    assert keys.matches(secret, made.salt, made.hash)
    assert not keys.matches(secret[:-1] + ("A" if secret[-1] != "A" else "B"), made.salt, made.hash)
    # the same secret under another salt hashes differently: no shared rainbow table across keys
    assert keys.hash_secret(secret, "00" * 16) != made.hash


@pytest.mark.parametrize("token", ["", "sw_", "Bearer sw_abc", "sw_0123456789ab_short", "sw_0123456789AB_" + "a" * 43,
                                   "xx_0123456789ab_" + "a" * 43, "sw_0123456789ab_" + "a" * 42 + "!"])
def test_malformed_tokens_do_not_parse(token):
    assert keys.parse(token) is None


def test_two_keys_never_share_prefix_salt_or_secret():
    a, b = keys.new_key(), keys.new_key()
    assert len({a.prefix, b.prefix}) == len({a.salt, b.salt}) == len({a.token, b.token}) == 2


@pytest.mark.parametrize("role, action, allowed", [
    (Role.VIEWER, Action.RUN_RESUME, False), (Role.VIEWER, Action.RUN_READ, True), (Role.VIEWER, Action.RUN_START, False),
    (Role.APPROVER, Action.VERSION_APPROVE, True), (Role.OPERATOR, Action.VERSION_APPROVE, False),
    (Role.OPERATOR, Action.VERSION_DEPLOY, True), (Role.CALLER, Action.RUN_READ, False), (Role.CALLER, Action.RUN_RESUME_OWN, True),
    (Role.CALLER, Action.METRICS_READ, False), (Role.OPERATOR, Action.KEY_MANAGE, False), (Role.ADMIN, Action.KEY_MANAGE, True),
])
def test_the_roles_table(role, action, allowed):
    assert allows(role, action) is allowed


def test_admin_may_do_everything_and_every_role_is_in_the_table():
    assert set(PERMISSIONS) == set(Role) and PERMISSIONS[Role.ADMIN] == frozenset(Action)
    with pytest.raises(ValueError):
        allows("superuser", Action.RUN_READ)
