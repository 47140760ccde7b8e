"""Several processes writing at once, and a process killed after flush()."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from workbench.tracing import TraceStore

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys
from pathlib import Path
from workbench.tracing import SpanKind, SpoolExporter, Tracer
spool, tag, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
tracer = Tracer([SpoolExporter(spool)], flush_interval_s=0.005, max_batch=250)
for i in range(n):
    with tracer.span("work", SpanKind.TOOL, {"tool.name": tag, "workbench.step": i}):
        pass
    if i % 500 == 0:
        tracer.record("executions", {"execution_id": f"{tag}-{i}", "status": "completed"})
assert tracer.flush(30)
print("flushed", tracer.stats.admitted, flush=True)
if len(sys.argv) > 4:
    import time
    for i in range(n, 10 * n):  # keep producing, never flushed, until SIGKILL
        tracer.span("unflushed", SpanKind.TOOL).end()
    time.sleep(60)
"""

QUERIER = """
import sys, time
from pathlib import Path
from workbench.tracing import TraceStore
store = TraceStore(Path(sys.argv[1]), spool_dir=Path(sys.argv[2]))
seen = []
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    n = int(store.sql("SELECT count(*) AS n FROM spans")["n"][0])
    seen.append(n)
    if n >= int(sys.argv[3]):
        break
print(len(seen), max(seen), flush=True)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_four_writers_and_a_querier(tmp_path: Path) -> None:
    spool, db = tmp_path / "spool", tmp_path / "traces.duckdb"
    n, writers = 2000, 4
    querier = subprocess.Popen(
        [sys.executable, "-c", QUERIER, str(db), str(spool), str(n * writers)],
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(spool), f"w{k}", str(n)],
            env=_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(writers)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        assert out.split() == ["flushed", str(n + n // 500)]
    out, _ = querier.communicate(timeout=120)
    assert querier.returncode == 0
    queries, best = map(int, out.split())
    assert queries >= 1
    assert best == n * writers
    store = TraceStore(db, spool_dir=spool)
    counts = store.sql(
        "SELECT tool_name, count(*) AS n, count(DISTINCT span_id) AS d,"
        " count(DISTINCT (tool_name, step)) AS steps FROM spans GROUP BY 1 ORDER BY 1"
    ).to_dict("records")
    assert counts == [{"tool_name": f"w{k}", "n": n, "d": n, "steps": n} for k in range(writers)]
    assert int(store.sql("SELECT count(*) AS n FROM executions")["n"][0]) == writers * 4
    assert not list(spool.glob("*.json"))


def test_sigkill_after_flush_keeps_every_flushed_span(tmp_path: Path) -> None:
    spool, db = tmp_path / "spool", tmp_path / "traces.duckdb"
    n = 3000
    p = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(spool), "killed", str(n), "linger"],
        env=_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline().split() == ["flushed", str(n + n // 500)]
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)  # reaps it and closes the pipe
    store = TraceStore(db, spool_dir=spool)
    flushed = store.sql(
        "SELECT count(*) AS n, count(DISTINCT step) AS d FROM spans WHERE name = 'work'"
    ).to_dict("records")
    assert flushed == [{"n": n, "d": n}]
    assert not list(spool.glob("*.part"))  # the dead process's partial segment is gone
