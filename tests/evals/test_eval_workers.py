"""Local worker processes (``workers: N``): the same rows as one process, every unit
exactly once when a worker is SIGKILLed, the cost cap across workers, and the CLI flag.

The pool of 2 processes is started once and stays warm across these tests (as it does
in a notebook), so only the first test pays the start-up.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import eval_fixture_models  # noqa: F401  (registers the quiz models in this process)
import pandas as pd
import pytest
from eval_helpers import FIXTURES, quiz_suite, sigkill_eval_midway
from typer.testing import CliRunner

from workbench.cli import app
from workbench.errors import EvalCostCapExceeded, EvalError
from workbench.evals import EvalRun, load_run_state, run_suite
from workbench.evals._workers import get_pool
from workbench.models import get_scripted_model
from workbench.tracing import TraceStore

_COMPARED = ["version", "sample_id", "epoch", "status", "answer", "cost_usd", "tokens", "scores"]


def _rows(run_id: str) -> pd.DataFrame:
    return TraceStore().sql(
        "SELECT version, sample_id, epoch, status, answer, cost_usd, tokens, scores::VARCHAR"
        " AS scores FROM eval_samples WHERE run_id = ? ORDER BY version, sample_id, epoch",
        [run_id],
    )


def _counts(run_id: str) -> pd.DataFrame:
    return TraceStore().sql(
        "SELECT version, sample_id, epoch, count(*) AS n FROM eval_samples WHERE run_id = ?"
        " GROUP BY ALL",
        [run_id],
    )


def test_two_workers_record_the_same_rows_as_one_process(tmp_path: Path) -> None:
    path = quiz_suite(tmp_path, "same", v1="quiz_right", v2="quiz_wrong40", extra="epochs: 2\n")
    one = run_suite(path, progress="none")
    right, wrong = get_scripted_model("quiz_right"), get_scripted_model("quiz_wrong40")
    calls_here = right.call_count + wrong.call_count
    two = run_suite(path, progress="none", workers=2)
    # The samples ran in the worker processes, not in this one.
    assert right.call_count + wrong.call_count == calls_here
    assert one.info["workers"] == 1
    assert two.info["workers"] == 2
    assert two.info["done_now"] == one.info["done_now"] == one.info["samples_planned"] > 40
    assert two.info["failed_now"] == 0
    assert two.info["spent_usd"] == pytest.approx(one.info["spent_usd"])
    pd.testing.assert_frame_equal(_rows(one.run_id)[_COMPARED], _rows(two.run_id)[_COMPARED])
    assert set(_counts(two.run_id)["n"]) == {1}
    verdict_one, verdict_two = one.gate(), two.gate()
    assert verdict_one is not None
    assert verdict_two is not None
    assert verdict_two.passed == verdict_one.passed
    assert verdict_two.reasons == verdict_one.reasons
    assert set(get_pool(2).pids).isdisjoint({os.getpid()})


def test_hard_cap_holds_across_workers_within_the_units_in_flight(tmp_path: Path) -> None:
    concurrency = 4
    path = quiz_suite(
        tmp_path,
        "grow",
        v1="quiz_growing",
        dataset="quiz_growing.jsonl",
        gate=False,
        extra=f"cost_cap_usd: 0.05\nforecast_samples: 5\nconcurrency: {concurrency}\n",
    )
    started: list[str] = []
    with pytest.raises(EvalCostCapExceeded, match="over cost_cap_usd"):
        run_suite(path, versions=["v1"], progress="none", on_start=started.append, workers=2)
    rows = TraceStore().sql(
        "SELECT sample_id, cost_usd FROM eval_samples WHERE run_id = ? ORDER BY recorded_at",
        [started[0]],
    )
    # Two processes finish units out of order, so which units ran is not fixed; what is:
    # once the recorded spend crosses the cap, dispatch stops, and only units already in
    # flight may still land: at most concurrency - 1 rows after the crossing one.
    spent = rows["cost_usd"].cumsum()
    assert spent.iloc[-1] > 0.05
    crossing = int((spent > 0.05).to_numpy().argmax())
    assert len(rows) - (crossing + 1) <= concurrency - 1
    assert len(rows) < 30  # the run stopped: the dataset has 30 samples
    state = TraceStore().sql("SELECT status FROM eval_runs WHERE run_id = ?", [started[0]])
    assert state["status"].tolist() == ["cost_cap_exceeded"]


def test_cli_workers_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["eval", str(FIXTURES / "improve.yaml"), "--json", "--workers", "2"]
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["ran_now"] == 60
    assert data["gate"]["passed"] is True
    assert load_run_state(TraceStore(), data["run_id"])["row"]["workers"] == 2

    bad = CliRunner().invoke(app, ["eval", str(FIXTURES / "improve.yaml"), "--workers", "0"])
    assert bad.exit_code == 2
    assert "[eval_error] workers must be a positive integer or 'auto'" in bad.output


def test_workers_and_queue_or_custom_seams_are_refused(tmp_path: Path) -> None:
    path = quiz_suite(tmp_path, "refuse")
    with pytest.raises(EvalError, match="exclude each other"):
        run_suite(path, progress="none", workers=2, queue="redis://127.0.0.1:1/0")
    with pytest.raises(EvalError, match="cannot travel to worker processes"):
        run_suite(path, progress="none", workers=2, on_sample=lambda unit: contextlib.nullcontext())


def test_a_sigkilled_worker_loses_and_duplicates_nothing() -> None:
    # Last of the tests on the warm pool: the replacement process starts afresh.
    pool = get_pool(2)
    runs: list[EvalRun] = []
    errors: list[BaseException] = []
    started: list[str] = []

    def target() -> None:
        try:
            runs.append(
                run_suite(
                    FIXTURES / "slow.yaml", progress="none", workers=2, on_start=started.append
                )
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    store = TraceStore()
    deadline = time.monotonic() + 120
    while not started or len(_counts(started[0])) < 10:
        assert thread.is_alive(), errors
        assert time.monotonic() < deadline
        time.sleep(0.1)
    victim = pool.pids[0]
    os.kill(victim, signal.SIGKILL)
    thread.join(120)
    assert not thread.is_alive()
    assert errors == []
    run = runs[0]
    assert run.status == "completed"
    assert run.info["done_now"] == 60
    counts = _counts(run.run_id)
    assert len(counts) == 60
    assert set(counts["n"]) == {1}  # exactly once: nothing lost, nothing twice
    assert victim not in pool.pids  # replaced
    assert pool.deaths >= 1
    done = store.sql(
        "SELECT count(DISTINCT execution_id) AS n FROM executions WHERE execution_id LIKE ?"
        " AND status = 'completed'",
        [run.run_id + "-%"],
    )
    assert done["n"].iloc[0] == 60


@pytest.mark.slow
def test_resume_after_sigkill_of_the_runner_with_workers(workbench_home: Path) -> None:
    suite = FIXTURES / "slow.yaml"
    run_id = sigkill_eval_midway(
        workbench_home, suite, lambda rid: len(_counts(rid)), "--workers", "2"
    )
    time.sleep(0.5)  # orphaned workers see the closed pipe and stop
    before = len(_counts(run_id))
    assert 10 <= before < 60
    run = run_suite(suite, run_id=run_id, progress="none", workers=2)
    counts = _counts(run_id)
    assert len(counts) == 60
    assert set(counts["n"]) == {1}
    assert run.info["done_before"] + run.info["done_now"] == 60
