"""``calculator``: safe arithmetic, evaluated on the ``ast`` with explicit limits."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from workbench.errors import ToolArgumentsInvalid
from workbench.tools._tool import tool

__all__ = ["MAX_EXPONENT", "MAX_EXPRESSION_LENGTH", "MAX_INT_BITS", "calculator"]

MAX_EXPRESSION_LENGTH = 500
"""Longest expression accepted, in characters."""
MAX_EXPONENT = 1000
"""Largest absolute exponent of ``**``."""
MAX_INT_BITS = 4096
"""Largest integer (in bits) any intermediate result may reach: no memory bombs."""

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


def _log(x: float, base: float = math.e) -> float:
    return math.log(x, base)


def _round(x: float, ndigits: int | None = None) -> float:
    if ndigits is not None and not isinstance(ndigits, int):
        raise ValueError("round() digits must be an integer")
    return round(x, ndigits)


_FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "min": (min, 1, 50),
    "max": (max, 1, 50),
    "sqrt": (math.sqrt, 1, 1),
    "log": (_log, 1, 2),
}


class _Refused(Exception):
    """The expression uses something the calculator does not allow."""


def _check(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Refused(f"result of type {type(value).__name__} is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _Refused(f"an intermediate result exceeds {MAX_INT_BITS} bits")
    if isinstance(value, float) and not math.isfinite(value):
        raise ArithmeticError("the result is not finite (overflow)")
    return value


def _power(base: float | int, exponent: float | int) -> float | int:
    if abs(exponent) > MAX_EXPONENT:
        raise _Refused(f"exponent {exponent} exceeds the limit of {MAX_EXPONENT}")
    # Estimate the size before computing: 2**1000 is fine, (2**1000)**1000 is not.
    exact = isinstance(base, int) and isinstance(exponent, int) and exponent > 0
    if exact and (abs(int(base)).bit_length() - 1) * int(exponent) > MAX_INT_BITS:
        raise _Refused(f"the power would exceed {MAX_INT_BITS} bits")
    result = operator.pow(base, exponent)
    if isinstance(result, complex):
        raise ArithmeticError("the result is a complex number")
    return _check(result)


def _evaluate(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _Refused(f"{node.value!r} is not a real number")
        return _check(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        return _check(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _check(_UNARY[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        raise _Refused(f"unknown name {node.id!r}")
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Attribute):
        raise _Refused("attribute access is not allowed")
    raise _Refused(f"{type(node).__name__} is not allowed")


def _call(node: ast.Call) -> float | int:
    allowed = ", ".join(_FUNCTIONS)
    if not isinstance(node.func, ast.Name):
        raise _Refused(f"only calls of {allowed} are allowed")
    if node.func.id not in _FUNCTIONS:
        raise _Refused(f"function {node.func.id!r} is not allowed (allowed: {allowed})")
    if node.keywords:
        raise _Refused("keyword arguments are not allowed")
    fn, fewest, most = _FUNCTIONS[node.func.id]
    if not fewest <= len(node.args) <= most:
        raise _Refused(f"{node.func.id}() takes {fewest} to {most} arguments")
    args = [_evaluate(arg) for arg in node.args]
    return _check(fn(*args))


@tool(name="calculator", scope="compute")
def calculator(
    expression: Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION_LENGTH)],
) -> float | int:
    """Evaluate an arithmetic expression and return the number.

    Supports numbers, + - * / // % **, unary minus, parentheses, the constants pi
    and e, and the functions round(x[, ndigits]), abs, min, max, sqrt and
    log(x[, base]). Nothing else: no variables, attributes or other calls.

    Args:
        expression: The expression, e.g. "round(1234.5 * 0.15, 2)".
    """
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ToolArgumentsInvalid(
            f"expression is not valid: {exc.msg}{where}", tool="calculator"
        ) from None
    except (RecursionError, MemoryError):
        raise ToolArgumentsInvalid("expression is nested too deeply", tool="calculator") from None
    try:
        return _evaluate(tree)
    except _Refused as exc:
        raise ToolArgumentsInvalid(f"expression refused: {exc}", tool="calculator") from None
    except RecursionError:
        raise ToolArgumentsInvalid("expression is nested too deeply", tool="calculator") from None
