"""Runs units of an eval run in this process: the one code path of a unit.

:class:`UnitExecutor` takes a runtime, runs the unit with :func:`arun_sample` inside the
suite's sample context, records the ``eval_samples`` row and seals it in the spool
(group commit) before the unit counts as done. The runner uses it in its own process
(``workers: 1``) and every worker process of ``workers: N`` uses it too, so both
record the same rows the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.evals._records import EVAL_SAMPLES, GroupCommit, SafetyLookup
from workbench.evals._sample import Grader, SampleRun, arun_sample, sample_execution_id
from workbench.evals._suite import RuntimeFactory, Sample, SampleHook, SampleUnit, Suite
from workbench.evals.scorers import Scorer
from workbench.runtime import AgentSpec, Runtime
from workbench.settings import Settings
from workbench.tracing import Tracer, TraceStore

__all__ = ["RECYCLE_EVERY", "Runtimes", "Unit", "UnitExecutor", "make_judge"]

RECYCLE_EVERY = 2000
"""Samples served by one runtime before a fresh one takes over (in-memory checkpoints
of finished executions are freed with it, so memory stays flat over long runs)."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One (version, sample, epoch) of a run."""

    version: str
    sample: Sample
    epoch: int

    @property
    def key(self) -> tuple[str, str, int]:
        """``(version, sample_id, epoch)``: how the store and resume name the unit."""
        return (self.version, self.sample.id, self.epoch)

    def seam(self, run_id: str, suite: str) -> SampleUnit:
        """The unit as the runner's seams see it (with its execution id in ``run_id``)."""
        return SampleUnit(
            run_id,
            suite,
            self.version,
            self.sample,
            self.epoch,
            sample_execution_id(run_id, self.version, self.sample.id, self.epoch),
        )


class Runtimes:
    """Hands out a runtime; retires it after :data:`RECYCLE_EVERY` samples, closing it
    once its last sample is done."""

    def __init__(
        self, settings: Settings, tracer: Tracer, durable: bool, factory: RuntimeFactory
    ) -> None:
        self._settings, self._tracer, self._durable = settings, tracer, durable
        self._factory = factory
        self._current = self._new()
        self._served = 0
        self._users: dict[int, int] = {}

    def _new(self) -> Runtime:
        return self._factory(self._settings, tracer=self._tracer, durable=self._durable)

    def take(self) -> Runtime:
        """A runtime for one sample; give it back with :meth:`give_back`."""
        if self._served >= RECYCLE_EVERY:
            old = self._current
            self._current, self._served = self._new(), 0
            if not self._users.get(id(old)):
                old.close()
        self._served += 1
        runtime = self._current
        self._users[id(runtime)] = self._users.get(id(runtime), 0) + 1
        return runtime

    def give_back(self, runtime: Runtime) -> None:
        """The sample is done with ``runtime``."""
        left = self._users[id(runtime)] - 1
        if left:
            self._users[id(runtime)] = left
            return
        del self._users[id(runtime)]
        if runtime is not self._current:
            runtime.close()

    def close(self) -> None:
        """Close the current runtime."""
        self._current.close()


def make_judge(suite: Suite) -> tuple[Grader, Any] | None:
    """The suite's judge and its spec (its ``imports`` imported first), if it has one."""
    spec = suite.judge
    if spec is None:
        return None
    from workbench.evals._judge import RubricJudge

    for module in spec.imports:
        importlib.import_module(module)
    judge = RubricJudge(spec.model, spec.rubric, pass_threshold=spec.pass_threshold)
    return judge, spec


class UnitExecutor:
    """Runs, scores and records units of one run in this process.

    Args:
        suite: The run's suite.
        run_id: The run.
        settings: Where state lives.
        tracer: Where rows and spans go.
        store: Where safety events are looked up.
        durable: Checkpoint executions to disk.
        specs: Agent spec of every version label that runs.
        scorers: The suite's scorers, checked.
        judge: The suite's judge (see :func:`make_judge`).
        runtime_factory: Builds the runtimes samples run on.
        on_sample: Wraps each unit's execution.
    """

    def __init__(
        self,
        suite: Suite,
        *,
        run_id: str,
        settings: Settings,
        tracer: Tracer,
        store: TraceStore,
        durable: bool,
        specs: dict[str, AgentSpec],
        scorers: Sequence[Scorer],
        judge: tuple[Grader, Any] | None,
        runtime_factory: RuntimeFactory,
        on_sample: SampleHook,
    ) -> None:
        self.suite, self.run_id, self.specs = suite, run_id, specs
        self.tracer = tracer
        self.scorers, self.judge = list(scorers), judge
        self.on_sample = on_sample
        self.commit = GroupCommit(tracer)
        self.safety = SafetyLookup(store)
        self.runtimes = Runtimes(settings, tracer, durable, runtime_factory)

    async def run(self, unit: Unit, *, on_rate_limited: Callable[[], None]) -> SampleRun:
        """Run one unit; its row is recorded and sealed when this returns.

        A failure of the sample is its row's status; an exception here (a broken sample
        context, the spool) is a failure of the run.
        """
        runtime = self.runtimes.take()
        try:
            with self.on_sample(unit.seam(self.run_id, self.suite.name)):
                result = await arun_sample(
                    runtime,
                    self.specs[unit.version],
                    unit.sample,
                    run_id=self.run_id,
                    suite=self.suite.name,
                    version=unit.version,
                    epoch=unit.epoch,
                    scorers=self.scorers,
                    judge=self.judge,
                    timeout_s=self.suite.sample_timeout_s,
                    principal=self.suite.principal,
                    safety_lookup=self.safety.get,
                    on_rate_limited=on_rate_limited,
                )
            self.tracer.record(EVAL_SAMPLES, result.row)
            await self.commit.commit()
            return result
        finally:
            self.runtimes.give_back(runtime)

    def close(self) -> None:
        """Close the runtimes."""
        self.runtimes.close()
