"""Shadow runs: v2 on exactly the inputs v1 received, never served, never touching the world.

The baseline's trajectory comes from an execution recorded in the trace store, or from
running the baseline now on a dataset sample. The candidate then runs on the same input
with a :data:`~workbench.runtime.ToolOverride`: a call of a tool that changes or reaches
the world (``side_effects`` or ``egress``) is answered from the baseline's recorded
result when the baseline made the same call (same tool, same arguments, each recorded
result used once), and refused otherwise, which is recorded as a divergence. Read-only
local tools (``sql``, ``calculator``, ``search``) run for real.

The two trajectories are aligned step by step: the first divergent step, and the cost
and latency difference of every step. Each pair lands as a ``shadow_samples`` row in the
trace store as it finishes; :func:`load_shadow_run` reads a run back.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from workbench.errors import ConfigError, RunNotFound, ToolRefused
from workbench.runtime import AgentSpec, ExecutionResult, Runtime, StepEvent, ToolOverride
from workbench.tools import Tool
from workbench.tracing import Tracer, TraceStore, get_tracer

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__all__ = [
    "SHADOW_SAMPLES",
    "Divergence",
    "ShadowInput",
    "ShadowPair",
    "ShadowRun",
    "Trajectory",
    "TrajectoryStep",
    "ashadow",
    "diff_trajectories",
    "load_shadow_run",
    "replay_override",
    "shadow",
    "shadow_inputs_from_store",
    "trajectory_from_store",
]

SHADOW_SAMPLES = "shadow_samples"
"""``records.table_name`` of shadow pairs (and the name of their view)."""


def _canonical(raw_arguments: str) -> str:
    try:
        return json.dumps(json.loads(raw_arguments), sort_keys=True, separators=(",", ":"))
    except (json.JSONDecodeError, TypeError):
        return raw_arguments


class ToolCallRecord(BaseModel):
    """One tool call of a trajectory and what it returned."""

    model_config = ConfigDict(frozen=True)

    name: str
    arguments: str
    """Canonical JSON of the arguments."""
    output: str | None = None
    error: str | None = None


class TrajectoryStep(BaseModel):
    """One model call and the tool calls it asked for (or its final answer)."""

    step: int
    calls: list[ToolCallRecord] = Field(default_factory=list)
    answer: str | None = None
    cost_usd: float = 0.0
    tokens: int = 0
    latency_ms: float = 0.0
    """Model call plus its tool calls."""

    def action(self) -> str:
        """A comparable description: the calls with arguments, or ``answer``."""
        if self.calls:
            return "; ".join(f"{c.name}({c.arguments})" for c in self.calls)
        return "answer"


class Trajectory(BaseModel):
    """The steps of one execution."""

    execution_id: str
    steps: list[TrajectoryStep] = Field(default_factory=list)

    def recorded_calls(self) -> list[ToolCallRecord]:
        """Every tool call in order."""
        return [call for step in self.steps for call in step.calls]


class Divergence(BaseModel):
    """A world-touching call the candidate made that the baseline did not."""

    model_config = ConfigDict(frozen=True)

    step: int | None
    tool: str
    arguments: str
    reason: str


class ShadowInput(BaseModel):
    """One input to replay: a dataset sample, or a recorded baseline execution."""

    model_config = ConfigDict(frozen=True)

    sample_id: str
    input: str
    baseline_execution_id: str | None = None
    """A recorded execution of the baseline on ``input``; run the baseline now if ``None``."""
    target: Any = None


class ShadowPair(BaseModel):
    """The baseline and the candidate on one input, aligned."""

    run_id: str
    sample_id: str
    input: str
    baseline_execution_id: str
    candidate_execution_id: str
    baseline_status: str
    candidate_status: str
    baseline_answer: str | None
    candidate_answer: str | None
    baseline_cost_usd: float
    candidate_cost_usd: float
    baseline_latency_ms: float
    candidate_latency_ms: float
    same_answer: bool
    first_divergent_step: int | None
    """The first step whose action differs; ``None`` when the trajectories match."""
    divergences: list[Divergence]
    steps: list[dict[str, Any]]
    """Per-step alignment: step, baseline and candidate actions, same, cost and latency
    differences (candidate minus baseline)."""


@dataclass
class ShadowRun:
    """A finished shadow run."""

    run_id: str
    baseline: str
    candidate: str
    pairs: list[ShadowPair] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """One row per input: statuses, answers, cost, latency, first divergence."""
        return pairs_frame(self.pairs)

    def steps_frame(self) -> pd.DataFrame:
        """One row per (input, step) of the trajectory alignment."""
        import pandas as pd

        rows = [{"sample_id": p.sample_id, **s} for p in self.pairs for s in p.steps]
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        """Counts and means for the CLI and reports."""
        frame = self.frame()
        n = len(frame)
        return {
            "run_id": self.run_id,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "inputs": n,
            "same_answer": int(frame["same_answer"].sum()) if n else 0,
            "diverged": int(frame["first_divergent_step"].notna().sum()) if n else 0,
            "refused_calls": int(sum(len(p.divergences) for p in self.pairs)),
            "baseline_cost_usd": float(frame["baseline_cost_usd"].sum()) if n else 0.0,
            "candidate_cost_usd": float(frame["candidate_cost_usd"].sum()) if n else 0.0,
            "baseline_latency_ms_mean": float(frame["baseline_latency_ms"].mean()) if n else 0.0,
            "candidate_latency_ms_mean": float(frame["candidate_latency_ms"].mean()) if n else 0.0,
        }


def pairs_frame(pairs: Sequence[ShadowPair]) -> pd.DataFrame:
    """The per-input table of :meth:`ShadowRun.frame`."""
    import pandas as pd

    columns = [
        "sample_id",
        "baseline_status",
        "candidate_status",
        "same_answer",
        "first_divergent_step",
        "baseline_cost_usd",
        "candidate_cost_usd",
        "baseline_latency_ms",
        "candidate_latency_ms",
        "baseline_answer",
        "candidate_answer",
        "baseline_execution_id",
        "candidate_execution_id",
    ]
    rows = [{**p.model_dump(include=set(columns)), "refused": len(p.divergences)} for p in pairs]
    frame = pd.DataFrame(rows, columns=[*columns, "refused"])
    frame["first_divergent_step"] = frame["first_divergent_step"].astype("Int64")
    return frame


# -- trajectories ---------------------------------------------------------------------


class _Recorder:
    """Builds a :class:`Trajectory` from an execution's step events."""

    def __init__(self) -> None:
        self.steps: list[TrajectoryStep] = []
        self._cost = 0.0
        self._tokens = 0
        self._mark = time.perf_counter()

    def __call__(self, event: StepEvent) -> None:
        now = time.perf_counter()
        if event.type == "model":
            tokens = event.prompt_tokens + event.completion_tokens
            calls = [
                ToolCallRecord(name=c["name"], arguments=_canonical(c["arguments"]))
                for c in event.tool_calls or []
            ]
            self.steps.append(
                TrajectoryStep(
                    step=event.step,
                    calls=calls,
                    answer=None if calls else event.text,
                    cost_usd=event.cost_usd - self._cost,
                    tokens=tokens - self._tokens,
                    latency_ms=(now - self._mark) * 1000,
                )
            )
            self._cost, self._tokens, self._mark = event.cost_usd, tokens, now
        elif event.type == "tool" and self.steps:
            step = self.steps[-1]
            for i, call in enumerate(step.calls):
                if call.name == event.tool_name and call.output is None and call.error is None:
                    step.calls[i] = call.model_copy(
                        update={"output": event.text, "error": event.error}
                    )
                    break
            step.latency_ms += (now - self._mark) * 1000
            self._mark = now

    def trajectory(self, execution_id: str) -> Trajectory:
        return Trajectory(execution_id=execution_id, steps=self.steps)


