"""Attacks from inside the sandbox, each a real attempt with its exact outcome asserted.

They run on every backend that claims isolation (``isolated``), so a new backend
(Docker) is attacked the same way by adding it to ``ISOLATED_BACKENDS``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import SMALL

from workbench.sandbox import BubblewrapBackend, DockerBackend, SandboxBackend

REPO = Path(__file__).resolve().parents[2]
EXPECTED_ENV = {"HOME", "LANG", "PATH", "PWD", "TMPDIR"}
# What the Docker engine adds to every container and no option removes: a read-only
# sysfs at /sys (it shows the container's own network namespace: only lo), the empty
# marker /.dockerenv, and generated /etc/hostname, /etc/resolv.conf and /etc/mtab
# (a link to /proc/mounts). None of them is a host file.
ENGINE_TOP = {"docker": {"sys", ".dockerenv"}}
ENGINE_ETC = {"docker": ["hostname", "mtab", "resolv.conf"]}


def _run(backend: SandboxBackend, code: str) -> object:
    result = backend.run(code, limits=SMALL)
    assert result.exit_code == 0, result.stderr
    return result.value


@pytest.fixture
def loopback_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server on the host's 127.0.0.1; the list collects accepted connections."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    server.close()
    for conn in accepted:
        conn.close()


def test_the_loopback_server_is_reachable_from_the_host(
    loopback_server: tuple[int, list[socket.socket]],
) -> None:
    port, accepted = loopback_server
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    deadline = time.monotonic() + 2
    while not accepted and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(accepted) == 1  # so the refusal below is the sandbox's doing


def test_no_connection_to_a_host_loopback_server(
    isolated: SandboxBackend, loopback_server: tuple[int, list[socket.socket]]
) -> None:
    port, accepted = loopback_server
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    outcome = 'connected'\n"
        "except OSError as exc:\n"
        "    outcome = [type(exc).__name__, exc.errno]\n"
        "outcome"
    )
    assert _run(isolated, code) == ["ConnectionRefusedError", 111]
    assert accepted == []


def test_no_route_to_any_outside_address(isolated: SandboxBackend) -> None:
    code = (
        "import socket\n"
        "outcome = []\n"
        "for host in ('192.0.2.1', '1.1.1.1', '10.0.0.1'):\n"
        "    try:\n"
        "        socket.create_connection((host, 80), timeout=2)\n"
        "        outcome.append('connected')\n"
        "    except OSError as exc:\n"
        "        outcome.append(exc.errno)\n"
        "outcome"
    )
    assert _run(isolated, code) == [101, 101, 101]  # ENETUNREACH


def test_only_its_own_loopback_interface(isolated: SandboxBackend) -> None:
    assert _run(isolated, "import socket\nsocket.if_nameindex()") == [[1, "lo"]]


def test_dns_lookup_fails(isolated: SandboxBackend) -> None:
    code = (
        "import socket\n"
        "try:\n"
        "    socket.getaddrinfo('example.com', 443)\n"
        "    outcome = 'resolved'\n"
        "except socket.gaierror as exc:\n"
        "    outcome = type(exc).__name__\n"
        "outcome"
    )
    assert _run(isolated, code) == "gaierror"


def test_raw_and_packet_sockets_are_refused(isolated: SandboxBackend) -> None:
    code = (
        "import socket\n"
        "outcome = []\n"
        "for family, kind, proto in [(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),\n"
        "                            (socket.AF_PACKET, socket.SOCK_RAW, 0)]:\n"
        "    try:\n"
        "        socket.socket(family, kind, proto)\n"
        "        outcome.append('opened')\n"
        "    except OSError as exc:\n"
        "        outcome.append([type(exc).__name__, exc.errno])\n"
        "outcome"
    )
    assert _run(isolated, code) == [["PermissionError", 1], ["PermissionError", 1]]


def test_host_files_are_not_there(isolated: SandboxBackend) -> None:
    targets = [
        str(REPO / "README.md"),
        str(REPO / "workbench" / "errors.py"),
        "/etc/shadow",
        str(Path.home() / ".ssh" / "id_rsa"),
        str(Path.home() / ".ssh"),
        f"/proc/{os.getpid()}/environ",
        f"/proc/{os.getpid()}/mem",
    ]
    code = (
        "outcome = {}\n"
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'rb').read(1)\n"
        "        outcome[path] = 'read'\n"
        "    except OSError as exc:\n"
        "        outcome[path] = type(exc).__name__\n"
        "outcome"
    )
    assert _run(isolated, code) == dict.fromkeys(targets, "FileNotFoundError")


def test_only_system_paths_are_visible(isolated: SandboxBackend) -> None:
    code = "import os\n[sorted(os.listdir('/')), sorted(os.listdir('/etc'))]"
    top, etc = _run(isolated, code)  # type: ignore[misc]
    assert set(top) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc"} | {
        "sbin",
        "tmp",
        "usr",
        "work",
    } | ENGINE_TOP.get(isolated.name, set())
    assert "root" not in top
    assert "home" not in top
    assert etc == sorted(
        ["group", "hosts", "ld.so.cache", "passwd", *ENGINE_ETC.get(isolated.name, [])]
    )


def test_other_processes_memory_and_environment_are_unreadable(isolated: SandboxBackend) -> None:
    code = (
        "import os\n"
        "outcome = {'pids': sorted(p for p in os.listdir('/proc') if p.isdigit()),\n"
        "           'me': os.getpid()}\n"
        "for name in ('mem', 'environ', 'maps'):\n"
        "    try:\n"
        "        open(f'/proc/1/{name}', 'rb').read(1)\n"
        "        outcome[name] = 'read'\n"
        "    except OSError as exc:\n"
        "        outcome[name] = type(exc).__name__\n"
        "outcome"
    )
    # Only the sandbox's runner (pid 1) and the code itself exist in its pid namespace.
    # (In a container the code is not pid 2: the engine's `runc init` threads used the
    # pids before it exec'd the runner, and they are gone.)
    outcome = _run(isolated, code)
    assert isinstance(outcome, dict)
    me = 2 if isolated.name == "bubblewrap" else outcome["me"]
    assert outcome == {
        "pids": ["1", str(me)],
        "me": me,
        "mem": "PermissionError",
        "environ": "PermissionError",
        "maps": "PermissionError",
    }


def test_writes_outside_the_work_dir_fail(isolated: SandboxBackend, tmp_path: Path) -> None:
    marker = f"escape-{os.getpid()}"
    targets = [f"/{marker}", f"/usr/{marker}", f"/etc/{marker}", str(tmp_path / marker)]
    code = (
        "outcome = {}\n"
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        outcome[path] = 'written'\n"
        "    except OSError as exc:\n"
        "        outcome[path] = exc.errno\n"
        f"open('/tmp/{marker}', 'w').write('x')\n"
        f"open('/work/{marker}', 'w').write('x')\n"
        "outcome"
    )
    # EROFS for the read-only system paths; the host's tmp_path does not exist inside.
    assert _run(isolated, code) == {
        f"/{marker}": 30,
        f"/usr/{marker}": 30,
        f"/etc/{marker}": 30,
        str(tmp_path / marker): 2,
    }
    assert not (tmp_path / marker).exists()
    assert not Path(f"/tmp/{marker}").exists()
    assert not Path(f"/usr/{marker}").exists()


def test_fork_bomb(isolated: SandboxBackend) -> None:
    started = time.monotonic()
    result = isolated.run("import os\nwhile True:\n    os.fork()", limits=SMALL)
    assert (result.limit_hit, result.error_type) == ("processes", "BlockingIOError")
    assert time.monotonic() - started < SMALL.wall_time_s
    assert isolated.run("1 + 1").value == 2


def test_memory_bomb(isolated: SandboxBackend) -> None:
    result = isolated.run("s = 'x' * (4 * 1024**3)", limits=SMALL)
    assert (result.limit_hit, result.error_type) == ("memory", "MemoryError")


def test_memory_bomb_in_forked_processes(isolated: SandboxBackend) -> None:
    code = (
        "import os\n"
        "for _ in range(8):\n"
        "    if os.fork() == 0:\n"
        "        try:\n"
        "            bytearray(512 * 1024**2)\n"
        "            os._exit(0)\n"
        "        except MemoryError:\n"
        "            os._exit(42)\n"
        "[os.waitpid(-1, 0)[1] >> 8 for _ in range(8)]"
    )
    assert isolated.run(code, limits=SMALL).value == [42] * 8


def test_cpu_spin(isolated: SandboxBackend) -> None:
    # Wall time with room: on a loaded machine a CPU second takes several wall seconds.
    roomy = SMALL.model_copy(update={"wall_time_s": 20.0})
    result = isolated.run("while True:\n    pass", limits=roomy)
    assert (result.limit_hit, result.exit_code) == ("cpu", -24)


def test_huge_output(isolated: SandboxBackend) -> None:
    code = "import sys\nsys.stdout.write('x' * 10**8)\nsys.stderr.write('y' * 10**8)"
    result = isolated.run(code, limits=SMALL)
    assert result.limit_hit == "output_size"
    assert len(result.stdout) + len(result.stderr) == SMALL.output_bytes


def test_no_api_keys_inside(isolated: SandboxBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-1234")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-5678")
    # A backend started after the keys were set, cold (no pooled process from before).
    backend: SandboxBackend
    if isinstance(isolated, DockerBackend):
        backend = DockerBackend(docker_host=isolated.docker_host, pool_size=0)
    else:
        backend = BubblewrapBackend(pool_size=0)
    code = (
        "import os\n"
        "blobs = []\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['self']:\n"
        "    for name in ('environ', 'cmdline'):\n"
        "        try:\n"
        "            blobs.append(open(f'/proc/{pid}/{name}', 'rb').read().decode())\n"
        "        except OSError:\n"
        "            pass\n"
        "[sorted(os.environ), any('secret' in b for b in blobs), len(blobs)]"
    )
    names, leaked, blobs = _run(backend, code)  # type: ignore[misc]
    assert set(names) == EXPECTED_ENV  # type: ignore[arg-type]
    assert leaked is False
    assert blobs >= 3  # self environ and cmdline, and pid 1's cmdline were read
    backend.close()


def test_signals_cannot_reach_the_host(isolated: SandboxBackend) -> None:
    code = (
        "import os, signal\n"
        "outcome = {'ppid': os.getppid()}\n"
        f"for pid in ({os.getpid()}, {os.getppid()}):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "        outcome[str(pid)] = 'sent'\n"
        "    except OSError as exc:\n"
        "        outcome[str(pid)] = type(exc).__name__\n"
        "try:\n"
        "    os.kill(-1, signal.SIGKILL)\n"
        "    outcome['all'] = 'sent'\n"
        "except OSError as exc:\n"
        "    outcome['all'] = type(exc).__name__\n"
        "outcome"
    )
    # The host's pids do not exist inside; the parent inside is the sandbox's pid 1,
    # which a signal from inside its namespace cannot kill (the result still arrives).
    host_pid, host_parent = str(os.getpid()), str(os.getppid())
    value = _run(isolated, code)
    assert value == {
        "ppid": 1,
        host_pid: "ProcessLookupError",
        host_parent: "ProcessLookupError",
        "all": "ProcessLookupError",
    }
    killed_parent = isolated.run("import os, signal\nos.kill(1, signal.SIGKILL)\n'alive'")
    assert (killed_parent.exit_code, killed_parent.value) == (0, "alive")


def test_ptrace_is_refused(isolated: SandboxBackend) -> None:
    code = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "outcome = {}\n"
        f"for pid in (1, {os.getpid()}):\n"
        "    rc = libc.ptrace(16, pid, 0, 0)  # PTRACE_ATTACH\n"
        "    outcome[str(pid)] = [rc, ctypes.get_errno()]\n"
        "outcome"
    )
    # EPERM for the sandbox's own runner (non-dumpable), ESRCH for the host's process.
    assert _run(isolated, code) == {"1": [-1, 1], str(os.getpid()): [-1, 3]}


def test_mount_and_new_namespaces_are_refused(isolated: SandboxBackend) -> None:
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "outcome = {}\n"
        "rc = libc.mount(b'none', b'/work', b'tmpfs', 0, None)\n"
        "outcome['mount'] = [rc, ctypes.get_errno()]\n"
        "outcome['bind'] = [libc.mount(b'/', b'/work', None, 4096, None), ctypes.get_errno()]\n"
        "outcome['userns'] = [libc.unshare(0x10000000), ctypes.get_errno()]\n"
        "outcome['mountns'] = [libc.unshare(0x00020000), ctypes.get_errno()]\n"
        "outcome"
    )
    # No further user namespaces: ENOSPC under bubblewrap (--disable-userns), EPERM in
    # a container (the engine's seccomp profile refuses unshare without CAP_SYS_ADMIN).
    userns_errno = 28 if isolated.name == "bubblewrap" else 1
    assert _run(isolated, code) == {
        "mount": [-1, 1],  # EPERM: no CAP_SYS_ADMIN
        "bind": [-1, 1],
        "userns": [-1, userns_errno],
        "mountns": [-1, 1],
    }


def test_runs_as_an_unprivileged_user_without_capabilities(isolated: SandboxBackend) -> None:
    code = (
        "import os\n"
        "lines = open('/proc/self/status').read().splitlines()\n"
        "wanted = ('CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs')\n"
        "status = dict(line.split(':\\t') for line in lines if line.startswith(wanted))\n"
        "[os.getuid(), os.getgid(), os.getgroups(), status]"
    )
    # The engine always lists the primary group as a supplementary one (no capability
    # is left to drop it): the same gid 65534, nothing more.
    groups = [65534] if isolated.name == "docker" else []
    assert _run(isolated, code) == [
        65534,
        65534,
        groups,
        {"CapPrm": "0000000000000000", "CapEff": "0000000000000000", "CapBnd": "0000000000000000"}
        | {"NoNewPrivs": "1"},
    ]


def test_no_state_leaks_through_the_warm_pool(isolated: SandboxBackend) -> None:
    assert isinstance(isolated, BubblewrapBackend | DockerBackend)
    assert isolated.prewarm()
    first = isolated.run(
        "import os, subprocess, sys\n"
        "open('/work/left', 'w').write('secret')\n"
        "open('/tmp/left', 'w').write('secret')\n"
        "os.environ['LEFT'] = 'secret'\n"
        "sys.modules['os'].LEFT = 'secret'\n"
        "subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        "os.getpid()"
    )
    assert first.exit_code == 0, first.stderr
    assert isolated.prewarm()
    second = isolated.run(
        "import os\n"
        "[os.path.exists('/work/left'), os.path.exists('/tmp/left'), 'LEFT' in os.environ,\n"
        " hasattr(os, 'LEFT'), sorted(p for p in os.listdir('/proc') if p.isdigit()),\n"
        " os.listdir('/work'), os.listdir('/tmp'), os.getpid()]"
    )
    assert isinstance(second.value, list)
    me = second.value[-1]
    assert second.value == [False, False, False, False, ["1", str(me)], [], [], me]
