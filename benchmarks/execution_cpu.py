"""CPU per execution on the runtime's hot path: Python calls and CPU µs per execution.

Run: ``.venv/bin/python benchmarks/execution_cpu.py [--executions 2000] [--profile 300]``.

Load-proof figures for one execution of a one-step agent (a zero-latency scripted model
answers at once) through ``Runtime.arun``:

- cProfile's count of Python function calls per execution (does not depend on load);
- ``time.process_time()`` per execution, CPU µs (only this process's CPU, so load on
  other cores does not count, though a loaded machine still slows each instruction).

Rows, measured in the same run, interleaved in rounds so load drifts hit all alike:

- runtime, in memory: ``Runtime(durable=False)`` (what the eval runner uses);
- runtime, durable: ``Runtime()`` with its SQLite checkpointer and journal (the server);
- floor, litellm: a bare ``litellm.acompletion`` of the same scripted model;
- floor, LangGraph: a bare two-node ``StateGraph`` (no checkpointer) invocation.

The floors are what any implementation pays; each runtime row is also printed as a ratio
to their sum, which a loaded machine changes less than the absolute figures.

Target: Python calls per in-memory execution at most 0.9x those of the code before this
work (``BEFORE_CALLS``, measured with this script on commit 61db800; ``--before-calls``
to compare against another figure). Calls are counted on the event loop's thread only:
litellm's ``completion`` on its executor thread and the tracer's export thread are in
the CPU figures, not in the call counts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypedDict

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langgraph.graph import END, START, StateGraph

from workbench.models import Turn, register_script
from workbench.models._litellm import get_litellm
from workbench.runtime import AgentSpec, ExecutionStatus, LimitsOverride, Runtime

BEFORE_CALLS = 5442.0
"""Calls per in-memory execution on commit 61db800 (before this work), same script."""
MODEL = register_script("exec_cpu", lambda messages, tools: Turn.final("The answer is 4."))
TARGET = 0.90
Run = Callable[[int], Awaitable[None]]


class _State(TypedDict):
    n: int


def _spec() -> AgentSpec:
    return AgentSpec(
        name="exec_cpu",
        model=MODEL,
        system_prompt="Answer.",
        limits=LimitsOverride(max_steps=2),
    )


def _runtime_run(runtime: Runtime, spec: AgentSpec) -> Run:
    async def run(i: int) -> None:
        result = await runtime.arun(spec, f"What is 2 + 2? ({i})")
        assert result.status is ExecutionStatus.COMPLETED, result

    return run


def _litellm_run() -> Run:
    litellm = get_litellm()

    async def run(i: int) -> None:
        response = await litellm.acompletion(
            model=MODEL,
            messages=[
                {"role": "system", "content": "Answer."},
                {"role": "user", "content": f"What is 2 + 2? ({i})"},
            ],
            timeout=60.0,
            num_retries=0,
            max_retries=0,
        )
        assert response.choices[0].message.content == "The answer is 4."

    return run


def _langgraph_run() -> Run:
    async def one(state: _State) -> dict[str, Any]:
        return {"n": state["n"] + 1}

    async def two(state: _State) -> dict[str, Any]:
        return {"n": state["n"] + 1}

    graph: StateGraph[_State] = StateGraph(_State)
    graph.add_node("one", one)
    graph.add_node("two", two)
    graph.add_edge(START, "one")
    graph.add_edge("one", "two")
    graph.add_edge("two", END)
    compiled = graph.compile()

    async def run(i: int) -> None:
        final = await compiled.ainvoke({"n": i})
        assert final["n"] == i + 2

    return run


async def _cpu(run: Run, n: int, start: int) -> float:
    """CPU µs per execution over ``n`` executions."""
    cpu0 = time.process_time()
    for i in range(start, start + n):
        await run(i)
    return (time.process_time() - cpu0) / n * 1e6


async def _calls(run: Run, n: int, start: int) -> tuple[float, cProfile.Profile]:
    """Python function calls per execution over ``n`` executions (cProfile)."""
    profile = cProfile.Profile()
    profile.enable()
    for i in range(start, start + n):
        await run(i)
    profile.disable()
    stats: Any = pstats.Stats(profile)
    return stats.total_calls / n, profile


def _top(profile: cProfile.Profile, n: int, top: int) -> None:
    raw: Any = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = []
    for (file, line, name), (_cc, ncalls, tottime, cumtime, _callers) in raw.items():
        where = f"{Path(file).name}:{line}({name})" if line else name
        if "site-packages/" in file:
            where = file.split("site-packages/", 1)[1] + f":{line}({name})"
        elif "/workbench/" in file:
            where = "workbench/" + file.split("/workbench/", 1)[1] + f":{line}({name})"
        rows.append((cumtime, ncalls, tottime, where))
    print(f"    top {top} by cumulative time (calls/exec, own µs/exec, cum µs/exec):")
    for cum, calls, tot, where in sorted(rows, reverse=True)[:top]:
        print(f"      {calls / n:8.1f} {tot / n * 1e6:9.1f} {cum / n * 1e6:9.1f}  {where}")


async def _main(args: argparse.Namespace) -> None:
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    get_litellm()
    spec = _spec()
    memory = Runtime(durable=False)
    durable = Runtime()
    rows: dict[str, Run] = {
        "runtime, in memory": _runtime_run(memory, spec),
        "runtime, durable (SQLite)": _runtime_run(durable, spec),
        "floor: bare litellm.acompletion": _litellm_run(),
        "floor: bare LangGraph 2 nodes": _langgraph_run(),
    }
    counter = 0
    for run in rows.values():  # warm-up: first compile, first litellm call, imports
        for _ in range(20):
            await run(counter)
            counter += 1
    cpu: dict[str, list[float]] = {name: [] for name in rows}
    per_round = max(1, args.executions // args.rounds)
    for _ in range(args.rounds):
        for name, run in rows.items():
            cpu[name].append(await _cpu(run, per_round, counter))
            counter += per_round
    calls: dict[str, float] = {}
    profiles: dict[str, cProfile.Profile] = {}
    for name, run in rows.items():
        calls[name], profiles[name] = await _calls(run, args.profile, counter)
        counter += args.profile
    await memory.aclose()
    await durable.aclose()

    print(
        f"{per_round * args.rounds} executions per row ({args.rounds} interleaved rounds of"
        f" {per_round}), calls over {args.profile}; CPU = process time, all threads"
    )
    print(
        f"  {'row':<34} {'calls/exec':>10} {'CPU µs/exec min':>16} {'median':>8}"
        f" {'x floors (min)':>15}"
    )
    best = {name: min(values) for name, values in cpu.items()}
    floor_calls = calls["floor: bare litellm.acompletion"] + calls["floor: bare LangGraph 2 nodes"]
    floor_cpu = best["floor: bare litellm.acompletion"] + best["floor: bare LangGraph 2 nodes"]
    for name in rows:
        ratio = f"{best[name] / floor_cpu:.2f}" if name.startswith("runtime") else ""
        print(
            f"  {name:<34} {calls[name]:>10.0f} {best[name]:>16.0f}"
            f" {statistics.median(cpu[name]):>8.0f} {ratio:>15}"
        )
    for name in ("runtime, in memory", "runtime, durable (SQLite)"):
        print(
            f"  {name}: {calls[name] - floor_calls:+.0f} calls and"
            f" {best[name] - floor_cpu:+.0f} µs beside the two floors together"
        )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    ratio = calls["runtime, in memory"] / args.before_calls
    met = "met" if ratio <= TARGET else "NOT met"
    print(
        f"in-memory calls/exec {calls['runtime, in memory']:.0f} vs {args.before_calls:.0f}"
        f" before: {ratio:.2f}x, target <= {TARGET}: {met}"
    )
    if args.top:
        for name in ("runtime, in memory", "runtime, durable (SQLite)"):
            print(f"  {name}:")
            _top(profiles[name], args.profile, args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=2000, help="timed, per row")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--profile", type=int, default=300, help="profiled executions per row")
    parser.add_argument("--top", type=int, default=0, help="print the top N functions")
    parser.add_argument(
        "--before-calls",
        type=float,
        default=BEFORE_CALLS,
        help="calls/exec of the in-memory runtime before the change, for the verdict",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_HOME"] = str(Path(tmp) / "home")
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
