"""Burn-rate cost alerts over known spend: store checks, incremental feed, notifiers."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from workbench.tracing import (
    COST_ALERTS,
    BurnRateMonitor,
    CostAlert,
    CostNotifier,
    SpanKind,
    SpoolExporter,
    Tracer,
    TraceStore,
    WebhookNotifier,
)


class Hook:
    """A loopback webhook receiver that keeps every JSON body; the first ``fail`` get 500."""

    def __init__(self, fail: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail = fail
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 200
                if hook.fail:
                    hook.fail -= 1
                    status = 500
                else:
                    hook.bodies.append(body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


class Collect(CostNotifier):
    def __init__(self) -> None:
        self.alerts: list[CostAlert] = []

    def notify(self, alert: CostAlert) -> None:
        self.alerts.append(alert)


@pytest.fixture
def store_and_tracer(tmp_path: Path) -> Iterator[tuple[TraceStore, Tracer]]:
    spool = tmp_path / "spool"
    tracer = Tracer([SpoolExporter(spool, fallback_dir=tmp_path / "fb")])
    yield TraceStore(tmp_path / "t.duckdb", spool_dir=spool, fallback_dir=tmp_path / "fb"), tracer
    tracer.shutdown()


def _spend(tracer: Tracer, eid: str, principal: str, version: str, costs: list[float]) -> None:
    tracer.record(
        "executions",
        {
            "execution_id": eid,
            "agent_name": "analyst",
            "agent_version": version,
            "principal": principal,
        },
    )
    with tracer.span("agent analyst", SpanKind.AGENT, {"workbench.execution_id": eid}):
        for step, cost in enumerate(costs):
            attrs = {
                "workbench.execution_id": eid,
                "workbench.step": step,
                "workbench.cost_usd": cost,
            }
            with tracer.span("llm", SpanKind.LLM, attrs):
                pass


def test_store_check_alerts_per_version_records_rows_and_posts_webhook(
    store_and_tracer: tuple[TraceStore, Tracer], hook: Hook
) -> None:
    store, tracer = store_and_tracer
    _spend(tracer, "e1", "alice", "v1", [0.25, 0.25])  # v1: 0.50 USD
    _spend(tracer, "e2", "bob", "v2", [0.5, 0.5])  # v2: 1.50 USD over two executions
    _spend(tracer, "e3", "alice", "v2", [0.5])
    _spend(tracer, "e4", "carol", "v3", [2.0])  # v3 has a larger budget of its own
    assert tracer.flush()
    collect = Collect()
    monitor = BurnRateMonitor(
        1.0,
        budgets={"analyst@v3": 5.0},
        notifiers=[collect, WebhookNotifier(hook.url)],
        tracer=tracer,
    )

    alerts = monitor.check_store(store)

    assert [(a.scope, a.key, a.spend_usd, a.ratio) for a in alerts] == [
        ("agent_version", "analyst@v2", 1.5, 1.5)
    ]
    alert = alerts[0]
    assert alert.burn_rate_usd_per_hour == 1.5
    assert alert.window_end - alert.window_start == timedelta(hours=1)
    assert collect.alerts == alerts
    assert hook.bodies == [{"type": "cost_alert", **alert.model_dump(mode="json")}]

    # Still overspending a moment later: quiet for the cooldown.
    assert monitor.check_store(store) == []
    assert tracer.flush()
    rows = store.sql(f"SELECT key, spend_usd, budget_usd_per_hour, ratio FROM {COST_ALERTS}")
    assert rows.to_dict("records") == [
        {"key": "analyst@v2", "spend_usd": 1.5, "budget_usd_per_hour": 1.0, "ratio": 1.5}
    ]


def test_store_check_by_principal_and_window(store_and_tracer: tuple[TraceStore, Tracer]) -> None:
    store, tracer = store_and_tracer
    _spend(tracer, "e1", "alice", "v1", [0.3, 0.3])
    _spend(tracer, "e2", "alice", "v2", [0.3])
    _spend(tracer, "e3", "bob", "v1", [0.2])
    assert tracer.flush()
    collect = Collect()
    # A 30-minute window: 0.9 USD in it burns 1.8 USD/h; bob's 0.2 burns 0.4 USD/h.
    monitor = BurnRateMonitor(
        1.0, by="principal", window_s=1800, notifiers=[collect], tracer=tracer
    )
    alerts = monitor.check_store(store)
    assert [(a.key, round(a.spend_usd, 9), round(a.burn_rate_usd_per_hour, 9)) for a in alerts] == [
        ("alice", 0.9, 1.8)
    ]
    # An hour later the spans are outside the window: nothing to say.
    later = BurnRateMonitor(1.0, by="principal", window_s=1800, notifiers=[], tracer=tracer)
    assert later.check_store(store, now=datetime.now(UTC) + timedelta(hours=1)) == []


def test_incremental_feed_slides_the_window_and_honours_cooldown(
    store_and_tracer: tuple[TraceStore, Tracer],
) -> None:
    store, tracer = store_and_tracer
    collect = Collect()
    monitor = BurnRateMonitor(1.0, by="principal", notifiers=[collect], tracer=tracer)
    t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert monitor.add("alice", 0.4, t0) is None
    assert monitor.add("alice", 0.4, t0 + timedelta(minutes=10)) is None
    alert = monitor.add("alice", 0.3, t0 + timedelta(minutes=20))
    assert alert is not None
    assert (alert.key, round(alert.spend_usd, 9), alert.window_end) == (
        "alice",
        1.1,
        t0 + timedelta(minutes=20),
    )
    assert monitor.add("alice", 0.5, t0 + timedelta(minutes=30)) is None  # cooldown
    assert monitor.add("bob", 0.2, t0 + timedelta(minutes=30)) is None  # another key
    # Two hours on, the old costs left the window: 0.6 alone is within budget.
    assert monitor.add("alice", 0.6, t0 + timedelta(hours=2)) is None
    # Past the cooldown and over budget again: a second alert.
    again = monitor.add("alice", 0.6, t0 + timedelta(hours=2, minutes=5))
    assert again is not None
    assert round(again.spend_usd, 9) == 1.2
    assert [a.key for a in collect.alerts] == ["alice", "alice"]
    assert tracer.flush()
    assert store.sql(f"SELECT count(*) AS n FROM {COST_ALERTS}").n[0] == 2


def test_a_failing_notifier_is_logged_and_does_not_stop_the_others(
    store_and_tracer: tuple[TraceStore, Tracer], caplog: pytest.LogCaptureFixture
) -> None:
    _, tracer = store_and_tracer
    bad = Hook(fail=1)
    try:
        collect = Collect()
        monitor = BurnRateMonitor(1.0, notifiers=[WebhookNotifier(bad.url), collect], tracer=tracer)
        with caplog.at_level(logging.ERROR, logger="workbench.tracing.alerts"):
            alert = monitor.add("analyst@v1", 2.0)
        assert alert is not None
        assert collect.alerts == [alert]
        assert bad.bodies == []
        assert any("notifier" in r.message for r in caplog.records)
    finally:
        bad.server.shutdown()
        bad.server.server_close()


def test_invalid_budget_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        BurnRateMonitor(0.0)
