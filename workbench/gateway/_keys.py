"""API keys and principals: a SQLite key store with hashed secrets and an in-memory cache.

A secret looks like ``wbk_<key id>_<43 url-safe characters>``: 256 random bits after
the key id, so the store finds the record by id and compares one hash. The store keeps
``sha256(salt || secret)`` with a random 16-byte salt per key, never the secret. A slow
hash (scrypt, argon2) protects low-entropy passwords against guessing; a 256-bit random
secret cannot be guessed, so a fast hash loses nothing and keeps a cache miss at
microseconds. Comparison is constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import AuthenticationFailed, ConfigError, KeyNotFound
from workbench.gateway._config import BudgetCaps
from workbench.settings import get_settings

__all__ = ["KeyInfo", "KeyStore", "Principal"]

_PREFIX = "wbk_"
_SECRET_RE = re.compile(r"wbk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}")
_SCOPE_RE = re.compile(r"(agent|tool):(\*|[A-Za-z0-9][A-Za-z0-9_.\-/]*)")
_MAX_UNKNOWN = 10_000
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@\-]{0,127}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    scopes TEXT NOT NULL,
    salt BLOB NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL,
    daily_budget_usd REAL,
    daily_budget_tokens INTEGER,
    rate_per_minute REAL,
    tokens_per_minute REAL
)
"""
_COLUMNS = (
    "key_id, principal, scopes, salt, secret_hash, created_at, expires_at, revoked_at, "
    "daily_budget_usd, daily_budget_tokens, rate_per_minute, tokens_per_minute"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from, as its API key says.

    Attributes:
        name: The principal's name (a user, team or service).
        key_id: The key that authenticated it.
        scopes: ``agent:<name>``, ``agent:*``, ``tool:<name>``, ``tool:*``.
        expires_at: Unix time the key stops working, if any.
        daily_budget_usd: The key's USD cap per UTC day, if any.
        daily_budget_tokens: The key's token cap per UTC day, if any.
        rate_per_minute: The key's request rate, if any.
        tokens_per_minute: The key's token rate, if any.
    """

    name: str
    key_id: str
    scopes: frozenset[str]
    expires_at: float | None = None
    daily_budget_usd: float | None = None
    daily_budget_tokens: int | None = None
    rate_per_minute: float | None = None
    tokens_per_minute: float | None = None

    def may_use_agent(self, name: str) -> bool:
        """Whether the scopes cover the agent ``name`` (``agent:<name>`` or ``agent:*``)."""
        scopes = self.scopes
        return "agent:*" in scopes or f"agent:{name}" in scopes

    def may_use_tool(self, name: str) -> bool:
        """Whether the scopes cover the tool ``name`` (``tool:<name>`` or ``tool:*``)."""
        scopes = self.scopes
        return "tool:*" in scopes or f"tool:{name}" in scopes

    def key_caps(self) -> BudgetCaps:
        """The key's own daily caps (``None`` where it sets none)."""
        return BudgetCaps(
            principal_day_usd=self.daily_budget_usd,
            principal_day_tokens=self.daily_budget_tokens,
        )


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One stored key as :meth:`KeyStore.list` shows it: never the secret or its hash."""

    key_id: str
    principal: str
    scopes: list[str]
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    daily_budget_usd: float | None
    daily_budget_tokens: int | None
    rate_per_minute: float | None
    tokens_per_minute: float | None

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > time.time()
        )


@dataclass(frozen=True, slots=True)
class _Cached:
    principal: Principal
    salt: bytes
    secret_hash: bytes
    revoked: bool
    read_at: float


# Stores of one file in this process, so a revoke through any of them drops every cache.
_STORES: dict[Path, weakref.WeakSet[KeyStore]] = {}
_STORES_LOCK = threading.Lock()


class KeyStore:
    """API keys in SQLite (``<home>/keys.sqlite`` by default), safe across processes.

    :meth:`authenticate` serves a key from memory after its first lookup, for
    ``cache_ttl_s`` seconds: then it re-reads the record, so a revocation made by
    another process takes effect within that time. A revocation through any store of
    the same file in this process drops the entry at once.

    Args:
        path: The SQLite file; ``settings.home / "keys.sqlite"`` if None.
        cache_ttl_s: Seconds an authenticated key is trusted from memory.
    """

    def __init__(self, path: Path | str | None = None, *, cache_ttl_s: float = 1.0) -> None:
        self.path = Path(path) if path is not None else get_settings().home / "keys.sqlite"
        self.path = self.path.resolve()
        self.cache_ttl_s = cache_ttl_s
        self._cache: dict[str, _Cached] = {}
        # Unknown key ids, so a flood of made-up keys does not hit SQLite each time.
        self._unknown: dict[str, float] = {}
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect(write=True) as conn:
            conn.execute(_SCHEMA)
        with _STORES_LOCK:
            _STORES.setdefault(self.path, weakref.WeakSet()).add(self)

    # -- management -----------------------------------------------------------------------

    def create(
        self,
        principal: str,
        scopes: list[str],
        *,
        expires_at: float | None = None,
        daily_budget_usd: float | None = None,
        daily_budget_tokens: int | None = None,
        rate_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ) -> tuple[str, str]:
        """Create a key for ``principal``; the secret is returned here and never again.

        Args:
            principal: Who the key acts for.
            scopes: ``agent:<name>``, ``agent:*``, ``tool:<name>``, ``tool:*``.
            expires_at: Unix time after which the key fails authentication.
            daily_budget_usd: USD cap per UTC day for this principal.
            daily_budget_tokens: Token cap per UTC day for this principal.
            rate_per_minute: Requests per minute.
            tokens_per_minute: Estimated tokens per minute.

        Returns:
            ``(key_id, secret)``.

        Raises:
            ConfigError: A bad principal name, scope or limit.
        """
        if not _NAME_RE.fullmatch(principal):
            raise ConfigError(
                f"principal {principal!r} must be 1-128 letters, digits or _.@- "
                "starting with a letter or digit"
            )
        bad = [s for s in scopes if not _SCOPE_RE.fullmatch(s)]
        if bad:
            raise ConfigError(
                f"invalid scopes {bad}: use agent:<name>, agent:*, tool:<name> or tool:*"
            )
        for label, value in (
            ("daily_budget_usd", daily_budget_usd),
            ("daily_budget_tokens", daily_budget_tokens),
            ("rate_per_minute", rate_per_minute),
            ("tokens_per_minute", tokens_per_minute),
        ):
            if value is not None and not value >= 0:
                raise ConfigError(f"{label} must be >= 0, not {value}")
        key_id = secrets.token_hex(8)
        secret = f"{_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        salt = secrets.token_bytes(16)
        row = (
            key_id,
            principal,
            " ".join(sorted(set(scopes))),
            salt,
            _hash(salt, secret),
            time.time(),
            expires_at,
            None,
            daily_budget_usd,
            daily_budget_tokens,
            rate_per_minute,
            tokens_per_minute,
        )
        with self._connect(write=True) as conn:
            conn.execute(f"INSERT INTO api_keys ({_COLUMNS}) VALUES ({', '.join('?' * 12)})", row)
        return key_id, secret

    def list(self, *, include_revoked: bool = True) -> list[KeyInfo]:
        """Every key, oldest first, without secrets or hashes."""
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at").fetchall()
        infos = [_info(row) for row in rows]
        return [i for i in infos if include_revoked or i.revoked_at is None]

    def get(self, key_id: str) -> KeyInfo:
        """One key's record.

        Raises:
            KeyNotFound: No key has that id.
        """
        row = self._row(key_id)
        if row is None:
            raise KeyNotFound(f"no API key has id {key_id!r}")
        return _info(row)

    def revoke(self, key_id: str) -> None:
        """Revoke a key: it fails authentication from now on (other processes: within
        ``cache_ttl_s``). Revoking a revoked key is a no-op.

        Raises:
            KeyNotFound: No key has that id.
        """
        with self._connect(write=True) as conn:
            cursor = conn.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                (time.time(), key_id),
            )
            if cursor.rowcount == 0:
                raise KeyNotFound(f"no API key has id {key_id!r}")
        with _STORES_LOCK:
            stores = list(_STORES.get(self.path, ()))
        for store in stores:
            store._cache.pop(key_id, None)

    # -- hot path -------------------------------------------------------------------------

    def authenticate(self, secret: str | None) -> Principal:
        """The principal of ``secret``.

        Raises:
            AuthenticationFailed: No secret, a malformed or unknown one, or a revoked or
                expired key. The message never contains the secret.
        """
        if not secret:
            raise AuthenticationFailed("no API key given")
        match = _SECRET_RE.fullmatch(secret)
        if match is None:
            raise AuthenticationFailed("malformed API key")
        key_id = match.group(1)
        now = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is None or now - cached.read_at > self.cache_ttl_s:
            cached = self._load(key_id, now)
        # Always hash and compare, even for a revoked key: the time taken does not tell.
        if not hmac.compare_digest(_hash(cached.salt, secret), cached.secret_hash):
            raise AuthenticationFailed(f"unknown API key {key_id}")
        principal = cached.principal
        if cached.revoked:
            raise AuthenticationFailed(f"API key {key_id} is revoked", principal=principal.name)
        expires_at = principal.expires_at
        if expires_at is not None and expires_at <= time.time():
            raise AuthenticationFailed(f"API key {key_id} has expired", principal=principal.name)
        return principal

    def _load(self, key_id: str, now: float) -> _Cached:
        seen = self._unknown.get(key_id)
        if seen is not None and now - seen <= self.cache_ttl_s:
            raise AuthenticationFailed(f"unknown API key {key_id}")
        row = self._row(key_id)
        if row is None:
            if len(self._unknown) >= _MAX_UNKNOWN:
                self._unknown.clear()
            self._unknown[key_id] = now
            raise AuthenticationFailed(f"unknown API key {key_id}")
        info = _info(row)
        cached = _Cached(
            principal=Principal(
                name=info.principal,
                key_id=key_id,
                scopes=frozenset(info.scopes),
                expires_at=info.expires_at,
                daily_budget_usd=info.daily_budget_usd,
                daily_budget_tokens=info.daily_budget_tokens,
                rate_per_minute=info.rate_per_minute,
                tokens_per_minute=info.tokens_per_minute,
            ),
            salt=bytes(row[3]),
            secret_hash=bytes(row[4]),
            revoked=info.revoked_at is not None,
            read_at=now,
        )
        self._cache[key_id] = cached
        return cached

    # -- storage --------------------------------------------------------------------------

    def _row(self, key_id: str) -> tuple[Any, ...] | None:
        with self._connect() as conn:
            row: tuple[Any, ...] | None = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        return row

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        # One connection per thread, kept: opening one costs more than the query.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        if not write:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def _hash(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


def _info(row: tuple[Any, ...]) -> KeyInfo:
    (key_id, principal, scopes, _, _, created, expires, revoked, usd, tok, rpm, tpm) = row
    return KeyInfo(
        key_id=str(key_id),
        principal=str(principal),
        scopes=str(scopes).split(),
        created_at=float(created),
        expires_at=None if expires is None else float(expires),
        revoked_at=None if revoked is None else float(revoked),
        daily_budget_usd=None if usd is None else float(usd),
        daily_budget_tokens=None if tok is None else int(tok),
        rate_per_minute=None if rpm is None else float(rpm),
        tokens_per_minute=None if tpm is None else float(tpm),
    )
