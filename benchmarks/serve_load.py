"""serve_load: the HTTP API's added latency around a zero-latency scripted agent.

Beside it, in the same run, the same executions submitted in-process (``asubmit``: the
gateway's admit then ``Runtime.arun``), so the difference is what the API adds: HTTP,
JSON, the background task and the server-sent events.

The server is ``workbench serve``'s app on uvicorn (its defaults: uvloop and httptools
when installed) in a process of its own, as deployed: a server on a thread of the load
generator would share its GIL. The load generator is a minimal HTTP/1.1 client on asyncio
streams (keep-alive, a connection per request in flight), so that its own cost per request
stays small next to the server's; httpx costs about 1 ms of CPU a request here.

Measured, each after a warm-up:
- serial: in-process ``asubmit``; ``POST /v1/executions`` then the SSE stream to the final
  status (the default 202 contract); ``POST /v1/executions?wait=30`` (one round trip).
- open loop at ``--rate`` requests/s for ``--seconds`` (bounded in count and time; each
  latency is counted from the request's scheduled start, so a queue shows): in-process,
  then over HTTP in both modes.

Usage: .venv/bin/python benchmarks/serve_load.py [--n 300] [--rate 200] [--seconds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import _common  # noqa: F401  (sets the offline environment and sys.path)
import uvloop
import yaml

HOME = Path(os.environ.get("SERVE_LOAD_HOME") or tempfile.mkdtemp(prefix="serve-load-"))
os.environ["SERVE_LOAD_HOME"] = str(HOME)
os.environ["WORKBENCH_HOME"] = str(HOME / "home")

from workbench.gateway import Gateway, KeyStore, asubmit  # noqa: E402
from workbench.models import Turn, register_script  # noqa: E402
from workbench.runtime import AgentSpec, Runtime  # noqa: E402

WARMUP = 20


def _setup() -> tuple[Path, AgentSpec]:
    model = register_script("serve-load", lambda m, t: Turn.final("ok"))
    folder = HOME / "agents"
    folder.mkdir(exist_ok=True)
    spec_data = {"name": "zero", "model": model, "system_prompt": "Answer."}
    (folder / "zero.yaml").write_text(yaml.safe_dump(spec_data))
    return folder, AgentSpec.from_dict(spec_data)


def _serve(port: int) -> None:
    """The server process: the app over ``HOME/agents`` on uvicorn's defaults."""
    import uvicorn

    from workbench.server import ServeConfig, create_app

    folder, _ = _setup()
    app = create_app(ServeConfig.from_dir(folder), gateway=Gateway(keys=KeyStore()))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- a minimal HTTP/1.1 client --------------------------------------------------------------


