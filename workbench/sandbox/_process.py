"""The host side of one runner process: start it, hand it a job, collect a typed result."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import marshal
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import SandboxError, SandboxUnavailable
from workbench.sandbox._types import LimitHit, SandboxLimits, SandboxResult

__all__ = [
    "RUNNER_BOOTSTRAP",
    "RunnerProcess",
    "classify",
    "discard_later",
    "remove_tree",
    "runner_code",
    "runner_source",
    "start_runner",
]

RUNNER_BOOTSTRAP = (
    "import marshal,os,sys\n"
    "f=int(sys.argv.pop(1))\n"
    "b=b''\n"
    "while c:=os.read(f,65536):b+=c\n"
    "os.close(f)\n"
    "del f,c\n"
    "exec(marshal.loads(b))"
)
"""The ``-c`` program that runs a precompiled runner (:func:`runner_code`).

Its first argument is the number of a pipe holding the marshalled code object; it
reads the pipe to its end, closes it (the code never sees it) and runs the runner,
whose own first argument is then the status pipe.
"""
_READY = b"R"
_STATUS_CAP = 4_000_000
_RUNNER_SOURCE: str | None = None
_COMPILE = (
    "import marshal,sys;"
    "sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.buffer.read(),'<runner>','exec')))"
)
_CODE_CACHE: dict[tuple[str, int, int], bytes] = {}
_CODE_LOCK = threading.Lock()


def runner_source() -> str:
    """The source of the in-sandbox runner (read once)."""
    global _RUNNER_SOURCE
    if _RUNNER_SOURCE is None:
        _RUNNER_SOURCE = (Path(__file__).with_name("_runner.py")).read_text()
    return _RUNNER_SOURCE


def runner_code(python: str) -> bytes:
    """The runner compiled by ``python`` itself, marshalled, for :data:`RUNNER_BOOTSTRAP`.

    Compiling the runner's source costs about 3.5 ms of every sandbox start, so it is
    compiled once per interpreter (by that interpreter, in a subprocess: bytecode is
    specific to a Python version) and kept for the life of the host process. The
    cache is keyed by the interpreter's inode and modification time, so an upgraded
    interpreter gets its own.

    Raises:
        SandboxUnavailable: ``python`` could not compile the runner.
    """
    try:
        info = os.stat(python)
    except OSError as exc:
        raise SandboxUnavailable(f"{python} is missing: {exc}") from exc
    key = (python, info.st_ino, info.st_mtime_ns)
    with _CODE_LOCK:
        code = _CODE_CACHE.get(key)
        if code is None:
            done = subprocess.run(
                [python, "-I", "-S", "-B", "-c", _COMPILE],
                input=runner_source().encode(),
                capture_output=True,
                env={"LANG": "C.UTF-8"},
                timeout=60,
                check=False,
            )
            if done.returncode != 0 or not done.stdout:
                tail = done.stderr.decode(errors="replace").strip()[-2000:]
                raise SandboxUnavailable(f"{python} could not compile the sandbox runner: {tail}")
            code = _CODE_CACHE[key] = done.stdout
        return code


@dataclass
class RunnerProcess:
    """A started runner waiting for its one job, with its private work directory."""

    popen: subprocess.Popen[bytes]
    status_fd: int
    workdir: Path
    ready: bool = False

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until the runner says it waits for a job; ``False`` if it died or timed out."""
        if self.ready:
            return True
        readable, _, _ = _select([self.status_fd], timeout_s)
        if not readable:
            return False
        self.ready = os.read(self.status_fd, 1) == _READY
        return self.ready

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None

    def kill(self) -> None:
        """Kill the whole sandbox (its process group) and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.popen.kill()
        self.popen.wait()

    def discard(self) -> None:
        """Kill the process and remove its work directory and pipes."""
        self.kill()
        for stream in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        with contextlib.suppress(OSError):
            os.close(self.status_fd)
        remove_tree(self.workdir)

    def run_once(self, backend: str, code: str, limits: SandboxLimits) -> SandboxResult:
        """:meth:`run`, then discard the process in the background, whatever happened.

        Only the thread that runs the job may close its pipes (closing a pipe that
        another thread polls would leave that thread waiting until the wall time).
        """
        try:
            return self.run(backend, code, limits)
        finally:
            discard_later(self)

    def run(self, backend: str, code: str, limits: SandboxLimits) -> SandboxResult:
        """Hand over the job, collect output under the caps, and build the result (blocking).

        Raises:
            SandboxUnavailable: The sandbox failed before the runner started (the
                message has the sandbox tool's own error).
        """
        started = time.monotonic()
        # marshal: the runner must not pay for importing json before it can start.
        job = marshal.dumps({"code": code, "limits": limits.model_dump()}, 4)
        collected = _collect(self, job, limits)
        duration = time.monotonic() - started
        status_bytes = _report(collected.status) or b""
        started_up = self.ready or collected.status.startswith(_READY)
        if not started_up and not collected.killed_for:
            tail = collected.stderr.decode(errors="replace").strip()[-2000:]
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)
            raise SandboxUnavailable(
                f"the {backend} sandbox did not start (exit {self.popen.returncode}): {tail}"
            )
        report = _parse_report(status_bytes, backend)
        return classify(
            backend=backend,
            report=report,
            stdout=collected.stdout,
            stderr=collected.stderr,
            killed_for=collected.killed_for,
            limits=limits,
            duration_s=duration,
        )


def _parse_report(data: bytes, backend: str) -> dict[str, Any]:
    """The runner's header line (trusted) and the code's outcome (untrusted) after it."""
    if not data:
        return {}
    header, _, outcome = data.partition(b"\n")
    try:
        report: dict[str, Any] = json.loads(header)
    except ValueError as exc:
        raise SandboxError(f"the {backend} runner sent a malformed report") from exc
    try:
        parsed = json.loads(outcome) if outcome else None
    except ValueError:
        parsed = None
    report["outcome"] = parsed if isinstance(parsed, dict) else None
    return report


@dataclass
class _Collected:
    stdout: bytes
    stderr: bytes
    status: bytes
    killed_for: LimitHit | None


def _select(fds: Sequence[int], timeout_s: float) -> tuple[list[int], list[int], list[int]]:
    import select

    return select.select(list(fds), [], [], timeout_s)


def _collect(proc: RunnerProcess, job: bytes, limits: SandboxLimits) -> _Collected:
    popen = proc.popen
    assert popen.stdin is not None
    assert popen.stdout is not None
    assert popen.stderr is not None
    with contextlib.suppress(BrokenPipeError):
        popen.stdin.write(job)
    with contextlib.suppress(BrokenPipeError):
        popen.stdin.close()
    deadline = time.monotonic() + limits.wall_time_s
    buffers: dict[int, bytearray] = {}
    out_fd, err_fd = popen.stdout.fileno(), popen.stderr.fileno()
    killed_for: LimitHit | None = None
    room = limits.output_bytes
    with selectors.DefaultSelector() as selector:
        for fd in (out_fd, err_fd, proc.status_fd):
            buffers[fd] = bytearray()
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                killed_for = "wall_time"
                break
            for key, _ in selector.select(left):
                fd = int(key.fd)
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(fd)
                    continue
                if fd == proc.status_fd:
                    if len(buffers[fd]) < _STATUS_CAP:
                        buffers[fd] += chunk
                    continue
                kept = chunk[:room]
                buffers[fd] += kept
                room -= len(kept)
                if len(kept) < len(chunk):
                    killed_for = "output_size"
            if killed_for is not None:
                break
            if _report(bytes(buffers[proc.status_fd])) is not None:
                # The code has exited, so what it wrote is in the pipes already.
                for fd in (out_fd, err_fd):
                    room, over = _drain(fd, buffers[fd], room)
                    if over:
                        killed_for = "output_size"
                break
    if killed_for is not None:
        proc.kill()
    return _Collected(
        stdout=bytes(buffers[out_fd]),
        stderr=bytes(buffers[err_fd]),
        status=bytes(buffers[proc.status_fd]),
        killed_for=killed_for,
    )


def _drain(fd: int, buffer: bytearray, room: int) -> tuple[int, bool]:
    """Read what is already in the pipe, without waiting; ``True`` when over the cap."""
    os.set_blocking(fd, False)
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return room, False
            if not chunk:
                return room, False
            kept = chunk[:room]
            buffer += kept
            room -= len(kept)
            if len(kept) < len(chunk):
                return room, True
    finally:
        with contextlib.suppress(OSError):
            os.set_blocking(fd, True)


def _report(status: bytes) -> bytes | None:
    """The runner's report once it is complete (after ``R`` and its length), else ``None``."""
    body = status.lstrip(_READY)
    size, newline, rest = body.partition(b"\n")
    if not newline or not size.isdigit() or len(rest) < int(size):
        return None
    return rest[: int(size)]


_ERRNO_LIMITS: dict[int, LimitHit] = {errno.EFBIG: "file_size", errno.EMFILE: "open_files"}


def classify(
    *,
    backend: str,
    report: Mapping[str, Any],
    stdout: bytes,
    stderr: bytes,
    killed_for: LimitHit | None,
    limits: SandboxLimits,
    duration_s: float,
) -> SandboxResult:
    """Build the typed result from the runner's report and what the host saw.

    The host's own verdicts (wall time, output size) come first; then the kernel's
    (the signal that killed the code, with its CPU time); then the uncaught
    exception's type and errno (MemoryError, EFBIG, EMFILE, a failed fork).
    """
    outcome = report.get("outcome") or {}
    errors: list[dict[str, Any]] = list(outcome.get("errors") or [])
    cpu_s = float(report.get("cpu_s") or 0.0)
    sig = report.get("signal")
    exit_code = report.get("exit_code")
    if killed_for is not None or not report:
        code = -int(signal.SIGKILL)
    elif sig is not None:
        code = -int(sig)
    else:
        code = int(exit_code) if exit_code is not None else -int(signal.SIGKILL)
    limit = killed_for
    if limit is None and sig is not None:
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= limits.cpu_s - 0.05):
            limit = "cpu"
        elif sig == signal.SIGXFSZ:
            limit = "file_size"
    for error in errors:
        if limit is not None:
            break
        limit = _limit_of(error)
    return SandboxResult(
        backend=backend,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
        value=outcome.get("value"),
        value_repr=outcome.get("repr"),
        exit_code=code,
        limit_hit=limit,
        error_type=errors[0]["type"] if errors else None,
        cpu_s=cpu_s,
        duration_s=duration_s,
    )


