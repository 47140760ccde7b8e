"""A small parser for Google-style docstrings: the summary and the ``Args:`` section."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

__all__ = ["ParsedDocstring", "parse_docstring"]

_ARGS_HEADERS = frozenset({"args", "arguments", "parameters", "params"})
_SECTION = re.compile(r"^([A-Za-z][A-Za-z ]*):\s*$")
# "name (type): text", "name: text", "*args: text"
_ARG_LINE = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True)
class ParsedDocstring:
    """What a tool needs from a docstring."""

    description: str
    """The first paragraph, joined into one line."""
    params: dict[str, str] = field(default_factory=dict)
    """Parameter name to description, from the ``Args:`` section."""


def parse_docstring(doc: str | None) -> ParsedDocstring:
    """Parse a Google-style docstring.

    Args:
        doc: The raw docstring (``fn.__doc__``), or ``None``.

    Returns:
        The first paragraph as the description and the ``Args:`` entries.
    """
    if not doc:
        return ParsedDocstring(description="")
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line.strip()):
            break
        summary.append(line.strip())
    return ParsedDocstring(description=" ".join(summary), params=_parse_args(lines))


def _parse_args(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    in_args = False
    entry_indent: int | None = None
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        header = _SECTION.match(line)
        if header and indent == 0:
            in_args = header.group(1).strip().lower() in _ARGS_HEADERS
            entry_indent, current = None, None
            continue
        if not in_args or not stripped:
            continue
        if entry_indent is None:
            entry_indent = indent
        match = _ARG_LINE.match(stripped)
        if indent <= entry_indent and match:
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current is not None and indent > entry_indent:
            params[current] = f"{params[current]} {stripped}".strip()
    return params
