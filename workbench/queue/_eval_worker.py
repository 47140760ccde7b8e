"""The worker's side of an ``eval_sample`` job: run, score and record one unit of an eval run.

The job carries the suite (its ``kind`` picks the suite class), the version's agent spec
and the sample; the worker runs the unit as the in-process runner does
(:func:`~workbench.evals.arun_sample` on the suite's runtime, inside the suite's sample
context), records the ``eval_samples`` row and seals it in the spool before the job
counts as completed. A redelivered unit (its worker died) whose row is already in the
trace store is not run again: each unit is finished once.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
from dataclasses import dataclass
from typing import Any

from workbench.evals import (
    EVAL_SAMPLES,
    GroupCommit,
    RubricJudge,
    SafetyLookup,
    Sample,
    SampleUnit,
    Scorer,
    Suite,
    arun_sample,
    check_scorer_specs,
    suite_class,
)
from workbench.queue._job import EvalUnit, Job
from workbench.runtime import AgentSpec, Runtime
from workbench.settings import Settings
from workbench.tracing import TraceStore, tracer_for

__all__ = ["EvalSampleRunner"]

_RECYCLE_EVERY = 2000
"""Units one runtime serves before a fresh one takes over (in-memory checkpoints of
finished executions go with it, so a long-lived worker stays flat in memory)."""


@dataclass
class _Loaded:
    suite: Suite
    scorers: list[Scorer]
    judge: tuple[Any, Any] | None


@dataclass
class _Slot:
    runtime: Runtime
    served: int = 0
    users: int = 0


class EvalSampleRunner:
    """Runs ``eval_sample`` jobs for one :class:`~workbench.queue.Worker`.

    Args:
        settings: The worker's home: its spool is where rows land, its trace store where
            safety events and already-finished units are looked up.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tracer = tracer_for(settings.spool_dir)
        self.store = TraceStore(settings.trace_store_path, spool_dir=settings.spool_dir)
        self._suites: dict[str, _Loaded] = {}
        self._slots: dict[tuple[str, bool], _Slot] = {}
        self._commit: GroupCommit | None = None
        self._safety: SafetyLookup | None = None

    def _load(self, unit: EvalUnit) -> tuple[str, _Loaded]:
        digest = hashlib.sha256(
            json.dumps([unit.suite, unit.suite_source], sort_keys=True).encode()
        ).hexdigest()
        loaded = self._suites.get(digest)
        if loaded is None:
            source = unit.suite_source or str(unit.suite.get("name"))
            cls = suite_class(str(unit.suite.get("kind", "eval")), source=source)
            suite = cls.model_validate({**unit.suite, "source": unit.suite_source})
            judge = None
            if suite.judge is not None:
                for module in suite.judge.imports:
                    importlib.import_module(module)
                spec = suite.judge
                judge = (
                    RubricJudge(spec.model, spec.rubric, pass_threshold=spec.pass_threshold),
                    spec,
                )
            loaded = _Loaded(suite, check_scorer_specs(suite.scorers, source=source), judge)
            self._suites[digest] = loaded
        return digest, loaded

    def _take(self, key: tuple[str, bool], suite: Suite) -> _Slot:
        slot = self._slots.get(key)
        if slot is None or slot.served >= _RECYCLE_EVERY:
            if slot is not None and slot.users == 0:
                slot.runtime.close()
            slot = _Slot(suite.make_runtime(self.settings, tracer=self.tracer, durable=key[1]))
            self._slots[key] = slot
        slot.served += 1
        slot.users += 1
        return slot

    def _give_back(self, key: tuple[str, bool], slot: _Slot) -> None:
        slot.users -= 1
        if slot.users == 0 and self._slots.get(key) is not slot:
            slot.runtime.close()

    def _finished_row(self, unit: EvalUnit, sample_id: str) -> dict[str, Any] | None:
        frame = self.store.sql(
            "SELECT row FROM eval_samples WHERE run_id = ? AND version = ? AND sample_id = ?"
            " AND epoch = ? ORDER BY recorded_at DESC LIMIT 1",
            [unit.run_id, unit.version, sample_id, unit.epoch],
        )
        if frame.empty:
            return None
        row = frame["row"].iloc[0]
        found: dict[str, Any] = json.loads(row) if isinstance(row, str) else row
        return found

    async def arun(self, job: Job, *, redelivered: bool) -> dict[str, Any]:
        """Run one ``eval_sample`` job and return the summary the runner reads.

        Args:
            job: The job (``kind="eval_sample"``).
            redelivered: Not the job's first delivery: a unit whose row is already in
                the trace store is reported without running again.

        Returns:
            ``{"status", "spent_usd", "rate_limited", "execution_id", "reused"}``.
        """
        unit = job.eval
        assert unit is not None, "not an eval_sample job"
        if self._commit is None:
            self._commit = GroupCommit(self.tracer)
            self._safety = SafetyLookup(self.store)
        assert self._safety is not None
        digest, loaded = self._load(unit)
        sample = Sample.model_validate(unit.sample)
        if redelivered:
            row = await asyncio.to_thread(self._finished_row, unit, sample.id)
            if row is not None:
                judge = row.get("judge") or {}
                return {
                    "status": row["status"],
                    "spent_usd": float(row.get("cost_usd") or 0.0)
                    + float(judge.get("cost_usd") or 0.0),
                    "rate_limited": False,
                    "execution_id": row.get("execution_id"),
                    "reused": True,
                }
        suite = loaded.suite
        key = (digest, unit.durable)
        slot = self._take(key, suite)
        seam = SampleUnit(
            unit.run_id, suite.name, unit.version, sample, unit.epoch, job.execution_id
        )
        try:
            with suite.sample_context(seam):
                result = await arun_sample(
                    slot.runtime,
                    AgentSpec.model_validate(job.spec),
                    sample,
                    run_id=unit.run_id,
                    suite=suite.name,
                    version=unit.version,
                    epoch=unit.epoch,
                    scorers=loaded.scorers,
                    judge=loaded.judge,
                    timeout_s=suite.sample_timeout_s,
                    principal=job.principal,
                    safety_lookup=self._safety.get,
                )
        finally:
            self._give_back(key, slot)
        self.tracer.record(EVAL_SAMPLES, result.row)
        await self._commit.commit()  # sealed before the job counts as completed
        return {
            "status": result.row["status"],
            "spent_usd": result.spent_usd,
            "rate_limited": result.rate_limited,
            "execution_id": job.execution_id,
            "reused": False,
        }

    async def aclose(self) -> None:
        """Close the runtimes."""
        for slot in self._slots.values():
            await slot.runtime.aclose()
        self._slots.clear()
