"""A separate process hammering a shared limiter or ledger; prints one JSON result line.

Usage:
    python gateway_worker.py rate REDIS_URL PRINCIPAL N RPM
    python gateway_worker.py budget sqlite|redis TARGET PRINCIPAL N USD CAP_USD

Every worker prints ``ready`` once imported, then reads the wall-clock time START_AT
from stdin and waits for it, so that all of them race at the same instant.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

from workbench.errors import BudgetExceeded, RateLimited
from workbench.gateway import BudgetCaps, RedisBudgetLedger, RedisRateLimiter, SqliteBudgetLedger


def _wait(start_at: float) -> None:
    while time.time() < start_at:
        time.sleep(0.001)


def rate(url: str, principal: str, n: int, rpm: float, start_at: float) -> dict[str, int]:
    limiter = RedisRateLimiter(url)
    admitted = refused = 0
    _wait(start_at)
    for _ in range(n):
        try:
            limiter.acquire(principal, requests_per_minute=rpm, tokens_per_minute=None)
            admitted += 1
        except RateLimited:
            refused += 1
    limiter.close()
    return {"admitted": admitted, "refused": refused}


def budget(
    kind: str, target: str, principal: str, n: int, usd: float, cap: float, start_at: float
) -> dict[str, float]:
    ledger = SqliteBudgetLedger(target) if kind == "sqlite" else RedisBudgetLedger(target)
    caps = BudgetCaps(principal_day_usd=cap)
    reserved = refused = 0
    settled = 0.0
    _wait(start_at)
    for _ in range(n):
        execution = f"ex-{uuid.uuid4().hex[:8]}"
        try:
            r = ledger.reserve(
                principal=principal, execution_id=execution, tokens=100, usd=usd, caps=caps
            )
        except BudgetExceeded:
            refused += 1
            continue
        reserved += 1
        ledger.settle(r, tokens=100, usd=usd)  # the worst case: actual == reserved
        settled += usd
    return {"reserved": reserved, "refused": refused, "settled_usd": settled}


def main() -> None:
    mode = sys.argv[1]
    print("ready", flush=True)
    start_at = sys.stdin.readline().strip()
    if mode == "rate":
        url, principal, n, rpm = sys.argv[2:6]
        result: dict[str, float] | dict[str, int] = rate(
            url, principal, int(n), float(rpm), float(start_at)
        )
    else:
        kind, target, principal, n, usd, cap = sys.argv[2:8]
        result = budget(kind, target, principal, int(n), float(usd), float(cap), float(start_at))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
