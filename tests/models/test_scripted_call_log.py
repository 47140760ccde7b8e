"""Scripted models on the hot path: a bounded call log, and litellm told our prices."""

from __future__ import annotations

import pytest

from workbench.errors import ConfigError
from workbench.models import Turn, acomplete, cost_usd, get_scripted_model, register_script

USER = [{"role": "user", "content": "What is 2 + 2?"}]


@pytest.mark.anyio
async def test_call_log_keeps_the_newest_and_counts_all(name: str) -> None:
    model = register_script(
        name, lambda messages, tools: Turn.final(str(messages[-1]["content"])), keep_calls=3
    )
    for i in range(5):
        await acomplete(model, [{"role": "user", "content": f"q{i}"}], timeout_s=5)
    scripted = get_scripted_model(name)
    assert scripted.call_count == 5
    assert [c.messages[-1]["content"] for c in scripted.calls] == ["q2", "q3", "q4"]
    assert [c.outcome for c in scripted.calls] == ["ok", "ok", "ok"]


@pytest.mark.anyio
async def test_call_log_of_zero_keeps_nothing_but_counts(name: str) -> None:
    model = register_script(name, [Turn.final("4")], keep_calls=0)
    await acomplete(model, USER, timeout_s=5)
    assert get_scripted_model(name).calls == []
    assert get_scripted_model(name).call_count == 1


def test_negative_call_log_is_a_config_error(name: str) -> None:
    with pytest.raises(ConfigError, match="keep_calls"):
        register_script(name, [Turn.final("4")], keep_calls=-1)


def test_litellm_reports_the_same_cost_as_we_do(name: str) -> None:
    from workbench.models._litellm import get_litellm

    litellm = get_litellm()
    model = register_script(
        name,
        [Turn.final("4", prompt_tokens=1_000, completion_tokens=100)],
        input_per_mtok=2.0,
        output_per_mtok=8.0,
    )
    response = litellm.completion(model=model, messages=USER, num_retries=0)
    ours = cost_usd(model, 1_000, 100)
    assert ours == pytest.approx(1_000 * 2e-6 + 100 * 8e-6)
    assert response._hidden_params["response_cost"] == pytest.approx(ours)
    # litellm's cost map knows the price, and follows a re-registration.
    assert litellm.model_cost[model]["input_cost_per_token"] == pytest.approx(2e-6)
    register_script(name, [Turn.final("4")], input_per_mtok=1.0, output_per_mtok=3.0)
    assert litellm.model_cost[model]["output_cost_per_token"] == pytest.approx(3e-6)
    prompt, completion = litellm.cost_per_token(
        model=model, prompt_tokens=1_000, completion_tokens=100
    )
    assert prompt + completion == pytest.approx(cost_usd(model, 1_000, 100))


def test_real_provider_prices_are_not_registered_with_litellm() -> None:
    from workbench.models import register_price
    from workbench.models._litellm import get_litellm

    litellm = get_litellm()
    register_price("acme/only-ours", input_per_mtok=3.0, output_per_mtok=15.0)
    assert "acme/only-ours" not in litellm.model_cost
