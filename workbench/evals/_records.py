"""Eval rows in the trace store: writing them durably, reading them back.

Sample results go to the ``eval_samples`` table and run states to ``eval_runs``
through the tracer (``tracer.record``); the store's views of the same names read them
(``workbench/tracing/_schema.py``). :class:`GroupCommit` makes a row durable (sealed in
the spool) before the runner counts its sample as done, with one flush for every
sample that finished meanwhile, so a SIGKILL loses at most the samples in flight.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from workbench._util import GroupCommit
from workbench.errors import RunNotFound
from workbench.tracing import TraceStore

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__all__ = [
    "EVAL_RUNS",
    "EVAL_SAMPLES",
    "GroupCommit",
    "SafetyLookup",
    "finished_keys",
    "list_runs",
    "load_run_state",
    "load_sample_rows",
    "recorded_units",
]

EVAL_SAMPLES = "eval_samples"
"""``records.table_name`` of per-sample results (and the name of their view)."""
EVAL_RUNS = "eval_runs"
"""``records.table_name`` of run states (and the name of their view)."""


class SafetyLookup:
    """Looks up ``safety_events`` rows by execution id, many executions per store query.

    Scorers ask for one execution at a time; requests arriving within ``window_s`` of
    each other share one query (a store query takes a file lock and opens DuckDB).
    """

    def __init__(self, store: TraceStore, *, window_s: float = 0.05) -> None:
        self._store = store
        self._window = window_s
        self._pending: dict[str, list[asyncio.Future[list[dict[str, Any]]]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, execution_id: str) -> list[dict[str, Any]]:
        """The safety events of ``execution_id`` (newest first)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        self._pending.setdefault(execution_id, []).append(future)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        await asyncio.sleep(self._window)
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                found = await asyncio.to_thread(self._query, list(batch))
            except Exception as exc:
                for futures in batch.values():
                    for f in futures:
                        if not f.done():
                            f.set_exception(exc)
                continue
            for execution_id, futures in batch.items():
                for f in futures:
                    if not f.done():
                        f.set_result(found.get(execution_id, []))

    def _query(self, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        frame = self._store.sql(
            "SELECT execution_id, kind, rule, severity, action, tool, excerpt FROM safety_events"
            " WHERE list_contains(?, execution_id) ORDER BY recorded_at DESC",
            [ids],
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for record in frame.to_dict(orient="records"):
            out.setdefault(str(record["execution_id"]), []).append(record)
        return out


def finished_keys(store: TraceStore, run_id: str) -> dict[tuple[str, str, int], float]:
    """``(version, sample_id, epoch) -> cost_usd`` of every sample of the run in the store."""
    frame = store.sql(
        "SELECT version, sample_id, epoch, cost_usd, judge FROM eval_samples WHERE run_id = ?",
        [run_id],
    )
    out: dict[tuple[str, str, int], float] = {}
    for version, sample_id, epoch, cost, judge in frame.itertuples(index=False):
        spent = float(cost or 0.0)
        if isinstance(judge, str) and judge not in ("", "null"):
            spent += float(json.loads(judge).get("cost_usd") or 0.0)
        out[(str(version), str(sample_id), int(epoch))] = spent
    return out


def recorded_units(store: TraceStore, run_id: str) -> dict[tuple[str, str, int], tuple[str, float]]:
    """``(version, sample_id, epoch) -> (status, USD)`` of every sample of the run in the
    store (USD is agent plus judge, as :func:`finished_keys` counts it)."""
    frame = store.sql(
        "SELECT version, sample_id, epoch, status, cost_usd, judge FROM eval_samples"
        " WHERE run_id = ?",
        [run_id],
    )
    out: dict[tuple[str, str, int], tuple[str, float]] = {}
    for version, sample_id, epoch, status, cost, judge in frame.itertuples(index=False):
        spent = float(cost or 0.0)
        if isinstance(judge, str) and judge not in ("", "null"):
            spent += float(json.loads(judge).get("cost_usd") or 0.0)
        out[(str(version), str(sample_id), int(epoch))] = (str(status), spent)
    return out


def load_run_state(store: TraceStore, run_id: str) -> dict[str, Any]:
    """The latest ``eval_runs`` row of a run, with its progress columns.

    Raises:
        RunNotFound: No run has that id in this store.
    """
    frame = store.sql("SELECT * FROM eval_runs WHERE run_id = ?", [run_id])
    if frame.empty:
        raise RunNotFound(f"no eval run {run_id!r} in {store.path}")
    record: dict[str, Any] = frame.iloc[0].to_dict()
    last = record.pop("last_row", None)
    record["row"] = json.loads(last) if isinstance(last, str) else (last or {})
    return record


def load_sample_rows(store: TraceStore, run_id: str) -> list[dict[str, Any]]:
    """Every stored sample row of a run (the JSON objects as recorded), oldest first."""
    frame = store.sql(
        "SELECT row FROM eval_samples WHERE run_id = ? ORDER BY recorded_at", [run_id]
    )
    return [json.loads(r) if isinstance(r, str) else r for r in frame["row"]]


def list_runs(store: TraceStore, *, limit: int = 50) -> pd.DataFrame:
    """The newest runs of the ``eval_runs`` view (without the raw row)."""
    return store.sql(
        "SELECT run_id, suite, status, started_at, updated_at, samples_planned, samples_done,"
        " cost_usd, forecast_usd, gate_passed, error FROM eval_runs"
        " ORDER BY started_at DESC LIMIT ?",
        [limit],
    )
