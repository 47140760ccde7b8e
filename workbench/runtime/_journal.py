"""The effect journal: every model and tool result, recorded before the next step.

A LangGraph node that is interrupted (the process is killed) runs again on resume.
The journal makes that re-run harmless: a node first looks up its
``(execution, step, call)`` entry and replays it when present, so a model is not
asked twice and a tool's side effect does not happen twice. For a side-effecting
tool the journal records a ``started`` entry with the idempotency key *before* the
tool runs; if the process dies between that and the ``done`` entry, the tool is
called again with the same key, and its contract is to apply the effect at most once
per key.

The journal is also where the conversation lives: the graph's checkpointed state
holds only counters, so checkpoint storage grows linearly with the number of steps
(LangGraph's message accumulation, checkpointed whole at every step, grows
quadratically).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Approval",
    "EffectJournal",
    "ExecutionMeta",
    "JournalEntry",
    "MemoryJournal",
    "SqliteJournal",
    "approval_row",
]

EntryKind = Literal["model", "tool", "feedback"]
EntryStatus = Literal["started", "done"]
ApprovalStatus = Literal["pending", "approved", "denied"]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One recorded result."""

    execution_id: str
    step: int
    call_index: int
    kind: EntryKind
    status: EntryStatus
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExecutionMeta:
    """What a fresh process needs to resume an execution."""

    execution_id: str
    thread_id: str
    spec: dict[str, Any]
    task: str
    trace_id: str
    principal: str | None
    created_at: float
    scopes: tuple[str, ...] | None = None
    """The principal's scopes, when the gateway admitted the execution."""
    caps: dict[str, float] | None = None
    """Budget caps the gateway set (``BudgetCaps`` fields), enforced before each model call."""
    untrusted_task: bool = False
    """The gateway's guard flagged the task: its values count as untrusted data."""


@dataclass(frozen=True, slots=True)
class Approval:
    """A tool call paused at an approval gate, and its decision once made."""

    id: str
    """``"{execution_id}:{step}:{call_index}"``."""
    execution_id: str
    step: int
    call_index: int
    tool: str
    arguments: str
    reason: str
    """Why approval is needed (the policy's reason, or ``requires_approval``)."""
    principal: str | None
    created_at: float
    deadline: float
    """Unix time after which the request counts as denied."""
    status: ApprovalStatus = "pending"
    decided_by: str | None = None
    decision_reason: str | None = None
    decided_at: float | None = None

    def effective_status(self, now: float | None = None) -> ApprovalStatus:
        """``denied`` once a pending request is past its deadline."""
        if self.status == "pending" and (now or time.time()) > self.deadline:
            return "denied"
        return self.status


