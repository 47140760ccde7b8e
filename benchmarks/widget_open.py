"""Widget open benchmark: TraceExplorer and CostDashboard over a store of 1M spans.

Run: ``.venv/bin/python benchmarks/widget_open.py [--spans N]``. Builds a trace store of
N spans (default 1,000,000; the generator of ``trace_query.py``: DuckDB ``INSERT ...
SELECT`` from ``range()``, seconds) in a temporary directory, then, each in a fresh
Python process standing in for a notebook kernel:

- **TraceExplorer**: import ``workbench.widgets``, build the widget (count + first page of
  executions in SQL) and select one execution (its span tree);
- **CostDashboard**: build the widget (five aggregate queries, three matplotlib PNGs);
- **baseline**: what a widget that loads the table would do, ``SELECT * FROM spans``
  into pandas.

Each prints the widget's open time (the target), the time from the import on and the process's peak
RSS (``VmHWM``). Targets: open < 2 s and peak RSS < 500 MB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trace_query import build

from workbench.tracing import TraceStore

OPEN_TARGET_S = 2.0
RSS_TARGET_MB = 500.0

_PRELUDE = """
import json, sys, time
t0 = time.perf_counter()
from workbench.tracing import TraceStore
store = TraceStore(sys.argv[1], spool_dir=sys.argv[2], fallback_dir=sys.argv[3])
"""
_EPILOGUE = """
# VmHWM, not ru_maxrss: after fork+exec ru_maxrss still counts the parent's pages.
status = open("/proc/self/status").read()
peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
total = time.perf_counter() - t0
print("\\nRESULT", json.dumps(
    {"total_s": total, "open_s": opened, "rss_mb": peak, "detail": detail}
))
"""
CASES = {
    "TraceExplorer": """
from workbench.widgets import TraceExplorer
t1 = time.perf_counter()
widget = TraceExplorer(store, page_size=25)
assert widget.model.error is None, widget.model.error
widget.list.value = widget.list.options[3][1]
opened = time.perf_counter() - t1
detail = f"{widget.model.total:,} executions, tree of {len(widget.model.tree())} spans"
""",
    "CostDashboard": """
from workbench.widgets import CostDashboard
t1 = time.perf_counter()
widget = CostDashboard(store)
assert widget.model.error is None, widget.model.error
opened = time.perf_counter() - t1
detail = f"{len(widget.model.cost)} version-days, {len(widget.cost_image.value):,} B of PNG"
""",
    "baseline: SELECT * FROM spans": """
t1 = time.perf_counter()
frame = store.sql("SELECT * FROM spans")
opened = time.perf_counter() - t1
detail = f"{len(frame):,} rows in pandas"
""",
}


def _measure(case: str, store: TraceStore) -> dict[str, object]:
    code = textwrap.dedent(_PRELUDE + CASES[case] + _EPILOGUE)
    args = [str(store.path), str(store.spool_dir), str(store.fallback_dir)]
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{case} failed:\n{out.stderr[-2000:]}")
    lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    if not lines:
        raise SystemExit(f"{case} printed no result:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    line = lines[-1]
    result: dict[str, object] = json.loads(line.removeprefix("RESULT "))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=1_000_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-widgets-"))
    try:
        store = TraceStore(tmp / "traces.duckdb", spool_dir=tmp / "spool", fallback_dir=tmp / "fb")
        built = build(store, args.spans)
        size_mb = store.path.stat().st_size / 1e6
        print(f"store: {args.spans:,} spans, {size_mb:.0f} MB, built in {built:.1f} s")
        results = {case: _measure(case, store) for case in CASES}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\n{'widget (fresh process)':<32}{'open s':>8}{'with import s':>15}{'peak RSS MB':>13}"
        f"  targets < {OPEN_TARGET_S:.0f} s, < {RSS_TARGET_MB:.0f} MB"
    )
    base = results["baseline: SELECT * FROM spans"]
    for case, r in results.items():
        open_s, total_s, rss = float(r["open_s"]), float(r["total_s"]), float(r["rss_mb"])  # type: ignore[arg-type]
        verdict = ""
        if not case.startswith("baseline"):
            met = open_s < OPEN_TARGET_S and rss < RSS_TARGET_MB
            verdict = "met" if met else "MISSED"
        print(f"{case:<32}{open_s:>8.2f}{total_s:>15.2f}{rss:>13.0f}  {verdict}  ({r['detail']})")
    for case, r in results.items():
        if not case.startswith("baseline"):
            ratio_t = float(r["open_s"]) / float(base["open_s"])  # type: ignore[arg-type]
            ratio_m = float(r["rss_mb"]) / float(base["rss_mb"])  # type: ignore[arg-type]
            print(f"{case}: {ratio_t:.3f}x the baseline's open time, {ratio_m:.2f}x its RSS")


if __name__ == "__main__":
    main()
