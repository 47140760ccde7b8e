"""Tools: a registry of functions the model can call, with strict JSON schemas.

A tool's schema is derived from its signature and Google docstring (:func:`tool`),
or taken from an OpenAI function definition or an OpenAPI operation. Arguments are
validated strictly before a call (:meth:`Tool.parse_arguments`), and every failure
is a :class:`~workbench.errors.ToolError` that the loop returns to the model.
Built-in tools live in :mod:`workbench.tools.builtin`.
"""

from __future__ import annotations

from workbench.tools._context import ToolContext
from workbench.tools._registry import ToolRegistry, resolve_tool
from workbench.tools._tool import Tool, tool

__all__ = ["Tool", "ToolContext", "ToolRegistry", "resolve_tool", "tool"]
