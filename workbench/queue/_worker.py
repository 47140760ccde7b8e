"""The worker: takes jobs from the queue and runs them, any number of workers at once.

Per job: ``HINCRBY attempts``; past ``max_attempts`` the job goes to the dead-letter
stream. Otherwise the worker charges the principal's shared rate limit (waiting while
it is spent), runs the execution through :class:`~workbench.runtime.Runtime` (whose
budget ledger is the shared Redis ledger) and acknowledges the entry. While it runs, a
heartbeat re-claims the entry every third of the visibility timeout, so only a dead
worker's entries go idle long enough for another worker's ``XAUTOCLAIM``. A reclaimed
job runs the same execution id, so the runtime resumes it from its checkpoint and
effect journal: recorded model and tool results are replayed, a side-effecting tool
interrupted mid-call is called again with the same idempotency key, and nothing runs
twice. A job that raises is retried (a fresh stream entry) up to ``max_attempts``.

An ``eval_sample`` job is one unit of an eval run (``workbench eval --queue``): the
worker runs, scores and records it (:class:`~workbench.queue._eval_worker.EvalSampleRunner`)
and announces it on the run's ``done`` stream, as it does a dead-lettered unit. A
delivery of a stale entry (the job was queued again since) or of a cancelled job is
acknowledged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from workbench.errors import RateLimited
from workbench.queue._eval_worker import EvalSampleRunner
from workbench.queue._job import Job
from workbench.queue._queue import GROUP, JobQueue
from workbench.runtime import AgentSpec, Runtime
from workbench.settings import Settings, get_settings

__all__ = ["Worker"]

log = logging.getLogger(__name__)
_BLOCK_MS = 500
_MAX_RATE_WAIT_S = 5.0


class Worker:
    """Runs jobs of one queue with ``concurrency`` slots in this process.

    Args:
        queue: The queue.
        concurrency: Jobs run at once (one runtime each).
        visibility_timeout_s: Idle time after which another worker takes over an entry.
        max_attempts: Deliveries of one job before it goes to the dead-letter stream.
        settings: The workbench home (journal and checkpoints: SQLite on one machine,
            PostgreSQL when ``database_url`` is set).
        shared_limits: Use the Redis rate limiter and budget ledger on the queue's Redis
            (so every worker shares a principal's rate and budget); in-process ones if
            False.
        name: Consumer name prefix; host and pid if None.
    """

    def __init__(
        self,
        queue: JobQueue,
        *,
        concurrency: int = 1,
        visibility_timeout_s: float = 30.0,
        max_attempts: int = 3,
        settings: Settings | None = None,
        shared_limits: bool = True,
        name: str | None = None,
    ) -> None:
        if concurrency < 1 or max_attempts < 1 or visibility_timeout_s <= 0:
            raise ValueError("concurrency and max_attempts >= 1, visibility_timeout_s > 0")
        self.queue = queue
        self.concurrency = concurrency
        self.visibility_ms = int(visibility_timeout_s * 1000)
        self.max_attempts = max_attempts
        self.settings = settings or get_settings()
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.processed = 0
        self._stop = asyncio.Event()
        self._limiter: Any = None
        self._ledger: Any = None
        self._evals = EvalSampleRunner(self.settings)
        if shared_limits:
            from workbench.gateway import RedisBudgetLedger, RedisRateLimiter

            self._limiter = RedisRateLimiter(queue.url)
            self._ledger = RedisBudgetLedger(queue.url)

    def stop(self) -> None:
        """Finish the jobs in hand, take no new ones."""
        self._stop.set()

    async def arun(self, *, drain: bool = False) -> int:
        """Process jobs until :meth:`stop` (or, with ``drain``, until the queue is empty).

        Returns:
            How many jobs this worker finished (completed or dead).
        """
        await self.queue.aensure_group()
        try:
            await asyncio.gather(*(self._slot(i, drain) for i in range(self.concurrency)))
        finally:
            if self._limiter is not None:
                self._limiter.close()
                self._ledger.close()
            await self._evals.aclose()
            await self.queue.aclose()
        return self.processed

    async def _slot(self, index: int, drain: bool) -> None:
        consumer = f"{self.name}-{index}"
        runtime = Runtime(self.settings, ledger=self._ledger)
        redis, stream = self.queue.redis, self.queue.stream
        try:
            while not self._stop.is_set():
                claimed: Any = await redis.xautoclaim(
                    stream, GROUP, consumer, self.visibility_ms, start_id="0-0", count=1
                )
                entries = claimed[1]
                if not entries:
                    read: Any = await redis.xreadgroup(
                        GROUP, consumer, {stream: ">"}, count=1, block=_BLOCK_MS
                    )
                    entries = read[0][1] if read else []
                if entries:
                    entry_id, fields = entries[0]
                    await self._handle(runtime, consumer, entry_id, fields["job_id"])
                elif drain and await self.queue.apending() == 0:
                    return
        finally:
            await runtime.aclose()

    async def _handle(self, runtime: Runtime, consumer: str, entry_id: str, job_id: str) -> None:
        q, redis = self.queue, self.queue.redis
        key = q.job_key(job_id)
        state = await q.astate(job_id)
        if (
            state is None  # a stray entry: nothing to run
            or (state.entry is not None and state.entry != entry_id)  # queued again since
            or state.status == "cancelled"
        ):
            await redis.xack(q.stream, GROUP, entry_id)
            return
        attempts = int(await redis.hincrby(key, "attempts", 1))
        if attempts > self.max_attempts:
            await self._dead(entry_id, state.job, attempts - 1, state.error or "worker died")
            return
        await redis.hset(
            key, mapping={"status": "running", "worker": consumer, "updated_at": time.time()}
        )
        heartbeat = asyncio.create_task(self._heartbeat(consumer, entry_id))
        try:
            if state.job.kind == "eval_sample":
                summary = await self._evals.arun(state.job, redelivered=attempts > 1)
            else:
                summary = await self._execute(runtime, state.job)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job %s attempt %d failed: %s", job_id, attempts, error)
            heartbeat.cancel()
            if attempts >= self.max_attempts:
                await self._dead(entry_id, state.job, attempts, error)
            else:
                # The new entry is live at once; this one, if we die before the ack, is stale.
                await q.aadd_entry(
                    job_id, {"status": "retrying", "error": error, "updated_at": time.time()}
                )
                await redis.xack(q.stream, GROUP, entry_id)
            return
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "status": "completed",
                    "result": _json(summary),
                    "updated_at": time.time(),
                },
            )
            pipe.xack(q.stream, GROUP, entry_id)
            if state.job.eval is not None:
                pipe.xadd(
                    q.done_stream(state.job.eval.run_id),
                    {"job_id": job_id, "status": "completed", "result": _json(summary)},
                )
            await pipe.execute()
        self.processed += 1

    async def _dead(self, entry_id: str, job: Job, attempts: int, error: str) -> None:
        q = self.queue
        async with q.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                q.dead,
                {
                    "job_id": job.id,
                    "execution_id": job.execution_id,
                    "attempts": attempts,
                    "error": error,
                    "dead_at": time.time(),
                },
            )
            pipe.hset(
                q.job_key(job.id),
                mapping={"status": "dead", "error": error, "updated_at": time.time()},
            )
            pipe.xack(q.stream, GROUP, entry_id)
            if job.eval is not None:
                pipe.xadd(
                    q.done_stream(job.eval.run_id),
                    {"job_id": job.id, "status": "dead", "attempts": attempts, "error": error},
                )
            await pipe.execute()
        self.processed += 1

    async def _heartbeat(self, consumer: str, entry_id: str) -> None:
        q = self.queue
        while True:
            await asyncio.sleep(self.visibility_ms / 3000)
            # Re-claiming our own entry resets its idle time: it is not reclaimable.
            await q.redis.xclaim(q.stream, GROUP, consumer, 0, [entry_id], justid=True)

    async def _execute(self, runtime: Runtime, job: Job) -> dict[str, Any]:
        spec = AgentSpec.model_validate(job.spec)
        fresh = runtime.journal.load_meta(job.execution_id) is None
        if fresh and job.principal is not None and self._limiter is not None:
            await self._acquire_rate(job)
        result = await runtime.arun(
            spec,
            job.task,
            execution_id=job.execution_id,
            principal=job.principal,
            scopes=job.scopes,
            caps=job.caps,
        )
        return result.summary()

    async def _acquire_rate(self, job: Job) -> None:
        assert job.principal is not None
        acquire: Callable[..., None] = self._limiter.acquire
        while True:
            try:
                await asyncio.to_thread(
                    acquire,
                    job.principal,
                    requests_per_minute=job.requests_per_minute,
                    tokens_per_minute=job.tokens_per_minute,
                    tokens=job.estimated_tokens,
                )
                return
            except RateLimited as exc:
                if exc.retry_after is None:
                    raise
                # The entry stays ours (the heartbeat runs): the job waits its turn.
                await asyncio.sleep(min(max(exc.retry_after, 0.01), _MAX_RATE_WAIT_S))


def _json(value: Any) -> str:
    return json.dumps(value, default=str)
