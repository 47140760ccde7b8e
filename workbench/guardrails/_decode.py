"""Layer 1b: decoding of encoded runs, so that an encoded payload is scanned in clear.

Only candidate runs are decoded: a regular expression finds runs that look like
base64, base32, hex, ``\\xNN`` escapes, percent-encoding, HTML entities, ``\\uNNNN``
escapes, 8-bit binary, Ascii85 (``<~...~>``), Base85 (RFC 1924, the alphabet of
``base64.b85encode``) or Morse code, and a run is kept only when it decodes to mostly
printable text. Whole-text transforms (ROT13, reversal, leetspeak, letter spacing) are applied
only when a cheap trigger shows they may reveal something. Every decoding returns a
:class:`View` that the guard scans with the same detectors, recursively up to
``max_depth`` and a total of ``max_chars`` decoded characters.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re
import urllib.parse
from dataclasses import dataclass

from workbench.guardrails._prefilter import Prefilter, build_literals

__all__ = ["View", "decode_views"]


@dataclass(frozen=True, slots=True)
class View:
    """One decoded view of a text.

    Attributes:
        text: The decoded text.
        layer: How it was obtained (``base64``, ``rot13``, ...).
        start: Start of the encoded run in the text it was decoded from (``None``
            for whole-text transforms).
        end: End of that run.
    """

    text: str
    layer: str
    start: int | None
    end: int | None


_HEX_ESC = re.compile(r"(?:(?:\\x|0x)[0-9a-fA-F]{2}[ ,]*){4,}")
_PCT_HIT = re.compile(r"%[0-9A-Fa-f]{2}")
_PCT = re.compile(r"(?:[^\s%]*%[0-9A-Fa-f]{2}){3,}[^\s%]*")
_ENTITY = re.compile(r"(?:&#(?:[0-9]{2,6}|[xX][0-9a-fA-F]{2,6});\s?){3,}")
_UESC = re.compile(r"(?:\\u[0-9a-fA-F]{4}){3,}")
_BINARY = re.compile(r"(?<![01])(?:[01]{8}[ ]?){4,}(?![01])")
_LONG = re.compile(r"\S{16,}")
_A85 = re.compile(r"<~([!-u\s]{10,}?)~>")
# Base85 runs: its alphabet minus the characters that are common in prose.
_B85 = re.compile(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]{20,}")
_B85_PLAIN = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
_MORSE = re.compile(r"(?<![\w.-])(?:[.-]{1,7}(?: {1,3}| ?/ ?)){8,}[.-]{1,7}(?![\w.-])")
_MORSE_CODE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g",
    "....": "h", "..": "i", ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n",
    "---": "o", ".--.": "p", "--.-": "q", ".-.": "r", "...": "s", "-": "t", "..-": "u",
    "...-": "v", ".--": "w", "-..-": "x", "-.--": "y", "--..": "z", "-----": "0",
    ".----": "1", "..---": "2", "...--": "3", "....-": "4", ".....": "5", "-....": "6",
    "--...": "7", "---..": "8", "----.": "9", ".-.-.-": ".", "--..--": ",", "..--..": "?",
    ".----.": "'", "-.-.--": "!", "-..-.": "/", ".--.-.": "@", "-...-": "=", "-....-": "-",
    "..--.-": "_", "---...": ":",
}  # fmt: skip
_SPACED = re.compile(r"(?<![^\W_])(?:[A-Za-z][ .\-_*|/]{1,2}){4,}[A-Za-z](?![^\W_])")
_PIECE = re.compile(r"[A-Za-z0-9+/_-]+=*")
_STRIP = "\"'`()[]{}<>,.;:!?"
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")
_B32CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=")
_B64CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-")
_ROT13 = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    b"NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)
_LEET = bytes.maketrans(b"013457@$|!", b"oieastasli")
_LEET_STR = str.maketrans("013457@$|!", "oieastasli")
_SQUEEZE = b" .-_*|/\t\n"

# Words whose appearance only after a transform shows the transform revealed
# something (a trigger to scan the transformed view, not a rule).
_WORDS = (
    "ignore", "disregard", "forget", "previous", "instructions", "system prompt", "jailbreak",
    "developer mode", "pretend", "reveal", "password", "secret", "you are now",
    "restrictions", "do anything",
)  # fmt: skip
_SQUEEZED = tuple(w.replace(" ", "") for w in _WORDS)


# For ASCII text, ROT13 and reversal are tested without building the view: a word is in
# the ROT13 (reversed) view exactly when its ROT13 (reversal) is in the text. Each needle
# is paired with its two rarest letters in English prose: ``c in text`` (one memchr) is
# much cheaper than a substring search, and two absent-or-present tests rule most out.
_BY_RARITY = "zqjxkvbpygfwmucldrhsnioate "


def _rare(needle: str) -> tuple[str, str]:
    # Any characters of the needle would be exact; rare ones make the test useful.
    chars = sorted(set(needle), key=_BY_RARITY.find)
    return chars[0], chars[min(1, len(chars) - 1)]


_Needle = tuple[str, str, str, str]  # (word, needle, rare character, second rare character)
_ROT13_WORDS: tuple[_Needle, ...] = tuple(
    (w, r, *_rare(r)) for w in _WORDS for r in (codecs.encode(w, "rot13"),)
)
_REVERSED_WORDS: tuple[_Needle, ...] = tuple((w, w[::-1], *_rare(w)) for w in _WORDS)
_PLAIN_WORDS: tuple[_Needle, ...] = tuple((w, w, *_rare(w)) for w in _WORDS)
_SQUEEZED_WORDS: tuple[_Needle, ...] = tuple((w, w, *_rare(w)) for w in _SQUEEZED)


# With Hyperscan, one C scan of a text finds which of these needles it holds: ROT13
# needles at [0, n), reversed ones at [n, 2n), the plain words at [2n, 3n) and the
# squeezed words at [3n, 4n); the same substring tests as ``_found``, all at once.
_N = len(_WORDS)
_LITERALS = build_literals(
    [r for _, r, _, _ in _ROT13_WORDS]
    + [r for _, r, _, _ in _REVERSED_WORDS]
    + list(_WORDS)
    + list(_SQUEEZED)
)


def _found(needles: tuple[_Needle, ...], hay: str) -> list[str]:
    """The words whose needle is in ``hay``."""
    return [w for w, n, c, d in needles if c in hay and d in hay and n in hay]


# Letters to "a", leetspeak digits and signs to "1", the rest to " ". A leet view can
# reveal a word only where a leet character touches a letter, unless a word has a token
# made only of letters that leet characters stand for ("a", "is", ...): then no shortcut.
_LEET_SHAPE = str.maketrans(
    {c: "a" if c.isalpha() else "1" if c in "013457@$|!" else " " for c in map(chr, range(128))}
)
_LEET_SHORTCUT = not any(set(t) <= set("oieastasli") for w in _WORDS for t in w.split())
# A run of 16 non-space characters, found with ``in`` after mapping ASCII to "x" and " ".
_SPACE_SHAPE = str.maketrans({c: " " if c.isspace() else "x" for c in map(chr, range(128))})
_LONG_SHAPE = "x" * 16


def _reveals(view: str, original: str, words: tuple[str, ...] = _WORDS) -> bool:
    return any(w in view and w not in original for w in words)


def _printable(text: str) -> bool:
    """Mostly printable characters, half of them letters, digits or spaces."""
    if not text:
        return False
    if text.isprintable():
        good = len(text)
    else:
        good = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    letters = sum(map(str.isalnum, text)) + text.count(" ")
    return good >= 0.95 * len(text) and letters >= 0.5 * len(text)


def _utf8(data: bytes) -> str | None:
    try:
        out = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return out if _printable(out) else None


def _b64(run: str) -> str | None:
    # ``run`` is ASCII (a _PIECE): lower() and upper() change it iff it has both cases.
    if run.lower() == run or run.upper() == run:
        return None  # one-case words (identifiers, prose) are not base64 in practice
    body = run.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            data = base64.urlsafe_b64decode(padded)
        else:
            data = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _utf8(data)


def _b32(run: str) -> str | None:
    body = run.rstrip("=")
    padded = body + "=" * (-len(body) % 8)
    try:
        return _utf8(base64.b32decode(padded))
    except (binascii.Error, ValueError):
        return None


def _hex(run: str) -> str | None:
    digits = re.sub(r"[^0-9a-fA-F]", "", run.replace("\\x", "").replace("0x", ""))
    if len(digits) % 2:
        return None
    try:
        return _utf8(bytes.fromhex(digits))
    except ValueError:
        return None


def _binary(run: str) -> str | None:
    bits = run.replace(" ", "")
    return _utf8(bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)))


def _a85(body: str) -> str | None:
    try:
        return _utf8(base64.a85decode(re.sub(r"\s", "", body)))
    except (binascii.Error, ValueError):
        return None


def _b85(run: str) -> str | None:
    # Prose, identifiers and base64 rarely carry three of these; Base85 almost always does.
    # ``run`` is ASCII (a _B85 match): deleting its letters, digits and "-" leaves the punctuation.
    if len(run.encode("ascii").translate(None, _B85_PLAIN)) < 3 or len(run) % 5 == 1:
        return None
    try:
        return _utf8(base64.b85decode(run))
    except (binascii.Error, ValueError):
        return None


def _morse(run: str) -> str | None:
    words = re.split(r" ?/ ?| {3}", run.strip())
    out = []
    for word in words:
        letters = [_MORSE_CODE.get(code) for code in word.split()]
        if not letters or any(c is None for c in letters):
            return None
        out.append("".join(c for c in letters if c))
    text = " ".join(out)
    return text if sum(c.isalpha() for c in text) >= 8 else None


def _changed(decoded: str | None, run: str) -> str | None:
    return decoded if decoded is not None and decoded.strip() != run.strip() else None


def _classify(token: str) -> tuple[str, str | None]:
    chars = set(token)
    if chars <= _HEXDIGITS and len(token) % 2 == 0:
        return "hex", _hex(token)
    if chars <= _B32CHARS:
        decoded = _b32(token)
        if decoded is not None:
            return "base32", decoded
    if chars <= _B64CHARS:
        return "base64", _b64(token)
    return "", None


def _long_runs(text: str) -> list[str]:
    """``_LONG.findall(text)`` for ASCII text: the runs of 16 or more non-space characters,
    located with ``find`` in a copy of the text mapped to "x" and " "."""
    shape = text.translate(_SPACE_SHAPE)
    runs: list[str] = []
    at = shape.find(_LONG_SHAPE)
    while at >= 0:
        start = shape.rfind(" ", 0, at) + 1
        end = shape.find(" ", at)
        if end < 0:
            end = len(shape)
        runs.append(text[start:end])
        at = shape.find(_LONG_SHAPE, end)
    return runs


def _runs(text: str) -> list[View]:
    views: list[View] = []
    longs = _LONG.findall(text) if not text.isascii() else _long_runs(text)
    if longs:
        pos = 0
        for word in longs:
            at = text.find(word, pos)
            pos = at + len(word)
            token = word.strip(_STRIP)
            if len(token) < 16:
                continue
            base = at + word.index(token)
            # key=value, a=b&c=d, k:v: the value is the candidate, not the whole token.
            for m in _PIECE.finditer(token):
                piece = m.group()
                if len(piece) < 16:
                    continue
                layer, decoded = _classify(piece)
                if decoded is not None:
                    views.append(View(decoded, layer, base + m.start(), base + m.end()))
    # A one-character test (memchr) first: most texts have no backslash, "&" or "<".
    backslash = "\\" in text
    if (backslash and "\\x" in text) or "0x" in text:
        for m in _HEX_ESC.finditer(text):
            decoded = _hex(m.group())
            if decoded is not None:
                views.append(View(decoded, "hex", m.start(), m.end()))
    if text.count("0") + text.count("1") >= 32:
        for m in _BINARY.finditer(text):
            decoded = _binary(m.group())
            if decoded is not None:
                views.append(View(decoded, "binary", m.start(), m.end()))
    if text.count("%") >= 3 and len(_PCT_HIT.findall(text)) >= 3:
        for m in _PCT.finditer(text):
            decoded = _changed(urllib.parse.unquote(m.group()), m.group())
            if decoded is not None:
                views.append(View(decoded, "url", m.start(), m.end()))
    if "&" in text and "&#" in text:
        for m in _ENTITY.finditer(text):
            views.append(View(html.unescape(m.group()), "html", m.start(), m.end()))
    if backslash and "\\u" in text:
        for m in _UESC.finditer(text):
            decoded = m.group().encode("ascii").decode("unicode_escape")
            views.append(View(decoded, "unicode_escape", m.start(), m.end()))
    if "<" in text and "<~" in text:
        for m in _A85.finditer(text):
            decoded = _a85(m.group(1))
            if decoded is not None:
                views.append(View(decoded, "ascii85", m.start(), m.end()))
    if longs:
        for word in longs:
            if len(word) >= 20 and not word.startswith("<~"):
                for m in _B85.finditer(word):
                    decoded = _b85(m.group())
                    if decoded is not None:
                        at = text.find(m.group())
                        views.append(View(decoded, "base85", at, at + len(m.group())))
    if text.count(".") + text.count("-") >= 24 and (".-" in text or "-." in text):
        for m in _MORSE.finditer(text):
            decoded = _morse(m.group())
            if decoded is not None:
                views.append(View(decoded, "morse", m.start(), m.end()))
    return views


def _spacing(text: str) -> str:
    parts = []
    last = 0
    for m in _SPACED.finditer(text):
        if len(m.group()) < 9:
            continue
        # Two separators between letters mark a word break; one joins letters.
        words = re.split(r"[ .\-_*|/]{2}", m.group())
        joined = " ".join(re.sub(r"[ .\-_*|/]", "", w) for w in words)
        parts.append(text[last : m.start()] + joined)
        last = m.end()
    parts.append(text[last:])
    return "".join(parts)


def _whole_ascii(text: str, lower: str, *, literals: bool = True) -> list[View]:
    """:func:`_whole` for ASCII text: the same views, most tests done without building them
    (and the needle tests in one Hyperscan scan when it is available and ``literals``)."""
    if literals and _LITERALS is not None:
        return _whole_scanned(text, lower, _LITERALS)
    views: list[View] = []
    # _reveals(view, x, words) is "a word found in the view is not in x".
    if any(w not in lower for w in _found(_ROT13_WORDS, lower)):
        rot13 = text.encode("ascii").translate(_ROT13).decode("ascii")
        views.append(View(rot13, "rot13", None, None))
    if any(w not in lower for w in _found(_REVERSED_WORDS, lower)):
        views.append(View(text[::-1], "reversed", None, None))
    if not _LEET_SHORTCUT or "a1" in (shape := lower.translate(_LEET_SHAPE)) or "1a" in shape:
        leet = lower.encode("ascii").translate(_LEET).decode("ascii")
        if any(w not in lower for w in _found(_PLAIN_WORDS, leet)):
            views.append(View(leet, "leet", None, None))
    squeezed = lower.encode("ascii").translate(None, _SQUEEZE).decode("ascii")
    inside = _found(_SQUEEZED_WORDS, squeezed)
    if inside and (
        any(w not in lower.replace(" ", "") for w in inside)
        or (any(w not in lower for w in inside) and _SPACED.search(text))
    ):
        spaced = _spacing(text)
        if spaced != text:
            views.append(View(spaced, "spacing", None, None))
    return views


def _whole_scanned(text: str, lower: str, found: Prefilter) -> list[View]:
    """:func:`_whole_ascii` with its substring tests answered by one scan per haystack."""
    views: list[View] = []
    n = _N
    hits = found.possible(lower.encode("ascii"))
    if hits:
        # "a word whose ROT13 (reversal) is in the text is not in the text itself".
        if any(k in hits and 2 * n + k not in hits for k in range(n)):
            rot13 = text.encode("ascii").translate(_ROT13).decode("ascii")
            views.append(View(rot13, "rot13", None, None))
        if any(n + k in hits and 2 * n + k not in hits for k in range(n)):
            views.append(View(text[::-1], "reversed", None, None))
    if not _LEET_SHORTCUT or "a1" in (shape := lower.translate(_LEET_SHAPE)) or "1a" in shape:
        leet = lower.encode("ascii").translate(_LEET)
        in_leet = found.possible(leet)
        if any(2 * n + k in in_leet and 2 * n + k not in hits for k in range(n)):
            views.append(View(leet.decode("ascii"), "leet", None, None))
    squeezed = lower.encode("ascii").translate(None, _SQUEEZE)
    in_squeezed = found.possible(squeezed)
    inside = [_SQUEEZED[k] for k in range(n) if 3 * n + k in in_squeezed]
    if inside and (
        any(w not in lower.replace(" ", "") for w in inside)
        or (any(w not in lower for w in inside) and _SPACED.search(text))
    ):
        spaced = _spacing(text)
        if spaced != text:
            views.append(View(spaced, "spacing", None, None))
    return views


def _whole(text: str) -> list[View]:
    views: list[View] = []
    lower = text.lower()
    if text.isascii():
        return _whole_ascii(text, lower)
    rot13 = codecs.encode(text, "rot13")
    leet = lower.translate(_LEET_STR)
    squeezed = re.sub(r"[\s.\-_*|/]", "", lower)
    if _reveals(rot13.lower(), lower):
        views.append(View(rot13, "rot13", None, None))
    reversed_text = lower[::-1]
    if _reveals(reversed_text, lower):
        views.append(View(text[::-1], "reversed", None, None))
    if _reveals(leet, lower):
        views.append(View(leet, "leet", None, None))
    if _reveals(squeezed, lower.replace(" ", ""), _SQUEEZED) or (
        _reveals(squeezed, lower, _SQUEEZED) and _SPACED.search(text)
    ):
        spaced = _spacing(text)
        if spaced != text:
            views.append(View(spaced, "spacing", None, None))
    return views


def decode_views(text: str, *, whole: bool = True) -> list[View]:
    """Decoded views of ``text``, one level deep (the guard recurses).

    Args:
        text: A normalised text.
        whole: Also try whole-text transforms (ROT13, reversal, spacing, leetspeak).

    Returns:
        Each decoded run or transform that gave a different, printable text.
    """
    views = _runs(text)
    if whole:
        views.extend(_whole(text))
    return views
