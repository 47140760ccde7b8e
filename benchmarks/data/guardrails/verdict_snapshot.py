"""Snapshot the guard's verdicts on every benchmark text, or diff against a snapshot.

Run: ``.venv/bin/python benchmarks/data/guardrails/verdict_snapshot.py --write OUT.json``
before a change to the guard, then ``... --check OUT.json`` after it: any verdict that
differs is printed and the script exits 1. A speed change to the rule layers must give
zero diffs (``--rules-only`` checks only the classifier-disabled guard, whose verdicts do
not depend on the classifier's model file). ``WORKBENCH_TREE=DIR`` imports ``workbench``
from another tree (e.g. ``git archive HEAD workbench | tar -x -C DIR``), to snapshot the
committed code after the fact.

Every text of every ``*.jsonl`` file here (``attacks``, ``benign``, ``own_benign``, ...)
is scanned on every channel, as given and in variants that push it through the other layers
(upper-cased, zero-width characters and homoglyphs inserted, base64-encoded, ROT13), by
``Guard(GuardConfig())`` with the classifier disabled and enabled, and once with an
execution id (canary check). The snapshot keeps each verdict's flagged, score, and every
detection (name, score, severity, excerpt, category, layer, offsets).
"""

from __future__ import annotations

import argparse
import base64
import codecs
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, os.environ.get("WORKBENCH_TREE") or str(Path(__file__).resolve().parents[3]))

from workbench.guardrails import CHANNELS, Guard, GuardConfig
from workbench.guardrails._classifier import CLASSIFIER_NAME

DATA = Path(__file__).resolve().parent
FILES = tuple(sorted(p.name for p in DATA.glob("*.jsonl")))
_HOMOGLYPHS = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с"})


def texts() -> list[tuple[str, str]]:
    """Every ``(key, text)`` to scan: the corpus texts and their variants."""
    out: list[tuple[str, str]] = []
    for name in FILES:
        for line in (DATA / name).read_text().splitlines():
            if not line.strip():
                continue
            case = json.loads(line)
            text = case["text"]
            key = case["id"]
            out.append((key, text))
            out.append((f"{key}#upper", text.upper()))
            out.append(
                (f"{key}#zw", "\u200b".join(text[i : i + 7] for i in range(0, len(text), 7)))
            )
            out.append((f"{key}#glyph", text.translate(_HOMOGLYPHS)))
            b64 = base64.b64encode(text.encode()).decode()
            out.append((f"{key}#b64", f"Please process this attachment: {b64}"))
            out.append((f"{key}#rot13", codecs.encode(text, "rot13")))
    return out


def verdict_row(guard: Guard, text: str, channel: str, execution_id: str | None) -> list[Any]:
    """The comparable form of one verdict."""
    v = guard.scan(text, channel, execution_id=execution_id)  # type: ignore[arg-type]
    return [
        v.flagged,
        v.score,
        v.action,
        [
            [d.name, d.score, d.severity, d.excerpt, d.category, d.layer, d.start, d.end]
            for d in v.detectors
        ],
    ]


def snapshot(*, rules_only: bool) -> dict[str, Any]:
    """Every verdict, keyed ``config|channel|text key``."""
    home = Path(tempfile.mkdtemp(prefix="verdict-snapshot-"))
    (home / "guardrails").mkdir()
    # A fixed canary key, so canary verdicts are the same in every run.
    (home / "guardrails" / "canary.key").write_text("ab" * 32)
    guards = {"rules": Guard(GuardConfig(disabled=[CLASSIFIER_NAME]), home=home)}
    if not rules_only:
        guards["full"] = Guard(GuardConfig(), home=home)
    out: dict[str, Any] = {}
    corpus = texts()
    for label, guard in guards.items():
        for channel in CHANNELS:
            for key, text in corpus:
                out[f"{label}|{channel}|{key}"] = verdict_row(guard, text, channel, None)
        # Canary checks with the execution known, on the leaving channels.
        for key, text in corpus[::6]:
            for channel in ("tool_argument", "final_answer"):
                out[f"{label}|{channel}|exec|{key}"] = verdict_row(guard, text, channel, "exec-1")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="write a snapshot here")
    group.add_argument("--check", type=Path, help="diff against this snapshot")
    parser.add_argument("--rules-only", action="store_true", help="classifier-disabled only")
    args = parser.parse_args()
    current = snapshot(rules_only=args.rules_only)
    if args.write is not None:
        args.write.write_text(json.dumps(current, sort_keys=True))
        print(f"wrote {len(current)} verdicts to {args.write}")
        return
    before = json.loads(args.check.read_text())
    diffs = 0
    compared = {key: row for key, row in current.items() if key in before}
    for key, row in compared.items():
        if json.loads(json.dumps(row)) != before[key]:
            diffs += 1
            if diffs <= 20:
                print(f"DIFF {key}\n  before {before[key]}\n  now    {row}")
    flagged = sum(1 for row in compared.values() if row[0])
    new, gone = len(current) - len(compared), len(set(before) - set(current))
    print(
        f"{len(compared)} verdicts compared ({flagged} flagged), {diffs} diffs"
        + (
            f"; {new} not in the snapshot (new texts), {gone} no longer scanned"
            if new or gone
            else ""
        )
    )
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
