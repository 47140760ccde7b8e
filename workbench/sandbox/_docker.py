"""The ``docker`` backend: each call in a fresh, locked-down container, from a warm pool."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import subprocess
import tempfile
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from workbench.errors import SandboxUnavailable
from workbench.sandbox._backend import SandboxBackend, register_backend
from workbench.sandbox._docker_image import IO_MOUNT, image_tag
from workbench.sandbox._pool import WarmPool
from workbench.sandbox._process import RunnerProcess, discard_later, remove_tree, runner_source
from workbench.sandbox._types import SandboxLimits, SandboxResult

__all__ = ["API_VERSION", "DockerBackend"]

API_VERSION = "1.41"
"""Docker API version spoken (Debian's docker.io 20.10); newer engines accept it too."""

_PYTHON = "/usr/bin/python3"
_NOBODY = 65534
_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "PWD": "/work",
}
_FIFOS = ("in", "out", "err", "status")
_START_TIMEOUT_S = 30.0
_CPUS = 1.0
"""CPU share of one container (CFS quota); the CPU-time limit is ``cpu_s`` per call."""
_OVERHEAD_MB = 64
"""Memory of the runner itself, added to the container's memory cgroup."""
_NPROC_BACKSTOP = 4096
"""RLIMIT_NPROC handed to the runner. Without a user namespace every container's uid
65534 is the same kernel user, so RLIMIT_NPROC would count other sandboxes too: the
pids cgroup of the container enforces ``processes`` exactly instead."""
_MAX_POOLS = 2
"""Warm pools kept for distinct container shapes (the default limits and the latest other)."""
_NO_ENGINE = (
    "no Docker engine to run the docker sandbox: start one with `workbench services up "
    "docker` (it installs docker.io if needed and builds the sandbox image), or set "
    "DOCKER_HOST; there is no fallback to unsandboxed execution"
)

# Runs as pid 1 of the container, before the runner: connects stdin, stdout, stderr
# and the status pipe to the host's FIFOs (mounted read-only at IO_MOUNT; the host
# unlinks them once the runner is ready, so the code cannot open them), then becomes
# the runner in the same process, so that the runner is pid 1 as under bubblewrap.
_PRELUDE = """\
import os, sys
d = {io!r} + '/'
f = os.open(d + 'in', os.O_RDONLY)
os.dup2(f, 0)
os.close(f)
for n, name in ((1, 'out'), (2, 'err')):
    f = os.open(d + name, os.O_WRONLY)
    os.dup2(f, n)
    os.close(f)
sys.argv[1:] = [str(os.open(d + 'status', os.O_WRONLY))]
os.environ.pop('HOSTNAME', None)
del d, f, n, name
exec({runner!r})
"""


@dataclass(frozen=True)
class _Shape:
    """What is fixed when a container is created (the rest of the limits apply per call)."""

    memory_mb: int
    processes: int
    file_size_mb: int
    open_files: int

    @classmethod
    def of(cls, limits: SandboxLimits) -> _Shape:
        return cls(limits.memory_mb, limits.processes, limits.file_size_mb, limits.open_files)


class _ContainerProcess:
    """The part of ``subprocess.Popen`` a :class:`RunnerProcess` uses, for a container."""

    def __init__(self, stdin: IO[bytes], stdout: IO[bytes], stderr: IO[bytes]) -> None:
        self.stdin: IO[bytes] | None = stdin
        self.stdout: IO[bytes] | None = stdout
        self.stderr: IO[bytes] | None = stderr
        self.pid = 0
        self.pidfd: int | None = None
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and (self.pidfd is None or _readable(self.pidfd, 0)):
            self.returncode = -int(signal.SIGKILL)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.pidfd is not None and not _readable(self.pidfd, timeout):
            raise subprocess.TimeoutExpired("container", timeout or 0.0)
        return self.poll() or 0

    def kill(self) -> None:
        if self.pidfd is not None and self.poll() is None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)


def _readable(fd: int, timeout: float | None) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


