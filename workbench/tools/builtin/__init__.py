"""Built-in tools: read-only SQL over local datasets, a safe calculator, sandboxed Python,
and an allow-listed, SSRF-checked HTTP GET."""

from __future__ import annotations

from workbench.tools.builtin._calculator import calculator
from workbench.tools.builtin._http import http_get_tool
from workbench.tools.builtin._python import python_tool
from workbench.tools.builtin._sql import sql_tool

__all__ = ["calculator", "http_get_tool", "python_tool", "sql_tool"]
