"""Configuration of a :class:`Guard`: actions per channel, detectors, decoding bounds."""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench.guardrails._types import Action, Channel

__all__ = ["DEFAULT_ACTIONS", "GuardConfig"]

DEFAULT_ACTIONS: MappingProxyType[Channel, Action] = MappingProxyType(
    {
        "user_input": "block",
        "tool_output": "mark",
        "tool_argument": "block",
        "final_answer": "redact",
    }
)
"""What a flagged text gets on each channel unless a config says otherwise."""


class GuardConfig(BaseModel):
    """How a :class:`Guard` scans and what it does with flagged text.

    Loadable from an agent spec mapping with ``GuardConfig.model_validate(mapping)``;
    unknown keys are rejected. ``actions`` may name only some channels: the others
    keep their defaults (:data:`DEFAULT_ACTIONS`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    actions: dict[Channel, Action] = Field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    """Action per channel when a text is flagged: ``allow`` (record only), ``block``,
    ``redact`` or ``mark`` (wrap in an untrusted envelope)."""
    threshold: float = Field(default=0.5, gt=0.0, le=1.0)
    """A text is flagged when its highest detection score reaches this."""
    detectors: list[str] | None = None
    """Detectors to run, by registered name; ``None`` runs every detector registered
    when the guard is built."""
    disabled: list[str] = Field(default_factory=list)
    """Detectors not to run (applied after ``detectors``)."""
    channels: dict[str, list[Channel]] = Field(default_factory=dict)
    """Per-detector override of the channels it runs on, e.g. ``{"pii": ["final_answer"]}``."""
    max_decode_depth: int = Field(default=3, ge=0, le=8)
    """How many nested encodings are peeled (base64 of hex of ROT13 is depth 3)."""
    max_decoded_chars: int = Field(default=65_536, ge=0)
    """Total characters decoded per scan; decoding stops past it."""
    max_views: int = Field(default=48, ge=1, le=1024)
    """Most decoded views scanned per text."""
    record_events: bool = True
    """Whether :meth:`Guard.apply` records a safety event for each flagged text."""
    classifier: Literal["ngram", "embedding", "off"] = "ngram"
    """Local classifiers fused with the rules on ``user_input`` and ``tool_output``:
    ``"ngram"`` (hashed character n-grams, numpy, ~50-100 µs a text), ``"embedding"``
    (that plus a MiniLM sentence-embedding classifier: torch in the process, ~10-30 ms a
    short text, more detection, see docs/guardrails.md) or ``"off"`` (rules only)."""

    @field_validator("actions", mode="after")
    @classmethod
    def _merge_defaults(cls, value: dict[Channel, Action]) -> dict[Channel, Action]:
        return {**DEFAULT_ACTIONS, **value}
