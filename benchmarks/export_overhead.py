"""OTLP export overhead: loop time per step with the Phoenix exporter on and off, same run.

Run: ``.venv/bin/python benchmarks/export_overhead.py [--executions N] [--steps S]
[--endpoint URL]``. Two runtimes run the same scripted agent (zero-latency model, one
tool call a step), interleaved execution by execution so machine noise hits both alike:
one traces to the spool only, the other to the spool and an :class:`OtlpExporter`. The
exporter posts to a loopback OTLP/HTTP collector started here, which decodes and counts
every span in a process of its own, as a real collector would be, so its work does not
share this process's interpreter lock (or posts to ``--endpoint``, e.g. a running
Phoenix's ``otlp_http_endpoint``).
Prints ms per step of both, the ratio (target <= 1.05), and spans per second the
collector accepted: during the run, and in a burst of ``--burst`` spans.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from workbench.runtime import ExecutionStatus, Runtime
from workbench.settings import get_settings
from workbench.testing import OtlpCollector
from workbench.tracing import OtlpExporter, SpanKind, SpoolExporter, Tracer

TARGET_RATIO = 1.05


def serve_collector() -> None:
    """Child process: run a collector, print its endpoint, serve until stdin closes."""
    collector = OtlpCollector()
    print(collector.endpoint, flush=True)
    sys.stdin.read()
    collector.close()


class CollectorProcess:
    """An :class:`OtlpCollector` in a child process; :meth:`spans` asks it for its count."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-collector"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.endpoint = self.proc.stdout.readline().strip()
        if not self.endpoint:
            raise RuntimeError("the collector process did not start")

    def spans(self) -> int:
        with urllib.request.urlopen(self.endpoint, timeout=10) as response:
            return int(json.load(response)["spans"])

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def burst(endpoint: str, spool: Path, n: int) -> tuple[float, int]:
    """Spans/s from ``n`` enqueued spans to all accepted, and how many were accepted."""
    exporter = OtlpExporter(endpoint, max_buffer=max(n, 20_000))
    tracer = Tracer([SpoolExporter(spool), exporter])
    exporter.bind(tracer)
    t0 = time.perf_counter()
    for i in range(n):
        with tracer.span(
            "tool lookup", SpanKind.TOOL, {"tool.name": "lookup", "workbench.step": i}
        ):
            pass
    assert tracer.flush(60.0)
    drained = exporter.flush(300.0)
    dt = time.perf_counter() - t0
    sent = exporter.stats.sent
    tracer.shutdown()
    if not drained:
        print(f"    burst: collector did not accept all {n} spans within 300 s")
    return sent / dt, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=30, help="measured executions per side")
    parser.add_argument("--steps", type=int, default=10, help="model calls per execution")
    parser.add_argument("--endpoint", help="OTLP/HTTP traces URL (default: a loopback counter)")
    parser.add_argument("--burst", type=int, default=5000, help="spans in the burst test")
    parser.add_argument("--serve-collector", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_collector:
        serve_collector()
        return
    steps: int = args.steps
    model = c.register("bench-export", steps)
    spec = c.agent_spec(model, steps + 2)
    collector = None if args.endpoint else CollectorProcess()
    endpoint: str = args.endpoint or collector.endpoint  # type: ignore[union-attr]
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-export-"))
    try:
        off_settings, on_settings = get_settings(tmp / "off"), get_settings(tmp / "on")
        off_tracer = Tracer([SpoolExporter(off_settings.spool_dir)])
        exporter = OtlpExporter(endpoint)
        on_tracer = Tracer([SpoolExporter(on_settings.spool_dir), exporter])
        exporter.bind(on_tracer)
        runtimes = {
            "off": Runtime(off_settings, tracer=off_tracer),
            "on": Runtime(on_settings, tracer=on_tracer),
        }
        per_step: dict[str, list[float]] = {"off": [], "on": []}

        async def one(side: str) -> None:
            t0 = time.perf_counter()
            result = await runtimes[side].arun(spec, c.TASK)
            dt = time.perf_counter() - t0
            assert result.status is ExecutionStatus.COMPLETED, result
            per_step[side].append(dt / result.steps * 1e3)

        async def run_all() -> float:
            for side in ("off", "on", "off", "on"):  # warm-up, not measured
                await one(side)
            per_step["off"].clear()
            per_step["on"].clear()
            t0 = time.perf_counter()
            for i in range(args.executions):
                # Alternate which goes first, so neither always follows the other's GC.
                for side in ("off", "on") if i % 2 == 0 else ("on", "off"):
                    await one(side)
            return time.perf_counter() - t0

        with asyncio.Runner() as runner:
            wall = runner.run(run_all())
            drain_t0 = time.perf_counter()
            drained = exporter.flush(120.0)
            drain = time.perf_counter() - drain_t0
            for runtime in runtimes.values():
                runner.run(runtime.aclose())
        stats = exporter.stats
        off_tracer.shutdown()
        on_tracer.shutdown()

        off_mean, on_mean = statistics.mean(per_step["off"]), statistics.mean(per_step["on"])
        off_med, on_med = statistics.median(per_step["off"]), statistics.median(per_step["on"])
        n = args.executions
        print(f"export_overhead: {n} executions x {steps} steps per side, endpoint {endpoint}")
        print(f"  {'loop':<34}{'mean ms/step':>14}{'median ms/step':>16}")
        print(f"  {'spool only (exporter off)':<34}{off_mean:>14.3f}{off_med:>16.3f}")
        print(f"  {'spool + OTLP (exporter on)':<34}{on_mean:>14.3f}{on_med:>16.3f}")
        ratio_mean, ratio_med = on_mean / off_mean, on_med / off_med
        verdict = "met" if ratio_med <= TARGET_RATIO else "MISSED"
        print(
            f"  ratio on/off: {ratio_mean:.3f} (mean), {ratio_med:.3f} (median);"
            f" target <= {TARGET_RATIO}: {verdict}"
        )
        accepted = collector.spans() if collector else stats.sent
        print(
            f"  spans sent {stats.sent}, accepted by the collector {accepted}, dropped"
            f" {stats.dropped}, failed requests {stats.failed_requests}; drained after the"
            f" run in {drain:.2f} s ({'all' if drained else 'NOT all'})"
        )
        print(
            f"  accepted during the run: {stats.sent / (wall + drain):,.0f} spans/s"
            f" (what the loop produced: {stats.sent / wall:,.0f} spans/s over {wall:.1f} s)"
        )
        rate, sent = burst(endpoint, tmp / "burst", args.burst)
        print(f"  burst of {args.burst} spans: {sent} accepted, {rate:,.0f} spans/s")
    finally:
        if collector is not None:
            collector.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
