"""Shared pieces of the loop benchmarks: the tool, the scripted model and a bare LangGraph loop.

The bare loop is the ReAct loop as people write it on LangGraph: a ``messages`` channel
reduced by ``add_messages``, an ``agent`` node and a ``tools`` node, routing on tool
calls, checkpointed by ``SqliteSaver``/``AsyncSqliteSaver``. Its model replies come from
the same scripted model through the same :func:`workbench.models.acomplete` as the full
runtime's, so the two loops differ only in what they do around the model call.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# litellm downloads its cost map at import unless told not to: set before any import of it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypedDict

import aiosqlite
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    ToolMessage,
    convert_to_openai_messages,
)
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from workbench.models import ModelReply, Turn, acomplete, complete, register_script
from workbench.runtime import AgentSpec, LimitsOverride
from workbench.tools import ToolRegistry, tool

SYSTEM_PROMPT = "You look keys up, one at a time, then answer."
TASK = "Look up the keys, then say done."
# What the runtime sets on its own checkpoint connection; the bare loops get the same, so
# the comparison is not about fsync settings (SQLite's defaults are measured separately).
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=10000")


@tool
async def lookup(key: str) -> str:
    """Look a key up.

    Args:
        key: The key.
    """
    return f"value-of-{key}"


TOOL_REF = "_common:lookup"
TOOL_DEFINITIONS: list[dict[str, Any]] = [dict(d) for d in ToolRegistry([lookup]).definitions()]


def script_for(steps: int) -> Callable[[list[dict[str, Any]], Any], Turn]:
    """A script of ``steps`` model calls: ``steps - 1`` tool calls, then a final answer."""

    def script(messages: list[dict[str, Any]], tools: Any) -> Turn:
        done = sum(1 for m in messages if m.get("role") == "assistant")
        if done < steps - 1:
            return Turn.call("lookup", key=f"k{done}")
        return Turn.final("done")

    return script


def register(name: str, steps: int) -> str:
    """Register ``scripted/<name>`` for ``steps``-step executions; returns the model name."""
    return register_script(name, script_for(steps))


def agent_spec(model: str, max_steps: int) -> AgentSpec:
    """The full runtime's agent: the scripted model and the one tool."""
    return AgentSpec(
        name="bench",
        model=model,
        system_prompt=SYSTEM_PROMPT,
        tools=[TOOL_REF],
        limits=LimitsOverride(max_steps=max_steps),
    )


# -- the bare LangGraph loop ---------------------------------------------------------------


class BareState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def initial_messages() -> dict[str, Any]:
    """The bare loop's input: the same system and user messages the runtime starts with."""
    return {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": TASK},
        ]
    }


def _ai_message(reply: ModelReply) -> AIMessage:
    return AIMessage(
        content=reply.text or "",
        tool_calls=[
            {"name": c.name, "args": json.loads(c.arguments), "id": c.id, "type": "tool_call"}
            for c in reply.tool_calls
        ],
    )


def _turn_reply(turn: Turn, index: int) -> ModelReply:
    """What a model would reply for ``turn``, without any model call (the no-model baseline)."""
    return ModelReply(
        text=turn.text,
        tool_calls=[
            {"id": f"call_{index}_{j}", "name": c.name, "arguments": c.raw()}
            for j, c in enumerate(turn.tool_calls)
        ],
        finish_reason="tool_calls" if turn.tool_calls else "stop",
        prompt_tokens=1,
        completion_tokens=1,
        cost_usd=0.0,
        model="python",
        latency_s=0.0,
    )


def _route(state: BareState) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else END


async def _run_tools(state: BareState) -> dict[str, Any]:
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    out = []
    for call in last.tool_calls:
        content = await lookup.fn(**call["args"])
        out.append(ToolMessage(content=content, tool_call_id=call["id"], name=call["name"]))
    return {"messages": out}


def _graph(agent: Callable[..., Any], tools: Callable[..., Any]) -> StateGraph[BareState]:
    graph: StateGraph[BareState] = StateGraph(BareState)
    graph.add_node("agent", agent)
    graph.add_node("tools", tools)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", _route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph


ReplyFn = Callable[[list[dict[str, Any]]], Awaitable[ModelReply]]


def model_reply(model: str) -> ReplyFn:
    """Replies from ``model`` through :func:`workbench.models.acomplete`, as the runtime asks."""

    async def reply(messages: list[dict[str, Any]]) -> ModelReply:
        return await acomplete(model, messages, tools=TOOL_DEFINITIONS, timeout_s=60.0)

    return reply


def python_reply(steps: int) -> ReplyFn:
    """Replies from the script function called directly: no litellm, no acomplete."""
    script = script_for(steps)

    async def reply(messages: list[dict[str, Any]]) -> ModelReply:
        index = sum(1 for m in messages if m.get("role") == "assistant")
        return _turn_reply(script(messages, TOOL_DEFINITIONS), index)

    return reply


async def open_async_bare(path: Path, reply: ReplyFn, *, pragmas: bool = True) -> tuple[Any, Any]:
    """The async bare loop on ``AsyncSqliteSaver``; returns (connection, compiled graph)."""
    conn = await aiosqlite.connect(str(path))
    if pragmas:
        for pragma in PRAGMAS:
            await conn.execute(pragma)
    saver = AsyncSqliteSaver(conn)
    await saver.setup()

    async def agent(state: BareState) -> dict[str, Any]:
        # The request in OpenAI format, as any litellm-backed LangGraph agent builds it.
        messages: Any = convert_to_openai_messages(state["messages"])
        return {"messages": [_ai_message(await reply(messages))]}

    return conn, _graph(agent, _run_tools).compile(checkpointer=saver)


def open_sync_bare(path: Path, model: str) -> tuple[sqlite3.Connection, Any]:
    """The sync bare loop on ``SqliteSaver``, asking ``model`` through the sync ``complete``."""
    conn = sqlite3.connect(str(path), check_same_thread=False)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    saver = SqliteSaver(conn)
    saver.setup()

    def agent(state: BareState) -> dict[str, Any]:
        messages: Any = convert_to_openai_messages(state["messages"])
        reply = complete(model, messages, tools=TOOL_DEFINITIONS, timeout_s=60.0)
        return {"messages": [_ai_message(reply)]}

    def tools(state: BareState) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        out = []
        for call in last.tool_calls:
            # The tool is async; a sync loop would hold a sync function: same string result.
            content = f"value-of-{call['args']['key']}"
            out.append(ToolMessage(content=content, tool_call_id=call["id"], name=call["name"]))
        return {"messages": out}

    return conn, _graph(agent, tools).compile(checkpointer=saver)


def model_calls(state: dict[str, Any]) -> int:
    """Model calls in a finished bare execution: its AI messages."""
    return sum(1 for m in state["messages"] if isinstance(m, AIMessage))


def sqlite_bytes(path: Path) -> int:
    """Bytes of a SQLite database after folding its WAL back in (page_count * page_size)."""
    conn = sqlite3.connect(str(path))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    return int(pages) * int(size)
