"""The memory store: namespacing, retention, forget, idempotent writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.embeddings import HashingEmbedder
from workbench.errors import ConfigError
from workbench.memory import MemoryLimits, MemoryStore

DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _store(tmp_path: Path, clock: Clock | None = None, **limits: object) -> MemoryStore:
    return MemoryStore(
        tmp_path / "memory.duckdb",
        embedder=HashingEmbedder(dim=128),
        limits=MemoryLimits.model_validate(limits),
        clock=clock or Clock(),
    )


def test_recall_ranks_by_similarity_within_one_principal(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.remember("alice", "the quarterly report goes to finance")
    store.remember("alice", "the cat is called Miso")
    found = store.recall("alice", "who gets the quarterly report", k=1)
    assert [r.fact.text for r in found] == ["the quarterly report goes to finance"]
    assert found[0].fact.tainted is False
    assert found[0].fact.source == "api"
    assert found[0].score > 0


def test_a_principal_never_reads_another_principals_facts(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.remember("alice", "alice secret: the vault code is 4711")
    store.remember("bob", "bob likes tea")
    recalled = store.recall("bob", "alice secret vault code", k=10)
    assert [r.fact.text for r in recalled] == ["bob likes tea"]
    assert {f.principal for f in store.list("bob")} == {"bob"}
    # A local run (no principal) has its own namespace too.
    assert store.recall(None, "vault code") == []
    # Forget is scoped to the principal named.
    alice_id = store.list("alice")[0].id
    assert store.forget("bob", fact_id=alice_id) == 0
    assert len(store.list("alice")) == 1


def test_retention_evicts_the_oldest_past_the_cap(tmp_path: Path) -> None:
    clock = Clock()
    store = _store(tmp_path, clock, max_facts_per_principal=3)
    for n in range(5):
        clock.now += 1
        store.remember("alice", f"fact number {n}")
    store.remember("bob", "bob's only fact")
    assert [f.text for f in store.list("alice")] == [
        "fact number 2",
        "fact number 3",
        "fact number 4",
    ]
    assert len(store.list("bob")) == 1


def test_retention_deletes_facts_past_the_max_age(tmp_path: Path) -> None:
    clock = Clock()
    store = _store(tmp_path, clock, max_age_days=30)
    store.remember("alice", "old news about the budget")
    clock.now += 20 * DAY
    store.remember("alice", "fresh news about the budget")
    clock.now += 15 * DAY  # the first is 35 days old now
    assert [r.fact.text for r in store.recall("alice", "news budget", k=5)] == [
        "fresh news about the budget"
    ]
    assert len(store.list("alice")) == 1


def test_forget_by_id_all_and_age(tmp_path: Path) -> None:
    clock = Clock()
    store = _store(tmp_path, clock)
    first = store.remember("alice", "one")
    clock.now += 10 * DAY
    store.remember("alice", "two")
    store.remember("bob", "three")
    clock.now += 1 * DAY
    assert store.forget("alice", older_than_days=5) == 1
    assert first.id not in {f.id for f in store.list("alice")}
    assert store.forget("alice", everything=True) == 1
    assert store.list("alice") == []
    bob = store.list("bob")[0]
    assert store.forget(fact_id=bob.id) == 1
    assert store.list() == []
    with pytest.raises(ConfigError):
        store.forget("alice")
    with pytest.raises(ConfigError):
        store.forget("alice", everything=True, older_than_days=1)


def test_a_write_with_an_idempotency_key_applies_once(tmp_path: Path) -> None:
    store = _store(tmp_path)
    a = store.remember("alice", "pay invoice 7", tainted=True, source="agent:ex-1", key="ex-1:0:0")
    b = store.remember("alice", "pay invoice 7", tainted=True, source="agent:ex-1", key="ex-1:0:0")
    assert a == b
    assert len(store.list("alice")) == 1


def test_limits_on_text(tmp_path: Path) -> None:
    store = _store(tmp_path, max_text_chars=10)
    with pytest.raises(ConfigError, match="max_text_chars"):
        store.remember("alice", "x" * 11)
    with pytest.raises(ConfigError):
        store.remember("alice", "   ")


def test_two_stores_on_one_file_share_it(tmp_path: Path) -> None:
    one, two = _store(tmp_path), _store(tmp_path)
    one.remember("alice", "shared fact")
    assert [f.text for f in two.list("alice")] == ["shared fact"]
