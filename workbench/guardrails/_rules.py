"""A scored regular-expression rule, run only in windows around its anchor words.

A regular expression over a whole 1 KB text costs tens of microseconds on this
project's machines even when it matches nothing; ``str.find`` of a literal costs
half a microsecond. So each rule names anchors (lower-case literals, one of which
every match contains) and its pattern runs only in a window around each anchor
occurrence.

Even the anchor searches add up (some 250 anchors over all injection rules, about
100 µs per 1 KB text), so a rule is first gated by word prefixes: the text's words
are split once per scan (:func:`word_keys`, the first four letters of each word) and
a rule whose anchors' keys are all absent is skipped without a single ``find``. An
anchor must therefore start at the start of a word (or with a non-letter, which
makes its rule always tried).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workbench.guardrails._types import Channel, Detection, ScanContext, severity_for

__all__ = ["Rule", "run_rules", "word_keys"]

_EXCERPT = 120
_MAX_ANCHOR_HITS = 24
_KEY = 4
_WORD = re.compile(r"[^\W\d_]+")
_WORD_KEY = re.compile(r"([^\W\d_]{1,4})[^\W\d_]*")


def word_keys(lower: str) -> frozenset[str]:
    """The gate keys of a lower-cased text: the first four letters of each word."""
    return frozenset(_WORD_KEY.findall(lower))


def _key(anchor: str, cased: bool) -> str | None:
    m = _WORD.match((anchor.lower() if cased else anchor).lstrip())
    return None if m is None else m.group()[:_KEY]


def _gate(anchors: tuple[str, ...], cased: bool) -> frozenset[str] | None:
    keys = [_key(anchor, cased) for anchor in anchors]
    if any(k is None for k in keys):
        return None  # an anchor starts with a non-letter: no word gate for this rule
    return frozenset(k for k in keys if k is not None)


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
        gate: Word-prefix keys of the anchors (computed; ``None`` when an anchor
            starts with a non-letter and the rule is always tried).
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
    gate: frozenset[str] | None = field(default=None, init=False, compare=False)
    keyed: tuple[tuple[str, str | None], ...] = field(default=(), init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gate", _gate(self.anchors, self.cased))
        object.__setattr__(self, "keyed", tuple((a, _key(a, self.cased)) for a in self.anchors))


def _spots(haystack: str, rule: Rule, keys: frozenset[str]) -> list[int]:
    spots: list[int] = []
    for anchor, key in rule.keyed:
        if key is not None and key not in keys:
            continue  # the anchor's first word is absent: no need to search for it
        at = haystack.find(anchor)
        while at >= 0 and len(spots) < _MAX_ANCHOR_HITS:
            spots.append(at)
            at = haystack.find(anchor, at + 1)
    spots.sort()
    return spots


def _windows(haystack: str, rule: Rule, keys: frozenset[str]) -> list[tuple[int, int]]:
    n = len(haystack)
    spots = _spots(haystack, rule, keys)
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


def _matches(haystack: str, rule: Rule, keys: frozenset[str]) -> list[re.Match[str]]:
    if rule.at_start:
        out = []
        for at in _spots(haystack, rule, keys):
            m = rule.pattern.match(haystack, at)
            if m is not None:
                out.append(m)
        return out
    return [
        m for s, e in _windows(haystack, rule, keys) for m in rule.pattern.finditer(haystack, s, e)
    ]


def run_rules(
    rules: tuple[Rule, ...],
    text: str,
    lower: str,
    ctx: ScanContext,
    *,
    max_hits: int = 4,
    keys: frozenset[str] | None = None,
) -> list[Detection]:
    """Detections of every rule matching ``text``.

    Args:
        rules: The rules.
        text: The text.
        lower: ``text.lower()``.
        ctx: The scan context (its channel selects rules).
        max_hits: Most detections per rule.
        keys: ``word_keys(lower)`` when the caller has it already.

    Returns:
        One detection per match, in rule order.
    """
    found: list[Detection] = []
    aligned = len(lower) == len(text)
    if keys is None:
        keys = word_keys(lower)
    for rule in rules:
        if rule.channels is not None and ctx.channel not in rule.channels:
            continue
        if rule.gate is not None and rule.gate.isdisjoint(keys):
            continue
        haystack = text if rule.cased else lower
        hits = 0
        last_end = -1
        for m in _matches(haystack, rule, keys):
            if m.start() < last_end or hits >= max_hits:
                continue
            if rule.requires is not None and rule.requires.search(haystack) is None:
                break
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
