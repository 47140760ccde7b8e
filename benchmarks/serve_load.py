"""serve_load: the HTTP API's added latency around a zero-latency scripted agent.

Beside it, in the same run, the same executions submitted in-process (``asubmit``: the
gateway's admit then ``Runtime.arun``), so the difference is what the API adds: HTTP,
JSON, the background task and the server-sent events. Then an open-loop load at a fixed
rate (bounded in count and time) against the real uvicorn server on loopback.

Usage: .venv/bin/python benchmarks/serve_load.py [--n 200] [--rate 200] [--seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (sets the offline environment and sys.path)
import httpx
import yaml

HOME = Path(tempfile.mkdtemp(prefix="serve-load-"))
os.environ["WORKBENCH_HOME"] = str(HOME / "home")

from workbench.gateway import Gateway, KeyStore, asubmit  # noqa: E402
from workbench.models import Turn, register_script  # noqa: E402
from workbench.runtime import AgentSpec, Runtime  # noqa: E402
from workbench.server import ServeConfig, ServerHandle, create_app  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _in_process(spec: AgentSpec, secret: str, n: int) -> list[float]:
    gateway = Gateway(keys=KeyStore())
    runtime = Runtime(ledger=gateway.ledger)
    out = []
    try:
        for i in range(n + 10):
            started = time.perf_counter()
            await asubmit(gateway, runtime, spec, api_key=secret, task=f"task {i}")
            if i >= 10:
                out.append(time.perf_counter() - started)
    finally:
        await runtime.aclose()
    return out


async def _one(client: httpx.AsyncClient, headers: dict[str, str], i: int) -> float:
    started = time.perf_counter()
    resp = await client.post(
        "/v1/executions", json={"agent": "zero", "task": f"t{i}"}, headers=headers
    )
    assert resp.status_code == 202, resp.text
    eid = resp.json()["execution_id"]
    async with client.stream("GET", f"/v1/executions/{eid}/events", headers=headers) as stream:
        last = ""
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                last = line
    assert '"completed"' in last, last
    return time.perf_counter() - started


async def _closed(url: str, headers: dict[str, str], n: int) -> list[float]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return [
            x
            for i, x in enumerate([await _one(client, headers, i) for i in range(n + 10)])
            if i >= 10
        ]


async def _open(
    url: str, headers: dict[str, str], rate: float, seconds: float
) -> tuple[list[float], float]:
    count = int(rate * seconds)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        tasks = []
        for i in range(count):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(client, headers, i)))
        latencies = list(await asyncio.gather(*tasks))
        elapsed = time.perf_counter() - started
    return latencies, count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    model = register_script("serve-load", lambda m, t: Turn.final("ok"))
    folder = HOME / "agents"
    folder.mkdir()
    spec_data = {"name": "zero", "model": model, "system_prompt": "Answer."}
    (folder / "zero.yaml").write_text(yaml.safe_dump(spec_data))
    spec = AgentSpec.from_dict(spec_data)
    keys = KeyStore()
    _, secret = keys.create("load", ["agent:*"], rate_per_minute=1_000_000)
    headers = {"Authorization": f"Bearer {secret}"}

    inproc = asyncio.run(_in_process(spec, secret, args.n))
    app = create_app(ServeConfig.from_dir(folder), gateway=Gateway(keys=keys))
    with ServerHandle(app) as server:
        closed = asyncio.run(_closed(server.url, headers, args.n))
        opened, achieved = asyncio.run(_open(server.url, headers, args.rate, args.seconds))

    p50_in, p99_in = _pct(inproc, 0.5) * 1000, _pct(inproc, 0.99) * 1000
    p50_http, p99_http = _pct(closed, 0.5) * 1000, _pct(closed, 0.99) * 1000
    print(f"in-process asubmit       n={len(inproc)}  p50 {p50_in:.2f} ms  p99 {p99_in:.2f} ms")
    print(f"HTTP POST + SSE (serial) n={len(closed)}  p50 {p50_http:.2f} ms  p99 {p99_http:.2f} ms")
    print(
        f"added by the API         p50 {p50_http - p50_in:.2f} ms  p99 {p99_http - p99_in:.2f} ms"
        f"  (ratio p50 {p50_http / p50_in:.2f}x)"
    )
    print(
        f"open loop at {args.rate:.0f}/s for {args.seconds:g} s: {len(opened)} requests,"
        f" achieved {achieved:.0f}/s, p50 {_pct(opened, 0.5) * 1000:.1f} ms,"
        f" p99 {_pct(opened, 0.99) * 1000:.1f} ms, mean {statistics.mean(opened) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
