"""Helpers of the eval tests."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def write_suite(tmp: Path, name: str, body: str) -> Path:
    """A suite file in ``tmp``; ``FIX/`` in ``body`` points into ``fixtures/``."""
    path = tmp / f"{name}.yaml"
    path.write_text(body.replace("FIX/", f"{FIXTURES}/"), encoding="utf-8")
    return path


def quiz_suite(
    tmp: Path,
    name: str,
    *,
    v1: str = "quiz_right",
    v2: str = "quiz_right",
    dataset: str = "quiz_small.jsonl",
    extra: str = "",
    gate: bool = True,
) -> Path:
    """A quiz suite comparing two fixture agents, with ``extra`` YAML lines appended."""
    body = f"""name: {name}
dataset: FIX/datasets/{dataset}
versions:
  v1: FIX/agents/{v1}.yaml
  v2: FIX/agents/{v2}.yaml
scorers:
  - {{name: numeric}}
"""
    if gate:
        body += """gate:
  baseline: v1
  candidate: v2
  metrics: {numeric: {margin: 0.05}}
"""
    return write_suite(tmp, name, body + extra)
