"""Built-in tools: read-only SQL over local datasets, a safe calculator, sandboxed Python,
an allow-listed, SSRF-checked HTTP GET, search over local documents, files confined to a
workspace, and a demo e-mail tool that queues to a local outbox."""

from __future__ import annotations

from workbench.tools.builtin._calculator import calculator
from workbench.tools.builtin._email import DEFAULT_MAIL_DOMAINS, read_outbox, send_email_tool
from workbench.tools.builtin._files import MAX_PATH_LENGTH, read_file_tool, write_file_tool
from workbench.tools.builtin._http import http_get_tool
from workbench.tools.builtin._python import python_tool
from workbench.tools.builtin._search import (
    MAX_K,
    MAX_QUERY_CHARS,
    Document,
    SearchHit,
    SearchIndex,
    chunk_spans,
    load_corpus,
    search_tool,
)
from workbench.tools.builtin._sql import sql_tool

__all__ = [
    "DEFAULT_MAIL_DOMAINS",
    "MAX_K",
    "MAX_PATH_LENGTH",
    "MAX_QUERY_CHARS",
    "Document",
    "SearchHit",
    "SearchIndex",
    "calculator",
    "chunk_spans",
    "http_get_tool",
    "load_corpus",
    "python_tool",
    "read_file_tool",
    "read_outbox",
    "search_tool",
    "send_email_tool",
    "sql_tool",
    "write_file_tool",
]
