"""The default backend: bubblewrap namespaces, resource limits and a warm pool."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import stat
import tempfile
import threading
import weakref
from pathlib import Path

from workbench.errors import SandboxUnavailable
from workbench.sandbox._backend import SandboxBackend, register_backend
from workbench.sandbox._pool import WarmPool
from workbench.sandbox._process import (
    RUNNER_BOOTSTRAP,
    RunnerProcess,
    discard_later,
    remove_tree,
    runner_code,
    start_runner,
)
from workbench.sandbox._types import SandboxLimits, SandboxResult

__all__ = ["NOBODY", "SANDBOX_PYTHON", "BubblewrapBackend"]

SANDBOX_PYTHON = "/usr/bin/python3"
"""The interpreter inside: the system Python, never the project's venv."""
NOBODY = 65534
"""The unprivileged uid and gid the code runs as, inside and (when the host is root) outside."""
_INSTALL_HINT = (
    "install it with `apt-get install bubblewrap` (Debian/Ubuntu; "
    "`scripts/install-system-deps.sh` does it), or choose another backend by name; "
    "there is no fallback to unsandboxed execution"
)
_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
}
_PASSWD = "nobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n"
_GROUP = "nogroup:x:65534:\n"
_HOSTS = "127.0.0.1 localhost sandbox\n::1 localhost\n"


def _privilege_drop() -> tuple[str, ...]:
    """The command that starts bwrap as uid/gid 65534 with no groups (the host is root).

    coreutils' ``chroot`` (to ``/``: no change of root) with ``--userspec`` and an empty
    ``--groups`` starts about 0.5 ms faster than util-linux's ``setpriv``, which loads
    libcap-ng; either beats ``Popen(user=...)``, which stops Python from using vfork
    (forking a large host process costs ~6 ms). Empty when neither is installed.
    """
    for chroot in (shutil.which("chroot"), "/usr/sbin/chroot"):
        if chroot and os.access(chroot, os.X_OK):
            return (chroot, f"--userspec=+{NOBODY}:+{NOBODY}", "--groups=", "/")
    setpriv = shutil.which("setpriv")
    if setpriv:
        return (setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
    return ()


@functools.cache
def _system_dirs() -> tuple[str, ...]:
    """``/bin``, ``/lib``... as on the host: symlinks (into ``/usr``) or read-only binds."""
    argv: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), f"/{name}"]
    return tuple(argv)


_DEVICES = {
    "null": (1, 3),
    "zero": (1, 5),
    "full": (1, 7),
    "random": (1, 8),
    "urandom": (1, 9),
    "tty": (5, 0),
}
"""The character devices (major, minor) of the prepared ``/dev``: those of ``bwrap --dev``."""


