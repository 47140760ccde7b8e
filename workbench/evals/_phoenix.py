"""Eval scores and judge verdicts as Phoenix annotations on the spans they judge.

Each sample of an eval run judged an execution; that execution's root ``AGENT`` span
(the same span id in the trace store and in Phoenix, since spans are exported with
their ids) receives one annotation per scorer (annotator ``CODE``) and one for the
judge (annotator ``LLM``), each with its score, a ``pass``/``fail`` label and the
explanation. The annotation's identifier is ``<run id>:<epoch>``, so annotating a run
again updates its annotations instead of adding copies.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from workbench.errors import RunNotFound, ServiceError
from workbench.evals._records import load_sample_rows
from workbench.tracing import TraceStore, phoenix_endpoint

if TYPE_CHECKING:
    from phoenix.client import Client

__all__ = ["annotate_run_in_phoenix", "phoenix_base_url"]

_log = logging.getLogger(__name__)
_BATCH = 500


def phoenix_base_url() -> str | None:
    """The base URL of the configured or running Phoenix (from its OTLP endpoint)."""
    endpoint = phoenix_endpoint()
    if endpoint is None:
        return None
    return endpoint.removesuffix("/v1/traces")


def _root_spans(store: TraceStore, execution_ids: list[str]) -> dict[str, str]:
    if not execution_ids:
        return {}
    frame = store.sql(
        "SELECT s.execution_id, s.span_id FROM spans s"
        " WHERE s.kind = 'AGENT' AND s.execution_id IN (SELECT unnest(?))"
        " AND (s.parent_id IS NULL OR s.parent_id NOT IN"
        "      (SELECT span_id FROM spans p WHERE p.execution_id = s.execution_id))",
        [execution_ids],
    )
    return dict(zip(frame["execution_id"], frame["span_id"], strict=True))


def _result(score: Any, passed: Any, explanation: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if isinstance(score, (int, float)) and not isinstance(score, bool):
        result["score"] = float(score)
    if isinstance(passed, bool):
        result["label"] = "pass" if passed else "fail"
    if explanation:
        result["explanation"] = str(explanation)[:2000]
    return result


def annotate_run_in_phoenix(
    run_id: str,
    *,
    store: TraceStore | None = None,
    base_url: str | None = None,
    client: Client | None = None,
) -> int:
    """Attach a run's scores and judge verdicts to its executions' spans in Phoenix.

    Args:
        run_id: The eval run.
        store: The trace store the run is recorded in (the default one if omitted).
        base_url: Phoenix's base URL; the configured or running one if omitted.
        client: A ``phoenix.client.Client`` to use instead.

    Returns:
        How many annotations were sent.

    Raises:
        RunNotFound: The store has no samples of ``run_id``.
        ServiceError: No Phoenix is configured or running, or it refused the annotations.
    """
    store = store or TraceStore()
    rows = load_sample_rows(store, run_id)
    if not rows:
        raise RunNotFound(f"no samples of eval run {run_id!r} in the trace store")
    if client is None:
        url = base_url or phoenix_base_url()
        if url is None:
            raise ServiceError(
                "no Phoenix to annotate: start one with `workbench services up phoenix`"
                " or set WORKBENCH_PHOENIX_ENDPOINT"
            )
        from phoenix.client import Client

        client = Client(base_url=url)
    roots = _root_spans(store, sorted({str(r["execution_id"]) for r in rows}))
    annotations: list[Any] = []
    for row in rows:
        span_id = roots.get(str(row.get("execution_id")))
        if span_id is None:
            continue
        meta = {
            "run_id": run_id,
            "suite": row.get("suite"),
            "version": row.get("version"),
            "sample_id": row.get("sample_id"),
            "epoch": row.get("epoch"),
        }
        identifier = f"{run_id}:{row.get('epoch', 0)}"
        for name, score in (row.get("scores") or {}).items():
            result = _result(score.get("value"), score.get("passed"), score.get("explanation"))
            annotations.append(
                {
                    "name": name,
                    "annotator_kind": "CODE",
                    "span_id": span_id,
                    "result": result,
                    "metadata": {**meta, "args": score.get("args") or {}},
                    "identifier": identifier,
                }
            )
        judge = row.get("judge")
        if isinstance(judge, dict) and judge:
            result = _result(judge.get("score"), judge.get("passed"), judge.get("reason"))
            annotations.append(
                {
                    "name": "judge",
                    "annotator_kind": "LLM",
                    "span_id": span_id,
                    "result": result,
                    "metadata": {**meta, "model": judge.get("model")},
                    "identifier": identifier,
                }
            )
    try:
        for start in range(0, len(annotations), _BATCH):
            client.spans.log_span_annotations(
                span_annotations=annotations[start : start + _BATCH], sync=True
            )
    except Exception as exc:
        raise ServiceError(f"Phoenix refused the annotations of run {run_id}: {exc}") from exc
    return len(annotations)
