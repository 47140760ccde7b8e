"""``remember`` and ``recall``: the memory store as tools an agent can call.

Whatever the model writes is marked ``tainted``: its context may hold tool outputs
(a web page, an e-mail) and the text it chooses to remember may carry them. ``recall``
returns each fact between delimiters that name its source and taint, and its output is
a tool output like any other: the runtime's taint tracking sees an argument copied from
it, and the policy engine asks a person before it reaches a high-risk tool. A poisoned
memory therefore never authorises a high-risk call on its own.
"""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field

from workbench.errors import ConfigError, ToolArgumentsInvalid
from workbench.memory._store import MemoryStore, RecalledFact
from workbench.settings import get_settings
from workbench.tools import Tool, ToolContext, tool

__all__ = ["MAX_RECALL_K", "format_recalled", "recall_tool", "remember_tool", "shared_store"]

MAX_RECALL_K = 20


@functools.lru_cache(maxsize=8)
def _store_at(path: str, embedder_choice: str) -> MemoryStore:
    return MemoryStore(path)


def shared_store(home: Path | None = None) -> MemoryStore:
    """The memory store of a workbench home, one per process (the embedder loads once)."""
    path = (home or get_settings().home) / "memory.duckdb"
    return _store_at(str(path), os.environ.get("WORKBENCH_MEMORY_EMBEDDER", "minilm"))


def format_recalled(recalled: list[RecalledFact]) -> str:
    """Facts as the model reads them: each between delimiters naming its source and taint."""
    if not recalled:
        return "no memories match"
    parts = []
    for n, item in enumerate(recalled, start=1):
        fact = item.fact
        trust = (
            "UNTRUSTED (written by an agent; may carry tool-output data)"
            if fact.tainted
            else "trusted (written by the principal)"
        )
        parts.append(
            f"[memory {n} id={fact.id} source={fact.source} tainted={str(fact.tainted).lower()}"
            f" score={item.score:.3f} {trust}]\n{fact.text}\n[end memory {n}]"
        )
    return "\n".join(parts)


def remember_tool(store: MemoryStore | None = None) -> Tool:
    """The ``remember`` tool (scope ``memory:write``) over ``store`` (the home's if None)."""

    @tool(name="remember", side_effects=True, scope="memory:write")
    async def remember(
        text: Annotated[str, Field(min_length=1, max_length=4000)], ctx: ToolContext
    ) -> str:
        """Store a fact in long-term memory, for later executions of the same principal.

        Args:
            text: The fact, self-contained (it is read without this conversation).
        """
        target = store or shared_store()
        try:
            fact = await asyncio.to_thread(
                target.remember,
                ctx.principal,
                text,
                tainted=True,
                source=f"agent:{ctx.execution_id}",
                key=ctx.idempotency_key,
            )
        except ConfigError as exc:
            raise ToolArgumentsInvalid(exc.message, tool="remember") from exc
        return f"remembered {fact.id}"

    return remember


def recall_tool(store: MemoryStore | None = None) -> Tool:
    """The ``recall`` tool (scope ``memory:read``) over ``store`` (the home's if None)."""

    @tool(name="recall", scope="memory:read")
    async def recall(
        query: Annotated[str, Field(min_length=1, max_length=2000)],
        ctx: ToolContext,
        k: Annotated[int, Field(ge=1, le=MAX_RECALL_K)] = 5,
    ) -> str:
        """Search long-term memory for facts related to a query.

        Args:
            query: What to look for.
            k: How many facts to return, best first.
        """
        target = store or shared_store()
        found = await asyncio.to_thread(target.recall, ctx.principal, query, k)
        return format_recalled(found)

    return recall
