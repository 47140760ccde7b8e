"""Long-term memory: facts per principal in DuckDB, embedded for retrieval, as tools.

:class:`MemoryStore` keeps facts in ``$WORKBENCH_HOME/memory.duckdb`` with embeddings
from :mod:`workbench.embeddings` (all-MiniLM-L6-v2), namespaced per principal, under
retention limits (:class:`MemoryLimits`). :func:`remember_tool` and :func:`recall_tool`
are the spec built-ins ``remember`` and ``recall``; facts an agent writes are tainted,
and recall shows each fact's source and taint. See ``docs/memory.md``.

Example:
    >>> from workbench.embeddings import HashingEmbedder
    >>> store = MemoryStore(tmp / "memory.duckdb", embedder=HashingEmbedder())  # doctest: +SKIP
    >>> store.remember("alice", "Alice prefers reports in EUR").tainted  # doctest: +SKIP
    False
"""

from __future__ import annotations

from workbench.memory._store import (
    LOCAL_PRINCIPAL,
    Fact,
    MemoryLimits,
    MemoryStore,
    RecalledFact,
)
from workbench.memory._tools import (
    MAX_RECALL_K,
    format_recalled,
    recall_tool,
    remember_tool,
    shared_store,
)

__all__ = [
    "LOCAL_PRINCIPAL",
    "MAX_RECALL_K",
    "Fact",
    "MemoryLimits",
    "MemoryStore",
    "RecalledFact",
    "format_recalled",
    "recall_tool",
    "remember_tool",
    "shared_store",
]
