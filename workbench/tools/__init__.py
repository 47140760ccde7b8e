"""Tools: a registry of functions the model can call, with strict JSON schemas.

A tool's schema is derived from its signature and Google docstring (:func:`tool`),
or taken from an OpenAI function definition or an OpenAPI operation. Arguments are
validated strictly before a call (:meth:`Tool.parse_arguments`), and every failure
is a :class:`~workbench.errors.ToolError` that the loop returns to the model.
Built-in tools live in :mod:`workbench.tools.builtin`. Failed calls are kept in the
dead-letter queue (:func:`record_dead_letter`, :func:`list_dead_letters`,
:func:`retry_dead_letter`).
"""

from __future__ import annotations

from workbench.tools._context import ToolContext
from workbench.tools._dlq import (
    DEAD_LETTER_RETRIES_TABLE,
    DEAD_LETTERS_TABLE,
    DeadLetter,
    DeadLetterRetry,
    aretry_dead_letter,
    get_dead_letter,
    list_dead_letters,
    record_dead_letter,
    retry_dead_letter,
)
from workbench.tools._registry import ToolRegistry, resolve_tool
from workbench.tools._tool import Tool, tool

__all__ = [
    "DEAD_LETTERS_TABLE",
    "DEAD_LETTER_RETRIES_TABLE",
    "DeadLetter",
    "DeadLetterRetry",
    "Tool",
    "ToolContext",
    "ToolRegistry",
    "aretry_dead_letter",
    "get_dead_letter",
    "list_dead_letters",
    "record_dead_letter",
    "resolve_tool",
    "retry_dead_letter",
    "tool",
]
