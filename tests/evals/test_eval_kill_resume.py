"""Resume after SIGKILL: a child runs `workbench eval`, is killed mid-run, and the
resumed run executes only the samples the child had not finished."""

from __future__ import annotations

from pathlib import Path

import eval_fixture_models  # noqa: F401  (registers quiz_slow in this process)
import pytest
from eval_helpers import FIXTURES, sigkill_eval_midway

from workbench.evals import run_suite
from workbench.models import get_scripted_model
from workbench.tracing import TraceStore

SUITE = FIXTURES / "slow.yaml"  # 30 samples x 2 versions, 0.25 s each, concurrency 4


def _finished(store: TraceStore, run_id: str) -> int:
    frame = store.sql("SELECT count(*) AS n FROM eval_samples WHERE run_id = ?", [run_id])
    return int(frame["n"].iloc[0])


@pytest.mark.slow
def test_resume_after_sigkill_runs_only_unfinished_samples(workbench_home: Path) -> None:
    store = TraceStore()
    run_id = sigkill_eval_midway(workbench_home, SUITE, lambda rid: _finished(store, rid))
    before = _finished(store, run_id)
    assert 10 <= before < 60
    status = store.sql("SELECT status FROM eval_runs WHERE run_id = ?", [run_id])
    assert status["status"].tolist() == ["running"]  # killed: nobody recorded an end

    model = get_scripted_model("quiz_slow")
    calls = len(model.calls)
    run = run_suite(SUITE, run_id=run_id, progress="none")
    ran = len(model.calls) - calls
    assert ran == 60 - before  # one model call per sample the child had not finished
    assert run.info["done_before"] == before
    assert run.info["done_now"] == 60 - before

    rows = store.sql(
        "SELECT version, sample_id, epoch, count(*) AS n FROM eval_samples WHERE run_id = ?"
        " GROUP BY ALL",
        [run_id],
    )
    assert len(rows) == 60
    assert set(rows["n"]) == {1}
    executions = store.sql(
        "SELECT count(DISTINCT execution_id) AS n, count(*) FILTER (WHERE status = 'completed')"
        " AS done FROM executions WHERE execution_id LIKE ?",
        [run_id + "-%"],
    )
    # Executions the child had in flight were re-run under the same ids: 60 in all.
    assert executions["n"].iloc[0] == 60
    assert executions["done"].iloc[0] == 60
    assert run.status == "completed"
    assert run.gate() is not None
