"""Gateway admission latency: p50/p99 without and with the guardrail layer, beside a bare call.

Run: ``.venv/bin/python benchmarks/gateway_latency.py [--n N]``. One admitted request is
timed end to end through ``Gateway.admit`` (auth from the key cache, scope, in-memory
rate limit, day-budget pre-check, input validation, spans to a real spool tracer):

* bare: a Python function that takes the request and returns it (the floor);
* gateway: ``Gateway(guard=None)``;
* gateway+guard: the same with ``workbench.guardrails.Guard(GuardConfig())`` on the task;
* guard alone: ``Guard.apply`` on the same task, to tell the guard's share from the gateway's.

The three are sampled in turn in one run, so background load hits them alike.
Targets: gateway p50 <= 50 µs; gateway+guard p99 <= 0.5 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
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
from workbench.tracing import SpoolExporter, Tracer

P50_TARGET_US = 50.0
P99_GUARD_TARGET_US = 500.0
# A realistic ~1 KB task: a question with some pasted context.
TASK = (
    "Which region had the highest revenue in 2025, and what share of the total was it? "
    "Context from the sales team: " + "Orders were steady across the quarter; " * 24
)


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bare(request: AdmissionRequest) -> AdmissionRequest:
    return request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000, help="samples of each (default 5000)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    tracer = Tracer([SpoolExporter(root / "spool")])
    keys = KeyStore(root / "keys.sqlite")
    _, secret = keys.create("bench", ["agent:analyst"], daily_budget_usd=100.0, rate_per_minute=1e9)
    config = GatewayConfig(caps=BudgetCaps(execution_usd=1.0), tokens_per_minute=1e12)
    ledger = SqliteBudgetLedger(root / "budget.sqlite")
    plain = Gateway(config, keys, InMemoryRateLimiter(), ledger, None, tracer)
    guarded = Gateway(config, keys, InMemoryRateLimiter(), ledger, Guard(GuardConfig()), tracer)
    request = AdmissionRequest(secret, "analyst", TASK, estimated_tokens=2000)
    for _ in range(200):  # warm: key cache, regexes, budget pre-check
        plain.admit(request)
        guarded.admit(request)
    guard = guarded.guard
    assert guard is not None

    def guard_alone(request: AdmissionRequest) -> object:
        return guard.apply(request.task, channel="user_input")

    samples: dict[str, list[float]] = {
        "bare": [],
        "gateway": [],
        "gateway+guard": [],
        "guard alone": [],
    }
    calls = (
        ("bare", bare),
        ("gateway", plain.admit),
        ("gateway+guard", guarded.admit),
        ("guard alone", guard_alone),
    )
    perf = time.perf_counter
    for _ in range(args.n):
        for name, fn in calls:
            start = perf()
            fn(request)
            samples[name].append((perf() - start) * 1e6)
    tracer.flush()
    tracer.shutdown()
    base = _p(samples["bare"], 0.5)
    print(f"task {len(TASK.encode())} bytes, n={args.n} each, tracer spooling to disk")
    print(f"{'':14} {'p50 µs':>9} {'p99 µs':>9} {'p50 / bare':>11}")
    for name, values in samples.items():
        p50, p99 = _p(values, 0.5), _p(values, 0.99)
        print(f"{name:14} {p50:9.1f} {p99:9.1f} {p50 / base:10.0f}x")
    p50 = _p(samples["gateway"], 0.5)
    p99 = _p(samples["gateway+guard"], 0.99)
    print(
        f"targets: gateway p50 {p50:.1f} µs <= {P50_TARGET_US:.0f} µs "
        f"{'OK' if p50 <= P50_TARGET_US else 'MISSED'}; "
        f"gateway+guard p99 {p99:.1f} µs <= {P99_GUARD_TARGET_US:.0f} µs "
        f"{'OK' if p99 <= P99_GUARD_TARGET_US else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
