"""Eval runner throughput: samples/s at concurrency C with a scripted model of latency L.

Run: ``.venv/bin/python benchmarks/eval_throughput.py [--latency 0.2] [--samples N]``.

Each sample is one execution of a one-step agent (the model answers at once after
sleeping L) through the full runner: the runtime (in-memory checkpoints), scoring,
the row recorded and sealed in the spool. The bound is C / L samples/s (every slot
always busy, zero overhead). Target: >= 90% of the bound at C = 64. litellm is imported
before the first row, so no row pays its seconds of import. Each row also shows the
process CPU per sample (all threads) and the 1-minute load average when it finished:
on a shared machine the CPU left to this process bounds the rate as much as C / L does.
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

from workbench.evals import run_suite
from workbench.models import Turn, register_script
from workbench.models._litellm import get_litellm
from workbench.settings import get_settings

TARGET = 0.90


def _setup(root: Path, latency: float, samples: int, concurrency: int) -> Path:
    register_script("bench_eval", lambda m, t: Turn.final("The answer is 4.", latency_s=latency))
    (root / "agent.yaml").write_text(
        "name: bench\nmodel: scripted/bench_eval\nsystem_prompt: Answer.\nlimits: {max_steps: 2}\n"
    )
    with (root / "data.jsonl").open("w") as f:
        for i in range(samples):
            f.write(
                json.dumps({"id": f"s{i}", "input": f"What is 2 + 2? ({i})", "target": 4}) + "\n"
            )
    suite = root / f"suite_c{concurrency}.yaml"
    suite.write_text(
        f"name: bench\ndataset: data.jsonl\nversions: {{v1: agent.yaml}}\n"
        f"scorers: [{{name: numeric}}]\nconcurrency: {concurrency}\n"
    )
    return suite


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--samples", type=int, default=0, help="default: 8 * C, at least 64")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 16, 64, 256])
    args = parser.parse_args()
    print(f"L = {args.latency * 1000:.0f} ms; one-step agent through the full runner")
    print(
        f"{'C':>5} {'samples':>8} {'seconds':>8} {'samples/s':>10} {'bound C/L':>10} {'ratio':>6}"
        f" {'cpu ms/s.':>9} {'load':>5}"
    )
    get_litellm()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WORKBENCH_HOME"] = str(Path(tmp) / "home")
        settings = get_settings()
        for c in args.concurrency:
            n = args.samples or max(64, 8 * c) if c > 1 else args.samples or 16
            suite = _setup(Path(tmp), args.latency, n, c)
            t0, cpu0 = time.perf_counter(), time.process_time()
            run = run_suite(suite, settings=settings, progress="none")
            seconds = time.perf_counter() - t0
            cpu_ms = (time.process_time() - cpu0) / n * 1000
            assert run.info["done_now"] == n
            rate, bound = n / seconds, c / args.latency
            print(
                f"{c:>5} {n:>8} {seconds:>8.2f} {rate:>10.1f} {bound:>10.1f} {rate / bound:>6.2f}"
                f" {cpu_ms:>9.2f} {os.getloadavg()[0]:>5.1f}"
            )
            if c == 64:
                verdict = "met" if rate / bound >= TARGET else "NOT met"
                print(f"      target >= {TARGET:.0%} of the bound at C = 64: {verdict}")


if __name__ == "__main__":
    main()
