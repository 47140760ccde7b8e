"""serve_load: the HTTP API's added latency around a zero-latency scripted agent.

Beside it, in the same run, the same executions submitted in-process (``asubmit``: the
gateway's admit then ``Runtime.arun``), so the difference is what the API adds: HTTP,
JSON, the background task and the server-sent events.

Each server is ``workbench serve --workers N`` (the CLI, as deployed: uvicorn with uvloop
and httptools, N processes on one port; N > 1 keeps rate limits in a real redis-server
started here, as it must), all of them up for the whole run so the figures of every N
and of the baseline interleave. The load generator is a minimal HTTP/1.1 client on
asyncio streams (keep-alive, a connection per request in flight), so that its own cost
per request stays small next to the server's; httpx costs about 1 ms of CPU a request
here. Its connections land on whichever worker accepts them, so a stream often reaches
the worker that does not own the execution and is forwarded, as in production.

Measured, each after a warm-up:
- serial: in-process ``asubmit``; ``POST /v1/executions`` then the SSE stream to the final
  status (the default 202 contract); ``POST /v1/executions?wait=30`` (one round trip).
- open loop at each ``--rate`` requests/s for ``--seconds`` (bounded in count and time;
  each latency is counted from the request's scheduled start, so a queue shows):
  in-process, then over HTTP in both modes for each ``--workers``.

Target (issue 11): added p50 <= 2 ms at 200 requests/s on 2 cores (POST + SSE, the
default contract, at the full rate asked).

Usage: .venv/bin/python benchmarks/serve_load.py [--n 300] [--rate 100 200] [--seconds 3]
    [--workers 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import _common  # noqa: F401  (sets the offline environment and sys.path)
import uvloop
import yaml

_OWN_HOME = not os.environ.get("SERVE_LOAD_HOME")
HOME = Path(os.environ.get("SERVE_LOAD_HOME") or tempfile.mkdtemp(prefix="serve-load-"))
os.environ["WORKBENCH_HOME"] = str(HOME / "home")

from workbench.gateway import Gateway, KeyStore, asubmit  # noqa: E402
from workbench.runtime import AgentSpec, Runtime  # noqa: E402

WARMUP = 20
TARGET_RATE = 200.0
TARGET_ADDED_MS = 2.0
_MODULE = """from workbench.models import Turn, register_script

