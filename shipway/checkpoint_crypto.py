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

Keys (:mod:`shipway.checkpoint_keys`): ``SHIPWAY_CHECKPOINT_KEYS`` or the key file
``<state_dir>/checkpoint.keys``. The first key encrypts; every listed key decrypts, so rotating
is: put a new key first and keep the old ones listed while checkpoints written under them exist.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from Crypto.Cipher import AES
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.base import CipherProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer

from shipway.checkpoint_keys import CheckpointKeyError, Key, check_key, resolved_checkpoint_keys
from shipway.settings import Settings

CIPHER_PREFIX = "aesgcmsiv-"
GCM_NONCE_BYTES = 12  # RFC 8452: AES-GCM-SIV nonces are 96 bits
# values written before GCM-SIV: EAX with LangGraph's ``from_pycryptodome_aes`` layout (nonce, tag, ciphertext)
EAX_CIPHER_PREFIX = "aes-"
NONCE_BYTES = 16
TAG_BYTES = 16


class CheckpointDecryptionError(Exception):
    """A stored checkpoint value cannot be decrypted: its key id is not configured, its tag does
    not verify under the key configured for that id (wrong key or altered bytes), or it names a
    cipher this module does not know."""


# what an API answer or a refused update says before the error's own message
CHECKPOINTS_UNREADABLE = "the thread's checkpoints cannot be decrypted with the configured keys"


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
            check_key(kid, len(key))
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
