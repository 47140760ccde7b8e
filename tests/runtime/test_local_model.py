"""A real execution through the real local model (SmolLM2 on llama.cpp) over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.runtime import AgentSpec, ExecutionStatus, LimitsOverride, Runtime
from workbench.services import ServiceInfo, start_service, stop_service
from workbench.settings import get_settings
from workbench.testing import InMemorySpanExporter
from workbench.tracing import SpanKind, Tracer


@pytest.fixture
def model_server(workbench_home: Path) -> Iterator[ServiceInfo]:
    info = start_service("model")
    yield info
    stop_service("model")


@pytest.mark.slow
@pytest.mark.anyio
async def test_execution_through_the_local_model_server(
    model_server: ServiceInfo, workbench_home: Path
) -> None:
    spans = InMemorySpanExporter()
    tracer = Tracer([spans])
    runtime = Runtime(get_settings(workbench_home), tracer=tracer)
    spec = AgentSpec(
        name="local-chat",
        model="local/smollm2",
        system_prompt="You are a helpful assistant. Answer briefly.",
        limits=LimitsOverride(max_tokens=32, model_timeout_s=60),
        temperature=0.0,
    )
    try:
        result = await runtime.arun(spec, "What is the capital of France?")
    finally:
        await runtime.aclose()
    tracer.flush()
    assert result.status is ExecutionStatus.COMPLETED, result.error
    assert result.answer
    assert result.steps == 1
    assert result.prompt_tokens > 10
    assert 0 < result.completion_tokens <= 32
    assert result.cost_usd == 0.0  # local compute is priced at zero
    llm = [s for s in spans.spans if s.kind is SpanKind.LLM]
    assert len(llm) == 1
    assert llm[0].attributes["llm.token_count.completion"] == result.completion_tokens
    assert model_server.extra["base_url"].startswith("http://127.0.0.1:")
    tracer.shutdown()
