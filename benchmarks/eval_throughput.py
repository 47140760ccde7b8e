"""Eval runner throughput: samples/s at concurrency C with a scripted model of latency L.

Run: ``.venv/bin/python benchmarks/eval_throughput.py [--latency 0.2] [--samples N]
[--concurrency 1 16 64 256] [--workers 1 2]``.

Each sample is one execution of a one-step agent (the model answers at once after
sleeping L) through the full runner: the runtime (in-memory checkpoints), scoring,
the row recorded and sealed in the spool. The bound is C / L samples/s (every slot
always busy, zero overhead). Target: >= 90% of the bound at C = 64 on 2 cores.

Every C runs once per ``--workers`` value in the same process, so the rows of workers 1
are the baseline of the others, measured under the same load. With workers > 1 the
units run in that many spawned processes (started and warmed once, before the first
row: the start-up is printed on its own line). litellm is imported before the first
row, so no row pays its seconds of import. Each row shows the CPU per sample of all
processes (runner and workers; ``runner`` alone beside it) and the 1-minute load average
when it finished: on a shared machine the CPU left to the run bounds the rate as much
as C / L does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench._util import run_sync
from workbench.evals import run_suite
from workbench.models import Turn, register_script
from workbench.models._litellm import get_litellm
from workbench.settings import get_settings

TARGET = 0.90
_LATENCY_ENV = "WORKBENCH_BENCH_EVAL_LATENCY_S"  # WORKBENCH_*: travels to worker processes


def _answer(messages: object, tools: object) -> Turn:
    return Turn.final("The answer is 4.", latency_s=float(os.environ.get(_LATENCY_ENV, "0.2")))


# The agent spec imports this module (``imports: [eval_throughput]``), so worker
# processes register the model too.
register_script("bench_eval", _answer)


def _setup(root: Path, samples: int, concurrency: int, workers: int) -> Path:
    (root / "agent.yaml").write_text(
        "name: bench\nmodel: scripted/bench_eval\nimports: [eval_throughput]\n"
        "system_prompt: Answer.\nlimits: {max_steps: 2}\n"
    )
    with (root / "data.jsonl").open("w") as f:
        for i in range(samples):
            f.write(
                json.dumps({"id": f"s{i}", "input": f"What is 2 + 2? ({i})", "target": 4}) + "\n"
            )
    suite = root / f"suite_c{concurrency}_w{workers}.yaml"
    suite.write_text(
        f"name: bench\ndataset: data.jsonl\nversions: {{v1: agent.yaml}}\n"
        f"scorers: [{{name: numeric}}]\nconcurrency: {concurrency}\nworkers: {workers}\n"
    )
    return suite


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds of this process plus the given (live) processes."""
    total = time.process_time()
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def _start_workers(n: int) -> list[int]:
    from workbench.evals._workers import get_pool

    pool = get_pool(n)
    t0 = time.perf_counter()
    run_sync(pool.astart())
    print(
        f"      workers {n}: {len(pool.pids)} processes started in {time.perf_counter() - t0:.1f} s"
    )
    return pool.pids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--samples", type=int, default=0, help="default: 8 * C, at least 64")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 16, 64, 256])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    os.environ[_LATENCY_ENV] = str(args.latency)
    print(f"L = {args.latency * 1000:.0f} ms; one-step agent through the full runner")
    print(
        f"{'C':>5} {'workers':>7} {'samples':>8} {'seconds':>8} {'samples/s':>10}"
        f" {'bound C/L':>10} {'ratio':>6} {'vs w1':>6} {'cpu ms/s.':>9} {'runner':>7} {'load':>5}"
    )
    get_litellm()
    baseline: dict[int, float] = {}
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_HOME"] = str(Path(tmp) / "home")
        settings = get_settings()
        for workers in args.workers:
            pids = _start_workers(workers) if workers > 1 else []
            for c in args.concurrency:
                n = args.samples or max(64, 8 * c) if c > 1 else args.samples or 16
                suite = _setup(Path(tmp), n, c, workers)
                t0, cpu0, own0 = time.perf_counter(), _cpu_s(pids), time.process_time()
                run = run_suite(suite, settings=settings, progress="none")
                seconds = time.perf_counter() - t0
                cpu_ms = (_cpu_s(pids) - cpu0) / n * 1000
                own_ms = (time.process_time() - own0) / n * 1000
                assert run.info["done_now"] == n
                assert run.info["failed_now"] == 0, run.info
                rate, bound = n / seconds, c / args.latency
                baseline.setdefault(c, rate)
                print(
                    f"{c:>5} {workers:>7} {n:>8} {seconds:>8.2f} {rate:>10.1f} {bound:>10.1f}"
                    f" {rate / bound:>6.2f} {rate / baseline[c]:>6.2f} {cpu_ms:>9.2f}"
                    f" {own_ms:>7.2f} {os.getloadavg()[0]:>5.1f}"
                )
                if c == 64:
                    met = "met" if rate / bound >= TARGET else "NOT met"
                    verdicts.append(
                        f"workers {workers}: {rate / bound:.2f} of the bound at C = 64,"
                        f" target >= {TARGET:.0%}: {met}"
                    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for line in verdicts:
        print(line)


if __name__ == "__main__":
    main()
