"""Layer 3: a local injection classifier (hashed character n-grams, logistic regression).

The model is package data (``model/injection_lr.json``), trained at build time on the
benchmark's ``dev`` split only by ``benchmarks/data/guardrails/train_classifier.py``.
Nothing is downloaded and nothing but numpy runs at scan time.

Features: the normalised text, lower-cased with runs of whitespace collapsed, encoded
as UTF-8; every byte 3-, 4- and 5-gram is hashed (a polynomial rolling hash in
``uint32`` arithmetic, then a multiplicative hash per n) into ``2**bits`` buckets; the
feature vector is the bucket counts divided by ``sqrt(number of n-grams)``, plus a
one-hot channel feature. The score of a window is therefore ``bias + channel weight +
sum(weights[buckets]) / sqrt(n)``, computed with a gather and a sum: a few numpy calls,
no Python loop over characters. A long text is also scored in overlapping windows and
the highest window counts, so an instruction planted in a long document is not
diluted by the document around it.

How the probability combines with the rules is decided in :func:`fuse` (thresholds per
channel, chosen on ``dev`` by cross-validation and stored in the model file).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from workbench.errors import ConfigError
from workbench.guardrails._embed_classifier import (
    EMBED_CLASSIFIER_NAME,
    EmbedModel,
    load_embed_model,
    require_embeddings,
)
from workbench.guardrails._registry import DetectorSpec, detector
from workbench.guardrails._types import Detection, ScanContext, severity_for

__all__ = [
    "CLASSIFIER_MODES",
    "CLASSIFIER_NAME",
    "CLASSIFIER_NAMES",
    "MODEL_FILE",
    "ClassifierMode",
    "InjectionModel",
    "hashed_ngrams",
    "injection_classifier",
    "load_model",
    "select_classifiers",
]

ClassifierMode = Literal["ngram", "embedding", "off"]
"""Which local classifiers a guard runs beside the rules (``GuardConfig.classifier``)."""

CLASSIFIER_MODES: tuple[ClassifierMode, ...] = ("ngram", "embedding", "off")
"""Every :data:`ClassifierMode`."""

CLASSIFIER_NAME = "injection_classifier"
"""The detector's registered name (``GuardConfig(disabled=[CLASSIFIER_NAME])`` turns it off)."""

CLASSIFIER_NAMES = frozenset({CLASSIFIER_NAME, EMBED_CLASSIFIER_NAME})
"""Names of the classifier detectors whose output the guard fuses with the rules."""

_DROPPED: dict[str, frozenset[str]] = {
    "ngram": frozenset({EMBED_CLASSIFIER_NAME}),
    "embedding": frozenset(),
    "off": CLASSIFIER_NAMES,
}

MODEL_FILE = "injection_lr.json"
"""The model's file name inside ``workbench/guardrails/model/``."""

NGRAMS: tuple[int, ...] = (3, 4, 5)
"""Byte n-gram lengths hashed into features."""

_PRIME = 0x01000193  # FNV prime: the rolling hash's base
_MIX = 0x9E3779B1  # golden-ratio multiplier of the final bucket hash
_SALT = 0x5BD1E995  # added per n so a 3-gram and a 4-gram do not share buckets
_MAX_CHARS = 16_384  # longer texts are scored on their first and last 8 KB


def _prepare(text: str) -> bytes:
    lowered = " ".join(text.lower().split())
    if len(lowered) > _MAX_CHARS:
        half = _MAX_CHARS // 2
        lowered = lowered[:half] + " " + lowered[-half:]
    return lowered.encode("utf-8", "replace")


def hashed_ngrams(text: str, bits: int) -> list[npt.NDArray[np.uint32]]:
    """The bucket of every byte n-gram of ``text``, one array per n in :data:`NGRAMS`.

    Deterministic across processes and platforms (no Python ``hash``). Training uses
    this same function, so scan-time features equal training features by construction.

    Args:
        text: The (normalised) text.
        bits: Buckets are ``0 .. 2**bits - 1``.

    Returns:
        For each n, an array of ``len(bytes) - n + 1`` buckets, in text order (empty
        when the text is shorter than n).
    """
    raw = _prepare(text)
    x = np.frombuffer(raw, dtype=np.uint8).astype(np.uint32)
    shift = np.uint32(32 - bits)
    out: list[npt.NDArray[np.uint32]] = []
    h = x
    for n in range(2, NGRAMS[-1] + 1):
        h = h[:0] if len(h) < 2 else h[:-1] * np.uint32(_PRIME) + x[n - 1 :]
        if n in NGRAMS:
            out.append(((h + np.uint32((_SALT * n) & 0xFFFFFFFF)) * np.uint32(_MIX)) >> shift)
    return out


