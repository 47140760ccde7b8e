"""The one memory test on the real all-MiniLM-L6-v2: recall by meaning, not shared words."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.embeddings import MiniLMEmbedder
from workbench.memory import MemoryStore


@pytest.mark.slow
def test_recall_finds_a_paraphrase_with_the_real_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKBENCH_MEMORY_EMBEDDER", raising=False)
    store = MemoryStore(tmp_path / "memory.duckdb")  # the default embedder: MiniLM
    assert isinstance(store.embedder, MiniLMEmbedder)
    store.remember("alice", "Alice is allergic to peanuts.")
    store.remember("alice", "The team meeting moved to Thursdays at 10.")
    store.remember("alice", "Invoices are paid in euros by bank transfer.")
    # No word in common with the right fact but its meaning.
    [best] = store.recall("alice", "which nuts should her food avoid", k=1)
    assert best.fact.text == "Alice is allergic to peanuts."
    [best] = store.recall("alice", "what currency do we settle bills in", k=1)
    assert best.fact.text == "Invoices are paid in euros by bank transfer."
