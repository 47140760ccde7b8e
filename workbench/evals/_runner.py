"""The eval runner: every (version, sample, epoch) of a suite, concurrently, resumably.

- Concurrency: an :class:`AdaptiveLimiter` (AIMD) starting at the suite's
  ``concurrency``: halved on a 429, grown back by one per window of successes.
- Persistence: each sample's row is recorded and sealed in the spool (group commit)
  as it finishes; the run's state goes to ``eval_runs`` at start and end.
- Resume: given a ``run_id``, units already in the store are not run again, whether
  the run crashed, was SIGKILLed or cancelled.
- Cost: a forecast from the first ``forecast_samples`` units (run first, before the
  rest, when the suite has a cap) stops the run before spending when it is over the
  cap; the cap is also enforced as samples finish.
- Seams: each sample runs on a runtime from ``runtime_factory`` (default: the suite's
  :meth:`~workbench.evals.Suite.make_runtime`) inside the context ``on_sample`` returns
  for its unit (default: the suite's :meth:`~workbench.evals.Suite.sample_context`);
  the red team runs on these.
- Queue: with ``queue``, each unit is a job for ``workbench worker`` processes
  (``workbench.queue``); the worker records the row, the runner waits for its units.
- Workers: with ``workers: N`` (N > 1), each unit runs in one of N local processes
  (``workbench.evals._workers``) that records its row; everything else stays here.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._util import run_sync
from workbench.errors import EvalCostCapExceeded, EvalError, EvalWorkerLost, WorkbenchError
from workbench.evals._executor import Unit, UnitExecutor, make_judge
from workbench.evals._limiter import AdaptiveLimiter
from workbench.evals._progress import Progress, ProgressMode, make_progress
from workbench.evals._records import (
    EVAL_RUNS,
    GroupCommit,
    finished_keys,
    load_run_state,
    recorded_units,
)
from workbench.evals._result import EvalRun
from workbench.evals._sample import SampleRun
from workbench.evals._suite import RuntimeFactory, SampleHook, Suite
from workbench.evals._workers import RunContext, WorkerPool, get_pool, resolve_workers
from workbench.evals.scorers import check_scorer_specs
from workbench.runtime import AgentSpec
from workbench.settings import Settings, get_settings
from workbench.tracing import TraceStore, get_tracer, tracer_for

if TYPE_CHECKING:
    from workbench.queue import QueuedSample

__all__ = ["arun_suite", "new_run_id", "run_suite"]

log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 3
"""Times a unit is handed to a worker process that then dies before the unit is lost
as a run failure (:class:`~workbench.errors.EvalWorkerLost`)."""


def new_run_id() -> str:
    """A new eval run id: sortable by time, unique across processes."""
    return f"ev-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"


@dataclass
class _State:
    run_id: str
    suite: Suite
    planned: int
    spent_usd: float = 0.0
    done_before: int = 0
    done_now: int = 0
    failed_now: int = 0
    forecast_usd: float | None = None
    pilot_costs: list[float] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)


class _Run:
    """One invocation of the runner (a new run, or one resumed)."""

    def __init__(
        self,
        suite: Suite,
        *,
        run_id: str | None,
        settings: Settings | None,
        progress: ProgressMode | Progress,
        durable: bool,
        versions: Sequence[str] | None,
        on_start: Callable[[str], None] | None = None,
        runtime_factory: RuntimeFactory | None = None,
        on_sample: SampleHook | None = None,
        queue: str | None = None,
        queue_name: str = "default",
        workers: int | str | None = None,
    ) -> None:
        self.suite = suite
        self.on_start = on_start
        self.runtime_factory = runtime_factory or suite.make_runtime
        self.on_sample = on_sample or suite.sample_context
        self.queue, self.queue_name = queue, queue_name
        self.dispatcher: Any = None
        self.workers = resolve_workers(workers, default=resolve_workers(suite.workers))
        if self.workers > 1:
            if queue is not None:
                raise EvalError("workers and queue exclude each other: the queue's workers run it")
            # In a worker process a unit runs on the suite's own seams (the suite class
            # travels); other callables do not.
            if self.runtime_factory != suite.make_runtime or self.on_sample != suite.sample_context:
                raise EvalError(
                    "with workers > 1, units run on the suite's make_runtime and sample_context;"
                    " a custom runtime_factory or on_sample cannot travel to worker processes"
                )
        self.pool: WorkerPool | None = None
        self.context: RunContext | None = None
        self.known: tuple[int, dict[tuple[str, str, int], tuple[str, float]]] | None = None
        self.known_lock = asyncio.Lock()
        self.resume = run_id is not None
        self.settings = settings or get_settings()
        self.tracer = get_tracer() if settings is None else tracer_for(self.settings.spool_dir)
        self.store = TraceStore(self.settings.trace_store_path, spool_dir=self.settings.spool_dir)
        self.run_id = run_id or new_run_id()
        self.progress = make_progress(progress) if isinstance(progress, str) else progress
        self.durable = durable
        labels = list(versions) if versions is not None else list(suite.versions)
        unknown = [v for v in labels if v not in suite.versions]
        if unknown:
            raise EvalError(f"suite {suite.name} has no version {unknown[0]!r}")
        self.labels = labels
        self.scorers = check_scorer_specs(suite.scorers, source=str(suite.source or suite.name))
        self.specs: dict[str, AgentSpec] = {
            label: spec for label, spec in suite.agent_specs().items() if label in labels
        }
        self.samples = suite.samples()
        self.judge = make_judge(suite)
        self.limiter = AdaptiveLimiter(suite.concurrency)
        self.commit = GroupCommit(self.tracer)
        self.executor: UnitExecutor | None = None

    def units(self) -> list[Unit]:
        # Versions interleaved per sample: the first samples (the forecast, a killed run)
        # cover every version.
        return [
            Unit(label, sample, epoch)
            for epoch in range(self.suite.epochs)
            for sample in self.samples
            for label in self.labels
        ]

    def record_run(self, state: _State, status: str, **extra: Any) -> None:
        self.tracer.record(
            EVAL_RUNS,
            {
                "run_id": self.run_id,
                "suite": self.suite.name,
                "suite_path": str(self.suite.source) if self.suite.source else None,
                "kind": self.suite.kind,
                **self.suite.run_facts(),
                "queue": self.queue_name if self.queue else None,
                "workers": self.workers,
                "status": status,
                "versions": {
                    label: {
                        "agent_name": s.name,
                        "agent_version": s.version,
                        "spec": str(self.suite.versions[label]),
                    }
                    for label, s in self.specs.items()
                },
                "samples_planned": state.planned,
                "epochs": self.suite.epochs,
                "cost_cap_usd": self.suite.cost_cap_usd,
                "forecast_usd": state.forecast_usd,
                "spent_usd": state.spent_usd,
                "resumed": self.resume,
                "done_before": state.done_before,
                "done_now": state.done_now,
                "concurrency": self.limiter.limit,
                "concurrency_changes": [
                    {"at": c.at, "limit": c.limit, "reason": c.reason} for c in self.limiter.history
                ],
                "at": time.time(),
                **extra,
            },
        )

    async def execute(self) -> EvalRun:
        done: dict[tuple[str, str, int], float] = {}
        if self.resume:
            previous = await asyncio.to_thread(load_run_state, self.store, self.run_id)
            if previous["suite"] != self.suite.name:
                raise EvalError(
                    f"run {self.run_id} is of suite {previous['suite']!r}, not {self.suite.name!r}"
                )
            done = await asyncio.to_thread(finished_keys, self.store, self.run_id)
        units = self.units()
        pending = [u for u in units if u.key not in done]
        state = _State(
            self.run_id,
            self.suite,
            len(units),
            spent_usd=sum(done.values()),
            done_before=len(units) - len(pending),
        )
        self.record_run(state, "running")
        await self.commit.commit()
        if self.on_start is not None:
            self.on_start(self.run_id)
        self.progress.start(len(units), state.done_before, f"{self.suite.name} {self.run_id}")
        self.progress.note(
            f"run {self.run_id}: {len(pending)} to run, {state.done_before} already done"
        )
        try:
            if self.queue is None and self.workers > 1:
                self.pool = get_pool(self.workers)
                self.context = RunContext.of(
                    run_id=self.run_id,
                    settings=self.settings,
                    suite=self.suite,
                    specs=self.specs,
                    durable=self.durable,
                )
                await self.pool.astart()  # EvalError: the run is recorded as failed
                self.progress.note(f"{len(pending)} units for {self.workers} worker processes")
            elif self.queue is None:
                if "litellm" not in sys.modules:
                    # Seconds of import: not on the first samples' latency.
                    await asyncio.to_thread(importlib.import_module, "litellm")
                self.executor = UnitExecutor(
                    self.suite,
                    run_id=self.run_id,
                    settings=self.settings,
                    tracer=self.tracer,
                    store=self.store,
                    durable=self.durable,
                    specs=self.specs,
                    scorers=self.scorers,
                    judge=self.judge,
                    runtime_factory=self.runtime_factory,
                    on_sample=self.on_sample,
                )
            if self.queue is not None:
                from workbench.queue import SampleDispatcher

                self.dispatcher = SampleDispatcher(
                    self.queue, suite=self.suite, run_id=self.run_id, name=self.queue_name
                )
                await self.dispatcher.astart()  # ServiceError: the run is recorded as failed
                self.progress.note(f"{len(pending)} units for the workers of {self.queue}")
            await self._run_units(pending, state)
        except asyncio.CancelledError:
            self.record_run(state, "cancelled")
            await asyncio.shield(asyncio.to_thread(self.tracer.flush))
            raise
        except EvalCostCapExceeded as exc:
            self.record_run(state, "cost_cap_exceeded", error=f"[{exc.code}] {exc.message}")
            await asyncio.to_thread(self.tracer.flush)
            raise
        except BaseException as exc:
            message = (
                f"[{exc.code}] {exc.message}" if isinstance(exc, WorkbenchError) else repr(exc)
            )
            self.record_run(state, "failed", error=message)
            await asyncio.to_thread(self.tracer.flush)
            raise
        finally:
            if self.executor is not None:
                self.executor.close()
            if self.pool is not None and self.context is not None:
                await asyncio.shield(self.pool.aclose_run(self.context))
            if self.dispatcher is not None:
                await self.dispatcher.aclose()
            self.progress.close()
        run = EvalRun(self.run_id, self.suite, self.store, self._info(state, "completed"))
        await asyncio.to_thread(self.tracer.flush)
        gate: dict[str, Any] = {}
        if self.suite.gate is not None and set(self.labels) >= {
            self.suite.gate.baseline,
            self.suite.gate.candidate,
        }:
            verdict = await asyncio.to_thread(self.suite.gate_verdict, run)
            if verdict is not None:
                gate = {"gate_passed": verdict.passed, "gate_reasons": verdict.reasons}
        run.info.update(gate)
        self.record_run(state, "completed", finished_at=time.time(), **gate)
        await asyncio.to_thread(self.tracer.flush)
        return run

    def _info(self, state: _State, status: str) -> dict[str, Any]:
        return {
            "status": status,
            "samples_planned": state.planned,
            "done_before": state.done_before,
            "done_now": state.done_now,
            "failed_now": state.failed_now,
            "spent_usd": state.spent_usd,
            "forecast_usd": state.forecast_usd,
            "concurrency_changes": list(self.limiter.history),
            "peak_in_flight": self.limiter.peak_in_flight,
            "workers": self.workers,
        }

    async def _run_units(self, pending: list[Unit], state: _State) -> None:
        cap = self.suite.cost_cap_usd
        pilot_n = min(self.suite.forecast_samples, len(pending))
        if cap is not None and pilot_n:
            # Forecast before spending: the pilot runs alone, then the cap is checked.
            await self._run_batch(pending[:pilot_n], state)
            pending = pending[pilot_n:]
            self._forecast(state, remaining=len(pending))
        await self._run_batch(pending, state)

    def _forecast(self, state: _State, *, remaining: int) -> None:
        if state.forecast_usd is not None or not state.pilot_costs:
            return
        per_sample = sum(state.pilot_costs) / len(state.pilot_costs)
        state.forecast_usd = state.spent_usd + per_sample * remaining
        cap = self.suite.cost_cap_usd
        self.progress.note(
            f"cost forecast ${state.forecast_usd:.6f} for {state.planned} samples"
            f" (${per_sample:.6f} each from the first {len(state.pilot_costs)})"
            + (f"; cap ${cap:.6f}" if cap is not None else "")
        )
        self.record_run(state, "running")
        if cap is not None and state.forecast_usd > cap:
            raise EvalCostCapExceeded(
                f"forecast ${state.forecast_usd:.6f} for the run's {state.planned} samples"
                f" exceeds cost_cap_usd ${cap:.6f} (${per_sample:.6f} a sample over the first"
                f" {len(state.pilot_costs)}); stopped before spending more. Raise the cap"
                f" and resume with --resume {self.run_id}"
            )

    async def _run_batch(self, units: list[Unit], state: _State) -> None:
        tasks: set[asyncio.Task[None]] = set()
        failure: list[BaseException] = []
        loop = asyncio.get_running_loop()

        def on_rate_limited() -> None:
            loop.call_soon_threadsafe(self.limiter.note_rate_limited)

        async def one(unit: Unit) -> None:
            rate_limited = False
            try:
                done: SampleRun | QueuedSample
                if self.dispatcher is not None:
                    # A worker runs it and records its row; we learn its cost and status.
                    done = await self.dispatcher.arun(
                        unit.seam(self.run_id, self.suite.name),
                        self.specs[unit.version],
                        durable=self.durable,
                    )
                elif self.pool is not None:
                    # A worker process runs it and records its row.
                    done = await self._in_worker(unit, on_rate_limited)
                else:
                    assert self.executor is not None
                    done = await self.executor.run(unit, on_rate_limited=on_rate_limited)
                rate_limited = done.rate_limited
                self._finished(done, state)
            except BaseException as exc:
                if not isinstance(exc, asyncio.CancelledError):
                    failure.append(exc)
                raise
            finally:
                await self.limiter.release(rate_limited=rate_limited)

        try:
            for unit in units:
                if failure:
                    break
                await self.limiter.acquire()
                if failure:
                    await self.limiter.release()
                    break
                task = asyncio.create_task(one(unit))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            while tasks and not failure:
                await asyncio.wait(set(tasks), return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        if failure:
            raise failure[0]

    async def _in_worker(self, unit: Unit, on_rate_limited: Callable[[], None]) -> QueuedSample:
        """Run a unit in a worker process; when the process dies with it, run it again
        unless its row was sealed before the process died (exactly once either way)."""
        from workbench.queue import QueuedSample

        assert self.pool is not None
        assert self.context is not None
        lost: EvalWorkerLost | None = None
        for _ in range(_MAX_ATTEMPTS):
            try:
                return await self.pool.arun(self.context, unit, on_rate_limited=on_rate_limited)
            except EvalWorkerLost as exc:
                lost = exc
            found = (await self._recorded()).get(unit.key)
            if found is not None:
                status, spent = found
                return QueuedSample(status=status, spent_usd=spent, rate_limited=False, reused=True)
            log.warning("%s; running %s/%s/%s again", lost, *unit.key)
        assert lost is not None
        raise EvalWorkerLost(
            f"unit {unit.version}/{unit.sample.id}/epoch {unit.epoch} was in flight in"
            f" {_MAX_ATTEMPTS} worker processes that died ({lost.message}); resume the run"
            f" with --resume {self.run_id} to run the rest"
        )

    async def _recorded(self) -> dict[tuple[str, str, int], tuple[str, float]]:
        """The run's sealed units, read once per worker death (not once per lost unit)."""
        assert self.pool is not None
        async with self.known_lock:
            deaths = self.pool.deaths
            if self.known is None or self.known[0] != deaths:
                found = await asyncio.to_thread(recorded_units, self.store, self.run_id)
                self.known = (deaths, found)
            return self.known[1]

    def _finished(self, result: SampleRun | QueuedSample, state: _State) -> None:
        spent = result.spent_usd
        state.spent_usd += spent
        state.done_now += 1
        status = result.row["status"] if isinstance(result, SampleRun) else result.status
        failed = status != "completed"
        state.failed_now += int(failed)
        self.progress.advance(cost_usd=spent, failed=failed)
        if state.forecast_usd is None:
            state.pilot_costs.append(spent)
            if len(state.pilot_costs) >= self.suite.forecast_samples:
                remaining = state.planned - state.done_before - state.done_now
                self._forecast(state, remaining=remaining)
        cap = self.suite.cost_cap_usd
        if cap is not None and state.spent_usd > cap:
            raise EvalCostCapExceeded(
                f"the run spent ${state.spent_usd:.6f}, over cost_cap_usd ${cap:.6f}, after"
                f" {state.done_before + state.done_now} of {state.planned} samples; stopped."
                f" Raise the cap and resume with --resume {self.run_id}"
            )


