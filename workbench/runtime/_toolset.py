"""Turning an agent spec's ``tools`` and ``imports`` into a registry of tools."""

from __future__ import annotations

import importlib

from workbench.errors import ConfigError
from workbench.runtime._spec import AgentSpec
from workbench.tools import ToolRegistry, resolve_tool
from workbench.tools.builtin import calculator, http_get_tool, python_tool, sql_tool

__all__ = ["BUILTIN_TOOLS", "import_spec_modules", "resolve_tools"]

BUILTIN_TOOLS = ("calculator", "http_get", "python", "sql")
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
        elif ":" in ref:
            registry.register(resolve_tool(ref))
        else:
            raise ConfigError(
                f"agent {spec.name}: unknown tool {ref!r}; use one of {', '.join(BUILTIN_TOOLS)}"
                " or a `package.module:attr` reference"
            )
    return registry
