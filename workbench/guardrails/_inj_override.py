"""Override rules: orders to drop the instructions a model was given."""

from __future__ import annotations

from workbench.guardrails._inj_common import AI as _AI
from workbench.guardrails._inj_common import p as _p
from workbench.guardrails._rules import Rule

__all__ = ["OVERRIDE_RULES"]

_OVERRIDE_VERBS = (
    r"ignore|ignoring|disregard|disregarding|forget|forgetting|override|bypass|neglect|discard|"
    r"overlook|abandon|set\s+aside|throw\s+out|pay\s+no\s+attention\s+to|"
    r"(?:do\s+not|don'?t|stop|no\s+longer)\s+(?:follow|obey|listen\s+to|adhere\s+to)(?:ing)?"
)
_FILLER = (
    r"all|any|each|every|of|the|your|these|those|this|its|my|and|previous|previously|prior|"
    r"earlier|preceding|above|former|original|initial|old|existing|current|given|system|safety|"
    r"developer|other|following|rest|aforementioned|stated|provided|mentioned|said|you|were|"
    r"been|have|told|ethical|content|openai|default|instruction"
)
_STRONG = (
    r"previous|previously|prior|earlier|preceding|above|former|original|initial|all|any|your|"
    r"system|safety|developer|existing|every|ethical|default|aforementioned"
)
_OBJECTS = (
    r"instructions?|prompts?|directions?|directives?|rules|guidelines|guidance|commands?|"
    r"programming|constraints|restrictions|policies|orders|training|guardrails|filters|"
    r"system\s+prompt|safeguards|limitations|polic(?:y|ies)"
)


