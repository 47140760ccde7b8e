"""Rules for injections in German, French, Spanish and Italian."""

from __future__ import annotations

from workbench.guardrails._inj_common import p as _p
from workbench.guardrails._rules import Rule

__all__ = ["MULTILINGUAL_RULES"]

MULTILINGUAL_RULES: tuple[Rule, ...] = (
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
        "injection.multilingual_leak_or_unbound",
        _p(
            r"\b(?:verrate|zeige|gib|nenne|wiederhole)\s+(?:mir\s+)?(?:\w+\s+){0,2}?"
            r"(?:(?:deine[nm]?|ihre[nm]?|dein|ihr)\s+(?:\w+\s+)?(?:anweisungen|instruktionen|"
            r"vorgaben|regeln|system\w*)|system-?prompt\w*|systemanweisung\w*)|"
            r"\b(?:r[ée]v[èe]le|montre|affiche|donne|r[ée]p[èe]te)[\w-]*\s+(?:\w+\s+){0,2}?"
            r"(?:(?:tes|vos)\s+(?:\w+\s+)?(?:instructions|consignes|directives)|"
            r"(?:invite|prompt|message)\s+syst[èe]me)|"
            r"\b(?:revela|muestra|dime|repite)\w*\s+(?:\w+\s+){0,2}?(?:(?:tus|sus)\s+(?:\w+\s+)?"
            r"instrucciones|(?:prompt|mensaje)\s+del\s+sistema)|"
            r"\b(?:rivela|mostra|dimmi|ripeti)\w*\s+(?:\w+\s+){0,2}?(?:(?:tue|sue)\s+(?:\w+\s+)?"
            r"istruzioni|prompt\s+di\s+sistema)|"
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
        "injection.multilingual_append",
        _p(
            r"\b(?:am|ans)\s+ende\s+(?:jeder|aller|ihrer|deiner|der)\s+(?:\w+\s+)?(?:antwort|"
            r"antworten|zusammenfassung)|"
            r"\bal\s+final\s+de\s+(?:cada|cualquier|toda|su|tu|la)\s+(?:\w+\s+)?(?:respuesta|"
            r"resumen)|"
            r"\balla\s+fine\s+di\s+(?:ogni|qualsiasi|ciascuna|tua|sua)\s+(?:\w+\s+)?(?:risposta|"
            r"riassunto)|"
            r"\b[àa]\s+la\s+fin\s+de\s+(?:chaque|toute|votre|ta|la)\s+(?:\w+\s+)?(?:r[ée]ponse|"
            r"r[ée]sum[ée])|"
            r"\bno\s+final\s+de\s+(?:cada|qualquer|sua)\s+(?:\w+\s+)?resposta"
        ),
        # Weak: a mail asking a person to sign every reply reads the same; counts with others.
        0.45,
        ("am ende", "ans ende", "al final", "alla fine", "à la fin", "a la fin", "no final"),
        channels=("tool_output",),
        at_start=True,
    ),
    Rule(
        "injection.multilingual_unbound",
        _p(
            r"\b(?:r[eè]gles?|consignes|restrictions|politiques?|filtres)\s+(?:de\s+s[ée]curit[ée]"
            r"\s+)?ne\s+s'appliquent\s+(?:pas|plus)|"
            r"\b(?:r[ée]pondre|agir|r[ée]ponds)\s+sans\s+(?:aucune?\s+)?(?:restrictions?|filtres?|"
            r"limites?|censure)|"
            r"\b(?:responder|actuar|responde)\s+sin\s+(?:ninguna?\s+)?(?:restricciones|filtros|"
            r"l[íi]mites|censura)|"
            r"\b(?:rispondere|rispondi|agire)\s+senza\s+(?:alcuna?\s+)?(?:restrizioni|filtri|"
            r"limiti|censura)|"
            r"\bohne\s+(?:jegliche\s+|alle\s+)?(?:einschr[äa]nkungen|filter|regeln|zensur)\s+"
            r"(?:zu\s+)?antworten"
        ),
        0.75,
        (
            "règle",
            "regle",
            "consignes",
            "restrictions",
            "politique",
            "filtres",
            "répondre",
            "repondre",
            "réponds",
            "agir",
            "responder",
            "actuar",
            "responde",
            "rispondere",
            "rispondi",
            "agire",
            "ohne",
        ),
        at_start=True,
    ),
)
