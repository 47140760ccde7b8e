"""The queue: a Redis stream of jobs with one consumer group, and a dead-letter stream.

Keys, under ``wb:queue:<name>:``: ``jobs`` (the stream; each entry holds a job id),
``dead`` (the dead-letter stream), ``job:<id>`` (a hash: the job, its status,
attempt count, worker, result, last error and its live stream ``entry``), and
``run:<run_id>:done`` (a stream per eval run: one entry per finished eval unit, which
the runner waits on). Workers read with ``XREADGROUP`` in
group ``workers``, acknowledge with ``XACK`` when a job is finished, and take over an
entry idle longer than the visibility timeout with ``XAUTOCLAIM`` (its worker died: a
live worker refreshes its entries well within the timeout).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from workbench._util import run_sync
from workbench.errors import ConfigError, ServiceError
from workbench.queue._job import Job, JobState

__all__ = ["GROUP", "JobQueue"]

GROUP = "workers"
"""The consumer group every worker reads in."""

# One atomic step: the job's new stream entry and its hash naming that entry live, so a
# worker can tell a stale delivery (an older entry of the same job) from the live one.
_ADD_ENTRY = """
local id = redis.call('XADD', KEYS[1], '*', 'job_id', ARGV[1])
redis.call('HDEL', KEYS[2], 'result')
redis.call('HSET', KEYS[2], 'entry', id, unpack(ARGV, 2))
return id
"""
_CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' or status == 'retrying' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'updated_at', ARGV[1])
  return 1
end
return 0
"""


class JobQueue:
    """A named queue of jobs on one Redis.

    Async inside (``a``-prefixed methods); :meth:`enqueue`, :meth:`state` and
    :meth:`dead_letters` are sync wrappers. One instance per event loop.

    Args:
        url: ``redis://host:port/db`` (``workbench services up redis`` prints one).
        name: Queue name, so several queues share one Redis.
    """

    def __init__(self, url: str, *, name: str = "default") -> None:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"a queue URL is redis://host:port/db, not {url!r}")
        self.url = url
        self.name = name
        self.prefix = f"wb:queue:{name}:"
        self.stream = self.prefix + "jobs"
        self.dead = self.prefix + "dead"
        self._redis: Redis | None = None

    @property
    def redis(self) -> Redis:
        """The client (created on first use, in the running event loop)."""
        if self._redis is None:
            self._redis = Redis.from_url(self.url, decode_responses=True)
        return self._redis

    def job_key(self, job_id: str) -> str:
        """The hash of one job."""
        return f"{self.prefix}job:{job_id}"

    def done_stream(self, run_id: str) -> str:
        """The stream of an eval run's finished units."""
        return f"{self.prefix}run:{run_id}:done"

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def aensure_group(self) -> None:
        """Create the stream and its consumer group unless they exist.

        Raises:
            ServiceError: Redis does not answer.
        """
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        except (RedisConnectionError, OSError) as exc:
            raise ServiceError(
                f"cannot reach the queue's Redis at {self.url}: {exc}"
                " (`workbench services up redis` starts one)"
            ) from exc

    async def aenqueue(self, job: Job) -> Job:
        """Record ``job`` as queued and add it to the stream (again, for a job id the
        queue had: its attempts start over and any older entry of it is stale)."""
        await self.aensure_group()
        await self.aadd_entry(
            job.id,
            {
                "job": job.model_dump_json(),
                "status": "queued",
                "attempts": 0,
                "updated_at": time.time(),
            },
        )
        return job

    async def aadd_entry(self, job_id: str, fields: dict[str, Any]) -> str:
        """Add a stream entry for ``job_id`` and set ``fields`` on its hash, atomically;
        the new entry becomes the job's live one. Returns the entry id."""
        args: list[Any] = [job_id]
        for key, value in fields.items():
            args += [key, value]
        entry: Any = await self.redis.eval(_ADD_ENTRY, 2, self.stream, self.job_key(job_id), *args)
        return str(entry)

    async def acancel(self, job_id: str) -> bool:
        """Mark a job that no worker has started as ``cancelled`` (workers skip it).

        Returns:
            Whether it was cancelled (False when it is running or finished).
        """
        done: Any = await self.redis.eval(_CANCEL, 1, self.job_key(job_id), time.time())
        return bool(done)

    async def astate(self, job_id: str) -> JobState | None:
        """What is known about a job, or ``None`` if the queue never had it."""
        raw = await self.redis.hgetall(self.job_key(job_id))
        if not raw:
            return None
        return JobState(
            job=Job.model_validate_json(raw["job"]),
            status=raw["status"],
            attempts=int(raw.get("attempts", 0)),
            worker=raw.get("worker"),
            result=json.loads(raw["result"]) if raw.get("result") else None,
            error=raw.get("error"),
            entry=raw.get("entry"),
            updated_at=float(raw.get("updated_at", 0.0)),
        )

    async def await_done(self, job_id: str, *, timeout_s: float = 60.0) -> JobState:
        """Wait until a job is completed or dead.

        Raises:
            TimeoutError: It is neither within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            state = await self.astate(job_id)
            if state is not None and state.status in ("completed", "dead"):
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not done after {timeout_s} s: {state}")
            await asyncio.sleep(0.05)

    async def adead_letters(self) -> list[dict[str, Any]]:
        """Entries of the dead-letter stream, oldest first (``job_id``, ``attempts``, ...)."""
        entries: Any = await self.redis.xrange(self.dead)
        return [{"entry_id": entry_id, **fields} for entry_id, fields in entries]

    async def apending(self) -> int:
        """Entries delivered to a worker and not yet acknowledged."""
        summary = await self.redis.xpending(self.stream, GROUP)
        return int(summary["pending"])

    def enqueue(self, job: Job) -> Job:
        """Sync wrapper of :meth:`aenqueue` (one connection, closed after)."""

        async def go() -> Job:
            try:
                return await self.aenqueue(job)
            finally:
                await self.aclose()

        return run_sync(go())

    def state(self, job_id: str) -> JobState | None:
        """Sync wrapper of :meth:`astate`."""

        async def go() -> JobState | None:
            try:
                return await self.astate(job_id)
            finally:
                await self.aclose()

        return run_sync(go())

    def dead_letters(self) -> list[dict[str, Any]]:
        """Sync wrapper of :meth:`adead_letters`."""

        async def go() -> list[dict[str, Any]]:
            try:
                return await self.adead_letters()
            finally:
                await self.aclose()

        return run_sync(go())
