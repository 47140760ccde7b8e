"""``workbench memory list|forget`` on a real memory file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.embeddings import HashingEmbedder
from workbench.memory import MemoryStore


@pytest.fixture
def store(workbench_home: Path, monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    monkeypatch.setenv("WORKBENCH_MEMORY_EMBEDDER", "hashing")
    s = MemoryStore(workbench_home / "memory.duckdb", embedder=HashingEmbedder(dim=256))
    s.remember("alice", "alice fact one")
    s.remember("alice", "alice fact two", tainted=True, source="agent:ex-1")
    s.remember("bob", "bob fact")
    return s


def _listed(principal: str | None = None) -> list[dict[str, object]]:
    args = ["memory", "list", "--json"] + (["--principal", principal] if principal else [])
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    return [json.loads(line) for line in out.output.splitlines()]


def test_list_and_forget(store: MemoryStore) -> None:
    assert [f["text"] for f in _listed("alice")] == ["alice fact one", "alice fact two"]
    assert [f["tainted"] for f in _listed("alice")] == [False, True]
    assert len(_listed()) == 3
    table = CliRunner().invoke(app, ["memory", "list"])
    assert "3 facts" in table.output
    assert "agent:ex-1" in table.output

    bob_id = _listed("bob")[0]["id"]
    out = CliRunner().invoke(app, ["memory", "forget", "--principal", "alice", "--id", bob_id])
    assert out.exit_code == 0
    assert "forgot 0 facts" in out.output
    out = CliRunner().invoke(app, ["memory", "forget", "--id", bob_id])
    assert "forgot 1 fact" in out.output
    out = CliRunner().invoke(app, ["memory", "forget", "--principal", "alice", "--older-than", "1"])
    assert "forgot 0 facts" in out.output
    out = CliRunner().invoke(app, ["memory", "forget", "--principal", "alice", "--all"])
    assert "forgot 2 facts" in out.output
    assert _listed() == []


def test_forget_needs_exactly_one_selector(store: MemoryStore) -> None:
    out = CliRunner().invoke(app, ["memory", "forget", "--principal", "alice"])
    assert out.exit_code == 2
    assert "[config_invalid]" in out.output
    assert len(_listed()) == 3
