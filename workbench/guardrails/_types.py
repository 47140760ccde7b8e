"""The guard's value types: channels, actions, detections, verdicts.

Detections and verdicts are frozen slotted dataclasses rather than pydantic models:
one scan builds a handful of them on the gateway's hot path, where a pydantic
construction costs several microseconds each. ``to_dict`` gives their JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CHANNELS",
    "Action",
    "Channel",
    "Detection",
    "Guarded",
    "ScanContext",
    "Severity",
    "Verdict",
    "severity_for",
]

Channel = Literal["user_input", "tool_output", "tool_argument", "final_answer"]
"""Where a text comes from or goes to."""

CHANNELS: tuple[Channel, ...] = ("user_input", "tool_output", "tool_argument", "final_answer")
"""Every channel, in the order text flows through an execution."""

Action = Literal["allow", "block", "redact", "mark"]
"""What :meth:`Guard.apply` does with a flagged text."""

Severity = Literal["low", "medium", "high", "critical"]
"""How bad one detection is (derived from its score unless the detector says)."""


def severity_for(score: float) -> Severity:
    """The severity of a detection with ``score``: >= 0.9 critical, >= 0.75 high,
    >= 0.5 medium, else low."""
    if score >= 0.9:
        return "critical"
    if score >= 0.75:
        return "high"
    if score >= 0.5:
        return "medium"
    return "low"


@dataclass(frozen=True, slots=True)
class Detection:
    """One finding of one detector.

    Attributes:
        name: The rule that fired, ``<detector>.<rule>`` (e.g. ``injection.ignore_previous``).
        score: Confidence that this is an attack or a leak, 0..1.
        severity: How bad it is.
        excerpt: A short excerpt of what matched; secrets and PII are masked.
        category: ``injection``, ``secret``, ``pii``, ``canary``, ``exfiltration``,
            ``obfuscation``, or a plug-in detector's own.
        layer: Which view of the text it was found in: ``text`` (the normalised text),
            or the decoding that revealed it (``base64``, ``hex``, ``rot13``, ``tags``,
            ``url``, ``leet``, ``spacing``, ...; nested as ``base64>hex``).
        start: Offset of the match in the original text, when known (redaction uses it).
        end: End offset of the match in the original text, when known.
    """

    name: str
    score: float
    severity: Severity
    excerpt: str
    category: str
    layer: str = "text"
    start: int | None = None
    end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (offsets left out)."""
        return {
            "name": self.name,
            "score": round(self.score, 4),
            "severity": self.severity,
            "category": self.category,
            "layer": self.layer,
            "excerpt": self.excerpt,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of scanning one text on one channel.

    Attributes:
        flagged: Whether any detection reached the configured threshold.
        score: The highest detection score, 0..1 (0 when nothing was found).
        detectors: Every detection, flagged or not, highest score first.
        action: The channel's configured action when flagged, else ``allow``.
        channel: The channel scanned.
    """

    flagged: bool
    score: float
    detectors: list[Detection]
    action: Action
    channel: Channel

    @property
    def categories(self) -> list[str]:
        """Distinct categories of the detections, sorted."""
        return sorted({d.category for d in self.detectors})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``flagged``, ``score``, ``detectors`` (names) first, then details."""
        return {
            "flagged": self.flagged,
            "score": round(self.score, 4),
            "detectors": [d.name for d in self.detectors],
            "action": self.action,
            "channel": self.channel,
            "detections": [d.to_dict() for d in self.detectors],
        }


@dataclass(frozen=True, slots=True)
class Guarded:
    """What :meth:`Guard.apply` returns.

    Attributes:
        text: The text to pass on: unchanged, redacted or wrapped in an untrusted
            envelope. When ``blocked``, the original text (do not pass it on).
        verdict: The scan's verdict.
        blocked: True when the channel's action is ``block`` and the text was flagged.
    """

    text: str
    verdict: Verdict
    blocked: bool


@dataclass(frozen=True, slots=True)
class ScanContext:
    """What a detector knows besides the text it is given.

    Attributes:
        channel: The channel being scanned.
        layer: Which view of the text this is (``text``, ``base64``, ...).
        execution_id: The execution, when the caller named it (canary checks use it).
        canary: The execution's canary token, when ``execution_id`` is known.
        extra: Anything a caller passed to :meth:`Guard.scan` as ``context``.
    """

    channel: Channel
    layer: str = "text"
    execution_id: str | None = None
    canary: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
