"""The long-term memory store: facts with embeddings in their own DuckDB file.

One table, ``facts``, in ``$WORKBENCH_HOME/memory.duckdb`` (never the trace store).
Every fact belongs to one principal and every read and delete is filtered by it, so a
principal never sees another's facts. DuckDB lets one process at a time hold a file, so
the store opens it for each operation and closes it at once: several processes (CLI,
workers, notebooks) share one memory, each waiting its turn for at most a few
milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from workbench.embeddings import Embedder, HashingEmbedder, MiniLMEmbedder
from workbench.errors import ConfigError
from workbench.settings import Settings, get_settings

__all__ = ["LOCAL_PRINCIPAL", "Fact", "MemoryLimits", "MemoryStore", "RecalledFact"]

LOCAL_PRINCIPAL = "local"
"""The namespace of executions that run for no principal (a local, trusted run)."""

_DAY_S = 86_400.0
_OPEN_TIMEOUT_S = 30.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (
    id VARCHAR PRIMARY KEY,
    principal VARCHAR NOT NULL,
    text VARCHAR NOT NULL,
    tainted BOOLEAN NOT NULL,
    source VARCHAR NOT NULL,
    created_at DOUBLE NOT NULL,
    model VARCHAR NOT NULL,
    embedding FLOAT[] NOT NULL
)
"""


class MemoryLimits(BaseModel):
    """Retention limits of the memory store, enforced on every write and read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_facts_per_principal: int = Field(default=1000, ge=1)
    """Facts one principal may keep; a new fact past it evicts the oldest ones."""
    max_age_days: float | None = Field(default=90.0, gt=0)
    """Age past which a fact is deleted (``None``: kept until evicted or forgotten)."""
    max_text_chars: int = Field(default=4000, ge=1)
    """Longest fact; a longer text is refused (the model sees a tool error)."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One remembered fact."""

    id: str
    principal: str
    """Whose fact it is; the only principal that can recall or list it."""
    text: str
    tainted: bool
    """Written by an agent (whose context may hold tool outputs), not by the principal."""
    source: str
    """Who wrote it: ``api`` (the principal, through Python) or ``agent:<execution id>``."""
    created_at: float
    model: str
    """The embedder's name; recall compares only facts embedded by the same model."""


@dataclass(frozen=True, slots=True)
class RecalledFact:
    """A fact and its cosine similarity to the query."""

    fact: Fact
    score: float


def _embedder_from_env() -> Embedder:
    # The test fake exists so subprocess tests (workers) need not load torch.
    choice = os.environ.get("WORKBENCH_MEMORY_EMBEDDER", "minilm")
    if choice == "minilm":
        return MiniLMEmbedder()
    if choice == "hashing":
        return HashingEmbedder(dim=256)
    raise ConfigError(
        f"WORKBENCH_MEMORY_EMBEDDER must be 'minilm' or 'hashing' (a test fake), not {choice!r}"
    )


