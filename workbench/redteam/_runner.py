"""Run a red-team suite: every (version, sample, epoch) on the red-team runtime.

A thin layer on the eval runner's public seams: each unit goes through
:func:`workbench.evals.arun_sample` (same scoring, same ``eval_samples`` rows, same
execution ids), on a :class:`RedteamRuntime` (gateway guard, auto-decided approval
gates), with the sample's injection bound to its execution id. The run's states go to
``eval_runs``, so ``workbench runs list`` shows it. There is no resume: a red-team run
is short (scripted models) and is simply run again.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workbench._util import run_sync
from workbench.errors import EvalError
from workbench.evals import (
    EVAL_RUNS,
    EVAL_SAMPLES,
    EvalRun,
    Sample,
    arun_sample,
    build_scorer,
    new_run_id,
    sample_execution_id,
)
from workbench.evals._records import SafetyLookup
from workbench.redteam._desk import Injection, bind_injection
from workbench.redteam._result import RedteamRun
from workbench.redteam._runtime import RedteamRuntime
from workbench.redteam._suite import RedteamSuite
from workbench.settings import Settings, get_settings
from workbench.tracing import TraceStore, get_tracer, tracer_for

__all__ = ["arun_redteam", "run_redteam"]


def _load(suite: RedteamSuite | Path | str, model: str | None) -> RedteamSuite:
    loaded = suite if isinstance(suite, RedteamSuite) else RedteamSuite.from_yaml(suite)
    if not isinstance(loaded, RedteamSuite):  # pragma: no cover - from_yaml builds cls
        raise EvalError(f"{suite} did not load as a red-team suite")
    return loaded.model_copy(update={"model": model}) if model is not None else loaded


async def arun_redteam(
    suite: RedteamSuite | Path | str,
    *,
    model: str | None = None,
    settings: Settings | None = None,
    versions: Sequence[str] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_sample: Callable[[dict[str, Any]], None] | None = None,
) -> RedteamRun:
    """Run a red-team suite and return the run with its red-team view and gate.

    Args:
        suite: A :class:`RedteamSuite` or the path of its YAML file.
        model: Run every version on this litellm model (overrides the suite's ``model``).
        settings: Where state lives; from the environment if omitted.
        versions: Run only these version labels (default: all).
        on_start: Called with the run id before any sample runs.
        on_sample: Called with each finished sample's row.

    Returns:
        The finished run.

    Raises:
        SuiteInvalid: The suite, its dataset or an agent spec is invalid.
        EvalError: A version label is unknown.
    """
    red = _load(suite, model)
    env = settings or get_settings()
    tracer = get_tracer() if settings is None else tracer_for(env.spool_dir)
    store = TraceStore(env.trace_store_path, spool_dir=env.spool_dir)
    labels = list(versions) if versions is not None else list(red.versions)
    unknown = [v for v in labels if v not in red.versions]
    if unknown:
        raise EvalError(f"suite {red.name} has no version {unknown[0]!r}")
    specs = {k: v for k, v in red.agent_specs().items() if k in labels}
    samples = red.samples()
    scorers = [build_scorer(spec) for spec in red.scorers]
    run_id = new_run_id()
    started = time.time()
    planned = len(samples) * len(labels) * red.epochs

    def record_run(status: str, **extra: Any) -> None:
        tracer.record(
            EVAL_RUNS,
            {
                "run_id": run_id,
                "suite": red.name,
                "suite_path": str(red.source) if red.source else None,
                "kind": "redteam",
                "model": red.model,
                "approvals": red.approvals,
                "status": status,
                "versions": {
                    label: {"agent_name": s.name, "agent_version": s.version, "model": s.model}
                    for label, s in specs.items()
                },
                "samples_planned": planned,
                "epochs": red.epochs,
                "at": time.time(),
                "started": started,
                **extra,
            },
        )

    record_run("running")
    if on_start is not None:
        on_start(run_id)
    if "litellm" not in sys.modules:
        await asyncio.to_thread(importlib.import_module, "litellm")
    runtime = RedteamRuntime(env, tracer=tracer, durable=False, approvals=red.approvals)
    safety = SafetyLookup(store)
    limit = asyncio.Semaphore(red.concurrency)
    spent = 0.0

    async def one(label: str, sample: Sample, epoch: int) -> None:
        nonlocal spent
        async with limit:
            execution_id = sample_execution_id(run_id, label, sample.id, epoch)
            with bind_injection(execution_id, Injection.from_metadata(sample.metadata)):
                result = await arun_sample(
                    runtime,
                    specs[label],
                    sample,
                    run_id=run_id,
                    suite=red.name,
                    version=label,
                    epoch=epoch,
                    scorers=scorers,
                    timeout_s=red.sample_timeout_s,
                    principal=red.principal,
                    safety_lookup=safety.get,
                )
            tracer.record(EVAL_SAMPLES, result.row)
            spent += result.spent_usd
            if on_sample is not None:
                on_sample(result.row)

    units = [(label, s, e) for e in range(red.epochs) for s in samples for label in labels]
    try:
        await asyncio.gather(*(one(*unit) for unit in units))
    except BaseException as exc:
        record_run("failed", error=repr(exc))
        await asyncio.to_thread(tracer.flush)
        raise
    finally:
        runtime.close()
    await asyncio.to_thread(tracer.flush)
    info = {
        "status": "completed",
        "samples_planned": planned,
        "done_now": planned,
        "done_before": 0,
        "spent_usd": spent,
    }
    run = RedteamRun(EvalRun(run_id, red, store, info), red)
    gated = red.gate is not None and {red.gate.baseline, red.gate.candidate} <= set(labels)
    verdict = await asyncio.to_thread(run.gate) if gated else None
    gate = (
        {} if verdict is None else {"gate_passed": verdict.passed, "gate_reasons": verdict.reasons}
    )
    run.eval.info.update(gate)
    record_run("completed", finished_at=time.time(), spent_usd=spent, **gate)
    await asyncio.to_thread(tracer.flush)
    return run


def run_redteam(
    suite: RedteamSuite | Path | str,
    *,
    model: str | None = None,
    settings: Settings | None = None,
    versions: Sequence[str] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_sample: Callable[[dict[str, Any]], None] | None = None,
) -> RedteamRun:
    """Sync wrapper of :func:`arun_redteam`; works inside a running event loop (Jupyter)."""
    return run_sync(
        arun_redteam(
            suite,
            model=model,
            settings=settings,
            versions=versions,
            on_start=on_start,
            on_sample=on_sample,
        )
    )
