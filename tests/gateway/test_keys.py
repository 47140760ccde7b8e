"""API keys: authentication failures, hashing at rest, the cache and revocation."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workbench.errors import AuthenticationFailed, ConfigError, KeyNotFound
from workbench.gateway import KeyStore


def test_created_key_authenticates_to_its_principal(keys: KeyStore) -> None:
    key_id, secret = keys.create(
        "alice", ["agent:analyst", "tool:sql"], daily_budget_usd=2.5, rate_per_minute=30
    )
    principal = keys.authenticate(secret)
    assert (principal.name, principal.key_id) == ("alice", key_id)
    assert principal.scopes == frozenset({"agent:analyst", "tool:sql"})
    assert (principal.daily_budget_usd, principal.rate_per_minute) == (2.5, 30)
    assert principal.key_caps().principal_day_usd == 2.5
    assert secret.startswith(f"wbk_{key_id}_")


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        (None, "no API key"),
        ("", "no API key"),
        ("hunter2", "malformed"),
        ("wbk_0123456789abcdef_" + "A" * 43, "unknown"),
    ],
)
def test_missing_malformed_or_unknown_key_fails(
    keys: KeyStore, secret: str | None, reason: str
) -> None:
    with pytest.raises(AuthenticationFailed, match=reason) as info:
        keys.authenticate(secret)
    assert info.value.http_status == 401


def test_right_key_id_with_a_wrong_secret_fails(keys: KeyStore) -> None:
    key_id, secret = keys.create("alice", ["agent:*"])
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationFailed, match=f"unknown API key {key_id}") as info:
        keys.authenticate(forged)
    assert forged not in info.value.message


def test_revoked_key_fails_at_once_in_this_process(keys: KeyStore) -> None:
    key_id, secret = keys.create("alice", ["agent:*"])
    assert keys.authenticate(secret).name == "alice"  # now cached
    other_store_same_file = KeyStore(keys.path)
    other_store_same_file.revoke(key_id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        keys.authenticate(secret)
    assert keys.get(key_id).revoked_at is not None


def test_revocation_in_another_process_applies_within_the_cache_ttl(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.sqlite", cache_ttl_s=0.3)
    key_id, secret = store.create("alice", ["agent:*"])
    assert store.authenticate(secret).name == "alice"
    code = (
        "import sys; from workbench.gateway import KeyStore; "
        "KeyStore(sys.argv[1]).revoke(sys.argv[2])"
    )
    subprocess.run([sys.executable, "-c", code, str(store.path), key_id], check=True)
    revoked_at = time.monotonic()
    # Served from memory until the entry is older than the TTL, then re-read.
    deadline = revoked_at + 2.0
    error: AuthenticationFailed | None = None
    while error is None and time.monotonic() < deadline:
        try:
            store.authenticate(secret)
            time.sleep(0.02)
        except AuthenticationFailed as exc:
            error = exc
    assert error is not None, "the revocation was not seen within 2 s"
    assert "revoked" in error.message
    assert time.monotonic() - revoked_at <= 1.0


def test_expired_key_fails(keys: KeyStore) -> None:
    _, secret = keys.create("alice", ["agent:*"], expires_at=time.time() + 0.2)
    assert keys.authenticate(secret).name == "alice"
    time.sleep(0.25)
    with pytest.raises(AuthenticationFailed, match="expired"):
        keys.authenticate(secret)
    assert not keys.list()[0].active


def test_secret_is_not_stored_nor_logged(keys: KeyStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key_id, secret = keys.create("alice", ["agent:*"])
    keys.authenticate(secret)
    with pytest.raises(AuthenticationFailed):
        keys.authenticate(secret[:-1] + ("x" if secret[-1] != "x" else "y"))
    random_part = secret.rsplit("_", 1)[1]
    on_disk = b"".join(p.read_bytes() for p in keys.path.parent.glob("keys.sqlite*"))
    assert key_id.encode() in on_disk  # the record is there ...
    assert secret.encode() not in on_disk  # ... but not the secret, nor its random part
    assert random_part.encode() not in on_disk
    assert random_part not in caplog.text
    listed = repr(keys.list())
    assert random_part not in listed


def test_revoke_unknown_key_is_key_not_found(keys: KeyStore) -> None:
    with pytest.raises(KeyNotFound):
        keys.revoke("0123456789abcdef")


@pytest.mark.parametrize(
    ("principal", "scopes"),
    [("alice", ["admin"]), ("alice", ["agent:"]), ("", ["agent:*"]), ("a b", ["agent:*"])],
)
def test_bad_principal_or_scope_is_refused(
    keys: KeyStore, principal: str, scopes: list[str]
) -> None:
    with pytest.raises(ConfigError):
        keys.create(principal, scopes)


def test_list_shows_keys_without_secrets(keys: KeyStore) -> None:
    first, _ = keys.create("alice", ["agent:*"])
    second, _ = keys.create("bob", ["agent:x"], tokens_per_minute=1000)
    keys.revoke(first)
    assert [k.key_id for k in keys.list()] == [first, second]
    assert [k.key_id for k in keys.list(include_revoked=False)] == [second]
    assert keys.get(second).tokens_per_minute == 1000
