"""The judge's SQLite cache: one reply per hash of (model, messages, params)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from workbench.errors import JudgeError
from workbench.models import request_key
from workbench.settings import get_settings

__all__ = ["CachedReply", "JudgeCache", "judge_request_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judge_cache (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    reply TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    created_at REAL NOT NULL
)
"""


class CachedReply(BaseModel):
    """A judge reply held in the cache."""

    model_config = ConfigDict(frozen=True)

    text: str
    """The model's reply text, exactly as it came."""
    cost_usd: float
    """What the original call cost (a cache hit itself costs 0)."""


def judge_request_key(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """The cache key of a judge call: the models package's normalised request hash."""
    return request_key(model, messages, None, params)


class JudgeCache:
    """Judge replies in SQLite, so re-grading the same output costs nothing.

    Safe to share between threads and tasks of one process (one connection behind a
    lock; each call is a single indexed statement, short enough to run on the event
    loop), and between processes (SQLite's own locking, WAL journal).

    Args:
        path: The SQLite file; default ``get_settings().home / "judge-cache.sqlite"``.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else get_settings().home / "judge-cache.sqlite"
        """The SQLite file."""
        self.hits = 0
        """Lookups answered from the cache by this object."""
        self.misses = 0
        """Lookups not in the cache."""
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise JudgeError(f"judge cache {self.path} cannot be opened: {exc}") from exc

    def get(self, key: str) -> CachedReply | None:
        """The cached reply for ``key``, or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT reply, cost_usd FROM judge_cache WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return CachedReply(text=str(row[0]), cost_usd=float(row[1]))

    def put(self, key: str, *, model: str, text: str, cost_usd: float) -> None:
        """Store a reply (replacing any reply under the same key)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO judge_cache VALUES (?, ?, ?, ?, ?)",
                (key, model, text, cost_usd, time.time()),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM judge_cache").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
