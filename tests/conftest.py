"""Shared fixtures: every test gets its own workbench home and no real provider."""

from __future__ import annotations

import os
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