def trajectory_from_store(store: TraceStore, execution_id: str) -> Trajectory:
    """The trajectory of a recorded execution, from its LLM and TOOL spans.

    Raises:
        RunNotFound: The store has no spans of that execution.
    """
    spans = store.sql(
        "SELECT kind, step, tool_name, duration_ms, cost_usd,"
        " coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0) AS tokens,"
        " attributes ->> 'tool.parameters' AS parameters,"
        " attributes ->> 'output.value' AS output, error_type"
        " FROM spans WHERE execution_id = ? AND kind IN ('LLM', 'TOOL')"
        " ORDER BY start_time",
        [execution_id],
    )
    if spans.empty:
        raise RunNotFound(f"the trace store has no spans of execution {execution_id!r}")
    import pandas as pd

    answer = store.sql("SELECT answer FROM executions WHERE execution_id = ?", [execution_id])
    steps: dict[int, TrajectoryStep] = {}
    for row in spans.itertuples(index=False):
        number = int(row.step) if pd.notna(row.step) else 0
        step = steps.setdefault(number, TrajectoryStep(step=number))
        step.latency_ms += float(row.duration_ms)
        if row.kind == "LLM":
            step.cost_usd += float(row.cost_usd) if pd.notna(row.cost_usd) else 0.0
            step.tokens += int(row.tokens)
        else:
            error = row.error_type if isinstance(row.error_type, str) else None
            step.calls.append(
                ToolCallRecord(
                    name=str(row.tool_name),
                    arguments=_canonical(str(row.parameters or "")),
                    output=None if error else row.output,
                    error=error,
                )
            )
    ordered = [steps[k] for k in sorted(steps)]
    if ordered and not ordered[-1].calls and not answer.empty:
        ordered[-1].answer = answer.iloc[0]["answer"]
    return Trajectory(execution_id=execution_id, steps=ordered)


