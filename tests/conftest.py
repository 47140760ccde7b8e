"""Shared fixtures: every test gets its own workbench home and no real provider."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# No test reaches a real provider: scripted models, cassettes and the local server
# stand in. Set in the environment so that child processes inherit it too.
os.environ["WORKBENCH_ALLOW_MODEL_REQUESTS"] = "0"
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``$WORKBENCH_HOME`` per test, so no test sees another's state."""
    home = tmp_path / "wbhome"
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _process_tracer_restored() -> Iterator[None]:
    """A test that installs a process-wide tracer must not leave it to later tests
    (their spans would land in another test's home)."""
    from workbench.tracing import set_tracer

    before = set_tracer(None)
    set_tracer(before)
    yield
    leaked = set_tracer(before)
    assert leaked is before, "a test left a process-wide tracer installed (set_tracer)"
