"""The calculator evaluates arithmetic and nothing else."""

from __future__ import annotations

import math

import pytest

from workbench.errors import ToolArgumentsInvalid, ToolExecutionError
from workbench.tools import ToolContext
from workbench.tools.builtin import calculator

CTX = ToolContext.for_call(execution_id="e", step=0, call_index=0, side_effects=False)


async def calc(expression: str) -> object:
    args = calculator.parse_arguments({"expression": expression})
    return await calculator.ainvoke(args, CTX, timeout_s=5)


def test_definition() -> None:
    assert calculator.name == "calculator"
    assert calculator.scope == "compute"
    assert calculator.parameters["properties"]["expression"]["maxLength"] == 500


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("7 % 3", 1),
        ("-2 ** 2", -4),
        ("2 ** -1", 0.5),
        ("+5 - -5", 10),
        ("round(1234.5678 * 0.15, 2)", 185.19),
        ("round(2.5)", 2),
        ("abs(-3.25)", 3.25),
        ("min(4, 2, 8) + max(1, 9)", 11),
        ("sqrt(144)", 12.0),
        ("log(1000, 10)", pytest.approx(3.0)),
        ("log(e)", 1.0),
        ("2 * pi", 2 * math.pi),
        ("10 ** 300 // 10 ** 299", 10),
        ("1_000 * 3", 3000),
    ],
)
async def test_correct_answers(expression: str, expected: object) -> None:
    assert await calc(expression) == expected


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("__import__('os')", "function '__import__' is not allowed"),
        ("__import__('os').system('id')", "only calls of abs, round, min, max, sqrt, log"),
        ("(1).__class__", "attribute access is not allowed"),
        ("pi.real", "attribute access is not allowed"),
        ("open('/etc/passwd')", "function 'open' is not allowed"),
        ("x + 1", "unknown name 'x'"),
        ("2 ** 100000", "exponent 100000 exceeds the limit of 1000"),
        ("9 ** 9 ** 9", "exceeds the limit of 1000"),
        ("(2 ** 1000) ** 1000", "the power would exceed 4096 bits"),
        ("'a' * 10", "'a' is not a real number"),
        ("True + 1", "True is not a real number"),
        ("1j * 2", "1j is not a real number"),
        ("[1, 2]", "List is not allowed"),
        ("lambda: 1", "Lambda is not allowed"),
        ("1 < 2", "Compare is not allowed"),
        ("round(1.5, ndigits=1)", "keyword arguments are not allowed"),
        ("sqrt(1, 2)", "sqrt() takes 1 to 1 arguments"),
        ("1 +", "expression is not valid"),
    ],
)
async def test_refusals(expression: str, fragment: str) -> None:
    with pytest.raises(ToolArgumentsInvalid) as info:
        await calc(expression)
    assert fragment in info.value.message
    assert info.value.tool == "calculator"


@pytest.mark.anyio
async def test_too_long_expression_is_rejected_by_the_schema() -> None:
    with pytest.raises(ToolArgumentsInvalid) as info:
        await calc("1+" * 300 + "1")
    line = info.value.message.splitlines()[1]
    assert line.startswith('- $.expression: "1+1+1+')
    assert line.endswith("... is too long")
    assert len(line) < 100


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("1 / 0", "ZeroDivisionError: division by zero"),
        ("sqrt(-1)", "ValueError: math domain error"),
        ("1e308 * 10", "not finite"),
        ("(-8) ** 0.5", "complex"),
    ],
)
async def test_math_errors_are_execution_errors(expression: str, fragment: str) -> None:
    with pytest.raises(ToolExecutionError, match=fragment):
        await calc(expression)
