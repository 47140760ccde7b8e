"""The demo research team: a supervisor, two data agents and a writer (scripted models).

Like the analyst, each script is a function of the conversation: the supervisor fans
out to the analyst and the auditor, stores their findings in the shared scratchpad,
hands the write-up to the writer and answers with the writer's brief. Every number
comes from the tools' real results over the shipped dataset.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.models import Turn, register_script

__all__ = ["AUDITOR_MODEL", "SUPERVISOR_MODEL", "WRITER_MODEL"]

_TOTALS = (
    "SELECT ROUND(SUM(revenue), 2) AS revenue, COUNT(*) AS orders FROM sales "
    "WHERE order_date >= DATE '2025-01-01' AND order_date < DATE '2026-01-01'"
)


def _tools(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("content", "")) for m in messages if m.get("role") == "tool"]


def supervisor_script(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Turn:
    """Fan out, write the findings down, delegate the write-up, answer."""
    results = _tools(messages)
    if not results:
        return Turn.call(
            "delegate_parallel",
            tasks=[
                {"agent": "analyst", "task": "Which region had the highest revenue in 2025?"},
                {"agent": "auditor", "task": "What were total 2025 revenue and orders?"},
            ],
        )
    if len(results) == 1:
        if results[0].startswith("ERROR"):
            return Turn.final(f"The team could not finish: {results[0]}")
        found = json.loads(results[0])["results"]
        notes = " ".join(str(r["answer"]) for r in found)
        return Turn.call("scratchpad_write", key="findings", value=notes)
    if len(results) == 2:
        return Turn.call(
            "delegate", agent="writer", task="Write a two-sentence brief from the findings."
        )
    brief = json.loads(results[2])
    return Turn.final(str(brief["answer"]))


def auditor_script(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Turn:
    """One query for the totals, then the answer."""
    results = _tools(messages)
    if not results:
        return Turn.call("sql", query=_TOTALS)
    row = json.loads(results[0])["rows"][0]
    return Turn.final(f"Total 2025 revenue was ${row[0]:,.2f} from {row[1]} orders.")


def writer_script(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Turn:
    """Read the scratchpad, then write the brief from it."""
    results = _tools(messages)
    if not results:
        return Turn.call("scratchpad_read", key="findings")
    findings = json.loads(results[0]).get("findings", "nothing was found")
    return Turn.final(f"Brief: {findings}")


SUPERVISOR_MODEL = register_script(
    "team-supervisor", supervisor_script, input_per_mtok=0.15, output_per_mtok=0.60
)
AUDITOR_MODEL = register_script(
    "team-auditor", auditor_script, input_per_mtok=0.15, output_per_mtok=0.60
)
WRITER_MODEL = register_script(
    "team-writer", writer_script, input_per_mtok=0.15, output_per_mtok=0.60
)
