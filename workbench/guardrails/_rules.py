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

Splitting words with a regular expression costs tens of microseconds too, so for ASCII
text the keys come from C-level string methods (``str.translate`` to letters and
spaces, ``str.split``, one ``set``), and :func:`run_rules` visits only the rules that
an index names for the keys present (and for the first characters of anchors that
start with a non-letter), in rule order: the same rules, the same detections, without
a loop over every rule.
"""

from __future__ import annotations

import importlib
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from workbench.guardrails._prefilter import Prefilter, build
from workbench.guardrails._types import Channel, Detection, ScanContext, severity_for

__all__ = ["Rule", "run_rules", "word_keys"]

_EXCERPT = 120
_MAX_ANCHOR_HITS = 24
_KEY = 4
_WORD = re.compile(r"[^\W\d_]+")
_WORD_KEY = re.compile(r"([^\W\d_]{1,4})[^\W\d_]*")


# ASCII letters stay, every other ASCII character becomes a space: on ASCII text the
# words of ``_WORD`` are then exactly ``str.split()``'s (digits and ``_`` split words too).
_LETTERS_ONLY = str.maketrans(
    {c: " " for c in map(chr, range(128)) if not ("a" <= c <= "z" or "A" <= c <= "Z")}
)
_FIRST4 = operator.itemgetter(slice(0, _KEY))


def word_keys(lower: str) -> frozenset[str]:
    """The gate keys of a lower-cased text: the first four letters of each word."""
    if lower.isascii():
        return frozenset(map(_FIRST4, set(lower.translate(_LETTERS_ONLY).split())))
    return frozenset(_WORD_KEY.findall(lower))


def _key(anchor: str, cased: bool) -> str | None:
    m = _WORD.match((anchor.lower() if cased else anchor).lstrip())
    return None if m is None else m.group()[:_KEY]


def _gate(anchors: tuple[str, ...], cased: bool) -> frozenset[str] | None:
    keys = [_key(anchor, cased) for anchor in anchors]
    if any(k is None for k in keys):
        return None  # an anchor starts with a non-letter: no word gate for this rule
    return frozenset(k for k in keys if k is not None)


# The standard library's own regular-expression parser and its opcodes, to read the
# literals a pattern starts with (private modules: untyped, and any surprise in them
# only means "unknown", see _starts).
_p: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")
_MAX_STARTS = 48
_FIND_COST = 8


def _prefixes(items: list[tuple[Any, Any]]) -> list[str] | None:
    """Literals one of which starts every match of a parsed pattern (``None``: unknown)."""
    prefix = ""
    for op, av in items:
        if op is _c.AT and not prefix:
            continue  # \\b, ^ at the start: dropping a zero-width test only widens the set
        if op is _c.LITERAL:
            prefix += chr(av)
            continue
        if op is _c.SUBPATTERN:
            if av[1] or av[2]:
                break  # inline flags (case folding) would make the literals wrong
            inner = _prefixes(list(av[3].data))
        elif op is _c.BRANCH:
            alternatives = [_prefixes(list(alt.data)) for alt in av[1]]
            inner = (
                None
                if any(a is None for a in alternatives)
                else [x for a in alternatives if a is not None for x in a]
            )
        else:
            break
        if inner is None or len(inner) > _MAX_STARTS:
            break
        return [prefix + x for x in inner]
    return [prefix] if prefix else None


def _start_key(literal: str) -> str | None:
    """The gate key of the word a literal must begin, when a word boundary precedes it.

    ``None`` when it cannot be told: the literal starts with a non-letter, or it is all
    letters and shorter than a key (the word may go on).
    """
    m = _WORD.match(literal)
    if m is None or literal != literal.lower():
        return None
    run = m.group()
    if len(run) >= _KEY:
        return run[:_KEY]
    return run if len(run) < len(literal) else None


def _starts(
    pattern: re.Pattern[str], cased: bool
) -> tuple[tuple[str, str | None, bool], ...] | None:
    """Literals one of which begins every match of ``pattern``, each with a gate key.

    A window is then searched by ``find`` of each literal and one ``match`` at each
    occurrence, which finds the same matches as ``finditer`` over the window: a match
    cannot start anywhere else. When the pattern begins with ``\\b``, a literal that
    begins with a word character must begin a word (the third item: an occurrence right
    after a word character is no start); on the lower-cased text, a literal that begins
    with a letter then cannot occur at a match start unless its key is among the text's
    word keys (the second item).
    """
    if pattern.flags & (re.IGNORECASE | re.VERBOSE | re.ASCII | re.LOCALE):
        return None
    try:
        parsed = _p.parse(pattern.pattern, pattern.flags)
    except Exception:  # a private parser: any surprise means "unknown"
        return None
    items = list(parsed.data)
    found = _prefixes(items)
    if not found or len(found) > _MAX_STARTS or not all(found):
        return None
    boundary = False
    for op, av in items:
        if op is not _c.AT:
            break
        boundary = boundary or av is _c.AT_BOUNDARY
    keyed = not cased and boundary
    return tuple(
        (lit, _start_key(lit) if keyed else None, boundary and _is_word(lit[0]))
        for lit in sorted(set(found))
    )


def _is_word(char: str) -> bool:
    """Whether the regex engine counts ``char`` as a word character (``\\w``)."""
    return char.isalnum() or char == "_"


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
        keyed: Each anchor with its gate key (computed).
        starts: Literals one of which begins every match, each with the gate key of
            the word it must begin or ``None``, and whether it must begin a word
            (computed from the pattern; ``None`` when unknown): a window is searched
            only at their occurrences.
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
    starts: tuple[tuple[str, str | None, bool], ...] | None = field(
        default=None, init=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "gate", _gate(self.anchors, self.cased))
        object.__setattr__(self, "keyed", tuple((a, _key(a, self.cased)) for a in self.anchors))
        object.__setattr__(self, "starts", _starts(self.pattern, self.cased))


class _Memo:
    """Anchor offsets found in one text, shared by every rule that scans it (rules share
    many anchors)."""

    __slots__ = ("_anchors", "haystack")

    def __init__(self, haystack: str) -> None:
        self.haystack = haystack
        self._anchors: dict[str, list[int]] = {}

    def anchor(self, anchor: str) -> list[int]:
        """The first :data:`_MAX_ANCHOR_HITS` offsets of ``anchor``."""
        hits = self._anchors.get(anchor)
        if hits is None:
            haystack = self.haystack
            hits = []
            at = haystack.find(anchor)
            while at >= 0 and len(hits) < _MAX_ANCHOR_HITS:
                hits.append(at)
                at = haystack.find(anchor, at + 1)
            self._anchors[anchor] = hits
        return hits


def _spots(rule: Rule, picked: list[int], memo: _Memo) -> list[int]:
    """Offsets of the picked anchors (by position in ``rule.anchors``, in order), at most
    :data:`_MAX_ANCHOR_HITS` of them, sorted."""
    spots: list[int] = []
    anchors = rule.anchors
    for j in picked:
        room = _MAX_ANCHOR_HITS - len(spots)
        if room <= 0:
            break
        hits = memo.anchor(anchors[j])
        spots.extend(hits if len(hits) <= room else hits[:room])
    spots.sort()
    return spots


def _windows(haystack: str, rule: Rule, picked: list[int], memo: _Memo) -> list[tuple[int, int]]:
    n = len(haystack)
    spots = _spots(rule, picked, memo)
    if not spots:
        return []
    merged: list[tuple[int, int]] = []
    before, after = rule.before, rule.after
    lo = hi = -1
    for at in spots:
        start = at - before if at > before else 0
        end = at + after
        if end > n:
            end = n
        if start <= hi:
            if end > hi:
                hi = end
        else:
            if hi >= 0:
                merged.append((lo, hi))
            lo, hi = start, end
    merged.append((lo, hi))
    return merged


def _matches(
    haystack: str, rule: Rule, keys: frozenset[str], memo: _Memo, picked: list[int]
) -> list[re.Match[str]]:
    if rule.at_start:
        out = []
        for at in _spots(rule, picked, memo):
            m = rule.pattern.match(haystack, at)
            if m is not None:
                out.append(m)
        return out
    starts = rule.starts
    if starts is None:
        return [
            m
            for s, e in _windows(haystack, rule, picked, memo)
            for m in rule.pattern.finditer(haystack, s, e)
        ]
    # What finditer over [s, e) finds, tried only where a match can begin: at the
    # occurrences of a start literal inside the window (that begin a word, when the
    # pattern starts with \\b). A find costs about as much as the regex engine's tries
    # at eight positions, so a short window with many literals goes to finditer.
    lits = [(lit, word) for lit, key, word in starts if key is None or key in keys]
    if not any(lit in haystack for lit, _ in lits):
        return []  # no match can begin anywhere in the text
    match = rule.pattern.match
    found: list[re.Match[str]] = []
    many = len(lits) * _FIND_COST
    for s, e in _windows(haystack, rule, picked, memo):
        if e - s <= many:
            found.extend(rule.pattern.finditer(haystack, s, e))
            continue
        begins: set[int] = set()
        for lit, word in lits:
            i = haystack.find(lit, s, e)
            while i >= 0:
                if not (word and i and _is_word(haystack[i - 1])):
                    begins.add(i)
                i = haystack.find(lit, i + 1, e)
        pos = s
        for i in sorted(begins):
            if i < pos:
                continue
            m = match(haystack, i, e)
            if m is not None:
                found.append(m)
                pos = m.end() if m.end() > i else i + 1
    return found


@dataclass(frozen=True, slots=True)
class _Index:
    """Which anchors of which rules a text can hit, by what it contains.

    Attributes:
        universe: Every anchor key of the rules.
        by_key: For each key, the ``(rule, anchor)`` positions of the anchors of that key.
        by_char: For each rule with anchors that start with a non-letter, the first
            characters of those anchors (none can occur unless its character does) and
            their positions.
        prefilters: The Hyperscan prefilters (see :mod:`._prefilter`), each with the rule
            indices of its patterns and whether it scans the text as given (cased rules)
            or lower-cased; ``None`` without Hyperscan.
    """

    universe: frozenset[str]
    by_key: dict[str, tuple[tuple[int, int], ...]]
    by_char: tuple[tuple[int, frozenset[str], tuple[int, ...]], ...]
    prefilters: tuple[tuple[Prefilter, tuple[int, ...], bool], ...] | None = None


def _build_index(rules: tuple[Rule, ...]) -> _Index:
    by_key: dict[str, list[tuple[int, int]]] = {}
    by_char: list[tuple[int, frozenset[str], tuple[int, ...]]] = []
    for i, rule in enumerate(rules):
        keyless: list[int] = []
        for j, (_, key) in enumerate(rule.keyed):
            if key is not None:
                by_key.setdefault(key, []).append((i, j))
            else:
                keyless.append(j)
        if keyless:
            # An empty anchor occurs everywhere: "" is in every text, so it always counts.
            firsts = frozenset(rule.anchors[j][:1] for j in keyless)
            by_char.append((i, firsts, tuple(keyless)))
    return _Index(
        frozenset(by_key),
        {k: tuple(v) for k, v in by_key.items()},
        tuple(by_char),
        _build_prefilters(rules),
    )


def _build_prefilters(
    rules: tuple[Rule, ...],
) -> tuple[tuple[Prefilter, tuple[int, ...], bool], ...] | None:
    out: list[tuple[Prefilter, tuple[int, ...], bool]] = []
    for cased in (False, True):
        ids = tuple(i for i, rule in enumerate(rules) if rule.cased == cased)
        if not ids:
            continue
        prefilter = build([rules[i].pattern for i in ids])
        if prefilter is None:
            return None
        out.append((prefilter, ids, cased))
    return tuple(out)


def _possible(
    prefilters: tuple[tuple[Prefilter, tuple[int, ...], bool], ...], text: str, lower: str
) -> set[int]:
    """Indices of the rules that may match (the others cannot), for ASCII ``text``."""
    possible: set[int] = set()
    for prefilter, ids, cased in prefilters:
        data = (text if cased else lower).encode("ascii")
        possible.update(ids[k] for k in prefilter.possible(data))
    return possible


# Keyed by the identity of a rules tuple; the tuple is kept so its id is never reused.
_INDEXES: dict[int, tuple[tuple[Rule, ...], _Index]] = {}


def _index(rules: tuple[Rule, ...]) -> _Index:
    cached = _INDEXES.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    index = _build_index(rules)
    if len(_INDEXES) > 64:
        _INDEXES.clear()
    _INDEXES[id(rules)] = (rules, index)
    return index


def _candidates(index: _Index, text: str, lower: str, keys: frozenset[str]) -> dict[int, list[int]]:
    """For each rule that can have an anchor hit, the anchors to search, in their order.

    An anchor is searched when its key is present or it starts with a non-letter; a rule
    none of whose anchors can occur has no hit and is left out.
    """
    chosen: dict[int, list[int]] = {}
    by_key = index.by_key
    for key in keys.intersection(index.universe):
        for i, j in by_key[key]:
            chosen.setdefault(i, []).append(j)
    for i, firsts, keyless in index.by_char:
        if any(c in lower or c in text for c in firsts):
            chosen.setdefault(i, []).extend(keyless)
    for picked in chosen.values():
        picked.sort()
    return chosen


def _picked(rule: Rule, keys: frozenset[str], text: str, lower: str) -> list[int]:
    """:func:`_candidates` for one rule: the anchors to search, in their order."""
    picked = [j for j, (_, key) in enumerate(rule.keyed) if key is not None and key in keys]
    keyless = [j for j, (_, key) in enumerate(rule.keyed) if key is None]
    if keyless and any(c in lower or c in text for c in {rule.anchors[j][:1] for j in keyless}):
        picked.extend(keyless)
        picked.sort()
    return picked


def run_rules(
    rules: tuple[Rule, ...],
    text: str,
    lower: str,
    ctx: ScanContext,
    *,
    max_hits: int = 4,
    keys: frozenset[str] | None = None,
    prefilter: bool = True,
) -> list[Detection]:
    """Detections of every rule matching ``text``.

    Args:
        rules: The rules.
        text: The text.
        lower: ``text.lower()``.
        ctx: The scan context (its channel selects rules).
        max_hits: Most detections per rule.
        keys: ``word_keys(lower)`` when the caller has it already.
        prefilter: Skip the rules the Hyperscan prefilter proves cannot match (ASCII
            texts, when Hyperscan is available); the detections are the same either way.

    Returns:
        One detection per match, in rule order.
    """
    found: list[Detection] = []
    aligned = len(lower) == len(text)
    index = _index(rules)
    lower_memo = _Memo(lower)
    text_memo = _Memo(text) if text is not lower else lower_memo
    if prefilter and index.prefilters is not None and text.isascii() and lower.isascii():
        # Only the rules the prefilter leaves; the text's words are split only for them.
        possible = _possible(index.prefilters, text, lower)
        if not possible:
            return found
        gate = keys if keys is not None else word_keys(lower)
        candidates = {}
        for i in possible:
            picked = _picked(rules[i], gate, text, lower)
            if picked:
                candidates[i] = picked
    else:
        gate = keys if keys is not None else word_keys(lower)
        candidates = _candidates(index, text, lower, gate)
    for i in sorted(candidates):
        rule = rules[i]
        if rule.channels is not None and ctx.channel not in rule.channels:
            continue
        haystack = text if rule.cased else lower
        memo = text_memo if rule.cased else lower_memo
        hits = 0
        last_end = -1
        for m in _matches(haystack, rule, gate, memo, candidates[i]):
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
