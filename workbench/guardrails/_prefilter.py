"""A C prefilter for many regular expressions: which of them *cannot* match a text.

Hyperscan (the ``hyperscan`` package, statically linked, no download) compiles every
pattern of a set into one database and scans a text once, in C, reporting each pattern
that may match (``HS_FLAG_PREFILTER``: constructs it cannot run exactly are widened to a
superset; ``HS_FLAG_SINGLEMATCH``: one report per pattern). A pattern it does not report
has no match, so its exact Python regex need not run at all. It never decides a match:
the reported patterns still run in Python exactly as before, so results are unchanged.

To keep "not reported" a proof of "no match" wherever the callers search (a window
``[s, e)`` of the text, where ``$``, ``\\b`` and lookaheads see the window's end as the
text's end), each pattern is first *widened* (:func:`widen`): zero-width assertions are
removed, which only adds matches, except a leading ``\\b`` (it looks at the text before a
match, which a window does not hide) and ``^``/``\\A`` (Python matches them only at the
real start). Then :func:`truncate` cuts each top-level alternative before its first
repeated group: a match of the whole begins with a match of the cut pattern. Only ASCII
texts are scanned for regular expressions (bytes mode; on ASCII, ``\\w``, ``\\d`` and
case folding agree with Python's), and ``\\s`` is widened to Python's ASCII white space
(which includes ``\\x0b`` and ``\\x1c``-``\\x1f``). A pattern that cannot be widened with
certainty (``VERBOSE``, Python-only syntax such as ``{,n}``, case folding with non-ASCII
literals, a possible empty match) or that Hyperscan refuses is *always* reported.

Without the package (or on a CPU Hyperscan does not support) :func:`build` returns
``None`` and callers keep their pure-Python path.

Compiling the rules' database takes about a second, so a compiled database is cached on
disk (``$XDG_CACHE_HOME/workbench/hyperscan/``, else ``~/.cache/...``; the file name is a
SHA-256 of the Hyperscan version, the expressions, ids and flags) and later processes load
it in milliseconds. A cache that cannot be written, read or loaded (another CPU's
database) is only a cache miss: the database is compiled again.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_hs: Any
try:  # the fallback tests run without it (a module attribute set to None, a subprocess)
    import hyperscan as _hs
except Exception:  # ImportError, or a CPU/loader failure inside the extension
    _hs = None

__all__ = ["AVAILABLE", "Prefilter", "build", "build_literals", "truncate", "widen"]

AVAILABLE: bool = _hs is not None
"""Whether the Hyperscan prefilter can be used in this process."""

_parser: Any = importlib.import_module("re._parser")
_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")
_QUANT = "?*+{"
# Python's ASCII white space for ``\s`` on str patterns (Hyperscan's lacks \x0b, \x1c-\x1f).
_PY_SPACE = r"\s\x0b\x1c-\x1f"


def _class_end(pattern: str, i: int) -> int:
    """Index just past the character class that starts at ``pattern[i] == "["``."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            raise ValueError("nested class")  # Python warns on it; treat as unknown
        if c == "]":
            return j + 1
        j += 1
    raise ValueError("unterminated class")


def _group_end(pattern: str, i: int) -> int:
    """Index just past the group that starts at ``pattern[i] == "("``."""
    depth = 0
    j = i
    while j < len(pattern):
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "[":
            j = _class_end(pattern, j)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise ValueError("unbalanced group")


def _widen_class(body: str) -> str:
    r"""A character class with ``\s`` widened to Python's ASCII white space."""
    out: list[str] = []
    j = 0
    while j < len(body):
        c = body[j]
        if c == "\\" and j + 1 < len(body):
            esc = body[j + 1]
            if esc == "S":
                raise ValueError(r"\S in a class")  # [^\S...] would narrow
            out.append(_PY_SPACE if esc == "s" else body[j : j + 2])
            j += 2
            continue
        out.append(c)
        j += 1
    return "".join(out)


