"""Model routing: fallbacks after the runtime's retries, and the response cache; both in spans."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from workbench.models import (
    RateLimitFault,
    ServerErrorFault,
    Turn,
    clear_response_cache,
    get_scripted_model,
    register_script,
)
from workbench.runtime import AgentSpec, ExecutionStatus, Runtime
from workbench.tracing import TraceStore

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_response_cache()
    yield
    clear_response_cache()


def _spec(model: str, **extra: object) -> AgentSpec:
    return AgentSpec.from_dict(
        {
            "name": "router",
            "model": model,
            "system_prompt": "You help.",
            "limits": {"max_retries": 2, "backoff_base_s": 0.0, "backoff_max_s": 0.0},
            **extra,
        }
    )


async def test_the_next_model_answers_once_the_first_exhausts_its_retries() -> None:
    down = register_script(
        "route-down",
        lambda m, t: Turn(text="never", faults=[ServerErrorFault(status=503)] * 10),
    )
    limited = register_script(
        "route-limited",
        lambda m, t: Turn(text="never", faults=[RateLimitFault(retry_after_s=0.0)] * 10),
    )
    backup = register_script("route-backup", [Turn.final("from the backup")])
    runtime = Runtime()
    try:
        result = await runtime.arun(
            _spec(down, fallbacks=[limited, backup]), "hello", on_event=(events := []).append
        )
    finally:
        await runtime.aclose()
    assert result.status is ExecutionStatus.COMPLETED
    assert result.answer == "from the backup"
    # 1 try + 2 retries on each failing model, then the backup.
    assert len(get_scripted_model("route-down").calls) == 3
    assert len(get_scripted_model("route-limited").calls) == 3
    fallbacks = [e.text for e in events if e.type == "retry" and "falling back" in (e.text or "")]
    assert fallbacks == [
        f"model_server_error; falling back to {limited}",
        f"model_rate_limited; falling back to {backup}",
    ]
    spans = TraceStore().sql(
        "SELECT model, status, error_type, attributes ->> 'workbench.model.answered' AS answered"
        " FROM spans WHERE kind = 'LLM' AND execution_id = ? ORDER BY start_time",
        [result.execution_id],
    )
    assert list(spans["model"]) == [down] * 3 + [limited] * 3 + [backup]
    assert list(spans["status"]) == ["ERROR"] * 6 + ["OK"]
    assert spans["answered"].iloc[-1] == backup


async def test_a_non_retryable_error_does_not_fall_back() -> None:
    from workbench.errors import ModelError, ModelServerError
    from workbench.models import next_model

    models = ["a", "b"]
    assert next_model(models, "a", ModelServerError("x"), retries_left=False) == "b"
    assert next_model(models, "a", ModelServerError("x"), retries_left=True) is None
    assert next_model(models, "a", ModelError("bad request"), retries_left=False) is None
    assert next_model(models, "b", ModelServerError("x"), retries_left=False) is None


@pytest.mark.parametrize(
    ("temperature", "force", "cached"),
    [(None, False, True), (0.0, False, True), (0.7, False, False), (0.7, True, True)],
)
async def test_the_response_cache_serves_repeats_at_zero_cost(
    temperature: float | None, force: bool, cached: bool
) -> None:
    name = f"route-cache-{temperature}-{force}"
    model = register_script(name, lambda m, t: Turn.final("cached answer"))
    spec = _spec(model, temperature=temperature, response_cache={"ttl_s": 60, "force": force})
    runtime = Runtime()
    try:
        first = await runtime.arun(spec, "same question")
        second = await runtime.arun(spec, "same question")
    finally:
        await runtime.aclose()
    assert first.answer == second.answer == "cached answer"
    assert first.cost_usd > 0
    assert len(get_scripted_model(name).calls) == (1 if cached else 2)
    assert (second.cost_usd == 0) is cached
    hits = TraceStore().sql(
        "SELECT (attributes ->> 'workbench.cache_hit')::BOOLEAN AS hit, cost_usd FROM spans"
        " WHERE kind = 'LLM' AND execution_id = ?",
        [second.execution_id],
    )
    assert list(hits["hit"]) == [cached]
    costs = TraceStore().cost(["version"])
    assert costs["cost_usd"].iloc[0] == pytest.approx(first.cost_usd + second.cost_usd)


async def test_no_cache_unless_the_spec_asks() -> None:
    model = register_script("route-nocache", lambda m, t: Turn.final("fresh"))
    runtime = Runtime()
    try:
        for _ in range(2):
            await runtime.arun(_spec(model), "same question")
    finally:
        await runtime.aclose()
    assert len(get_scripted_model("route-nocache").calls) == 2
