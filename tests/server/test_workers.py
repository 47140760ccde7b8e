"""``workbench serve --workers 2`` for real: every endpoint answers the same from each worker.

One server (two uvicorn worker processes, a real redis-server for the shared rate limits)
is started for the module. The tests talk to each worker's private unix socket directly,
so which worker gets a request is not up to the kernel: a request made on worker 1's
socket about an execution worker 0 owns must be forwarded, and answered as worker 0
answers it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from workbench.errors import ConfigError
from workbench.gateway import KeyStore
from workbench.server import Cluster, ServeConfig, create_app, serve_workers
from workbench.server._run import ServerHandle, _free_port
from workbench.services import start_service, stop_service
from workbench.settings import get_settings

MODULE = textwrap.dedent(
    '''
    """Scripted models and a gated tool of the multi-worker server tests."""
    from workbench.models import Turn, register_script
    from workbench.tools import tool

    register_script("mw-zero", lambda messages, tools: Turn.final("ok"))
    register_script(
        "mw-slow",
        lambda messages, tools: Turn.call("calculator", expression="1+1").model_copy(
            update={"latency_s": 0.2}
        ),
    )
    register_script("mw-pay", [Turn.call("wire_money", amount=5), Turn.final("paid")])


    @tool(side_effects=True, requires_approval=True)
    def wire_money(amount: int) -> str:
        """Send money.

        Args:
            amount: How much.
        """
        return f"sent {amount}"
    '''
)
FINAL = {"completed", "stopped", "error", "step_limit", "timeout"}


@dataclass
class Workers:
    url: str
    run_dir: Path
    secret: str
    keys: KeyStore
    pid: int
    """The supervisor's (``workbench serve``) process id."""

    def socket(self, worker: int) -> Path:
        """Worker ``worker``'s private socket."""
        return self.run_dir / f"w{worker}.sock"

    def client(self, worker: int) -> httpx.Client:
        """A client whose every request reaches worker ``worker`` (its private socket)."""
        transport = httpx.HTTPTransport(uds=str(self.run_dir / f"w{worker}.sock"))
        return httpx.Client(
            transport=transport,
            base_url="http://worker",
            headers={"Authorization": f"Bearer {self.secret}"},
            timeout=20,
        )


def _spec(folder: Path, name: str, model: str, tools: list[str]) -> None:
    data = {
        "name": name,
        "model": f"scripted/{model}",
        "system_prompt": "You help.",
        "tools": tools,
        "imports": ["mw_scripts"],
        "limits": {"max_retries": 1, "backoff_base_s": 0.0, "backoff_max_s": 0.0},
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    root = tmp_path_factory.mktemp("workers")
    redis_settings = get_settings(root / "redis-home")
    info = start_service("redis", settings=redis_settings)
    (root / "mods").mkdir()
    (root / "mods" / "mw_scripts.py").write_text(MODULE, encoding="utf-8")
    agents = root / "agents"
    agents.mkdir()
    _spec(agents, "zero", "mw-zero", [])
    _spec(agents, "slow", "mw-slow", ["calculator"])
    _spec(agents, "payer", "mw-pay", ["mw_scripts:wire_money"])
    home = root / "home"
    keys = KeyStore(home / "keys.sqlite")
    _, secret = keys.create("team-a", ["agent:*", "tool:*"])
    port = _free_port()
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"wb-test-{port}"  # short: AF_UNIX
    env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(root / "mods")}
    command = [
        *(str(Path(sys.executable).parent / "workbench"), "serve", "--agents", str(agents)),
        *("--workers", "2", "--port", str(port), "--run-dir", str(run_dir)),
        *("--rate-limit-url", str(info.extra["redis_url"]), "--log-level", "warning"),
    ]
    server = subprocess.Popen(command, env=env)
    handle = Workers(f"http://127.0.0.1:{port}", run_dir, secret, keys, server.pid)
    try:
        deadline = time.monotonic() + 90
        for worker in (0, 1):
            while not _healthy(run_dir / f"w{worker}.sock"):
                assert server.poll() is None, "workbench serve --workers 2 exited"
                assert time.monotonic() < deadline, "the workers did not start in 90 s"
                time.sleep(0.1)
        yield handle
    finally:
        server.terminate()
        server.wait(60)
        stop_service("redis", settings=redis_settings)
    assert server.returncode == 0
    assert not run_dir.exists() or not any(run_dir.iterdir())  # sockets and metrics removed


def _healthy(path: Path) -> bool:
    # A raw socket: httpx's unix transport leaks the socket of a refused connection.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False