def _limit_of(error: Mapping[str, Any]) -> LimitHit | None:
    kind, number = error.get("type"), error.get("errno")
    if kind == "MemoryError":
        return "memory"
    if isinstance(number, int) and number in _ERRNO_LIMITS:
        return _ERRNO_LIMITS[number]
    # fork() and thread creation fail with EAGAIN once RLIMIT_NPROC is reached.
    if kind == "BlockingIOError" and number == errno.EAGAIN:
        return "processes"
    if kind == "RuntimeError" and "can't start new thread" in str(error.get("message")):
        return "processes"
    return None


def start_runner(
    argv: Sequence[str],
    *,
    workdir: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
    user: int | None = None,
    code: bytes | None = None,
) -> RunnerProcess:
    """Start ``argv`` (ending in the runner's command) with the status pipe's number appended.

    The process leads a new process group so that a kill reaches all of it, and
    gets exactly ``env`` (a sandbox tool's own environment is readable inside
    through ``/proc``, so it must not hold secrets either).

    With ``code`` (from :func:`runner_code`), ``argv`` ends in ``-c``
    :data:`RUNNER_BOOTSTRAP`, and the number of a pipe already holding ``code``
    comes before the status pipe's.
    """
    passed: list[int] = []
    read_end = -1
    try:
        if code is not None:
            code_read, code_write = os.pipe()
            passed.append(code_read)
            try:
                # Written before the start, so it must fit the pipe: enlarged past the
                # default 64 KiB, and never blocking (a misfit raises instead).
                if len(code) > 65536:
                    fcntl.fcntl(code_write, fcntl.F_SETPIPE_SZ, len(code))
                os.set_blocking(code_write, False)
                _write_all(code_write, code)
            finally:
                os.close(code_write)
        read_end, write_end = os.pipe()
        passed.append(write_end)
        popen = subprocess.Popen(
            [*argv, *map(str, passed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=passed,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            user=user,
            group=user,
            extra_groups=[] if user is not None else None,
        )
    except OSError:
        if read_end != -1:
            os.close(read_end)
        raise
    finally:
        for fd in passed:
            os.close(fd)
    return RunnerProcess(popen=popen, status_fd=read_end, workdir=workdir)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


_reaper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="workbench-sandbox-reaper")


def discard_later(proc: RunnerProcess) -> None:
    """Discard ``proc`` off the caller's path (reaping and removing files take time)."""
    try:
        _reaper.submit(proc.discard)
    except RuntimeError:  # the interpreter is shutting down
        proc.discard()


def remove_tree(path: Path) -> None:
    """Remove a work directory, even one the code made unreadable."""

    def fix(func: Any, target: str, _info: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, 0o700)
                shutil.rmtree(target, ignore_errors=True)
            else:
                func(target)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=fix)
