"""A scripted judge for the demo notebooks: grades numeric answers, compares two answers.

It reads the judge prompts of :class:`~workbench.evals.RubricJudge` and
:class:`~workbench.evals.PairwiseJudge` and answers in their strict JSON format:

- rubric: 5 when the reference number appears in the response (formatted either way),
  3 when a number within 1% of it does, 1 otherwise. Like a hurried grader it does not
  read the words around the number, so a response that names the right figure only to
  reject it still gets a 5: the judge card's agreement with human labels shows that.
- pairwise: prefers the response that states the number more plainly (fewer words);
  when the two are equally long it says "1", a position bias that running both
  presentation orders exposes as inconsistency.

Stand-in for a real judge offline; point the judge at any litellm model for real use.
"""

from __future__ import annotations

import json
import re
from typing import Any

from workbench.models import Turn, register_script

__all__ = ["JUDGE_MODEL", "judge_script"]

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _section(text: str, name: str) -> str:
    found = re.search(rf"{name}:\n(.*?)(?:\n\n[A-Z][A-Z ]+(?: \d)?:\n|\Z)", text, re.S)
    return found.group(1).strip() if found else ""


def _numbers(text: str) -> list[float]:
    out = []
    for raw in _NUMBER.findall(text):
        try:
            out.append(float(raw.replace(",", "")))
        except ValueError:
            continue
    return out


def judge_script(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Turn:
    """One verdict as strict JSON, from the last user message."""
    prompt = next(str(m["content"]) for m in reversed(messages) if m["role"] == "user")
    if "RESPONSE 1:" in prompt:
        first, second = _section(prompt, "RESPONSE 1"), _section(prompt, "RESPONSE 2")
        a, b = len(first.split()), len(second.split())
        winner = "1" if a <= b else "2"
        reason = "states the figure more plainly" if a != b else "both state the figure"
        return Turn.final(json.dumps({"winner": winner, "reason": f"Response {winner} {reason}."}))
    reference = _numbers(_section(prompt, "REFERENCE ANSWER"))
    found = _numbers(_section(prompt, "RESPONSE"))
    if not reference:
        return Turn.final(json.dumps({"score": 3, "reason": "No reference to check against."}))
    target = reference[0]
    if any(abs(n - target) < 1e-9 for n in found):
        score, reason = 5, f"The response gives the reference figure {target:g}."
    elif any(target and abs(n - target) / abs(target) <= 0.01 for n in found):
        score, reason = 3, f"The response is within 1% of {target:g}."
    else:
        score, reason = 1, f"The response does not give {target:g}."
    return Turn.final(json.dumps({"score": score, "reason": reason}))


JUDGE_MODEL = register_script("judge", judge_script, input_per_mtok=0.15, output_per_mtok=0.60)
"""``scripted/judge``."""
