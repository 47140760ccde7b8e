"""Eval samples over the Redis Streams queue: `workbench eval --queue` hands each unit to
workers, which record the rows; the runner waits, the gate and the rows match the
in-process runner, the cost cap and resume work, a redelivered unit is not run twice, and
a worker SIGKILLed mid-sample has its unit reclaimed and finished once. A real Redis is
started through the service manager."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import eval_fixture_models  # noqa: F401  (registers the quiz models in this process)
import pytest
import redis
from eval_helpers import quiz_suite

from workbench.errors import EvalCostCapExceeded
from workbench.evals import EvalRun, Suite, arun_suite, run_suite
from workbench.models import get_scripted_model
from workbench.queue import JobQueue, Worker
from workbench.services import start_service, stop_service
from workbench.settings import get_settings
from workbench.tracing import TraceStore


@pytest.fixture(scope="module")
def redis_server() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="wb-evalq-", dir="/tmp"))
    settings = get_settings(root / "wb")
    info = start_service("redis", settings=settings)
    try:
        yield str(info.extra["redis_url"])
    finally:
        stop_service("redis", settings=settings)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    return redis_server


def _unit_rows(store: TraceStore, run_id: str) -> dict[tuple[str, str, int], int]:
    frame = store.sql(
        "SELECT version, sample_id, epoch, count(*) AS n FROM eval_samples WHERE run_id = ?"
        " GROUP BY ALL",
        [run_id],
    )
    return {(str(v), str(s), int(e)): int(n) for v, s, e, n in frame.itertuples(index=False)}


async def _with_workers(url: str, n: int, coro: Any, **worker: Any) -> Any:
    """Run ``coro`` (a runner) beside ``n`` in-process workers; stop them after."""
    pool = [Worker(JobQueue(url), shared_limits=False, name=f"w{i}", **worker) for i in range(n)]
    tasks = [asyncio.create_task(w.arun()) for w in pool]
    try:
        return await coro
    finally:
        for w in pool:
            w.stop()
        await asyncio.gather(*tasks)


def _scores(run: EvalRun) -> list[tuple[Any, ...]]:
    frame = run.scores_frame()
    frame = frame[~frame["metric"].isin(["latency_ms"])]
    return [tuple(r) for r in frame.itertuples(index=False)]


def test_queued_run_matches_the_in_process_run(tmp_path: Path, redis_url: str) -> None:
    suite = quiz_suite(tmp_path, "queued", v2="quiz_wrong40", extra="concurrency: 4\n")
    local = run_suite(suite, progress="none")
    model = get_scripted_model("quiz_wrong40")
    calls = len(model.calls)

    queued = asyncio.run(
        _with_workers(redis_url, 2, arun_suite(suite, progress="none", queue=redis_url))
    )
    assert len(model.calls) - calls == 12  # one model call per v2 sample, in the workers
    store = TraceStore()
    rows = _unit_rows(store, queued.run_id)
    assert len(rows) == 24
    assert set(rows.values()) == {1}
    assert _scores(queued) == _scores(local)
    assert queued.info["done_now"] == 24
    verdict, expected = queued.gate(), local.gate()
    assert verdict is not None
    assert expected is not None
    assert verdict.passed is expected.passed is False
    state = store.sql("SELECT status, last_row FROM eval_runs WHERE run_id = ?", [queued.run_id])
    assert state["status"].tolist() == ["completed"]
    assert json.loads(state["last_row"].iloc[0])["queue"] == "default"
    # Every job is done and acknowledged; the run's done stream announced each unit.
    queue = JobQueue(redis_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert client.xlen(queue.done_stream(queued.run_id)) == 24
        assert client.xpending(queue.stream, "workers")["pending"] == 0
    finally:
        client.close()


def test_cost_cap_stops_a_queued_run_and_resume_finishes_it(tmp_path: Path, redis_url: str) -> None:
    path = quiz_suite(
        tmp_path,
        "pricey",
        v1="quiz_pricey",
        v2="quiz_pricey",
        extra="cost_cap_usd: 0.02\nforecast_samples: 4\nconcurrency: 4\n",
    )
    started: list[str] = []
    with pytest.raises(EvalCostCapExceeded, match=r"forecast \$.* exceeds cost_cap_usd"):
        asyncio.run(
            _with_workers(
                redis_url,
                2,
                arun_suite(path, progress="none", queue=redis_url, on_start=started.append),
            )
        )
    store = TraceStore()
    (run_id,) = started
    assert sum(_unit_rows(store, run_id).values()) == 4  # the pilot, recorded by workers
    status = store.sql("SELECT status FROM eval_runs WHERE run_id = ?", [run_id])
    assert status["status"].tolist() == ["cost_cap_exceeded"]

    raised = Suite.from_yaml(path).model_copy(update={"cost_cap_usd": 10.0})
    model = get_scripted_model("quiz_pricey")
    calls = len(model.calls)
    run = asyncio.run(
        _with_workers(
            redis_url, 2, arun_suite(raised, run_id=run_id, progress="none", queue=redis_url)
        )
    )
    assert len(model.calls) - calls == 20  # only the units the pilot had not done
    assert run.info["done_before"] == 4
    assert run.info["done_now"] == 20
    rows = _unit_rows(store, run_id)
    assert len(rows) == 24
    assert set(rows.values()) == {1}
    assert run.status == "completed"


def test_a_redelivered_unit_with_a_recorded_row_is_not_run_again(
    tmp_path: Path, redis_url: str
) -> None:
    suite = quiz_suite(tmp_path, "redeliver", dataset="quiz_small.jsonl")
    run = asyncio.run(
        _with_workers(redis_url, 1, arun_suite(suite, progress="none", queue=redis_url))
    )
    model = get_scripted_model("quiz_right")
    calls = len(model.calls)
    store = TraceStore()
    row = run.rows()[0]
    job_id = f"job-{row['execution_id']}"

    # As if its worker died after recording the row, before acknowledging the job.
    async def redeliver() -> int:
        queue = JobQueue(redis_url)
        await queue.aadd_entry(job_id, {"status": "running", "attempts": 1})
        await queue.aclose()
        worker = Worker(JobQueue(redis_url), shared_limits=False, name="again")
        return await worker.arun(drain=True)

    assert asyncio.run(redeliver()) == 1
    state = JobQueue(redis_url).state(job_id)
    assert state is not None
    assert state.status == "completed"
    assert state.attempts == 2
    assert state.result is not None
    assert state.result["reused"] is True
    assert len(model.calls) == calls  # nothing ran again
    assert set(_unit_rows(store, run.run_id).values()) == {1}


@pytest.mark.slow
def test_a_worker_killed_mid_sample_has_its_unit_reclaimed_and_finished_once(
    tmp_path: Path, redis_url: str, workbench_home: Path
) -> None:
    suite = quiz_suite(
        tmp_path,
        "killed",
        v1="quiz_slow",
        v2="quiz_slow",
        dataset="quiz_small.jsonl",
        extra="concurrency: 3\n",
    )
    env = {
        **os.environ,
        "WORKBENCH_HOME": str(workbench_home),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "QUIZ_SLOW_S": "60",  # the child's samples hang until it is killed
    }
    child = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("workbench")),
            "worker",
            "--queue",
            redis_url,
            "--visibility-timeout",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    consumer = f"{socket.gethostname()}-{child.pid}-0"
    queue = JobQueue(redis_url)

    async def scenario() -> tuple[EvalRun, str]:
        started: list[str] = []
        runner = asyncio.create_task(
            arun_suite(suite, progress="none", queue=redis_url, on_start=started.append)
        )
        taken: str | None = None
        deadline = time.monotonic() + 90
        while taken is None:
            assert child.poll() is None, child.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, "the child worker never took a unit"
            await asyncio.sleep(0.1)
            for key in await queue.redis.keys(queue.prefix + "job:*"):
                if await queue.redis.hget(key, "worker") == consumer:
                    taken = key.removeprefix(queue.prefix + "job:")
        await asyncio.sleep(0.3)  # inside the sample: the model call sleeps for a minute
        child.send_signal(signal.SIGKILL)
        await asyncio.to_thread(child.wait, 30)
        # Another worker (here, 0.25 s samples) reclaims it after the visibility timeout.
        run = await _with_workers(redis_url, 1, runner, visibility_timeout_s=2)
        await queue.aclose()
        return run, taken

    try:
        run, job_id = asyncio.run(scenario())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        assert child.stderr is not None
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    state = JobQueue(redis_url).state(job_id)
    assert state is not None
    assert state.status == "completed", state
    assert state.attempts == 2  # the killed delivery and the reclaim
    assert state.worker is not None
    assert state.worker.startswith("w0")
    rows = _unit_rows(TraceStore(), run.run_id)
    assert len(rows) == 24
    assert set(rows.values()) == {1}  # every unit finished once
    assert run.status == "completed"
    assert {r["status"] for r in run.rows()} == {"completed"}
