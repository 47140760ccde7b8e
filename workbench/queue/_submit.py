"""Handing an execution to the workers instead of running it here."""

from __future__ import annotations

from workbench.queue._job import Job
from workbench.queue._queue import JobQueue
from workbench.runtime import AgentSpec, new_execution_id

__all__ = ["enqueue_execution"]


def enqueue_execution(
    url: str,
    spec: AgentSpec,
    task: str,
    *,
    execution_id: str | None = None,
    principal: str | None = None,
    queue_name: str = "default",
) -> Job:
    """Put one execution on the queue at ``url``; a worker runs it.

    Args:
        url: ``redis://host:port/db``.
        spec: The agent.
        task: The task.
        execution_id: Id of the execution (a new one if None).
        principal: Who asked.
        queue_name: The queue on that Redis.

    Returns:
        The job, with its id and execution id.

    Raises:
        ConfigError: Not a Redis URL.
        ServiceError: Redis does not answer.
    """
    job = Job(
        execution_id=execution_id or new_execution_id(),
        spec=spec.model_dump(mode="json"),
        task=task,
        principal=principal,
    )
    return JobQueue(url, name=queue_name).enqueue(job)
