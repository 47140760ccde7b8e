"""Sandbox latency: a trivial snippet cold and from the warm pool, beside a bare interpreter.

Run: ``.venv/bin/python benchmarks/sandbox_latency.py [--n N]``. Every sample of each
row is taken in turn, in one run, so background load hits them alike:

* bare: ``subprocess.run(["/usr/bin/python3", "-c", "pass"])`` (the baseline);
* cold: ``BubblewrapBackend(pool_size=0).run("pass")``: a fresh sandbox end to end
  (bwrap, the system Python, the runner, the job, the result) through the public
  sync API, started with ``subprocess`` like the baseline;
* warm: the same call on a backend whose pool holds a ready sandbox (the pool is
  refilled, untimed, before each sample);
* floor (``--floor``, on by default): bwrap with the cold sandbox's exact command
  line running ``/usr/bin/python3 -I -S -c pass`` instead of the runner, started the
  same way (``chroot --userspec`` first when root): namespaces plus interpreter, no runner, no
  job. ``cold - floor`` is what the runner and the host add;
* docker cold and warm: the same two through ``DockerBackend`` (a container per
  call), when an engine is found (``--docker-host``, the running ``docker`` service,
  or ``DOCKER_HOST``; ``workbench services up docker`` starts one). ``--no-docker``
  skips them.

Before each sample the previous one is let settle (``--settle-ms``, default 10): the
discarded sandbox has been reaped and the warm pool refilled, so no sample shares the
machine with the benchmark's own background work (a sandbox's teardown or a refill
takes several milliseconds of CPU). Each sample still pays its own start in full.

Targets: warm p50 <= 5 ms; cold p50 <= 1.3x bare p50 (bubblewrap, the default backend).
Noisy under load: the load average is printed, and only the ratios of one run count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.errors import SandboxUnavailable
from workbench.sandbox import BubblewrapBackend, DockerBackend, SandboxBackend
from workbench.sandbox._bwrap import NOBODY, SANDBOX_PYTHON
from workbench.sandbox._process import _reaper, remove_tree

WARM_P50_TARGET_MS = 5.0
COLD_RATIO_TARGET = 1.3
SNIPPET = "pass"
BARE = ["/usr/bin/python3", "-c", "pass"]


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(backend: SandboxBackend, samples: list[float]) -> None:
    start = time.perf_counter()
    result = backend.run(SNIPPET)
    samples.append(_ms(start))
    assert result.ok, result


def _prewarm(backend: BubblewrapBackend | DockerBackend) -> None:
    if not backend.prewarm(timeout_s=60):
        raise SystemExit(f"the {backend.name} warm pool did not fill in 60 s")


def _floor_command(backend: BubblewrapBackend, workdir: Path) -> list[str]:
    """The cold sandbox's command line with ``python3 -I -S -c pass`` for the runner."""
    base = backend._base_dir()  # the generated /etc the sandbox mounts
    argv = backend.command(workdir, base / "etc")
    argv = [*argv[: argv.index(SANDBOX_PYTHON)], SANDBOX_PYTHON, "-I", "-S", "-c", "pass"]
    return [*backend._drop, *argv]  # chroot --userspec (or setpriv) first when root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50, help="samples of each (default 50)")
    parser.add_argument("--settle-ms", type=float, default=10.0, help="pause before a sample")
    parser.add_argument("--no-floor", action="store_true", help="skip the bwrap + python row")
    parser.add_argument("--docker-host", help="Docker engine (default: found as documented)")
    parser.add_argument("--no-docker", action="store_true", help="measure bubblewrap only")
    args = parser.parse_args()
    cold_backend = BubblewrapBackend(pool_size=0)
    warm_backend = BubblewrapBackend(pool_size=1)
    docker_cold: DockerBackend | None = None
    docker_warm: DockerBackend | None = None
    if not args.no_docker:
        try:
            docker_cold = DockerBackend(docker_host=args.docker_host, pool_size=0)
            docker_warm = DockerBackend(docker_host=args.docker_host, pool_size=1)
        except SandboxUnavailable as exc:
            print(f"docker not measured: {exc.message}")
    floor_dir = Path(tempfile.mkdtemp(prefix="floor-", dir=cold_backend._base_dir() / "work"))
    if os.geteuid() == 0:
        os.chown(floor_dir, NOBODY, NOBODY)
    floor_argv = None if args.no_floor else _floor_command(cold_backend, floor_dir)
    # One untimed call each: first-use costs (compiling the runner, the base directory).
    cold_backend.run(SNIPPET)
    warm_backend.prewarm()
    warm_backend.run(SNIPPET)
    if docker_cold is not None and docker_warm is not None:
        docker_cold.run(SNIPPET)
        _prewarm(docker_warm)
        docker_warm.run(SNIPPET)

    def settle() -> None:
        _reaper.submit(lambda: None).result()  # the last discarded sandbox is reaped
        _prewarm(warm_backend)
        if docker_warm is not None:
            _prewarm(docker_warm)
        time.sleep(args.settle_ms / 1000)

    load_before = os.getloadavg()
    rows: dict[str, list[float]] = {"bare python3 -c pass": []}
    if floor_argv is not None:
        rows["floor: bwrap + python3 -I -S"] = []
    rows["sandbox cold (bubblewrap)"] = []
    rows["sandbox warm pool"] = []
    if docker_cold is not None:
        rows["docker cold"] = []
        rows["docker warm pool"] = []
    for _ in range(args.n):
        settle()
        start = time.perf_counter()
        subprocess.run(BARE, check=True)
        rows["bare python3 -c pass"].append(_ms(start))
        if floor_argv is not None:
            settle()
            start = time.perf_counter()
            subprocess.run(floor_argv, check=True, env={})
            rows["floor: bwrap + python3 -I -S"].append(_ms(start))
        settle()
        _timed(cold_backend, rows["sandbox cold (bubblewrap)"])
        settle()
        _timed(warm_backend, rows["sandbox warm pool"])
        if docker_cold is not None and docker_warm is not None:
            settle()
            _timed(docker_cold, rows["docker cold"])
            settle()
            _timed(docker_warm, rows["docker warm pool"])
    load_after = os.getloadavg()
    warm_backend.close()
    for backend in (docker_cold, docker_warm):
        if backend is not None:
            backend.close()
    remove_tree(floor_dir)
    print(f"sandbox latency, {args.n} samples each, interleaved, {args.settle_ms:g} ms settle (ms)")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    print(f"{'':34}{'p50':>9}{'p95':>9}{'mean':>9}")
    for label, samples in rows.items():
        row = f"{_p(samples, 0.5):9.2f}{_p(samples, 0.95):9.2f}{statistics.fmean(samples):9.2f}"
        print(f"  {label:32}{row}")
    bare50 = _p(rows["bare python3 -c pass"], 0.5)
    cold50 = _p(rows["sandbox cold (bubblewrap)"], 0.5)
    warm50 = _p(rows["sandbox warm pool"], 0.5)
    ratio = cold50 / bare50
    print(f"  cold / bare (p50)            : {ratio:.2f}x")
    if floor_argv is not None:
        floor50 = _p(rows["floor: bwrap + python3 -I -S"], 0.5)
        print(f"  floor / bare (p50)           : {floor50 / bare50:.2f}x")
        print(f"  cold - floor (p50)           : {cold50 - floor50:.2f} ms (runner + host)")
    print(f"  warm / bare (p50)            : {warm50 / bare50:.2f}x")
    if docker_cold is not None:
        print(f"  docker cold / bare (p50)     : {_p(rows['docker cold'], 0.5) / bare50:.2f}x")
        print(f"  docker warm / bare (p50)     : {_p(rows['docker warm pool'], 0.5) / bare50:.2f}x")
    warm_ok = "met" if warm50 <= WARM_P50_TARGET_MS else "MISSED"
    cold_ok = "met" if ratio <= COLD_RATIO_TARGET else "MISSED"
    print(f"  target warm p50 <= {WARM_P50_TARGET_MS:.0f} ms       : {warm_ok} ({warm50:.2f} ms)")
    print(f"  target cold <= {COLD_RATIO_TARGET}x bare      : {cold_ok} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