class MemoryStore:
    """Long-term facts per principal, searched by embedding similarity.

    Thread-safe; safe across processes on one machine (each operation opens the DuckDB
    file, retrying while another process holds it, and closes it).

    Args:
        path: The DuckDB file.
        embedder: Turns texts into vectors; all-MiniLM-L6-v2 (``MiniLMEmbedder``) if None,
            or the fake named by ``WORKBENCH_MEMORY_EMBEDDER=hashing`` (tests only).
        limits: Retention limits; ``MemoryLimits()`` if None.
        clock: Seconds since the epoch (tests move it to age facts).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        embedder: Embedder | None = None,
        limits: MemoryLimits | None = None,
        clock: Any = time.time,
    ) -> None:
        self.path = Path(path)
        self.embedder = embedder if embedder is not None else _embedder_from_env()
        self.limits = limits if limits is not None else MemoryLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(_SCHEMA)

    @classmethod
    def default(cls, settings: Settings | None = None) -> MemoryStore:
        """The store of a workbench home: ``<home>/memory.duckdb``, default embedder."""
        return cls((settings or get_settings()).home / "memory.duckdb")

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + _OPEN_TIMEOUT_S
        with self._lock:
            while True:
                try:
                    conn = duckdb.connect(str(self.path))
                    break
                except duckdb.IOException as exc:
                    if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                        raise
                    time.sleep(random.uniform(0.005, 0.03))
            try:
                yield conn
            finally:
                conn.close()

    # -- writing ---------------------------------------------------------------------

    def remember(
        self,
        principal: str | None,
        text: str,
        *,
        tainted: bool = False,
        source: str = "api",
        key: str | None = None,
    ) -> Fact:
        """Store one fact for ``principal``, then apply the retention limits.

        Args:
            principal: Whose fact (``None``: the local namespace).
            text: The fact.
            tainted: Whether the text may carry untrusted data (the ``remember`` tool sets
                it: a model's context may hold tool outputs). The principal's own writes
                through this API are trusted.
            source: Who wrote it (``api``, ``agent:<execution id>``).
            key: Idempotency key: a second write with the same key stores nothing and
                returns the first fact (a resumed execution may call the tool again).

        Raises:
            ConfigError: Empty text, or longer than ``max_text_chars``.
        """
        owner = principal or LOCAL_PRINCIPAL
        text = text.strip()
        if not text:
            raise ConfigError("a fact cannot be empty")
        if len(text) > self.limits.max_text_chars:
            raise ConfigError(
                f"a fact is at most {self.limits.max_text_chars} characters"
                f" (max_text_chars), not {len(text)}"
            )
        fact_id = (
            "f-" + hashlib.sha256(f"{owner}\x00{key}".encode()).hexdigest()[:16]
            if key is not None
            else "f-" + uuid.uuid4().hex[:16]
        )
        vector = self.embedder.embed([text])[0]
        now = float(self._clock())
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                [fact_id, owner, text, tainted, source, now, self.embedder.name, vector.tolist()],
            )
            self._retain(conn, owner, now)
            row = conn.execute(_SELECT + " WHERE id = ?", [fact_id]).fetchone()
        assert row is not None
        return _fact(row)

    def _retain(self, conn: duckdb.DuckDBPyConnection, owner: str, now: float) -> None:
        if self.limits.max_age_days is not None:
            conn.execute(
                "DELETE FROM facts WHERE principal = ? AND created_at < ?",
                [owner, now - self.limits.max_age_days * _DAY_S],
            )
        conn.execute(
            "DELETE FROM facts WHERE id IN (SELECT id FROM facts WHERE principal = ?"
            " ORDER BY created_at DESC, id DESC OFFSET ?)",
            [owner, self.limits.max_facts_per_principal],
        )

    # -- reading ---------------------------------------------------------------------

    def recall(self, principal: str | None, query: str, k: int = 5) -> list[RecalledFact]:
        """The ``k`` facts of ``principal`` most similar to ``query``, best first.

        Only facts embedded by this store's embedder are compared; facts past
        ``max_age_days`` are deleted first.
        """
        owner = principal or LOCAL_PRINCIPAL
        now = float(self._clock())
        with self._connect() as conn:
            self._retain(conn, owner, now)
            rows = conn.execute(
                _SELECT_WITH_VECTOR + " WHERE principal = ? AND model = ?",
                [owner, self.embedder.name],
            ).fetchall()
        if not rows or k < 1:
            return []
        matrix = np.asarray([r[-1] for r in rows], dtype=np.float32)
        scores = matrix @ self.embedder.embed([query])[0]
        # Ties go to the newer fact.
        order = sorted(range(len(rows)), key=lambda i: (-float(scores[i]), -rows[i][5]))[:k]
        return [RecalledFact(_fact(rows[i][:-1]), float(scores[i])) for i in order]

    def list(self, principal: str | None = None) -> list[Fact]:
        """Facts, oldest first: one principal's, or every principal's when ``None``
        (an operator's view, for ``workbench memory list``)."""
        with self._connect() as conn:
            if principal is None:
                rows = conn.execute(_SELECT + " ORDER BY created_at, id").fetchall()
            else:
                rows = conn.execute(
                    _SELECT + " WHERE principal = ? ORDER BY created_at, id", [principal]
                ).fetchall()
        return [_fact(r) for r in rows]

    # -- deleting --------------------------------------------------------------------

    def forget(
        self,
        principal: str | None = None,
        *,
        fact_id: str | None = None,
        everything: bool = False,
        older_than_days: float | None = None,
    ) -> int:
        """Delete facts; returns how many.

        Exactly one of ``fact_id``, ``everything`` and ``older_than_days`` selects what
        goes. ``principal`` narrows it to one principal (``None``: every principal, an
        operator's delete).

        Raises:
            ConfigError: Not exactly one selector.
        """
        chosen = [fact_id is not None, everything, older_than_days is not None]
        if sum(chosen) != 1:
            raise ConfigError("forget needs exactly one of an id, all, or an age in days")
        where: list[str] = []
        params: list[Any] = []
        if principal is not None:
            where.append("principal = ?")
            params.append(principal)
        if fact_id is not None:
            where.append("id = ?")
            params.append(fact_id)
        if older_than_days is not None:
            if older_than_days < 0:
                raise ConfigError("older_than_days must be >= 0")
            where.append("created_at < ?")
            params.append(float(self._clock()) - older_than_days * _DAY_S)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        with self._connect() as conn:
            row = conn.execute("SELECT count(*) FROM facts" + clause, params).fetchone()
            conn.execute("DELETE FROM facts" + clause, params)
        return int(row[0]) if row else 0


_COLUMNS = "id, principal, text, tainted, source, created_at, model"
_SELECT = f"SELECT {_COLUMNS} FROM facts"
_SELECT_WITH_VECTOR = f"SELECT {_COLUMNS}, embedding FROM facts"


def _fact(row: tuple[Any, ...]) -> Fact:
    return Fact(
        id=row[0],
        principal=row[1],
        text=row[2],
        tainted=bool(row[3]),
        source=row[4],
        created_at=float(row[5]),
        model=row[6],
    )
