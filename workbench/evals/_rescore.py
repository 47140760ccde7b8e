"""Re-scoring a recorded run from its log, without running any agent again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from workbench._util import run_sync
from workbench.evals._records import (
    EVAL_RUNS,
    EVAL_SAMPLES,
    SafetyLookup,
    load_run_state,
    load_sample_rows,
)
from workbench.evals._result import EvalRun
from workbench.evals._sample import sample_row, score_outcome
from workbench.evals._suite import Sample, ScorerSpec, Suite
from workbench.evals.scorers import SampleOutcome, Score, Scorer, ToolCall, build_scorer
from workbench.tracing import TraceStore, get_tracer

__all__ = ["arescore", "recorded_scorers", "rescore", "tool_calls_from_spans"]


def recorded_scorers(rows: Sequence[dict[str, Any]]) -> list[Scorer]:
    """Rebuild the scorers a run used from the name and arguments stamped on its scores."""
    seen: dict[str, Scorer] = {}
    for row in rows:
        for key, score in (row.get("scores") or {}).items():
            if key == "judge" or key in seen:
                continue
            spec = ScorerSpec(
                name=score["scorer"],
                args=score.get("args") or {},
                metric=None if key == score["scorer"] else key,
            )
            seen[key] = build_scorer(spec)
    return list(seen.values())


def tool_calls_from_spans(store: TraceStore, execution_id: str) -> list[ToolCall]:
    """The tool calls of an execution read from its ``TOOL`` spans (for rows recorded
    without ``tool_calls``)."""
    frame = store.sql(
        "SELECT tool_name, attributes ->> '$.\"tool.parameters\"' AS args, step, error_type"
        " FROM spans WHERE kind = 'TOOL' AND execution_id = ? ORDER BY start_time",
        [execution_id],
    )
    return [
        ToolCall.parse(str(name), args, int(step or 0), error)
        for name, args, step, error in frame.itertuples(index=False)
    ]


def _outcome(row: dict[str, Any], store: TraceStore, safety: SafetyLookup) -> SampleOutcome:
    execution_id = row.get("execution_id")
    if "tool_calls" in row:
        calls = [ToolCall.from_dict(c) for c in row["tool_calls"] or []]
    else:
        calls = tool_calls_from_spans(store, execution_id) if execution_id else []

    async def lookup() -> list[dict[str, Any]]:
        return await safety.get(execution_id) if execution_id else []

    return SampleOutcome(
        sample=Sample(
            id=row["sample_id"],
            input=row["input"],
            target=row.get("target"),
            metadata=row.get("metadata") or {},
        ),
        version=row["version"],
        answer=row.get("answer"),
        status=row["status"],
        error=row.get("error"),
        execution_id=execution_id,
        cost_usd=float(row.get("cost_usd") or 0.0),
        tokens=int(row.get("tokens") or 0),
        latency_ms=float(row.get("latency_ms") or 0.0),
        tool_calls=calls,
        safety_lookup=lookup,
    )


async def arescore(
    run_id: str,
    scorers: Sequence[ScorerSpec | Scorer | str] | None = None,
    *,
    store: TraceStore | None = None,
) -> EvalRun:
    """Score a recorded run again and record the result as a new run.

    The agents do not run again: answers, tool calls, cost and latency come from the
    run's ``eval_samples`` rows (tool calls from its spans for rows without them). The
    judge's verdicts are kept as recorded.

    Args:
        run_id: The recorded run.
        scorers: Specs, built scorers or names; default the scorers recorded with the run
            (their names and arguments are stamped on every score).
        store: The trace store; the current settings' store if omitted.

    Returns:
        The new run (``<run_id>-rescored-<hex>``; ``rescored_from`` in its ``eval_runs``
        row).

    Raises:
        RunNotFound: No run has that id.
        SuiteInvalid: A scorer is unknown or has bad arguments.
    """
    store = store or TraceStore()
    state = await asyncio.to_thread(load_run_state, store, run_id)
    rows = await asyncio.to_thread(load_sample_rows, store, run_id)
    if scorers is None:
        built = recorded_scorers(rows)
    else:
        built = [s if isinstance(s, Scorer) else build_scorer(s) for s in scorers]
    suite_path = state["row"].get("suite_path")
    suite = Suite.from_yaml(suite_path)
    new_id = f"{run_id}-rescored-{uuid.uuid4().hex[:6]}"
    tracer = get_tracer()
    safety = SafetyLookup(store)

    async def one(row: dict[str, Any]) -> None:
        outcome = await asyncio.to_thread(_outcome, row, store, safety)
        scores: dict[str, Score] = await score_outcome(outcome, built)
        old_judge = (row.get("scores") or {}).get("judge")
        if old_judge is not None:
            scores["judge"] = Score.model_validate(old_judge)
        new_row = sample_row(
            outcome,
            scores,
            row.get("judge"),
            run_id=new_id,
            suite=row["suite"],
            agent_name=row["agent_name"],
            agent_version=row["agent_version"],
            epoch=int(row["epoch"]),
        )
        tracer.record(EVAL_SAMPLES, new_row)

    await asyncio.gather(*(one(r) for r in rows))
    tracer.record(
        EVAL_RUNS,
        {
            **{k: v for k, v in state["row"].items() if not k.startswith("gate")},
            "run_id": new_id,
            "status": "completed",
            "rescored_from": run_id,
            "scorers": [{"name": s.name, "args": s.args, "metric": s.key} for s in built],
        },
    )
    await asyncio.to_thread(tracer.flush)
    return EvalRun(new_id, suite, store, {"status": "completed", "rescored_from": run_id})


def rescore(
    run_id: str,
    scorers: Sequence[ScorerSpec | Scorer | str] | None = None,
    *,
    store: TraceStore | None = None,
) -> EvalRun:
    """Sync wrapper of :func:`arescore`; works inside a running event loop."""
    return run_sync(arescore(run_id, scorers, store=store))
