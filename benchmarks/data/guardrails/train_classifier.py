"""Train the guardrails' local injection classifier on the DEV split only.

Run (deterministic: fixed fold seed, deterministic solver; scikit-learn from the
``dev`` extra is needed here only, never at scan time)::

    .venv/bin/python benchmarks/data/guardrails/train_classifier.py

Reads ``attacks.jsonl``, ``benign.jsonl`` and ``own_benign.jsonl`` beside this file and
keeps the ``dev`` rows on the channels the classifier runs on (``user_input``,
``tool_output``); the ``test`` split is never opened for anything but its size.
Features are exactly the scan-time ones (``workbench.guardrails._classifier.hashed_ngrams``
on the normalised text). Steps:

1. 5-fold stratified cross-validation on dev picks the L2 strength ``C``
   (out-of-fold log-loss), and gives every dev case an out-of-fold probability.
2. The fusion thresholds per channel come from those out-of-fold probabilities:
   ``high`` is the lowest probability at which the classifier alone flags at most
   1% of dev benign texts of that channel (never below 0.5); ``low`` is the highest
   at which at most 2% of dev attacks of that channel would fall below it (never above
   0.3). ``veto_max`` (rule scores that can be vetoed) is the value in a small grid
   that gives the fewest dev errors when the rules' verdicts are fused with the
   out-of-fold probabilities (ties: the lowest, i.e. the fewest vetoes).
3. A final fit on all dev rows; weights quantised to int8 (per-model scale) and written
   with the thresholds and provenance to ``workbench/guardrails/model/injection_lr.json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from workbench.guardrails import Guard, GuardConfig  # noqa: E402
from workbench.guardrails._classifier import (  # noqa: E402
    CLASSIFIER_NAME,
    NGRAMS,
    InjectionModel,
    fuse,
    hashed_ngrams,
)
from workbench.guardrails._normalize import normalise  # noqa: E402
from workbench.guardrails._types import Detection, severity_for  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = ROOT / "workbench" / "guardrails" / "model" / "injection_lr.json"
BITS = 16
WINDOW = 160
SEED = 20261127
CHANNELS = ("user_input", "tool_output")
C_GRID = (4.0, 16.0, 64.0, 256.0)
VETO_GRID = (0.0, 0.6, 0.7, 0.8, 0.9)
# Pure obfuscation variants (leet, base64-of-hex, ...) are the decoding layer's job: as
# raw text they would teach the classifier that any opaque string is an attack.
EXCLUDED_SOURCES = frozenset({"own:obfuscated"})


def load(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HERE / name).read_text().splitlines() if line.strip()]


def dev_cases() -> list[tuple[str, str, int, str]]:
    """(normalised text, channel, label, id) of every dev case the classifier sees."""
    rows = [(r, 1) for r in load("attacks.jsonl")]
    rows += [(r, 0) for r in load("benign.jsonl") + load("own_benign.jsonl")]
    out = []
    for r, label in rows:
        if r["split"] != "dev" or r["channel"] not in CHANNELS:
            continue
        if r["source"] in EXCLUDED_SOURCES:
            continue
        out.append((normalise(r["text"]).text, r["channel"], label, r["id"]))
    return out


def features(cases: list[tuple[str, str, int, str]]) -> sparse.csr_matrix:
    n_features = (1 << BITS) + len(CHANNELS)
    rows, cols, vals = [], [], []
    for i, (text, channel, _, _) in enumerate(cases):
        ids = np.concatenate(hashed_ngrams(text, BITS)).astype(np.int64)
        if len(ids):
            rows.append(np.full(len(ids), i))
            cols.append(ids)
            vals.append(np.full(len(ids), 1.0 / math.sqrt(len(ids))))
        rows.append(np.array([i]))
        cols.append(np.array([(1 << BITS) + CHANNELS.index(channel)]))
        vals.append(np.array([1.0]))
    matrix = sparse.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(cases), n_features),
    )
    return matrix.tocsr()  # duplicates (repeated n-grams) are summed: counts / sqrt(n)


def fit(x: sparse.csr_matrix, y: np.ndarray, c: float) -> LogisticRegression:
    clf = LogisticRegression(C=c, class_weight="balanced", solver="lbfgs", max_iter=5000)
    return clf.fit(x, y)


def as_model(clf: LogisticRegression, fusion: dict[str, Any] | None = None) -> InjectionModel:
    coef = clf.coef_[0]
    fusion = fusion or {"high": {}, "low": {}, "veto_max": 0.0}
    return InjectionModel(
        bits=BITS,
        weights=coef[: 1 << BITS].astype(np.float32),
        bias=float(clf.intercept_[0]),
        channel_bias={ch: float(coef[(1 << BITS) + i]) for i, ch in enumerate(CHANNELS)},
        window=WINDOW,
        high=dict(fusion["high"]),
        low=dict(fusion["low"]),
        veto_max=float(fusion["veto_max"]),
        meta={},
    )


def out_of_fold(cases: list[tuple[str, str, int, str]], x: Any, y: np.ndarray, c: float) -> Any:
    """Out-of-fold probabilities, scored by the scan-time code path (windows included)."""
    probs = np.zeros(len(cases))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    for train, held in folds.split(x, y):
        model = as_model(fit(x[train], y[train], c))
        for i in held:
            probs[i] = model.probability(cases[i][0], cases[i][1])
    return probs


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auc(y: np.ndarray, p: np.ndarray) -> float:
    pos, neg = p[y == 1], p[y == 0]
    wins = sum(float(np.sum(a > neg)) + 0.5 * float(np.sum(a == neg)) for a in pos)
    return wins / (len(pos) * len(neg))


def choose_thresholds(cases: list[Any], y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    grid = [round(t, 2) for t in np.arange(0.05, 1.0, 0.01)]
    high, low = {}, {}
    channel = np.array([c[1] for c in cases])
    for ch in CHANNELS:
        benign = p[(channel == ch) & (y == 0)]
        attacks = p[(channel == ch) & (y == 1)]
        high[ch] = next((t for t in grid if t >= 0.5 and np.mean(benign >= t) <= 0.01), 0.99)
        low[ch] = max((t for t in grid if t <= 0.3 and np.mean(attacks < t) <= 0.02), default=0.05)
    return {"high": high, "low": low}


def fused_errors(
    cases: list[Any], y: np.ndarray, p: np.ndarray, rules: list[list[Detection]], fusion: Any
) -> tuple[int, int]:
    model = InjectionModel(BITS, np.zeros(1, np.float32), 0.0, {}, 0, fusion["high"],
                           fusion["low"], fusion["veto_max"], {})  # fmt: skip
    missed = false_pos = 0
    for (_, channel, label, _), prob, found in zip(cases, p, rules, strict=True):
        mine = Detection(f"{CLASSIFIER_NAME}.lr", float(prob), severity_for(prob), "", "injection")
        fused = fuse([*found, mine], channel, 0.5, model=model)
        flagged = any(d.score >= 0.5 for d in fused)
        missed += int(label == 1 and not flagged)
        false_pos += int(label == 0 and flagged)
    return missed, false_pos


def quantise(weights: np.ndarray) -> dict[str, Any]:
    scale = float(np.max(np.abs(weights))) / 127.0 or 1.0
    q = np.clip(np.rint(weights / scale), -127, 127).astype(np.int8)
    return {"dtype": "int8", "scale": scale, "data": base64.b64encode(q.tobytes()).decode()}


def main() -> None:
    cases = dev_cases()
    y = np.array([c[2] for c in cases])
    x = features(cases)
    print(f"dev cases: {len(cases)} ({int(y.sum())} attacks, {int((1 - y).sum())} benign)")
    scores = {}
    for c in C_GRID:
        p = out_of_fold(cases, x, y, c)
        scores[c] = (log_loss(y, p), p)
        print(f"C={c:<5} out-of-fold log-loss {scores[c][0]:.4f}  AUC {auc(y, p):.4f}")
    best_c = min(C_GRID, key=lambda c: (round(scores[c][0], 4), c))
    p = scores[best_c][1]
    fusion: dict[str, Any] = choose_thresholds(cases, y, p)
    rules_guard = Guard(GuardConfig(disabled=[CLASSIFIER_NAME], record_events=False))
    rules = [rules_guard.scan(text, channel).detectors for text, channel, _, _ in cases]  # type: ignore[arg-type]
    rule_missed = sum(int(lab == 1 and not any(d.score >= 0.5 for d in r))
                      for (_, _, lab, _), r in zip(cases, rules, strict=True))  # fmt: skip
    rule_fp = sum(int(lab == 0 and any(d.score >= 0.5 for d in r))
                  for (_, _, lab, _), r in zip(cases, rules, strict=True))  # fmt: skip
    print(f"rules only on dev: {rule_missed} missed, {rule_fp} false positives")
    results = {}
    for veto in VETO_GRID:
        results[veto] = fused_errors(cases, y, p, rules, {**fusion, "veto_max": veto})
        print(f"veto_max={veto}: fused (out-of-fold) {results[veto][0]} missed, "
              f"{results[veto][1]} false positives")  # fmt: skip
    fusion["veto_max"] = min(VETO_GRID, key=lambda v: (sum(results[v]), v))
    print(f"chosen: C={best_c} fusion={fusion}")
    clf = fit(x, y, best_c)
    coef = clf.coef_[0]
    data_sha = hashlib.sha256()
    for name in ("attacks.jsonl", "benign.jsonl", "own_benign.jsonl"):
        data_sha.update((HERE / name).read_bytes())
    missed, fp = results[fusion["veto_max"]]
    model = {
        "format": "workbench-injection-lr/1",
        "bits": BITS,
        "ngrams": list(NGRAMS),
        "window": WINDOW,
        "bias": float(clf.intercept_[0]),
        "channel_bias": {ch: float(coef[(1 << BITS) + i]) for i, ch in enumerate(CHANNELS)},
        "weights": quantise(coef[: 1 << BITS]),
        "fusion": fusion,
        "meta": {
            "trained_on": "dev split only",
            "dev_cases": len(cases),
            "dev_attacks": int(y.sum()),
            "excluded_sources": sorted(EXCLUDED_SOURCES),
            "data_sha256": data_sha.hexdigest(),
            "C": best_c,
            "cv": f"5-fold stratified, seed {SEED}",
            "cv_log_loss": round(scores[best_c][0], 4),
            "cv_auc": round(auc(y, p), 4),
            "dev_rules_only": {"missed": rule_missed, "false_positives": rule_fp},
            "dev_fused_out_of_fold": {"missed": missed, "false_positives": fp},
            "command": "python benchmarks/data/guardrails/train_classifier.py",
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(model, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