def _make_dev(dev: Path) -> Path | None:
    """A ``/dev`` of harmless devices, or ``None`` where it cannot work (use ``--dev``).

    The character devices bubblewrap's ``--dev`` binds (null, zero, full, random,
    urandom, tty), the ``fd``, ``stdin``, ``stdout`` and ``stderr`` links, and an
    empty ``shm`` (a size-capped tmpfs is mounted there per sandbox); no devpts, so
    no pseudo-terminals. Needs root (mknod) and a file system without ``nodev``.
    """
    try:
        if os.statvfs(dev.parent).f_flag & os.ST_NODEV:
            return None
        dev.mkdir(mode=0o755)
        for name, (major, minor) in _DEVICES.items():
            os.mknod(dev / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            os.chmod(dev / name, 0o666)
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0")):
            os.symlink(target, dev / name)
        os.symlink("/proc/self/fd/1", dev / "stdout")
        os.symlink("/proc/self/fd/2", dev / "stderr")
        (dev / "shm").mkdir(mode=0o755)
    except OSError:
        remove_tree(dev)
        return None
    return dev


def _discard_started(future: asyncio.Future[RunnerProcess]) -> None:
    if not future.cancelled() and future.exception() is None:
        discard_later(future.result())


@register_backend("bubblewrap")
class BubblewrapBackend(SandboxBackend):
    """Code in a bubblewrap sandbox on the system Python; the default backend.

    Each call gets a fresh sandbox: new user, pid, network, IPC, UTS and cgroup
    namespaces (the network has only its own loopback), ``/usr`` read-only, a few
    generated ``/etc`` files, a private ``/proc``, a minimal ``/dev``, a size-capped
    tmpfs ``/tmp``, an empty work directory at ``/work`` (its current directory),
    a read-only root, uid/gid 65534 with every capability dropped, no further user
    namespaces, a new session, and an environment of PATH, HOME, TMPDIR and LANG
    only. When the host runs as root, bubblewrap itself runs as uid 65534 too, so
    the process limit applies (root is exempt from ``RLIMIT_NPROC``).

    Sandboxes are started ahead into a warm pool of ``pool_size``; each serves one
    call and is discarded, while the pool refills in the background.
    """

    def __init__(
        self,
        *,
        limits: SandboxLimits | None = None,
        pool_size: int = 2,
        bwrap: str | None = None,
        workdir_root: Path | str | None = None,
    ) -> None:
        """Create the backend; no sandbox starts until the first call or :meth:`prewarm`.

        Args:
            limits: Default limits of every call. Their ``file_size_mb`` also sizes
                ``/tmp``, fixed when a sandbox starts.
            pool_size: Sandboxes kept started and waiting; 0 starts every call cold.
            bwrap: Path of ``bwrap``; found on ``PATH`` when ``None``.
            workdir_root: Where the per-call work directories are made (a private
                directory under the system temp directory when ``None``).

        Raises:
            SandboxUnavailable: ``bwrap`` or ``/usr/bin/python3`` is missing.
        """
        super().__init__(limits=limits)
        found = bwrap or shutil.which("bwrap")
        if found is None or not os.access(found, os.X_OK):
            raise SandboxUnavailable(f"bubblewrap (`bwrap`) is not installed: {_INSTALL_HINT}")
        if not os.access(SANDBOX_PYTHON, os.X_OK):
            raise SandboxUnavailable(
                f"{SANDBOX_PYTHON} is missing: the sandbox runs the system Python "
                "(`apt-get install python3-minimal`)"
            )
        self.bwrap = found
        self._as_root = os.geteuid() == 0
        self._drop = _privilege_drop() if self._as_root else ()
        self._root = Path(workdir_root) if workdir_root else None
        self._base: Path | None = None
        self._dev: Path | None = None
        self._base_lock = threading.Lock()
        self.pool = WarmPool(self._start, pool_size)

    def prewarm(self, timeout_s: float = 30.0) -> bool:
        """Start the pool now and block until it is full; ``False`` on timeout."""
        return self.pool.fill(timeout_s)

    async def arun(self, code: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
        """See :meth:`SandboxBackend.arun`."""
        chosen = limits or self.limits
        proc = self.pool.take()
        if proc is None:
            starting = asyncio.ensure_future(asyncio.to_thread(self._start))
            try:
                proc = await asyncio.shield(starting)
            except asyncio.CancelledError:
                # The start finishes in its thread: discard what it starts.
                starting.add_done_callback(_discard_started)
                raise
        try:
            return await asyncio.to_thread(proc.run_once, self.name, code, chosen)
        except BaseException:
            # Cancelled: kill now; the worker thread sees the end of output and discards.
            proc.kill()
            raise

    def run(self, code: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
        """Blocking :meth:`arun`: the same steps on the caller's thread.

        It skips the hop to the sync wrapper's event loop, which is a sizeable part
        of a warm call's few milliseconds.
        """
        proc = self.pool.take() or self._start()
        return proc.run_once(self.name, code, limits or self.limits)

    def close(self) -> None:
        """Discard the idle pooled sandboxes."""
        self.pool.close()

    def _base_dir(self) -> Path:
        with self._base_lock:
            if self._base is None:
                parent = self._root or Path(tempfile.gettempdir())
                parent.mkdir(parents=True, exist_ok=True)
                base = Path(tempfile.mkdtemp(prefix="workbench-sandbox-", dir=parent))
                base.chmod(0o755)
                etc = base / "etc"
                etc.mkdir()
                for name, text in (("passwd", _PASSWD), ("group", _GROUP), ("hosts", _HOSTS)):
                    (etc / name).write_text(text)
                    (etc / name).chmod(0o644)
                # A copy, so that one bind mount of this directory makes the whole /etc
                # (each bind mount costs bubblewrap about 0.15 ms of every start).
                with contextlib.suppress(OSError):
                    shutil.copyfile("/etc/ld.so.cache", etc / "ld.so.cache")
                    (etc / "ld.so.cache").chmod(0o644)
                (base / "work").mkdir(mode=0o755)
                self._dev = _make_dev(base / "dev") if self._as_root else None
                # Removed when the backend is collected or the interpreter exits.
                weakref.finalize(self, remove_tree, base)
                self._base = base
            return self._base

    def _start(self) -> RunnerProcess:
        code = runner_code(SANDBOX_PYTHON)
        base = self._base_dir()
        workdir = Path(tempfile.mkdtemp(prefix="w-", dir=base / "work"))
        if self._as_root:
            os.chown(workdir, NOBODY, NOBODY)
        argv = self.command(workdir, base / "etc")
        user: int | None = None
        if self._drop:
            argv = [*self._drop, *argv]
        elif self._as_root:
            user = NOBODY
        try:
            # An empty environment for chroot/setpriv and bwrap themselves: the sandbox
            # gets _ENV through --clearenv/--setenv, and without LANG their locale
            # set-up is cheaper (about 0.3 ms of every start).
            return start_runner(argv, workdir=workdir, env={}, user=user, code=code)
        except OSError as exc:
            remove_tree(workdir)
            raise SandboxUnavailable(f"could not start bwrap: {exc}") from exc

    def command(self, workdir: Path, etc: Path) -> list[str]:
        """The bwrap command line for one sandbox, up to (without) the status pipe."""
        argv = [
            self.bwrap,
            "--unshare-all",
            "--unshare-user",
            "--disable-userns",
            "--die-with-parent",
            "--new-session",
            "--as-pid-1",
            "--hostname",
            "sandbox",
            "--clearenv",
        ]
        for key, value in _ENV.items():
            argv += ["--setenv", key, value]
        argv += ["--ro-bind", "/usr", "/usr", *_system_dirs()]
        argv += ["--ro-bind", str(etc), "/etc"]
        tmp_bytes = self.limits.file_size_mb * 1024 * 1024
        if self._dev is not None:
            # One bind of a prepared /dev instead of bwrap's --dev (a tmpfs, six
            # device binds and a devpts): about 0.5 ms less per start.
            argv += ["--dev-bind", str(self._dev), "/dev", "--size", str(tmp_bytes)]
            argv += ["--tmpfs", "/dev/shm"]
        else:
            argv += ["--dev", "/dev"]
        argv += [
            "--proc",
            "/proc",
            "--size",
            str(tmp_bytes),
            "--tmpfs",
            "/tmp",
            "--bind",
            str(workdir),
            "/work",
            "--chdir",
            "/work",
            "--remount-ro",
            "/",
            "--uid",
            str(NOBODY),
            "--gid",
            str(NOBODY),
            "--cap-drop",
            "ALL",
            SANDBOX_PYTHON,
            "-I",
            "-S",
            "-B",
            "-c",
            RUNNER_BOOTSTRAP,
        ]
        return argv
