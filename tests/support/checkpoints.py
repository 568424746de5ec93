"""Make a thread's checkpoints unreadable to this deployment, and readable again, in place."""

from __future__ import annotations

from sqlalchemy import text

from shipway.checkpoint_crypto import CIPHER_PREFIX
from shipway.db.engine import Database

RETIRED = "retired."  # prefixed to each value's key id: a key no deployment here is configured with


async def retire_checkpoint_key(db: Database, thread_id: str, retired: bool = True) -> None:
    """Rename the key id in the stored cipher name of every blob and write of ``thread_id``
    (``msgpack+aesgcmsiv-<id>`` -> ``...-retired.<id>``), as if the key it was written under had
    been dropped from ``SHIPWAY_CHECKPOINT_KEYS``; ``retired=False`` puts the name back."""
    old, new = (CIPHER_PREFIX, CIPHER_PREFIX + RETIRED) if retired else (CIPHER_PREFIX + RETIRED, CIPHER_PREFIX)
    async with db.session() as s:
        for table in ("checkpoint_blobs", "checkpoint_writes"):
            await s.exec(text(f"UPDATE {table} SET type = replace(type, :old, :new) WHERE thread_id = :t")
                         .bindparams(old=old, new=new, t=thread_id))
        await s.commit()