register_script("serve-load", lambda m, t: Turn.final("ok"))
"""


def _setup() -> tuple[Path, AgentSpec]:
    """The agent folder the servers serve, and its spec (its model registered here too)."""
    mods = HOME / "mods"
    mods.mkdir(exist_ok=True)
    (mods / "serve_load_model.py").write_text(_MODULE)
    sys.path.insert(0, str(mods))
    folder = HOME / "agents"
    folder.mkdir(exist_ok=True)
    spec_data = {
        "name": "zero",
        "model": "scripted/serve-load",
        "system_prompt": "Answer.",
        "imports": ["serve_load_model"],
    }
    (folder / "zero.yaml").write_text(yaml.safe_dump(spec_data))
    import serve_load_model  # noqa: F401  (the in-process baseline's model)

    return folder, AgentSpec.from_dict(spec_data)


# -- a minimal HTTP/1.1 client --------------------------------------------------------------


class _Client:
    """Keep-alive connections to one server; one request at a time on each."""

    def __init__(self, port: int, auth: str, *, uds: Path | None = None) -> None:
        self.port = port
        self.auth = auth
        self.uds = uds
        """A worker's private unix socket to talk to instead of the port."""
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.uds is not None:
            return await asyncio.open_unix_connection(str(self.uds))
        return await asyncio.open_connection("127.0.0.1", self.port)

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
        conn = self.idle.pop() if self.idle else await self._connect()
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


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its children (the workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for each in [pid, *map(int, children)]:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def _relay_cost(n: int, port: int, pid: int, secret: str, count: int = 300) -> None:
    """What relaying costs: one finished execution's view and events asked of its owner
    and of another worker (its private sockets), serially, with the server's CPU."""
    run = HOME / f"run-{n}"
    owner = _Client(port, f"Bearer {secret}", uds=run / "w0.sock")
    other = _Client(port, f"Bearer {secret}", uds=run / "w1.sock")
    try:
        status, body = await owner.request("POST", "/v1/executions?wait=30", _task(0))
        assert status == 200, body
        eid = json.loads(body)["execution_id"]
        print(f"{n} workers, one finished execution asked of its owner and of another worker:")
        for path in (f"/v1/executions/{eid}", f"/v1/executions/{eid}/events"):
            for name, client in (("owner", owner), ("relayed", other)):
                for _ in range(WARMUP):
                    await client.request("GET", path)
                cpu, times = _cpu_s(pid), []
                for _ in range(count):
                    started = time.perf_counter()
                    status, _ = await client.request("GET", path)
                    times.append(time.perf_counter() - started)
                    assert status == 200
                used = (_cpu_s(pid) - cpu) / count * 1000
                label = f"GET {path.replace(eid, '{id}')} ({name})"
                _row(label, times, f"  server CPU {used:.2f} ms/req")
    finally:
        owner.close()
        other.close()


def _added(values: list[float], base: list[float]) -> float:
    return _pct(values, 0.5) - _pct(base, 0.5)


async def _bench(
    args: argparse.Namespace,
    spec: AgentSpec,
    secret: str,
    ports: dict[int, int],
    pids: dict[int, int],
) -> dict[int, bool]:
    """Every measurement; returns, per worker count, whether the target is met."""
    gateway = Gateway(keys=KeyStore())
    runtime = Runtime(ledger=gateway.ledger)

    async def inproc(i: int) -> None:
        result = await asubmit(gateway, runtime, spec, api_key=secret, task=f"t{i}")
        assert result.status.value == "completed"

    clients = {n: _Client(port, f"Bearer {secret}") for n, port in ports.items()}
    ones: dict[str, One] = {"in-process asubmit": inproc}
    for n, client in clients.items():

        async def sse(i: int, client: _Client = client) -> None:
            await _http_sse(client, i)

        async def wait(i: int, client: _Client = client) -> None:
            await _http_wait(client, i)

        ones[f"{n} worker(s): POST + SSE"] = sse
        ones[f"{n} worker(s): POST ?wait=30"] = wait
    met = dict.fromkeys(ports, True)
    try:
        for n in ports:
            if n > 1:
                await _relay_cost(n, ports[n], pids[n], secret)
        # Concurrent warm-up, so that every worker (not only the one that accepts the
        # serial warm-up's single connection) has served requests before any figure.
        for one in ones.values():
            await _open(one, 50.0, 1.0)
        serial = await _serial(ones, args.n)
        base = serial["in-process asubmit"]
        print(f"serial, {args.n} requests each (interleaved) after {WARMUP} warm-up:")
        for name, values in serial.items():
            added = "" if name.startswith("in-") else f"  added p50 {_added(values, base):.2f} ms"
            _row(name, values, added)
        for rate in args.rate:
            print(f"open loop at {rate:g}/s for {args.seconds:g} s ({_load()}):")
            opened: dict[str, list[float]] = {}
            for name, one in ones.items():
                await asyncio.sleep(0.5)
                pid = None if name.startswith("in-") else pids[int(name.split()[0])]
                cpu = _cpu_s(pid) if pid else 0.0
                latencies, achieved, failed = await _open(one, rate, args.seconds)
                cpu = _cpu_s(pid) - cpu if pid else 0.0
                opened[name] = latencies
                base_open = opened["in-process asubmit"]
                added = "" if name.startswith("in-") else _added(latencies, base_open)
                errors = f", {failed} failed" if failed else ""
                note = "" if isinstance(added, str) else f"  added p50 {added:.2f} ms"
                if pid:  # the server's CPU (all its processes) per execution served
                    note += f"  server CPU {cpu / max(1, len(latencies)) * 1000:.2f} ms/req"
                _row(name, latencies, f"  achieved {achieved:.0f}/s{errors}{note}")
                if rate == TARGET_RATE and "SSE" in name:
                    n = int(name.split()[0])
                    ok = (
                        isinstance(added, float)
                        and added <= TARGET_ADDED_MS
                        and achieved >= 0.95 * rate
                        and not failed
                    )
                    met[n] = met[n] and ok
    finally:
        for client in clients.values():
            client.close()
        await runtime.aclose()
    return met


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300, help="serial requests of each kind")
    parser.add_argument("--rate", type=float, nargs="+", default=[100.0, 200.0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    folder, spec = _setup()
    _, secret = KeyStore().create("load", ["agent:*"], rate_per_minute=1_000_000)
    redis_url = _start_redis() if any(n > 1 for n in args.workers) else None
    servers: dict[int, subprocess.Popen[bytes]] = {}
    ports: dict[int, int] = {}
    try:
        for n in args.workers:
            ports[n] = _common_free_port()
            servers[n] = _start_server(folder, n, ports[n], redis_url)
        for n in args.workers:
            _wait_ready(ports[n], servers[n], n)
        print(f"servers: {', '.join(f'{n} worker(s)' for n in args.workers)}; {_load()}")
        # The same event loop as the servers' (uvicorn picks uvloop): the baseline differs
        # from the API by the API only.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            pids = {n: server.pid for n, server in servers.items()}
            met = runner.run(_bench(args, spec, secret, ports, pids))
        print(f"after: {_load()}")
        if TARGET_RATE in args.rate:
            for n, ok in met.items():
                verdict = "MET" if ok else "NOT MET"
                print(
                    f"target (added p50 <= {TARGET_ADDED_MS:g} ms at {TARGET_RATE:g}/s, "
                    f"POST + SSE) with {n} worker(s): {verdict}"
                )
    finally:
        for server in servers.values():
            server.terminate()
        for server in servers.values():
            server.wait(60)
        if redis_url is not None:
            _stop_redis()
        if _OWN_HOME:
            shutil.rmtree(HOME, ignore_errors=True)


def _start_server(
    folder: Path, workers: int, port: int, redis_url: str | None
) -> subprocess.Popen[bytes]:
    command = [
        str(Path(sys.executable).parent / "workbench"),
        *("serve", "--agents", str(folder), "--port", str(port), "--workers", str(workers)),
        *("--log-level", "warning", "--run-dir", str(HOME / f"run-{workers}")),
    ]
    if redis_url is not None:
        command += ["--rate-limit-url", redis_url]
    env = {**os.environ, "PYTHONPATH": str(HOME / "mods")}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)


def _start_redis() -> str:
    from workbench.services import start_service

    return str(start_service("redis").extra["redis_url"])


def _stop_redis() -> None:
    from workbench.services import stop_service

    stop_service("redis")


def _common_free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, server: subprocess.Popen[bytes], workers: int) -> None:
    """Until every worker listens (its private socket is bound just before it serves)."""
    import urllib.request

    sockets = [HOME / f"run-{workers}" / f"w{i}.sock" for i in range(workers)]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if workers == 1 or all(path.exists() for path in sockets):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start in 120 s")


if __name__ == "__main__":
    main()
