"""The LLM judge on scripted judges: verdicts, repair, cache, both presentation orders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from workbench.errors import ConfigError, JudgeError
from workbench.evals._judge import (
    PairwiseJudge,
    RubricJudge,
    pairwise_frame,
    position_consistency,
)
from workbench.evals._judge_cache import JudgeCache
from workbench.testing import Turn, get_scripted_model, register_script

RUBRIC = "The answer names the right region and gives its revenue."


def _reply(**fields: Any) -> Turn:
    return Turn.final(json.dumps(fields))


@pytest.fixture
def cache(tmp_path: Path) -> Any:
    with JudgeCache(tmp_path / "judge.sqlite") as opened:
        yield opened


@pytest.mark.anyio
async def test_rubric_verdict_is_normalised_and_costed(cache: JudgeCache) -> None:
    model = register_script("judge-rubric", [_reply(score=4, reason="Right region, no revenue.")])
    judge = RubricJudge(model, RUBRIC, pass_threshold=0.75, cache=cache)
    verdict = await judge.agrade(input="Which region?", output="North", target="North, $61k")
    assert verdict.score == pytest.approx(0.75)
    assert verdict.passed
    assert verdict.reason == "Right region, no revenue."
    assert verdict.cost_usd > 0
    assert not verdict.cached
    assert verdict.model == model
    request = get_scripted_model(model).calls[0].messages
    assert "REFERENCE ANSWER:\nNorth, $61k" in request[-1]["content"]
    assert RUBRIC in request[-1]["content"]


@pytest.mark.anyio
async def test_cache_hit_costs_nothing_and_does_not_call_the_model(cache: JudgeCache) -> None:
    model = register_script("judge-cached", lambda messages, tools: _reply(score=2, reason="Weak."))
    judge = RubricJudge(model, RUBRIC, pass_threshold=0.5, cache=cache)
    first = await judge.agrade(input="q", output="a", target=None)
    second = await judge.agrade(input="q", output="a", target=None)
    assert first.cost_usd > 0
    assert not first.cached
    assert second.cached
    assert second.cost_usd == 0.0
    assert (second.score, second.passed) == (first.score, first.passed)
    assert len(get_scripted_model(model).calls) == 1
    assert (cache.hits, cache.misses) == (1, 1)
    # A different output is a different request: a miss.
    third = await judge.agrade(input="q", output="another answer", target=None)
    assert not third.cached
    assert len(get_scripted_model(model).calls) == 2


def test_default_cache_lives_in_the_workbench_home(workbench_home: Path) -> None:
    model = register_script("judge-home", lambda messages, tools: _reply(score=5, reason="Good."))
    judge = RubricJudge(model, RUBRIC, pass_threshold=0.5)
    judge.grade(input="q", output="a")
    assert judge.cache is not None
    assert judge.cache.path == workbench_home.resolve() / "judge-cache.sqlite"
    assert len(judge.cache) == 1
    judge.cache.close()


@pytest.mark.anyio
async def test_no_cache_calls_the_model_every_time() -> None:
    model = register_script("judge-nocache", lambda messages, tools: _reply(score=3, reason="Ok."))
    judge = RubricJudge(model, RUBRIC, pass_threshold=0.5, cache=None)
    await judge.agrade(input="q", output="a")
    verdict = await judge.agrade(input="q", output="a")
    assert not verdict.cached
    assert verdict.score == pytest.approx(0.5)
    assert len(get_scripted_model(model).calls) == 2


@pytest.mark.anyio
async def test_malformed_reply_is_repaired_once(cache: JudgeCache) -> None:
    model = register_script(
        "judge-repair",
        [Turn.final("I think it is good, score 4"), _reply(score=5, reason="Complete.")],
    )
    judge = RubricJudge(model, RUBRIC, pass_threshold=0.75, cache=cache)
    verdict = await judge.agrade(input="q", output="a")
    assert verdict.score == pytest.approx(1.0)
    calls = get_scripted_model(model).calls
    assert len(calls) == 2
    repair = calls[1].messages
    assert repair[-2] == {"role": "assistant", "content": "I think it is good, score 4"}
    assert "not a JSON object" in repair[-1]["content"]
    # Both calls were paid for.
    assert verdict.cost_usd > 0
    get_scripted_model(model).assert_consumed()


@pytest.mark.anyio
async def test_a_second_malformed_reply_raises_judge_error(cache: JudgeCache) -> None:
    model = register_script(
        "judge-broken", [_reply(score=9, reason="Great."), Turn.final('{"score": "high"}')]
    )
    judge = RubricJudge(model, RUBRIC, pass_threshold=0.5, cache=cache)
    with pytest.raises(JudgeError) as caught:
        await judge.agrade(input="q", output="a")
    assert caught.value.code == "judge_error"
    assert "after one repair" in caught.value.message
    calls = get_scripted_model(model).calls
    assert len(calls) == 2
    assert "from 1 to 5, got 9" in calls[1].messages[-1]["content"]


@pytest.mark.anyio
async def test_fenced_json_is_accepted(cache: JudgeCache) -> None:
    fenced = '```json\n{"score": 1, "reason": "Wrong region."}\n```'
    model = register_script("judge-fenced", [Turn.final(fenced)])
    judge = RubricJudge(model, RUBRIC, pass_threshold=0.5, cache=cache)
    verdict = await judge.agrade(input="q", output="South")
    assert (verdict.score, verdict.passed) == (0.0, False)


def test_sync_grade_and_bad_configuration(cache: JudgeCache) -> None:
    model = register_script("judge-sync", lambda messages, tools: _reply(score=4, reason="Fine."))
    verdict = RubricJudge(model, RUBRIC, pass_threshold=0.9, cache=cache).grade(
        input="q", output="a"
    )
    assert (verdict.score, verdict.passed) == (0.75, False)
    with pytest.raises(ConfigError):
        RubricJudge(model, RUBRIC, pass_threshold=4, cache=None)
    with pytest.raises(ConfigError):
        RubricJudge(model, "  ", pass_threshold=0.5, cache=None)


# --- pairwise ----------------------------------------------------------------------------


def _prefers_first(messages: list[dict[str, Any]], tools: Any) -> Turn:
    return _reply(winner="1", reason="The first response is better.")


def _prefers_good(messages: list[dict[str, Any]], tools: Any) -> Turn:
    user = messages[-1]["content"]
    first = user.split("RESPONSE 1:\n", 1)[1].split("\n\nRESPONSE 2:", 1)[0]
    return _reply(winner="1" if "GOOD" in first else "2", reason="It is the GOOD one.")


@pytest.mark.anyio
async def test_position_biased_judge_is_caught_by_swapping_orders(cache: JudgeCache) -> None:
    model = register_script("judge-biased", _prefers_first)
    judge = PairwiseJudge(model, RUBRIC, cache=cache)
    verdict = await judge.acompare(input="q", output_a="GOOD answer", output_b="bad answer")
    first, swapped = verdict.verdicts
    assert (first.order, first.winner) == ("ab", "a")
    assert (swapped.order, swapped.winner) == ("ba", "b")
    assert not verdict.consistent
    assert verdict.winner == "tie"
    assert verdict.cost_usd == pytest.approx(first.cost_usd + swapped.cost_usd)
    shown_first = [
        c.messages[-1]["content"].split("RESPONSE 1:\n")[1][:4]
        for c in get_scripted_model(model).calls
    ]
    assert sorted(shown_first) == ["GOOD", "bad "]
    assert position_consistency([verdict]) == 0.0


@pytest.mark.anyio
async def test_fair_judge_is_consistent_in_both_orders(cache: JudgeCache) -> None:
    fair = PairwiseJudge(register_script("judge-fair", _prefers_good), RUBRIC, cache=cache)
    biased = PairwiseJudge(register_script("judge-biased2", _prefers_first), RUBRIC, cache=cache)
    b_wins = await fair.acompare(input="q", output_a="bad answer", output_b="GOOD answer")
    a_wins = await fair.acompare(input="q", output_a="GOOD answer", output_b="bad answer")
    assert (b_wins.winner, b_wins.consistent) == ("b", True)
    assert (a_wins.winner, a_wins.consistent) == ("a", True)
    biased_verdict = await biased.acompare(input="q", output_a="GOOD", output_b="bad")
    assert position_consistency([b_wins, a_wins, biased_verdict]) == pytest.approx(2 / 3)
    frame = pairwise_frame({"s1": b_wins, "s2": biased_verdict})
    assert list(frame.columns) == [
        "sample_id",
        "winner",
        "consistent",
        "first_order_winner",
        "swapped_order_winner",
        "cost_usd",
    ]
    assert frame["winner"].tolist() == ["b", "tie"]
    assert frame["consistent"].tolist() == [True, False]
    assert isinstance(frame, pd.DataFrame)


@pytest.mark.anyio
async def test_pairwise_tie_and_cached_second_comparison(cache: JudgeCache) -> None:
    model = register_script("judge-tie", lambda m, t: _reply(winner="tie", reason="Same."))
    judge = PairwiseJudge(model, RUBRIC, cache=cache)
    first = await judge.acompare(input="q", output_a="x", output_b="y")
    again = await judge.acompare(input="q", output_a="x", output_b="y")
    assert (first.winner, first.consistent) == ("tie", True)
    assert again.cost_usd == 0.0
    assert all(v.cached for v in again.verdicts)
    assert len(get_scripted_model(model).calls) == 2


@pytest.mark.anyio
async def test_worked_examples_go_in_the_system_message_or_as_turns(cache: JudgeCache) -> None:
    model = register_script("judge-shots", lambda m, t: _reply(score=3, reason="Half."))
    plain = RubricJudge(model, RUBRIC, pass_threshold=0.5, cache=cache)
    turns = RubricJudge(model, RUBRIC, pass_threshold=0.5, cache=cache, few_shot_turns=True)
    in_system = plain.messages(input="q", output="a", target=None)
    as_turns = turns.messages(input="q", output="a", target=None)
    assert [m["role"] for m in in_system] == ["system", "user"]
    assert '{"score": 1, "reason": "The right number is 4, not 5."}' in in_system[0]["content"]
    assert [m["role"] for m in as_turns] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert as_turns[-1] == in_system[-1]
    verdict = await turns.agrade(input="q", output="a")
    assert verdict.score == pytest.approx(0.5)
    assert get_scripted_model(model).calls[0].turn_index == 2
    pairwise = PairwiseJudge(model, RUBRIC, cache=None, few_shot_turns=True)
    assert len(pairwise.messages(input="q", first="x", second="y")) == 6
