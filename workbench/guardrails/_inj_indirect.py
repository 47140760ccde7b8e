"""Indirect-injection rules: instructions planted in data, addressed to the model reading it."""

from __future__ import annotations

from workbench.guardrails._inj_common import AI as _AI
from workbench.guardrails._inj_common import p as _p
from workbench.guardrails._rules import Rule

__all__ = ["INDIRECT_RULES"]

INDIRECT_RULES: tuple[Rule, ...] = (
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
            r"data|email|prompt|text|content)\s*(?:[-=#*_]{3,}|\]\]|<<<|\{\{|\]|>)|"
            r"<\s*end\s+of\s+(?:the\s+)?(?:session|conversation|document|input|context|prompt)"
            r"\s*>"
        ),
        # A document's own "--- END OF DOCUMENT ---" is common: weak alone, it only adds up.
        0.4,
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
            "chatbot",
            "chatgpt",
            "summari",
            "processing",
            "reading",
            "translating",
            "analy",
        ),
    ),
    # A user asking not to tell *their* users something is ordinary; a document is not.
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
        0.4,
        ("do not", "don't", "dont", "never", "without"),
        channels=("user_input",),
        at_start=True,
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
        channels=("tool_output", "tool_argument", "final_answer"),
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
    Rule(
        "injection.append_to_reply",
        _p(
            r"\b(?:append|add|include|insert|put|attach|place|end\s+with|finish\s+with|shown?|"
            r"displayed|printed|repeated|must\s+appear)\b[^.\n]{0,80}?\b(?:to|in|into|at\s+the\s+"
            r"(?:end|start|beginning|bottom|top)\s+of)\s+(?:every|each|any|all|your|my|the)\s+"
            r"(?:\w+\s+)?(?:summary|summaries|reply|replies|response|responses|answer|answers|"
            r"output)\b"
        ),
        # Weak: style guides ask people to sign every reply; it counts with other signals.
        0.45,
        (
            "append",
            "add",
            "include",
            "insert",
            "put",
            "attach",
            "place",
            "end with",
            "finish with",
            "show",
            "displayed",
            "printed",
            "repeated",
            "must appear",
        ),
        channels=("tool_output",),
        at_start=True,
    ),
    Rule(
        "injection.tracking_token",
        _p(
            r"\b(?:append|add|include|insert|attach|put|end\s+with|token|marker|reference|"
            r"code)\b[^.\n]{0,60}?\b(?=[a-z0-9-]*\d)(?=[a-z0-9-]*[a-z])[a-z0-9]{2,}"
            r"(?:-[a-z0-9]{2,}){2,}\b"
        ),
        0.45,
        (
            "append",
            "add",
            "include",
            "insert",
            "attach",
            "put",
            "end with",
            "token",
            "marker",
            "reference",
            "code",
        ),
        channels=("tool_output",),
        before=80,
        after=90,
    ),
    Rule(
        "injection.conditional_answer",
        _p(
            r"\bif\s+(?:you\s+are\s+|you're\s+|anyone\s+|someone\s+|the\s+user\s+)?(?:asked|"
            r"questioned|queried|prompted|asks?)\b[^.\n]{0,80}?,?\s*(?:simply\s+|just\s+|"
            r"always\s+|only\s+)?(?:report|say|respond|reply|answer|state|tell|claim|output|print|"
            r"confirm)\b"
        ),
        0.7,
        ("if ",),
        channels=("tool_output",),
        at_start=True,
    ),
    Rule(
        "injection.focus_only",
        _p(r"\b(?:focus|concentrate)\s+(?:only|exclusively|solely)\s+on\b"),
        0.4,
        ("focus", "concentrate"),
        channels=("tool_output",),
        at_start=True,
    ),
    Rule(
        "injection.repeat_following",
        _p(
            r"\b(?:repeat|print|say|output|write)\s+(?:back\s+)?(?:the\s+following|this|after\s+"
            r"me)(?:\s+(?:sentence|text|phrase|words?|line|string))?\s*[:\"'“<]|"
            r"\bcould\s+you\s+(?:please\s+)?repeat\s+[<\"'“]"
        ),
        0.4,
        ("repeat", "print", "say", "output", "write", "could you"),
        at_start=True,
    ),
    Rule(
        "injection.stop_everything",
        _p(r"\bstop\s+(?:everything|what\s+you(?:'re|\s+are)\s+doing)\b"),
        0.45,
        ("stop",),
        at_start=True,
    ),
    Rule(
        "injection.just_print",
        _p(r"\b(?:just|only|simply)\s+(?:print|say|output|write|reply|respond)\b"),
        0.4,
        ("just", "only", "simply"),
        at_start=True,
    ),
    Rule(
        "injection.system_note",
        _p(
            r"(?:^|\n|[.!]\s)\W*(?:important\s+|urgent\s+)?(?:system\s*(?:note|notice|update|message|"
            r"alert|hinweis|nachricht)|systemhinweis|systemnachricht|nota\s+del\s+sistema|"
            r"nota\s+di\s+sistema|aviso\s+del\s+sistema|note\s+(?:du\s+)?syst[èe]me|"
            r"message\s+(?:du\s+)?syst[èe]me|avis\s+syst[èe]me)\s*[:：]"
        ),
        0.45,
        ("important", "urgent", "system", "nota", "aviso", "note", "message", "avis"),
        before=30,
        after=60,
    ),
    Rule(
        "injection.ai_addressed",
        _p(
            r"\b(?:note|message|instructions?|notice|attention)\s+(?:to|for)\s+(?:the\s+|any\s+|"
            r"all\s+)?(?:automated|automatic|ai|ai-powered|llm)\s+(?:\w+\s+){0,2}?(?:software|"
            r"systems?|tools?|screen\w*|scanners?|analy\w*|reviewers?|readers?|parsers?|agents?|"
            r"assistants?)\b|"
            r"\b(?:for|to)\s+(?:automated|ai|llm)\s+(?:screening|analysis|review|scan)\s+"
            r"(?:systems?|software|tools?)\b|"
            r"\bvisible\s+to\s+(?:llms?|ai|the\s+model|language\s+models?)\b"
        ),
        0.7,
        ("automat", " ai ", " ai-", "llm", "visible"),
        before=70,
        after=80,
    ),
    Rule(
        "injection.exfil_collect",
        _p(
            r"\b(?:collect|gather|extract|grab|harvest|compile|dump|rassemble\w*|recopila\w*|"
            r"raccogli\w*|sammle\w*)\b[^.\n]{0,100}?\b(?:send|forward|email|upload|post|transmit|"
            r"envoie\w*|env[ií]a\w*|invia\w*|schick\w*|sende\w*)\b[^.\n]{0,60}?"
            r"(?:\S+@\S+\.\w+|https?://)"
        ),
        0.8,
        (
            "collect",
            "gather",
            "extract",
            "grab",
            "harvest",
            "compile",
            "dump",
            "rassemble",
            "recopila",
            "raccogli",
            "sammle",
        ),
        requires=_p(
            r"api[ _-]?keys?|credentials|passwords?|secrets?|\btokens?\b|private\s+keys?|"
            r"\bextern\w*|attacker"
        ),
        at_start=True,
    ),
)
