"""Sandbox latency: a trivial snippet cold and from the warm pool, beside a bare interpreter.

Run: ``.venv/bin/python benchmarks/sandbox_latency.py [--n N]``. Every sample of the
three is taken in turn, in one run, so background load hits them alike:

* bare: ``subprocess.run(["/usr/bin/python3", "-c", "pass"])``;
* cold: ``BubblewrapBackend(pool_size=0).run("pass")``: bwrap, the system Python,
  the runner, the job, the result, end to end through the public sync API;
* warm: the same call on a backend whose pool holds a ready sandbox (the pool is
  refilled, untimed, before each sample).

Targets: warm p50 <= 5 ms; cold p50 <= 1.3x bare p50.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.sandbox import BubblewrapBackend

WARM_P50_TARGET_MS = 5.0
COLD_RATIO_TARGET = 1.3
SNIPPET = "pass"


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50, help="samples of each (default 50)")
    args = parser.parse_args()
    cold_backend = BubblewrapBackend(pool_size=0)
    warm_backend = BubblewrapBackend(pool_size=1)
    # One untimed call each: first-use costs (reading the runner, the base directory).
    cold_backend.run(SNIPPET)
    warm_backend.prewarm()
    warm_backend.run(SNIPPET)
    bare: list[float] = []
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(args.n):
        start = time.perf_counter()
        subprocess.run(["/usr/bin/python3", "-c", "pass"], check=True)
        bare.append(_ms(start))
        start = time.perf_counter()
        result = cold_backend.run(SNIPPET)
        cold.append(_ms(start))
        assert result.ok, result
        if not warm_backend.prewarm(timeout_s=30):
            raise SystemExit("the warm pool did not fill in 30 s")
        start = time.perf_counter()
        result = warm_backend.run(SNIPPET)
        warm.append(_ms(start))
        assert result.ok, result
    warm_backend.close()
    print(f"sandbox latency, {args.n} samples each, interleaved (ms)")
    print(f"{'':28}{'p50':>8}{'p95':>8}{'mean':>8}")
    for label, samples in (
        ("bare python3 -c pass", bare),
        ("sandbox cold (bubblewrap)", cold),
        ("sandbox warm pool", warm),
    ):
        row = f"{_p(samples, 0.5):8.2f}{_p(samples, 0.95):8.2f}{statistics.fmean(samples):8.2f}"
        print(f"  {label:26}{row}")
    bare50, cold50, warm50 = _p(bare, 0.5), _p(cold, 0.5), _p(warm, 0.5)
    ratio = cold50 / bare50
    print(f"  cold / bare (p50)        : {ratio:.2f}x")
    print(f"  warm / bare (p50)        : {warm50 / bare50:.2f}x")
    warm_ok = "met" if warm50 <= WARM_P50_TARGET_MS else "MISSED"
    cold_ok = "met" if ratio <= COLD_RATIO_TARGET else "MISSED"
    print(f"  target warm p50 <= {WARM_P50_TARGET_MS:.0f} ms   : {warm_ok} ({warm50:.2f} ms)")
    print(f"  target cold <= {COLD_RATIO_TARGET}x bare  : {cold_ok} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
