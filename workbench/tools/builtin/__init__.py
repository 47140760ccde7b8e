"""Built-in tools: read-only SQL over local datasets and a safe calculator."""

from __future__ import annotations

from workbench.tools.builtin._calculator import calculator
from workbench.tools.builtin._sql import sql_tool

__all__ = ["calculator", "sql_tool"]
