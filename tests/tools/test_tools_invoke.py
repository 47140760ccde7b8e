"""Running tools: sync and async, timeouts, errors and the ToolContext."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from workbench.errors import ToolArgumentsInvalid, ToolExecutionError, ToolNotFound, ToolTimeout
from workbench.tools import ToolContext, tool

CTX = ToolContext.for_call(execution_id="ex1", step=3, call_index=1, side_effects=False)


def test_tool_context_idempotency_key() -> None:
    side = ToolContext.for_call(
        execution_id="ex1", step=3, call_index=1, side_effects=True, principal="ada"
    )
    assert side.idempotency_key == "ex1:3:1"
    assert side.principal == "ada"
    assert CTX.idempotency_key is None
    with pytest.raises(ValueError, match="frozen"):
        side.step = 4  # type: ignore[misc]


@pytest.mark.anyio
async def test_sync_and_async_tools_return_results() -> None:
    @tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    @tool
    async def mul(a: int, b: int) -> int:
        """Multiply."""
        await asyncio.sleep(0)
        return a * b

    assert await add.ainvoke({"a": 2, "b": 3}, CTX, timeout_s=5) == 5
    assert await mul.ainvoke({"a": 2, "b": 3}, CTX, timeout_s=5) == 6


@pytest.mark.anyio
async def test_sync_tool_runs_in_a_worker_thread() -> None:
    @tool
    def which_thread() -> str:
        """Thread name."""
        return threading.current_thread().name

    assert await which_thread.ainvoke({}, CTX, timeout_s=5) != threading.current_thread().name


@pytest.mark.anyio
async def test_context_is_injected_and_not_in_schema() -> None:
    seen: list[ToolContext] = []

    @tool(side_effects=True)
    def send(to: str, context: ToolContext) -> str:
        """Send.

        Args:
            to: Recipient.
            context: Injected.
        """
        seen.append(context)
        return f"sent to {to}"

    assert list(send.parameters["properties"]) == ["to"]
    ctx = ToolContext.for_call(execution_id="ex9", step=0, call_index=2, side_effects=True)
    assert await send.ainvoke({"to": "bob"}, ctx, timeout_s=5) == "sent to bob"
    assert seen == [ctx]
    assert seen[0].idempotency_key == "ex9:0:2"
    with pytest.raises(ToolArgumentsInvalid):
        send.parse_arguments({"to": "bob", "context": {}})


class Point(BaseModel):
    x: int
    y: int


@pytest.mark.anyio
async def test_python_values_are_built_strictly() -> None:
    received: list[Any] = []

    @tool
    def plot(point: Point, when: dt.date, scale: float = 1.0) -> dict[str, Any]:
        """Plot."""
        received.extend([point, when, scale])
        return {"point": point, "when": when}

    result = await plot.ainvoke({"point": {"x": 1, "y": 2}, "when": "2025-03-01"}, CTX, timeout_s=5)
    assert received == [Point(x=1, y=2), dt.date(2025, 3, 1), 1.0]
    # The result is made JSON-able (model -> dict, date -> ISO string).
    assert result == {"point": {"x": 1, "y": 2}, "when": "2025-03-01"}


@pytest.mark.anyio
async def test_ainvoke_validates_arguments_again() -> None:
    @tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    with pytest.raises(ToolArgumentsInvalid, match=r"\$\.text: expected string"):
        await echo.ainvoke({"text": 1}, CTX, timeout_s=5)


@pytest.mark.anyio
async def test_sync_tool_timeout() -> None:
    release = threading.Event()

    @tool(timeout_s=0.05)
    def stuck() -> str:
        """Blocks until released."""
        release.wait(10)
        return "late"

    try:
        with pytest.raises(ToolTimeout) as info:
            await stuck.ainvoke({}, CTX, timeout_s=30)
        assert info.value.tool == "stuck"
        assert info.value.message == "tool 'stuck' timed out after 0.05 s"
    finally:
        release.set()


@pytest.mark.anyio
async def test_async_tool_timeout_uses_callers_default() -> None:
    cancelled = asyncio.Event()

    @tool
    async def forever() -> str:
        """Never returns."""
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    with pytest.raises(ToolTimeout, match=r"after 0\.05 s"):
        await forever.ainvoke({}, CTX, timeout_s=0.05)
    assert cancelled.is_set()


@pytest.mark.anyio
@pytest.mark.parametrize("is_async", [False, True])
async def test_exceptions_become_tool_execution_errors(is_async: bool) -> None:
    def boom(x: int) -> int:
        """Boom."""
        raise KeyError(f"no {x}")

    async def aboom(x: int) -> int:
        """Boom."""
        raise KeyError(f"no {x}")

    made = tool(aboom if is_async else boom, name="boom")
    with pytest.raises(ToolExecutionError) as info:
        await made.ainvoke({"x": 1}, CTX, timeout_s=5)
    assert info.value.message == "KeyError: 'no 1'"
    assert info.value.tool == "boom"
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.anyio
async def test_timeout_error_raised_by_the_tool_is_an_execution_error() -> None:
    @tool
    async def upstream() -> None:
        """Upstream timed out."""
        raise TimeoutError("upstream slow")

    with pytest.raises(ToolExecutionError, match="TimeoutError: upstream slow"):
        await upstream.ainvoke({}, CTX, timeout_s=5)


@pytest.mark.anyio
async def test_tool_errors_pass_through_unchanged() -> None:
    original = ToolNotFound("delegated tool missing", tool="inner")

    @tool
    def delegate() -> None:
        """Delegates."""
        raise original

    with pytest.raises(ToolNotFound) as info:
        await delegate.ainvoke({}, CTX, timeout_s=5)
    assert info.value is original


@pytest.mark.anyio
async def test_non_jsonable_result_is_an_execution_error() -> None:
    @tool
    def leak() -> object:
        """Returns a lock."""
        return threading.Lock()

    with pytest.raises(ToolExecutionError, match="not JSON-able"):
        await leak.ainvoke({}, CTX, timeout_s=5)


@pytest.mark.anyio
async def test_dataclass_result_is_converted() -> None:
    @dataclasses.dataclass
    class Row:
        a: int

    @tool
    def rows() -> list[Row]:
        """Rows."""
        return [Row(1), Row(2)]

    assert await rows.ainvoke({}, CTX, timeout_s=5) == [{"a": 1}, {"a": 2}]