class _Client:
    """Keep-alive connections to one server; one request at a time on each."""

    def __init__(self, port: int, auth: str) -> None:
        self.port = port
        self.auth = auth
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        reused = bool(self.idle)
        try:
            return await self._request(method, path, body)
        except asyncio.IncompleteReadError as exc:
            # A kept-alive connection the server closed (uvicorn's keep-alive timeout) before
            # this request reached it; what any client does: retry once on a new one.
            if not reused or exc.partial:
                raise
            self.close()
            return await self._request(method, path, body)

    async def _request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        conn = (
            self.idle.pop() if self.idle else await asyncio.open_connection("127.0.0.1", self.port)
        )
        reader, writer = conn
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {self.auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        status_line, _, header_text = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        headers = {}
        for line in header_text.split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            data = await reader.readexactly(int(headers[b"content-length"]))
        else:  # chunked (the event stream)
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            data = b"".join(parts)
        self.idle.append(conn)
        return int(status_line.split()[1]), data

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


def _task(i: int) -> bytes:
    return json.dumps({"agent": "zero", "task": f"t{i}"}).encode()


async def _http_sse(client: _Client, i: int) -> None:
    status, body = await client.request("POST", "/v1/executions", _task(i))
    assert status == 202, body
    eid = json.loads(body)["execution_id"]
    status, events = await client.request("GET", f"/v1/executions/{eid}/events")
    assert status == 200, events
    assert b'"status":"completed"' in events.rsplit(b"event: status", 1)[1], events


async def _http_wait(client: _Client, i: int) -> None:
    status, body = await client.request("POST", "/v1/executions?wait=30", _task(i))
    assert status == 200, body
    assert json.loads(body)["status"] == "completed", body


# -- the measurements ------------------------------------------------------------------------

One = Callable[[int], Awaitable[None]]


async def _serial(ones: dict[str, One], n: int) -> dict[str, list[float]]:
    """``n`` requests of each kind, one at a time, interleaved so drift hits all alike."""
    out: dict[str, list[float]] = {name: [] for name in ones}
    for i in range(-WARMUP, n):
        for name, one in ones.items():
            started = time.perf_counter()
            await one(i)
            if i >= 0:
                out[name].append(time.perf_counter() - started)
    return out


async def _open(one: One, rate: float, seconds: float) -> tuple[list[float], float, int]:
    """``rate * seconds`` requests at fixed intervals; latency from each scheduled start.

    Returns the latencies of the requests that succeeded, the rate achieved (completed
    requests over the time until the last one ended) and the count of failed requests.
    """
    count = int(rate * seconds)
    latencies: list[float] = []
    failed = [0]

    async def timed(i: int, due: float) -> None:
        try:
            await one(i)
        except OSError:  # refused or reset: an overloaded server's listen queue
            failed[0] += 1
            return
        latencies.append(time.perf_counter() - due)

    started = time.perf_counter()
    tasks = []
    for i in range(count):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(10_000 + i, due)))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 60)
    return latencies, len(latencies) / (time.perf_counter() - started), failed[0]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _row(name: str, values: list[float], extra: str = "") -> None:
    p50, p99 = _pct(values, 0.5), _pct(values, 0.99)
    print(f"{name:<44} n={len(values):<4} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms{extra}")


async def _bench(args: argparse.Namespace, spec: AgentSpec, secret: str, port: int) -> None:
    gateway = Gateway(keys=KeyStore())
    runtime = Runtime(ledger=gateway.ledger)

    async def inproc(i: int) -> None:
        result = await asubmit(gateway, runtime, spec, api_key=secret, task=f"t{i}")
        assert result.status.value == "completed"

    client = _Client(port, f"Bearer {secret}")

    async def sse(i: int) -> None:
        await _http_sse(client, i)

    async def wait(i: int) -> None:
        await _http_wait(client, i)

    try:
        serial = await _serial(
            {
                "in-process asubmit": inproc,
                "HTTP POST + SSE (202, default)": sse,
                "HTTP POST ?wait=30 (200, one round trip)": wait,
            },
            args.n,
        )
        base = _pct(serial["in-process asubmit"], 0.5)
        print(f"serial, {args.n} requests each (interleaved) after {WARMUP} warm-up:")
        for name, values in serial.items():
            added = (
                "" if name.startswith("in-") else f"  added p50 {_pct(values, 0.5) - base:.2f} ms"
            )
            _row(name, values, added)
        print(f"open loop at {args.rate:g}/s for {args.seconds:g} s:")
        opened = {}
        for name, one in (
            ("in-process asubmit", inproc),
            ("HTTP POST + SSE", sse),
            ("HTTP POST ?wait=30", wait),
        ):
            await asyncio.sleep(0.5)
            latencies, achieved, failed = await _open(one, args.rate, args.seconds)
            opened[name] = latencies
            base_open = _pct(opened["in-process asubmit"], 0.5)
            added = (
                ""
                if name.startswith("in-")
                else f"  added p50 {_pct(latencies, 0.5) - base_open:.2f} ms"
            )
            errors = f", {failed} failed" if failed else ""
            _row(name, latencies, f"  achieved {achieved:.0f}/s{errors}{added}")
    finally:
        client.close()
        await runtime.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return
    _, spec = _setup()
    _, secret = KeyStore().create("load", ["agent:*"], rate_per_minute=1_000_000)
    port = _common_free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        _wait_ready(port, server)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        # The same event loop as the server's (uvicorn picks uvloop): the baseline differs
        # from the API by the API only.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_bench(args, spec, secret, port))
        print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        server.terminate()
        server.wait(30)


def _common_free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    import urllib.request

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start in 120 s")


if __name__ == "__main__":
    main()
