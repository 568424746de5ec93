"""Checkpoint encryption: keys, the rotating AES cipher and the key file (no database; the Postgres
side is in tests/integration/test_checkpoint_encryption.py)."""

from __future__ import annotations

import base64
import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from shipway.checkpoint_crypto import CheckpointDecryptionError, RotatingAesCipher
from shipway.checkpoint_keys import (
    CheckpointKeyError,
    ensure_checkpoint_key_file,
    format_checkpoint_keys,
    new_checkpoint_key,
    parse_checkpoint_keys,
    resolved_checkpoint_keys,
)
from shipway.settings import Settings

STATE = {"messages": ["the secret plan"], "step": 3, "nested": {"amount": 1250.5}}
KEY_A = ("a", b"A" * 32)
KEY_B = ("b", b"B" * 32)


def serde(*keys: tuple[str, bytes]) -> EncryptedSerializer:
    return EncryptedSerializer(RotatingAesCipher(list(keys)))


def test_a_value_reads_back_with_its_key_and_hides_its_content():
    typ, data = serde(KEY_A).dumps_typed(STATE)
    assert typ == "msgpack+aesgcmsiv-a"
    assert b"secret plan" not in data
    assert serde(KEY_A).loads_typed((typ, data)) == STATE


def test_a_value_read_with_the_wrong_key_fails():
    written = serde(KEY_A).dumps_typed(STATE)
    with pytest.raises(CheckpointDecryptionError, match="key 'a' does not verify"):
        serde(("a", b"X" * 32)).loads_typed(written)  # same id, other key material
    with pytest.raises(CheckpointDecryptionError, match="key 'a', which is not configured.*configured: b"):
        serde(KEY_B).loads_typed(written)


def test_altered_bytes_fail_instead_of_returning_garbage():
    typ, data = serde(KEY_A).dumps_typed(STATE)
    flipped = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(CheckpointDecryptionError, match="does not verify"):
        serde(KEY_A).loads_typed((typ, flipped))
    with pytest.raises(CheckpointDecryptionError, match="truncated"):
        serde(KEY_A).loads_typed((typ, data[:20]))


def test_after_rotation_old_and_new_values_read_and_new_ones_use_the_new_key():
    old = serde(KEY_A).dumps_typed(STATE)
    rotated = serde(KEY_B, KEY_A)
    new = rotated.dumps_typed({"after": "rotation"})
    assert new[0] == "msgpack+aesgcmsiv-b"
    assert rotated.loads_typed(old) == STATE
    assert rotated.loads_typed(new) == {"after": "rotation"}
    # a process still on the old list cannot read what the rotated one wrote: roll the new key out
    # as a decrypt-only (last) key first
    with pytest.raises(CheckpointDecryptionError, match="'b', which is not configured"):
        serde(KEY_A).loads_typed(new)
    assert serde(KEY_A, KEY_B).loads_typed(new) == {"after": "rotation"}


def test_values_written_before_encryption_existed_still_read():
    plain = JsonPlusSerializer().dumps_typed(STATE)
    assert "+" not in plain[0]
    assert serde(KEY_A).loads_typed(plain) == STATE
    assert serde(KEY_A).loads_typed(JsonPlusSerializer().dumps_typed(None)) is None


def _eax(kid: str, key: bytes, value) -> tuple[str, bytes]:
    """``value`` as the AES-EAX cipher wrote it before AES-GCM: ``msgpack+aes-<id>``, nonce + tag + ciphertext."""
    from Crypto.Cipher import AES

    plain = JsonPlusSerializer().dumps_typed(value)
    cipher = AES.new(key, AES.MODE_EAX, nonce=os.urandom(16))
    body, tag = cipher.encrypt_and_digest(plain[1])
    return f"{plain[0]}+aes-{kid}", cipher.nonce + tag + body


def test_values_written_under_eax_before_gcm_still_read_and_verify():
    old = _eax(*KEY_A, STATE)
    assert serde(KEY_A).loads_typed(old) == STATE
    assert serde(KEY_B, KEY_A).loads_typed(old) == STATE
    with pytest.raises(CheckpointDecryptionError, match="key 'a' does not verify"):
        serde(KEY_A).loads_typed((old[0], old[1][:-1] + bytes([old[1][-1] ^ 1])))


def test_a_cipher_other_than_ours_is_refused():
    stock = EncryptedSerializer.from_pycryptodome_aes(key=KEY_A[1]).dumps_typed(STATE)
    assert stock[0] == "msgpack+aes"
    with pytest.raises(CheckpointDecryptionError, match="cipher 'aes'"):
        serde(KEY_A).loads_typed(stock)


def test_each_value_gets_its_own_nonce():
    first, second = serde(KEY_A).dumps_typed(STATE), serde(KEY_A).dumps_typed(STATE)
    assert first[1][:12] != second[1][:12] and first[1] != second[1]