def _load(suite: Suite | Path | str) -> Suite:
    return suite if isinstance(suite, Suite) else Suite.from_yaml(suite)


async def arun_suite(
    suite: Suite | Path | str,
    *,
    run_id: str | None = None,
    settings: Settings | None = None,
    progress: ProgressMode | Progress = "auto",
    durable: bool = False,
    versions: Sequence[str] | None = None,
    on_start: Callable[[str], None] | None = None,
    runtime_factory: RuntimeFactory | None = None,
    on_sample: SampleHook | None = None,
    queue: str | None = None,
    queue_name: str = "default",
    workers: int | str | None = None,
) -> EvalRun:
    """Run a suite (or resume a run of it) and return the run.

    Args:
        suite: A :class:`Suite` or the path of its YAML file.
        run_id: Resume this run: units already recorded are not run again.
        settings: Where state lives; from the environment if omitted.
        progress: ``auto`` (a widget in a notebook, rich on a terminal, else nothing),
            ``rich``, ``widget``, ``none``, or a :class:`~workbench.evals.Progress`.
        durable: Checkpoint every execution to disk. An eval's unit of resumption is
            the sample, so the default keeps checkpoints in memory (faster).
        versions: Run only these version labels (default: all).
        on_start: Called with the run id once the run is recorded, before any sample.
        runtime_factory: Builds the runtime samples run on (the runner keeps one and
            replaces it every few thousand samples); default the suite's
            :meth:`~workbench.evals.Suite.make_runtime`.
        on_sample: Called with each :class:`~workbench.evals.SampleUnit` before it runs;
            the context it returns wraps the sample. Default the suite's
            :meth:`~workbench.evals.Suite.sample_context`.
        queue: ``redis://...``: hand every unit to ``workbench worker`` processes on this
            queue instead of running it here (a worker runs it with the suite's own
            runtime factory and sample context, and records its row); the runner waits
            for the run's units. ``runtime_factory`` and ``on_sample`` do not travel.
        queue_name: The queue's name on that Redis.
        workers: Local worker processes the units run in (``auto``: one per CPU);
            default the suite's ``workers`` (1: in this process). With more than one,
            each unit runs in a spawned process on the suite's own runtime and sample
            context (``runtime_factory`` and ``on_sample`` must be the suite's), which
            records its row; this process keeps the limit, the cost cap and the gate.
            Scripted models must be registered by a module the agent spec imports.

    Returns:
        The run; its frames read the rows back from the trace store.

    Raises:
        SuiteInvalid: The suite, its dataset or an agent spec is invalid.
        RunNotFound: ``run_id`` names no run in this store.
        EvalCostCapExceeded: The forecast or the spend passed ``cost_cap_usd``; finished
            samples are kept, so the run can be resumed with a higher cap.
        EvalError: The run failed as a run (with a queue: a unit was dead-lettered;
            with workers: they did not start, or ``workers`` and ``queue`` were both set).
        EvalWorkerLost: One unit was in flight in three worker processes that died.
        ServiceError: The queue's Redis does not answer.
    """
    runner = _Run(
        _load(suite),
        run_id=run_id,
        settings=settings,
        progress=progress,
        durable=durable,
        versions=versions,
        on_start=on_start,
        runtime_factory=runtime_factory,
        on_sample=on_sample,
        queue=queue,
        queue_name=queue_name,
        workers=workers,
    )
    return await runner.execute()


def run_suite(
    suite: Suite | Path | str,
    *,
    run_id: str | None = None,
    settings: Settings | None = None,
    progress: ProgressMode | Progress = "auto",
    durable: bool = False,
    versions: Sequence[str] | None = None,
    on_start: Callable[[str], None] | None = None,
    runtime_factory: RuntimeFactory | None = None,
    on_sample: SampleHook | None = None,
    queue: str | None = None,
    queue_name: str = "default",
    workers: int | str | None = None,
) -> EvalRun:
    """Sync wrapper of :func:`arun_suite`; works inside a running event loop (Jupyter)."""
    return run_sync(
        arun_suite(
            suite,
            run_id=run_id,
            settings=settings,
            progress=progress,
            durable=durable,
            versions=versions,
            on_start=on_start,
            runtime_factory=runtime_factory,
            on_sample=on_sample,
            queue=queue,
            queue_name=queue_name,
            workers=workers,
        )
    )
