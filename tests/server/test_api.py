"""The HTTP API against a real uvicorn server: executions, events, errors, approvals, costs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import Served, start_served, write_spec

from workbench.models import Turn, register_script
from workbench.tools import tool

FINAL = {
    "completed",
    "step_limit",
    "timeout",
    "stopped",
    "budget_exceeded",
    "malformed_output",
    "model_error",
    "error",
}


def _wait(client: httpx.Client, served: Served, eid: str, *, until: set[str]) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = client.get(f"/v1/executions/{eid}", headers=served.headers()).json()
        if body["status"] in until:
            return dict(body)
        time.sleep(0.02)
    raise AssertionError(f"{eid} never reached {until}")


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


def test_an_execution_is_accepted_streamed_and_fetched(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=20) as client:
        resp = client.post(
            "/v1/executions",
            json={"agent": "calc", "task": "What is 6*7?"},
            headers={"X-API-Key": served.secret},
        )
        assert resp.status_code == 202
        accepted = resp.json()
        eid = accepted["execution_id"]
        assert accepted["status"] == "running"
        events = _events(client, served, eid)
        kinds = [(k, e.get("type")) for k, e in events]
        assert kinds == [
            ("step", "model"),
            ("step", "tool"),
            ("step", "model"),
            ("step", "status"),
            ("status", None),
        ]
        assert events[1][1]["text"] == "42"
        final = events[-1][1]
        assert final["status"] == "completed"
        assert final["answer"] == "42"
        fetched = client.get(f"/v1/executions/{eid}", headers=served.headers()).json()
        assert fetched == final
        assert fetched["steps"] == 2
        assert fetched["cost_usd"] > 0
        # Principals see only their own executions.
        other = client.get(f"/v1/executions/{eid}", headers=served.headers(served.other_secret))
        assert other.status_code == 404
        assert other.json()["code"] == "execution_not_found"


def test_errors_are_typed_json_with_the_right_status(tmp_path: Path) -> None:
    from workbench.gateway import GatewayConfig

    handle, served = start_served(
        tmp_path,
        gateway_config=GatewayConfig(max_input_bytes=100),
        rate_per_minute=1,
    )
    try:
        with httpx.Client(base_url=served.url, timeout=20) as client:

            def post(body: object, headers: dict[str, str] | None = None) -> httpx.Response:
                return client.post(
                    "/v1/executions",
                    json=body,
                    headers=served.headers() if headers is None else headers,
                )

            no_key = post({"agent": "calc", "task": "x"}, headers={})
            assert no_key.status_code == 401
            assert no_key.json()["code"] == "auth_failed"
            assert no_key.headers["www-authenticate"] == "Bearer"
            bad = post({"agent": "calc", "task": "x"}, headers={"X-API-Key": "wbk_nope"})
            assert (bad.status_code, bad.json()["type"]) == (401, "AuthenticationFailed")
            invalid = post({"agent": "calc"})
            assert (invalid.status_code, invalid.json()["code"]) == (422, "input_invalid")
            large = post({"agent": "calc", "task": "x" * 500})
            assert (large.status_code, large.json()["code"]) == (413, "input_too_large")
            unknown = post({"agent": "nope", "task": "x"}, served.headers(served.other_secret))
            assert (unknown.status_code, unknown.json()["code"]) == (404, "agent_not_found")
            limited = post({"agent": "calc", "task": "x"})
            assert limited.status_code == 429
            assert limited.json()["code"] == "rate_limited"
            assert int(limited.headers["retry-after"]) >= 1
            huge = client.post(
                "/v1/executions",
                content=b"{" + b" " * 2_000_000 + b"}",
                headers={**served.headers(), "content-type": "application/json"},
            )
            assert (huge.status_code, huge.json()["code"]) == (413, "input_too_large")
            missing = client.get("/v1/executions/ex-nope", headers=served.headers())
            assert (missing.status_code, missing.json()["code"]) == (404, "execution_not_found")
            costs = client.get("/v1/costs?by=planet", headers=served.headers())
            assert (costs.status_code, costs.json()["code"]) == (422, "input_invalid")
    finally:
        handle.stop()


def test_scope_and_budget_refusals(served: Served) -> None:
    _, narrow = served.keys.create("team-c", ["agent:other"])
    _, broke = served.keys.create("team-d", ["agent:*", "tool:*"], daily_budget_usd=0.001)
    ledger = served.state.gateway.ledger
    spent = ledger.reserve(principal="team-d", execution_id="earlier", tokens=10, usd=0.0)
    ledger.settle(spent, tokens=10, usd=0.002)  # the day's budget is gone
    with httpx.Client(base_url=served.url, timeout=20) as client:
        body = {"agent": "calc", "task": "6*7?"}
        denied = client.post("/v1/executions", json=body, headers=served.headers(narrow))
        assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
        refused = client.post("/v1/executions", json=body, headers=served.headers(broke))
        assert (refused.status_code, refused.json()["code"]) == (402, "budget_exceeded")


@tool(side_effects=True, requires_approval=True)
def wire_money(amount: int) -> str:
    """Send money.

    Args:
        amount: How much.
    """
    return f"sent {amount}"


def test_approvals_are_listed_and_decided_per_principal(tmp_path: Path) -> None:
    folder = tmp_path / "agents"
    folder.mkdir()
    model = register_script("srv-pay", [Turn.call("wire_money", amount=5), Turn.final("paid")])
    write_spec(folder, "payer", "v1", model, tools=[f"{__name__}:wire_money"])
    handle, served = start_served(tmp_path)
    try:
        with httpx.Client(base_url=served.url, timeout=20) as client:
            eid = client.post(
                "/v1/executions", json={"agent": "payer", "task": "pay 5"}, headers=served.headers()
            ).json()["execution_id"]
            paused = _wait(client, served, eid, until={"awaiting_approval", "error"})
            assert paused["status"] == "awaiting_approval"
            approval_id = paused["pending_approval"]
            mine = client.get("/v1/approvals", headers=served.headers()).json()
            assert [a["id"] for a in mine] == [approval_id]
            assert mine[0]["tool"] == "wire_money"
            theirs = client.get("/v1/approvals", headers=served.headers(served.other_secret))
            assert theirs.json() == []
            stolen = client.post(
                f"/v1/approvals/{approval_id}",
                json={"approve": True},
                headers=served.headers(served.other_secret),
            )
            assert (stolen.status_code, stolen.json()["code"]) == (404, "approval_not_found")
            decided = client.post(
                f"/v1/approvals/{approval_id}",
                json={"approve": True, "reason": "ok"},
                headers=served.headers(),
            )
            assert decided.status_code == 202
            assert decided.json()["decision"] == "approved"
            done = _wait(client, served, eid, until={"completed", "error"})
            assert done["answer"] == "paid"
            again = client.post(
                f"/v1/approvals/{approval_id}", json={"approve": False}, headers=served.headers()
            )
            assert again.status_code == 404
            metrics = client.get("/metrics").text
            assert "workbench_approval_wait_seconds_count 1.0" in metrics
    finally:
        handle.stop()


def test_stop_and_costs(tmp_path: Path) -> None:
    handle, served = start_served(tmp_path)
    slow = register_script(
        "srv-slow",
        # latency_s on the turn (not in Turn.call's kwargs, which are the tool's arguments):
        # each step takes 0.2 s, so the stop lands long before any step or repair limit.
        lambda messages, tools: Turn.call("calculator", expression="1+1").model_copy(
            update={"latency_s": 0.2}
        ),
    )
    try:
        served.state.agents["calc"] = served.state.agents["calc"].__class__(
            spec=served.state.agents["calc"].spec.model_copy(update={"model": slow}),
            shadow=None,
            shadow_rate=0.0,
            shadow_run_id=None,
        )
        with httpx.Client(base_url=served.url, timeout=20) as client:
            eid = client.post(
                "/v1/executions", json={"agent": "calc", "task": "loop"}, headers=served.headers()
            ).json()["execution_id"]
            deadline = time.monotonic() + 20
            while not served.state.executions[eid].events and time.monotonic() < deadline:
                time.sleep(0.02)  # it is running: its first step happened
            stopped = client.post(f"/v1/executions/{eid}/stop", headers=served.headers())
            assert stopped.status_code == 202
            done = _wait(client, served, eid, until=FINAL)
            assert done["status"] == "stopped", done
            costs = client.get("/v1/costs?by=version,day", headers=served.headers()).json()
            assert costs["by"] == ["version", "day"]
            assert [(r["agent_name"], r["agent_version"]) for r in costs["rows"]] == [
                ("calc", "v1")
            ]
            assert costs["rows"][0]["cost_usd"] == pytest.approx(done["cost_usd"])
            theirs = client.get("/v1/costs", headers=served.headers(served.other_secret)).json()
            assert theirs["rows"] == []
    finally:
        handle.stop()