def widen(pattern: str, flags: int = 0) -> str | None:
    """``pattern`` without zero-width assertions, for a superset prefilter.

    Args:
        pattern: A Python regular expression.
        flags: Its compile flags.

    Returns:
        The widened pattern, or ``None`` when it cannot be widened with certainty.
    """
    if flags & re.VERBOSE:
        return None
    if re.search(r"\(\?[a-zA-Z]*x", pattern):
        return None  # inline verbose mode
    caseless = bool(flags & re.IGNORECASE) or re.search(r"\(\?[a-zA-Z]*i", pattern) is not None
    if caseless and not pattern.isascii():
        return None  # Python folds e.g. "ſ" to "s"; bytes mode would not
    out: list[str] = []
    i = 0
    n = len(pattern)
    try:
        while i < n:
            c = pattern[i]
            dropped = False
            if c == "\\":
                esc = pattern[i + 1 : i + 2]
                if esc in ("b", "B") and i == 0 and (flags & re.MULTILINE) == 0:
                    out.append(pattern[i : i + 2])  # at a match's start: sees the text before it
                elif esc in ("b", "B", "Z"):
                    dropped = True
                elif esc == "s":
                    out.append(f"[{_PY_SPACE}]")
                else:
                    out.append(pattern[i : i + 2])
                i += 2
            elif c == "[":
                end = _class_end(pattern, i)
                out.append("[" + _widen_class(pattern[i + 1 : end - 1]) + "]")
                i = end
            elif c == "(" and pattern.startswith(_LOOKAROUND, i):
                i = _group_end(pattern, i)
                dropped = True
            elif c == "$":
                i += 1
                dropped = True
            elif c == "{" and pattern[i + 1 : i + 2] == ",":
                return None  # Python's {,n}; PCRE reads it as literals
            else:
                out.append(c)  # "^" and "\\A" stay: Python matches them only at the real start
                i += 1
            if dropped and i < n and pattern[i] in _QUANT:
                return None  # a quantified assertion: leave it alone
    except ValueError:
        return None
    return "".join(out)


def _items(pattern: str) -> list[list[str]]:
    """The top-level alternatives of ``pattern``, each as its sequence of quantified atoms."""
    alternatives: list[list[str]] = [[]]
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "|":
            alternatives.append([])
            i += 1
            continue
        if c == "\\":
            end = i + 2
        elif c == "[":
            end = _class_end(pattern, i)
        elif c == "(":
            end = _group_end(pattern, i)
        else:
            end = i + 1
        while end < n and pattern[end] in _QUANT:
            if pattern[end] == "{":
                close = pattern.find("}", end)
                if close < 0:
                    raise ValueError("unterminated repeat")
                end = close + 1
            else:
                end += 1
        alternatives[-1].append(pattern[i:end])
        i = end
    return alternatives


_REPEATED_GROUP = re.compile(r"\((?s:.*)\)(?:[*+]|\{\d*,\d*\}|\{\d*\d\d+\}|\{[2-9]\})[?+]?")


def truncate(pattern: str, budget: int = 800) -> str:
    """A shorter superset of a widened ``pattern``, cheap to compile and to scan.

    Each top-level alternative is cut before its first group repeated more than once
    (``(?:\\w+\\s+){0,3}``: those make Hyperscan's compile take seconds, and "any
    bytes" in their place makes its scan slow) and after the atoms that fit in ``budget``
    characters. A match of the whole begins with a match of the cut alternative.
    """
    out: list[str] = []
    for atoms in _items(pattern):
        kept: list[str] = []
        size = 0
        for atom in atoms:
            if _REPEATED_GROUP.fullmatch(atom) or (kept and size + len(atom) > budget):
                break
            kept.append(atom)
            size += len(atom)
        out.append("".join(kept))
    return "|".join(out)


