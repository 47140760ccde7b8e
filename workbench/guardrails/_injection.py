"""Layer 2a: prompt-injection and jailbreak detection.

The rules live in one module per family (:mod:`._inj_override`, :mod:`._inj_persona`,
:mod:`._inj_leak`, :mod:`._inj_indirect`, :mod:`._inj_multilingual`). Each is a precise
pattern for a phrase that instructs a model, not one that merely contains a word:
"ignore case when sorting" and "ignore my previous email" stay clean, "ignore all
previous instructions" does not. This module scores what they find:

* **Mentions are not uses.** A phrase inside quotes in a text that talks *about*
  attacks ("defenses against 'ignore previous instructions'", a paper title, a red-team
  report), or right after "such as" / "e.g." / "typed" in such a text, is a mention:
  its score is capped at :data:`MENTION_SCORE`, below the flag threshold, and it takes
  no part in the combination below. The price: an attacker who wraps an order in
  quotes inside security talk is scored weakly (see ``docs/guardrails.md``).
* **Weak signals add up.** Some rules are weak alone (a fake ``User:`` turn, "focus
  only on", "append ... to every reply", a system-note header, a tracking token): their
  scores are below the threshold. Distinct rules on one view combine as a noisy-or,
  ``1 - prod(1 - s)``, so two weak signals (0.45 and 0.45 give 0.70) flag a text while
  one does not.
"""

from __future__ import annotations

import re

from workbench.guardrails._inj_indirect import INDIRECT_RULES
from workbench.guardrails._inj_leak import LEAK_RULES
from workbench.guardrails._inj_multilingual import MULTILINGUAL_RULES
from workbench.guardrails._inj_override import OVERRIDE_RULES
from workbench.guardrails._inj_persona import PERSONA_RULES
from workbench.guardrails._registry import detector
from workbench.guardrails._rules import Rule, run_rules
from workbench.guardrails._types import Detection, ScanContext, severity_for

__all__ = ["INJECTION_RULES", "MENTION_SCORE", "injection"]

INJECTION_RULES: tuple[Rule, ...] = (
    OVERRIDE_RULES + PERSONA_RULES + LEAK_RULES + INDIRECT_RULES + MULTILINGUAL_RULES
)
"""Every injection rule, all families."""

MENTION_SCORE = 0.35
"""Score cap of a phrase that is quoted or cited in a text about attacks."""

_MIN_COMBINED = 0.3
_MAX_COMBINED = 0.99
_QUOTES = "'\"`“”‘’«»"
# Words that make a text *about* prompt attacks (a paper, a red-team report, a filter).
_META = re.compile(
    r"\b(?:attacks?|attackers?|adversar\w*|injections?|jailbreaks?|red[\s-]?team\w*|"
    r"defen[cs]es?|mitigat\w*|guardrails?|classifiers?|filters?|detect\w*|paper|stud(?:y|ies)|"
    r"research\w*|owasp|ctf|phrases?|examples?|patterns?|payloads?|security|phishing|"
    r"quarantin\w*|refused|regex\w*|hijack\w*|opener|leak\w*|strings?)\b"
)
# What introduces a cited phrase: "such as", "e.g.", "typed", "says", "phrases like".
_CUE = re.compile(
    r"(?:such\s+as|e\.g\.|i\.e\.|for\s+(?:example|instance)|like|says?|said|saying|typed|"
    r"wrote|phrases?|called|titled|known\s+as|lists?|flag(?:s|ged)?|detect(?:s|ing)?|"
    r"match(?:es)?|against)[\s:,(]*[" + _QUOTES + r"]?\s*$"
)
_WINDOW = 160


def _quoted(text: str, start: int, end: int) -> bool:
    """Whether most of ``text[start:end]`` lies inside one quoted span on its line."""
    lo = max(0, start - _WINDOW)
    line = text.rfind("\n", lo, start)
    lo = line + 1 if line >= 0 else lo
    opening = -1
    for i in range(end - 1, lo - 1, -1):
        if text[i] in _QUOTES and (i == 0 or not text[i - 1].isalnum()):
            opening = i
            break
    if opening < 0:
        return False
    hi = min(len(text), end + _WINDOW)
    stop = text.find("\n", max(end, opening + 1), hi)
    hi = stop if stop >= 0 else hi
    closing = -1
    for j in range(max(end - 1, opening + 1), hi):
        if text[j] in _QUOTES and (j + 1 == len(text) or not text[j + 1].isalnum()):
            closing = j
            break
    if closing < 0:
        return False
    inside = min(end, closing) - max(start, opening + 1)
    return inside * 2 >= end - start


def _mention(text: str, lower: str, d: Detection) -> bool:
    """Whether ``d`` is a phrase cited in a text about attacks, not an order."""
    if d.start is None or d.end is None:
        return False
    start, end = d.start, d.end
    if _META.search(lower, max(0, start - _WINDOW), min(len(lower), end + _WINDOW)) is None:
        return False
    if _quoted(text, start, end):
        return True
    return _CUE.search(lower[max(0, start - 24) : start]) is not None


@detector(name="injection", channels=("user_input", "tool_output"), category="injection")
def injection(text: str, ctx: ScanContext) -> list[Detection]:
    """Prompt-injection and jailbreak phrases (see :data:`INJECTION_RULES`)."""
    lower = text.lower()
    found = run_rules(INJECTION_RULES, text, lower, ctx)
    if not found:
        return found
    scored: list[Detection] = []
    strongest: dict[str, Detection] = {}
    for d in found:
        if d.score > MENTION_SCORE and _mention(text, lower, d):
            d = Detection(
                d.name, MENTION_SCORE, severity_for(MENTION_SCORE), d.excerpt, d.category,
                d.layer, d.start, d.end,
            )  # fmt: skip
            scored.append(d)
            continue
        scored.append(d)
        best = strongest.get(d.name)
        if d.score >= _MIN_COMBINED and (best is None or d.score > best.score):
            strongest[d.name] = d
    if len(strongest) >= 2:
        # Independent rules agreeing is stronger evidence than either alone.
        miss = 1.0
        for d in strongest.values():
            miss *= 1.0 - d.score
        combined = min(_MAX_COMBINED, 1.0 - miss)
        top = max(strongest.values(), key=lambda d: d.score)
        scored.append(
            Detection(
                "injection.combined", combined, severity_for(combined), top.excerpt,
                "injection", ctx.layer, top.start, top.end,
            )
        )  # fmt: skip
    return scored
