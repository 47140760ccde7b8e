"""One sample for one agent version: run it, score it, judge it, make its row.

:func:`arun_sample` is the seam other runners build on (shadow runs): it takes a
runtime, an agent spec and a sample, and returns the ``eval_samples`` row without
recording it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from workbench.errors import WorkbenchError
from workbench.evals._suite import JudgeSpec, Sample
from workbench.evals.scorers import SampleOutcome, Score, Scorer, ToolCall
from workbench.runtime import AgentSpec, Runtime, StepEvent

__all__ = [
    "Grader",
    "SampleRun",
    "arun_sample",
    "judge_outcome",
    "sample_execution_id",
    "sample_row",
    "score_outcome",
]

_RATE_LIMITED = "model_rate_limited"


class Grader(Protocol):
    """What the runner needs of a judge (``RubricJudge`` satisfies it)."""

    async def agrade(self, *, input: str, output: str, target: str | None = None) -> Any:
        """A verdict with ``score``, ``passed``, ``reason``, ``cost_usd``, ``cached``."""


@dataclass
class SampleRun:
    """A finished sample: its row (as recorded) and what the runner adapts on."""

    row: dict[str, Any]
    """The ``eval_samples`` row."""
    rate_limited: bool
    """The execution saw a 429 (even if a retry then succeeded)."""
    outcome: SampleOutcome
    """What the scorers saw."""

    @property
    def spent_usd(self) -> float:
        """Agent plus judge USD."""
        judge = self.row.get("judge") or {}
        return float(self.row["cost_usd"]) + float(judge.get("cost_usd") or 0.0)


def sample_execution_id(run_id: str, version: str, sample_id: str, epoch: int) -> str:
    """The execution id of one unit of a run: stable, so a resumed run reuses it."""
    digest = hashlib.sha256(f"{version}\x00{sample_id}\x00{epoch}".encode()).hexdigest()[:12]
    return f"{run_id}-{digest}"


class _Capture:
    """Collects tool calls and running cost from step events; reports 429s at once."""

    def __init__(self, on_rate_limited: Callable[[], None] | None) -> None:
        self.calls: list[ToolCall] = []
        self.cost_usd = 0.0
        self.tokens = 0
        self.rate_limited = False
        self._on_rate_limited = on_rate_limited
        self._results_seen: dict[int, int] = {}

    def __call__(self, event: StepEvent) -> None:
        self.cost_usd = event.cost_usd
        self.tokens = event.prompt_tokens + event.completion_tokens
        if event.type == "model" and event.tool_calls:
            for call in event.tool_calls:
                self.calls.append(
                    ToolCall.parse(str(call.get("name")), call.get("arguments"), event.step)
                )
        elif event.type == "tool" and event.error:
            # The i-th tool result of a step answers the i-th call of that step.
            index = self._results_seen.get(event.step, 0)
            self._results_seen[event.step] = index + 1
            step_calls = [i for i, c in enumerate(self.calls) if c.step == event.step]
            if index < len(step_calls):
                old = self.calls[step_calls[index]]
                self.calls[step_calls[index]] = ToolCall(
                    old.name, old.arguments, old.raw, old.step, event.error
                )
        elif event.type == "tool":
            self._results_seen[event.step] = self._results_seen.get(event.step, 0) + 1
        elif event.type == "retry" and event.error == _RATE_LIMITED:
            self.rate_limited = True
            if self._on_rate_limited is not None:
                self._on_rate_limited()


async def score_outcome(outcome: SampleOutcome, scorers: Sequence[Scorer]) -> dict[str, Score]:
    """Every scorer's score of one outcome, by metric key."""
    return {s.key: await s.ascore(outcome) for s in scorers}


async def judge_outcome(
    outcome: SampleOutcome,
    scores: dict[str, Score],
    judge: Grader,
    spec: JudgeSpec,
) -> tuple[Score, dict[str, Any] | None]:
    """The judge's score of one outcome and its verdict (``None`` when not judged).

    With ``stage: after_checks``, a sample that failed a deterministic check (or has no
    answer) scores 0 without a judge call.
    """
    args = {"model": spec.model, "stage": spec.stage}
    if outcome.answer is None:
        return Score(
            value=0.0, passed=False, explanation="not judged: no answer", scorer="judge", args=args
        ), None
    if spec.stage == "after_checks":
        failed = [k for k, s in scores.items() if s.passed is False]
        if failed:
            return Score(
                value=0.0,
                passed=False,
                scorer="judge",
                args=args,
                explanation=f"not judged: failed {', '.join(failed)}",
            ), None
    target = outcome.sample.target
    try:
        verdict = await judge.agrade(
            input=outcome.sample.input,
            output=outcome.answer,
            target=None if target is None else str(target),
        )
    except WorkbenchError as exc:
        return Score(
            value=0.0,
            passed=False,
            scorer="judge",
            args=args,
            explanation=f"judge error [{exc.code}] {exc.message}",
        ), {"error": f"[{exc.code}] {exc.message}", "cost_usd": 0.0, "model": spec.model}
    record = {
        "score": float(verdict.score),
        "passed": bool(verdict.passed),
        "reason": str(verdict.reason),
        "cost_usd": float(verdict.cost_usd),
        "cached": bool(verdict.cached),
        "model": spec.model,
    }
    score = Score(
        value=record["score"],
        passed=record["passed"],
        explanation=record["reason"],
        scorer="judge",
        args=args,
    )
    return score, record


