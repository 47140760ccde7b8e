"""The ``python`` built-in tool: schema, scope, results, and limits as tool errors."""

from __future__ import annotations

import json

import pytest
from sandbox_helpers import SMALL
from typer.testing import CliRunner

from workbench.cli import app
from workbench.errors import SandboxLimitExceeded, ToolArgumentsInvalid, ToolExecutionError
from workbench.sandbox import BubblewrapBackend
from workbench.tools import ToolContext, ToolRegistry
from workbench.tools.builtin import python_tool

CTX = ToolContext.for_call(execution_id="ex", step=0, call_index=0, side_effects=False)


def test_definition_scope_and_effects(bubblewrap: BubblewrapBackend) -> None:
    tool = python_tool(bubblewrap, limits=SMALL)
    assert (tool.name, tool.scope, tool.side_effects, tool.requires_approval) == (
        "python",
        "code.execute",
        False,
        False,
    )
    assert tool.timeout_s == SMALL.wall_time_s + 15
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "code": {
                "type": "string",
                "minLength": 1,
                "maxLength": 100_000,
                "description": (
                    "Python 3 source. Print what you need; the value of a final expression "
                    "is returned as `value`."
                ),
            }
        },
        "required": ["code"],
        "additionalProperties": False,
    }
    assert ToolRegistry([tool]).names() == ["python"]


@pytest.mark.anyio
async def test_returns_the_result_as_a_dict(bubblewrap: BubblewrapBackend) -> None:
    tool = python_tool(bubblewrap, limits=SMALL)
    arguments = tool.parse_arguments('{"code": "print(\'hi\')\\nsum([1, 2])"}')
    result = await tool.ainvoke(arguments, CTX, timeout_s=30)
    assert {k: result[k] for k in ("backend", "stdout", "value", "exit_code", "limit_hit")} == {
        "backend": "bubblewrap",
        "stdout": "hi\n",
        "value": 3,
        "exit_code": 0,
        "limit_hit": None,
    }
    failed = await tool.ainvoke({"code": "1/0"}, CTX, timeout_s=30)
    assert (failed["exit_code"], failed["error_type"]) == (1, "ZeroDivisionError")


@pytest.mark.anyio
async def test_a_limit_hit_is_a_tool_error(bubblewrap: BubblewrapBackend) -> None:
    tool = python_tool(bubblewrap, limits=SMALL)
    with pytest.raises(SandboxLimitExceeded) as caught:
        await tool.ainvoke({"code": "print('start')\nx = bytearray(10**9)"}, CTX, timeout_s=30)
    error = caught.value
    assert isinstance(error, ToolExecutionError)
    assert (error.code, error.limit, error.tool) == ("sandbox_limit_exceeded", "memory", "python")
    assert error.message.startswith("the code hit the sandbox's memory limit (memory)")
    assert "'start\\n'" in error.message
    assert error.to_dict()["limit"] == "memory"
    assert error.result is not None
    assert error.result["error_type"] == "MemoryError"


def test_empty_code_is_refused(bubblewrap: BubblewrapBackend) -> None:
    with pytest.raises(ToolArgumentsInvalid):
        python_tool(bubblewrap).parse_arguments({"code": ""})


def test_cli_sandbox_exec(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    script = base / "job.py"
    script.write_text("import os\nprint(os.getuid())\n[1, 'two']\n")
    runner = CliRunner()
    ran = runner.invoke(app, ["sandbox", "exec", str(script)])
    assert ran.exit_code == 0, ran.output
    body = json.loads(ran.stdout)
    assert {k: body[k] for k in ("backend", "stdout", "value", "exit_code", "limit_hit")} == {
        "backend": "bubblewrap",
        "stdout": "65534\n",
        "value": [1, "two"],
        "exit_code": 0,
        "limit_hit": None,
    }
    (base / "bad.py").write_text("raise SystemExit(4)\n")
    failed = runner.invoke(app, ["sandbox", "exec", str(base / "bad.py")])
    assert (failed.exit_code, json.loads(failed.stdout)["exit_code"]) == (1, 4)
    unknown = runner.invoke(app, ["sandbox", "exec", "--backend", "nope", str(script)])
    assert unknown.exit_code == 2
    assert "sandbox_backend_not_found" in unknown.output
