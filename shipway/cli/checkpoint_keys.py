"""``shipway checkpoints new-key``: a fresh AES key for checkpoint encryption, and how to rotate to it
(:mod:`shipway.checkpoint_keys`)."""

from __future__ import annotations

import typer

from shipway.checkpoint_keys import CheckpointKeyError, checkpoint_key_file, format_checkpoint_keys, new_checkpoint_key
from shipway.cli.common import exit_now
from shipway.settings import get_settings

checkpoints_app = typer.Typer(help="Encryption at rest of LangGraph checkpoints.", no_args_is_help=True)

ROTATION_STEPS = """\
Rotate to it (keys are read when a worker or console page starts; the first key encrypts, all decrypt):
  1. Everywhere checkpoints are read (every worker, the console), append it LAST:
       SHIPWAY_CHECKPOINT_KEYS=<current keys>,{entry}
     (or append it to {key_file}), and restart them. It now decrypts but does not encrypt yet,
     so processes still on the old list never meet a checkpoint they cannot read.
  2. Move it FIRST and restart again: SHIPWAY_CHECKPOINT_KEYS={entry},<current keys>
     New checkpoints are written under {kid}; older ones stay readable with the keys after it.
  3. Retire an old key only when no row uses it any more:
       SELECT count(*) FROM checkpoint_blobs WHERE split_part(type, '+', 2) IN ('aesgcmsiv-<old id>', 'aes-<old id>');
       SELECT count(*) FROM checkpoint_writes WHERE split_part(type, '+', 2) IN ('aesgcmsiv-<old id>', 'aes-<old id>');
     Checkpoints still under a removed key fail to load, naming that key."""


@checkpoints_app.command("new-key")
def new_key(key_id: str = typer.Option(None, "--id", help="Key id (A-Z a-z 0-9 _ . -); default k<yyyymmdd>-<4 hex>."),
            size: int = typer.Option(32, "--bytes", help="Key length: 16, 24 or 32 bytes (AES-128/192/256).")) -> None:
    """Print a fresh ``id:base64`` key on stdout and the rotation steps on stderr. Changes nothing."""
    try:
        kid, key = new_checkpoint_key(key_id, size)
    except CheckpointKeyError as exc:
        typer.echo(f"cannot make key: {exc}", err=True)
        exit_now(2)
    entry = format_checkpoint_keys([(kid, key)])
    typer.echo(entry)
    typer.echo(ROTATION_STEPS.format(entry=entry, kid=kid, key_file=checkpoint_key_file(get_settings())), err=True)
    exit_now(0)


def register(app: typer.Typer) -> None:
    """Add ``shipway checkpoints ...``."""
    app.add_typer(checkpoints_app, name="checkpoints")