class Prefilter:
    """One compiled Hyperscan database over a sequence of patterns.

    Thread-safe: each thread scans with its own scratch space.

    Attributes:
        size: How many patterns it was built for.
        always: Indices of the patterns always reported (not compiled).
    """

    def __init__(self, database: Any, size: int, always: frozenset[int]) -> None:
        self._db = database
        self.size = size
        self.always = always
        self._local = threading.local()

    def _scratch(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            assert _hs is not None
            scratch = _hs.Scratch(self._db)
            self._local.scratch = scratch
        return scratch

    def possible(self, data: bytes) -> set[int]:
        """Indices of the patterns that may match somewhere in ``data`` (ASCII bytes)."""
        hits = set(self.always)
        if self._db is not None:
            add = hits.add

            def on_match(pattern: int, start: int, end: int, flags: int, context: Any) -> None:
                add(pattern)

            self._db.scan(data, match_event_handler=on_match, scratch=self._scratch())
        return hits


def _min_width(pattern: re.Pattern[str]) -> int:
    """The fewest characters a match of ``pattern`` has (0 when unknown)."""
    try:
        return int(_parser.parse(pattern.pattern, pattern.flags).getwidth()[0])
    except Exception:  # a private parser: any surprise means "unknown"
        return 0


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench" / "hyperscan"


def _cache_key(exprs: list[bytes], ids: list[int], flags: list[int], literal: bool) -> str:
    digest = hashlib.sha256(repr((_hs.__version__, literal, ids, flags)).encode())
    for expr in exprs:
        digest.update(len(expr).to_bytes(4, "big") + expr)
    return digest.hexdigest()


def _compile(exprs: list[bytes], ids: list[int], flags: list[int], *, literal: bool = False) -> Any:
    """A database for the expressions, from the on-disk cache when it holds one."""
    assert _hs is not None
    path = _cache_dir() / f"{_cache_key(exprs, ids, flags, literal)}.hsdb"
    try:
        return _hs.loadb(path.read_bytes(), _hs.HS_MODE_BLOCK)
    except Exception:  # no file, unreadable, or a database this CPU cannot run: compile
        pass
    db = _hs.Database()
    db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=flags, literal=literal)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as tmp:
            tmp.write(_hs.dumpb(db))
        os.replace(tmp.name, path)  # atomic: a reader never sees half a database
    except OSError:
        pass  # a read-only home: compile again next time
    return db


def build(patterns: Sequence[re.Pattern[str] | None]) -> Prefilter | None:
    """A prefilter for ``patterns`` (``None`` entries are always reported).

    Args:
        patterns: The patterns, by index.

    Returns:
        The prefilter, or ``None`` when Hyperscan is unavailable or fails.
    """
    if _hs is None:
        return None
    base = _hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_SINGLEMATCH | _hs.HS_FLAG_ALLOWEMPTY
    exprs: list[bytes] = []
    ids: list[int] = []
    flags: list[int] = []
    always: set[int] = set()
    for i, pattern in enumerate(patterns):
        wide = None if pattern is None else widen(pattern.pattern, pattern.flags)
        if pattern is None or wide is None or _min_width(pattern) == 0:
            always.add(i)
            continue
        f = base
        if pattern.flags & re.IGNORECASE:
            f |= _hs.HS_FLAG_CASELESS
        if pattern.flags & re.DOTALL:
            f |= _hs.HS_FLAG_DOTALL
        if pattern.flags & re.MULTILINE:
            f |= _hs.HS_FLAG_MULTILINE
        try:
            expr = truncate(wide).encode("utf-8")
        except ValueError:
            always.add(i)
            continue
        exprs.append(expr)
        ids.append(i)
        flags.append(f)
    try:
        db = _compile(exprs, ids, flags)
    except Exception:
        # One at a time: a pattern Hyperscan refuses is simply always reported.
        kept = []
        for one in zip(exprs, ids, flags, strict=True):
            try:
                _compile([one[0]], [one[1]], [one[2]])
            except Exception:
                always.add(one[1])
            else:
                kept.append(one)
        exprs, ids, flags = [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept]
        try:
            db = _compile(exprs, ids, flags) if exprs else None
        except Exception:
            return None
    prefilter = Prefilter(db, len(patterns), frozenset(always))
    try:
        prefilter.possible(b"probe")  # a CPU without the instructions it needs fails here
    except Exception:
        return None
    return prefilter


def build_literals(needles: Sequence[str]) -> Prefilter | None:
    """An exact multi-substring matcher: :meth:`Prefilter.possible` of a text's bytes is
    the set of indices of the ASCII ``needles`` it contains (``None`` without Hyperscan).

    Args:
        needles: Non-empty ASCII substrings, by index.

    Returns:
        The matcher, or ``None`` when Hyperscan is unavailable or fails.
    """
    if _hs is None or not needles or not all(n and n.isascii() for n in needles):
        return None
    try:
        db = _compile(
            [n.encode("ascii") for n in needles],
            list(range(len(needles))),
            [_hs.HS_FLAG_SINGLEMATCH] * len(needles),
            literal=True,
        )
        literals = Prefilter(db, len(needles), frozenset())
        literals.possible(b"probe")
    except Exception:
        return None
    return literals
