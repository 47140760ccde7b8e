"""Budget abuse: reserve-then-settle on both ledgers, racing the cap from threads and processes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from gateway_helpers import race

from workbench.errors import BudgetExceeded, ConfigError
from workbench.gateway import (
    DEFAULT_MAX_TOKENS,
    BudgetCaps,
    RedisBudgetLedger,
    SqliteBudgetLedger,
    worst_case,
)
from workbench.models import cost_usd, register_price

Ledger = SqliteBudgetLedger | RedisBudgetLedger

# -- the conformance suite: every ledger behaves the same ----------------------------------


def test_reserve_counts_until_settled(ledger: Ledger) -> None:
    r = ledger.reserve(principal="alice", execution_id="ex-1", tokens=1000, usd=0.5)
    for spend in (ledger.spent(execution_id="ex-1"), ledger.spent(principal="alice")):
        assert (spend.tokens, spend.usd) == (0, 0.0)
        assert (spend.reserved_tokens, spend.reserved_usd) == (1000, 0.5)
    ledger.settle(r, tokens=400, usd=0.2)
    spend = ledger.spent(principal="alice")
    assert (spend.tokens, spend.usd, spend.reserved_tokens, spend.reserved_usd) == (400, 0.2, 0, 0)
    ledger.settle(r, tokens=400, usd=0.2)  # a second settle is a no-op
    assert ledger.spent(execution_id="ex-1").total_tokens == 400


def test_release_returns_the_whole_reservation(ledger: Ledger) -> None:
    r = ledger.reserve(principal="alice", execution_id="ex-1", tokens=10, usd=0.1)
    ledger.release(r)
    spend = ledger.spent(execution_id="ex-1")
    assert (spend.total_tokens, spend.total_usd) == (0, 0.0)


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        (BudgetCaps(execution_usd=1.0), "execution ex-1"),
        (BudgetCaps(execution_tokens=2500), "execution ex-1"),
        (BudgetCaps(principal_day_usd=1.0), "principal alice today"),
        (BudgetCaps(principal_day_tokens=2500), "principal alice today"),
    ],
)
def test_each_cap_refuses_the_reservation_that_would_pass_it(
    ledger: Ledger, caps: BudgetCaps, expected: str
) -> None:
    for _ in range(2):
        ledger.reserve(principal="alice", execution_id="ex-1", tokens=1000, usd=0.4, caps=caps)
    with pytest.raises(BudgetExceeded, match=expected) as info:
        ledger.reserve(principal="alice", execution_id="ex-1", tokens=1000, usd=0.4, caps=caps)
    assert info.value.http_status == 402
    assert info.value.principal == "alice"
    # Nothing was reserved by the refused call; a smaller one still fits exactly.
    assert ledger.spent(execution_id="ex-1").total_tokens == 2000
    ledger.reserve(principal="alice", execution_id="ex-1", tokens=500, usd=0.2, caps=caps)


def test_settled_spend_of_other_executions_counts_against_the_day(ledger: Ledger) -> None:
    caps = BudgetCaps(principal_day_usd=1.0)
    r = ledger.reserve(principal="bob", execution_id="ex-a", tokens=1, usd=0.9, caps=caps)
    ledger.settle(r, tokens=1, usd=0.6)
    ledger.reserve(principal="bob", execution_id="ex-b", tokens=1, usd=0.4, caps=caps)
    with pytest.raises(BudgetExceeded):
        ledger.reserve(principal="bob", execution_id="ex-c", tokens=1, usd=0.01, caps=caps)
    # Another principal's day is separate.
    ledger.reserve(principal="carol", execution_id="ex-d", tokens=1, usd=0.9, caps=caps)


def test_ledger_caps_apply_when_the_call_passes_none(ledger_kind: str, ledger_target: str) -> None:
    caps = BudgetCaps(principal_day_tokens=100)
    ledger: Any = (
        SqliteBudgetLedger(ledger_target, caps=caps)
        if ledger_kind == "sqlite"
        else RedisBudgetLedger(ledger_target, caps=lambda principal: caps)
    )
    ledger.reserve(principal="alice", execution_id="ex-1", tokens=100, usd=0.0)
    with pytest.raises(BudgetExceeded):
        ledger.reserve(principal="alice", execution_id="ex-2", tokens=1, usd=0.0)


def test_usd_at_the_cap_is_exact(ledger: Ledger) -> None:
    caps = BudgetCaps(execution_usd=0.3)
    for _ in range(3):
        ledger.reserve(principal=None, execution_id="ex-1", tokens=0, usd=0.1, caps=caps)
    with pytest.raises(BudgetExceeded):
        ledger.reserve(principal=None, execution_id="ex-1", tokens=0, usd=1e-9, caps=caps)


def test_bad_amounts_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ConfigError):
        ledger.reserve(principal="a", execution_id="ex", tokens=-1, usd=0.0)
    with pytest.raises(ConfigError):
        ledger.reserve(principal="a", execution_id="ex", tokens=1, usd=float("nan"))
    with pytest.raises(ConfigError):
        ledger.spent()


# -- races ---------------------------------------------------------------------------------

CAP = 1.0
RESERVE = 0.03  # 33 reservations fit under the cap, 50 race for it


@pytest.mark.anyio
async def test_50_concurrent_executions_race_the_cap_in_one_process(ledger: Ledger) -> None:
    caps = BudgetCaps(principal_day_usd=CAP)

    def execution(i: int) -> bool:
        try:
            r = ledger.reserve(
                principal="mallory", execution_id=f"ex-{i}", tokens=100, usd=RESERVE, caps=caps
            )
        except BudgetExceeded:
            return False
        ledger.settle(r, tokens=100, usd=RESERVE)  # worst case: the whole reservation used
        return True

    results = await asyncio.gather(*(asyncio.to_thread(execution, i) for i in range(50)))
    spend = ledger.spent(principal="mallory")
    assert sum(results) == 33
    assert spend.reserved_usd == 0
    assert spend.usd <= CAP + RESERVE  # the contract: at most one reservation over ...
    assert spend.usd <= CAP  # ... and none at all while actual cost <= reservation


@pytest.mark.slow
def test_52_executions_in_4_processes_race_the_cap(ledger_kind: str, ledger_target: str) -> None:
    results = race(
        [
            ["budget", ledger_kind, ledger_target, "mallory", "13", str(RESERVE), str(CAP)]
            for _ in range(4)
        ]
    )
    reserved = sum(r["reserved"] for r in results)
    assert sum(r["refused"] for r in results) == 52 - reserved
    ledger: Any = (
        SqliteBudgetLedger(ledger_target)
        if ledger_kind == "sqlite"
        else RedisBudgetLedger(ledger_target)
    )
    spend = ledger.spent(principal="mallory")
    assert reserved == 33, results
    assert spend.usd == pytest.approx(sum(r["settled_usd"] for r in results))
    assert spend.usd <= CAP + 1e-9


# -- worst case ----------------------------------------------------------------------------


def test_worst_case_uses_prices_and_max_tokens() -> None:
    register_price("gw-test/model", input_per_mtok=1.0, output_per_mtok=2.0)
    tokens, usd = worst_case("gw-test/model", 1000, 500)
    assert (tokens, usd) == (1500, pytest.approx(cost_usd("gw-test/model", 1000, 500)))
    tokens, _ = worst_case("gw-test/model", 10, None)
    assert tokens == 10 + DEFAULT_MAX_TOKENS


def test_worst_case_of_messages_is_an_upper_bound_on_tokens() -> None:
    register_price("gw-test/model", input_per_mtok=1.0, output_per_mtok=2.0)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "héllo"}]
    tokens, usd = worst_case("gw-test/model", messages, 0)
    # Never fewer than the bytes of the content: no byte-level tokenizer emits more.
    assert tokens >= sum(len(m["content"].encode()) for m in messages)
    assert usd == pytest.approx(tokens * 1e-6)
    assert worst_case("gw-test/model", "héllo", 0)[0] == len("héllo".encode()) + 4


def test_worst_case_of_an_unpriced_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        worst_case("scripted/never-registered-gw", 10, 10)
