"""Eval test fixtures: the scripted quiz models of ``fixtures/`` are importable here and
in child processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Test modules import the fixture models by name at collection time.
if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))


@pytest.fixture(autouse=True)
def fixture_models(monkeypatch: pytest.MonkeyPatch) -> Path:
    """``eval_fixture_models`` importable by agent specs, here and in subprocesses."""
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(FIXTURES), path) if p))
    return FIXTURES
