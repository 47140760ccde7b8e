"""The tool-calling test model drives every tool through the real loop."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from workbench.runtime import AgentSpec, ExecutionStatus, Runtime
from workbench.settings import get_settings
from workbench.testing import InMemorySpanExporter, example_arguments, register_tool_caller
from workbench.tools import tool
from workbench.tracing import SpanKind, Tracer

REPO = Path(__file__).resolve().parents[2]


class Color(Enum):
    RED = "red"
    BLUE = "blue"


class Window(BaseModel):
    start: int
    end: int


@tool
def plot(series: list[float], color: Color, window: Window, title: str | None = None) -> str:
    """Plot a series.

    Args:
        series: Values.
        color: Line color.
        window: Range to show.
        title: Optional title.
    """
    return f"{len(series)} points in {color.value} from {window.start}"


@tool
def mode(kind: Literal["fast", "slow"], repeat: bool) -> str:
    """Pick a mode.

    Args:
        kind: Which.
        repeat: Whether to repeat.
    """
    return f"{kind}:{repeat}"


@pytest.mark.parametrize("t", [plot, mode])
def test_example_arguments_validate_against_the_tool(t: object) -> None:
    from workbench.tools import Tool

    assert isinstance(t, Tool)
    args = example_arguments(t.parameters)
    assert t.parse_arguments(args) == t.parse_arguments(args)  # valid: no exception


@pytest.mark.anyio
async def test_every_tool_is_called_once_through_the_loop(workbench_home: Path) -> None:
    spans = InMemorySpanExporter()
    tracer = Tracer([spans])
    runtime = Runtime(get_settings(workbench_home), tracer=tracer)
    spec = AgentSpec(
        name="smoke",
        model=register_tool_caller("smoke-caller"),
        system_prompt="Call everything.",
        tools=["test_tool_caller:plot", "test_tool_caller:mode", "calculator", "sql"],
        datasets={"sales": REPO / "datasets" / "sales.csv"},
    )
    try:
        result = await runtime.arun(spec, "smoke test")
    finally:
        await runtime.aclose()
    tracer.flush()
    assert result.status is ExecutionStatus.COMPLETED
    assert result.answer is not None
    assert result.answer.startswith("called 4 tools: 1 points in red from 1 | fast:True | ")
    tool_spans = [s for s in spans.spans if s.kind is SpanKind.TOOL]
    assert [s.name for s in tool_spans] == ["tool plot", "tool mode", "tool calculator", "tool sql"]
    assert [s.status for s in tool_spans] == ["OK", "OK", "ERROR", "ERROR"]
    tracer.shutdown()
