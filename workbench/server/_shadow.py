"""Live shadow traffic: v2 replays a sample of v1's executions after v1 has answered.

v1's execution finishes and is answered first; then, with probability ``rate``, its id is
put on a bounded queue (never awaited by the request: a full queue drops the sample and
counts it). Background workers hand each sample to the offline shadow runner
(:func:`workbench.evals.ashadow` with a recorded baseline), so the isolation is exactly
that of ``workbench shadow run``: v2 sees v1's recorded tool results for world-touching
calls, is refused any other such call, is never served, and its pair lands as a
``shadow_samples`` row that ``workbench shadow report`` and the ShadowCompare widget read.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
from dataclasses import dataclass

from workbench._util import run_sync
from workbench.runtime import AgentSpec, Runtime
from workbench.server._metrics import ServerMetrics
from workbench.tracing import Tracer, TraceStore

__all__ = ["LiveShadow", "ShadowJob"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShadowJob:
    """One v1 execution to replay on v2."""

    agent: str
    baseline: AgentSpec
    candidate: AgentSpec
    execution_id: str
    task: str
    principal: str
    run_id: str


class LiveShadow:
    """A bounded queue of shadow jobs and the worker threads that run them.

    The workers run on threads with event loops of their own, so nothing a candidate
    does (its model calls, its tools, the trace-store read of v1's trajectory) runs on
    the server's loop.

    Args:
        runtime: The server's runtime (its settings and tracer are used; the candidate
            runs on a non-durable runtime of its own, as in offline shadow runs).
        tracer: Where ``shadow_samples`` rows go.
        metrics: Counts offered, dropped, done and failed samples.
        queue_size: Jobs waiting at most.
        workers: Jobs running at once.
        seed: Seed of the sampling draw (tests); random when omitted.
    """

    def __init__(
        self,
        runtime: Runtime,
        tracer: Tracer,
        metrics: ServerMetrics,
        *,
        queue_size: int = 100,
        workers: int = 1,
        seed: int | None = None,
    ) -> None:
        self.runtime = runtime
        self.tracer = tracer
        self.metrics = metrics
        self.queue: queue.Queue[ShadowJob | None] = queue.Queue(maxsize=queue_size)
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._running = 0
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._store = TraceStore(
            runtime.settings.trace_store_path, spool_dir=runtime.settings.spool_dir
        )

    def depth(self) -> int:
        """Jobs waiting plus running."""
        with self._lock:
            return self.queue.qsize() + self._running

    def start(self, *, warm: bool = True) -> None:
        """Start the worker threads.

        Args:
            warm: Import the shadow runner (pandas, DuckDB) now, at start-up, rather than
                on the first sample, where its import would compete with live requests.
        """
        self._publish_depth()
        if warm:
            import workbench.evals  # noqa: F401
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._work, name=f"shadow-{i}", daemon=True)
                for i in range(self._workers)
            ]
            for thread in self._threads:
                thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the workers after the job each is running; waiting jobs are dropped."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.queue.get_nowait()
                self.queue.task_done()
        for _ in self._threads:
            with contextlib.suppress(queue.Full):
                self.queue.put(None, timeout=timeout_s)
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []

    def offer(self, job: ShadowJob, rate: float) -> bool:
        """Queue ``job`` with probability ``rate``; never blocks, never raises.

        Returns:
            True when the job was queued.
        """
        if rate <= 0 or self._rng.random() >= rate:
            return False
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            self.metrics.shadow_samples.labels(agent=job.agent, outcome="dropped").inc()
            return False
        self.metrics.shadow_samples.labels(agent=job.agent, outcome="queued").inc()
        self._publish_depth()
        return True

    def join(self) -> None:
        """Block until every queued job has run (tests, graceful shutdown)."""
        self.queue.join()

    def _work(self) -> None:
        # Each job runs on workbench's one long-lived sync loop (``run_sync``), never on
        # the server's loop: per-loop state (litellm's logging worker) stays warm there.
        while True:
            job = self.queue.get()
            if job is None:
                self.queue.task_done()
                return
            with self._lock:
                self._running += 1
            self._publish_depth()
            try:
                run_sync(self._run(job))
                self.metrics.shadow_samples.labels(agent=job.agent, outcome="done").inc()
            except Exception:
                # v2 failing is a finding about v2, never a failure of the server or of v1.
                log.exception("shadow run of %s failed", job.execution_id)
                self.metrics.shadow_samples.labels(agent=job.agent, outcome="failed").inc()
            finally:
                with self._lock:
                    self._running -= 1
                self._publish_depth()
                self.queue.task_done()

    def _publish_depth(self) -> None:
        # Set as it changes, not at scrape time: with several workers the scraped one
        # answers for the others' queues too.
        self.metrics.queue_depth.labels(queue="shadow").set(self.depth())

    async def _run(self, job: ShadowJob) -> None:
        from workbench.evals import ShadowInput, ashadow

        await ashadow(
            [
                ShadowInput(
                    sample_id=job.execution_id,
                    input=job.task,
                    baseline_execution_id=job.execution_id,
                )
            ],
            candidate=job.candidate,
            baseline=job.baseline,
            runtime=self.runtime,
            store=self._store,
            tracer=self.tracer,
            run_id=job.run_id,
            principal=job.principal,
        )
