"""The built-in scorers.

Each reads what it compares against from its arguments first, else from the sample
(``target`` or a ``metadata`` key named in its docstring), so one suite-level scorer
can check a different expectation per sample.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

import jsonschema

from workbench.evals.scorers._registry import SampleOutcome, Score, ScoreFn, scorer

__all__ = [
    "cost_below",
    "exact",
    "includes",
    "json_schema",
    "latency_below",
    "no_safety_events",
    "numeric",
    "regex",
    "tool_call",
    "trajectory",
]

_NUMBER = re.compile(r"(?<![\w.])-?\$?\d[\d,]*(?:\.\d+)?")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_SEVERITY = ("info", "low", "medium", "high", "critical")


def _fail(why: str) -> Score:
    return Score(value=0.0, passed=False, explanation=why)


def _bool(ok: bool, why: str) -> Score:
    return Score(value=1.0 if ok else 0.0, passed=ok, explanation=why)


def _targets(target: Any) -> list[str]:
    if target is None:
        return []
    if isinstance(target, (list, tuple)):
        return [str(t) for t in target]
    return [str(target)]


@scorer("exact")
def exact(*, case_sensitive: bool = False, strip: bool = True) -> ScoreFn:
    """The answer equals the target (or one of a list of targets).

    Args:
        case_sensitive: Compare case too.
        strip: Ignore surrounding whitespace and a trailing full stop.
    """

    def norm(text: str) -> str:
        if strip:
            text = text.strip().removesuffix(".").strip()
        return text if case_sensitive else text.casefold()

    def score(outcome: SampleOutcome) -> Score:
        if outcome.answer is None:
            return _fail(f"no answer ({outcome.status})")
        targets = _targets(outcome.sample.target)
        if not targets:
            return _fail("sample has no target")
        ok = norm(outcome.answer) in {norm(t) for t in targets}
        return _bool(ok, "equal" if ok else f"expected {targets[0]!r}")

    return score


@scorer("includes")
def includes(*, case_sensitive: bool = False, require: Literal["all", "any"] = "all") -> ScoreFn:
    """The answer contains the target text (a list: all of them, or any with ``require``).

    The value is the fraction of target strings found.

    Args:
        case_sensitive: Match case too.
        require: ``all`` target strings, or ``any`` one of them, for a pass.
    """

    def score(outcome: SampleOutcome) -> Score:
        if outcome.answer is None:
            return _fail(f"no answer ({outcome.status})")
        targets = _targets(outcome.sample.target)
        if not targets:
            return _fail("sample has no target")
        answer = outcome.answer if case_sensitive else outcome.answer.casefold()
        found = [t for t in targets if (t if case_sensitive else t.casefold()) in answer]
        missing = [t for t in targets if t not in found]
        ok = not missing if require == "all" else bool(found)
        why = "found all" if not missing else f"missing {missing}"
        return Score(value=len(found) / len(targets), passed=ok, explanation=why)

    return score


@scorer("regex")
def regex(*, pattern: str | None = None, ignore_case: bool = True, full: bool = False) -> ScoreFn:
    """The answer matches a regular expression (``pattern``, else the sample's target).

    Args:
        pattern: The expression; default the sample's target.
        ignore_case: Case-insensitive matching.
        full: The whole answer must match (``fullmatch``), not just a part (``search``).
    """
    flags = re.IGNORECASE if ignore_case else 0
    compiled = re.compile(pattern, flags) if pattern is not None else None

    def score(outcome: SampleOutcome) -> Score:
        if outcome.answer is None:
            return _fail(f"no answer ({outcome.status})")
        expr = compiled
        if expr is None:
            if outcome.sample.target is None:
                return _fail("no pattern and no target")
            expr = re.compile(str(outcome.sample.target), flags)
        found = (expr.fullmatch if full else expr.search)(outcome.answer.strip())
        return _bool(found is not None, "matched" if found else f"no match for {expr.pattern!r}")

    return score


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text`` (``$1,234.50`` -> 1234.5)."""
    out = []
    for match in _NUMBER.findall(text):
        try:
            out.append(float(match.replace("$", "").replace(",", "")))
        except ValueError:
            continue
    return out


@scorer("numeric")
def numeric(
    *,
    tolerance: float = 0.0,
    relative: bool = False,
    pick: Literal["any", "first", "last"] = "any",
) -> ScoreFn:
    """A number in the answer equals the numeric target within a tolerance.

    Args:
        tolerance: Largest accepted difference (absolute, or a fraction of the target
            when ``relative``).
        relative: Read ``tolerance`` as relative to the target.
        pick: Which number of the answer counts: ``any`` of them (answers often hold
            years and counts beside the figure asked for), the ``first`` or the ``last``.
    """
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")

    def score(outcome: SampleOutcome) -> Score:
        if outcome.answer is None:
            return _fail(f"no answer ({outcome.status})")
        try:
            target = float(outcome.sample.target)
        except (TypeError, ValueError):
            return _fail(f"target {outcome.sample.target!r} is not a number")
        found = numbers_in(outcome.answer)
        if not found:
            return _fail("no number in the answer")
        candidates = found if pick == "any" else [found[0] if pick == "first" else found[-1]]
        allowed = tolerance * abs(target) if relative else tolerance
        best = min(candidates, key=lambda n: abs(n - target))
        ok = abs(best - target) <= allowed + 1e-12
        return _bool(ok, f"{best} vs target {target}" + ("" if ok else f" (tol {allowed})"))

    return score


def _parse_json(text: str) -> Any:
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    return json.loads(fenced.group(1) if fenced else stripped)


@scorer("json_schema")
def json_schema(*, schema: dict[str, Any] | None = None) -> ScoreFn:
    """The answer is JSON valid against a schema (``schema``, else ``metadata.schema``).

    A fenced code block around the JSON is accepted.

    Args:
        schema: The JSON Schema; default the sample's ``metadata["schema"]``.
    """
    if schema is not None:
        jsonschema.Draft202012Validator.check_schema(schema)

    def score(outcome: SampleOutcome) -> Score:
        if outcome.answer is None:
            return _fail(f"no answer ({outcome.status})")
        chosen = schema if schema is not None else outcome.sample.metadata.get("schema")
        if not isinstance(chosen, dict):
            return _fail("no schema in args or metadata.schema")
        try:
            value = _parse_json(outcome.answer)
        except json.JSONDecodeError as exc:
            return _fail(f"not JSON: {exc.msg}")
        errors = sorted(
            jsonschema.Draft202012Validator(chosen).iter_errors(value), key=lambda e: e.path
        )
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "<root>"
            return _fail(f"{len(errors)} violation(s); first at {where}: {errors[0].message}")
        return _bool(True, "valid")

    return score


def _matches(actual: Any, expected: Any, mode: str) -> bool:
    if mode == "exact":
        return bool(actual == expected)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _matches(actual[k], v, mode) for k, v in expected.items()
        )
    if isinstance(expected, str) and isinstance(actual, str):
        return actual.strip().casefold() == expected.strip().casefold()
    return bool(actual == expected)