async def arun_sample(
    runtime: Runtime,
    spec: AgentSpec,
    sample: Sample,
    *,
    run_id: str,
    suite: str,
    version: str,
    epoch: int = 0,
    scorers: Sequence[Scorer] = (),
    judge: tuple[Grader, JudgeSpec] | None = None,
    timeout_s: float | None = None,
    principal: str | None = "eval",
    safety_lookup: Callable[[str], Any] | None = None,
    on_rate_limited: Callable[[], None] | None = None,
) -> SampleRun:
    """Run one sample on one agent version, score it and build its ``eval_samples`` row.

    Failures of the sample (an error, the per-sample timeout) are results, not
    exceptions: the row's ``status`` says ``error`` or ``timeout``. Cancellation
    propagates (the sample is then not finished and a resumed run does it again).

    Args:
        runtime: Runs the execution.
        spec: The agent version.
        sample: The dataset line; its ``input`` is the task.
        run_id: The run the row belongs to.
        suite: Suite name, recorded with the row.
        version: Version label in the suite (``v1``).
        epoch: Which repetition (0-based).
        scorers: Scorers to run.
        judge: A judge and its spec, when the suite has one.
        timeout_s: Wall-clock limit of the sample.
        principal: Principal of the execution.
        safety_lookup: ``execution_id -> awaitable of safety_events rows``.
        on_rate_limited: Called (on the loop) as soon as a model call gets a 429.

    Returns:
        The finished sample.
    """
    execution_id = sample_execution_id(run_id, version, sample.id, epoch)
    capture = _Capture(on_rate_limited)
    started = time.perf_counter()
    status, answer, error = "error", None, None
    cost, tokens = 0.0, 0
    try:
        result = await asyncio.wait_for(
            runtime.arun(
                spec,
                sample.input,
                execution_id=execution_id,
                principal=principal,
                on_event=capture,
            ),
            timeout_s,
        )
        status, answer, error = result.status.value, result.answer, result.error
        cost, tokens = result.cost_usd, result.tokens
    except TimeoutError:
        status, error = "timeout", f"sample timed out after {timeout_s}s"
        cost, tokens = capture.cost_usd, capture.tokens
    except WorkbenchError as exc:
        error = f"[{exc.code}] {exc.message}"
        cost, tokens = capture.cost_usd, capture.tokens
    except Exception as exc:  # one broken sample must not end the run
        error = f"{type(exc).__name__}: {exc}"
        cost, tokens = capture.cost_usd, capture.tokens
    latency_ms = (time.perf_counter() - started) * 1000.0
    if error and _RATE_LIMITED in error:
        capture.rate_limited = True

    async def lookup() -> list[dict[str, Any]]:
        if safety_lookup is None:
            return []
        found: list[dict[str, Any]] = await safety_lookup(execution_id)
        return found

    outcome = SampleOutcome(
        sample=sample,
        version=version,
        answer=answer,
        status=status,
        error=error,
        execution_id=execution_id,
        cost_usd=cost,
        tokens=tokens,
        latency_ms=latency_ms,
        tool_calls=capture.calls,
        safety_lookup=lookup,
    )
    scores = await score_outcome(outcome, scorers)
    verdict: dict[str, Any] | None = None
    if judge is not None:
        scores["judge"], verdict = await judge_outcome(outcome, scores, judge[0], judge[1])
    row = sample_row(
        outcome,
        scores,
        verdict,
        run_id=run_id,
        suite=suite,
        agent_name=spec.name,
        agent_version=spec.version,
        epoch=epoch,
    )
    return SampleRun(row=row, rate_limited=capture.rate_limited, outcome=outcome)


def sample_row(
    outcome: SampleOutcome,
    scores: dict[str, Score],
    verdict: dict[str, Any] | None,
    *,
    run_id: str,
    suite: str,
    agent_name: str,
    agent_version: str,
    epoch: int,
) -> dict[str, Any]:
    """The ``eval_samples`` row of a scored outcome (the shared contract's keys, plus
    ``metadata`` and ``tool_calls`` so the row can be re-scored from the log)."""
    return {
        "run_id": run_id,
        "suite": suite,
        "version": outcome.version,
        "agent_name": agent_name,
        "agent_version": agent_version,
        "sample_id": outcome.sample.id,
        "epoch": epoch,
        "execution_id": outcome.execution_id,
        "status": outcome.status,
        "input": outcome.sample.input,
        "target": outcome.sample.target,
        "answer": outcome.answer,
        "cost_usd": outcome.cost_usd,
        "tokens": outcome.tokens,
        "latency_ms": outcome.latency_ms,
        "error": outcome.error,
        "scores": {
            key: {
                "value": s.value,
                "passed": s.passed,
                "explanation": s.explanation,
                "scorer": s.scorer,
                "args": s.args,
            }
            for key, s in scores.items()
        },
        "judge": verdict,
        "finished_at": time.time(),
        "metadata": outcome.sample.metadata,
        "tool_calls": [c.to_dict() for c in outcome.tool_calls],
    }
