"""Scripted analysts for the ``analyst`` eval suite: v1 and v2 answer the same sales
questions equally well, but v2 uses one step fewer on a model a sixth of the price.

Both read the real results of their SQL (over ``datasets/sales.csv``) and answer from
them; nothing is typed in. v1 double-checks the figure with the calculator; v2 asks SQL
to round it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from workbench.models import Turn, register_script

__all__ = ["SALES_V1_MODEL", "SALES_V2_MODEL", "question_sql"]

_YEAR = "order_date >= DATE '2025-01-01' AND order_date < DATE '2026-01-01'"
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ]
    )
}
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"total revenue in the (\w+) region"),
        "SELECT ROUND(SUM(revenue), 2) FROM sales WHERE region = '{0}' AND " + _YEAR,
    ),
    (
        re.compile(r"How many units of (.+?) were sold"),
        "SELECT CAST(SUM(units) AS BIGINT) FROM sales WHERE product = '{0}' AND " + _YEAR,
    ),
    (
        re.compile(r"How many orders were placed in (\w+) 2025"),
        "SELECT COUNT(*) FROM sales WHERE month(order_date) = {month} AND " + _YEAR,
    ),
    (
        re.compile(r"average order revenue in the (\w+) category"),
        "SELECT ROUND(AVG(CAST(revenue AS DOUBLE)), 2) FROM sales WHERE category = '{0}' AND "
        + _YEAR,
    ),
]


def question_sql(question: str) -> str | None:
    """The SQL that answers one of the suite's question kinds (``None`` if unknown)."""
    for pattern, template in _PATTERNS:
        match = pattern.search(question)
        if match:
            value = match.group(1).replace("'", "''")
            return template.format(value, month=_MONTHS.get(value, 0))
    return None


def _task(messages: list[dict[str, Any]]) -> str:
    return next(str(m["content"]) for m in messages if m.get("role") == "user")


def _tool_results(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("content", "")) for m in messages if m.get("role") == "tool"]


def _first_value(result: str) -> Any:
    table = json.loads(result)
    return table["rows"][0][0] if table.get("rows") else None


def _answer(value: Any) -> Turn:
    if isinstance(value, float):
        return Turn.final(f"The answer is {value:,.2f}.")
    return Turn.final(f"The answer is {value}.")


def _v1(messages: list[dict[str, Any]], tools: Any) -> Turn:
    results = _tool_results(messages)
    sql = question_sql(_task(messages))
    if sql is None:
        return Turn.final("I can only answer questions about the sales data.")
    if not results:
        return Turn.call("sql", query=sql)
    if results[-1].startswith("ERROR"):
        return Turn.final(f"I could not answer: {results[-1]}")
    if len(results) == 1:
        value = _first_value(results[0])
        return Turn.call("calculator", expression=f"round({value}, 2)")
    result = json.loads(results[1])
    value = result["result"] if isinstance(result, dict) else result
    return _answer(value)


def _v2(messages: list[dict[str, Any]], tools: Any) -> Turn:
    results = _tool_results(messages)
    sql = question_sql(_task(messages))
    if sql is None:
        return Turn.final("I can only answer questions about the sales data.")
    if not results:
        return Turn.call("sql", query=sql)
    if results[-1].startswith("ERROR"):
        return Turn.final(f"I could not answer: {results[-1]}")
    return _answer(_first_value(results[0]))


SALES_V1_MODEL = register_script("sales_v1", _v1, input_per_mtok=2.50, output_per_mtok=10.00)
"""``scripted/sales_v1``: priced like a large hosted model."""
SALES_V2_MODEL = register_script("sales_v2", _v2, input_per_mtok=0.15, output_per_mtok=0.60)
"""``scripted/sales_v2``: priced like a small hosted model."""
