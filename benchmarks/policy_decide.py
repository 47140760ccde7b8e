"""Policy decision latency: ``PolicyEngine.decide`` vs the bare Cedar call it wraps.

Run: ``.venv/bin/python benchmarks/policy_decide.py [--n N]``. One run builds the
shipped engine (``PolicyEngine.default()``: policies and schema parsed once) and times,
alternating, ``--n`` decisions of each kind:

- ``decide()`` for four requests (allow, ask, deny by a forbid on an argument, default
  deny), each including argument encoding, the cached entity lookup, the two-action
  Cedar batch and the decision object;
- the baseline: ``cedarpy.is_authorized_batch`` alone with the same pre-parsed policy
  set and entities and a pre-serialised context (what any Cedar user pays at least);
- for scale, ``cedarpy.is_authorized`` with the policy text passed on every call
  (no parse-once), the pattern ENVIRONMENT.md measured at about 140 µs.

Prints the median and p99 in µs and the ratio decide / baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cedarpy

from workbench.policy import PolicyEngine, ToolRequest, default_policy_dir
from workbench.policy._encode import entities_json

WRITE = {"tool": "write_file", "tool_scope": "files.write", "risk": "high", "side_effects": True}
REQUESTS = {
    "allow": ToolRequest(
        principal="alice", scopes=("tool:sql",), tool="sql", tool_scope="data.read"
    ),
    "ask": ToolRequest(
        principal="alice",
        scopes=("tool:*",),
        **WRITE,
        arguments={"path": "r.md", "content": "x"},
        tainted=True,
        taint_sources=("tool:http_get",),
    ),
    "deny (argument)": ToolRequest(
        principal="alice", scopes=("tool:*",), **WRITE, arguments={"path": "../x", "content": "x"}
    ),
    "deny (default)": ToolRequest(principal="mallory", tool="sql", tool_scope="data.read"),
}


def _time(fn: object, n: int) -> list[float]:
    call = fn  # type: ignore[assignment]
    out = []
    for _ in range(n):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1e6)
    return out


def _row(label: str, samples: list[float]) -> str:
    p99 = statistics.quantiles(samples, n=100)[98]
    return f"| {label} | {statistics.median(samples):.1f} | {p99:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    n = parser.parse_args().n
    engine = PolicyEngine.default()
    directory = default_policy_dir()
    text = (directory / "default.cedar").read_text()
    policies = cedarpy.PolicySet.from_str(text)
    request = REQUESTS["ask"]
    entities = cedarpy.Entities.from_json_str(entities_json(request))
    context = json.dumps(
        {
            "tainted": True,
            "taint_sources": ["tool:http_get"],
            "arguments": {"path": "r.md", "content": "x"},
            "arguments_json": '{"content":"x","path":"r.md"}',
        }
    )
    batch = [
        {
            "principal": {"type": "Principal", "id": "alice"},
            "action": {"type": "Action", "id": action},
            "resource": {"type": "Tool", "id": "write_file"},
            "context": context,
        }
        for action in ("call", "call_unattended")
    ]
    for r in REQUESTS.values():  # warm the entity cache, check the effects
        engine.decide(r)
    print(f"decisions: { {k: engine.decide(r).effect for k, r in REQUESTS.items()} }")
    results: dict[str, list[float]] = {k: [] for k in (*REQUESTS, "baseline", "unparsed")}
    rounds = 10
    for _ in range(rounds):
        for label, r in REQUESTS.items():
            results[label] += _time(lambda r=r: engine.decide(r), n // rounds)
        results["baseline"] += _time(
            lambda: cedarpy.is_authorized_batch(batch, policies, entities), n // rounds
        )
        results["unparsed"] += _time(
            lambda: cedarpy.is_authorized(batch[0], text, entities_json(request)), n // rounds
        )
    print("| what | median µs | p99 µs |")
    print("|---|---|---|")
    for label in REQUESTS:
        print(_row(f"`decide()` {label}", results[label]))
    print(_row("baseline: `is_authorized_batch` (2 actions, pre-parsed)", results["baseline"]))
    print(_row("`is_authorized` with policy text each call (1 action)", results["unparsed"]))
    ratio = statistics.median(results["ask"]) / statistics.median(results["baseline"])
    print(f"ratio decide(ask) / baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()
