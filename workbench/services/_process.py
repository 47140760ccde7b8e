"""Process plumbing for the service manager: spawn, identify, signal, ports, logs."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path

from workbench._util import pid_alive

__all__ = [
    "free_port",
    "is_alive",
    "port_is_free",
    "proc_start_ticks",
    "read_tail",
    "signal_group",
    "spawn",
]

# Popen objects of servers started by this process. Holding them lets ``poll`` reap
# an exited child (a zombie still answers ``kill(pid, 0)``) and keeps Popen's
# destructor from warning that a detached server is "still running".
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def spawn(argv: list[str], *, cwd: Path, env: dict[str, str], log_path: Path) -> int:
    """Start ``argv`` detached (own session), output to ``log_path``; return its pid."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def proc_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None where unknown.

    Together with the pid it identifies a process: a recycled pid has another value.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may contain spaces and parentheses.
    fields = stat.rpartition(")")[2].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def is_alive(pid: int, start_ticks: int | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, when given, started at ``start_ticks``."""
    child = _CHILDREN.get(pid)
    if child is not None:
        # Our own child: poll() reaps it once it exits, so no zombie is left behind.
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    if not pid_alive(pid):
        return False
    # It exists (perhaps owned by someone else): the zombie and start-time checks decide.
    stat_path = Path(f"/proc/{pid}/stat")
    if stat_path.exists():
        with contextlib.suppress(OSError):
            if stat_path.read_text().rpartition(")")[2].split()[0] == "Z":
                return False
        if start_ticks is not None and proc_start_ticks(pid) != start_ticks:
            return False
    return True


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the process group led by ``pid``; a vanished group is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def read_tail(path: Path, *, lines: int = 30) -> str:
    """The last ``lines`` lines of ``path``; empty when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])
