"""Shared pieces of the injection rule families: the pattern compiler and vocabulary."""

from __future__ import annotations

import re

__all__ = ["AI", "p"]


def p(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """Compile ``pattern`` (rules match lower-cased text unless they say otherwise)."""
    return re.compile(pattern, flags)


AI = (
    r"(?:ai|a\.i\.|llm|large\s+language\s+model|language\s+model|assistant|chatbot|bot|agent|"
    r"gpt|chatgpt|claude|copilot|model)s?"
)
"""Words naming the model that reads a text."""
