"""Fixtures for runtime tests: a runtime on the per-test home with an in-memory tracer."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import Events, SpecFactory

from workbench.models import Script, register_script
from workbench.runtime import AgentSpec, Runtime
from workbench.settings import get_settings
from workbench.testing import InMemorySpanExporter
from workbench.tracing import Tracer

_names = itertools.count()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def runtime(workbench_home: Path, spans: InMemorySpanExporter) -> AsyncIterator[Runtime]:
    tracer = Tracer([spans], flush_interval_s=0.01)
    rt = Runtime(get_settings(workbench_home), tracer=tracer)
    yield rt
    await rt.aclose()
    tracer.shutdown()


@pytest.fixture
def make_spec() -> SpecFactory:
    """Register ``script`` under a fresh name and return a spec that uses it."""

    def make(script: Script, *, tools: Sequence[str] = (), **fields: Any) -> AgentSpec:
        model = register_script(f"rt-{next(_names)}", script)
        return AgentSpec(
            name="tester",
            model=model,
            system_prompt="You test things.",
            tools=list(tools),
            **fields,
        )

    return make


@pytest.fixture
def events() -> Events:
    return Events()
