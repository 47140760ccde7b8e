"""A scored regular-expression rule, run only in windows around its anchor words.

A regular expression over a whole 1 KB text costs tens of microseconds on this
project's machines even when it matches nothing; ``str.find`` of a literal costs
half a microsecond. So each rule names anchors (lower-case literals, one of which
every match contains) and its pattern runs only in a window around each anchor
occurrence: benign text without anchors costs a few substring searches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.guardrails._types import Channel, Detection, ScanContext, severity_for

__all__ = ["Rule", "run_rules"]

_EXCERPT = 120
_MAX_ANCHOR_HITS = 24


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: a pattern, its score, and where to try it.

    Attributes:
        name: Detection name (``<detector>.<rule>``).
        pattern: Compiled pattern, searched on the lower-cased text (on the text as
            given when ``cased``).
        score: Score of a match.
        anchors: Literals (lower-case unless ``cased``) of which every match contains
            one; the pattern runs only in windows around them.
        requires: A second pattern that must also occur somewhere in the text.
        channels: Channels the rule applies to (``None``: all the detector's).
        category: Category of its detections.
        cased: Match on the original text instead of the lower-cased one.
        before: Window start, in characters before an anchor.
        after: Window end, in characters after an anchor.
        at_start: Every match starts at an anchor: the pattern is only tried there
            (``match`` at each anchor occurrence, no window search).
    """

    name: str
    pattern: re.Pattern[str]
    score: float
    anchors: tuple[str, ...]
    requires: re.Pattern[str] | None = None
    channels: tuple[Channel, ...] | None = None
    category: str = "injection"
    cased: bool = False
    before: int = 100
    after: int = 80
    at_start: bool = False


def _spots(haystack: str, rule: Rule) -> list[int]:
    spots: list[int] = []
    for anchor in rule.anchors:
        at = haystack.find(anchor)
        while at >= 0 and len(spots) < _MAX_ANCHOR_HITS:
            spots.append(at)
            at = haystack.find(anchor, at + 1)
    spots.sort()
    return spots


def _windows(haystack: str, rule: Rule) -> list[tuple[int, int]]:
    n = len(haystack)
    spots = _spots(haystack, rule)
    if not spots:
        return []
    merged: list[tuple[int, int]] = []
    for at in spots:
        start, end = max(0, at - rule.before), min(n, at + rule.after)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _matches(haystack: str, rule: Rule) -> list[re.Match[str]]:
    if rule.at_start:
        out = []
        for at in _spots(haystack, rule):
            m = rule.pattern.match(haystack, at)
            if m is not None:
                out.append(m)
        return out
    return [m for s, e in _windows(haystack, rule) for m in rule.pattern.finditer(haystack, s, e)]


def run_rules(
    rules: tuple[Rule, ...], text: str, lower: str, ctx: ScanContext, *, max_hits: int = 4
) -> list[Detection]:
    """Detections of every rule matching ``text`` (``lower`` is ``text.lower()``)."""
    found: list[Detection] = []
    aligned = len(lower) == len(text)
    for rule in rules:
        if rule.channels is not None and ctx.channel not in rule.channels:
            continue
        haystack = text if rule.cased else lower
        hits = 0
        last_end = -1
        for m in _matches(haystack, rule):
            if m.start() < last_end or hits >= max_hits:
                continue
            if rule.requires is not None and rule.requires.search(haystack) is None:
                break
            if True:
                hits += 1
                last_end = m.end()
                found.append(
                    Detection(
                        rule.name,
                        rule.score,
                        severity_for(rule.score),
                        text[m.start() : m.end()][:_EXCERPT] if aligned else m.group()[:_EXCERPT],
                        rule.category,
                        ctx.layer,
                        m.start() if aligned else None,
                        m.end() if aligned else None,
                    )
                )
    return found
