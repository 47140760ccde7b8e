"""Layer 2c: secrets and personal data leaving through an answer or a tool argument.

Secrets: provider token formats (AWS, GitHub, Slack, OpenAI, Anthropic, Google,
Stripe), private key blocks, JWTs, and ``api_key=...``-style assignments whose value
has high entropy and is no placeholder. PII: e-mail addresses (not at the reserved
``example.*``/``.test``/``.invalid`` domains), phone numbers with separators, credit
card numbers that pass the Luhn check, IBANs that pass mod-97, US SSNs. Excerpts are
masked: a detection never carries the secret it found.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from workbench.guardrails._prefilter import build_literals
from workbench.guardrails._registry import detector
from workbench.guardrails._types import Detection, ScanContext, severity_for

__all__ = ["mask", "pii", "secrets"]

_I = re.IGNORECASE


def mask(value: str) -> str:
    """``value`` with all but its first four and last two characters hidden."""
    value = value.strip()
    if len(value) <= 8:
        return "*" * len(value)
    return f"{value[:4]}…{value[-2:]}"


# (name, pattern, score, triggers): every match contains one of the lower-cased triggers.
_TOKENS: tuple[tuple[str, re.Pattern[str], float, tuple[str, ...]], ...] = (
    (
        "aws_access_key",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
        0.9,
        ("akia", "asia", "abia", "acca"),
    ),
    (
        "aws_secret_key",
        re.compile(r"aws_?secret_?(?:access_?)?key\W{0,4}[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])", _I),
        0.95,
        ("secret",),
    ),
    (
        "private_key",
        re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY(?: BLOCK)?-----"),
        0.95,
        ("private key",),
    ),
    (
        "github_token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{60,})"),
        0.9,
        ("gh",),
    ),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), 0.9, ("xox",)),
    (
        "slack_webhook",
        re.compile(r"https://hooks\.slack\.com/services/T\w+/B\w+/\w+"),
        0.85,
        ("hooks.slack",),
    ),
    (
        "openai_key",
        re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}"),
        0.9,
        ("sk-",),
    ),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), 0.85, ("aiza",)),
    ("stripe_key", re.compile(r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{24,}"), 0.9, ("k_",)),
    (
        "jwt",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        0.8,
        ("eyj",),
    ),
)
# A character that every match of a token pattern contains, tested before the pattern.
_ALSO = {"github_token": "_", "slack_token": "-", "jwt": ".", "stripe_key": "_"}
_ASSIGN = re.compile(
    r"\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|token|"
    r"password|passwd|pwd|client[_-]?secret|private[_-]?key|bearer)\b[\"']?\s*(?:[:=]|=>|\s)\s*"
    r"[\"']?([^\s\"',;)}\]]{12,})",
    _I,
)
_PLACEHOLDER = re.compile(
    r"^(?:<.*>|\$\{?.*|\{\{?.*|x{4,}.*|\*{3,}.*|\.{3}.*|your[_-].*|.*example.*|.*changeme.*|"
    r".*placeholder.*|.*redacted.*|.*dummy.*|.*xxxx.*)$",
    _I,
)
_ASSIGN_TRIGGERS = ("key", "secret", "token", "passw", "pwd", "bearer")
# Every trigger, found with one Hyperscan scan of the lower-cased text's UTF-8 bytes (an
# ASCII needle occurs in them exactly where it occurs in the text) instead of one ``in``
# per trigger; ``None`` without Hyperscan.
_TRIGGERS = tuple(sorted({t for *_, ts in _TOKENS for t in ts} | set(_ASSIGN_TRIGGERS)))
_TRIGGER_SCAN = build_literals(_TRIGGERS)


def _triggers(lower: str) -> set[str] | str:
    """The triggers in ``lower`` (or ``lower`` itself, whose ``in`` gives the same answers)."""
    if _TRIGGER_SCAN is None:
        return lower
    data = lower.encode("utf-8", "surrogatepass")
    return {_TRIGGERS[i] for i in _TRIGGER_SCAN.possible(data)}


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _found(name: str, score: float, excerpt: str, category: str, ctx: ScanContext,
           start: int, end: int) -> Detection:  # fmt: skip
    return Detection(name, score, severity_for(score), excerpt, category, ctx.layer, start, end)


@detector(name="secrets", channels=("tool_argument", "final_answer"), category="secret")
def secrets(text: str, ctx: ScanContext) -> list[Detection]:
    """Credentials in a text that is about to leave (see the module docstring)."""
    lower = text.lower()
    present = _triggers(lower)
    found: list[Detection] = []
    for name, pattern, score, triggers in _TOKENS:
        if not any(t in present for t in triggers):
            continue
        needs = _ALSO.get(name)
        if needs is not None and needs not in text:
            continue  # a character every match holds is absent
        for m in pattern.finditer(text):
            found.append(
                _found(f"secrets.{name}", score, mask(m.group()), "secret", ctx, *m.span())
            )
    if any(t in present for t in _ASSIGN_TRIGGERS):
        for m in _ASSIGN.finditer(text):
            value = m.group(1)
            if _PLACEHOLDER.match(value) or _entropy(value) < 3.3:
                continue
            if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
                continue
            if any(d.start is not None and d.start <= m.start(1) < (d.end or 0) for d in found):
                continue
            found.append(_found("secrets.assignment", 0.75, mask(value), "secret", ctx, *m.span(1)))
    return found


_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24}\b")
_RESERVED = re.compile(
    r"@(?:[\w-]+\.)*(?:example\.(?:com|org|net)|\w+\.(?:test|invalid|example|localhost)|example|localhost)$",
    _I,
)
_RECIPIENT = re.compile(
    r"[\"'](?:to|cc|bcc|from|sender|recipients?|reply_to|reply-to)[\"']\s*:\s*\[?\s*(?:[\"'][^\"']*"
    r"[\"']\s*,\s*)*[\"']$",
    _I,
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{2,4}[\s.-]\d{2,4}"
    r"(?:[\s.-]\d{2,4})?(?![\w-])"
)
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")


_SHAPE = str.maketrans(
    {
        c: "d" if c.isdigit() else "A" if "A" <= c <= "Z" else " " if c.isspace() else
        c if c in ".-" else "x"
        for c in map(chr, range(128))
    }
)  # fmt: skip
_CARD_SHAPE = str.maketrans(
    {c: "y" if c.isdigit() or c in " -" else "x" for c in map(chr, range(128))}
)
_CARD_RUN = "y" * 13


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    s = value.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


@detector(name="pii", channels=("tool_argument", "final_answer"), category="pii")
def pii(text: str, ctx: ScanContext) -> list[Detection]:
    """Personal data in a text that is about to leave (see the module docstring)."""
    found: list[Detection] = []
    if "@" in text:
        for m in _EMAIL.finditer(text):
            if _RESERVED.search(m.group()):
                continue
            # A recipient is where a message goes, not data leaving in it.
            if ctx.channel == "tool_argument" and _RECIPIENT.search(text, 0, m.start()):
                continue
            found.append(_found("pii.email", 0.6, mask(m.group()), "pii", ctx, *m.span()))
    ascii_text = text.isascii()
    digits = sum(map(text.count, "0123456789")) if ascii_text else sum(map(str.isdigit, text))
    if digits < 9:
        return found
    # On ASCII text, a shape of it (digits "d", upper-case letters "A", ASCII white space
    # " ", "." and "-" kept, the rest "x") tells cheaply which patterns cannot match.
    shape = text.translate(_SHAPE) if ascii_text else ""
    cards: list[tuple[int, int]] = []
    # A card number is 13-19 digits with single spaces or dashes: a run of 13 or more.
    maybe_card = not ascii_text or _CARD_RUN in text.translate(_CARD_SHAPE)
    for m in _CARD.finditer(text) if maybe_card else ():
        number = re.sub(r"\D", "", m.group())
        if 13 <= len(number) <= 19 and number[0] in "23456" and _luhn(number):
            cards.append(m.span())
            found.append(_found("pii.credit_card", 0.9, mask(number), "pii", ctx, *m.span()))
    for m in _IBAN.finditer(text) if not ascii_text or "AAdd" in shape else ():
        if _iban_ok(m.group()):
            found.append(_found("pii.iban", 0.85, mask(m.group()), "pii", ctx, *m.span()))
    for m in _SSN.finditer(text) if not ascii_text or "ddd-dd-dddd" in shape else ():
        found.append(_found("pii.ssn", 0.8, mask(m.group()), "pii", ctx, *m.span()))
    # Every phone match holds two digits, a separator, two digits.
    maybe_phone = not ascii_text or any(p in shape for p in ("dd dd", "dd.dd", "dd-dd"))
    for m in _PHONE.finditer(text) if maybe_phone else ():
        number = re.sub(r"\D", "", m.group())
        if not 10 <= len(number) <= 15 or any(s <= m.start() < e for s, e in cards):
            continue
        if _SSN.fullmatch(m.group()) or _IPV4.fullmatch(m.group()):
            continue
        found.append(_found("pii.phone", 0.55, mask(m.group()), "pii", ctx, *m.span()))
    return found
