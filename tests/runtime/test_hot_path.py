"""The execution hot path: spans flushed before a result returns (one flush shared by
executions finishing together, from any event loop), re-asked executions of an
in-memory runtime replayed, and typed step events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runtime_helpers import Events, SpecFactory

from workbench.models import Turn, get_scripted_model
from workbench.runtime import ExecutionStatus, Runtime, StepEvent
from workbench.settings import get_settings
from workbench.testing import InMemorySpanExporter
from workbench.tracing import Tracer


def _agent_spans(spans: InMemorySpanExporter, execution_id: str) -> list[str]:
    return [
        s.name
        for s in spans.spans
        if s.attributes.get("workbench.execution_id") == execution_id and s.name.startswith("agent")
    ]


def test_spans_are_exported_before_each_result_in_any_loop(
    workbench_home: Path, make_spec: SpecFactory
) -> None:
    spans = InMemorySpanExporter()
    # A slow background flush: only the runtime's own flush can have exported the spans.
    tracer = Tracer([spans], flush_interval_s=60.0)
    runtime = Runtime(get_settings(workbench_home), tracer=tracer, durable=False)
    spec = make_spec(lambda messages, tools: Turn.final("4"))

    async def many(tag: str) -> list[str]:
        results = await asyncio.gather(
            *(runtime.arun(spec, f"{tag} {i}", execution_id=f"{tag}-{i}") for i in range(12))
        )
        for result in results:
            assert result.status is ExecutionStatus.COMPLETED
            assert _agent_spans(spans, result.execution_id) == ["agent tester"]
        return [r.execution_id for r in results]

    try:
        # Two event loops in turn: the shared flush belongs to the loop that runs it.
        first = asyncio.run(asyncio.wait_for(many("a"), 30))
        second = asyncio.run(asyncio.wait_for(many("b"), 30))
    finally:
        runtime.close()
        tracer.shutdown()
    assert len(set(first + second)) == 24


def test_in_memory_runtime_reports_a_finished_execution_again(
    workbench_home: Path, make_spec: SpecFactory
) -> None:
    spec = make_spec([Turn.final("the answer")])
    runtime = Runtime(get_settings(workbench_home), durable=False)
    events = Events()

    async def twice() -> tuple[str | None, str | None]:
        first = await runtime.arun(spec, "q", execution_id="ex-1", on_event=events.append)
        again = await runtime.arun(spec, "q", execution_id="ex-1")
        return first.answer, again.answer

    try:
        assert asyncio.run(twice()) == ("the answer", "the answer")
    finally:
        runtime.close()
    # The second run read the checkpoint: the model was asked once.
    assert get_scripted_model(spec.model).call_count == 1
    assert events.types() == ["model", "status"]
    assert all(isinstance(e, StepEvent) for e in events)
    model_event = events[0]
    assert (model_event.execution_id, model_event.step, model_event.text) == (
        "ex-1",
        0,
        "the answer",
    )
    assert model_event.prompt_tokens > 0
    assert model_event.cost_usd > 0
    assert events[-1].status == "completed"
