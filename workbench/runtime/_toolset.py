"""Turning an agent spec's ``tools`` and ``imports`` into a registry of tools."""

from __future__ import annotations

import importlib

from workbench.errors import ConfigError
from workbench.runtime._spec import AgentSpec
from workbench.settings import get_settings
from workbench.tools import ToolRegistry, resolve_tool
from workbench.tools.builtin import (
    calculator,
    http_get_tool,
    python_tool,
    read_file_tool,
    search_tool,
    send_email_tool,
    sql_tool,
    write_file_tool,
)

__all__ = ["BUILTIN_TOOLS", "import_spec_modules", "resolve_tools"]

BUILTIN_TOOLS = (
    "calculator",
    "http_get",
    "python",
    "read_file",
    "recall",
    "remember",
    "search",
    "send_email",
    "sql",
    "write_file",
)
"""Tool names a spec may use without a ``module:attr`` ref."""


def import_spec_modules(spec: AgentSpec) -> None:
    """Import the modules a spec names (they register scripted models or tools)."""
    for module in spec.imports:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(f"agent {spec.name}: cannot import {module!r}: {exc}") from exc


def resolve_tools(spec: AgentSpec) -> ToolRegistry:
    """A registry with every tool the spec lists, in order."""
    registry = ToolRegistry()
    for ref in spec.tools:
        if ref == "sql":
            if not spec.datasets:
                raise ConfigError(f"agent {spec.name}: the sql tool needs `datasets` in the spec")
            registry.register(sql_tool(spec.datasets))
        elif ref == "calculator":
            registry.register(calculator)
        elif ref == "python":
            registry.register(python_tool())
        elif ref == "http_get":
            if not spec.http_allow_hosts:
                raise ConfigError(
                    f"agent {spec.name}: the http_get tool needs `http_allow_hosts` in the spec"
                )
            registry.register(http_get_tool(allow_hosts=spec.http_allow_hosts))
        elif ref == "search":
            if spec.search_corpus is None:
                raise ConfigError(
                    f"agent {spec.name}: the search tool needs `search_corpus` in the spec"
                )
            registry.register(search_tool(spec.search_corpus))
        elif ref in ("read_file", "write_file"):
            # One workspace per agent under $WORKBENCH_HOME/workspaces/.
            workspace = get_settings().home / "workspaces" / spec.name
            make = read_file_tool if ref == "read_file" else write_file_tool
            registry.register(make(workspace))
        elif ref == "send_email":
            registry.register(send_email_tool())
        elif ref in ("remember", "recall"):
            # Long-term memory of the principal, in $WORKBENCH_HOME/memory.duckdb.
            from workbench.memory import recall_tool, remember_tool

            registry.register(remember_tool() if ref == "remember" else recall_tool())
        elif ":" in ref:
            registry.register(resolve_tool(ref))
        else:
            raise ConfigError(
                f"agent {spec.name}: unknown tool {ref!r}; use one of {', '.join(BUILTIN_TOOLS)}"
                " or a `package.module:attr` reference"
            )
    return registry
