"""Prompt-leak rules: requests for the system prompt or the text before the user's."""

from __future__ import annotations

from workbench.guardrails._inj_common import p as _p
from workbench.guardrails._rules import Rule

__all__ = ["LEAK_RULES"]

LEAK_RULES: tuple[Rule, ...] = (
    Rule(
        "injection.prompt_leak",
        _p(
            r"\b(?:print|show|reveal|display|output|repeat|recite|tell|give|share|dump|leak|"
            r"expose|write\s+out|spell\s+out|disclose|echo|paste|copy|send|read\s+out|"
            r"encode|translate|summari[sz]e|list|return|provide|see|view|access|"
            r"what\s+(?:is|are|was|were))\s+"
            r"(?:me\s+|us\s+)?(?:back\s+)?(?:\w+\s+){0,2}?(?:your|all\s+(?:your|of\s+your)|"
            r"the\s+(?:full|entire|complete|exact|original|hidden|secret|initial)|"
            r"the\s+(?=system\s+(?:prompt|message)))\s*(?:\w+\s+){0,3}?"
            r"(?:system\s*(?:prompt|message|instructions?|config(?:uration)?)|context\s+window|"
            r"internal\s+config(?:uration)?|initial\s+"
            r"(?:instructions?|prompt|message)|original\s+(?:instructions?|prompt)|hidden\s+"
            r"(?:instructions?|prompt)|secret\s+(?:instructions?|prompt)|pre-?prompt|meta-?prompt|"
            r"starting\s+instructions|instructions|prompt|developer\s+(?:message|prompt|"
            r"instructions)|guidelines\s+you\s+(?:were|have\s+been)\s+given|rules\s+you\s+"
            r"(?:were|have\s+been)\s+given)\b|"
            r"\b(?:repeat|output|print|reproduce|recite|return|rewrite|write)\s+(?:\w+\s+){0,3}?"
            r"(?:everything|all|the\s+(?:text|words|content|conversation|instructions|message|"
            r"lines?))\s+(?:\w+\s+){0,3}?(?:above|before|so\s+far|from\s+the\s+(?:start|"
            r"beginning|top)|preceding|prior)|"
            r"\bwhat\s+(?:were|was|have)\s+you\s+(?:been\s+)?(?:told|instructed|programmed|given)"
            r"\s+(?:before|at\s+the\s+(?:start|beginning)|initially|to\s+(?:do|say|hide))|"
            r"\b(?:begin|start)\s+(?:your\s+(?:answer|reply|response|output)\s+)?with\s+"
            r"[\"'“]?(?:you\s+are|my\s+instructions|i\s+was\s+(?:instructed|told|programmed))|"
            r"\bwhat\s+are\s+you\s+not\s+(?:supposed|allowed|permitted)\s+to\s+(?:tell|say|"
            r"reveal|share)|"
            r"\b(?:console\.log|print|echo)\s*\(\s*(?:system_?prompt|instructions|"
            r"initial_?prompt)\s*\)"
        ),
        0.85,
        (
            "prompt",
            "instruction",
            "system",
            "above",
            "before",
            "so far",
            "start",
            "begin",
            "context window",
            "internal config",
            "top",
            "preceding",
            "prior",
            "told",
            "programmed",
            "given",
            "supposed",
            "allowed",
            "permitted",
            "preprompt",
            "metaprompt",
        ),
        before=120,
        after=70,
    ),
    Rule(
        "injection.prompt_leak_oblique",
        _p(
            r"\byour\s+(?:initial|original|hidden|secret|internal|underlying|first|starting|"
            r"pre-?)\s*(?:system\s+)?(?:prompt|instructions|directives|message)\b|"
            r"\b(?:operating|initial|original|hidden|secret)\s+instructions\s+(?:that\s+)?"
            r"(?:you\s+(?:were|have\s+been)\s+given|given\s+to\s+you)|"
            r"\b(?:repeat|print|output|reproduce|recite|rewrite|write|copy|translate|encode)\s+"
            r"(?:back\s+)?(?:the\s+|all\s+the\s+)?(?:(?:above|preceding)\s+(?:text|words|content|"
            r"conversation|instructions|lines?|prompt|paragraphs?)|(?:previous|prior|earlier)\s+"
            r"(?:text|instructions|prompt))\b"
        ),
        0.7,
        (
            "your",
            "operating",
            "initial",
            "original",
            "hidden",
            "secret",
            "repeat",
            "print",
            "output",
            "reproduce",
            "recite",
            "rewrite",
            "write",
            "copy",
            "translate",
            "encode",
        ),
    ),
)
