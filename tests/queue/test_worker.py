"""Workers in this process on a real Redis: dead letters after bounded retries, two workers
sharing a principal's rate limit and budget, and `workbench run --queue`."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.gateway import RedisBudgetLedger
from workbench.models import Turn, register_script
from workbench.queue import Job, JobQueue, Worker
from workbench.runtime import AgentSpec

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
_names = itertools.count()


def _spec(**fields: Any) -> AgentSpec:
    def script(messages: list[dict[str, Any]], tools: Any) -> Turn:
        if not any(m.get("role") == "tool" for m in messages):
            return Turn.call("calculator", expression="6 * 7")
        return Turn.final("42")

    model = register_script(f"q-{next(_names)}", script)
    return AgentSpec(
        name="counter", model=model, system_prompt="Count.", tools=["calculator"], **fields
    )


def _job(spec: AgentSpec, n: int, **fields: Any) -> Job:
    return Job(
        execution_id=f"ex-{spec.model.split('/')[-1]}-{n}",
        spec=spec.model_dump(mode="json"),
        task=f"task {n}",
        **fields,
    )


async def test_a_poison_job_lands_in_the_dead_letter_stream_after_its_retries(
    redis_url: str,
) -> None:
    queue = JobQueue(redis_url)
    good = await queue.aenqueue(_job(_spec(), 0))
    poison_spec = _spec(imports=["no_such_module_for_the_queue_test"])
    poison = await queue.aenqueue(_job(poison_spec, 1))
    worker = Worker(JobQueue(redis_url), max_attempts=3, visibility_timeout_s=5)
    assert await worker.arun(drain=True) == 2

    state = await queue.astate(poison.id)
    assert state is not None
    assert state.status == "dead"
    assert state.attempts == 3
    assert state.error is not None
    assert "no_such_module_for_the_queue_test" in state.error
    [letter] = await queue.adead_letters()
    assert letter["job_id"] == poison.id
    assert letter["attempts"] == "3"
    assert "ConfigError" in letter["error"]
    done = await queue.astate(good.id)
    assert done is not None
    assert done.status == "completed"
    assert done.attempts == 1
    assert done.result is not None
    assert done.result["answer"] == "42"
    assert await queue.apending() == 0
    await queue.aclose()


async def test_two_workers_share_a_principals_rate_limit(redis_url: str) -> None:
    queue = JobQueue(redis_url)
    spec = _spec()
    jobs = [
        await queue.aenqueue(_job(spec, n, principal="carol", requests_per_minute=3))
        for n in range(5)
    ]
    workers = [Worker(JobQueue(redis_url), concurrency=2, name=f"w{i}") for i in range(2)]
    tasks = [asyncio.create_task(w.arun()) for w in workers]
    try:
        for _ in range(400):
            states = [await queue.astate(j.id) for j in jobs]
            if sum(s is not None and s.status == "completed" for s in states) >= 3:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # give the other two every chance to (wrongly) start
        states = [await queue.astate(j.id) for j in jobs]
        statuses = sorted(s.status for s in states if s is not None)
        # A burst of 3 per minute, shared: 3 ran, 2 wait for the bucket to refill.
        assert statuses == ["completed", "completed", "completed", "running", "running"]
        assert len({s.worker for s in states if s is not None}) >= 2  # both workers took jobs
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await queue.aclose()


async def test_two_workers_share_a_principals_budget(redis_url: str) -> None:
    queue = JobQueue(redis_url)
    spec = _spec(limits={"max_tokens": 20})
    probe = await queue.aenqueue(_job(spec, 0, principal="probe"))
    await Worker(JobQueue(redis_url)).arun(drain=True)
    probe_state = await queue.astate(probe.id)
    assert probe_state is not None
    assert probe_state.result is not None
    per_execution = int(probe_state.result["tokens"])
    # Room for four executions' actual tokens; reservations are worst cases (prompt bytes
    # plus max_tokens), so fewer may complete, never more.
    cap = per_execution * 4

    jobs = [
        await queue.aenqueue(_job(spec, n, principal="dave", caps={"principal_day_tokens": cap}))
        for n in range(1, 6)
    ]
    # One slot each: with more, every execution's first call reserves at once and the
    # budget runs out between first and second calls (correct, but a weaker picture).
    workers = [Worker(JobQueue(redis_url), name=f"b{i}") for i in range(2)]
    await asyncio.gather(*(w.arun(drain=True) for w in workers))
    results = []
    for job in jobs:
        state = await queue.astate(job.id)
        assert state is not None
        assert state.result is not None
        results.append(state.result["status"])
    completed = results.count("completed")
    assert completed >= 1
    assert results.count("budget_exceeded") == 5 - completed >= 1
    ledger = RedisBudgetLedger(redis_url)
    spent = ledger.spent(principal="dave")
    ledger.close()
    assert spent.tokens <= cap  # one day budget, enforced across both workers
    assert spent.reserved_tokens == 0
    assert spent.tokens >= completed * per_execution  # really spent, not refused up front
    await queue.aclose()


def test_run_with_queue_enqueues_instead_of_running(redis_url: str, tmp_path: Path) -> None:
    spec = tmp_path / "agent.yaml"
    spec.write_text(
        "name: counter\nmodel: scripted/none\nsystem_prompt: Count.\ntools: [calculator]\n"
    )
    out = CliRunner().invoke(
        app, ["run", str(spec), "--task", "count", "--queue", redis_url, "--json"]
    )
    assert out.exit_code == 0, out.output
    queued = json.loads(out.output)
    state = JobQueue(redis_url).state(queued["job_id"])
    assert state is not None
    assert state.status == "queued"
    assert state.job.execution_id == queued["execution_id"]
    assert state.job.task == "count"
    bad = CliRunner().invoke(app, ["run", str(spec), "--task", "count", "--queue", "http://nope"])
    assert bad.exit_code == 2
    assert "[config_invalid]" in bad.output