@dataclass(frozen=True, slots=True)
class InjectionModel:
    """A loaded classifier: weights, channel biases and the fusion thresholds.

    Attributes:
        bits: Hash buckets are ``2**bits``.
        weights: One weight per bucket (float32, de-quantised from the file).
        bias: Intercept.
        channel_bias: Weight of each channel's one-hot feature.
        window: Window length in n-grams for long texts; 0 scores only the whole text.
        high: Per channel, the probability at or above which the classifier alone flags.
        low: Per channel, the probability below which it vetoes a weak single rule hit.
        veto_max: Rule scores at or above this are never vetoed.
        meta: Provenance recorded by the training script (data, seed, CV figures).
    """

    bits: int
    weights: npt.NDArray[np.float32]
    bias: float
    channel_bias: dict[str, float]
    window: int
    high: dict[str, float]
    low: dict[str, float]
    veto_max: float
    meta: dict[str, Any]

    def logit(self, text: str, channel: str) -> float:
        """The log-odds that ``text`` on ``channel`` is an injection (highest window)."""
        w = self.weights
        parts = [w[ids] for ids in hashed_ngrams(text, self.bits)]
        base = self.bias + self.channel_bias.get(channel, 0.0)
        total = sum(len(p) for p in parts)
        if total == 0:
            return base
        best = base + float(sum(float(p.sum()) for p in parts)) / math.sqrt(total)
        win = self.window
        longest = len(parts[0])
        if win and longest > win:
            # Per-position contribution (n-grams starting at i), summed over windows.
            contrib = parts[0].astype(np.float64)
            for p in parts[1:]:
                contrib[: len(p)] += p
            per = len(parts)
            csum = np.concatenate(([0.0], np.cumsum(contrib)))
            step = win // 2
            starts = np.arange(0, longest - win + step, step)
            ends = np.minimum(starts + win, longest)
            sums = csum[ends] - csum[starts]
            counts = (ends - starts) * per
            best = max(best, base + float(np.max(sums / np.sqrt(counts))))
        return best

    def probability(self, text: str, channel: str) -> float:
        """The probability that ``text`` on ``channel`` is an injection, 0..1."""
        z = self.logit(text, channel)
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)


def _decode_weights(spec: dict[str, Any]) -> npt.NDArray[np.float32]:
    raw = base64.b64decode(spec["data"])
    q = np.frombuffer(raw, dtype=np.dtype(spec["dtype"]))
    return (q.astype(np.float32) * np.float32(spec["scale"])).astype(np.float32)


