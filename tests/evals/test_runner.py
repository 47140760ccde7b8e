"""The runner: gate exit codes, epochs and reducers, adaptive concurrency, timeouts,
the cost forecast and cap, cancel and resume, and use inside a running event loop."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from pathlib import Path

import eval_fixture_models
import pandas as pd
import pytest
from eval_helpers import FIXTURES, quiz_suite
from typer.testing import CliRunner

from workbench.cli import app
from workbench.errors import EvalCostCapExceeded, RunNotFound
from workbench.evals import EvalRun, ScorerSpec, arun_suite, reduce_epochs, rescore, run_suite
from workbench.models import get_scripted_model
from workbench.tracing import TraceStore

pytestmark = pytest.mark.anyio


def _rows(run_id: str) -> pd.DataFrame:
    return TraceStore().sql(
        "SELECT version, sample_id, epoch, status FROM eval_samples WHERE run_id = ?", [run_id]
    )


@pytest.mark.parametrize(("suite", "code"), [("improve", 0), ("regress", 1), ("level", 0)])
def test_gate_exit_codes(suite: str, code: int) -> None:
    result = CliRunner().invoke(app, ["eval", str(FIXTURES / f"{suite}.yaml"), "--json"])
    assert result.exit_code == code, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["gate"]["passed"] is (code == 0)
    assert data["samples"] == 60
    assert data["ran_now"] == 60
    numeric = {m["metric"]: m for m in data["comparison"]}["numeric"]
    expected = {"improve": 1, "regress": -1, "level": 0}[suite]
    assert (numeric["mean_diff"] > 0) - (numeric["mean_diff"] < 0) == expected


def test_exit_code_2_when_the_run_itself_fails(tmp_path: Path) -> None:
    bad = quiz_suite(tmp_path, "bad", extra="colour: blue\n")
    result = CliRunner().invoke(app, ["eval", str(bad)])
    assert result.exit_code == 2
    assert "[suite_invalid]" in result.output
    result = CliRunner().invoke(app, ["eval", str(FIXTURES / "level.yaml"), "--resume", "ev-x"])
    assert result.exit_code == 2
    assert "[run_not_found]" in result.output


def test_runs_list_and_show(tmp_path: Path) -> None:
    run = run_suite(quiz_suite(tmp_path, "lst", v2="quiz_wrong40"), progress="none")
    listed = CliRunner().invoke(app, ["runs", "list", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [(r["run_id"], r["status"], r["samples_done"], r["gate_passed"]) for r in rows] == [
        (run.run_id, "completed", 24, False)
    ]
    shown = CliRunner().invoke(app, ["runs", "show", run.run_id, "--json"])
    assert shown.exit_code == 0
    data = json.loads(shown.stdout)
    rates = {(m["version"], m["metric"]): m["pass_rate"] for m in data["metrics"]}
    assert rates[("v1", "numeric")] == 1.0
    assert rates[("v2", "numeric")] < 1.0
    assert CliRunner().invoke(app, ["runs", "show", "ev-nope"]).exit_code == 2


def test_frames_follow_the_contract(tmp_path: Path) -> None:
    run = run_suite(quiz_suite(tmp_path, "fr", v2="quiz_wrong40"), progress="none")
    scores = run.scores_frame()
    assert list(scores.columns) == ["version", "sample_id", "epoch", "metric", "value", "passed"]
    assert set(scores["metric"]) == {"numeric", "cost_usd", "latency_ms"}
    assert str(scores["passed"].dtype) == "boolean"
    assert scores[scores.metric == "cost_usd"]["passed"].isna().all()
    samples = run.samples_frame()
    assert len(samples) == 24
    assert samples.groupby(["version", "sample_id", "epoch"]).ngroups == 24
    assert (samples["status"] == "completed").all()
    assert (samples["cost_usd"] > 0).all()
    # The same run read back in a fresh object, from the store alone.
    again = EvalRun.load(run.run_id)
    pd.testing.assert_frame_equal(again.scores_frame(), scores)


def test_reducers_mean_pass_at_k_pass_hat_k() -> None:
    passed = [True, False, False, False, True, True, True, False]
    frame = pd.DataFrame(
        {
            "version": ["v1"] * 8,
            "sample_id": ["a"] * 4 + ["b"] * 4,
            "epoch": [0, 1, 2, 3] * 2,
            "metric": ["m"] * 8,
            "value": [float(p) for p in passed],
            "passed": pd.array(passed, dtype="boolean"),
        }
    )
    mean = reduce_epochs(frame, "mean", 2).set_index("sample_id")["value"]
    assert mean.to_dict() == {"a": 0.25, "b": 0.75}
    at_k = reduce_epochs(frame, "pass_at_k", 2).set_index("sample_id")["value"]
    # n=4: a has c=1 -> 1 - C(3,2)/C(4,2) = 0.5; b has c=3 -> 1 - 0 = 1.
    assert at_k.to_dict() == {"a": 0.5, "b": 1.0}
    hat_k = reduce_epochs(frame, "pass_hat_k", 2).set_index("sample_id")["value"]
    # a: C(1,2)/C(4,2) = 0; b: C(3,2)/C(4,2) = 0.5.
    assert hat_k.to_dict() == {"a": 0.0, "b": 0.5}


def test_epochs_run_every_sample_k_times_and_reduce(tmp_path: Path) -> None:
    path = quiz_suite(
        tmp_path, "ep", v1="quiz_flaky", gate=False, extra="epochs: 3\nreducer: pass_at_k\nk: 2\n"
    )
    run = run_suite(path, versions=["v1"], progress="none")
    rows = _rows(run.run_id)
    assert len(rows) == 36
    assert sorted(set(rows["epoch"])) == [0, 1, 2]
    reduced = run.reduced_frame()
    numeric = reduced[reduced.metric == "numeric"]
    assert len(numeric) == 12
    assert set(numeric["epoch"]) == {0}
    # Every sample passed at least once in three epochs of an alternating model, and
    # failed at least once, so pass@2 is in (0.5, 1]: 2/3 or 1.
    raw = run.scores_frame()
    raw = raw[raw.metric == "numeric"].groupby("sample_id")["passed"].sum()
    for sample_id, value in numeric.set_index("sample_id")["value"].items():
        c = int(raw[sample_id])
        assert value == pytest.approx(
            1 - math.comb(3 - c, 2) / math.comb(3, 2) if 3 - c >= 2 else 1
        )


def test_concurrency_halves_on_429s_and_grows_back(tmp_path: Path) -> None:
    server = eval_fixture_models.RATE_LIMITED
    server.rejected = 0
    path = quiz_suite(
        tmp_path,
        "rl",
        v1="quiz_limited",
        dataset="quiz.jsonl",
        gate=False,
        extra="epochs: 4\nconcurrency: 16\n",
    )
    run = run_suite(path, versions=["v1"], progress="none")
    changes = run.info["concurrency_changes"]
    assert server.rejected > 0
    decreases = [c for c in changes if c.reason == "rate_limited"]
    assert decreases
    assert decreases[0].limit == 8
    assert min(c.limit for c in changes) <= 4
    first = changes.index(decreases[0])
    assert any(c.reason == "recovered" for c in changes[first:])  # grew back by +1 steps
    steps = [b.limit - a.limit for a, b in itertools.pairwise(changes)]
    assert all(s == 1 for s, c in zip(steps, changes[1:], strict=False) if c.reason == "recovered")
    samples = run.samples_frame()
    assert len(samples) == 120
    assert (samples["status"] == "completed").all()


def test_per_sample_timeout_is_a_result_not_a_crash(tmp_path: Path) -> None:
    path = quiz_suite(
        tmp_path,
        "to",
        v1="quiz_stuck",
        gate=False,
        extra="sample_timeout_s: 0.3\nconcurrency: 12\n",
    )
    run = run_suite(path, versions=["v1"], progress="none")
    samples = run.samples_frame()
    assert len(samples) == 12
    assert set(samples["status"]) == {"timeout"}
    assert samples["error"].str.contains("timed out after 0.3s").all()
    assert (samples["latency_ms"] < 5000).all()
    assert not run.scores_frame().query("metric == 'numeric'")["passed"].any()


@pytest.mark.parametrize("workers", [1, 2])
def test_forecast_over_the_cap_stops_before_spending(tmp_path: Path, workers: int) -> None:
    path = quiz_suite(
        tmp_path,
        "cap",
        v1="quiz_pricey",
        gate=False,
        extra=f"cost_cap_usd: 0.02\nforecast_samples: 4\nconcurrency: 8\nworkers: {workers}\n",
    )
    started: list[str] = []
    with pytest.raises(EvalCostCapExceeded, match=r"forecast \$.* exceeds cost_cap_usd \$0\.02"):
        run_suite(path, versions=["v1"], progress="none", on_start=started.append)
    assert len(_rows(started[0])) == 4  # only the forecast's samples ran
    executions = TraceStore().sql(
        "SELECT count(*) AS n FROM executions WHERE execution_id LIKE ?", [started[0] + "%"]
    )
    assert int(executions["n"].iloc[0]) == 4
    state = TraceStore().sql("SELECT status, forecast_usd FROM eval_runs")
    assert state["status"].tolist() == ["cost_cap_exceeded"]
    assert state["forecast_usd"].iloc[0] > 0.02


def test_hard_cap_stops_a_run_whose_costs_grow(tmp_path: Path) -> None:
    path = quiz_suite(
        tmp_path,
        "grow",
        v1="quiz_growing",
        dataset="quiz_growing.jsonl",
        gate=False,
        extra="cost_cap_usd: 0.05\nforecast_samples: 5\nconcurrency: 1\n",
    )
    started: list[str] = []
    with pytest.raises(EvalCostCapExceeded, match="over cost_cap_usd"):
        run_suite(path, versions=["v1"], progress="none", on_start=started.append)
    rows = TraceStore().sql(
        "SELECT sample_id, cost_usd FROM eval_samples WHERE run_id = ? ORDER BY sample_id",
        [started[0]],
    )
    # g00..g19 cost micro-dollars; g20 costs $0.12 and crosses the cap: nothing after it.
    assert rows["sample_id"].tolist() == [f"g{i:02d}" for i in range(21)]
    assert rows["cost_usd"].iloc[:20].sum() < 0.001


# litellm builds the provider's coroutine on an executor thread and awaits it after the
# thread returns; a cancel in between leaves it never awaited (a warning, no leak).
@pytest.mark.filterwarnings(
    "ignore:coroutine 'ScriptedProvider.acompletion' was never awaited:RuntimeWarning"
)
async def test_cancel_then_resume_runs_only_unfinished_samples(tmp_path: Path) -> None:
    path = quiz_suite(tmp_path, "cx", v1="quiz_slow", v2="quiz_slow", extra="concurrency: 4\n")
    model = get_scripted_model("quiz_slow")

    class CancelAfter:
        def __init__(self) -> None:
            self.done = 0
            self.reached = asyncio.Event()

        def start(self, total: int, done: int, description: str) -> None:
            pass

        def advance(self, *, cost_usd: float, failed: bool) -> None:
            self.done += 1
            if self.done >= 6:
                self.reached.set()

        def note(self, text: str) -> None:
            pass

        def close(self) -> None:
            pass

    started: list[str] = []
    progress = CancelAfter()
    task = asyncio.create_task(arun_suite(path, progress=progress, on_start=started.append))
    await asyncio.wait_for(progress.reached.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    run_id = started[0]
    finished = len(_rows(run_id))
    assert 6 <= finished < 24
    status = TraceStore().sql("SELECT status FROM eval_runs WHERE run_id = ?", [run_id])
    assert status["status"].tolist() == ["cancelled"]

    calls_before = len(model.calls)
    run = await arun_suite(path, run_id=run_id, progress="none")
    assert len(model.calls) - calls_before == 24 - finished  # one call per unfinished sample
    assert run.info["done_before"] == finished
    assert run.info["done_now"] == 24 - finished
    rows = _rows(run_id)
    assert len(rows) == 24
    assert rows.groupby(["version", "sample_id", "epoch"]).ngroups == 24
    assert run.status == "completed"
    assert run.gate() is not None


def test_resume_of_an_unknown_run_is_run_not_found() -> None:
    with pytest.raises(RunNotFound):
        run_suite(FIXTURES / "level.yaml", run_id="ev-missing", progress="none")


def test_sync_api_inside_a_running_event_loop(tmp_path: Path) -> None:
    path = quiz_suite(tmp_path, "nb", v2="quiz_wrong40")

    async def cell() -> EvalRun:
        # As in a Jupyter cell: a loop is running and the user calls the sync API.
        asyncio.get_running_loop()
        return run_suite(path, progress="none")

    run = asyncio.run(cell())
    assert run.gate() is not None
    assert run.gate().passed is False


def test_rescore_from_the_log_without_running_agents(tmp_path: Path) -> None:
    run = run_suite(quiz_suite(tmp_path, "rs", v2="quiz_wrong40"), progress="none")
    calls = len(get_scripted_model("quiz_wrong40").calls)
    same = rescore(run.run_id)  # the scorers recorded with the run, rebuilt from the log
    assert len(get_scripted_model("quiz_wrong40").calls) == calls
    pd.testing.assert_frame_equal(
        same.scores_frame().drop(columns="value").reset_index(drop=True),
        run.scores_frame().drop(columns="value").reset_index(drop=True),
    )
    looser = rescore(
        run.run_id, ["numeric", ScorerSpec(name="latency_below", args={"max_ms": 1e9})]
    )
    frame = looser.scores_frame()
    assert set(frame["metric"]) == {"numeric", "latency_below", "cost_usd", "latency_ms"}
