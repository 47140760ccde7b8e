"""Sandbox latency: a trivial snippet cold and from the warm pool, beside a bare interpreter.

Run: ``.venv/bin/python benchmarks/sandbox_latency.py [--n N]``. Every sample of the
three is taken in turn, in one run, so background load hits them alike:

* bare: ``subprocess.run(["/usr/bin/python3", "-c", "pass"])``;
* cold: ``BubblewrapBackend(pool_size=0).run("pass")``: bwrap, the system Python,
  the runner, the job, the result, end to end through the public sync API;
* warm: the same call on a backend whose pool holds a ready sandbox (the pool is
  refilled, untimed, before each sample);
* docker cold and warm: the same two through ``DockerBackend`` (a container per
  call), when an engine is found (``--docker-host``, the running ``docker`` service,
  or ``DOCKER_HOST``; ``workbench services up docker`` starts one). ``--no-docker``
  skips them.

Targets: warm p50 <= 5 ms; cold p50 <= 1.3x bare p50 (bubblewrap, the default backend).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.errors import SandboxUnavailable
from workbench.sandbox import BubblewrapBackend, DockerBackend, SandboxBackend

WARM_P50_TARGET_MS = 5.0
COLD_RATIO_TARGET = 1.3
SNIPPET = "pass"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50, help="samples of each (default 50)")
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
    # One untimed call each: first-use costs (reading the runner, the base directory).
    cold_backend.run(SNIPPET)
    warm_backend.prewarm()
    warm_backend.run(SNIPPET)
    if docker_cold is not None and docker_warm is not None:
        docker_cold.run(SNIPPET)
        _prewarm(docker_warm)
        docker_warm.run(SNIPPET)
    bare: list[float] = []
    cold: list[float] = []
    warm: list[float] = []
    dcold: list[float] = []
    dwarm: list[float] = []
    for _ in range(args.n):
        start = time.perf_counter()
        subprocess.run(["/usr/bin/python3", "-c", "pass"], check=True)
        bare.append(_ms(start))
        _timed(cold_backend, cold)
        _prewarm(warm_backend)
        _timed(warm_backend, warm)
        if docker_cold is not None and docker_warm is not None:
            _timed(docker_cold, dcold)
            _prewarm(docker_warm)
            _timed(docker_warm, dwarm)
    warm_backend.close()
    for backend in (docker_cold, docker_warm):
        if backend is not None:
            backend.close()
    print(f"sandbox latency, {args.n} samples each, interleaved (ms)")
    print(f"{'':30}{'p50':>9}{'p95':>9}{'mean':>9}")
    rows = [
        ("bare python3 -c pass", bare),
        ("sandbox cold (bubblewrap)", cold),
        ("sandbox warm pool", warm),
    ]
    if dcold:
        rows += [("docker cold", dcold), ("docker warm pool", dwarm)]
    for label, samples in rows:
        row = f"{_p(samples, 0.5):9.2f}{_p(samples, 0.95):9.2f}{statistics.fmean(samples):9.2f}"
        print(f"  {label:28}{row}")
    bare50, cold50, warm50 = _p(bare, 0.5), _p(cold, 0.5), _p(warm, 0.5)
    ratio = cold50 / bare50
    print(f"  cold / bare (p50)        : {ratio:.2f}x")
    print(f"  warm / bare (p50)        : {warm50 / bare50:.2f}x")
    if dcold:
        print(f"  docker cold / bare (p50) : {_p(dcold, 0.5) / bare50:.2f}x")
        print(f"  docker warm / bare (p50) : {_p(dwarm, 0.5) / bare50:.2f}x")
    warm_ok = "met" if warm50 <= WARM_P50_TARGET_MS else "MISSED"
    cold_ok = "met" if ratio <= COLD_RATIO_TARGET else "MISSED"
    print(f"  target warm p50 <= {WARM_P50_TARGET_MS:.0f} ms   : {warm_ok} ({warm50:.2f} ms)")
    print(f"  target cold <= {COLD_RATIO_TARGET}x bare  : {cold_ok} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
