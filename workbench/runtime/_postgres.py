"""PostgreSQL for executions that several machines share: checkpointer and effect journal.

When ``Settings.database_url`` (``WORKBENCH_DATABASE_URL``) is set, :class:`Runtime`
keeps LangGraph checkpoints in PostgreSQL (``langgraph-checkpoint-postgres``) and the
effect journal in :class:`PostgresJournal`, so an execution started on one machine can
be resumed on any other (a queue worker reclaiming a job whose worker died). Both use
one autocommit connection each: every write is committed, hence durable, when it
returns. Like the embedded SQLite saver, the async methods run the sync ones inline: a
loopback round trip is shorter than a thread hop, and the runtime serialises calls.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row

from workbench.runtime._checkpoint import InlineSyncCalls
from workbench.runtime._journal import (
    Approval,
    ApprovalStatus,
    EffectJournal,
    ExecutionMeta,
    JournalEntry,
    approval_row,
)

__all__ = ["InlinePostgresSaver", "PostgresJournal", "open_postgres_checkpointer"]

_SETUP_LOCK = 7_250_001
"""pg_advisory_lock key that serialises schema set-up across processes."""


@contextmanager
def _setup_lock(conn: psycopg.Connection[Any]) -> Iterator[None]:
    conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


class InlinePostgresSaver(InlineSyncCalls, PostgresSaver):
    """``PostgresSaver`` whose async methods run the sync ones inline (no thread hop)."""

    def close(self) -> None:
        """Close the connection."""
        conn: Any = self.conn
        conn.close()


def open_postgres_checkpointer(url: str) -> InlinePostgresSaver:
    """A checkpointer on the PostgreSQL database at ``url`` (tables created if missing)."""
    conn: psycopg.Connection[Any] = psycopg.Connection.connect(
        url, autocommit=True, prepare_threshold=0, row_factory=dict_row
    )
    saver = InlinePostgresSaver(conn)
    with _setup_lock(conn):
        saver.setup()
    return saver


_SCHEMA = """
CREATE TABLE IF NOT EXISTS wb_journal (
    execution_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    call_index INTEGER NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    payload JSONB NOT NULL,
    recorded_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (execution_id, step, call_index)
);
CREATE TABLE IF NOT EXISTS wb_executions (
    execution_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    spec JSONB NOT NULL,
    task TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    principal TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    stop_requested BOOLEAN NOT NULL DEFAULT FALSE,
    extra JSONB
);
CREATE TABLE IF NOT EXISTS wb_approvals (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    call_index INTEGER NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    reason TEXT NOT NULL,
    principal TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    deadline DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    decision_reason TEXT,
    decided_at DOUBLE PRECISION
);
"""

_APPROVAL_COLUMNS = (
    "id, execution_id, step, call_index, tool, arguments, reason, principal, created_at,"
    " deadline, status, decided_by, decision_reason, decided_at"
)


class PostgresJournal(EffectJournal):
    """The effect journal in PostgreSQL, for executions resumed on another machine.

    Same contract as :class:`SqliteJournal`: a write is committed (autocommit) before
    ``record`` returns, ``done`` replaces ``started``, first ``save_meta`` and first
    ``request_approval`` win, a decision applies once and never after the deadline.
    Thread-safe (one lock around the connection).

    Args:
        url: ``postgresql://user:password@host:port/db``.
    """

    def __init__(self, url: str) -> None:
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] = psycopg.Connection.connect(url, autocommit=True)
        with self._lock, _setup_lock(self._conn):
            self._conn.execute(_SCHEMA)

    def _one(self, query: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        with self._lock:
            return self._conn.execute(query, params).fetchone()

    def _all(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(query, params).fetchall()

    def _run(self, query: str, params: Sequence[Any]) -> None:
        with self._lock:
            self._conn.execute(query, params)

    def record(self, entry: JournalEntry) -> None:
        self._run(
            "INSERT INTO wb_journal VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (execution_id, step, call_index) DO UPDATE SET kind = EXCLUDED.kind,"
            " status = EXCLUDED.status, payload = EXCLUDED.payload,"
            " recorded_at = EXCLUDED.recorded_at",
            (
                entry.execution_id,
                entry.step,
                entry.call_index,
                entry.kind,
                entry.status,
                json.dumps(entry.payload, separators=(",", ":")),
                time.time(),
            ),
        )

    def get(self, execution_id: str, step: int, call_index: int) -> JournalEntry | None:
        row = self._one(
            "SELECT kind, status, payload FROM wb_journal"
            " WHERE execution_id = %s AND step = %s AND call_index = %s",
            (execution_id, step, call_index),
        )
        if row is None:
            return None
        return JournalEntry(execution_id, step, call_index, row[0], row[1], row[2])

    def entries(self, execution_id: str) -> list[JournalEntry]:
        rows = self._all(
            "SELECT step, call_index, kind, status, payload FROM wb_journal"
            " WHERE execution_id = %s ORDER BY step, call_index",
            (execution_id,),
        )
        return [JournalEntry(execution_id, r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def save_meta(self, meta: ExecutionMeta) -> None:
        extra = {
            "scopes": list(meta.scopes) if meta.scopes is not None else None,
            "caps": meta.caps,
        }
        self._run(
            "INSERT INTO wb_executions (execution_id, thread_id, spec, task, trace_id,"
            " principal, created_at, extra) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (execution_id) DO NOTHING",
            (
                meta.execution_id,
                meta.thread_id,
                json.dumps(meta.spec, default=str),
                meta.task,
                meta.trace_id,
                meta.principal,
                meta.created_at,
                json.dumps(extra),
            ),
        )

    def load_meta(self, execution_id: str) -> ExecutionMeta | None:
        row = self._one(
            "SELECT thread_id, spec, task, trace_id, principal, created_at, extra"
            " FROM wb_executions WHERE execution_id = %s",
            (execution_id,),
        )
        if row is None:
            return None
        extra = row[6] or {}
        scopes = extra.get("scopes")
        return ExecutionMeta(
            execution_id,
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            scopes=tuple(scopes) if scopes is not None else None,
            caps=extra.get("caps"),
        )

    def request_stop(self, execution_id: str) -> None:
        self._run(
            "UPDATE wb_executions SET stop_requested = TRUE WHERE execution_id = %s",
            (execution_id,),
        )

    def stop_requested(self, execution_id: str) -> bool:
        row = self._one(
            "SELECT stop_requested FROM wb_executions WHERE execution_id = %s", (execution_id,)
        )
        return bool(row and row[0])

    def request_approval(self, approval: Approval) -> Approval:
        a = approval
        self._run(
            f"INSERT INTO wb_approvals ({_APPROVAL_COLUMNS}) VALUES"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (id) DO NOTHING",
            approval_row(a),
        )
        stored = self.get_approval(approval.id)
        assert stored is not None
        return stored

    def get_approval(self, approval_id: str) -> Approval | None:
        row = self._one(
            f"SELECT {_APPROVAL_COLUMNS} FROM wb_approvals WHERE id = %s", (approval_id,)
        )
        return None if row is None else Approval(*row)

    def decide_approval(
        self, approval_id: str, *, approved: bool, decided_by: str | None, reason: str | None
    ) -> Approval | None:
        now = time.time()
        self._run(
            "UPDATE wb_approvals SET status = %s, decided_by = %s, decision_reason = %s,"
            " decided_at = %s WHERE id = %s AND status = 'pending' AND deadline >= %s",
            ("approved" if approved else "denied", decided_by, reason, now, approval_id, now),
        )
        return self.get_approval(approval_id)

    def approvals(self, *, status: ApprovalStatus | None = None) -> list[Approval]:
        query = f"SELECT {_APPROVAL_COLUMNS} FROM wb_approvals"
        params: tuple[str, ...] = ()
        if status is not None:
            query, params = query + " WHERE status = %s", (status,)
        rows = self._all(query + " ORDER BY created_at, id", params)
        return [Approval(*r) for r in rows]

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
