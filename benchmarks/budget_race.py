"""Budget race: 50 concurrent executions of one principal against a day cap.

Run: ``.venv/bin/python benchmarks/budget_race.py [--executions 50] [--no-redis]``.

Each execution is a thread that loops: reserve the worst case of a model call
($0.01), "call the model" (sleep 2 ms), settle to the actual cost (a random 50-100% of
the reservation, or exactly 100% with ``--worst``), until a reservation is refused.
The cap is $1.00 per principal per day. Ledgers, in the same run:

* naive: the pattern most loops use: check ``spent < cap`` before the call, add the
  actual cost after it; no reservation (the baseline);
* sqlite: ``SqliteBudgetLedger`` (BEGIN IMMEDIATE);
* redis: ``RedisBudgetLedger`` (Lua) on a real ``redis-server`` started with
  ``workbench services up redis`` (skipped with ``--no-redis``).

Overshoot = max(0, settled spend - cap) / reservation. Target: <= 1 (the contract);
reserve-then-settle gives 0 while no call costs more than its reservation.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.errors import BudgetExceeded
from workbench.gateway import BudgetCaps, RedisBudgetLedger, Reservation, SqliteBudgetLedger
from workbench.services import start_service, stop_service
from workbench.settings import get_settings

CAP = 1.00
RESERVE = 0.01
CALL_S = 0.002


class NaiveLedger:
    """Check before the call, record after it: what a loop without reservations does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spent = 0.0

    def reserve(
        self, *, principal: str, execution_id: str, tokens: int, usd: float, caps: BudgetCaps
    ) -> Reservation:
        assert caps.principal_day_usd is not None
        with self._lock:
            if self.spent >= caps.principal_day_usd:
                raise BudgetExceeded("spent", principal=principal)
        return Reservation("r", principal, execution_id, "", tokens, usd)

    def settle(self, reservation: Reservation, *, tokens: int, usd: float) -> None:
        with self._lock:
            self.spent += usd


def run(ledger: Any, executions: int, worst: bool, spent: Any) -> dict[str, float]:
    caps = BudgetCaps(principal_day_usd=CAP)
    barrier = threading.Barrier(executions)
    calls = [0] * executions

    def execution(i: int) -> None:
        rng = random.Random(i)
        barrier.wait()
        while True:
            try:
                r = ledger.reserve(
                    principal="mallory", execution_id=f"ex-{i}", tokens=1000, usd=RESERVE, caps=caps
                )
            except BudgetExceeded:
                return
            time.sleep(CALL_S)
            ledger.settle(r, tokens=1000, usd=RESERVE if worst else RESERVE * rng.uniform(0.5, 1))
            calls[i] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(executions) as pool:
        list(pool.map(execution, range(executions)))
    elapsed = time.perf_counter() - start
    total = spent()
    return {
        "calls": sum(calls),
        "spent": total,
        "overshoot": max(0.0, total - CAP) / RESERVE,
        "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=50)
    parser.add_argument("--worst", action="store_true", help="every call costs its reservation")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis ledger")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="budget-race-"))
    results: dict[str, dict[str, float]] = {}
    naive = NaiveLedger()
    results["naive"] = run(naive, args.executions, args.worst, lambda: naive.spent)
    sqlite = SqliteBudgetLedger(root / "budget.sqlite")
    results["sqlite"] = run(
        sqlite, args.executions, args.worst, lambda: sqlite.spent(principal="mallory").usd
    )
    if not args.no_redis:
        settings = get_settings(root / "home")
        info = start_service("redis", settings=settings)
        try:
            redis_ledger = RedisBudgetLedger(str(info.extra["redis_url"]))
            results["redis"] = run(
                redis_ledger,
                args.executions,
                args.worst,
                lambda: redis_ledger.spent(principal="mallory").usd,
            )
            redis_ledger.close()
        finally:
            stop_service("redis", settings=settings)
    mode = "actual = reservation" if args.worst else "actual = 50-100% of reservation"
    print(
        f"{args.executions} concurrent executions, cap ${CAP:.2f}/day, "
        f"reservation ${RESERVE:.2f}, {mode}"
    )
    print(f"{'ledger':8} {'calls':>6} {'spent $':>9} {'overshoot (reservations)':>25} {'s':>6}")
    for name, r in results.items():
        print(
            f"{name:8} {r['calls']:6.0f} {r['spent']:9.4f} {r['overshoot']:25.2f} "
            f"{r['seconds']:6.2f}"
        )
    worst = max(r["overshoot"] for name, r in results.items() if name != "naive")
    print(
        f"target: overshoot <= 1 reservation: {'OK' if worst <= 1 else 'MISSED'} "
        f"(worst {worst:.2f}; naive baseline {results['naive']['overshoot']:.2f})"
    )


if __name__ == "__main__":
    main()
