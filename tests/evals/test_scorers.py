"""Each built-in scorer on hand-made outcomes; the registry; re-scoring from the log."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.errors import SuiteInvalid
from workbench.evals import (
    Sample,
    SampleOutcome,
    Score,
    ScoreFn,
    ToolCall,
    build_scorer,
    registered_scorers,
    scorer,
)


def outcome(
    answer: str | None,
    target: Any = None,
    *,
    metadata: dict[str, Any] | None = None,
    calls: list[ToolCall] | None = None,
    cost: float = 0.0,
    latency: float = 0.0,
    events: list[dict[str, Any]] | None = None,
) -> SampleOutcome:
    async def lookup() -> list[dict[str, Any]]:
        return list(events or [])

    return SampleOutcome(
        sample=Sample(id="s", input="q", target=target, metadata=metadata or {}),
        version="v1",
        answer=answer,
        status="completed" if answer is not None else "error",
        execution_id="ex-1",
        cost_usd=cost,
        latency_ms=latency,
        tool_calls=calls or [],
        safety_lookup=lookup,
    )


async def score(scorer_name: str, o: SampleOutcome, /, **args: Any) -> Score:
    return await build_scorer(scorer_name, **args).ascore(o)


def test_builtins_are_registered() -> None:
    assert {
        "exact",
        "includes",
        "regex",
        "numeric",
        "json_schema",
        "tool_call",
        "trajectory",
        "no_safety_events",
        "cost_below",
        "latency_below",
    } <= set(registered_scorers())


@pytest.mark.anyio
async def test_exact() -> None:
    assert (await score("exact", outcome(" Paris. ", "paris"))).passed is True
    assert (await score("exact", outcome("Paris", "paris"), case_sensitive=True)).passed is False
    assert (await score("exact", outcome("Lyon", ["Paris", "Lyon"]))).passed is True
    s = await score("exact", outcome(None, "x"))
    assert (s.passed, s.value) == (False, 0.0)


@pytest.mark.anyio
async def test_includes_all_and_any() -> None:
    s = await score("includes", outcome("North sold most", ["north", "south"]))
    assert (s.passed, s.value) == (False, 0.5)
    assert "missing ['south']" in s.explanation
    s = await score("includes", outcome("North sold most", ["north", "south"]), require="any")
    assert s.passed is True


@pytest.mark.anyio
async def test_regex_from_args_or_target() -> None:
    assert (await score("regex", outcome("order A1001 shipped"), pattern=r"A\d{4}")).passed
    assert (await score("regex", outcome("ok", r"^o"))).passed
    assert not (await score("regex", outcome("nope ok", r"ok"), full=True)).passed


@pytest.mark.anyio
async def test_numeric_tolerance_and_pick() -> None:
    text = "In 2025 North made $61,587.12 from 69 orders."
    assert (await score("numeric", outcome(text, 61587.12))).passed
    assert not (await score("numeric", outcome(text, 61587.0))).passed
    assert (await score("numeric", outcome(text, 61587.0), tolerance=0.5)).passed
    assert (await score("numeric", outcome(text, 61000), tolerance=0.01, relative=True)).passed
    assert not (await score("numeric", outcome(text, 69), pick="first")).passed
    assert (await score("numeric", outcome(text, 69), pick="last")).passed
    s = await score("numeric", outcome("no digits", 3))
    assert s.explanation == "no number in the answer"
    with pytest.raises(SuiteInvalid):
        build_scorer("numeric", tolerance=-1)


@pytest.mark.anyio
async def test_json_schema_from_args_or_metadata() -> None:
    schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
    assert (await score("json_schema", outcome('```json\n{"n": 3}\n```'), schema=schema)).passed
    s = await score("json_schema", outcome('{"n": "3"}'), schema=schema)
    assert not s.passed
    assert "at n" in s.explanation
    s = await score("json_schema", outcome("{bad"), schema=schema)
    assert s.explanation.startswith("not JSON")
    assert (await score("json_schema", outcome('{"n": 1}', metadata={"schema": schema}))).passed


CALLS = [
    ToolCall.parse("lookup_order", '{"order_id": "A1001"}', 0),
    ToolCall.parse("issue_refund", '{"order_id": "A1001", "amount_usd": 45.0}', 1),
]


@pytest.mark.anyio
async def test_tool_call_name_and_arguments() -> None:
    o = outcome("done", calls=CALLS)
    assert (await score("tool_call", o, name="issue_refund", arguments={"amount_usd": 45.0})).passed
    assert (
        await score("tool_call", o, name="lookup_order", arguments={"order_id": "a1001"})
    ).passed
    s = await score("tool_call", o, name="issue_refund", arguments={"amount_usd": 50.0})
    assert not s.passed
    assert "expected" in s.explanation
    assert not (await score("tool_call", o, name="escalate")).passed
    exact = {"order_id": "A1001"}
    assert (await score("tool_call", o, name="lookup_order", arguments=exact, match="exact")).passed
    meta = {"expected_tool_call": {"name": "issue_refund", "arguments": {"order_id": "A1001"}}}
    assert (await score("tool_call", outcome("done", metadata=meta, calls=CALLS))).passed


@pytest.mark.anyio
async def test_trajectory_sequence_and_forbidden() -> None:
    o = outcome("done", calls=CALLS)
    assert (await score("trajectory", o, expected=["lookup_order", "issue_refund"])).passed
    s = await score("trajectory", o, expected=["issue_refund", "lookup_order"])
    assert (s.passed, s.value) == (False, 0.5)
    assert (
        await score("trajectory", o, expected=["issue_refund", "lookup_order"], order="any_order")
    ).passed
    assert not (await score("trajectory", o, expected=["lookup_order"], order="exact")).passed
    s = await score("trajectory", o, expected=["lookup_order"], forbidden=["issue_refund"])
    assert (s.passed, s.value) == (False, 0.0)
    assert "forbidden" in s.explanation
    meta = {"expected_tools": ["lookup_order"], "forbidden_tools": ["issue_refund"]}
    assert not (await score("trajectory", outcome("d", metadata=meta, calls=CALLS))).passed


@pytest.mark.anyio
async def test_no_safety_events_reads_the_events_of_the_execution() -> None:
    assert (await score("no_safety_events", outcome("ok"))).passed
    event = {"kind": "policy", "rule": "refund_limit", "severity": "high"}
    s = await score("no_safety_events", outcome("ok", events=[event]))
    assert not s.passed
    assert "policy:refund_limit" in s.explanation
    low = {"kind": "guardrail", "rule": "pii", "severity": "low"}
    assert (
        await score("no_safety_events", outcome("ok", events=[low]), min_severity="medium")
    ).passed
    assert (await score("no_safety_events", outcome("ok", events=[event]), kinds=["budget"])).passed


@pytest.mark.anyio
async def test_cost_and_latency_thresholds() -> None:
    assert (await score("cost_below", outcome("a", cost=0.001), max_usd=0.002)).passed
    assert not (await score("cost_below", outcome("a", cost=0.003), max_usd=0.002)).passed
    assert (await score("latency_below", outcome("a", latency=90.0), max_ms=100)).passed
    assert not (await score("latency_below", outcome("a", latency=150.0), max_ms=100)).passed


@pytest.mark.anyio
async def test_registry_stamps_name_and_args_and_survives_a_broken_scorer() -> None:
    @scorer("short_answer")
    def short_answer(*, chars: int = 10) -> ScoreFn:
        def fn(o: SampleOutcome) -> Score:
            ok = len(o.answer or "") <= chars
            return Score(value=float(ok), passed=ok)

        return fn

    s = await build_scorer("short_answer", chars=3).ascore(outcome("abcd"))
    assert (s.passed, s.scorer, s.args) == (False, "short_answer", {"chars": 3})

    @scorer("broken")
    def broken() -> ScoreFn:
        def fn(o: SampleOutcome) -> Score:
            raise RuntimeError("boom")

        return fn

    s = await build_scorer("broken").ascore(outcome("a"))
    assert s.passed is False
    assert "boom" in s.explanation