class EffectJournal(ABC):
    """Durable record of effects, keyed by (execution, step, call index).

    Contract for backends:
    - ``record`` is durable when it returns: it survives SIGKILL of the process.
    - Entries are never deleted by the runtime; ``done`` replaces ``started``.
    - Safe to call from one thread at a time per instance (the runtime serialises).
    """

    @abstractmethod
    def record(self, entry: JournalEntry) -> None:
        """Write or replace one entry durably."""

    @abstractmethod
    def get(self, execution_id: str, step: int, call_index: int) -> JournalEntry | None:
        """The entry at that key, if recorded."""

    @abstractmethod
    def entries(self, execution_id: str) -> list[JournalEntry]:
        """Every entry of an execution, ordered by step then call index."""

    @abstractmethod
    def save_meta(self, meta: ExecutionMeta) -> None:
        """Remember how to resume an execution (first write wins)."""

    @abstractmethod
    def load_meta(self, execution_id: str) -> ExecutionMeta | None:
        """What :meth:`save_meta` stored, if anything."""

    @abstractmethod
    def request_stop(self, execution_id: str) -> None:
        """Ask a running execution, in any process, to stop at its next step."""

    @abstractmethod
    def stop_requested(self, execution_id: str) -> bool:
        """Whether a stop was requested."""

    def scratchpad(self, workflow_id: str) -> dict[str, str]:
        """The shared scratchpad of a multi-agent workflow (key -> newest value)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no scratchpad")

    def scratchpad_put(self, workflow_id: str, key: str, value: str, *, writer: str) -> None:
        """Write one scratchpad entry durably (last write wins)."""
        raise NotImplementedError(f"{type(self).__name__} keeps no scratchpad")

    @abstractmethod
    def request_approval(self, approval: Approval) -> Approval:
        """Record a pending approval (first write wins); returns the stored one."""

    @abstractmethod
    def get_approval(self, approval_id: str) -> Approval | None:
        """The approval with that id, if any."""

    @abstractmethod
    def decide_approval(
        self, approval_id: str, *, approved: bool, decided_by: str | None, reason: str | None
    ) -> Approval | None:
        """Record the decision of a pending approval; returns it (``None`` if unknown).

        A decision on a request already decided, or past its deadline, changes nothing: the
        stored (or timed-out) decision is returned.
        """

    @abstractmethod
    def approvals(self, *, status: ApprovalStatus | None = None) -> list[Approval]:
        """Approvals, oldest first, optionally only those with that stored status."""


class SqliteJournal(EffectJournal):
    """The embedded journal: one SQLite file in WAL mode.

    ``synchronous=NORMAL`` in WAL mode makes a committed transaction survive the
    death of the process (the OS holds it); only a power loss can drop the last
    commits, which is the same guarantee LangGraph's SqliteSaver gives.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS wb_journal (
                execution_id TEXT NOT NULL,
                step INTEGER NOT NULL,
                call_index INTEGER NOT NULL,
                kind TEXT NOT NULL,
                status TEXT NOT NULL,
                payload TEXT NOT NULL,
                recorded_at REAL NOT NULL,
                PRIMARY KEY (execution_id, step, call_index)
            );
            CREATE TABLE IF NOT EXISTS wb_executions (
                execution_id TEXT PRIMARY KEY,
                thread_id TEXT NOT NULL,
                spec TEXT NOT NULL,
                task TEXT NOT NULL,
                trace_id TEXT NOT NULL,
                principal TEXT,
                created_at REAL NOT NULL,
                stop_requested INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE IF NOT EXISTS wb_scratchpad (
                workflow_id TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                writer TEXT NOT NULL,
                updated_at REAL NOT NULL,
                PRIMARY KEY (workflow_id, key)
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
                created_at REAL NOT NULL,
                deadline REAL NOT NULL,
                status TEXT NOT NULL,
                decided_by TEXT,
                decision_reason TEXT,
                decided_at REAL
            );
            """
        )
        columns = {r[1] for r in self._conn.execute("PRAGMA table_info(wb_executions)")}
        if "extra" not in columns:
            self._conn.execute("ALTER TABLE wb_executions ADD COLUMN extra TEXT")

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO wb_journal VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        with self._lock:
            row = self._conn.execute(
                "SELECT kind, status, payload FROM wb_journal"
                " WHERE execution_id = ? AND step = ? AND call_index = ?",
                (execution_id, step, call_index),
            ).fetchone()
        if row is None:
            return None
        return JournalEntry(execution_id, step, call_index, row[0], row[1], json.loads(row[2]))

    def entries(self, execution_id: str) -> list[JournalEntry]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT step, call_index, kind, status, payload FROM wb_journal"
                " WHERE execution_id = ? ORDER BY step, call_index",
                (execution_id,),
            ).fetchall()
        return [JournalEntry(execution_id, r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def save_meta(self, meta: ExecutionMeta) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO wb_executions"
                " (execution_id, thread_id, spec, task, trace_id, principal, created_at, extra)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    meta.execution_id,
                    meta.thread_id,
                    json.dumps(meta.spec, default=str),
                    meta.task,
                    meta.trace_id,
                    meta.principal,
                    meta.created_at,
                    json.dumps(
                        {
                            "scopes": list(meta.scopes) if meta.scopes is not None else None,
                            "caps": meta.caps,
                            "untrusted_task": meta.untrusted_task,
                        }
                    ),
                ),
            )

    def load_meta(self, execution_id: str) -> ExecutionMeta | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT thread_id, spec, task, trace_id, principal, created_at, extra"
                " FROM wb_executions WHERE execution_id = ?",
                (execution_id,),
            ).fetchone()
        if row is None:
            return None
        extra = json.loads(row[6]) if row[6] else {}
        scopes = extra.get("scopes")
        return ExecutionMeta(
            execution_id,
            row[0],
            json.loads(row[1]),
            row[2],
            row[3],
            row[4],
            row[5],
            scopes=tuple(scopes) if scopes is not None else None,
            caps=extra.get("caps"),
            untrusted_task=bool(extra.get("untrusted_task", False)),
        )

    def request_stop(self, execution_id: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE wb_executions SET stop_requested = 1 WHERE execution_id = ?",
                (execution_id,),
            )

    def stop_requested(self, execution_id: str) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT stop_requested FROM wb_executions WHERE execution_id = ?",
                (execution_id,),
            ).fetchone()
        return bool(row and row[0])

    def scratchpad(self, workflow_id: str) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value FROM wb_scratchpad WHERE workflow_id = ? ORDER BY key",
                (workflow_id,),
            ).fetchall()
        return {k: v for k, v in rows}

    def scratchpad_put(self, workflow_id: str, key: str, value: str, *, writer: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO wb_scratchpad VALUES (?, ?, ?, ?, ?)",
                (workflow_id, key, value, writer, time.time()),
            )

    def request_approval(self, approval: Approval) -> Approval:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO wb_approvals VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                approval_row(approval),
            )
        stored = self.get_approval(approval.id)
        assert stored is not None
        return stored

    def get_approval(self, approval_id: str) -> Approval | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM wb_approvals WHERE id = ?", (approval_id,)
            ).fetchone()
        return None if row is None else Approval(*row)

    def decide_approval(
        self, approval_id: str, *, approved: bool, decided_by: str | None, reason: str | None
    ) -> Approval | None:
        now = time.time()
        with self._lock:
            self._conn.execute(
                "UPDATE wb_approvals SET status = ?, decided_by = ?, decision_reason = ?,"
                " decided_at = ? WHERE id = ? AND status = 'pending' AND deadline >= ?",
                ("approved" if approved else "denied", decided_by, reason, now, approval_id, now),
            )
        return self.get_approval(approval_id)

    def approvals(self, *, status: ApprovalStatus | None = None) -> list[Approval]:
        query = "SELECT * FROM wb_approvals"
        params: tuple[str, ...] = ()
        if status is not None:
            query, params = query + " WHERE status = ?", (status,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY created_at, id", params).fetchall()
        return [Approval(*r) for r in rows]

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


class MemoryJournal(EffectJournal):
    """The journal of an in-memory runtime (``Runtime(durable=False)``): plain dicts.

    Same answers as :class:`SqliteJournal` on ``:memory:``, without an SQL statement, a
    JSON encoding and a JSON decoding per call. Entries and metas are kept as given:
    the runtime builds a fresh, JSON-shaped payload for every entry and never changes
    one afterwards, so nothing needs copying. Not durable, by design: it lives and dies
    with the runtime, as its checkpoints do.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, dict[tuple[int, int], JournalEntry]] = {}
        self._metas: dict[str, ExecutionMeta] = {}
        self._stops: set[str] = set()
        self._scratchpads: dict[str, dict[str, str]] = {}
        self._approvals: dict[str, Approval] = {}

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.setdefault(entry.execution_id, {})[(entry.step, entry.call_index)] = entry

    def get(self, execution_id: str, step: int, call_index: int) -> JournalEntry | None:
        entries = self._entries.get(execution_id)
        return None if entries is None else entries.get((step, call_index))

    def entries(self, execution_id: str) -> list[JournalEntry]:
        with self._lock:
            entries = self._entries.get(execution_id)
            return [] if entries is None else [entries[key] for key in sorted(entries)]

    def save_meta(self, meta: ExecutionMeta) -> None:
        with self._lock:
            self._metas.setdefault(meta.execution_id, meta)

    def load_meta(self, execution_id: str) -> ExecutionMeta | None:
        return self._metas.get(execution_id)

    def request_stop(self, execution_id: str) -> None:
        with self._lock:
            if execution_id in self._metas:  # as the SQL UPDATE: only a known execution
                self._stops.add(execution_id)

    def stop_requested(self, execution_id: str) -> bool:
        return execution_id in self._stops

    def scratchpad(self, workflow_id: str) -> dict[str, str]:
        with self._lock:
            pad = self._scratchpads.get(workflow_id, {})
            return {key: pad[key] for key in sorted(pad)}

    def scratchpad_put(self, workflow_id: str, key: str, value: str, *, writer: str) -> None:
        with self._lock:
            self._scratchpads.setdefault(workflow_id, {})[key] = value

    def request_approval(self, approval: Approval) -> Approval:
        with self._lock:
            return self._approvals.setdefault(approval.id, approval)

    def get_approval(self, approval_id: str) -> Approval | None:
        return self._approvals.get(approval_id)

    def decide_approval(
        self, approval_id: str, *, approved: bool, decided_by: str | None, reason: str | None
    ) -> Approval | None:
        now = time.time()
        with self._lock:
            stored = self._approvals.get(approval_id)
            if stored is not None and stored.status == "pending" and stored.deadline >= now:
                stored = self._approvals[approval_id] = dataclasses.replace(
                    stored,
                    status="approved" if approved else "denied",
                    decided_by=decided_by,
                    decision_reason=reason,
                    decided_at=now,
                )
            return stored

    def approvals(self, *, status: ApprovalStatus | None = None) -> list[Approval]:
        with self._lock:
            chosen = [a for a in self._approvals.values() if status is None or a.status == status]
        return sorted(chosen, key=lambda a: (a.created_at, a.id))

    def close(self) -> None:
        """Nothing to close; kept for the runtime's ``close``."""


def approval_row(a: Approval) -> tuple[Any, ...]:
    """An approval as the values of one ``wb_approvals`` row, in column order (every journal)."""
    return (
        a.id,
        a.execution_id,
        a.step,
        a.call_index,
        a.tool,
        a.arguments,
        a.reason,
        a.principal,
        a.created_at,
        a.deadline,
        a.status,
        a.decided_by,
        a.decision_reason,
        a.decided_at,
    )
