"""Layer 2b: exfiltration through rendered links (markdown or HTML images with data).

A markdown image is fetched by the client that renders it, so a URL whose query
carries conversation data leaks it without a click. The rule scores by how the URL
looks: a placeholder to fill in (``{data}``, ``[SECRET]``, ``$x``, ``<...>``) or
instructions to append data next to it are high; a long opaque query value is
medium-high; an ordinary image URL with a ``?width=300`` query stays low.
"""

from __future__ import annotations

import re

from workbench.guardrails._registry import detector
from workbench.guardrails._types import Detection, ScanContext, severity_for

__all__ = ["markdown_exfil"]

_I = re.IGNORECASE
_IMAGE = re.compile(
    r"!\[[^\]\n]{0,200}\]\(\s*<?(https?://[^\s)>]+)|"
    r"<img\b[^>]{0,200}?\bsrc\s*=\s*[\"']?(https?://[^\s\"'>]+)|"
    r"!\[[^\]\n]{0,200}\]\[[^\]\n]{0,50}\][^\n]*\n\s*\[[^\]\n]{0,50}\]:\s*(https?://\S+)",
    _I,
)
_PLACEHOLDER = re.compile(r"[?&][^=&#\s]*=[^&#\s]*(?:\{|\[|\$|<|%7B|%5B|%24|%3C)", _I)
_LONG_VALUE = re.compile(r"[?&][^=&#\s]*=([A-Za-z0-9+/=_%.-]{24,})")
_APPEND = re.compile(
    r"\b(?:append|add|include|insert|put|fill\s+in|replace|substitute|concatenate|attach|"
    r"encode)\b[^.\n]{0,120}?\b(?:conversation|chat|history|summary|data|secrets?|passwords?|"
    r"keys?|tokens?|credentials|messages?|email|name|address|information|details|"
    r"context|prompt|answer|response)\b",
    _I,
)
_DATA_WORDS = re.compile(
    r"(?:conversation|history|secret|password|passwd|token|apikey|api_key|credential|"
    r"session|cookie|prompt|email|ssn|card)", _I
)  # fmt: skip


@detector(
    name="markdown_exfil",
    channels=("user_input", "tool_output", "final_answer"),
    category="exfiltration",
)
def markdown_exfil(text: str, ctx: ScanContext) -> list[Detection]:
    """Images whose URL can carry data out when rendered."""
    if "![" not in text and "<img" not in text.lower():
        return []
    found: list[Detection] = []
    for m in _IMAGE.finditer(text):
        url = m.group(1) or m.group(2) or m.group(3) or ""
        if "?" not in url and "=" not in url:
            continue
        if _PLACEHOLDER.search(url) or _APPEND.search(text):
            score, rule = 0.9, "markdown_exfil.templated_url"
        elif _LONG_VALUE.search(url) or _DATA_WORDS.search(url.split("?", 1)[-1]):
            score, rule = 0.75, "markdown_exfil.data_in_url"
        else:
            score, rule = 0.3, "markdown_exfil.image_with_query"
        found.append(
            Detection(
                rule, score, severity_for(score), m.group()[:120], "exfiltration", ctx.layer,
                m.start(), m.end(),
            )
        )  # fmt: skip
    return found
