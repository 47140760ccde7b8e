"""The event stream of a running execution: each step as it happens, the status at the end."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
from server_helpers import start_served, write_spec

from workbench.models import Turn, register_script


def test_a_running_execution_streams_each_step_as_it_happens(tmp_path: Path) -> None:
    steps = register_script(
        "srv-steps",
        [
            Turn.call("calculator", expression="1+1").model_copy(update={"latency_s": 0.3}),
            Turn.call("calculator", expression="2+2").model_copy(update={"latency_s": 0.3}),
            Turn.final("done").model_copy(update={"latency_s": 0.3}),
        ],
    )
    (tmp_path / "agents").mkdir()
    write_spec(tmp_path / "agents", "stepper", "v1", steps)
    handle, served = start_served(tmp_path)
    try:
        with httpx.Client(base_url=served.url, headers=served.headers(), timeout=20) as client:
            eid = client.post("/v1/executions", json={"agent": "stepper", "task": "go"}).json()[
                "execution_id"
            ]
            arrivals: list[tuple[str, str | None, str]] = []
            kind = ""
            with client.stream("GET", f"/v1/executions/{eid}/events") as resp:
                for line in resp.iter_lines():
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        event = json.loads(line.removeprefix("data: "))
                        # What the server says of the execution as this event arrives.
                        now = served.state.executions[eid].status
                        arrivals.append((kind, event.get("type"), now))
            kinds = [(k, t) for k, t, _ in arrivals]
            assert kinds == [
                ("step", "model"),
                ("step", "tool"),
                ("step", "model"),
                ("step", "tool"),
                ("step", "model"),
                ("step", "status"),
                ("status", None),
            ]
            # The first steps reached the client while it still ran (0.3 s a model call),
            # not all at once at the end.
            assert arrivals[0][2] == "running"
            assert arrivals[-1][2] == "completed"
            # A stream opened after it stopped is the same events, at once.
            started = time.monotonic()
            again = client.get(f"/v1/executions/{eid}/events").text
            assert time.monotonic() - started < 5
            assert again.count("event: step") == 6
            assert '"status":"completed"' in again.rsplit("event: status", 1)[1]
    finally:
        handle.stop()
