"""The demo's data analyst: a scripted model that works like a careful analyst would.

It is a function of the conversation, not a fixed list of replies: it reads the
real results of its SQL and calculator calls and writes its answer from them, so
the demo's numbers are computed from the shipped dataset, not typed in here.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.models import Turn, register_script

__all__ = ["ANALYST_MODEL", "analyst_script"]

_REVENUE_BY_REGION = (
    "SELECT region, ROUND(SUM(revenue), 2) AS revenue, COUNT(*) AS orders "
    "FROM sales WHERE order_date >= DATE '2025-01-01' AND order_date < DATE '2026-01-01' "
    "GROUP BY region ORDER BY revenue DESC"
)


def _tool_results(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("content", "")) for m in messages if m.get("role") == "tool"]


def analyst_script(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Turn:
    """Next turn of the analyst: query, then compute the share, then answer."""
    results = _tool_results(messages)
    if not results:
        return Turn.call("sql", query=_REVENUE_BY_REGION)
    if results[-1].startswith("ERROR"):
        return Turn.final(f"I could not complete the analysis: {results[-1]}")
    if len(results) == 1:
        table = json.loads(results[0])
        revenues = [row[1] for row in table["rows"]]
        expression = f"round({revenues[0]} / ({' + '.join(map(str, revenues))}) * 100, 1)"
        return Turn.call("calculator", expression=expression)
    table = json.loads(results[0])
    top_region, top_revenue, top_orders = table["rows"][0][:3]
    share = json.loads(results[1])
    share_value = share["result"] if isinstance(share, dict) else share
    return Turn.final(
        f"{top_region} had the highest revenue in 2025: ${top_revenue:,.2f} from {top_orders}"
        f" orders, which is {share_value}% of total revenue."
    )


ANALYST_MODEL = register_script(
    "analyst", analyst_script, input_per_mtok=0.15, output_per_mtok=0.60
)
"""``scripted/analyst``, priced like a small hosted model so the demo's cost is real arithmetic."""
