"""How a bubblewrap sandbox starts: the precompiled runner, the prepared /dev, an idle pool.

The cold start was cut down (issue 5, ``benchmarks/sandbox_latency.py``); these pin what
the cuts must not change: the code sees none of the runner's pipes, ``/dev`` holds the
harmless devices only, and a pooled sandbox waiting for its job does not wake up.
"""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from sandbox_helpers import SMALL

from workbench.errors import SandboxUnavailable
from workbench.sandbox import BubblewrapBackend
from workbench.sandbox._bwrap import SANDBOX_PYTHON
from workbench.sandbox._process import runner_code

AS_ROOT = os.geteuid() == 0


def test_the_runner_is_compiled_once_by_the_sandbox_interpreter() -> None:
    code = runner_code(SANDBOX_PYTHON)
    assert runner_code(SANDBOX_PYTHON) is code  # cached: no second compile
    # Bytecode is specific to a Python version: it must load in the sandbox's own.
    loaded = subprocess.run(
        [
            SANDBOX_PYTHON,
            "-I",
            "-S",
            "-c",
            "import marshal,sys;c=marshal.load(sys.stdin.buffer);"
            "print(type(c).__name__, c.co_filename)",
        ],
        input=code,
        capture_output=True,
        check=True,
    )
    assert loaded.stdout.split() == [b"code", b"<runner>"]
    # The host may run another version; the same bytes need not load here.
    if os.path.realpath(SANDBOX_PYTHON) == os.path.realpath(sys.executable):
        assert isinstance(marshal.loads(code), types.CodeType)


def test_a_missing_interpreter_cannot_compile_the_runner(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="is missing"):
        runner_code(str(tmp_path / "python3"))


def test_the_code_holds_no_pipe_of_the_runner(bubblewrap: BubblewrapBackend) -> None:
    # The code's process has stdin (/dev/null), stdout, stderr and its own outcome
    # pipe; not the status pipe, the go pipe or the pipe the runner's code came on.
    result = bubblewrap.run(
        "import os\n"
        "fds = sorted(int(f) for f in os.listdir('/proc/self/fd'))\n"
        "links = {}\n"
        "for fd in fds:\n"
        "    try:\n"
        "        links[fd] = os.readlink(f'/proc/self/fd/{fd}')\n"
        "    except OSError:\n"
        "        pass\n"
        "[links[0], sum(v.startswith('pipe:') for v in links.values()), len(links)]",
        limits=SMALL,
    )
    assert result.exit_code == 0, result.stderr
    # 3 pipes: stdout, stderr, outcome; 4 descriptors plus the one listdir used.
    assert result.value == ["/dev/null", 3, 4]


def test_dev_holds_the_harmless_devices_and_a_capped_shm(bubblewrap: BubblewrapBackend) -> None:
    # As root the sandbox gets the prepared /dev (mknod needs root); else bwrap's --dev.
    assert (bubblewrap._dev is not None) is AS_ROOT
    result = bubblewrap.run(
        "import os\n"
        "names = sorted(os.listdir('/dev'))\n"
        "with open('/dev/null', 'w') as f:\n"
        "    f.write('x')\n"
        "zeros = open('/dev/zero', 'rb').read(4)\n"
        "random = len(open('/dev/urandom', 'rb').read(8))\n"
        "open('/dev/shm/mine', 'w').write('y')\n"
        "try:\n"
        "    open('/dev/planted', 'w')\n"
        "    planted = 'written'\n"
        "except OSError as exc:\n"
        "    planted = exc.errno\n"
        "shm = os.statvfs('/dev/shm')\n"
        "[names, zeros.hex(), random, planted, shm.f_blocks * shm.f_frsize]",
        limits=SMALL,
    )
    assert result.exit_code == 0, result.stderr
    names, zeros, random, planted, shm_bytes = result.value
    devices = ["full", "null", "random", "tty", "urandom", "zero"]
    links = ["fd", "stderr", "stdin", "stdout"]
    assert (zeros, random) == ("00000000", 8)
    if AS_ROOT:
        assert names == sorted([*devices, *links, "shm"])
        assert planted == 13  # EACCES: the prepared /dev is not writable
        assert shm_bytes == bubblewrap.limits.file_size_mb * 1024 * 1024
    else:
        assert set(names) >= {*devices, *links, "shm", "pts", "ptmx"}


def _tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += _tree(int(child))
    return found


def _wakeups(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def test_an_idle_pooled_sandbox_sleeps() -> None:
    # The runner waits for its child on a pidfd, not by polling: a sandbox waiting in
    # the pool for its job costs no CPU, however long it waits.
    backend = BubblewrapBackend(pool_size=1)
    try:
        assert backend.prewarm()
        proc = backend.pool.take()
        assert proc is not None
        try:
            pids = _tree(proc.popen.pid)
            assert len(pids) == 3  # bwrap, the runner, the code's process (waiting)
            time.sleep(0.2)  # the child finishes loading what it compiles with
            before = _wakeups(pids)
            time.sleep(0.5)  # polling every 50 ms would wake it 10 times
            assert _wakeups(pids) == before
        except BaseException:
            proc.discard()
            raise
        result = proc.run_once(backend.name, "6 * 7", SMALL)
        assert result.value == 42
    finally:
        backend.close()


def test_a_runner_larger_than_a_pipe_buffer_still_arrives(tmp_path: Path) -> None:
    # The runner is written into its pipe before the start, so the pipe is enlarged
    # for code over 64 KiB instead of blocking the host.
    from workbench.sandbox._process import RUNNER_BOOTSTRAP, runner_source, start_runner

    source = f"{runner_source()}\nPADDING = {'x' * 200_000!r}\n"
    code = subprocess.run(
        [
            SANDBOX_PYTHON,
            "-I",
            "-S",
            "-c",
            "import marshal,sys;sys.stdout.buffer.write("
            "marshal.dumps(compile(sys.stdin.buffer.read(),'<runner>','exec')))",
        ],
        input=source.encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert len(code) > 200_000
    proc = start_runner(
        [SANDBOX_PYTHON, "-I", "-S", "-B", "-c", RUNNER_BOOTSTRAP],
        workdir=tmp_path,
        env={"LANG": "C.UTF-8"},
        cwd=tmp_path,
        code=code,
    )
    assert proc.run_once("test", "6 * 7", SMALL).value == 42
