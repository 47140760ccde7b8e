"""Metrics: the /metrics endpoint, the shipped alert rules, and a real Prometheus scraping it."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from server_helpers import Served

from workbench.services import start_service, stop_service

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def _run_one(served: Served) -> str:
    with httpx.Client(base_url=served.url, timeout=20) as client:
        eid = client.post(
            "/v1/executions", json={"agent": "calc", "task": "6*7?"}, headers=served.headers()
        ).json()["execution_id"]
        with client.stream("GET", f"/v1/executions/{eid}/events", headers=served.headers()) as r:
            list(r.iter_lines())
        client.post("/v1/executions", json={"agent": "calc", "task": "x"})  # 401, an auth event
    return eid


def _scrape(served: Served, name: str) -> str:
    deadline = time.monotonic() + 5
    while True:
        text = httpx.get(served.url + "/metrics").text
        if name in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_metrics_count_executions_steps_tokens_usd_tools_and_decisions(served: Served) -> None:
    _run_one(served)
    text = _scrape(served, 'workbench_safety_decisions_total{action="block"')
    lines = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert lines['workbench_executions_total{agent="calc",status="completed",version="v1"}'] == 1
    assert lines['workbench_steps_total{cache_hit="false",model="scripted/srv-calc"}'] == 2
    assert lines['workbench_tokens_total{kind="prompt",model="scripted/srv-calc"}'] > 0
    assert lines['workbench_cost_usd_total{model="scripted/srv-calc"}'] > 0
    assert lines['workbench_tool_calls_total{outcome="ok",tool="calculator"}'] == 1
    assert lines['workbench_safety_decisions_total{action="block",kind="auth",rule="api_key"}'] == 1
    assert lines['workbench_execution_steps_bucket{agent="calc",le="2.0",version="v1"}'] == 1
    assert lines['workbench_queue_depth{queue="shadow"}'] == 0
    assert lines['workbench_http_requests_total{route="/v1/executions",status="202"}'] == 1


def test_the_shipped_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run `bash scripts/install-system-deps.sh` as root"
    out = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 8 rules found" in out.stdout


@pytest.mark.slow
def test_prometheus_scrapes_the_server_and_answers_a_query(served: Served) -> None:
    info = start_service("prometheus")
    try:
        eid = _run_one(served)
        assert eid
        query = 'workbench_executions_total{agent="calc",status="completed"}'
        deadline = time.monotonic() + 30
        result: list[dict[str, object]] = []
        while time.monotonic() < deadline and not result:
            resp = httpx.get(f"{info.url}/api/v1/query", params={"query": query}, timeout=5)
            assert resp.status_code == 200
            result = resp.json()["data"]["result"]
            time.sleep(0.5)
        assert result, "Prometheus never scraped the server"
        assert result[0]["value"][1] == "1"  # type: ignore[index]
        rules = httpx.get(f"{info.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
        assert {g["name"] for g in rules} == {
            "workbench-cost",
            "workbench-steps",
            "workbench-errors",
        }
    finally:
        stop_service("prometheus")
