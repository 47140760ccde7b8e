"""Fixtures for widget tests: a trace store on the per-test home, flushed before reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from widget_helpers import REPO, fill_store

from workbench.tracing import TraceStore, get_tracer


@pytest.fixture
def store(workbench_home: Path) -> TraceStore:
    """The default trace store of this test's home."""
    return TraceStore()


@pytest.fixture
def flushed(store: TraceStore) -> Callable[[], TraceStore]:
    """Seal what the process tracer holds, then hand back the store to query."""

    def flush() -> TraceStore:
        assert get_tracer().flush()
        return store

    return flush


__all__ = ["REPO", "fill_store"]
