"""The runner's side of eval samples over the queue: enqueue a unit, wait for its worker.

``arun_suite(..., queue=url)`` hands each (version, sample, epoch) unit to
:class:`SampleDispatcher`: the unit becomes an ``eval_sample`` job with a stable id
(``job-<execution id>``, so a resumed run finds the jobs its predecessor queued), and
one reader per run follows the run's ``done`` stream, where workers announce finished
units. The runner's concurrency limit bounds the units queued at once, so the cost cap
stops a run within that many units; a unit whose wait is cancelled (the cap, Ctrl-C) is
cancelled on the queue unless a worker already started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

from workbench.errors import EvalError
from workbench.evals import SampleUnit, Suite
from workbench.queue._job import EvalUnit, Job
from workbench.queue._queue import JobQueue
from workbench.runtime import AgentSpec

__all__ = ["QueuedSample", "SampleDispatcher"]

_BLOCK_MS = 250


@dataclass(frozen=True, slots=True)
class QueuedSample:
    """A unit a worker finished: what the runner counts and adapts on (its row is in the
    trace store)."""

    status: str
    """The row's status (``completed``, ``error``, ``timeout``, ...)."""
    spent_usd: float
    """Agent plus judge USD."""
    rate_limited: bool
    """The execution saw a 429."""
    reused: bool = False
    """A redelivered unit whose row was already recorded: not run again."""


def _queued(result: dict[str, Any]) -> QueuedSample:
    return QueuedSample(
        status=str(result.get("status")),
        spent_usd=float(result.get("spent_usd") or 0.0),
        rate_limited=bool(result.get("rate_limited")),
        reused=bool(result.get("reused")),
    )


class SampleDispatcher:
    """Hands the units of one eval run to the workers of a queue and waits for them.

    Args:
        url: ``redis://host:port/db`` of the queue.
        suite: The run's suite (it travels in every job).
        run_id: The run.
        name: The queue's name on that Redis.
    """

    def __init__(self, url: str, *, suite: Suite, run_id: str, name: str = "default") -> None:
        self.queue = JobQueue(url, name=name)
        self.run_id = run_id
        self.done = self.queue.done_stream(run_id)
        self._suite = suite.model_dump(mode="json")
        self._source = str(suite.source) if suite.source else None
        self._principal = suite.principal
        self._waiting: dict[str, asyncio.Future[dict[str, str]]] = {}
        self._early: dict[str, dict[str, str]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._last = "0-0"
        self._broken: Exception | None = None
        self._stopping = False

    async def astart(self) -> None:
        """Check the queue and start following the run's ``done`` stream.

        Raises:
            ServiceError: Redis does not answer.
        """
        await self.queue.aensure_group()
        # Entries from before this start belong to jobs whose hash already says how they
        # ended; only later ones are awaited.
        last: Any = await self.queue.redis.xrevrange(self.done, count=1)
        self._last = last[0][0] if last else "0-0"
        self._reader = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        try:
            await self._read()
        except Exception as exc:
            # Nobody would ever wake the waiters: fail them (the run is resumable).
            self._broken = exc
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(exc)
            raise

    async def _read(self) -> None:
        redis = self.queue.redis
        while not self._stopping:
            read: Any = await redis.xread({self.done: self._last}, count=256, block=_BLOCK_MS)
            for _, entries in read or []:
                for entry_id, fields in entries:
                    self._last = entry_id
                    future = self._waiting.pop(fields["job_id"], None)
                    if future is None:
                        self._early[fields["job_id"]] = fields
                    elif not future.done():
                        future.set_result(fields)

    async def arun(self, unit: SampleUnit, spec: AgentSpec, *, durable: bool) -> QueuedSample:
        """Queue one unit (unless its job is already queued or running) and wait for it.

        Raises:
            EvalError: The unit's job was dead-lettered (its retries are spent).
        """
        if self._broken is not None:
            raise self._broken
        job_id = f"job-{unit.execution_id}"
        future: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._waiting[job_id] = future
        try:
            state = await self.queue.astate(job_id)
            if state is not None and state.status == "completed" and state.result is not None:
                return _queued(state.result)  # finished after the runner read the store
            if state is None or state.status in ("dead", "cancelled", "completed"):
                job = Job(
                    id=job_id,
                    kind="eval_sample",
                    execution_id=unit.execution_id,
                    spec=spec.model_dump(mode="json"),
                    task=unit.sample.input,
                    principal=self._principal,
                    eval=EvalUnit(
                        run_id=self.run_id,
                        suite=self._suite,
                        suite_source=self._source,
                        version=unit.version,
                        sample=unit.sample.model_dump(mode="json"),
                        epoch=unit.epoch,
                        durable=durable,
                    ),
                )
                await self.queue.aenqueue(job)
            # else: queued, running or retrying from an earlier runner of this run.
            fields = self._early.pop(job_id, None) or await future
        except asyncio.CancelledError:
            await asyncio.shield(self.queue.acancel(job_id))
            raise
        finally:
            self._waiting.pop(job_id, None)
        if fields.get("status") == "dead":
            raise EvalError(
                f"unit {unit.version}/{unit.sample.id}/epoch {unit.epoch} ({job_id}) was"
                f" dead-lettered after {fields.get('attempts')} attempt(s):"
                f" {fields.get('error')}; resume the run to try it again"
            )
        return _queued(json.loads(fields.get("result") or "{}"))

    async def aclose(self) -> None:
        """Stop following the run and close the connection."""
        if self._reader is not None:
            # Not cancelled: a blocking read cancelled midway can hang the client.
            self._stopping = True
            with contextlib.suppress(Exception):
                await self._reader
            self._reader = None
        await self.queue.aclose()
