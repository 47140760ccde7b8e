"""A real Arize Phoenix, started once for this module: agent spans read back over its API.

The last test stops Phoenix mid-run, so it must stay last in this file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from phoenix.client import Client

from workbench.runtime import AgentSpec, Runtime
from workbench.services import start_service, stop_service
from workbench.settings import Settings, get_settings
from workbench.tracing import OtlpExporter, SpoolExporter, Tracer, TraceStore, phoenix_endpoint

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def phoenix_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = get_settings(tmp_path_factory.mktemp("phoenix") / "home")
    info = start_service("phoenix", settings=settings)
    assert info.extra["otlp_http_endpoint"] == f"{info.url}/v1/traces"
    yield settings
    stop_service("phoenix", settings=settings)


def _spans(client: Client, project: str, expected: int) -> pd.DataFrame:
    # Phoenix ingests asynchronously: poll until every span arrived.
    deadline = time.monotonic() + 15
    while True:
        try:
            frame = client.spans.get_spans_dataframe(project_identifier=project, limit=10_000)
        except Exception:
            frame = pd.DataFrame()
        if len(frame) >= expected or time.monotonic() > deadline:
            return frame
        time.sleep(0.1)


def _run(settings: Settings, tracer: Tracer, tasks: list[tuple[str, str]]) -> list[Any]:
    import asyncio

    spec = AgentSpec.from_yaml(REPO / "agents" / "analyst.yaml")

    async def go() -> list[Any]:
        runtime = Runtime(settings, tracer=tracer)
        try:
            return [await runtime.arun(spec, task, thread_id=thread) for task, thread in tasks]
        finally:
            await runtime.aclose()

    return asyncio.run(go())


def test_service_state_and_endpoint(phoenix_home: Settings) -> None:
    endpoint = phoenix_endpoint(phoenix_home)
    assert endpoint is not None
    assert endpoint.startswith("http://127.0.0.1:")
    base = endpoint.removesuffix("/v1/traces")
    assert httpx.get(f"{base}/healthz").status_code == 200


def test_agent_executions_appear_in_phoenix_with_kinds_tokens_cost_and_sessions(
    phoenix_home: Settings,
) -> None:
    endpoint = phoenix_endpoint(phoenix_home)
    assert endpoint is not None
    spool = phoenix_home.home / "spool-a"
    exporter = OtlpExporter(endpoint, backoff_initial_s=0.05)
    tracer = Tracer([SpoolExporter(spool), exporter], flush_interval_s=0.01)
    exporter.bind(tracer)
    results = _run(
        phoenix_home,
        tracer,
        [("Which region sold most?", "thread-a"), ("And again?", "thread-a"), ("Once", "b")],
    )
    assert [r.status.value for r in results] == ["completed"] * 3
    assert exporter.flush(15)
    tracer.shutdown()

    local = TraceStore(phoenix_home.home / "a.duckdb", spool_dir=spool).sql(
        "SELECT span_id, parent_id, kind, prompt_tokens, completion_tokens, cost_usd FROM spans"
    )
    client = Client(base_url=endpoint.removesuffix("/v1/traces"))
    remote = _spans(client, "analyst", len(local))
    assert len(remote) == len(local) == 3 * 6  # agent + 3 LLM + 2 tool per execution
    remote.index = pd.Index(remote["context.span_id"], name="span_id")
    local = local.set_index("span_id")
    assert sorted(remote.index) == sorted(local.index)
    assert remote["span_kind"].value_counts().to_dict() == {"LLM": 9, "TOOL": 6, "AGENT": 3}
    for span_id, row in local.iterrows():
        got = remote.loc[span_id]
        assert got["span_kind"] == row["kind"]

        def plain(v: Any) -> Any:
            return None if pd.isna(v) else v

        assert plain(got["parent_id"]) == plain(row["parent_id"])
        if row["kind"] == "LLM":
            assert got["attributes.llm.token_count.prompt"] == row["prompt_tokens"]
            assert got["attributes.llm.token_count.completion"] == row["completion_tokens"]
            assert got["attributes.llm.cost.total"] == pytest.approx(row["cost_usd"])
    assert set(remote["attributes.session.id"]) == {"thread-a", "b"}

    # The executions of one thread form one Phoenix session.
    sessions = {s["session_id"]: s for s in client.sessions.list(project_name="analyst")}
    assert {k: len(v["traces"]) for k, v in sessions.items()} == {"thread-a": 2, "b": 1}

    # The agent version is filterable in Phoenix.
    from phoenix.client.types.spans import SpanQuery

    v1 = client.spans.get_spans_dataframe(
        query=SpanQuery().where("metadata['agent_version'] == 'v1'"), project_identifier="analyst"
    )
    assert len(v1) == 18


def test_eval_scores_are_annotations_on_the_judged_spans(
    phoenix_home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from workbench.evals import annotate_run_in_phoenix, run_suite

    fixtures = REPO / "tests" / "evals" / "fixtures"
    monkeypatch.syspath_prepend(str(fixtures))
    monkeypatch.setenv("WORKBENCH_HOME", str(phoenix_home.home))
    endpoint = phoenix_endpoint(phoenix_home)
    assert endpoint is not None
    exporter = OtlpExporter(endpoint, project_name="quiz")
    tracer = Tracer([SpoolExporter(phoenix_home.spool_dir), exporter])
    from workbench.tracing import set_tracer

    # The runner and its runtimes trace through the process tracer; the one installed
    # before (None: each home's own spool tracer) comes back at the end.
    previous = set_tracer(tracer)
    try:
        run = run_suite(fixtures / "level.yaml", progress="none")
        tracer.flush()
        assert exporter.flush()
        store = TraceStore(phoenix_home.trace_store_path, spool_dir=phoenix_home.spool_dir)
        client = Client(base_url=endpoint.removesuffix("/v1/traces"))
        samples = run.samples_frame()
        roots = store.sql(
            "SELECT span_id FROM spans WHERE kind = 'AGENT' AND execution_id IN (SELECT unnest(?))",
            [list(samples["execution_id"])],
        )
        _spans(client, "quiz", len(store.sql("SELECT 1 FROM spans")))
        sent = annotate_run_in_phoenix(run.run_id, store=store, client=client)
        assert sent == 2 * len(samples)  # numeric and includes, per sample
        frame = client.spans.get_span_annotations_dataframe(
            span_ids=list(roots["span_id"]), project_identifier="quiz"
        )
        assert set(frame["annotation_name"]) == {"numeric", "includes"}
        assert set(frame["annotator_kind"]) == {"CODE"}
        assert set(frame["result.label"]) == {"pass"}
        # Annotating again updates, it does not add copies.
        annotate_run_in_phoenix(run.run_id, store=store, client=client)
        again = client.spans.get_span_annotations_dataframe(
            span_ids=list(roots["span_id"]), project_identifier="quiz"
        )
        assert len(again) == len(frame)
    finally:
        set_tracer(previous)
        tracer.shutdown()
        sys.modules.pop("eval_fixture_models", None)


def test_phoenix_stopped_mid_run_slows_nothing_and_loses_nothing_locally(
    phoenix_home: Settings,
) -> None:
    endpoint = phoenix_endpoint(phoenix_home)
    assert endpoint is not None
    spool = phoenix_home.home / "spool-b"
    exporter = OtlpExporter(endpoint, max_buffer=8, backoff_initial_s=0.05, shutdown_timeout_s=0.2)
    tracer = Tracer([SpoolExporter(spool), exporter], flush_interval_s=0.01)
    exporter.bind(tracer)
    before = _run(phoenix_home, tracer, [(f"task {i}", f"t{i}") for i in range(4)])
    assert exporter.flush(15)
    assert exporter.stats.dropped == 0
    assert stop_service("phoenix", settings=phoenix_home)
    after = _run(phoenix_home, tracer, [(f"task {i}", f"u{i}") for i in range(4)])
    assert [r.status.value for r in before + after] == ["completed"] * 8

    # The loop did not wait for the dead collector: same latency as while it was up.
    up = sorted(r.latency_s for r in before)[1:3]
    down = sorted(r.latency_s for r in after)[1:3]
    assert sum(down) / 2 < 2 * sum(up) / 2 + 0.05, (up, down)

    assert not exporter.flush(0.3)  # records the pending drop count now
    stats = exporter.stats
    assert stats.dropped > 0
    assert stats.dropped + stats.buffered == 4 * 6
    assert tracer.flush()
    tracer.shutdown()

    store = TraceStore(phoenix_home.home / "b.duckdb", spool_dir=spool)
    assert store.sql("SELECT count(*) AS n FROM spans")["n"].iloc[0] == 8 * 6
    recorded = store.sql(
        "SELECT sum(CAST(row ->> 'dropped' AS INT)) AS n FROM records"
        " WHERE table_name = 'operations_events' AND (row ->> 'kind') = 'telemetry_dropped'"
    )["n"].iloc[0]
    assert recorded == stats.dropped
