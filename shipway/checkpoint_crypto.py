"""Encryption at rest of LangGraph checkpoints, with key rotation.

Every value LangGraph's Postgres checkpointer serializes (channel values in ``checkpoint_blobs``,
pending writes and interrupts in ``checkpoint_writes``) goes through LangGraph's
:class:`~langgraph.checkpoint.serde.encrypted.EncryptedSerializer` with :class:`RotatingAesCipher`:
AES-GCM-SIV (RFC 8452; authenticated; a fresh random 12-byte nonce per value, ``cryptography``'s
AESGCMSIV), stored as ``nonce (12 bytes) + ciphertext + tag (16 bytes)`` under the type
``<serializer>+aesgcmsiv-<key id>`` (e.g. ``msgpack+aesgcmsiv-k20250601-3fa2``). Values written before it, in AES-EAX under
``<serializer>+aes-<key id>`` (``nonce (16) + tag (16) + ciphertext``, pycryptodome), still decrypt;
rows written before encryption existed (type without ``+``) still read as plaintext.

Why GCM-SIV: EAX through pycryptodome builds a CMAC and several cipher objects per value, measured
121 µs per 200-byte value on this machine against 3 µs for AESGCMSIV with a cached key object; with
a checkpoint per graph step it was the largest single cost of a short run in the worker's profile
(docs/performance.md). Plain GCM (1 µs) was not taken: its random 96-bit nonces limit a key to
about 2³² values, while GCM-SIV derives a key per nonce and a repeated nonce reveals only that two
values were equal (RFC 8452, sections 9 and 10).

Keys: ``SHIPWAY_CHECKPOINT_KEYS`` (comma-separated ``id:base64`` AES keys of 16, 24 or 32 bytes)
or, when unset, the key file ``<state_dir>/checkpoint.keys`` (same format, mode 0600, created
with one fresh key on first use). The first key encrypts; every listed key decrypts, so rotating
is: put a new key first and keep the old ones listed while checkpoints written under them exist.
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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from Crypto.Cipher import AES
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import CipherProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer

from shipway.settings import Settings

logger = logging.getLogger(__name__)

KEY_FILE_NAME = "checkpoint.keys"
AES_KEY_SIZES = (16, 24, 32)
CIPHER_PREFIX = "aesgcmsiv-"
GCM_NONCE_BYTES = 12  # RFC 8452: AES-GCM-SIV nonces are 96 bits
# values written before GCM-SIV: EAX with LangGraph's ``from_pycryptodome_aes`` layout (nonce, tag, ciphertext)
EAX_CIPHER_PREFIX = "aes-"
NONCE_BYTES = 16
TAG_BYTES = 16
# Key ids end up in the stored type (``msgpack+aesgcmsiv-<id>``) and in the ``id:base64,...`` lists,
# so they may not contain ``+``, ``:``, ``,`` or whitespace.
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")

Key = tuple[str, bytes]


class CheckpointKeyError(ValueError):
    """The configured checkpoint keys are unusable (syntax, base64, length, duplicate id, empty)."""


class CheckpointDecryptionError(Exception):
    """A stored checkpoint value cannot be decrypted: its key id is not configured, its tag does
    not verify under the key configured for that id (wrong key or altered bytes), or it names a
    cipher this module does not know."""


# what an API answer or a refused update says before the error's own message
CHECKPOINTS_UNREADABLE = "the thread's checkpoints cannot be decrypted with the configured keys"


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
    _check_key(key_id, size)
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
        _check_key(kid, len(key), source)
        if any(kid == seen for seen, _ in keys):
            raise CheckpointKeyError(f"{source}: key id {kid!r} is listed twice")
        keys.append((kid, key))
    if not keys:
        raise CheckpointKeyError(f"{source}: no key (expected comma-separated `id:base64`)")
    return keys


def _check_key(kid: str, size: int, source: str = "checkpoint key") -> None:
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


class RotatingAesCipher(CipherProtocol):
    """AES-GCM-SIV with several keys: encrypts with the first, decrypts with whichever key the stored
    cipher name ``aesgcmsiv-<key id>`` (or, for values written before it, AES-EAX's ``aes-<key id>``) names.

    Args:
        keys: ``[(key_id, key bytes), ...]``, the encrypting key first; ids unique, keys 16/24/32 bytes.

    Raises:
        CheckpointKeyError: no key, a duplicate id, a bad id or key length.
    """

    def __init__(self, keys: Sequence[Key]) -> None:
        if not keys:
            raise CheckpointKeyError("no checkpoint key")
        for kid, key in keys:
            _check_key(kid, len(key))
        self._keys = dict(keys)
        if len(self._keys) != len(keys):
            raise CheckpointKeyError("checkpoint key ids must be unique")
        self._gcm = {kid: AESGCMSIV(key) for kid, key in keys}
        self.primary_key_id = keys[0][0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of every key that decrypts, the encrypting one first."""
        return tuple(self._keys)

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        """``("aesgcmsiv-<primary id>", nonce + ciphertext + tag)``."""
        nonce = secrets.token_bytes(GCM_NONCE_BYTES)
        return CIPHER_PREFIX + self.primary_key_id, nonce + self._gcm[self.primary_key_id].encrypt(nonce, plaintext, None)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        """The plaintext of ``ciphertext`` written as ``ciphername`` (``aesgcmsiv-<id>``, or ``aes-<id>``: EAX).

        Raises:
            CheckpointDecryptionError: unknown cipher or key id, truncated data, or a tag that does
                not verify (wrong key under that id, or altered bytes).
        """
        gcm = ciphername.startswith(CIPHER_PREFIX)
        if not gcm and not ciphername.startswith(EAX_CIPHER_PREFIX):
            raise CheckpointDecryptionError(f"checkpoint value uses cipher {ciphername!r}; only {CIPHER_PREFIX}<key id> "
                                            f"(and {EAX_CIPHER_PREFIX}<key id>, written before it) is supported")
        kid = ciphername[len(CIPHER_PREFIX if gcm else EAX_CIPHER_PREFIX):]
        key = self._keys.get(kid)
        if key is None:
            raise CheckpointDecryptionError(
                f"checkpoint value was encrypted with key {kid!r}, which is not configured "
                f"(configured: {', '.join(self._keys)}); add it back to SHIPWAY_CHECKPOINT_KEYS or the key file")
        if len(ciphertext) < (GCM_NONCE_BYTES if gcm else NONCE_BYTES) + TAG_BYTES:
            raise CheckpointDecryptionError(f"checkpoint value under key {kid!r} is truncated ({len(ciphertext)} bytes)")
        try:
            if gcm:
                return self._gcm[kid].decrypt(ciphertext[:GCM_NONCE_BYTES], ciphertext[GCM_NONCE_BYTES:], None)
            nonce, tag, body = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:NONCE_BYTES + TAG_BYTES], ciphertext[NONCE_BYTES + TAG_BYTES:]
            return AES.new(key, AES.MODE_EAX, nonce=nonce).decrypt_and_verify(body, tag)
        except (InvalidTag, ValueError):
            raise CheckpointDecryptionError(
                f"checkpoint value under key {kid!r} does not verify: the key configured as {kid!r} "
                "is not the one it was written with, or the stored bytes were altered") from None