def diff_trajectories(
    baseline: Trajectory, candidate: Trajectory
) -> tuple[int | None, list[dict[str, Any]]]:
    """Align two trajectories step by step.

    Returns:
        The first step whose action differs (``None`` when all match), and one row per
        step: ``step, baseline_action, candidate_action, same, cost_diff_usd,
        latency_diff_ms`` (candidate minus baseline; a missing step counts as zero).
    """
    first: int | None = None
    rows: list[dict[str, Any]] = []
    for i in range(max(len(baseline.steps), len(candidate.steps))):
        a = baseline.steps[i] if i < len(baseline.steps) else None
        b = candidate.steps[i] if i < len(candidate.steps) else None
        same = a is not None and b is not None and a.action() == b.action()
        if not same and first is None:
            first = i
        rows.append(
            {
                "step": i,
                "baseline_action": a.action() if a else None,
                "candidate_action": b.action() if b else None,
                "same": same,
                "cost_diff_usd": (b.cost_usd if b else 0.0) - (a.cost_usd if a else 0.0),
                "latency_diff_ms": (b.latency_ms if b else 0.0) - (a.latency_ms if a else 0.0),
            }
        )
    return first, rows


# -- isolation ----------------------------------------------------------------------------


def _touches_world(tool: Tool) -> bool:
    return bool(tool.side_effects or getattr(tool, "egress", False))


def replay_override(
    baseline: Trajectory,
    divergences: list[Divergence],
    *,
    current_step: Callable[[], int | None] = lambda: None,
) -> ToolOverride:
    """The candidate's tool override: recorded results for world-touching calls.

    A call of a tool with side effects or egress is answered with the baseline's result
    of the same call (same tool and canonical arguments; each recorded result is used
    once, in order). Any other such call is refused with a tool error and appended to
    ``divergences``. Tools that neither change nor reach the world run for real.
    """
    unused = list(baseline.recorded_calls())

    def override(tool: Tool, arguments: dict[str, Any], raw_arguments: str) -> str | None:
        if not _touches_world(tool):
            return None
        canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"))
        for i, call in enumerate(unused):
            if call.name == tool.name and call.arguments == canonical:
                del unused[i]
                if call.error is not None:
                    raise ToolRefused(
                        f"(shadow) the baseline's identical call failed: {call.error}",
                        tool=tool.name,
                    )
                return call.output or ""
        divergences.append(
            Divergence(
                step=current_step(),
                tool=tool.name,
                arguments=canonical,
                reason="the baseline made no such call",
            )
        )
        raise ToolRefused(
            "(shadow run) this call differs from the baseline's, so it was not made",
            tool=tool.name,
        )

    return override


