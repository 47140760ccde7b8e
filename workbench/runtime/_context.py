"""Per-execution, per-process context that the graph's nodes read.

LangGraph checkpoints only the small :class:`LoopState`; everything that cannot or
should not be checkpointed (the resolved tools, the tracer, the event callback, the
in-process message cache) lives here, keyed by execution id, and is rebuilt from
the spec and the journal when a fresh process resumes the execution.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from workbench.models import ModelReply
from workbench.runtime._defenses import Defenses
from workbench.runtime._journal import EffectJournal, JournalEntry
from workbench.runtime._spec import AgentSpec
from workbench.runtime._types import StepEvent
from workbench.settings import Limits
from workbench.tools import Tool, ToolRegistry
from workbench.tracing import Span, Tracer

__all__ = ["ExecutionContext", "GraphState", "LoopState", "ToolOverride", "Totals"]

ToolOverride = Callable[["Tool", dict[str, Any], str], "str | None"]
"""``(tool, arguments, raw_arguments) -> result``: a string answers the call without
running the tool; ``None`` runs it; a raised :class:`~workbench.errors.ToolError` refuses it."""


class LoopState(TypedDict):
    """The checkpointed state: counters only, so checkpoints stay small and constant."""

    step: int
    """Model calls completed."""
    repairs: int
    """Malformed outputs sent back to the model so far."""
    elapsed_s: float
    """Running time so far, summed over processes (pauses excluded)."""
    status: str
    """An :class:`ExecutionStatus` value."""
    route: str
    """Next node: ``agent``, ``tools`` or ``end``."""
    answer: str | None
    """Final answer once completed."""
    error: str | None
    """Why it stopped, if not completed."""


class GraphState(TypedDict):
    """The graph's one channel. One channel, not one per counter: LangGraph versions and
    writes every channel a node updates, so a single channel keeps each step to one
    write row per node."""

    loop: LoopState


@dataclass(slots=True)
class Totals:
    """Token and USD totals, summed from the journal's model entries."""

    steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, reply: ModelReply) -> None:
        """Count one model reply."""
        self.steps += 1
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.cost_usd += reply.cost_usd


@dataclass
class ExecutionContext:
    """What the nodes of one execution need in this process."""

    execution_id: str
    thread_id: str
    trace_id: str
    principal: str | None
    spec: AgentSpec
    task: str
    limits: Limits
    tools: ToolRegistry
    journal: EffectJournal
    tracer: Tracer
    root: Span
    defenses: Defenses
    on_event: Callable[[StepEvent], None] | None = None
    tool_override: ToolOverride | None = None
    """Answers tool calls instead of running them (shadow runs); ``None`` runs every tool."""
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    messages: list[dict[str, Any]] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)
    seen: set[tuple[int, int]] = field(default_factory=set)
    journaled_through: int = -1
    """Highest step the journal held when this process loaded it; steps after it were
    written by this process, so their entries need no lookup."""
    last_reply: tuple[int, ModelReply] | None = None
    """The newest model reply and its step, so the tools node need not re-read it."""
    _stop_checked_at: float = 0.0
    _definitions: list[dict[str, Any]] | None = None

    def tool_definitions(self) -> list[dict[str, Any]] | None:
        """The tools' definitions for the model, built once per execution."""
        if self._definitions is None:
            self._definitions = self.tools.definitions()
        return self._definitions or None

    def load_messages(self, *, fresh: bool = False) -> None:
        """Rebuild the conversation and totals from the journal (used on every (re)start).

        ``fresh``: the execution's metadata was saved just now, so the journal, which
        records entries only for executions whose metadata it holds, has none to read.
        """
        self.messages = [
            {"role": "system", "content": self.defenses.system_prompt(self.spec.system_prompt)},
            {"role": "user", "content": self.task},
        ]
        self.totals = Totals()
        self.seen = set()
        self.journaled_through = -1
        for entry in () if fresh else self.journal.entries(self.execution_id):
            self.journaled_through = max(self.journaled_through, entry.step)
            self.append(entry)

    def tool_outputs(self) -> list[tuple[str, str]]:
        """(tool, content) of every tool result the model has read, for taint checks."""
        names = {
            c["id"]: c["function"]["name"]
            for m in self.messages
            if m["role"] == "assistant"
            for c in (m.get("tool_calls") or [])
        }
        return [
            (names.get(m["tool_call_id"], "tool"), str(m["content"]))
            for m in self.messages
            if m["role"] == "tool" and not str(m["content"]).startswith("ERROR ")
        ]

    def lookup(self, step: int, call_index: int) -> JournalEntry | None:
        """The journal entry at (step, call), skipping the query where none can exist."""
        if step > self.journaled_through:
            return None
        return self.journal.get(self.execution_id, step, call_index)

    def stop_requested(self) -> bool:
        """A stop asked in this process, or (checked at most every 0.2 s) in another."""
        if self.stop.is_set():
            return True
        now = time.monotonic()
        if now - self._stop_checked_at >= 0.2:
            self._stop_checked_at = now
            if self.journal.stop_requested(self.execution_id):
                self.stop.set()
        return self.stop.is_set()

    def append(self, entry: JournalEntry, reply: ModelReply | None = None) -> None:
        """Add one journal entry's message to the conversation, once.

        A node that re-runs after a crash replays entries that :meth:`load_messages`
        already read from the journal; they must not enter the conversation twice.
        ``reply`` is the entry's model reply when the caller has it already parsed.
        """
        if entry.status != "done" or (entry.step, entry.call_index) in self.seen:
            return
        self.seen.add((entry.step, entry.call_index))
        if entry.kind == "model":
            reply = reply or ModelReply.model_validate(entry.payload)
            self.totals.add(reply)
            self.messages.append(reply.to_message())
        elif entry.kind == "tool":
            p = entry.payload
            if p.get("flagged"):
                self.defenses.flagged_context = True
            self.messages.append(
                {"role": "tool", "tool_call_id": p["tool_call_id"], "content": p["content"]}
            )
        else:
            self.messages.append({"role": "user", "content": entry.payload["content"]})

    def emit(self, event_type: str, step: int, **fields: Any) -> None:
        """Send a step event to the callback, if any, with the running totals."""
        if self.on_event is None:
            return
        # Built from our own typed values on every step: construct, do not re-validate.
        self.on_event(
            StepEvent.model_construct(
                **{
                    "execution_id": self.execution_id,
                    "type": event_type,
                    "step": step,
                    "prompt_tokens": self.totals.prompt_tokens,
                    "completion_tokens": self.totals.completion_tokens,
                    "cost_usd": self.totals.cost_usd,
                    **fields,
                }
            )
        )