def test_keys_round_trip_through_their_text_form():
    keys = [new_checkpoint_key("k2", 32), new_checkpoint_key("k1", 16), new_checkpoint_key("k0", 24)]
    text = format_checkpoint_keys(keys)
    assert parse_checkpoint_keys(text) == keys
    assert parse_checkpoint_keys(text.replace(",", "\n") + "\n") == keys  # one per line, as in a key file
    kid, key = new_checkpoint_key()
    assert kid.startswith("k") and len(key) == 32


B64_16 = base64.b64encode(b"x" * 16).decode()


@pytest.mark.parametrize(("text", "error"), [
    ("", "no key"),
    (" , ", "no key"),
    (B64_16, "entry 1 is not `id:base64`"),
    (f"a:{B64_16},b", "entry 2 is not `id:base64`"),
    ("a:not*base64", "key 'a' is not valid base64"),
    (f"a:{base64.b64encode(b'x' * 20).decode()}", "key 'a' is 20 bytes"),
    (f"a+b:{B64_16}", "key id 'a\\+b' must be"),
    (f":{B64_16}", "key id '' must be"),
    (f"a:{B64_16},a:{B64_16}", "key id 'a' is listed twice"),
])
def test_bad_key_lists_are_refused_without_showing_key_material(text, error):
    with pytest.raises(CheckpointKeyError, match=error) as info:
        parse_checkpoint_keys(text)
    assert B64_16 not in str(info.value)


def test_the_cipher_refuses_bad_key_sets():
    with pytest.raises(CheckpointKeyError, match="no checkpoint key"):
        RotatingAesCipher([])
    with pytest.raises(CheckpointKeyError, match="unique"):
        RotatingAesCipher([KEY_A, ("a", b"C" * 16)])
    with pytest.raises(CheckpointKeyError, match="10 bytes"):
        RotatingAesCipher([("a", b"k" * 10)])
    assert RotatingAesCipher([KEY_B, KEY_A]).key_ids == ("b", "a")


def test_keys_come_from_the_setting_before_the_key_file(tmp_path: Path):
    settings = Settings(state_dir=tmp_path, checkpoint_keys=format_checkpoint_keys([KEY_B, KEY_A]))
    assert resolved_checkpoint_keys(settings) == [KEY_B, KEY_A]
    assert not (tmp_path / "checkpoint.keys").exists()
    with pytest.raises(CheckpointKeyError, match="SHIPWAY_CHECKPOINT_KEYS: no key"):
        resolved_checkpoint_keys(Settings(state_dir=tmp_path, checkpoint_keys=""))


def test_without_the_setting_a_key_file_is_created_owner_only_and_kept(tmp_path: Path):
    settings = Settings(state_dir=tmp_path / "state", checkpoint_keys=None)
    keys = resolved_checkpoint_keys(settings)
    path = tmp_path / "state" / "checkpoint.keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(keys) == 1 and len(keys[0][1]) == 32
    assert resolved_checkpoint_keys(settings) == keys
    assert not ensure_checkpoint_key_file(path)
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind
    path.write_text(format_checkpoint_keys([KEY_B, *keys]) + "\n")  # rotated by hand
    assert resolved_checkpoint_keys(settings) == [KEY_B, *keys]


def test_a_bad_key_file_names_itself(tmp_path: Path):
    (tmp_path / "checkpoint.keys").write_text("oops\n")
    with pytest.raises(CheckpointKeyError, match=f"{tmp_path}/checkpoint.keys: entry 1"):
        resolved_checkpoint_keys(Settings(state_dir=tmp_path, checkpoint_keys=None))


def _race(path: str, barrier, results) -> None:
    barrier.wait()
    created = ensure_checkpoint_key_file(Path(path))
    results.put((created, Path(path).read_text()))


def test_processes_racing_to_create_the_key_file_agree_on_one_key(tmp_path: Path):
    ctx = multiprocessing.get_context("fork")
    n = 8
    barrier, results = ctx.Barrier(n), ctx.Queue()
    path = tmp_path / "state" / "checkpoint.keys"
    procs = [ctx.Process(target=_race, args=(str(path), barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(30)
    assert sum(created for created, _ in outcomes) == 1
    assert len({text for _, text in outcomes}) == 1 and outcomes[0][1] == path.read_text()
    assert len(parse_checkpoint_keys(path.read_text())) == 1
    assert list(path.parent.iterdir()) == [path]


def test_the_cli_prints_a_usable_key_and_the_rotation_steps(tmp_path: Path):
    code = "from shipway.cli import app; app(['checkpoints', 'new-key', '--id', 'k9', '--bytes', '16'])"
    env = {**os.environ, "SHIPWAY_STATE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    [(kid, key)] = parse_checkpoint_keys(out.stdout)
    assert kid == "k9" and len(key) == 16
    assert "append it LAST" in out.stderr and "Move it FIRST" in out.stderr
    assert not (tmp_path / "checkpoint.keys").exists()  # printing a key changes nothing