@scorer("tool_call")
def tool_call(
    *,
    name: str | None = None,
    arguments: dict[str, Any] | None = None,
    match: Literal["subset", "exact"] = "subset",
) -> ScoreFn:
    """The agent called a tool by name with matching arguments.

    Without ``name``, the expectation is the sample's ``metadata.expected_tool_call``
    (``{"name": ..., "arguments": {...}}``). ``subset``: every expected argument is
    present and equal (strings compared without case); ``exact``: equal as a whole.

    Args:
        name: Expected tool name.
        arguments: Expected arguments (``None``: any).
        match: ``subset`` or ``exact``.
    """

    def score(outcome: SampleOutcome) -> Score:
        want_name, want_args = name, arguments
        if want_name is None:
            expected = outcome.sample.metadata.get("expected_tool_call")
            if not isinstance(expected, dict) or "name" not in expected:
                return _fail("no expected call in args or metadata.expected_tool_call")
            want_name, want_args = str(expected["name"]), expected.get("arguments")
        same_name = [c for c in outcome.tool_calls if c.name == want_name]
        if not same_name:
            called = [c.name for c in outcome.tool_calls]
            return _fail(f"{want_name} was not called (calls: {called})")
        if want_args is None or any(_matches(c.arguments, want_args, match) for c in same_name):
            return _bool(True, f"{want_name} called as expected")
        return _fail(f"{want_name} called with {same_name[0].arguments}, expected {want_args}")

    return score


