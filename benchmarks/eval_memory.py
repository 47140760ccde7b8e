"""Eval runner memory: peak RSS of a run of N samples, for N = 1,000 and 10,000.

Run: ``.venv/bin/python benchmarks/eval_memory.py [--sizes 1000 10000]``.

Each size runs in a fresh child process (so peaks do not mix) through the full runner
with a zero-latency one-step scripted agent at concurrency 64; the child reports its
peak RSS (``ru_maxrss``) before and after the run. Results stream to the spool as
they finish, so the run's own growth should be flat in N. Target: the 10,000-sample
run's growth within 1.5x of the 1,000-sample run's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]


def _child(samples: int) -> None:
    sys.path.insert(0, str(ROOT))
    from workbench.evals import run_suite
    from workbench.models import Turn, get_scripted_model, register_script

    register_script("bench_mem", lambda m, t: Turn.final("The answer is 4."))
    root = Path(tempfile.mkdtemp())
    os.environ["WORKBENCH_HOME"] = str(root / "home")
    (root / "agent.yaml").write_text(
        "name: bench\nmodel: scripted/bench_mem\nsystem_prompt: Answer.\nlimits: {max_steps: 2}\n"
    )
    with (root / "data.jsonl").open("w") as f:
        for i in range(samples):
            f.write(
                json.dumps({"id": f"s{i}", "input": f"What is 2 + 2? ({i})", "target": 4}) + "\n"
            )
    (root / "suite.yaml").write_text(
        "name: mem\ndataset: data.jsonl\nversions: {v1: agent.yaml}\n"
        "scorers: [{name: numeric}]\nconcurrency: 64\n"
    )
    import litellm  # noqa: F401  (imported before the baseline is taken)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    run = run_suite(root / "suite.yaml", progress="none")
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scripted = get_scripted_model("bench_mem")
    print(
        json.dumps(
            {
                "samples": run.info["done_now"],
                "before_kib": before,
                "peak_kib": after,
                "seconds": seconds,
                "scripted_calls_kept": len(scripted.calls),
                "scripted_calls_seen": scripted.call_count,
                "load": os.getloadavg()[0],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--child", type=int, default=0)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    print(
        f"{'samples':>8} {'base MiB':>9} {'peak MiB':>9} {'growth MiB':>11} {'seconds':>8}"
        f" {'calls kept/seen':>16} {'load':>5}"
    )
    growth = {}
    for n in args.sizes:
        out = (
            subprocess.run(
                [sys.executable, __file__, "--child", str(n)],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        data = json.loads(out)
        growth[n] = (data["peak_kib"] - data["before_kib"]) / 1024
        print(
            f"{n:>8} {data['before_kib'] / 1024:>9.1f} {data['peak_kib'] / 1024:>9.1f}"
            f" {growth[n]:>11.1f} {data['seconds']:>8.1f}"
            f" {data['scripted_calls_kept']:>7}/{data['scripted_calls_seen']:<8}"
            f" {data['load']:>5.1f}"
        )
    if len(growth) >= 2:
        small, big = min(growth), max(growth)
        ratio = growth[big] / max(growth[small], 1.0)
        print(
            f"growth {big} / {small}: {ratio:.2f}x (target <= 1.5x:"
            f" {'met' if ratio <= 1.5 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
