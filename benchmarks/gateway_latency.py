"""Gateway admission latency: p50/p99 without and with the guardrail layer, beside a bare call.

Run: ``.venv/bin/python benchmarks/gateway_latency.py [--n N]``. One admitted request is
timed end to end through ``Gateway.admit`` (auth from the key cache, scope, in-memory
rate limit, day-budget pre-check, input validation, spans to a real spool tracer), for
two ~1 KB tasks: a plain one, and a benign one full of trigger-like words ("ignore",
"previous instructions", "model", a base64 id, a URL) that makes every layer work.
Rows, sampled in turn in one run so background load hits them alike:

* bare: a Python function that takes the request and returns it (the floor);
* admit, no guard: ``Gateway(guard=None)``;
* admit + guard (rules): the guard's rule layers only (normalisation, decoding, rules,
  secrets/PII, canary): ``GuardConfig(disabled=["injection_classifier"])``;
* admit + guard + ML: ``Guard(GuardConfig())``, the rules and the local classifier;
* Guard.apply (rules) and Guard.apply + ML: the guard alone on the same task.

Run it against another tree (e.g. the committed code, ``git archive HEAD | tar -x -C DIR``)
with ``DIR/benchmarks/gateway_latency.py``: it imports the ``workbench`` beside it.

Targets (issue 4): admission p50 <= 50 µs without ML, p99 <= 0.5 ms: checked on the
"admit, no guard" and "admit + guard (rules)" rows of each task; the ML rows are
reported, with no target.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.gateway import (
    AdmissionRequest,
    BudgetCaps,
    Gateway,
    GatewayConfig,
    InMemoryRateLimiter,
    KeyStore,
    SqliteBudgetLedger,
)
from workbench.guardrails import Guard, GuardConfig
from workbench.guardrails._classifier import CLASSIFIER_NAME
from workbench.tracing import SpoolExporter, Tracer

P50_TARGET_US = 50.0
P99_TARGET_US = 500.0
# A realistic ~1 KB task: a question with some pasted context.
TASK = (
    "Which region had the highest revenue in 2025, and what share of the total was it? "
    "Context from the sales team: " + "Orders were steady across the quarter; " * 24
)
# A benign ~1 KB task that looks like an attack to a keyword filter.
TRIGGER_TASK = (
    (Path(__file__).parent / "data" / "guardrails" / "benign_1kb.txt").read_text().strip()
)
TASKS = {"plain": TASK, "trigger words": TRIGGER_TASK}
# Rows with a target: admission without ML.
TARGETED = ("admit, no guard", "admit + guard (rules)")


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bare(request: AdmissionRequest) -> AdmissionRequest:
    return request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=3000, help="samples of each (default 3000)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    tracer = Tracer([SpoolExporter(root / "spool")])
    keys = KeyStore(root / "keys.sqlite")
    _, secret = keys.create("bench", ["agent:analyst"], daily_budget_usd=100.0, rate_per_minute=1e9)
    config = GatewayConfig(caps=BudgetCaps(execution_usd=1.0), tokens_per_minute=1e12)
    ledger = SqliteBudgetLedger(root / "budget.sqlite")
    rules = Guard(GuardConfig(disabled=[CLASSIFIER_NAME]), home=root, tracer=tracer)
    full = Guard(GuardConfig(), home=root, tracer=tracer)

    def gateway(guard: Guard | None) -> Gateway:
        return Gateway(config, keys, InMemoryRateLimiter(), ledger, guard, tracer)

    plain, ruled, ml = gateway(None), gateway(rules), gateway(full)
    calls: list[tuple[str, str, Callable[[AdmissionRequest], object], AdmissionRequest]] = []
    for label, task in TASKS.items():
        request = AdmissionRequest(secret, "analyst", task, estimated_tokens=2000)
        calls += [
            (label, "bare", bare, request),
            (label, "admit, no guard", plain.admit, request),
            (label, "admit + guard (rules)", ruled.admit, request),
            (label, "admit + guard + ML", ml.admit, request),
            (label, "Guard.apply (rules)", lambda r: rules.apply(r.task), request),
            (label, "Guard.apply + ML", lambda r: full.apply(r.task), request),
        ]
    for _ in range(200):  # warm: key cache, regexes, budget pre-check, model load
        for _, _, fn, request in calls:
            fn(request)
    samples: dict[tuple[str, str], list[float]] = {(t, name): [] for t, name, _, _ in calls}
    perf = time.perf_counter
    for _ in range(args.n):
        for label, name, fn, request in calls:
            start = perf()
            fn(request)
            samples[(label, name)].append((perf() - start) * 1e6)
    tracer.flush()
    tracer.shutdown()
    load = os.getloadavg()
    print(
        f"n={args.n} each, tracer spooling to disk, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    try:  # round 2: the Hyperscan rule prefilter (absent from older trees)
        from workbench.guardrails import _prefilter

        print(f"rule prefilter (Hyperscan): {'on' if _prefilter.AVAILABLE else 'off (fallback)'}")
    except ImportError:
        print("rule prefilter (Hyperscan): not in this tree")
    missed = 0
    for label, task in TASKS.items():
        base = _p(samples[(label, "bare")], 0.5)
        print(f"\n{label} task, {len(task.encode())} bytes")
        print(f"{'':24} {'p50 µs':>9} {'p99 µs':>9} {'p50 / bare':>11}  target")
        for (t, name), values in samples.items():
            if t != label:
                continue
            p50, p99 = _p(values, 0.5), _p(values, 0.99)
            verdict = ""
            if name in TARGETED:
                ok = p50 <= P50_TARGET_US and p99 <= P99_TARGET_US
                missed += not ok
                verdict = (
                    f"p50 <= {P50_TARGET_US:.0f} {'ok' if p50 <= P50_TARGET_US else 'MISSED'}, "
                    f"p99 <= {P99_TARGET_US:.0f} {'ok' if p99 <= P99_TARGET_US else 'MISSED'}"
                )
            print(f"{name:24} {p50:9.1f} {p99:9.1f} {p50 / base:10.0f}x  {verdict}")
    print(
        f"\ntargets (admission without ML: p50 <= {P50_TARGET_US:.0f} µs, "
        f"p99 <= {P99_TARGET_US:.0f} µs): {'MET' if not missed else f'MISSED on {missed} row(s)'}"
    )


if __name__ == "__main__":
    main()
