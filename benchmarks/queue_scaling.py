"""queue_scaling: throughput of executions over the Redis Streams queue with 1, 2 and 4
workers, beside the in-process runner, in one run.

Each execution is two model calls of a scripted model with a fixed latency (a tool call,
then the answer) and one calculator call. The workers are separate ``Worker`` instances
(own Redis connections, own runtime, one slot each) in this process: the model's latency
is an asyncio sleep, so they overlap as separate processes would, and the figures
isolate the queue (XREADGROUP, XACK, job hashes, heartbeats) from process start-up.
Redis is a real ``redis-server`` started through the service manager.

Prints jobs/s for each configuration, the ratio to linear scaling (n workers against n
times one worker), and the queue's per-job overhead (one worker against the in-process
runner, both sequential).

``--mode evals`` (and ``both``, the default) measures eval samples the same way: a suite
of ``--samples`` units (one model call of the same latency each, scored by ``includes``)
run by the in-process eval runner (at concurrency 1 and at the workers' total of 4) and
by ``arun_suite(..., queue=url)`` with 1, 2 and 4 workers of one slot each (the runner's
window, the suite's ``concurrency``, is 8 units), every unit recorded in the trace store.

    .venv/bin/python benchmarks/queue_scaling.py [--jobs 24] [--latency 0.1]
        [--mode executions|evals|both] [--samples 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from workbench.evals import ScorerSpec, Suite, arun_suite
from workbench.models import Turn, register_script
from workbench.queue import Job, JobQueue, Worker
from workbench.runtime import AgentSpec, Runtime
from workbench.services import start_service, stop_service
from workbench.settings import get_settings


def _spec(latency: float) -> AgentSpec:
    def script(messages: list[dict[str, Any]], tools: Any) -> Turn:
        if not any(m.get("role") == "tool" for m in messages):
            return Turn(
                tool_calls=Turn.call("calculator", expression="6*7").tool_calls, latency_s=latency
            )
        return Turn(text="42", latency_s=latency)

    model = register_script("bench-queue", script)
    return AgentSpec(name="bench", model=model, system_prompt="Count.", tools=["calculator"])


async def _in_process(spec: AgentSpec, jobs: int, tag: str) -> float:
    runtime = Runtime(get_settings())
    start = time.perf_counter()
    for n in range(jobs):
        result = await runtime.arun(spec, f"task {n}", execution_id=f"ex-{tag}-{n}")
        assert result.status.value == "completed", result
    elapsed = time.perf_counter() - start
    await runtime.aclose()
    return elapsed


async def _queued(url: str, spec: AgentSpec, jobs: int, workers: int, tag: str) -> float:
    queue = JobQueue(url, name=tag)
    await queue.aensure_group()
    pool = [
        Worker(JobQueue(url, name=tag), shared_limits=False, name=f"{tag}-{i}")
        for i in range(workers)
    ]
    ids = [
        (
            await queue.aenqueue(
                Job(execution_id=f"ex-{tag}-{n}", spec=spec.model_dump(mode="json"), task=f"t {n}")
            )
        ).id
        for n in range(jobs)
    ]
    start = time.perf_counter()
    await asyncio.gather(*(w.arun(drain=True) for w in pool))
    elapsed = time.perf_counter() - start
    for job_id in ids:
        state = await queue.astate(job_id)
        assert state is not None
        assert state.status == "completed", state
    await queue.aclose()
    return elapsed


def _suite(root: Path, samples: int, latency: float, concurrency: int) -> Suite:
    def script(messages: list[dict[str, Any]], tools: Any) -> Turn:
        return Turn(text="the answer is 42", latency_s=latency)

    model = register_script("bench-queue-eval", script)
    spec = root / "agent.yaml"
    spec.write_text(f"name: bench\nmodel: {model}\nsystem_prompt: Answer.\n")
    data = root / "samples.jsonl"
    data.write_text(
        "".join(
            f'{{"id": "s{n:04d}", "input": "question {n}", "target": "42"}}\n'
            for n in range(samples)
        )
    )
    return Suite(
        name="bench_queue",
        dataset=data,
        versions={"v1": spec},
        scorers=[ScorerSpec(name="includes")],
        concurrency=concurrency,
    )


async def _evals(url: str, root: Path, samples: int, latency: float) -> None:
    print()
    print(f"eval samples {samples}, model latency {latency * 1000:.0f} ms x 1 call per sample")
    warm = _suite(root, 4, latency, 4)
    await arun_suite(warm, progress="none")
    rates: dict[str, float] = {}
    for concurrency in (1, 4):
        suite = _suite(root, samples, latency, concurrency)
        start = time.perf_counter()
        run = await arun_suite(suite, progress="none")
        rates[f"local{concurrency}"] = samples / (time.perf_counter() - start)
        assert run.info["done_now"] == samples
        print(
            f"in-process eval runner, concurrency {concurrency}: "
            f"{rates[f'local{concurrency}']:7.2f} samples/s"
        )
    suite = _suite(root, samples, latency, 8)
    for workers in (1, 2, 4):
        name = f"ev{workers}"
        pool = [
            Worker(JobQueue(url, name=name), shared_limits=False, name=f"{name}-{i}")
            for i in range(workers)
        ]
        tasks = [asyncio.create_task(w.arun()) for w in pool]
        start = time.perf_counter()
        run = await arun_suite(suite, progress="none", queue=url, queue_name=name)
        elapsed = time.perf_counter() - start
        for w in pool:
            w.stop()
        await asyncio.gather(*tasks)
        assert run.info["done_now"] == samples, run.info
        assert int(run.samples_frame()["status"].eq("completed").sum()) == samples
        rate = samples / elapsed
        rates[name] = rate
        if workers == 1:
            overhead = (1 / rate - 1 / rates["local1"]) * 1000
            print(
                f"queue, 1 worker:  {rate:7.2f} samples/s  ratio to in-process (concurrency 1) "
                f"{rate / rates['local1']:.2f}  per-sample queue overhead {overhead:.1f} ms"
            )
        else:
            print(
                f"queue, {workers} workers: {rate:7.2f} samples/s  ratio to linear "
                f"({workers} x 1 worker) {rate / (workers * rates['ev1']):.2f}"
                + (
                    f"  ratio to in-process at concurrency 4 {rate / rates['local4']:.2f}"
                    if workers == 4
                    else ""
                )
            )


async def main(jobs: int, latency: float, mode: str, samples: int) -> None:
    spec = _spec(latency)
    root = Path(tempfile.mkdtemp(prefix="wb-bench-queue-"))
    os.environ["WORKBENCH_HOME"] = str(root / "wb")
    info = start_service("redis", settings=get_settings(root / "wb"))
    url = str(info.extra["redis_url"])
    try:
        if mode in ("evals", "both"):
            await _evals(url, root, samples, latency)
        if mode == "evals":
            return
        await _in_process(spec, 2, "warm")  # imports litellm, opens the stores
        base = await _in_process(spec, jobs, "inproc")
        print(f"jobs {jobs}, model latency {latency * 1000:.0f} ms x 2 calls per execution")
        print(
            f"in-process runner (sequential): {jobs / base:7.2f} jobs/s"
            f"  ({base / jobs * 1000:.1f} ms/job)"
        )
        one = 0.0
        for workers in (1, 2, 4):
            elapsed = await _queued(url, spec, jobs, workers, f"w{workers}")
            rate = jobs / elapsed
            if workers == 1:
                one = rate
                overhead = (elapsed - base) / jobs * 1000
                print(
                    f"queue, 1 worker:  {rate:7.2f} jobs/s  ratio to in-process "
                    f"{rate / (jobs / base):.2f}  per-job queue overhead {overhead:.1f} ms"
                )
            else:
                print(
                    f"queue, {workers} workers: {rate:7.2f} jobs/s  ratio to linear "
                    f"({workers} x 1 worker) {rate / (workers * one):.2f}"
                )
    finally:
        stop_service("redis", settings=get_settings(root / "wb"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--mode", choices=("executions", "evals", "both"), default="both")
    parser.add_argument("--samples", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.latency, args.mode, args.samples))
    sys.exit(0)
