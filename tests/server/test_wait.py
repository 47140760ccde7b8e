"""``POST /v1/executions?wait=N`` / ``Prefer: wait=N`` and the event stream's two paths."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from server_helpers import Served, start_served

from workbench.models import Turn, register_script
from workbench.server import LoadedAgent


def _events(client: httpx.Client, served: Served, eid: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    with client.stream("GET", f"/v1/executions/{eid}/events", headers=served.headers()) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in resp.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


def _slow(served: Served, latency_s: float) -> None:
    """Make the served ``calc`` agent take ``latency_s`` a model call."""
    model = register_script(
        f"srv-wait-{latency_s}",
        [
            Turn.call("calculator", expression="6*7").model_copy(update={"latency_s": latency_s}),
            Turn.final("42").model_copy(update={"latency_s": latency_s}),
        ],
    )
    calc = served.state.agents["calc"]
    served.state.agents["calc"] = LoadedAgent(
        spec=calc.spec.model_copy(update={"model": model}),
        shadow=None,
        shadow_rate=0.0,
        shadow_run_id=None,
    )


def test_wait_answers_the_final_view_in_the_post(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=20) as client:
        body = {"agent": "calc", "task": "What is 6*7?"}
        resp = client.post("/v1/executions?wait=10", json=body, headers=served.headers())
        assert resp.status_code == 200
        view = resp.json()
        assert (view["status"], view["answer"], view["steps"]) == ("completed", "42", 2)
        assert "preference-applied" not in resp.headers
        fetched = client.get(f"/v1/executions/{view['execution_id']}", headers=served.headers())
        assert fetched.json() == view
        # The events are still there to stream, ending with the same view.
        events = _events(client, served, view["execution_id"])
        assert [k for k, _ in events] == ["step", "step", "step", "step", "status"]
        assert events[-1][1] == view

        preferred = client.post(
            "/v1/executions",
            json=body,
            headers={**served.headers(), "Prefer": "respond-async, wait=10"},
        )
        assert preferred.status_code == 200
        assert preferred.headers["preference-applied"] == "wait=10"
        assert preferred.json()["answer"] == "42"


def test_a_wait_that_runs_out_answers_202_and_the_execution_goes_on(served: Served) -> None:
    _slow(served, 0.3)
    with httpx.Client(base_url=served.url, timeout=20) as client:
        started = time.monotonic()
        resp = client.post(
            "/v1/executions?wait=0.1",
            json={"agent": "calc", "task": "6*7?"},
            headers=served.headers(),
        )
        waited = time.monotonic() - started
        assert resp.status_code == 202
        assert resp.json()["status"] == "running"
        assert 0.1 <= waited < 0.6
        # Opened while it runs: streamed frame by frame, to the same end.
        events = _events(client, served, resp.json()["execution_id"])
        assert [(k, e.get("type")) for k, e in events] == [
            ("step", "model"),
            ("step", "tool"),
            ("step", "model"),
            ("step", "status"),
            ("status", None),
        ]
        assert events[-1][1]["answer"] == "42"
        # Opened again once it stopped: one body, the same events.
        assert _events(client, served, resp.json()["execution_id"]) == events


def test_the_wait_is_capped_by_max_wait_s_and_bad_waits_are_refused(tmp_path: Path) -> None:
    handle, served = start_served(
        tmp_path, serve_yaml={"agents": {"calc": {"spec": "calc_v1.yaml"}}, "max_wait_s": 0.1}
    )
    try:
        _slow(served, 0.5)
        with httpx.Client(base_url=served.url, timeout=20) as client:
            body = {"agent": "calc", "task": "6*7?"}
            started = time.monotonic()
            resp = client.post("/v1/executions?wait=30", json=body, headers=served.headers())
            assert resp.status_code == 202
            assert time.monotonic() - started < 0.45
            negative = client.post("/v1/executions?wait=-1", json=body, headers=served.headers())
            assert (negative.status_code, negative.json()["code"]) == (422, "input_invalid")
            # An unparsable preference is ignored, as unknown preferences are.
            ignored = client.post(
                "/v1/executions", json=body, headers={**served.headers(), "Prefer": "wait=soon"}
            )
            assert ignored.status_code == 202
    finally:
        handle.stop()