# -- running ------------------------------------------------------------------------------


def shadow_inputs_from_store(
    store: TraceStore,
    *,
    agent: str,
    version: str | None = None,
    limit: int = 100,
    status: str | None = "completed",
) -> list[ShadowInput]:
    """Inputs of recorded executions of ``agent`` (optionally one ``version``), newest first."""
    where = ["agent_name = ?"]
    params: list[Any] = [agent]
    if version is not None:
        where.append("agent_version = ?")
        params.append(version)
    if status is not None:
        where.append("status = ?")
        params.append(status)
    rows = store.sql(
        "SELECT execution_id, task FROM executions WHERE "
        + " AND ".join(where)
        + " ORDER BY started_at DESC LIMIT ?",
        [*params, limit],
    )
    return [
        ShadowInput(sample_id=r.execution_id, input=r.task, baseline_execution_id=r.execution_id)
        for r in rows.itertuples(index=False)
    ]


async def _pair(
    run_id: str,
    item: ShadowInput,
    *,
    baseline: AgentSpec | None,
    candidate: AgentSpec,
    runtime: Runtime,
    shadow_runtime: Runtime,
    store: TraceStore | None,
    principal: str,
) -> ShadowPair:
    if item.baseline_execution_id is not None:
        if store is None:
            raise ConfigError("a recorded baseline needs the trace store")
        base_traj = trajectory_from_store(store, item.baseline_execution_id)
        meta = store.sql(
            "SELECT status, answer, cost_usd, latency_ms FROM executions WHERE execution_id = ?",
            [item.baseline_execution_id],
        )
        row = meta.iloc[0] if not meta.empty else None
        base_id = item.baseline_execution_id
        base_status = str(row["status"]) if row is not None else "unknown"
        base_answer = row["answer"] if row is not None else None
        base_cost = float(row["cost_usd"] or 0.0) if row is not None else 0.0
        base_latency = float(row["latency_ms"] or 0.0) if row is not None else 0.0
    else:
        if baseline is None:
            raise ConfigError("running the baseline on a dataset needs its agent spec")
        recorder = _Recorder()
        result = await runtime.arun(
            baseline,
            item.input,
            execution_id=f"sh-{run_id}-{item.sample_id}-base",
            principal=principal,
            on_event=recorder,
        )
        base_traj = recorder.trajectory(result.execution_id)
        base_id, base_status, base_answer = result.execution_id, result.status.value, result.answer
        base_cost, base_latency = result.cost_usd, result.latency_s * 1000
    divergences: list[Divergence] = []
    recorder = _Recorder()
    override = replay_override(
        base_traj,
        divergences,
        current_step=lambda: recorder.steps[-1].step if recorder.steps else None,
    )
    cand: ExecutionResult = await shadow_runtime.arun(
        candidate,
        item.input,
        execution_id=f"sh-{run_id}-{item.sample_id}-cand",
        principal=principal,
        on_event=recorder,
        tool_override=override,
    )
    first, steps = diff_trajectories(base_traj, recorder.trajectory(cand.execution_id))
    return ShadowPair(
        run_id=run_id,
        sample_id=item.sample_id,
        input=item.input,
        baseline_execution_id=base_id,
        candidate_execution_id=cand.execution_id,
        baseline_status=base_status,
        candidate_status=cand.status.value,
        baseline_answer=base_answer,
        candidate_answer=cand.answer,
        baseline_cost_usd=base_cost,
        candidate_cost_usd=cand.cost_usd,
        baseline_latency_ms=base_latency,
        candidate_latency_ms=cand.latency_s * 1000,
        same_answer=(base_answer or "").strip() == (cand.answer or "").strip(),
        first_divergent_step=first,
        divergences=divergences,
        steps=steps,
    )