OVERRIDE_RULES: tuple[Rule, ...] = (
    Rule(
        "injection.ignore_previous",
        _p(
            rf"\b(?:{_OVERRIDE_VERBS})\s+(?:(?:{_FILLER})[\s,]+){{0,3}}?"
            rf"(?:{_STRONG})[\s,]+(?:(?:{_FILLER})[\s,]+){{0,4}}?(?:{_OBJECTS})\b"
        ),
        0.95,
        (
            "ignor",
            "disregard",
            "forget",
            "override",
            "bypass",
            "neglect",
            "discard",
            "overlook",
            "abandon",
            "set aside",
            "throw out",
            "pay no",
            "do not",
            "don't",
            "dont",
            "stop",
            "no longer",
        ),
        at_start=True,
    ),
    Rule(
        "injection.ignore_everything",
        _p(
            r"\b(?:ignore|disregard|forget)\s+(?:about\s+)?(?:all\s+|everything\s+|anything\s+)"
            r"(?:of\s+)?(?:that\s+|which\s+|what\s+)?(?:you(?:'ve|\s+have|\s+were|\s+was)?\s+"
            r"(?:been\s+)?(?:told|said|given|instructed|taught|learned)|(?:i|we)\s+(?:said|told)|"
            r"above|before|previously|prior|so\s+far|up\s+to\s+(?:now|this\s+point)|"
            r"(?:written|stated|said)\s+(?:above|before))"
        ),
        0.9,
        ("ignore", "disregard", "forget"),
        at_start=True,
    ),
    Rule(
        "injection.ignore_above",
        _p(
            r"\b(?:ignore|disregard)\s+(?:the\s+|all\s+)?(?:above|previous|prior|preceding)"
            r"(?:\s+(?:text|content|message|context|input|data|conversation))?\s*"
            r"(?:and|,|\.|;|:|-|then)|\b(?:ignore|disregard)\s+(?:the\s+rest\s+of|all\s+of)\s+"
            r"(?:this|the)\s+(?:data|text|document|content|email|page|article|file|input)"
        ),
        0.85,
        ("ignore", "disregard"),
        at_start=True,
    ),
    Rule(
        "injection.new_instructions",
        _p(
            r"\b(?:new|updated|revised|real|actual|true|secret|hidden|override|overriding|"
            r"priority|additional\s+system)\s+(?:system\s+)?(?:instructions?|directives?|"
            r"system\s+prompt|prompt|rules|orders)\s*(?:[:：]|\bfor\s+(?:the\s+)?" + _AI + r")|"
            r"\b(?:system|admin|administrator|developer|root|operator)\s+(?:override|command|"
            r"instruction|directive)s?\s*[:：\]]|"
            r"\byour\s+(?:new|real|actual|true|only)\s+(?:task|goal|objective|purpose|"
            r"instructions?|directives?|mission|job)\s+(?:is|are|will\s+be|now|supersedes?|"
            r"overrides?|replaces?|takes\s+precedence)\b"
        ),
        0.8,
        (
            "instruction",
            "directive",
            "prompt",
            "rules",
            "orders",
            "override",
            "command",
            "your new",
            "your real",
            "your actual",
            "your true",
            "your only",
        ),
    ),
    Rule(
        "injection.ignore_redirect",
        _p(
            r"\b(?:ignore|disregard)\s+(?:(?:all\s+|any\s+|the\s+)?(?:other\s+)?(?:instructions|"
            r"directions|directives)|(?:all\s+|any\s+)?other\s+(?:content|context|text|"
            r"information)|(?:all|any)\s+(?:content|context|text|information))\b\s*[,;:.]?\s*"
            r"(?:and\s+)?(?:then\s+)?(?:instead\s+|just\s+|only\s+|simply\s+)?(?:print|say|output|"
            r"write|reply|respond|answer|repeat|return|state|translate)\b"
        ),
        0.85,
        ("ignor", "disregard"),
        at_start=True,
    ),
    Rule(
        "injection.ignore_redirect",
        _p(
            r"\b(?:ignore|disregard)\s+(?:this|that|these|those|them|it|everything\s+else|"
            r"the\s+rest)(?:\s+(?:data|content|text|information|snippets?|documents?|page|email|"
            r"input))?\s*[,;:.]?\s*(?:and\s+)?(?:then\s+)?(?:instead\s+|just\s+|only\s+|"
            r"simply\s+)?(?:print|say|output|write|reply|respond|answer|focus|repeat|return|state)\b"
        ),
        0.8,
        ("ignor", "disregard"),
        channels=("tool_output",),
        at_start=True,
    ),
    Rule(
        "injection.authority_claim",
        _p(
            r"\byour\s+(?:rules|guidelines|instructions|restrictions|polic(?:y|ies)|programming|"
            r"settings|constraints|directives)\s+(?:have|has)\s+(?:now\s+)?(?:been\s+)?(?:changed|"
            r"updated|revised|lifted|removed|suspended|disabled|replaced|reset|overridden)|"
            r"\byou\s+(?:may|can|are\s+(?:now\s+)?(?:allowed|permitted|authori[sz]ed|cleared|"
            r"free))\s+(?:now\s+)?(?:to\s+)?(?:reveal|share|disclose|output|print|leak|discuss|"
            r"provide|say)\s+(?:\w+\s+){0,3}?(?:confidential|secret|restricted|private|internal|"
            r"sensitive|classified|forbidden|prohibited)\b|"
            r"\byou\s+now\s+(?:allow|permit|accept)\s+(?:all|any|every)\b"
        ),
        0.75,
        ("your", "you"),
        at_start=True,
    ),
    Rule(
        "injection.self_override",
        _p(
            r"\b(?:i|we)\s*(?:will|shall|should|must|can|am\s+going\s+to|'ll|have\s+decided\s+to)"
            r"\s+(?:now\s+|therefore\s+|safely\s+)?(?:ignore|disregard|bypass|override|set\s+aside|"
            r"skip|suspend)\s+(?:the\s+|all\s+|any\s+)?(?:my|these|content|safety|ethical|usual|"
            r"standard|all)\s+(?:\w+\s+)?(?:polic(?:y|ies)|rules|guidelines|restrictions|"
            r"safeguards|filters?|guardrails|instructions|constraints|checks)\b"
        ),
        0.8,
        (
            "i will",
            "i shall",
            "i should",
            "i must",
            "i can",
            "i am going",
            "i'll",
            "i have decided",
            "we will",
            "we shall",
            "we should",
            "we must",
            "we can",
            "we'll",
        ),
        at_start=True,
    ),
)
