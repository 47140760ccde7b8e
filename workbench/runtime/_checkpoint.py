"""The embedded checkpointer: LangGraph's SqliteSaver, called inline from async code.

LangGraph's async SQLite saver runs every statement on aiosqlite's worker thread:
about fifteen thread hops per ReAct step. In WAL mode with ``synchronous=NORMAL`` a
commit takes tens of microseconds, less than one hop, so this saver runs the sync
methods directly on the event loop, as the effect journal does. The durability is
the same: a committed checkpoint survives the death of the process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver

__all__ = ["InlineSqliteSaver", "InlineSyncCalls", "open_checkpointer"]


class InlineSyncCalls(BaseCheckpointSaver[str]):
    """Mixin: the async methods of a sync checkpoint saver run its sync ones inline.

    Put it first in the bases of a saver whose sync methods are cheap (a local SQLite
    commit, a loopback PostgreSQL round trip): no thread hop per call.
    """

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self.get_delta_channel_history(config=config, channels=channels)


class InlineSqliteSaver(InlineSyncCalls, SqliteSaver):
    """``SqliteSaver`` whose async methods run the sync ones inline (no thread hop)."""


def open_checkpointer(path: Path) -> InlineSqliteSaver:
    """A checkpointer on the SQLite file ``path`` (WAL, ``synchronous=NORMAL``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # A commit survives the death of the process; only a power loss may drop the
    # newest ones, and the effect journal replays those anyway.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    saver = InlineSqliteSaver(conn)
    saver.setup()
    return saver
