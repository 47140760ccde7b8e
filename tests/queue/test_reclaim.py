"""A worker SIGKILLed inside a side-effecting tool; another worker reclaims its job after the
visibility timeout and resumes the execution: the job completes, each e-mail is sent once.

With PostgreSQL the two workers share nothing but Redis and the database (separate
workbench homes), as they would on two machines."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from queue_helpers import (
    KILL_ANSWER,
    KILL_SPEC,
    TESTS,
    outbox,
    start_worker,
    wait_for,
    worker_env,
)

from workbench.queue import Job, JobQueue, Worker
from workbench.runtime import AgentSpec
from workbench.settings import Settings

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_killed_workers_job_is_finished_by_another_without_duplicate_effects(
    tmp_path: Path,
    redis_url: str,
    store: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, marker = tmp_path / "outbox.jsonl", tmp_path / "marker"
    extra: dict[str, str] = {}
    if store == "postgres":
        extra["WORKBENCH_DATABASE_URL"] = request.getfixturevalue("database_url")
    home_a = tmp_path / "wb-a"
    home_b = home_a if store == "sqlite" else tmp_path / "wb-b"
    spec = tmp_path / "killer.yaml"
    spec.write_text(KILL_SPEC)

    job = JobQueue(redis_url).enqueue(
        Job(
            execution_id="ex-queued",
            spec=AgentSpec.from_yaml(spec).model_dump(mode="json"),
            task="send the emails",
        )
    )
    job_id = job.id

    first = start_worker(
        redis_url,
        worker_env(home_a, box, WB_KILL_POINT="tool", WB_TOOL_MARKER=str(marker), **extra),
        "--visibility-timeout",
        "2",
    )
    wait_for(marker, first)  # inside the second e-mail, after its effect
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    assert outbox(box) == ["a@example.com", "b@example.com"]
    state = JobQueue(redis_url).state(job_id)
    assert state is not None
    assert state.status == "running"
    assert state.attempts == 1

    # The second worker runs here, in this process, on its own home (and, for
    # PostgreSQL, nothing shared with the first but Redis and the database).
    monkeypatch.setenv("WB_OUTBOX", str(box))
    monkeypatch.syspath_prepend(str(TESTS / "runtime"))
    settings = Settings(home=home_b, database_url=extra.get("WORKBENCH_DATABASE_URL"))
    worker = Worker(JobQueue(redis_url), visibility_timeout_s=2, settings=settings)
    assert asyncio.run(worker.arun(drain=True)) == 1
    state = JobQueue(redis_url).state(job_id)
    assert state is not None
    assert state.status == "completed", state
    assert state.attempts == 2  # the first delivery and the reclaim
    assert state.result is not None
    assert state.result["status"] == "completed"
    assert state.result["answer"] == KILL_ANSWER
    assert outbox(box) == ["a@example.com", "b@example.com"]  # each effect exactly once
