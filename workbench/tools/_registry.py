"""The tool registry of an agent, and resolution of ``"module:attr"`` tool references."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator

from workbench.errors import ConfigError, ToolNotFound
from workbench.tools._tool import Tool

__all__ = ["ToolRegistry", "resolve_tool"]


class ToolRegistry:
    """Tools by name, in registration order. Not thread-safe while being filled."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        """Create a registry holding ``tools``.

        Args:
            tools: Tools to register at once.
        """
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.register(item)

    def register(self, tool: Tool) -> Tool:
        """Add ``tool`` and return it.

        Raises:
            ConfigError: It is not a :class:`Tool`, or its name is taken.
        """
        if not isinstance(tool, Tool):
            raise ConfigError(f"only Tool instances can be registered, got {type(tool).__name__}")
        if tool.name in self._tools:
            raise ConfigError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def get(self, name: str) -> Tool:
        """The tool called ``name``.

        Raises:
            ToolNotFound: No such tool; the message lists the available names.
        """
        try:
            return self._tools[name]
        except KeyError:
            available = ", ".join(self._tools) or "none"
            raise ToolNotFound(
                f"unknown tool {name!r}; available tools: {available}", tool=name
            ) from None

    def definitions(self) -> list[dict[str, object]]:
        """OpenAI function-calling definitions of every tool, in registration order."""
        return [t.definition() for t in self._tools.values()]

    def names(self) -> list[str]:
        """Names of every tool, in registration order."""
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names()!r})"


def resolve_tool(ref: str) -> Tool:
    """Import the tool named by ``"package.module:attr"`` (``attr`` may be dotted).

    ``attr`` is a :class:`Tool`, or a zero-argument factory returning one.

    Raises:
        ConfigError: The reference is malformed, cannot be imported, or does not
            lead to a Tool.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"tool reference {ref!r} must look like 'package.module:attr'")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"tool reference {ref!r}: cannot import {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise ConfigError(f"tool reference {ref!r}: no attribute {part!r}") from exc
    if isinstance(target, Tool):
        return target
    if not callable(target):
        raise ConfigError(f"tool reference {ref!r} is neither a Tool nor a factory")
    try:
        made = target()
    except Exception as exc:
        raise ConfigError(
            f"tool reference {ref!r}: the factory failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(made, Tool):
        raise ConfigError(
            f"tool reference {ref!r}: the factory returned {type(made).__name__}, not a Tool"
        )
    return made
