"""Threshold alerts: an execution's cost and steps, a principal's day; raised once each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_alerts import Hook
from typer.testing import CliRunner

from workbench.tracing import (
    CostNotifier,
    SpoolExporter,
    ThresholdMonitor,
    Thresholds,
    Tracer,
    TraceStore,
    WebhookNotifier,
)


class Collect(CostNotifier):
    def __init__(self) -> None:
        self.alerts: list[object] = []

    def notify(self, alert: object) -> None:  # type: ignore[override]
        self.alerts.append(alert)


def _execution(tracer: Tracer, eid: str, principal: str, cost: float, steps: int) -> None:
    tracer.record(
        "executions",
        {
            "execution_id": eid,
            "agent_name": "analyst",
            "agent_version": "v1",
            "principal": principal,
            "cost_usd": cost,
            "steps": steps,
            "started_at": 1_780_000_000.0,
            "updated_at": 1_780_000_000.0,
        },
    )


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


@pytest.fixture
def store_and_tracer(tmp_path: Path) -> Iterator[tuple[TraceStore, Tracer]]:
    spool = tmp_path / "spool"
    tracer = Tracer([SpoolExporter(spool, fallback_dir=tmp_path / "fb")])
    yield TraceStore(tmp_path / "t.duckdb", spool_dir=spool, fallback_dir=tmp_path / "fb"), tracer
    tracer.shutdown()


def test_each_threshold_is_raised_once_with_an_event_and_a_webhook(
    store_and_tracer: tuple[TraceStore, Tracer], hook: Hook
) -> None:
    store, tracer = store_and_tracer
    _execution(tracer, "ex-cheap", "alice", 0.01, 2)
    _execution(tracer, "ex-costly", "alice", 0.50, 3)
    _execution(tracer, "ex-long", "bob", 0.02, 60)
    assert tracer.flush()
    collect = Collect()
    url = hook.url
    monitor = ThresholdMonitor(
        Thresholds(execution_usd=0.25, execution_steps=20, principal_day_usd=0.4),
        notifiers=[collect, WebhookNotifier(url)],
        tracer=tracer,
    )
    alerts = monitor.check_store(store)
    assert {(a.scope, a.key) for a in alerts} == {
        ("execution_usd", "ex-costly"),
        ("execution_steps", "ex-long"),
        ("principal_day_usd", "alice@2026-05-28"),
    }
    assert alerts[0].scope == "execution_steps"
    assert alerts[0].ratio == 3.0
    assert len(collect.alerts) == 3
    assert sorted(b["scope"] for b in hook.bodies) == [
        "execution_steps",
        "execution_usd",
        "principal_day_usd",
    ]
    assert {b["type"] for b in hook.bodies} == {"threshold_alert"}
    assert tracer.flush()
    events = store.sql(
        "SELECT rule, principal, coalesce(execution_id, '-') FROM safety_events"
        " WHERE kind = 'cost_alert'"
        " ORDER BY rule"
    )
    assert events.values.tolist() == [
        ["execution_steps", "bob", "ex-long"],
        ["execution_usd", "alice", "ex-costly"],
        ["principal_day_usd", "alice", "-"],
    ]
    # A second (scheduled) check raises nothing new.
    assert monitor.check_store(store) == []
    assert len(collect.alerts) == 3


def test_cli_alerts_checks_once_and_prints_json(workbench_home: Path) -> None:
    from workbench.cli import app
    from workbench.tracing import get_tracer

    tracer = get_tracer()
    _execution(tracer, "ex-a", "carol", 0.9, 2)
    assert tracer.flush()
    runner = CliRunner()
    out = runner.invoke(app, ["traces", "alerts", "--execution-usd", "0.5", "--json"])
    assert out.exit_code == 0, out.output
    (alert,) = [json.loads(x) for x in out.stdout.splitlines()]
    assert (alert["type"], alert["scope"], alert["key"]) == (
        "threshold_alert",
        "execution_usd",
        "ex-a",
    )
    again = runner.invoke(app, ["traces", "alerts", "--execution-usd", "0.5"])
    assert again.exit_code == 0
    assert "no new alerts" in again.output
    nothing = runner.invoke(app, ["traces", "alerts"])
    assert nothing.exit_code == 2
