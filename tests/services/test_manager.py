"""The service manager with small real processes: lifecycle, state files, failures."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

import workbench.services as services
from workbench.errors import ServiceError
from workbench.services import (
    ServiceInfo,
    astart_service,
    get_service_definition,
    list_services,
    register_service,
    service_status,
    start_service,
    stop_service,
)
from workbench.settings import Settings


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] != "Z"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_public_names_are_sorted_and_exported() -> None:
    assert services.__all__ == sorted(services.__all__)
    for name in services.__all__:
        assert hasattr(services, name), name


def test_registry_lists_model_and_rejects_unknown() -> None:
    names = list_services()
    assert "model" in names
    assert names == sorted(names)
    with pytest.raises(ServiceError, match=r"unknown service 'nope'.*model"):
        get_service_definition("nope")


def test_register_instance_replaces_definition() -> None:
    class Other(services.ModelService):
        pass

    instance = Other(n_ctx=512)
    assert register_service(instance) is instance
    assert get_service_definition("model") is instance


def test_lifecycle_start_status_idempotent_stop(settings: Settings) -> None:
    info = start_service("test-http", settings=settings)
    assert info.name == "test-http"
    assert info.url == f"http://127.0.0.1:{info.port}"
    assert info.extra == {"base_url": f"{info.url}/", "kind": "http"}
    assert info.started_at.tzinfo is not None
    assert _pid_alive(info.pid)
    assert os.getsid(info.pid) == info.pid  # detached: leads its own session
    assert httpx.get(info.url).status_code == 200

    record = json.loads((settings.services_dir / "test-http.json").read_text())
    assert record["base_url"] == info.extra["base_url"]
    assert record["kind"] == "http"
    assert ServiceInfo.model_validate(record) == info

    assert service_status("test-http", settings=settings) == info
    again = start_service("test-http", settings=settings)
    assert again == info

    assert stop_service("test-http", settings=settings) is True
    assert not _pid_alive(info.pid)
    assert service_status("test-http", settings=settings) is None
    assert not (settings.services_dir / "test-http.json").exists()
    assert stop_service("test-http", settings=settings) is False


def test_start_on_requested_port_and_refuse_to_move(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    info = start_service("test-http", settings=settings, port=port)
    assert info.port == port
    with pytest.raises(ServiceError, match=f"already runs on port {port}"):
        start_service("test-http", settings=settings, port=port + 1)


def test_port_in_use_is_refused(settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServiceError, match=f"127.0.0.1:{port} is in use"):
            start_service("test-http", settings=settings, port=port)
    assert service_status("test-http", settings=settings) is None


def test_stale_state_file_is_removed(settings: Settings) -> None:
    settings.services_dir.mkdir(parents=True)
    state = settings.services_dir / "test-http.json"
    stale = ServiceInfo(
        name="test-http",
        pid=_dead_pid(),
        url="http://127.0.0.1:9",
        port=9,
        started_at=datetime.now(UTC),
        log_path=str(settings.services_dir / "test-http.log"),
    )
    state.write_text(stale.model_dump_json())
    assert service_status("test-http", settings=settings) is None
    assert not state.exists()


def test_recycled_pid_is_stale_and_never_signalled(settings: Settings) -> None:
    # Our own pid is alive, but its start time differs from the recorded one.
    settings.services_dir.mkdir(parents=True)
    state = settings.services_dir / "test-http.json"
    record = {
        "name": "test-http",
        "pid": os.getpid(),
        "url": "http://127.0.0.1:9",
        "port": 9,
        "started_at": datetime.now(UTC).isoformat(),
        "log_path": "x.log",
        "proc_start_ticks": 1,
    }
    state.write_text(json.dumps(record))
    assert stop_service("test-http", settings=settings) is False
    assert not state.exists()


def test_corrupt_state_file_is_removed(settings: Settings) -> None:
    settings.services_dir.mkdir(parents=True)
    state = settings.services_dir / "test-http.json"
    state.write_text("{not json")
    assert service_status("test-http", settings=settings) is None
    assert not state.exists()


def test_process_that_exits_raises_with_log_tail(settings: Settings) -> None:
    with pytest.raises(ServiceError) as caught:
        start_service("test-crash", settings=settings)
    message = caught.value.message
    assert "exited before it was ready" in message
    assert "fatal: cannot open the data directory" in message
    assert caught.value.code == "service_error"
    assert not (settings.services_dir / "test-crash.json").exists()


def test_never_ready_times_out_and_is_killed(settings: Settings) -> None:
    with pytest.raises(ServiceError, match="was not ready within 1 s"):
        start_service("test-silent", settings=settings)
    pid = int((settings.services_dir / "test-silent" / "pid").read_text())
    assert not _pid_alive(pid)
    assert service_status("test-silent", settings=settings) is None


def test_previous_log_is_kept(settings: Settings) -> None:
    for _ in range(2):
        with pytest.raises(ServiceError):
            start_service("test-crash", settings=settings)
    log = settings.services_dir / "test-crash.log"
    assert "fatal" in log.read_text()
    assert "fatal" in log.with_name("test-crash.log.1").read_text()


def test_sigterm_ignored_falls_back_to_sigkill(settings: Settings) -> None:
    info = start_service("test-stubborn", settings=settings)
    assert stop_service("test-stubborn", settings=settings) is True
    assert not _pid_alive(info.pid)


@pytest.mark.anyio
async def test_concurrent_starts_share_one_server(settings: Settings) -> None:
    first, second = await asyncio.gather(
        astart_service("test-http", settings=settings),
        astart_service("test-http", settings=settings),
    )
    assert first == second


@pytest.mark.anyio
async def test_sync_wrapper_works_inside_a_running_loop(settings: Settings) -> None:
    # As in a notebook cell: asyncio.run would refuse here.
    info = start_service("test-http", settings=settings)
    assert service_status("test-http", settings=settings) == info
    assert stop_service("test-http", settings=settings) is True
