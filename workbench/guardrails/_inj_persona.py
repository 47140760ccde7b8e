"""Persona and jailbreak rules: DAN and friends, 'no restrictions', role-play, safety off."""

from __future__ import annotations

from workbench.guardrails._inj_common import AI as _AI
from workbench.guardrails._inj_common import p as _p
from workbench.guardrails._rules import Rule

__all__ = ["PERSONA_RULES"]

PERSONA_RULES: tuple[Rule, ...] = (
    Rule(
        "injection.you_are_now",
        _p(
            r"\byou\s+are\s+now\s+(?:(?:a|an|in|the|my|called|named|acting\s+as|going\s+to\s+be|"
            r"officially|fully|completely|totally)\s+){0,3}(?:dan\b|stan\b|dude\b|aim\b|"
            r"jailbroken|unrestricted|unfiltered|uncensored|unlimited|unbound|unchained|"
            r"liberated|free\b|evil|rogue|amoral|immoral|no\s+longer|developer\s+mode|dev\s+mode|"
            r"god\s+mode|admin\s+mode|debug\s+mode|maintenance\s+mode|sudo\s+mode|"
            r"root\s+mode|able\s+to\s+do\s+anything|allowed\s+to|capable\s+of\s+anything|"
            r"an?\s+(?:\w+\s+){0,2}?" + _AI + r"\s+(?:with|without|that|who|which|free))|"
            r"\byou\s+(?:are|will\s+be|'re)\s+no\s+longer\s+(?:bound|restricted|limited|"
            r"constrained|required|an?\s+" + _AI + r"|chatgpt|claude|subject\s+to|governed)|"
            r"\byou\s+(?:have\s+been|are|were|got)\s+(?:freed|liberated|jailbroken|unlocked|"
            r"released\s+from|set\s+free)|"
            r"\b(?:from\s+now\s+on|henceforth|starting\s+now|for\s+the\s+rest\s+of\s+this\s+"
            r"conversation),?\s+you\s+(?:are|will|must|shall|can|have|'re|should)\s+"
            r"(?:\w+\s+){0,6}?(?:no\s+(?:restrictions|rules|limits|filters|guidelines|"
            r"ethics|morals)|anything|everything|unrestricted|unfiltered|uncensored|without|"
            r"never\s+refuse|not\s+refuse|ignore|dan\b|evil|jailbroken|comply|obey)"
        ),
        0.9,
        ("you ", "from now on", "henceforth", "starting now", "for the rest"),
        at_start=True,
    ),
    Rule(
        "injection.dan",
        _p(
            r"\bdo\s+anything\s+now\b|"
            r"\bjailbr(?:eak|oken)\s+(?:mode|prompt|version|enabled|mode\s+enabled)|"
            r"\b(?:anti-?dan|anti-?gpt|evil\s+confidant|opposite\s+mode|chaos\s+mode|"
            r"unfiltered\s+mode|unrestricted\s+mode|uncensored\s+mode|dan\s+mode)\b"
        ),
        0.9,
        (
            "do anything",
            "jailbr",
            "anti",
            "evil",
            "opposite",
            "chaos",
            "unfiltered",
            "unrestricted",
            "uncensored",
            "dan mode",
        ),
        at_start=True,
    ),
    Rule(
        "injection.dan_persona",
        _p(
            r"\b(?:[Aa]s|[Aa]re|[Bb]e|[Bb]ecome|[Cc]alled|[Nn]amed|[Pp]lay|[Aa]ct\s+like)\s+"
            r"(?:DAN|STAN|DUDE|AIM|UCAR|BetterDAN|AntiGPT|DevMode|BISH|Mongo\s+Tom|KEVIN)\b|"
            r"\[?\bDAN\b\]?\s*(?:[Mm]ode|[Pp]rompt|[Jj]ailbreak|\d+\.\d+|=|:)"
        ),
        0.9,
        (
            "DAN",
            "STAN",
            "DUDE",
            "AIM",
            "UCAR",
            "AntiGPT",
            "DevMode",
            "BISH",
            "Mongo",
            "KEVIN",
            "BetterDAN",
        ),
        cased=True,
        before=40,
        after=60,
    ),
    Rule(
        "injection.developer_mode",
        _p(
            r"\b(?:developer|dev|god|jailbreak|jailbroken|unrestricted|evil|chaos|unfiltered|"
            r"uncensored|unlocked|sudo|maintenance|debug|admin|root)\s+mode\b"
        ),
        0.85,
        ("mode",),
        before=40,
        after=10,
        requires=_p(
            r"\b(?:you\s+are|you're|you\s+will|you\s+must|you\s+can|act\s+as|pretend|simulate|"
            r"no\s+(?:content\s+)?restrictions|polic(?:y|ies)|chatgpt|as\s+an\s+ai|ai\s+model|"
            r"language\s+model|censor|your\s+(?:responses?|answers?|output|configuration|"
            r"instructions|prompt)|display\s+system|initial\s+prompt|normal\s+response)"
        ),
    ),
    Rule(
        "injection.no_restrictions",
        _p(
            r"\b(?:you|your\s+(?:responses?|answers?|replies|output)|ai|assistant|model|chatbot|"
            r"answer|respond|reply|comply|behave|act|operate|write|generate|output)\b[^.\n]{0,80}?"
            r"\b(?:without|with\s+no|no\s+longer\s+(?:have|has|bound\s+by)|free\s+(?:from|of)|"
            r"have\s+no|has\s+no|ignor(?:e|ing)|bypass(?:ing)?|disabl(?:e|ed|ing)|remov(?:e|ed)|"
            r"lift(?:ed)?|not\s+bound\s+by|unbound\s+by|outside|beyond|break(?:ing)?|"
            r"circumvent(?:ing)?|evad(?:e|ing)|regardless\s+of|exempt\s+from)\s+(?:(?:any|all|the|your|its|"
            r"content|ethical|moral|safety|usual|openai'?s?|normal|typical|standard|"
            r"programmed|built-in|such|those)\s+)*(?:restrictions|filters?|filtering|"
            r"limitations|limits|censorship|guardrails|safeguards|safety\s+(?:guidelines|"
            r"rules|measures|protocols|checks|filters|training)|ethic(?:s|al\s+(?:guidelines|"
            r"constraints|boundaries|principles))|content\s+polic(?:y|ies)|moral(?:s|ity|\s+"
            r"(?:guidelines|constraints|boundaries|principles))|rules|guidelines|boundaries|"
            r"polic(?:y|ies)|principles)\b"
            # "free from restrictions on commercial use" is a licence, not a jailbreak.
            r"(?!\s+on\s+(?:the\s+)?(?:commercial|use|usage|redistribution|distribution))"
        ),
        0.8,
        (
            "without",
            "with no",
            "no longer",
            "free from",
            "free of",
            "have no",
            "has no",
            "ignor",
            "bypass",
            "disabl",
            "remov",
            "lift",
            "bound by",
            "outside",
            "beyond",
            "break",
            "circumvent",
            "evad",
            "regardless",
            "exempt",
        ),
        before=130,
        after=120,
    ),
    Rule(
        "injection.roleplay_jailbreak",
        _p(
            r"\b(?:pretend|imagine|act\s+as\s+if|act\s+like|roleplay|role-play|play\s+the\s+"
            r"role\s+of|simulate|behave\s+as|become|you\s+will\s+be|you\s+are\s+going\s+to\s+"
            r"(?:act|play|be|pretend))\b[^.\n]{0,80}?\b(?:with\s*out|with\s+no|has\s+no|have\s+no|"
            r"free\s+(?:of|from)|not\s+bound\s+by|never\s+refuses?|doesn'?t\s+(?:care|have|"
            r"follow)|does\s+not\s+(?:care|have|follow)|can'?t\s+refuse|cannot\s+refuse|"
            r"ignores?|no)\s+(?:\w+\s+){0,3}?(?:rules|restrictions|filters?|limits|limitations|"
            r"ethics|morals|morality|guidelines|censorship|boundaries|policies|principles|"
            r"about\s+(?:rules|ethics|laws|safety)|any\s+request|anything)\b|"
            r"\b(?:act|acting|pretend|roleplay|role-play|behave)\s+(?:to\s+be\s+|as\s+)(?:an?\s+)?"
            r"(?:unrestricted|unfiltered|uncensored|jailbroken|evil|amoral|immoral|unethical|"
            r"rogue|malicious|unbound|liberated|unhinged|lawless)\b|"
            r"\bstay\s+in\s+character\b[^.\n]{0,60}(?:no\s+matter|at\s+all\s+times|never\s+"
            r"break|whatever|even\s+if)|"
            r"\b(?:never|do\s+not|don'?t|must\s+not)\s+(?:refuse|decline|say\s+(?:no|that\s+you\s+"
            r"can'?t|i\s+can'?t|sorry))\b[^.\n]{0,60}\b(?:request|question|prompt|anything|"
            r"whatever|answer)"
        ),
        0.85,
        (
            "pretend",
            "imagine",
            "act ",
            "acting",
            "roleplay",
            "role-play",
            "play the role",
            "simulate",
            "behave",
            "become",
            "you will be",
            "you are going",
            "stay in",
            "never",
            "do not",
            "don't",
            "dont",
            "must not",
        ),
        at_start=True,
    ),
    Rule(
        "injection.safety_disabled",
        _p(
            r"\b(?:safety|content|ethical|moderation)\s+(?:protocols?|filters?|guidelines|"
            r"restrictions|polic(?:y|ies)|checks|guardrails|rules|measures)\s+(?:are\s+|have\s+"
            r"been\s+|now\s+|is\s+|has\s+been\s+)?(?:disabled|removed|lifted|suspended|"
            r"deactivated|turned\s+off|off\b|waived|do\s+not\s+apply|don'?t\s+apply|no\s+longer"
            r"\s+apply|overridden)|"
            r"\b(?:skip|disable|bypass|turn\s+off|deactivate|suspend)\s+(?:all\s+|the\s+|any\s+|"
            r"your\s+)*(?:safety|content|ethical|moderation)\s+(?:checks|filters?|guardrails|"
            r"protocols?|rules|guidelines|measures)"
        ),
        0.8,
        (
            "safety",
            "content",
            "ethical",
            "moderation",
            "skip",
            "disable",
            "bypass",
            "turn off",
            "deactivate",
            "suspend",
        ),
        at_start=True,
    ),
)
