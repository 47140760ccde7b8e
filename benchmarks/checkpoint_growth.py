"""Storage growth benchmark: bytes stored per step by the full runtime and by a bare LangGraph loop.

Run: ``.venv/bin/python benchmarks/checkpoint_growth.py [--steps 10,100,1000]``.

One execution per size, each in a fresh directory: the scripted model calls one tool
per turn until the last step, then answers. Bytes are SQLite pages in use
(``page_count * page_size`` after ``wal_checkpoint(TRUNCATE)``), for the checkpoint
file and the effect journal separately. "net" subtracts the bytes of the same files
freshly created with their empty schema (measured in this run), so bytes per step is
not skewed by the fixed schema pages at small sizes.

The full runtime checkpoints counters only and keeps messages in the journal, so its
bytes per step should stay flat; the bare loop (``add_messages`` + ``AsyncSqliteSaver``)
checkpoints the whole message list at every super-step, so its bytes per step grow
with the length of the execution. Target: full-runtime total net bytes per step within
20% across the sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import _common as c
import aiosqlite
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from workbench.runtime import ExecutionStatus, Runtime, SqliteJournal
from workbench.settings import get_settings
from workbench.tracing import tracer_for

TARGET_SPREAD = 0.20


async def _empty_checkpoint_bytes(path: Path) -> int:
    conn = await aiosqlite.connect(str(path))
    for pragma in c.PRAGMAS:
        await conn.execute(pragma)
    await AsyncSqliteSaver(conn).setup()
    await conn.close()
    return c.sqlite_bytes(path)


def _empty_journal_bytes(path: Path) -> int:
    SqliteJournal(path).close()
    return c.sqlite_bytes(path)


async def _full(home: Path, steps: int) -> tuple[int, int, float]:
    """One ``steps``-step execution of the runtime; returns (checkpoint, journal bytes, s)."""
    settings = get_settings(home)
    tracer = tracer_for(settings.spool_dir)
    runtime = Runtime(settings, tracer=tracer)
    spec = c.agent_spec(c.register(f"growth-full-{steps}", steps), steps + 2)
    try:
        t0 = time.perf_counter()
        result = await runtime.arun(spec, c.TASK)
        elapsed = time.perf_counter() - t0
        assert result.status is ExecutionStatus.COMPLETED, result
        assert result.steps == steps, (result.steps, steps)
    finally:
        await runtime.aclose()
        runtime.journal.close()
        tracer.shutdown()
    return c.sqlite_bytes(settings.checkpoint_path), c.sqlite_bytes(settings.journal_path), elapsed


async def _bare(path: Path, steps: int) -> tuple[int, float]:
    """One ``steps``-step execution of the bare loop; returns (checkpoint bytes, seconds)."""
    model = c.register(f"growth-bare-{steps}", steps)
    conn, graph = await c.open_async_bare(path, c.model_reply(model))
    config: Any = {
        "configurable": {"thread_id": uuid.uuid4().hex},
        "recursion_limit": 2 * (steps + 2),
    }
    try:
        t0 = time.perf_counter()
        state = await graph.ainvoke(c.initial_messages(), config, durability="sync")
        elapsed = time.perf_counter() - t0
        assert c.model_calls(state) == steps
    finally:
        await conn.close()
    return c.sqlite_bytes(path), elapsed


def _kib(n: float) -> str:
    return f"{n / 1024:10.1f}"


async def _main(sizes: list[int], bare_budget_s: float) -> None:
    # litellm takes seconds to import: pay it before any execution is timed.
    await asyncio.to_thread(importlib.import_module, "litellm")
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-growth-"))
    try:
        empty_ckpt = await _empty_checkpoint_bytes(tmp / "empty-checkpoints.sqlite")
        empty_journal = _empty_journal_bytes(tmp / "empty-journal.sqlite")
        print(
            f"empty schema: checkpoint file {empty_ckpt:,} B, journal file {empty_journal:,} B "
            "(subtracted for 'net')"
        )
        print("full runtime (one execution per size; KiB; B/step is net bytes per step)")
        print(
            f"    {'steps':>6} {'ckpt KiB':>10} {'journal KiB':>11} {'total KiB':>10}"
            f" {'ckpt B/step':>12} {'jrnl B/step':>12} {'total B/step':>13} {'gross B/step':>13}"
            f" {'time s':>7}"
        )
        per_step: list[float] = []
        for n in sizes:
            ckpt, journal, elapsed = await _full(tmp / f"full-{n}", n)
            net_c, net_j = ckpt - empty_ckpt, journal - empty_journal
            per_step.append((net_c + net_j) / n)
            print(
                f"    {n:>6} {_kib(ckpt)} {_kib(journal):>11} {_kib(ckpt + journal)}"
                f" {net_c / n:12,.0f} {net_j / n:12,.0f} {(net_c + net_j) / n:13,.0f}"
                f" {(ckpt + journal) / n:13,.0f} {elapsed:7.2f}"
            )
        spread = max(per_step) / min(per_step) - 1
        ok = spread <= TARGET_SPREAD
        print(
            f"    spread of net bytes/step across {','.join(map(str, sizes))}: {spread:.1%}"
            f" (target <= {TARGET_SPREAD:.0%}): {'target met' if ok else 'target missed'}"
        )
        print("bare LangGraph loop (add_messages + AsyncSqliteSaver; checkpoint file only)")
        print(f"    {'steps':>6} {'ckpt KiB':>10} {'net B/step':>12} {'time s':>7}")
        previous: tuple[int, float] | None = None
        for n in sizes:
            if previous is not None:
                # Bytes and time grow with the square of the steps: extrapolate before running.
                estimate = previous[1] * (n / previous[0]) ** 2
                if estimate > bare_budget_s:
                    print(
                        f"    {n:>6} skipped: estimated {estimate:.0f} s (quadratic from "
                        f"{previous[0]} steps) > --bare-budget-s {bare_budget_s:.0f}"
                    )
                    continue
            ckpt, elapsed = await _bare(tmp / f"bare-{n}.sqlite", n)
            previous = (n, elapsed)
            print(f"    {n:>6} {_kib(ckpt)} {(ckpt - empty_ckpt) / n:12,.0f} {elapsed:7.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", default="10,100,1000", help="comma-separated execution sizes")
    parser.add_argument(
        "--bare-budget-s",
        type=float,
        default=60.0,
        help="skip a bare-loop size whose extrapolated time exceeds this",
    )
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.steps.split(","))
    asyncio.run(_main(sizes, args.bare_budget_s))


if __name__ == "__main__":
    main()
