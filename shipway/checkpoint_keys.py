"""Checkpoint keys: the AES keys that encrypt LangGraph checkpoints at rest (:mod:`shipway.checkpoint_crypto`).

``SHIPWAY_CHECKPOINT_KEYS`` (comma-separated ``id:base64`` AES keys of 16, 24 or 32 bytes) or, when
unset, the key file ``<state_dir>/checkpoint.keys`` (same format, mode 0600, created with one fresh
key on first use). The first key encrypts; every listed key decrypts. Only the standard library is
used here, so ``shipway up`` and ``shipway checkpoint-keys`` handle keys without loading LangGraph.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import secrets
import stat
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from shipway.settings import Settings

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "checkpoint.keys"
AES_KEY_SIZES = (16, 24, 32)
# Key ids end up in the stored type (``msgpack+aesgcmsiv-<id>``) and in the ``id:base64,...`` lists,
# so they may not contain ``+``, ``:``, ``,`` or whitespace.
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")

Key = tuple[str, bytes]


class CheckpointKeyError(ValueError):
    """The configured checkpoint keys are unusable (syntax, base64, length, duplicate id, empty)."""


def new_checkpoint_key(key_id: str | None = None, size: int = 32) -> Key:
    """A fresh random AES key.

    Args:
        key_id: its id; default ``k<UTC yyyymmdd>-<4 hex>`` (dated, so lists read newest first).
        size: key length in bytes, 16, 24 or 32 (AES-128/192/256).

    Returns:
        ``(key_id, key bytes)``.

    Raises:
        CheckpointKeyError: a bad ``key_id`` or ``size``.
    """
    key_id = key_id or f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"
    check_key(key_id, size)
    return key_id, secrets.token_bytes(size)


def format_checkpoint_keys(keys: Sequence[Key]) -> str:
    """``keys`` as ``id:base64,id:base64`` (the ``SHIPWAY_CHECKPOINT_KEYS`` and key file format)."""
    return ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in keys)


def parse_checkpoint_keys(text: str, source: str = "SHIPWAY_CHECKPOINT_KEYS") -> list[Key]:
    """Parse ``id:base64`` entries separated by commas (or whitespace/newlines, for key files).

    Args:
        text: the list, first entry = the key that encrypts.
        source: where ``text`` came from, named in errors (never the key material).

    Returns:
        ``[(key_id, key bytes), ...]`` in the given order.

    Raises:
        CheckpointKeyError: no entry, an entry without ``:``, a bad id, bad base64, a key that is
            not 16/24/32 bytes, or an id listed twice.
    """
    keys: list[Key] = []
    for n, entry in enumerate((e for e in re.split(r"[,\s]+", text.strip()) if e), start=1):
        kid, sep, b64 = entry.partition(":")
        if not sep:
            raise CheckpointKeyError(f"{source}: entry {n} is not `id:base64`")
        try:
            key = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise CheckpointKeyError(f"{source}: key {kid!r} is not valid base64") from None
        check_key(kid, len(key), source)
        if any(kid == seen for seen, _ in keys):
            raise CheckpointKeyError(f"{source}: key id {kid!r} is listed twice")
        keys.append((kid, key))
    if not keys:
        raise CheckpointKeyError(f"{source}: no key (expected comma-separated `id:base64`)")
    return keys


def check_key(kid: str, size: int, source: str = "checkpoint key") -> None:
    """Check one key's id and length (bytes).

    Raises:
        CheckpointKeyError: an id outside :data:`KEY_ID_PATTERN`, or a size not in :data:`AES_KEY_SIZES`;
            the message names ``source`` and the id, never the key material.
    """
    if not KEY_ID_PATTERN.fullmatch(kid):
        raise CheckpointKeyError(f"{source}: key id {kid!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    if size not in AES_KEY_SIZES:
        raise CheckpointKeyError(f"{source}: key {kid!r} is {size} bytes; AES keys are 16, 24 or 32 bytes")


def checkpoint_key_file(settings: Settings) -> Path:
    """``<state_dir>/checkpoint.keys``: the keys used when ``SHIPWAY_CHECKPOINT_KEYS`` is unset."""
    return settings.state_dir / KEY_FILE_NAME


def ensure_checkpoint_key_file(path: Path) -> bool:
    """Create ``path`` with one fresh 32-byte key (mode 0600) unless it exists.

    Safe when several processes (workers, console, ``shipway up``) race on a new state dir: the
    file appears complete or not at all, exactly one creator wins and every caller then reads
    the winner's key.

    Returns:
        True when this call created the file.

    Raises:
        OSError: the directory cannot be created or written.
    """
    if path.exists():
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning("checkpoint key file %s is readable by others; chmod 600 it", path)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # O_EXCL on a private temp name, then link(2) to the final name: link fails when the name
    # exists, so the first complete file wins and a racing reader never sees an empty file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(format_checkpoint_keys([new_checkpoint_key()]) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        # losing the key after a crash would lose every checkpoint written under it
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def resolved_checkpoint_keys(settings: Settings) -> list[Key]:
    """The checkpoint keys, the encrypting one first: ``SHIPWAY_CHECKPOINT_KEYS`` when set, else
    the key file ``<state_dir>/checkpoint.keys`` (created with a fresh key when missing).

    Raises:
        CheckpointKeyError: the setting or file does not parse (see :func:`parse_checkpoint_keys`).
        OSError: the key file cannot be created or read.
    """
    if settings.checkpoint_keys is not None:
        return parse_checkpoint_keys(settings.checkpoint_keys)
    path = checkpoint_key_file(settings)
    ensure_checkpoint_key_file(path)
    return parse_checkpoint_keys(path.read_text(), source=str(path))
