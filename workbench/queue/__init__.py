"""Scale-out over Redis Streams: ``workbench run --queue`` enqueues, ``workbench worker`` runs.

:class:`JobQueue` is a Redis stream with one consumer group and a dead-letter stream;
:class:`Worker` processes its jobs (acknowledge on completion, ``XAUTOCLAIM`` of jobs
whose worker died, bounded retries, dead letters) and resumes a reclaimed execution
from its checkpoint and effect journal, so nothing runs twice. Workers share the
principal's rate limit and budget through the gateway's Redis limiter and ledger.
The embedded, in-process runtime stays the default. Eval runs use the same queue:
``arun_suite(..., queue=url)`` hands each unit to the workers as an ``eval_sample``
job (:class:`SampleDispatcher`) and the worker records its row. See ``docs/queue.md``.
"""

from __future__ import annotations

from workbench.queue._dispatch import QueuedSample, SampleDispatcher
from workbench.queue._eval_worker import EvalSampleRunner
from workbench.queue._job import EvalUnit, Job, JobState, JobStatus
from workbench.queue._queue import GROUP, JobQueue
from workbench.queue._submit import enqueue_execution
from workbench.queue._worker import Worker

__all__ = [
    "GROUP",
    "EvalSampleRunner",
    "EvalUnit",
    "Job",
    "JobQueue",
    "JobState",
    "JobStatus",
    "QueuedSample",
    "SampleDispatcher",
    "Worker",
    "enqueue_execution",
]
