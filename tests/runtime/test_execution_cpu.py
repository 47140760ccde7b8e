"""The CPU cuts on the execution path keep their answers: the in-memory journal answers as
the SQLite one, the tracer's async flush seals without an executor thread, model replies
built without re-validation are valid, and a spec is prepared once per runtime."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import SpecFactory

from workbench._util import GroupCommit
from workbench.models import ModelReply, Turn, acomplete, register_script
from workbench.runtime import (
    AgentSpec,
    Approval,
    EffectJournal,
    ExecutionMeta,
    ExecutionStatus,
    JournalEntry,
    MemoryJournal,
    Runtime,
    SqliteJournal,
)
from workbench.settings import get_settings
from workbench.testing import InMemorySpanExporter
from workbench.tracing import RecordRow, SpanRecord, Tracer
from workbench.tracing._exporter import SpanExporter


def _exercise(journal: EffectJournal, now: float) -> list[Any]:
    """The same calls on any journal; what each call answered, in order."""
    out: list[Any] = []
    meta = ExecutionMeta("ex-1", "th-1", {"name": "a", "tools": ["x"]}, "task", "t" * 32, None, 1.0)
    journal.request_stop("ex-1")  # unknown yet: no effect, as the SQL UPDATE
    out.append(journal.stop_requested("ex-1"))
    journal.save_meta(meta)
    journal.save_meta(ExecutionMeta("ex-1", "other", {}, "other", "u" * 32, "p", 2.0))
    out.append(journal.load_meta("ex-1"))
    out.append(journal.load_meta("nope"))
    journal.request_stop("ex-1")
    out.append(journal.stop_requested("ex-1"))
    journal.record(JournalEntry("ex-1", 1, 1, "tool", "started", {"idempotency_key": "k"}))
    journal.record(JournalEntry("ex-1", 0, 0, "model", "done", {"text": "hi", "n": [1, 2]}))
    journal.record(JournalEntry("ex-1", 1, 0, "model", "done", {"text": None}))
    journal.record(JournalEntry("ex-1", 1, 1, "tool", "done", {"content": "v", "error": None}))
    journal.record(JournalEntry("ex-2", 0, 0, "feedback", "done", {"content": "f"}))
    out.append(journal.entries("ex-1"))
    out.append(journal.entries("ex-3"))
    out.append(journal.get("ex-1", 1, 1))
    out.append(journal.get("ex-1", 5, 0))
    journal.scratchpad_put("wf", "b", "2", writer="w1")
    journal.scratchpad_put("wf", "a", "1", writer="w1")
    journal.scratchpad_put("wf", "b", "3", writer="w2")
    out.append(list(journal.scratchpad("wf").items()))
    out.append(journal.scratchpad("none"))
    first = Approval("ex-1:1:1", "ex-1", 1, 1, "t", "{}", "why", None, now, now + 60)
    late = Approval("ex-1:2:1", "ex-1", 2, 1, "t", "{}", "why", None, now - 10, now - 5)
    out.append(journal.request_approval(first))
    out.append(journal.request_approval(dataclasses.replace(first, reason="other")))
    journal.request_approval(late)
    out.append([a.id for a in journal.approvals(status="pending")])
    decided = journal.decide_approval("ex-1:1:1", approved=True, decided_by="me", reason="ok")
    assert decided is not None
    assert decided.decided_at is not None
    out.append((decided.status, decided.decided_by, decided.decision_reason))
    again = journal.decide_approval("ex-1:1:1", approved=False, decided_by="x", reason="no")
    assert again is not None
    out.append((again.status, again.decided_by))
    past = journal.decide_approval("ex-1:2:1", approved=True, decided_by="me", reason=None)
    assert past is not None
    out.append((past.status, past.effective_status()))
    out.append(journal.decide_approval("missing", approved=True, decided_by=None, reason=None))
    out.append([a.id for a in journal.approvals()])
    out.append([a.id for a in journal.approvals(status="approved")])
    return out


def test_memory_journal_answers_as_the_sqlite_journal(tmp_path: Path) -> None:
    now = time.time()
    sqlite = SqliteJournal(tmp_path / "journal.db")
    try:
        expected = _exercise(sqlite, now)
    finally:
        sqlite.close()
    memory = MemoryJournal()
    assert _exercise(memory, now) == expected
    memory.close()


def test_in_memory_runtime_journals_in_memory(workbench_home: Path, make_spec: SpecFactory) -> None:
    spec = make_spec(
        [Turn.call("calculator", expression="2 + 2"), Turn.final("4")], tools=["calculator"]
    )
    runtime = Runtime(get_settings(workbench_home), durable=False)
    try:
        result = asyncio.run(runtime.arun(spec, "2 + 2?", execution_id="ex-mem"))
        assert isinstance(runtime.journal, MemoryJournal)
        entries = runtime.journal.entries("ex-mem")
    finally:
        runtime.close()
    assert (result.status, result.answer, result.steps) == (ExecutionStatus.COMPLETED, "4", 2)
    assert [(e.step, e.call_index, e.kind, e.status) for e in entries] == [
        (0, 0, "model", "done"),
        (0, 1, "tool", "done"),
        (1, 0, "model", "done"),
    ]
    assert entries[1].payload["content"] == "4"
    assert not (workbench_home / "journal.db").exists()


def test_a_spec_is_prepared_once_per_runtime(
    workbench_home: Path, make_spec: SpecFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    dumps: list[str] = []
    original = AgentSpec.model_dump

    def counting(self: AgentSpec, **kwargs: Any) -> dict[str, Any]:
        dumps.append(self.name)
        return original(self, **kwargs)

    monkeypatch.setattr(AgentSpec, "model_dump", counting)
    spec = make_spec(lambda messages, tools: Turn.final("ok"))
    other = spec.model_copy(update={"name": "other"})
    dumps.clear()
    runtime = Runtime(get_settings(workbench_home), durable=False)

    async def runs() -> list[str | None]:
        answers = [
            (await runtime.arun(spec, f"q{i}", execution_id=f"a{i}")).answer for i in range(3)
        ]
        answers.append((await runtime.arun(other, "q")).answer)
        return answers

    try:
        assert asyncio.run(runs()) == ["ok"] * 4
        meta = runtime.journal.load_meta("a1")
    finally:
        runtime.close()
    assert dumps == ["tester", "other"]
    assert meta is not None
    assert meta.spec == original(spec, mode="json")


class _Sealing(SpanExporter):
    """Records batches; blocks each export until ``gate`` is set."""

    def __init__(self) -> None:
        self.batches: list[list[SpanRecord | RecordRow]] = []
        self.gate = threading.Event()
        self.gate.set()

    def export(self, batch: Sequence[SpanRecord | RecordRow]) -> None:
        self.gate.wait(10)
        self.batches.append(list(batch))


class _NoThreads(concurrent.futures.ThreadPoolExecutor):
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the flush took an executor thread")


def test_aflush_seals_without_an_executor_thread() -> None:
    exporter = _Sealing()
    tracer = Tracer([exporter], flush_interval_s=60.0)  # only a flush exports in time

    async def go() -> tuple[bool, int]:
        asyncio.get_running_loop().set_default_executor(_NoThreads())
        tracer.record("t", {"n": 1})
        flushed = await tracer.aflush()
        sealed = sum(len(b) for b in exporter.batches)
        tracer.record("t", {"n": 2})
        await GroupCommit(tracer).commit()  # the group commit takes the same path
        return flushed, sealed

    try:
        flushed, sealed = asyncio.run(go())
    finally:
        tracer.shutdown()
    assert (flushed, sealed) == (True, 1)
    assert [row.row["n"] for b in exporter.batches for row in b] == [1, 2]  # type: ignore[union-attr]


def test_aflush_gives_up_after_its_timeout() -> None:
    exporter = _Sealing()
    exporter.gate.clear()
    tracer = Tracer([exporter], flush_interval_s=60.0)

    async def go() -> bool:
        tracer.record("t", {"n": 1})
        return await tracer.aflush(timeout_s=0.05)

    try:
        assert asyncio.run(go()) is False
    finally:
        exporter.gate.set()
        tracer.shutdown()
    assert len(exporter.batches) == 1


def test_a_reply_built_without_validation_is_valid() -> None:
    model = register_script(
        "cpu-reply",
        [Turn(text="thinking", tool_calls=[Turn.call("lookup", key="k").tool_calls[0]])],
    )

    async def go() -> ModelReply:
        return await acomplete(model, [{"role": "user", "content": "q"}], timeout_s=10.0)

    reply = asyncio.run(go())
    assert ModelReply.model_validate(reply.model_dump()) == reply
    assert reply.model_dump() == {
        "text": "thinking",
        "tool_calls": [{"id": "call_0_0", "name": "lookup", "arguments": '{"key": "k"}'}],
        "finish_reason": "tool_calls",
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "cost_usd": pytest.approx(reply.prompt_tokens * 0.15e-6 + reply.completion_tokens * 0.6e-6),
        "model": model,
        "latency_s": reply.latency_s,
    }
    assert type(reply.cost_usd) is float
    assert type(reply.prompt_tokens) is int


def test_in_memory_spans_still_reach_the_tracer(
    workbench_home: Path, make_spec: SpecFactory
) -> None:
    spans = InMemorySpanExporter()
    tracer = Tracer([spans], flush_interval_s=60.0)
    runtime = Runtime(get_settings(workbench_home), tracer=tracer, durable=False)
    spec = make_spec(lambda messages, tools: Turn.final("ok"))
    try:
        result = asyncio.run(runtime.arun(spec, "q", execution_id="ex-s"))
    finally:
        runtime.close()
        tracer.shutdown()
    names = sorted(
        s.name for s in spans.spans if s.attributes.get("workbench.execution_id") == "ex-s"
    )
    assert result.status is ExecutionStatus.COMPLETED
    assert names == ["agent tester", f"llm {spec.model}"]


def test_the_graph_keeps_the_channels_of_earlier_checkpoints() -> None:
    """Routing by ``Command(goto=...)`` writes the ``branch:to:<node>`` channels the
    conditional edges wrote, so a checkpoint of either layout resumes in the other."""
    from langgraph.checkpoint.memory import InMemorySaver

    from workbench.runtime._loop import build_graph

    def no_context(execution_id: str) -> Any:
        raise AssertionError("not run")

    graph = build_graph(no_context, InMemorySaver())
    assert sorted(graph.channels) == [
        "__pregel_tasks",
        "__start__",
        "branch:to:agent",
        "branch:to:tools",
        "loop",
    ]
    assert {name: list(node.triggers) for name, node in graph.nodes.items()} == {
        "__start__": ["__start__"],
        "agent": ["branch:to:agent"],
        "tools": ["branch:to:tools"],
    }
