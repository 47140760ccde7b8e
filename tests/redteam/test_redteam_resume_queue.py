"""Red-team runs on the eval runner's seams: resumable, readable by `workbench eval` and
`EvalRun.load` (``kind: redteam``), and runnable by queue workers, with the same figures."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest
import redis
from typer.testing import CliRunner

from workbench.cli._app import app
from workbench.errors import SuiteInvalid
from workbench.evals import EvalRun, Suite
from workbench.queue import JobQueue, Worker
from workbench.redteam import RedteamRun, RedteamSuite, arun_redteam, run_redteam
from workbench.services import start_service, stop_service
from workbench.settings import get_settings
from workbench.tracing import TraceStore

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ["none", "all"]


def _smoke(tmp_path: Path, suite: str) -> Path:
    text = (ROOT / "evals" / f"{suite}.yaml").read_text(encoding="utf-8")
    text = text.replace("redteam_attacks.jsonl", "redteam_smoke.jsonl").replace("../", f"{ROOT}/")
    path = tmp_path / f"{suite}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _figures(run: RedteamRun) -> pd.DataFrame:
    return run.defense_frame().set_index("version")


class _CancelAfter:
    """A progress display that cancels the run after ``n`` finished units."""

    def __init__(self, n: int) -> None:
        self.n, self.done = n, 0
        self.task: asyncio.Task[Any] | None = None

    def start(self, total: int, done: int, description: str) -> None:
        pass

    def advance(self, *, cost_usd: float, failed: bool) -> None:
        self.done += 1
        if self.done == self.n and self.task is not None:
            self.task.cancel()

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def test_kind_redteam_loads_as_a_redteam_suite(tmp_path: Path) -> None:
    path = _smoke(tmp_path, "redteam_gate_fail")
    suite = Suite.from_yaml(path)
    assert isinstance(suite, RedteamSuite)
    assert suite.kind == "redteam"
    plain = tmp_path / "plain.yaml"
    plain.write_text(path.read_text().replace("kind: redteam\n", "kind: eval\n"))
    with pytest.raises(SuiteInvalid, match="not a redteam suite"):
        RedteamSuite.from_yaml(plain)


def test_an_interrupted_redteam_run_resumes_to_the_same_figures(tmp_path: Path) -> None:
    path = _smoke(tmp_path, "redteam_defenses")
    whole = run_redteam(path, versions=VERSIONS)
    started: list[str] = []
    stop = _CancelAfter(7)

    async def interrupted() -> None:
        stop.task = asyncio.create_task(
            arun_redteam(path, versions=VERSIONS, progress=stop, on_start=started.append)
        )
        await stop.task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(interrupted())
    (run_id,) = started
    store = TraceStore()
    state = store.sql("SELECT status FROM eval_runs WHERE run_id = ?", [run_id])
    assert state["status"].tolist() == ["cancelled"]

    resumed = run_redteam(path, versions=VERSIONS, run_id=run_id)
    info = resumed.eval.info
    assert info["done_before"] >= 7
    assert info["done_before"] + info["done_now"] == 36
    rows = store.sql(
        "SELECT count(*) AS n, count(DISTINCT (version, sample_id, epoch)) AS units"
        " FROM eval_samples WHERE run_id = ?",
        [run_id],
    )
    assert rows["n"].iloc[0] == rows["units"].iloc[0] == 36  # each unit once
    pd.testing.assert_frame_equal(_figures(resumed), _figures(whole))
    # EvalRun.load reads the red-team suite back by its kind.
    loaded = EvalRun.load(run_id)
    assert isinstance(loaded.suite, RedteamSuite)
    pd.testing.assert_frame_equal(_figures(RedteamRun(loaded, loaded.suite)), _figures(whole))


def test_workbench_eval_on_a_redteam_suite_gates_like_workbench_redteam(tmp_path: Path) -> None:
    path = _smoke(tmp_path, "redteam_gate_fail")
    red = CliRunner().invoke(app, ["redteam", str(path), "--json"])
    ev = CliRunner().invoke(app, ["eval", str(path), "--json", "--no-progress"])
    assert red.exit_code == ev.exit_code == 1, ev.output
    a, b = (json.loads(r.stdout.strip().splitlines()[-1]) for r in (red, ev))
    assert a["gate"] == b["gate"]
    assert a["versions"] == b["versions"]
    recorded = TraceStore().sql("SELECT run_id, gate_passed FROM eval_runs")
    assert recorded["gate_passed"].tolist() == [False, False]


@pytest.fixture(scope="module")
def redis_server() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="wb-redteamq-", dir="/tmp"))
    settings = get_settings(root / "wb")
    info = start_service("redis", settings=settings)
    try:
        yield str(info.extra["redis_url"])
    finally:
        stop_service("redis", settings=settings)
        shutil.rmtree(root, ignore_errors=True)


def test_redteam_units_run_by_queue_workers_give_the_same_figures(
    tmp_path: Path, redis_server: str
) -> None:
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    path = _smoke(tmp_path, "redteam_defenses")
    local = run_redteam(path, versions=VERSIONS)

    async def queued() -> RedteamRun:
        pool = [Worker(JobQueue(redis_server), shared_limits=False, name=f"w{i}") for i in range(2)]
        tasks = [asyncio.create_task(w.arun()) for w in pool]
        try:
            return await arun_redteam(path, versions=VERSIONS, queue=redis_server)
        finally:
            for w in pool:
                w.stop()
            await asyncio.gather(*tasks)

    run = asyncio.run(queued())
    pd.testing.assert_frame_equal(_figures(run), _figures(local))
    verdict = run.gate()
    assert verdict is not None
    assert verdict.passed is True
