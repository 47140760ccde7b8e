"""Layer 2a: prompt-injection and jailbreak rules.

Each rule is a precise pattern for a phrase that instructs a model, not one that
merely contains a word: "ignore case when sorting" and "ignore my previous email"
stay clean, "ignore all previous instructions" does not. A rule runs only when one
of its trigger substrings occurs, so benign text costs a few substring tests.
Several distinct rules firing on one view add a little to the top score.
"""

from __future__ import annotations

import re

from workbench.guardrails._registry import detector
from workbench.guardrails._rules import Rule, run_rules
from workbench.guardrails._types import Detection, ScanContext, severity_for

__all__ = ["INJECTION_RULES", "injection"]


def _p(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


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

_AI = r"(?:ai|a\.i\.|llm|large\s+language\s+model|language\s+model|assistant|chatbot|bot|agent|gpt|chatgpt|claude|copilot|model)s?"  # noqa: E501

INJECTION_RULES: tuple[Rule, ...] = (
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
        "injection.ignore_multilingual",
        _p(
            r"\b(?:ignorier(?:e|en)?|vergiss|vergessen\s+sie|missachte)\s+(?:\w+\s+){0,3}?"
            r"(?:vorherigen?|bisherigen?|obigen?|vorigen?|alle[nm]?|deine|ihre)\s+(?:\w+\s+)?"
            r"(?:anweisungen|instruktionen|regeln|befehle|vorgaben|richtlinien)|"
            r"\b(?:ignore[zrs]?|oublie[zrs]?|n[ée]glige[zr]?)\s+(?:toutes\s+|tous\s+)?"
            r"(?:les|vos|tes|mes|ces)\s+(?:\w+\s+){0,2}?"
            r"(?:instructions|consignes|r[èe]gles|directives)\b|"
            r"\b(?:ignora|ignore|olvida|olvide|omite|descarta)\s+(?:todas\s+)?(?:las|tus|sus)\s+"
            r"(?:\w+\s+){0,2}?(?:instrucciones|reglas|[óo]rdenes|indicaciones|directrices)\b|"
            r"\b(?:ignora|dimentica|tralascia|trascura)\s+(?:tutte\s+)?(?:le|tue)\s+(?:\w+\s+){0,2}?"
            r"(?:istruzioni|regole|indicazioni|direttive|ordini)\b"
        ),
        0.9,
        (
            "ignor",
            "vergiss",
            "vergessen",
            "missacht",
            "oubli",
            "néglig",
            "neglig",
            "olvid",
            "omite",
            "descarta",
            "dimentica",
            "tralascia",
            "trascura",
        ),
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
        ("DAN", "STAN", "DUDE", "AIM", "UCAR", "AntiGPT", "DevMode", "BISH", "Mongo", "KEVIN"),
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
        ),
        before=120,
        after=70,
    ),
    Rule(
        "injection.special_tokens",
        _p(
            r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|"
            r"end_header_id|begin_of_text)\|>|\[/?inst\]|<</?sys>>|<start_of_turn>|"
            r"<end_of_turn>|\[system\]\(#\w+\)|<\s*/?\s*(?:system|system_prompt|sys|"
            r"admin|developer|instructions?)\s*>|"
            r"\[\s*(?:system|admin|administrator|developer|instructions?|admin\s+request|"
            r"system\s+(?:message|note|override|notice|instruction))\s*(?:\]|::|:)"
        ),
        0.75,
        (
            "<|",
            "[inst",
            "[/inst",
            "<<sys",
            "_of_turn",
            "[system",
            "<system",
            "</system",
            "< system",
            "<sys",
            "<admin",
            "<developer",
            "<instruction",
            "</instruction",
            "[admin",
            "[developer",
            "[instruction",
            "< /",
        ),
    ),
    Rule(
        "injection.fake_turn",
        _p(
            r"(?:^|\n)\s*(?:#{1,3}\s*|\*\*)?(?:system|assistant|admin|developer|ai|"
            r"human|user)\s*(?:message|prompt|instruction|note)?\s*(?:\*\*)?\s*:\s*\S"
        ),
        0.45,
        ("system", "assistant", "admin", "developer", "ai:", "ai :", "human", "user"),
    ),
    Rule(
        "injection.delimiter",
        _p(
            r"(?:[-=#*_]{3,}|\]\]|>>>|\}\})\s*(?:end|begin|start|stop)\s+(?:of\s+)?(?:the\s+)?"
            r"(?:user\s+)?(?:input|document|context|data|conversation|email|prompt|instructions|"
            r"text|message|system\s+prompt|content)\b|"
            r"\b(?:end|begin|start)\s+of\s+(?:the\s+)?(?:user\s+)?(?:input|document|context|"
            r"data|email|prompt|text|content)\s*(?:[-=#*_]{3,}|\]\]|<<<|\{\{|\]|>)"
        ),
        0.5,
        ("end", "begin", "start", "stop"),
    ),
    Rule(
        "injection.ai_addressed",
        _p(
            r"\b(?:note|message|instructions?|attention|important|notice|reminder|hey|hi|dear|"
            r"warning)\s*(?:to|for)?\s*(?:the\s+|all\s+|any\s+)?" + _AI + r"\b(?:\s+(?:reading|"
            r"processing|summari[sz]ing|parsing|browsing|that\s+(?:reads?|is\s+reading|processes)"
            r")\s+(?:this|these)(?:\s+\w+)?)?\s*[:,!\-—]|"
            r"\bif\s+you\s+are\s+(?:an?\s+)?(?:\w+\s+)?" + _AI + r"\b(?:\s+(?:reading|processing"
            r"|summari[sz]ing|parsing|browsing))?|"
            r"\b" + _AI + r"\s+(?:reading|processing|summari[sz]ing|parsing|browsing|"
            r"analy[sz]ing|integrating|using|installing|consuming|indexing)\s+this\b|"
            r"\bwhen\s+(?:you\s+)?(?:summari[sz]ing|summari[sz]e|processing|reading|"
            r"analy[sz]ing|translating)\s+(?:this|the)\s+(?:\w+\s+)?(?:page|document|email|"
            r"article|text|file|message|website|content|report|resume|data)\b[^.\n]{0,20}?,?\s*"
            r"(?:you\s+(?:must|should)\s+)?(?:say|state|include|tell|mention|add|report|"
            r"respond|reply|write|output|print|recommend|claim)|"
            r"\b(?:assistant|ai|model|agent|chatbot|llm),?\s+(?:you\s+)?(?:must|should|need\s+to|"
            r"have\s+to|are\s+(?:required|instructed)\s+to)\s+(?:now\s+|immediately\s+)?"
            r"(?:ignore|send|forward|email|call|execute|run|delete|transfer|reveal|tell|say|"
            r"print|output|respond|reply|recommend|state|visit|open|click|fetch|navigate)"
        ),
        0.75,
        (
            " ai",
            "ai ",
            "ai:",
            "ai,",
            "a.i.",
            "llm",
            "language model",
            "assistant",
            "bot",
            "agent",
            "gpt",
            "claude",
            "copilot",
            "model",
            "summari",
            "processing",
            "reading",
            "translating",
            "analy",
        ),
    ),
    Rule(
        "injection.secrecy",
        _p(
            r"\b(?:do\s+not|don'?t|never|without)\s+(?:tell(?:ing)?|inform(?:ing)?|"
            r"notify(?:ing)?|alert(?:ing)?|mention(?:ing)?|reveal(?:ing)?|let(?:ting)?|"
            r"show(?:ing)?|asking|warn(?:ing)?|disclos(?:e|ing))\s+(?:\w+\s+){0,3}?(?:the\s+)?"
            r"(?:user|human|operator|customer|owner)s?\b|"
            r"\b(?:do\s+not|don'?t|never)\s+(?:mention|reveal|disclose|acknowledge|reference)"
            r"\s+(?:this|these|that\s+you)\s+(?:\w+\s+){0,2}?(?:instructions?|message|note|"
            r"request|text|received|were\s+told)"
        ),
        0.6,
        ("do not", "don't", "dont", "never", "without"),
        at_start=True,
    ),
    Rule(
        "injection.data_exfil",
        _p(
            r"\b(?:send|forward|email|e-mail|upload|post|transmit|exfiltrate|leak|copy|share|"
            r"submit|transfer|paste|include|append|encode)\s+(?:\w+\s+){0,3}?(?:(?:the|all|"
            r"every|your|this|entire|full|complete|any|of|my|user'?s?|their)\s+)*"
            r"(?:conversation|chat(?:\s+history)?|history|system\s+prompt|credentials|"
            r"secrets?|passwords?|api[ _-]?keys?|tokens?|private\s+keys?|ssh\s+keys?|"
            r"env(?:ironment)?\s+variables|\.env|session\s+cookies?|cookies|user\s+data|"
            r"customer\s+data|personal\s+data|files|database|contents?\s+of|emails|messages|"
            r"inbox|contacts|documents)\b[^.\n]{0,80}?\b(?:to|at|into|via|using|in)\s+"
            r"(?:https?://|\S+@\S+\.\w+|(?:the\s+)?(?:attacker|evil|my\s+server|this\s+(?:url|"
            r"address|email|endpoint|webhook|server|link)|(?:the\s+)?following\s+(?:url|address|"
            r"email|endpoint|webhook|server|link)))"
        ),
        0.85,
        (
            "http",
            "@",
            "attacker",
            "evil",
            "my server",
            "this url",
            "this address",
            "this email",
            "this endpoint",
            "this webhook",
            "this server",
            "this link",
            "following",
        ),
        before=220,
        after=100,
    ),
    Rule(
        "injection.tool_hijack",
        _p(
            r"\b(?:call|invoke|use|run|execute|trigger|fire)\s+(?:the\s+)?[`'\"]?"
            r"(?:[a-z]+_[a-z0-9_]+|send\w*|email\w*|http\w*|post\w*|delete\w*|transfer\w*)"
            r"[`'\"]?\s*(?:\(|tool|function|action)?[^.\n]{0,60}?\b(?:to|with)\s+"
            r"(?:https?://|\S+@\S+\.\w+|(?:send|forward|email|delete|transfer|post|upload|"
            r"exfiltrate|leak)\b)"
        ),
        0.85,
        (
            "http",
            "@",
            "attacker",
            "evil",
            "my server",
            "this url",
            "this address",
            "this email",
            "this endpoint",
            "this webhook",
            "this server",
            "this link",
            "following",
            "_",
            "send",
            "email",
            "post",
            "delete",
            "transfer",
        ),
        channels=("tool_output", "tool_argument", "final_answer"),
        before=220,
        after=100,
    ),
    Rule(
        "injection.decode_and_follow",
        _p(
            r"\b(?:decode|decipher|decrypt|translate|convert|unscramble|reverse)\s+(?:[\w,]+\s+){0,4}?"
            r"(?:and|then|,)\s+(?:\w+\s+){0,2}?(?:follow|execute|obey|do|run|carry\s+out|perform"
            r"|act\s+on|comply\s+with|respond\s+to)\b|"
            r"\b(?:respond|reply)\s+to\s+the\s+(?:instructions?|request|command|task)\s+"
            r"(?:encoded|hidden|contained|embedded)|"
            r"\bit\s+is\s+a\s+(?:secure|secret|hidden|trusted)\s+system\s+message"
        ),
        0.7,
        (
            "decode",
            "decipher",
            "decrypt",
            "translate",
            "convert",
            "unscramble",
            "reverse",
            "respond",
            "reply",
            "it is a ",
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
    Rule(
        "injection.multilingual_leak_or_unbound",
        _p(
            r"\b(?:verrate|zeige|gib|nenne|wiederhole)\s+(?:mir\s+)?(?:\w+\s+){0,2}?"
            r"(?:system\w*|anweisungen|instruktionen)|"
            r"\b(?:r[ée]v[èe]le|montre|affiche|donne|r[ée]p[èe]te)[\w-]*\s+(?:\w+\s+){0,2}?"
            r"(?:instructions|consignes|invite\s+syst[èe]me|prompt)|"
            r"\b(?:revela|muestra|dime|repite)\w*\s+(?:\w+\s+){0,2}?(?:instrucciones|prompt\s+"
            r"del\s+sistema)|"
            r"\b(?:rivela|mostra|dimmi|ripeti)\w*\s+(?:\w+\s+){0,2}?(?:istruzioni|prompt\s+di"
            r"\s+sistema)|"
            r"\b(?:du\s+bist\s+jetzt|ab\s+jetzt|tu\s+es\s+maintenant|d[ée]sormais|ahora\s+eres|"
            r"ora\s+sei|da\s+ora)\b[^.\n]{0,60}?\b(?:uneingeschr[äa]nkt|keine\s+(?:regeln|"
            r"richtlinien|einschr[äa]nkungen)|sans\s+(?:restrictions?|r[èe]gles|limites)|"
            r"sin\s+(?:restricciones|reglas|l[íi]mites)|senza\s+(?:restrizioni|regole|limiti))"
        ),
        0.8,
        (
            "verrate",
            "zeige",
            "gib",
            "nenne",
            "wiederhole",
            "révèle",
            "revele",
            "montre",
            "affiche",
            "donne",
            "répète",
            "repete",
            "revela",
            "muestra",
            "dime",
            "repite",
            "rivela",
            "mostra",
            "dimmi",
            "ripeti",
            "du bist jetzt",
            "ab jetzt",
            "maintenant",
            "désormais",
            "desormais",
            "ahora eres",
            "ora sei",
            "da ora",
        ),
        at_start=True,
    ),
    Rule(
        "injection.output_override",
        _p(
            r"\b(?:reply|respond|answer|say|print|output|write|return)\s+(?:with\s+)?(?:only|"
            r"just|exactly|nothing\s+but|solely)\s+(?:with\s+)?(?:the\s+following|this\s+"
            r"(?:text|sentence|phrase|message)|these\s+words|[\"'“<])|"
            r"\b(?:ignore|disregard)\s+(?:all|any|everything)\s+(?:\w+\s+)?(?:except|but)\b|"
            r"\b(?:include|append|add|insert|put|mention|repeat|print|output)\s+(?:[\w'-]+\s+)"
            r"{0,6}?(?:in|to|at\s+the\s+end\s+of|into)\s+(?:your|every|each|any)\s+(?:\w+\s+)?"
            r"(?:summary|summaries|reply|replies|response|responses|answer|answers|output)\b"
        ),
        0.65,
        (
            "reply",
            "respond",
            "answer",
            "say",
            "print",
            "output",
            "write",
            "return",
            "ignore",
            "disregard",
            "include",
            "append",
            "add",
            "insert",
            "put",
            "mention",
            "repeat",
        ),
        channels=("tool_output",),
        at_start=True,
    ),
)

_MULTI_BONUS = 0.05


@detector(name="injection", channels=("user_input", "tool_output"), category="injection")
def injection(text: str, ctx: ScanContext) -> list[Detection]:
    """Prompt-injection and jailbreak phrases (see :data:`INJECTION_RULES`)."""
    found = run_rules(INJECTION_RULES, text, text.lower(), ctx)
    names = {d.name for d in found if d.score >= 0.4}
    if len(names) >= 2:
        # Independent rules agreeing is stronger evidence than either alone.
        top = max(found, key=lambda d: d.score)
        bonus = min(1.0, top.score + _MULTI_BONUS * (len(names) - 1))
        combined = Detection(
            "injection.combined",
            bonus,
            severity_for(bonus),
            top.excerpt,
            "injection",
            ctx.layer,
            top.start,
            top.end,
        )
        found.append(combined)
    return found