@dataclass
class _ContainerRunner(RunnerProcess):
    """A runner in a started container; its work directory is the host's FIFO directory."""

    container: Any = None
    handle: _ContainerProcess | None = None
    unlinked: bool = field(default=False)

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait for ``R`` (or the container's end), then unlink the FIFOs."""
        if not self.ready and self.handle is not None and self.handle.pidfd is not None:
            fds = [self.status_fd, self.handle.pidfd]
            ready, _, _ = select.select(fds, [], [], timeout_s)
            if self.status_fd not in ready:
                return False
        ok = super().wait_ready(timeout_s)
        if ok and not self.unlinked:
            # Only the runner held them open: the code cannot open them again (and so
            # cannot forge the status report).
            for name in _FIFOS:
                with contextlib.suppress(OSError):
                    (self.workdir / name).unlink()
            self.unlinked = True
        return ok

    def alive(self) -> bool:
        """Whether the container's pid 1 still runs."""
        return self.handle is not None and self.handle.poll() is None

    def kill(self) -> None:
        """SIGKILL the container's pid 1 (the kernel then kills the whole pid namespace)."""
        if self.handle is not None and self.handle.pidfd is not None:
            self.handle.kill()
        elif self.container is not None:
            with contextlib.suppress(Exception):
                self.container.kill()

    def discard(self) -> None:
        """Kill and remove the container, close the pipes, remove the FIFO directory."""
        self.kill()
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.remove(force=True, v=True)
        handle = self.handle
        if handle is not None:
            for stream in (handle.stdin, handle.stdout, handle.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            if handle.pidfd is not None:
                with contextlib.suppress(OSError):
                    os.close(handle.pidfd)
                handle.pidfd = None
        with contextlib.suppress(OSError):
            os.close(self.status_fd)
        remove_tree(self.workdir)

    def logs(self) -> str:
        """The container's own output (Python's start-up errors land there)."""
        try:
            raw = self.container.logs(stdout=True, stderr=True, tail=40)
        except Exception as exc:  # the engine may be gone too
            return f"(no logs: {exc})"
        return bytes(raw).decode(errors="replace").strip()[-2000:]


@register_backend("docker")
class DockerBackend(SandboxBackend):
    """Code in a fresh Docker container of the project's own image, via the ``docker`` SDK.

    Each container: no network (``--network none``: its own loopback only), a
    read-only root of the sandbox image (system Python only), tmpfs ``/work`` (the
    current directory) and ``/tmp`` of twice ``file_size_mb`` each, uid/gid 65534
    with every capability dropped and ``no-new-privileges``, no IPC namespace
    sharing and no ``/dev/shm``, one CPU, a memory cgroup of ``memory_mb`` plus the
    tmpfs sizes and the runner's overhead, a pids cgroup of ``processes`` plus the
    runner, and ``nofile`` / ``fsize`` ulimits. Inside runs the same runner as under
    bubblewrap (pid 1, non-dumpable), which applies every limit of the call to the
    code and reports through a status pipe the code cannot reach; stdin, stdout,
    stderr and that pipe are FIFOs in a host directory mounted read-only and
    unlinked before the code starts.

    Containers are started ahead into a warm pool per container shape (the limits
    fixed at creation: memory, processes, file size, open files); each serves one
    call and is removed. The engine is found from ``docker_host``, else the running
    ``docker`` service (``workbench services up docker``), else ``DOCKER_HOST``.
    """

    def __init__(
        self,
        *,
        limits: SandboxLimits | None = None,
        pool_size: int = 2,
        docker_host: str | None = None,
        image: str | None = None,
        workdir_root: Path | str | None = None,
    ) -> None:
        """Connect to the engine and check the image; no container starts yet.

        Args:
            limits: Default limits of every call.
            pool_size: Containers kept started per shape; 0 starts every call cold.
            docker_host: Engine address (``unix:///...``); found as above when ``None``.
            image: Image to run; the project's sandbox image (:func:`image_tag`) when ``None``.
            workdir_root: Where the per-call FIFO directories are made (a private
                directory under the system temp directory when ``None``).

        Raises:
            SandboxUnavailable: No engine answers, or the image is missing.
        """
        super().__init__(limits=limits)
        import docker
        import docker.errors

        self.docker_host = docker_host or _find_docker_host()
        socket_path = self.docker_host.removeprefix("unix://")
        if self.docker_host.startswith("unix://") and not Path(socket_path).exists():
            # Checked here: the SDK leaks its socket when a connect fails.
            raise SandboxUnavailable(f"{_NO_ENGINE} ({socket_path} does not exist)")
        try:
            self.client = docker.DockerClient(
                base_url=self.docker_host, version=API_VERSION, timeout=60
            )
        except Exception as exc:  # the SDK raises requests' and its own errors alike
            raise SandboxUnavailable(f"{_NO_ENGINE} ({self.docker_host}: {exc})") from exc
        try:
            self.client.ping()
        except Exception as exc:
            self.client.close()
            raise SandboxUnavailable(f"{_NO_ENGINE} ({self.docker_host}: {exc})") from exc
        self.image = image or image_tag()
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            self.client.close()
            raise SandboxUnavailable(
                f"the sandbox image {self.image} is not in the engine at {self.docker_host}: "
                "`workbench services up docker` builds it"
            ) from None
        self._root = Path(workdir_root) if workdir_root else None
        self._base: Path | None = None
        self._lock = threading.Lock()
        self.pool_size = pool_size
        self._pools: OrderedDict[_Shape, WarmPool] = OrderedDict()
        self._default_shape = _Shape.of(self.limits)
        self.pool = self._pool(self._default_shape)
        """The warm pool of containers for the default limits."""

    def prewarm(self, timeout_s: float = 60.0) -> bool:
        """Fill the pool of the default limits now; ``False`` on timeout."""
        return self.pool.fill(timeout_s)

    async def arun(self, code: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
        """See :meth:`SandboxBackend.arun`."""
        chosen = limits or self.limits
        shape = _Shape.of(chosen)
        proc = self._pool(shape).take()
        if proc is None:
            starting = asyncio.ensure_future(asyncio.to_thread(self._start, shape))
            try:
                proc = await asyncio.shield(starting)
            except asyncio.CancelledError:
                starting.add_done_callback(_discard_started)
                raise
        try:
            return await asyncio.to_thread(self._run_on, proc, code, chosen)
        except BaseException:
            proc.kill()
            raise

    def run(self, code: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
        """Blocking :meth:`arun` on the caller's thread."""
        chosen = limits or self.limits
        shape = _Shape.of(chosen)
        proc = self._pool(shape).take() or self._start(shape)
        return self._run_on(proc, code, chosen)

    def close(self) -> None:
        """Remove the idle pooled containers and close the engine connections.

        The backend stays usable: later calls start cold and reconnect.
        """
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()
        self.client.close()

    def _pool(self, shape: _Shape) -> WarmPool:
        with self._lock:
            pool = self._pools.get(shape)
            if pool is not None:
                self._pools.move_to_end(shape)
                return pool
            pool = self._pools[shape] = WarmPool(lambda: self._start(shape), self.pool_size)
            evicted: list[WarmPool] = []
            while len(self._pools) > _MAX_POOLS:
                # The least recently used shape other than the default limits'.
                victim = next(key for key in self._pools if key != self._default_shape)
                evicted.append(self._pools.pop(victim))
        for old in evicted:
            old.close()
        return pool

    def _run_on(self, proc: RunnerProcess, code: str, limits: SandboxLimits) -> SandboxResult:
        if not proc.wait_ready(_START_TIMEOUT_S):
            logs = proc.logs() if isinstance(proc, _ContainerRunner) else ""
            discard_later(proc)
            raise SandboxUnavailable(f"the docker sandbox did not start: {logs}")
        # The pids cgroup enforces `processes` (see _NPROC_BACKSTOP).
        job_limits = limits.model_copy(update={"processes": _NPROC_BACKSTOP})
        return proc.run_once(self.name, code, job_limits)

    def _base_dir(self) -> Path:
        with self._lock:
            if self._base is None:
                parent = self._root or Path(tempfile.gettempdir())
                parent.mkdir(parents=True, exist_ok=True)
                base = Path(tempfile.mkdtemp(prefix="workbench-docker-", dir=parent))
                base.chmod(0o711)
                weakref.finalize(self, remove_tree, base)
                self._base = base
            return self._base

    def _start(self, shape: _Shape) -> RunnerProcess:
        import docker.errors

        io_dir = Path(tempfile.mkdtemp(prefix="io-", dir=self._base_dir()))
        io_dir.chmod(0o711)
        as_root = os.geteuid() == 0
        fds: list[int] = []
        try:
            for name in _FIFOS:
                path = io_dir / name
                os.mkfifo(path, 0o600 if as_root else 0o666)
                if as_root:
                    os.chown(path, _NOBODY, _NOBODY)
                else:
                    path.chmod(0o666)
            # Read ends first (non-blocking opens), so the container's opens never block;
            # the job pipe is opened read-write so that it has a writer until the job is in.
            for name in ("out", "err", "status"):
                fd = os.open(io_dir / name, os.O_RDONLY | os.O_NONBLOCK)
                fds.append(fd)
                os.set_blocking(fd, True)
            fds.append(os.open(io_dir / "in", os.O_RDWR))
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            remove_tree(io_dir)
            raise SandboxUnavailable(f"could not make the docker sandbox's pipes: {exc}") from exc
        out_fd, err_fd, status_fd, in_fd = fds
        handle = _ContainerProcess(
            os.fdopen(in_fd, "wb", buffering=0),
            os.fdopen(out_fd, "rb", buffering=0),
            os.fdopen(err_fd, "rb", buffering=0),
        )
        proc = _ContainerRunner(
            popen=cast("subprocess.Popen[bytes]", handle),
            status_fd=status_fd,
            workdir=io_dir,
            handle=handle,
        )
        try:
            proc.container = self.client.containers.run(**self._config(shape, io_dir))
            proc.container.reload()
            handle.pid = int(proc.container.attrs["State"]["Pid"])
            if handle.pid > 0:
                with contextlib.suppress(OSError):
                    handle.pidfd = os.pidfd_open(handle.pid)
        except docker.errors.DockerException as exc:
            discard_later(proc)
            raise SandboxUnavailable(f"could not start a docker sandbox: {exc}") from exc
        except BaseException:
            discard_later(proc)
            raise
        return proc

    def _config(self, shape: _Shape, io_dir: Path) -> dict[str, Any]:
        from docker.types import LogConfig, Mount, Ulimit

        tmpfs_mb = 2 * shape.file_size_mb
        file_bytes = shape.file_size_mb * 1024 * 1024
        memory = (shape.memory_mb + 2 * tmpfs_mb + _OVERHEAD_MB) * 1024 * 1024
        tmpfs = f"rw,nosuid,nodev,size={tmpfs_mb}m,uid={_NOBODY},gid={_NOBODY}"
        prelude = _PRELUDE.format(io=IO_MOUNT, runner=runner_source())
        return {
            "image": self.image,
            "command": [_PYTHON, "-I", "-S", "-B", "-c", prelude],
            "detach": True,
            "user": f"{_NOBODY}:{_NOBODY}",
            "environment": dict(_ENV),
            "working_dir": "/work",
            "hostname": "sandbox",
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {"/work": f"{tmpfs},mode=0700", "/tmp": f"{tmpfs},mode=1777"},
            "mounts": [Mount(IO_MOUNT, str(io_dir), type="bind", read_only=True)],
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "ipc_mode": "none",
            "mem_limit": memory,
            "memswap_limit": memory,
            "nano_cpus": int(_CPUS * 1e9),
            "pids_limit": shape.processes + 1,
            "ulimits": [
                Ulimit(name="nofile", soft=shape.open_files, hard=shape.open_files),
                Ulimit(name="fsize", soft=file_bytes, hard=file_bytes),
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="nproc", soft=_NPROC_BACKSTOP + 1, hard=_NPROC_BACKSTOP + 1),
            ],
            "oom_score_adj": 1000,
            "labels": {"workbench.sandbox": "docker"},
            "log_config": LogConfig(type="json-file", config={"max-size": "1m"}),
        }


def _discard_started(future: asyncio.Future[RunnerProcess]) -> None:
    if not future.cancelled() and future.exception() is None:
        discard_later(future.result())


def _find_docker_host() -> str:
    """The running ``docker`` service's socket, else ``DOCKER_HOST``.

    Raises:
        SandboxUnavailable: Neither is there.
    """
    from workbench.services import service_status

    with contextlib.suppress(Exception):
        info = service_status("docker")
        if info is not None:
            return info.url
    env = os.environ.get("DOCKER_HOST")
    if env:
        return env
    raise SandboxUnavailable(_NO_ENGINE)