def model_from_dict(data: dict[str, Any]) -> InjectionModel:
    """Build a model from its JSON form (what the training script writes).

    Raises:
        ConfigError: The mapping is not a model of a known format.
    """
    try:
        if data.get("format") != "workbench-injection-lr/1":
            raise ValueError(f"unknown format {data.get('format')!r}")
        weights = _decode_weights(data["weights"])
        bits = int(data["bits"])
        if len(weights) != 1 << bits:
            raise ValueError(f"{len(weights)} weights for {bits} bits")
        return InjectionModel(
            bits=bits,
            weights=weights,
            bias=float(data["bias"]),
            channel_bias={str(k): float(v) for k, v in data["channel_bias"].items()},
            window=int(data["window"]),
            high={str(k): float(v) for k, v in data["fusion"]["high"].items()},
            low={str(k): float(v) for k, v in data["fusion"]["low"].items()},
            veto_max=float(data["fusion"]["veto_max"]),
            meta=dict(data.get("meta", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"invalid injection classifier model: {exc}") from exc


@lru_cache(maxsize=1)
def load_model() -> InjectionModel:
    """The shipped model, loaded once from package data (offline; numpy only).

    Raises:
        ConfigError: The model file is missing or malformed.
    """
    try:
        ref = resources.files("workbench.guardrails").joinpath("model", MODEL_FILE)
        data = json.loads(ref.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the injection classifier {MODEL_FILE}: {exc}") from exc
    return model_from_dict(data)


@detector(
    name=CLASSIFIER_NAME,
    channels=("user_input", "tool_output"),
    category="injection",
    decoded=False,
)
def injection_classifier(text: str, ctx: ScanContext) -> list[Detection]:
    """The classifier's probability, as one detection ``injection_classifier.lr``.

    Always reported on the text view: the guard's fusion step (:func:`fuse`) needs the
    probability even when it is low (to veto) and drops or caps it before the verdict.
    """
    p = load_model().probability(text, ctx.channel)
    return [Detection(f"{CLASSIFIER_NAME}.lr", p, severity_for(p), text[:120], "injection")]


_STRONG_CATEGORIES = frozenset({"secret", "pii", "canary", "exfiltration", "obfuscation"})


def fuse(
    detections: list[Detection],
    channel: str,
    threshold: float,
    *,
    model: InjectionModel | None = None,
    embed_model: EmbedModel | None = None,
) -> list[Detection]:
    """Combine the classifiers' probabilities with the rule detections.

    With only the n-gram classifier (``classifier="ngram"``) its probability ``p`` is
    used with the n-gram model's thresholds. When the embedding classifier ran too
    (``classifier="embedding"``), ``p`` is the stacked probability of both
    (:meth:`~workbench.guardrails._embed_classifier.EmbedModel.fused_probability`; the
    n-gram term is left out if that detector was disabled) with the embedding model's
    thresholds. Then:

    * **Rescue**: ``p`` at or above the channel's ``high`` keeps one classifier
      detection (score = ``p``, floored at ``threshold``), so the text is flagged even
      when no rule fired.
    * **Veto**: below the channel's ``low``, a *weak single* rule hit is capped below
      ``threshold``: only ``injection`` rules flagged, one rule name, no combination,
      and its score under ``veto_max``. Secrets, PII, canaries, exfiltration URLs and
      obfuscation findings are never vetoed.
    * Otherwise the classifiers' detections are dropped (they neither flag nor veto),
      and the rules decide as before.

    Args:
        detections: Every detection of one scan (any order).
        channel: The channel scanned.
        threshold: The guard's flag threshold.
        model: Whose thresholds to use without the embedding classifier; default the
            shipped n-gram model.
        embed_model: Stacking weights and thresholds with it; default the shipped one.

    Returns:
        The detections after fusion (a classifier's kept only when it decided).
    """
    ngram_prefix = f"{CLASSIFIER_NAME}."
    embed_prefix = f"{EMBED_CLASSIFIER_NAME}."
    ngram = [d for d in detections if d.name.startswith(ngram_prefix)]
    embed = [d for d in detections if d.name.startswith(embed_prefix)]
    if not ngram and not embed:
        return detections
    rest = [
        d
        for d in detections
        if not d.name.startswith(ngram_prefix) and not d.name.startswith(embed_prefix)
    ]
    if embed:
        em = embed_model if embed_model is not None else load_embed_model()
        z_ngram = _logit(max(d.score for d in ngram)) if ngram else None
        p = em.fused_probability(_logit(max(d.score for d in embed)), z_ngram)
        high, low, veto_max = em.high, em.low, em.veto_max
        top, prefix = embed[0], embed_prefix
    else:
        m = model if model is not None else load_model()
        p = max(d.score for d in ngram)
        high, low, veto_max = m.high, m.low, m.veto_max
        top, prefix = ngram[0], ngram_prefix
    if p >= high.get(channel, 1.01):
        return [*rest, _rescore(top, max(p, threshold), f"{prefix}lr")]
    if p >= low.get(channel, -1.0):
        return rest
    flagged = [d for d in rest if d.score >= threshold]
    names = {d.name for d in flagged}
    weak = (
        flagged
        and all(d.category == "injection" for d in flagged)
        and not any(d.category in _STRONG_CATEGORIES for d in rest if d.score >= threshold)
        and len(names) == 1
        and "injection.combined" not in names
        and max(d.score for d in flagged) < veto_max
    )
    if not weak:
        return rest
    capped = min(0.35, threshold * 0.7)
    vetoed = [_rescore(d, capped, d.name) if d.score >= threshold else d for d in rest]
    return [*vetoed, _rescore(top, p, f"{prefix}veto")]


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1.0 - 1e-12)
    return math.log(p) - math.log1p(-p)


def select_classifiers(specs: list[DetectorSpec], mode: str) -> list[DetectorSpec]:
    """``specs`` without the classifier detectors that ``mode`` does not run.

    ``"ngram"`` (the default) keeps the character n-gram classifier only, ``"embedding"``
    keeps it and the MiniLM embedding classifier, ``"off"`` keeps neither (rules only).

    Raises:
        ConfigError: Unknown mode, or ``"embedding"`` without the embeddings extra.
    """
    try:
        dropped = _DROPPED[mode]
    except KeyError:
        raise ConfigError(
            f"unknown classifier {mode!r}; known: {', '.join(CLASSIFIER_MODES)}"
        ) from None
    if mode == "embedding" and any(s.name == EMBED_CLASSIFIER_NAME for s in specs):
        require_embeddings()
    return [s for s in specs if s.name not in dropped]


def _rescore(d: Detection, score: float, name: str) -> Detection:
    return Detection(
        name, score, severity_for(score), d.excerpt, d.category, d.layer, d.start, d.end
    )