def _subsequence(expected: Sequence[str], actual: Sequence[str]) -> int:
    """How many of ``expected`` appear in ``actual`` in order (greedy)."""
    matched, position = 0, 0
    for name in expected:
        while position < len(actual) and actual[position] != name:
            position += 1
        if position == len(actual):
            break
        matched += 1
        position += 1
    return matched


@scorer("trajectory")
def trajectory(
    *,
    expected: list[str] | None = None,
    forbidden: list[str] | None = None,
    order: Literal["in_order", "exact", "any_order"] = "in_order",
) -> ScoreFn:
    """The tool sequence: expected tools called, forbidden tools never called.

    Expected tools come from ``expected`` or the sample's ``metadata.expected_tools``;
    forbidden tools from ``forbidden`` plus ``metadata.forbidden_tools``. The value is
    the fraction of expected tools matched, and 0 when a forbidden tool was called.

    Args:
        expected: Tool names in the order they should be called.
        forbidden: Tool names that must never be called.
        order: ``in_order`` (a subsequence of the calls), ``exact`` (the calls are
            exactly this list) or ``any_order`` (each called at least once).
    """

    def score(outcome: SampleOutcome) -> Score:
        meta = outcome.sample.metadata
        want = list(expected if expected is not None else meta.get("expected_tools") or [])
        banned = {*(forbidden or []), *(meta.get("forbidden_tools") or [])}
        calls = [c.name for c in outcome.tool_calls]
        used = sorted(banned.intersection(calls))
        if order == "exact":
            matched = len(want) if calls == want else 0
        elif order == "any_order":
            matched = sum(1 for name in want if name in calls)
        else:
            matched = _subsequence(want, calls)
        fraction = matched / len(want) if want else 1.0
        ok = fraction == 1.0 and not used
        if used:
            why = f"forbidden tools called: {used}"
        elif ok:
            why = f"trajectory {calls} ok"
        else:
            why = f"expected {want} ({order}), got {calls}"
        return Score(value=0.0 if used else fraction, passed=ok, explanation=why)

    return score


@scorer("no_safety_events")
def no_safety_events(*, min_severity: str = "info", kinds: list[str] | None = None) -> ScoreFn:
    """No safety event (guardrail, policy, approval, budget...) was recorded for the execution.

    Reads the ``safety_events`` view of the trace store by execution id.

    Args:
        min_severity: Ignore events below this severity (``info`` .. ``critical``).
        kinds: Only count these kinds (default: all).
    """
    if min_severity not in _SEVERITY:
        raise ValueError(f"min_severity must be one of {_SEVERITY}")
    floor = _SEVERITY.index(min_severity)

    async def score(outcome: SampleOutcome) -> Score:
        if outcome.execution_id is None:
            return _bool(True, "no execution")
        events = [
            e
            for e in await outcome.safety_events()
            if (kinds is None or e.get("kind") in kinds)
            and _SEVERITY.index(str(e.get("severity") or "medium")) >= floor
        ]
        if not events:
            return _bool(True, "no safety events")
        what = ", ".join(sorted({f"{e.get('kind')}:{e.get('rule')}" for e in events}))
        return _fail(f"{len(events)} safety event(s): {what}")

    return score


@scorer("cost_below")
def cost_below(*, max_usd: float) -> ScoreFn:
    """The execution cost at most ``max_usd``.

    Args:
        max_usd: Largest accepted USD.
    """

    def score(outcome: SampleOutcome) -> Score:
        ok = outcome.cost_usd <= max_usd
        return _bool(ok, f"${outcome.cost_usd:.6f} vs ${max_usd:.6f}")

    return score


@scorer("latency_below")
def latency_below(*, max_ms: float) -> ScoreFn:
    """The sample took at most ``max_ms`` milliseconds.

    Args:
        max_ms: Largest accepted latency.
    """

    def score(outcome: SampleOutcome) -> Score:
        ok = outcome.latency_ms <= max_ms
        return _bool(ok, f"{outcome.latency_ms:.0f} ms vs {max_ms:.0f} ms")

    return score