def encrypted_serde(settings: Settings) -> EncryptedSerializer:
    """LangGraph's serializer (JSON+msgpack) wrapped in :class:`RotatingAesCipher` over
    :func:`resolved_checkpoint_keys`; pass it as ``serde=`` to every checkpointer of run threads.

    Raises:
        CheckpointKeyError, OSError: as :func:`resolved_checkpoint_keys`.
    """
    return EncryptedSerializer(RotatingAesCipher(resolved_checkpoint_keys(settings)))


@dataclass(frozen=True, slots=True)
class _Sealed:
    """A primitive channel value on its way to ``checkpoint_blobs`` (see :class:`EncryptedAsyncPostgresSaver`)."""

    value: str | int | float | bool | None


def _is_inline(value: Any) -> bool:
    # the test AsyncPostgresSaver.aput uses to keep a value in the checkpoint's own JSONB
    return value is None or isinstance(value, (str, int, float, bool))


class EncryptedAsyncPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that keeps no channel value in plaintext.

    The stock saver stores ``None``/``str``/``int``/``float``/``bool`` channel values inline in
    the ``checkpoints.checkpoint`` JSONB without calling the serializer, so an encrypting
    ``serde`` alone would leave every string field of the state readable there. This saver
    routes those values to ``checkpoint_blobs`` too (through the serializer); reading is
    unchanged, since LangGraph lets a blob override an inline value of the same channel.
    Checkpoint metadata (step, source, parents, the run's primitive ``configurable`` values)
    and channel names and versions stay plaintext JSONB: LangGraph queries them.

    Args: as ``AsyncPostgresSaver``; pass ``serde=encrypted_serde(settings)``.
    """

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        """Save ``checkpoint`` with every versioned primitive channel value as an (encrypted) blob."""
        versions = checkpoint["channel_versions"]
        # a value without a version would get no blob row (rows are keyed by version): leave it as is
        sealed = {k: _Sealed(v) for k, v in checkpoint["channel_values"].items() if _is_inline(v) and k in versions}
        if not sealed:
            return await super().aput(config, checkpoint, metadata, new_versions)
        # Blob rows are only written for channels updated in this step. A thread checkpointed before
        # encryption has its unchanged primitives only inline in older checkpoints, so write each
        # sealed channel at its current version; rows already there are kept (ON CONFLICT DO NOTHING).
        new_versions = {**{k: versions[k] for k in sealed}, **new_versions}
        checkpoint = {**checkpoint, "channel_values": {**checkpoint["channel_values"], **sealed}}
        return await super().aput(config, checkpoint, metadata, new_versions)

    def _dump_blobs(self, thread_id: str, checkpoint_ns: str, values: dict[str, Any],
                    versions: ChannelVersions) -> list[tuple[str, str, str, str, str, bytes | None]]:
        unsealed = {k: v.value if isinstance(v, _Sealed) else v for k, v in values.items()}
        return super()._dump_blobs(thread_id, checkpoint_ns, unsealed, versions)
