"""API key format and hashing (no I/O).

A key reads ``sw_<prefix>_<secret>``: ``prefix`` is 12 hex characters, stored in clear to find
the key; ``secret`` is 43 URL-safe characters (32 random bytes). Only a salted SHA-256 of the
secret is stored (``hash_secret``), with a random 16-byte salt per key. A fast hash is the right
tool here: the secret carries 256 bits of entropy, so there is nothing for a slow password hash
(scrypt, Argon2) to protect against brute force, and every request verifies one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from shipway.auth.roles import Role

_KEY_RE = re.compile(r"^sw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: ``token`` is shown once; the rest is what is stored."""

    token: str
    prefix: str
    salt: str
    hash: str


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the key's id and prefix, its tenant and role, and its label."""

    key_id: str
    prefix: str
    tenant: str
    role: Role
    name: str = ""

    @property
    def actor(self) -> str:
        """How audit events name this principal: ``key:<prefix>`` plus the label when there is one."""
        return f"key:{self.prefix}" + (f" ({self.name})" if self.name else "")


def hash_secret(secret: str, salt: str) -> str:
    """Hex SHA-256 of ``salt`` (hex) and ``secret``."""
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def new_key() -> NewKey:
    """A new random key and what to store of it."""
    prefix, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
    return NewKey(token=f"sw_{prefix}_{secret}", prefix=prefix, salt=salt, hash=hash_secret(secret, salt))


def parse(token: str) -> tuple[str, str] | None:
    """``(prefix, secret)`` of a well-formed key, or None."""
    m = _KEY_RE.match(token.strip())
    return (m.group(1), m.group(2)) if m else None


def matches(secret: str, salt: str, stored_hash: str) -> bool:
    """Whether ``secret`` hashes to ``stored_hash`` (timing-safe comparison)."""
    return hmac.compare_digest(hash_secret(secret, salt), stored_hash)