def _owned_by(client: httpx.Client, agent: str, worker: int) -> str:
    resp = client.post("/v1/executions", json={"agent": agent, "task": f"go {time.time()}"})
    assert resp.status_code == 202, resp.text
    eid = str(resp.json()["execution_id"])
    assert zlib.crc32(eid.encode()) % 2 == worker  # the worker that accepted owns it
    return eid


def _wait(client: httpx.Client, eid: str, until: set[str]) -> dict[str, object]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get(f"/v1/executions/{eid}").json()
        if body["status"] in until:
            return body
        time.sleep(0.02)
    raise AssertionError(f"{eid} never reached {until}")


def _events(client: httpx.Client, eid: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    kind = ""
    with client.stream("GET", f"/v1/executions/{eid}/events") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                out.append((kind, json.loads(line.removeprefix("data: "))))
    return out


def test_every_endpoint_answers_the_same_from_either_worker(workers: Workers) -> None:
    with workers.client(0) as w0, workers.client(1) as w1:
        for owner, other in ((w0, w1), (w1, w0)):
            eid = _owned_by(owner, "zero", 0 if owner is w0 else 1)
            done = _wait(other, eid, FINAL)  # asked of the worker that does not own it
            assert done["status"] == "completed"
            assert done == owner.get(f"/v1/executions/{eid}").json()
            relayed, direct = _events(other, eid), _events(owner, eid)
            assert relayed == direct
            assert [(k, e.get("type")) for k, e in relayed] == [
                ("step", "model"),
                ("step", "status"),
                ("status", None),
            ]
            # An unknown id, another principal's id: the same 404 from both.
            for client in (w0, w1):
                missing = client.get("/v1/executions/ex-nope")
                assert (missing.status_code, missing.json()["code"]) == (404, "execution_not_found")
            _, other_secret = workers.keys.create(f"team-{eid}", ["agent:*"])
            theirs = other.get(
                f"/v1/executions/{eid}", headers={"Authorization": f"Bearer {other_secret}"}
            )
            assert (theirs.status_code, theirs.json()["code"]) == (404, "execution_not_found")


def test_a_live_stream_and_a_stop_through_the_other_worker(workers: Workers) -> None:
    with workers.client(0) as w0, workers.client(1) as w1:
        eid = _owned_by(w0, "slow", 0)
        seen: list[tuple[str, dict[str, object]]] = []
        kind = ""
        with w1.stream("GET", f"/v1/executions/{eid}/events") as resp:
            assert resp.status_code == 200
            for line in resp.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    seen.append((kind, json.loads(line.removeprefix("data: "))))
                    if len(seen) == 1:
                        # A step arrived while it runs (0.2 s a step): stop it via worker 1.
                        stopped = w1.post(f"/v1/executions/{eid}/stop")
                        assert stopped.status_code == 202
                        assert stopped.json()["status"] == "running"
        assert seen[0][0] == "step"
        assert seen[-1][0] == "status"
        assert seen[-1][1]["status"] == "stopped"
        assert w0.get(f"/v1/executions/{eid}").json()["status"] == "stopped"


def test_an_approval_is_decided_through_the_other_worker(workers: Workers) -> None:
    with workers.client(0) as w0, workers.client(1) as w1:
        eid = _owned_by(w1, "payer", 1)
        paused = _wait(w0, eid, {"awaiting_approval", *FINAL})
        assert paused["status"] == "awaiting_approval"
        approval_id = paused["pending_approval"]
        for client in (w0, w1):  # the journal is shared: the same list from both
            assert approval_id in [a["id"] for a in client.get("/v1/approvals").json()]
        decided = w0.post(f"/v1/approvals/{approval_id}", json={"approve": True})
        assert decided.status_code == 202, decided.text
        assert decided.json()["execution_id"] == eid
        events = _events(w0, eid)  # the owner resumed it: its stream, relayed
        assert events[-1][1]["status"] == "completed"
        assert events[-1][1]["answer"] == "paid"
        again = w1.post(f"/v1/approvals/{approval_id}", json={"approve": False})
        assert (again.status_code, again.json()["code"]) == (404, "approval_not_found")


def test_rate_limits_and_metrics_are_shared_by_the_workers(workers: Workers) -> None:
    _, limited = workers.keys.create("team-rate", ["agent:*"], rate_per_minute=2)
    auth = {"Authorization": f"Bearer {limited}"}
    body = {"agent": "zero", "task": "x"}
    with workers.client(0) as w0, workers.client(1) as w1:
        before = _scrape(w1)
        assert w0.post("/v1/executions", json=body, headers=auth).status_code == 202
        assert w1.post("/v1/executions", json=body, headers=auth).status_code == 202
        # Two workers, each with a rate of its own, would still admit this one.
        third = w0.post("/v1/executions", json=body, headers=auth)
        assert (third.status_code, third.json()["code"]) == (429, "rate_limited")
        done = 'workbench_executions_total{agent="zero",status="completed"}'
        accepted = 'workbench_http_requests_total{route="/v1/executions",status="202"}'
        deadline = time.monotonic() + 20
        while True:
            # Whichever worker is scraped answers for both.
            scrapes = [_scrape(w0), _scrape(w1)]
            if all(
                s.get(done, 0) - before.get(done, 0) >= 2
                and s["workbench_executions_in_flight{}"] == 0
                for s in scrapes
            ):
                break
            assert time.monotonic() < deadline, "the workers' metrics never added up"
            time.sleep(0.1)
        for scraped in scrapes:
            assert scraped[accepted] - before.get(accepted, 0) >= 2


def _scrape(client: httpx.Client) -> dict[str, float]:
    """``name{labels}`` (sorted, without ``version``) to its value, summed over versions."""
    out: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if not line.startswith("workbench_"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, labels = series.partition("{")
        kept = sorted(p for p in labels.rstrip("}").split(",") if p and "version=" not in p)
        key = f"{name}{{{','.join(kept)}}}"
        out[key] = out.get(key, 0.0) + float(value)
    return out


def test_a_worker_that_dies_is_started_again(workers: Workers) -> None:
    with workers.client(1) as w1:
        before = _owned_by(w1, "zero", 1)
        _wait(w1, before, FINAL)
    old = _worker_pids(workers.pid)
    os.kill(old[1], signal.SIGKILL)
    deadline = time.monotonic() + 90
    while True:
        pids = _worker_pids(workers.pid)
        if len(pids) == 2 and old[1] not in pids.values() and _healthy(workers.socket(1)):
            break
        assert time.monotonic() < deadline, "worker 1 was not started again"
        time.sleep(0.1)
    assert pids[0] == old[0]  # the other worker served on
    with workers.client(0) as w0, workers.client(1) as w1:
        # What the dead worker held in memory is gone (as after a restart) ...
        lost = w0.get(f"/v1/executions/{before}")
        assert (lost.status_code, lost.json()["code"]) == (404, "execution_not_found")
        # ... and the new one serves and owns executions again, reachable from both.
        eid = _owned_by(w1, "zero", 1)
        assert _wait(w0, eid, FINAL)["status"] == "completed"


def _worker_pids(supervisor: int) -> dict[int, int]:
    """The supervisor's worker processes by index (from their command lines)."""
    out = {}
    for pid in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split():
        with contextlib.suppress(FileNotFoundError):  # a zombie has no command line
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            for arg in argv:
                if arg.startswith(b"--index="):
                    out[int(arg.removeprefix(b"--index="))] = int(pid)
    return out


def test_more_than_one_worker_needs_a_shared_rate_limiter(tmp_path: Path) -> None:
    config = ServeConfig(agents={})
    with pytest.raises(ConfigError, match="rate_limit_url"):
        serve_workers(config, workers=2, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything started


def test_an_owner_that_does_not_answer_is_a_503(tmp_path: Path) -> None:
    folder = tmp_path / "agents"
    folder.mkdir()
    (folder / "zero.yaml").write_text(
        yaml.safe_dump({"name": "zero", "model": "scripted/none", "system_prompt": "x"})
    )
    cluster = Cluster(index=0, count=2, run_dir=tmp_path)  # no worker 1 is listening
    app = create_app(ServeConfig.from_dir(folder), cluster=cluster)
    _, secret = KeyStore().create("team-a", ["agent:*"])
    theirs = next(f"ex-{i}" for i in range(100) if cluster.owner(f"ex-{i}") == 1)
    mine = next(f"ex-{i}" for i in range(100) if cluster.owner(f"ex-{i}") == 0)
    assert cluster.owner(cluster.new_execution_id()) == 0
    with ServerHandle(app) as server, httpx.Client(base_url=server.url, timeout=20) as client:
        auth = {"Authorization": f"Bearer {secret}"}
        gone = client.get(f"/v1/executions/{theirs}", headers=auth)
        assert (gone.status_code, gone.json()["code"]) == (503, "service_error")
        local = client.get(f"/v1/executions/{mine}", headers=auth)
        assert (local.status_code, local.json()["code"]) == (404, "execution_not_found")
