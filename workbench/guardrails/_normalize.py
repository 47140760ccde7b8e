"""Layer 1a: normalisation of a text before any rule sees it.

Folds what makes two texts read alike but compare unequal: compatibility forms
(NFKC: fullwidth letters, mathematical alphanumerics, ligatures), homoglyphs of
Latin letters from Cyrillic and Greek (a table, below), and invisible characters
(zero-width, bidi controls, soft hyphens). Unicode tag characters (U+E0000 block)
are removed from the text and their hidden ASCII returned apart, to be scanned as a
view of its own; so are variation-selector byte runs. Pure ASCII text skips all of it.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["Normalised", "normalise"]

# Latin look-alikes that NFKC leaves alone: the common Cyrillic and Greek letters,
# Latin small capitals and a few others used in homoglyph attacks.
_CONFUSABLES = {
    # Cyrillic lower case
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "һ": "h", "ɡ": "g", "ո": "n",
    "ս": "u", "ց": "g", "ҽ": "e", "ү": "y", "ɑ": "a", "ь": "b", "п": "n", "г": "r",
    # Cyrillic upper case
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
    "Р": "P", "С": "C", "Т": "T", "Х": "X", "І": "I", "Ї": "I", "Ј": "J", "Ѕ": "S",
    "Ү": "Y", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W", "Ӏ": "I", "Һ": "H", "З": "3",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "η": "n", "ι": "i", "κ": "k",
    "ν": "v", "ο": "o", "ρ": "p", "σ": "o", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    "ϲ": "c", "ϳ": "j", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I",
    "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    "Ϲ": "C",
    # Latin small capitals and other look-alikes
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i",
    "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r",
    "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ı": "i",
    "ȷ": "j", "ℓ": "l", "ǀ": "l", "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-",
    "’": "'", "‘": "'", "“": '"', "”": '"',
}  # fmt: skip

# Invisible characters: zero-width, joiners, bidi controls, soft hyphen, fillers.
_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
    "\u2069\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"
)
_TABLE: dict[int, str | None] = {ord(k): v for k, v in _CONFUSABLES.items()}
_TABLE.update({ord(c): None for c in _INVISIBLE})

# Tag characters U+E0000..U+E007F; a subdivision flag (black flag U+1F3F4, tag
# letters, cancel tag U+E007F) is a legitimate use and is left out of the hidden text.
_TAGS = re.compile("[\U000e0000-\U000e007f]+")
_FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,12}\U000e007f")
# Variation selectors VS1-16 and VS17-256, which can smuggle one byte each.
_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]{8,}")
_ANY_SELECTOR = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


class Normalised:
    """A normalised text and what normalisation took out of it.

    Attributes:
        text: The text to scan.
        hidden: ASCII decoded from tag characters, or bytes from variation selectors
            (empty when there were none).
        hidden_kind: ``tags`` or ``variation_selectors`` when ``hidden`` is set.
        changed: Whether ``text`` differs from the input (offsets then do not map).
    """

    __slots__ = ("changed", "hidden", "hidden_kind", "text")

    def __init__(self, text: str, hidden: str, hidden_kind: str, changed: bool) -> None:
        self.text = text
        self.hidden = hidden
        self.hidden_kind = hidden_kind
        self.changed = changed


def _selector_byte(ch: str) -> int:
    cp = ord(ch)
    return cp - 0xFE00 if cp <= 0xFE0F else cp - 0xE0100 + 16


def normalise(text: str) -> Normalised:
    """Normalise ``text`` for scanning (see the module docstring)."""
    if text.isascii():
        return Normalised(text, "", "", False)
    hidden = ""
    kind = ""
    work = text
    if _TAGS.search(work):
        without_flags = _FLAG.sub("", work)
        hidden = "".join(chr(ord(c) - 0xE0000) for run in _TAGS.findall(without_flags) for c in run)
        hidden = "".join(c for c in hidden if " " <= c <= "~" or c in "\n\t")
        kind = "tags" if hidden else ""
        work = _TAGS.sub("", work)
    runs = _SELECTORS.findall(work)
    if runs:
        data = bytes(_selector_byte(c) for run in runs for c in run)
        decoded = data.decode("utf-8", errors="replace")
        if not hidden:
            hidden, kind = decoded, "variation_selectors"
    if _ANY_SELECTOR.search(work):
        work = _ANY_SELECTOR.sub("", work)
    work = unicodedata.normalize("NFKC", work).translate(_TABLE)
    return Normalised(work, hidden, kind, work != text)
