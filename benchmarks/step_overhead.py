"""Loop overhead benchmark: time per ReAct step of the full runtime beside a bare LangGraph loop.

Run: ``.venv/bin/python benchmarks/step_overhead.py [--executions N] [--steps S] [--profile K]``.

Every loop runs S-step executions (S model calls: S-1 calls of one tool, then an
answer) of the same zero-latency scripted model, measured in this run, interleaved:

- full: ``Runtime`` with its SQLite checkpointer, effect journal and spool tracer;
- bare async: ``add_messages`` + ``AsyncSqliteSaver``, ``ainvoke(durability="sync")``,
  model replies through the same ``workbench.models.acomplete``;
- bare sync: ``add_messages`` + ``SqliteSaver``, ``invoke(durability="sync")``, replies
  through the sync ``workbench.models.complete``;
- bare async, no model: the script function called directly (how much is litellm);
- bare async, SQLite defaults: as the bare async loop but without WAL/synchronous=NORMAL.

The bare loops get the runtime's SQLite pragmas (WAL, synchronous=NORMAL) so the ratio
is about the loop, not fsync settings. Target: full / fastest bare (with a model) <= 1.0.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import _common as c

from workbench.runtime import ExecutionStatus, Runtime
from workbench.settings import get_settings
from workbench.tracing import tracer_for

TARGET_RATIO = 1.0
WARMUP = 3

Measure = Callable[[], Coroutine[Any, Any, tuple[float, int]]]


def _config(max_steps: int) -> Any:
    return {
        "configurable": {"thread_id": uuid.uuid4().hex},
        "recursion_limit": 2 * (max_steps + 2),
    }


def _stats(samples: list[float]) -> tuple[float, float]:
    return statistics.fmean(samples), statistics.median(samples)


def _area(file: str, name: str) -> str:
    """Which package a profiled function belongs to."""
    if file == "~":
        if "epoll" in name:
            return "waiting in epoll (other threads: aiosqlite, to_thread)"
        return ""  # a builtin: charged to its callers' areas
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/workbench/" in file:
        parts = file.split("/workbench/", 1)[1].split("/")
        return "workbench." + parts[0].removesuffix(".py")
    if "/benchmarks/" in file:
        return "benchmark code"
    return "stdlib " + Path(file).parent.name if "/asyncio/" in file else "stdlib"


def _by_area(profile: cProfile.Profile) -> dict[str, float]:
    """Own time by area; a builtin's own time goes to its callers' areas, pro rata."""
    raw: Any = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    areas: dict[str, float] = {}
    for (file, _line, name), (_cc, _nc, tottime, _ct, callers) in raw.items():
        area = _area(file, name)
        if area:
            areas[area] = areas.get(area, 0.0) + tottime
            continue
        total = sum(v[2] for v in callers.values()) or 1.0
        for (cfile, _cline, cname), caller in callers.items():
            carea = _area(cfile, cname) or "builtins"
            areas[carea] = areas.get(carea, 0.0) + tottime * caller[2] / total
    return areas


def _top(profile: cProfile.Profile, steps: int, top: int) -> None:
    raw: Any = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = []
    for (file, line, name), (_cc, ncalls, tottime, _cumtime, _callers) in raw.items():
        where = f"{Path(file).name}:{line}({name})" if line else name
        if "site-packages/" in file:
            where = file.split("site-packages/", 1)[1] + f":{line}({name})"
        elif "/workbench/" in file:
            where = "workbench/" + file.split("/workbench/", 1)[1] + f":{line}({name})"
        rows.append((tottime, ncalls, where))
    print(f"    top {top} functions of the full loop by own time (calls/step, own ms/step):")
    for tot, n, where in sorted(rows, reverse=True)[:top]:
        print(f"      {n / steps:8.1f} {tot / steps * 1e3:8.3f}  {where}")


def _print_profiles(profiles: dict[str, cProfile.Profile], steps: int) -> None:
    areas = {name: _by_area(p) for name, p in profiles.items()}
    names = list(profiles)
    keys = sorted({k for a in areas.values() for k in a}, key=lambda k: -areas[names[0]].get(k, 0))
    print("    own time by area, ms/step (a builtin is charged to its caller's area):")
    print(f"      {'area':<56}" + "".join(f"{n:>14}" for n in names))
    for key in keys:
        cells = "".join(f"{areas[n].get(key, 0.0) / steps * 1e3:14.3f}" for n in names)
        print(f"      {key:<56}{cells}")
    totals = "".join(f"{sum(areas[n].values()) / steps * 1e3:14.3f}" for n in names)
    print(f"      {'total (profiled, so slower than the timings above)':<56}{totals}")
    _top(profiles[names[0]], steps, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=30, help="measured executions per loop")
    parser.add_argument("--steps", type=int, default=10, help="model calls per execution")
    parser.add_argument(
        "--profile", type=int, default=0, help="then profile this many full executions"
    )
    args = parser.parse_args()
    steps: int = args.steps
    max_steps = steps + 2
    model = c.register("bench-step", steps)
    spec = c.agent_spec(model, max_steps)
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-step-"))
    settings = get_settings(tmp / "home")
    tracer = tracer_for(settings.spool_dir)
    runtime = Runtime(settings, tracer=tracer)
    try:
        with asyncio.Runner() as runner:
            conns: list[Any] = []

            async def open_async(name: str, reply: c.ReplyFn, pragmas: bool = True) -> Any:
                conn, graph = await c.open_async_bare(tmp / name, reply, pragmas=pragmas)
                conns.append(conn)
                return graph

            bare_async = runner.run(open_async("bare-async.sqlite", c.model_reply(model)))
            bare_python = runner.run(open_async("bare-python.sqlite", c.python_reply(steps)))
            bare_defaults = runner.run(
                open_async("bare-defaults.sqlite", c.model_reply(model), pragmas=False)
            )
            sync_conn, bare_sync = c.open_sync_bare(tmp / "bare-sync.sqlite", model)

            async def full() -> tuple[float, int]:
                t0 = time.perf_counter()
                result = await runtime.arun(spec, c.TASK)
                dt = time.perf_counter() - t0
                assert result.status is ExecutionStatus.COMPLETED, result
                return dt, result.steps

            def async_graph(graph: Any) -> Measure:
                async def measure() -> tuple[float, int]:
                    t0 = time.perf_counter()
                    state = await graph.ainvoke(
                        c.initial_messages(), _config(max_steps), durability="sync"
                    )
                    return time.perf_counter() - t0, c.model_calls(state)

                return measure

            def sync_graph() -> tuple[float, int]:
                t0 = time.perf_counter()
                state = bare_sync.invoke(
                    c.initial_messages(), _config(max_steps), durability="sync"
                )
                return time.perf_counter() - t0, c.model_calls(state)

            Loops = dict[str, Callable[[], tuple[float, int]]]
            # litellm's logging worker is bound to one event loop and rebinds (dropping its
            # task) whenever calls alternate between loops; the sync loop's calls run on
            # workbench's worker loop, so it is measured in a phase of its own.
            phases: list[Loops] = [
                {
                    "full runtime": lambda: runner.run(full()),
                    "bare async (acomplete)": lambda: runner.run(async_graph(bare_async)()),
                    "bare async, no model": lambda: runner.run(async_graph(bare_python)()),
                    "bare async, SQLite defaults": lambda: runner.run(async_graph(bare_defaults)()),
                },
                {"bare sync (complete)": sync_graph},
            ]
            per_step: dict[str, list[float]] = {name: [] for loops in phases for name in loops}
            t_start = time.perf_counter()
            for loops in phases:
                for _ in range(WARMUP):
                    for fn in loops.values():
                        fn()
                for _ in range(args.executions):
                    for name, fn in loops.items():  # interleaved, so drift hits each alike
                        dt, n = fn()
                        assert n == steps, (name, n)
                        per_step[name].append(dt / n * 1e3)
            wall = time.perf_counter() - t_start

            print(
                f"ms per ReAct step, {args.executions} executions x {steps} steps each "
                f"(after {WARMUP} warm-up executions), {wall:.1f} s"
            )
            print(f"    {'loop':<30} {'mean':>8} {'median':>8} {'min':>8}")
            for name, samples in per_step.items():
                mean, median = _stats(samples)
                print(f"    {name:<30} {mean:8.3f} {median:8.3f} {min(samples):8.3f}")
            full_mean, full_median = _stats(per_step["full runtime"])
            with_model = ("bare async (acomplete)", "bare sync (complete)")
            best = min(with_model, key=lambda k: statistics.median(per_step[k]))
            best_mean, best_median = _stats(per_step[best])
            litellm_share = statistics.median(
                per_step["bare async (acomplete)"]
            ) - statistics.median(per_step["bare async, no model"])
            print(
                f"    acomplete + litellm share of bare async (median difference): "
                f"{litellm_share:.3f} ms/step"
            )
            ratio_mean, ratio_median = full_mean / best_mean, full_median / best_median
            print(f"    ratio full / {best}: mean {ratio_mean:.2f}x, median {ratio_median:.2f}x")
            met = ratio_mean <= TARGET_RATIO and ratio_median <= TARGET_RATIO
            print(
                f"    target ratio <= {TARGET_RATIO:.1f} (mean and median): "
                f"{'target met' if met else 'target missed'}"
            )

            if args.profile:
                profiles: dict[str, cProfile.Profile] = {}
                for name, run in (
                    ("full", full),
                    ("bare async", async_graph(bare_async)),
                ):
                    profile = profiles[name] = cProfile.Profile()
                    profile.enable()
                    for _ in range(args.profile):
                        runner.run(run())
                    profile.disable()
                print(
                    f"profile of {args.profile} executions of each "
                    "(cProfile, event-loop thread only)"
                )
                _print_profiles(profiles, args.profile * steps)

            for conn in conns:
                runner.run(conn.close())
            sync_conn.close()
            runner.run(runtime.aclose())
    finally:
        tracer.shutdown()
        runtime.journal.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