async def ashadow(
    inputs: Sequence[ShadowInput],
    *,
    candidate: AgentSpec,
    baseline: AgentSpec | None = None,
    runtime: Runtime | None = None,
    store: TraceStore | None = None,
    tracer: Tracer | None = None,
    run_id: str | None = None,
    concurrency: int = 4,
    principal: str = "shadow",
    on_pair: Callable[[ShadowPair], None] | None = None,
) -> ShadowRun:
    """Run ``candidate`` in the shadow of the baseline on every input.

    Args:
        inputs: Dataset samples (the baseline runs now) or recorded baseline executions
            (see :func:`shadow_inputs_from_store`).
        candidate: v2. Its answers are returned for comparison only, never served.
        baseline: v1's spec, needed for inputs without a recorded execution.
        runtime: Runs the baseline (a fresh one on the default home if omitted).
        store: The trace store recorded executions are read from.
        tracer: Where the ``shadow_samples`` rows go (the process-wide tracer if omitted).
        run_id: Id of this shadow run; a new one if omitted.
        concurrency: Inputs in flight at once.
        principal: Principal the executions run as.
        on_pair: Called with each pair as it finishes (progress, notebooks).

    Returns:
        The pairs, in the order of ``inputs``.
    """
    run_id = run_id or f"sh{time.strftime('%Y%m%d%H%M%S')}{uuid.uuid4().hex[:6]}"
    own = runtime is None
    runtime = runtime or Runtime()
    # The candidate's executions keep nothing durable of their own: they are re-run, not
    # resumed, and must not pause at approval gates of the real world.
    shadow_runtime = Runtime(runtime.settings, tracer=runtime.tracer, durable=False)
    tracer = tracer or runtime.tracer or get_tracer()
    gate = asyncio.Semaphore(max(1, concurrency))
    result = ShadowRun(
        run_id=run_id,
        baseline=f"{baseline.name}@{baseline.version}" if baseline else "recorded",
        candidate=f"{candidate.name}@{candidate.version}",
    )

    async def one(item: ShadowInput) -> ShadowPair:
        async with gate:
            pair = await _pair(
                run_id,
                item,
                baseline=baseline,
                candidate=candidate,
                runtime=runtime,
                shadow_runtime=shadow_runtime,
                store=store,
                principal=principal,
            )
        tracer.record(
            SHADOW_SAMPLES,
            {
                **pair.model_dump(mode="json"),
                "baseline": result.baseline,
                "candidate": result.candidate,
            },
        )
        if on_pair is not None:
            on_pair(pair)
        return pair

    try:
        result.pairs = list(await asyncio.gather(*(one(item) for item in inputs)))
    finally:
        await asyncio.to_thread(tracer.flush)
        await shadow_runtime.aclose()
        if own:
            await runtime.aclose()
    return result


def shadow(inputs: Sequence[ShadowInput], **options: Any) -> ShadowRun:
    """Sync wrapper of :func:`ashadow` (works inside a running loop, as in Jupyter)."""
    from workbench._util import run_sync

    return run_sync(ashadow(inputs, **options))


def load_shadow_run(store: TraceStore, run_id: str) -> ShadowRun:
    """A shadow run read back from the store's ``shadow_samples`` rows.

    Raises:
        RunNotFound: No shadow run has that id.
    """
    rows = store.sql(
        "SELECT row FROM records WHERE table_name = ? AND (row ->> 'run_id') = ?"
        " ORDER BY recorded_at",
        [SHADOW_SAMPLES, run_id],
    )
    if rows.empty:
        raise RunNotFound(f"no shadow run {run_id!r} in the trace store")
    data = [json.loads(r) for r in rows["row"]]
    pairs = [ShadowPair.model_validate(d) for d in data]
    return ShadowRun(
        run_id=run_id, baseline=data[0]["baseline"], candidate=data[0]["candidate"], pairs=pairs
    )
