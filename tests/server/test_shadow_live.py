"""Live shadow traffic: v1 answers; v2 replays afterwards, isolated, never slowing or failing v1."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from server_helpers import start_served, write_spec

from workbench.evals._shadow import load_shadow_run
from workbench.models import Turn, register_script
from workbench.tools import tool
from workbench.tracing import TraceStore

SENT: list[str] = []


@tool(side_effects=True)
def send_note(text: str) -> str:
    """Send a note to the world.

    Args:
        text: The note.
    """
    SENT.append(text)
    return f"note {len(SENT)} sent"


def _v1_latency(url: str, headers: dict[str, str], n: int) -> tuple[list[float], list[str]]:
    latencies, ids = [], []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(-1, n):  # -1: a warm-up request (imports), not measured
            started = time.perf_counter()
            eid = client.post(
                "/v1/executions", json={"agent": "notes", "task": f"note {i}"}, headers=headers
            ).json()["execution_id"]
            with client.stream("GET", f"/v1/executions/{eid}/events", headers=headers) as resp:
                lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
            final = json.loads(lines[-1].removeprefix("data: "))
            assert final["status"] == "completed", final
            assert final["answer"] == "done"
            ids.append(eid)
            if i >= 0:
                latencies.append(time.perf_counter() - started)
    return latencies, ids


def _serve(tmp_path: Path, candidate_model: str | None, run_id: str = "") -> tuple[Any, Any]:
    folder = tmp_path / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    v1 = register_script("live-v1", [Turn.call("send_note", text="hi"), Turn.final("done")])
    tools = [f"{__name__}:send_note"]
    write_spec(folder, "notes", "v1", v1, tools=tools)
    serve: dict[str, Any] = {"agents": {"notes": {"spec": "notes_v1.yaml"}}, "shadow_queue_size": 3}
    if candidate_model is not None:
        write_spec(folder, "notes", "v2", candidate_model, tools=tools)
        serve["agents"]["notes"]["shadow"] = {
            "spec": "notes_v2.yaml",
            "rate": 1.0,
            "run_id": run_id,
        }
    return start_served(tmp_path, serve_yaml=serve)


def test_v2_slow_or_failing_never_slows_or_fails_v1(tmp_path: Path) -> None:
    n = 6
    handle, served = _serve(tmp_path / "none", None)
    try:
        baseline, _ = _v1_latency(served.url, served.headers(), n)
    finally:
        handle.stop()

    def slow(messages: list[dict[str, Any]], tools: object) -> Turn:
        done = any(m.get("role") == "tool" for m in messages)
        turn = Turn.final("done v2") if done else Turn.call("send_note", text="hi")
        return turn.model_copy(update={"latency_s": 0.5})

    def broken(messages: object, tools: object) -> Turn:
        raise RuntimeError("v2 is broken")

    for name, script in (("slow", slow), ("broken", broken)):
        SENT.clear()
        handle, served = _serve(
            tmp_path / name, register_script(f"live-v2-{name}", script), f"live-{name}"
        )
        try:
            latencies, ids = _v1_latency(served.url, served.headers(), n)
            # v1's latency does not carry v2's 2 x 0.5 s, nor its failure.
            assert statistics.median(latencies) < statistics.median(baseline) + 0.1
            assert max(latencies) < 0.5
            served.state.shadow.join()
            metrics = httpx.get(served.url + "/metrics").text
        finally:
            handle.stop()
        # Only v1 touched the world: v2's send_note was answered from v1's record.
        assert ["hi"] * (n + 1) == SENT
        queued = _metric(metrics, "workbench_shadow_samples_total", 'outcome="queued"')
        dropped = _metric(metrics, "workbench_shadow_samples_total", 'outcome="dropped"')
        assert queued + dropped == n + 1
        if name == "slow":
            assert dropped > 0  # a queue of 3 behind a slow v2: samples dropped, v1 untouched
        run = load_shadow_run(TraceStore(), f"live-{name}")
        assert {p.baseline_execution_id for p in run.pairs} <= set(ids)
        assert len(run.pairs) == queued
        for pair in run.pairs:
            assert pair.baseline_status == "completed"
            if name == "slow":
                assert pair.candidate_status == "completed"
                assert pair.candidate_answer == "done v2"
                assert pair.divergences == []
                assert pair.steps[0]["same"] is True
            else:
                assert pair.candidate_status in {"error", "model_error"}


def _metric(text: str, name: str, label: str) -> float:
    for line in text.splitlines():
        if line.startswith(name) and label in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0
