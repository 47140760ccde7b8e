"""Guardrails: layered scanning of text entering and leaving an execution.

A :class:`Guard` normalises a text (NFKC, homoglyphs, invisible and tag
characters), decodes encoded runs (base64, base32, base85, Ascii85, hex, URL, HTML
entities, Morse, ROT13, leetspeak, letter spacing; recursively, bounded), runs the
registered detectors
(injection and jailbreak phrases, markdown-image exfiltration, secrets, PII,
canary tokens, and any ``@detector`` plug-in) on every view, fuses the rules with a
local injection classifier (``injection_classifier``: hashed n-grams, logistic
regression, shipped as package data, numpy only; with ``GuardConfig(classifier=
"embedding")`` also ``injection_embedding``, MiniLM sentence embeddings, stacked), and
applies the channel's action:
``block``, ``redact``, ``mark`` or ``allow``. See ``docs/guardrails.md``.
"""

from __future__ import annotations

from workbench.guardrails import _classifier as _classifier
from workbench.guardrails import _exfil as _exfil
from workbench.guardrails import _injection as _injection
from workbench.guardrails import _secrets as _secrets
from workbench.guardrails._canary import CANARY_PREFIX
from workbench.guardrails._config import DEFAULT_ACTIONS, GuardConfig
from workbench.guardrails._guard import Guard
from workbench.guardrails._registry import (
    DetectorFn,
    DetectorSpec,
    detector,
    get_detector,
    registered_detectors,
    unregister_detector,
)
from workbench.guardrails._types import (
    CHANNELS,
    Action,
    Channel,
    Detection,
    Guarded,
    ScanContext,
    Severity,
    Verdict,
)

__all__ = [
    "CANARY_PREFIX",
    "CHANNELS",
    "DEFAULT_ACTIONS",
    "Action",
    "Channel",
    "Detection",
    "DetectorFn",
    "DetectorSpec",
    "Guard",
    "GuardConfig",
    "Guarded",
    "ScanContext",
    "Severity",
    "Verdict",
    "detector",
    "get_detector",
    "registered_detectors",
    "unregister_detector",
]
