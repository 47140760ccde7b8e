"""The conformance suite every sandbox backend passes: result typing and every limit."""

from __future__ import annotations

import asyncio
import time

import pytest
from sandbox_helpers import SMALL

from workbench.sandbox import SandboxBackend, SandboxLimits, SandboxResult

pytestmark = pytest.mark.filterwarnings("ignore::workbench.sandbox.UnsafeSandboxWarning")


def test_result_of_a_clean_run(backend: SandboxBackend) -> None:
    result = backend.run("import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7")
    assert isinstance(result, SandboxResult)
    assert (result.stdout, result.stderr, result.value, result.value_repr) == (
        "out\n",
        "err\n",
        42,
        "42",
    )
    assert (result.exit_code, result.limit_hit, result.error_type, result.ok) == (
        0,
        None,
        None,
        True,
    )
    assert result.backend == backend.name
    assert result.cpu_s > 0
    assert result.duration_s > 0


def test_value_is_the_last_expression_only(backend: SandboxBackend) -> None:
    assert backend.run("x = 5").value is None
    assert backend.run("x = 5").value_repr is None
    assert backend.run("result = 5\nx = 1").value is None
    structured = backend.run("{'a': [1, 2.5, None, True], 'b': 'é'}")
    assert structured.value == {"a": [1, 2.5, None, True], "b": "é"}
    # Not JSON-able (a set, NaN): no value, but its repr.
    assert (backend.run("{1, 2}").value, backend.run("{1, 2}").value_repr) == (None, "{1, 2}")
    assert backend.run("float('nan')").value_repr == "nan"
    assert backend.run("float('nan')").value is None


def test_uncaught_exception(backend: SandboxBackend) -> None:
    result = backend.run("x = 1\nraise ValueError('boom')")
    assert (result.exit_code, result.error_type, result.limit_hit, result.ok) == (
        1,
        "ValueError",
        None,
        False,
    )
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == '  File "<sandbox>", line 2, in <module>'
    assert lines[-1] == "ValueError: boom"


def test_exception_messages_with_any_characters(backend: SandboxBackend) -> None:
    result = backend.run("raise KeyError('é \"q\" \\\\ \\n \\x00 \U0001f600')")
    assert (result.exit_code, result.error_type) == (1, "KeyError")
    assert result.stderr.strip().splitlines()[-1].startswith('KeyError: \'é "q"')


def test_syntax_error_and_exit_codes(backend: SandboxBackend) -> None:
    syntax = backend.run("def f(:\n  pass")
    assert (syntax.exit_code, syntax.error_type) == (1, "SyntaxError")
    assert backend.run("import sys\nsys.exit(3)").exit_code == 3
    assert backend.run("import sys\nsys.exit()").exit_code == 0
    message = backend.run("import sys\nsys.exit('bye')")
    assert (message.exit_code, message.stderr) == (1, "bye\n")


def test_stdin_is_empty_and_cwd_is_a_fresh_empty_dir(backend: SandboxBackend) -> None:
    result = backend.run(
        "import os\ntry:\n    input()\nexcept EOFError:\n    print('eof')\n"
        "open('made.txt', 'w').write('x')\nsorted(os.listdir('.'))"
    )
    assert (result.stdout, result.value) == ("eof\n", ["made.txt"])
    assert backend.run("import os\nos.listdir('.')").value == []


# CPU seconds are wall seconds only on an idle machine: the CPU tests leave the wall
# time room (on 2 shared cores, 2 CPU seconds took more than 5 wall seconds).
CPU_SMALL = SMALL.model_copy(update={"wall_time_s": 20.0})


def test_cpu_limit(backend: SandboxBackend) -> None:
    started = time.monotonic()
    result = backend.run("while True:\n    pass", limits=CPU_SMALL)
    assert result.limit_hit == "cpu"
    assert result.exit_code == -24  # SIGXCPU
    assert result.cpu_s >= 0.9
    assert time.monotonic() - started < CPU_SMALL.wall_time_s


def test_cpu_limit_when_sigxcpu_is_ignored(backend: SandboxBackend) -> None:
    code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass"
    result = backend.run(code, limits=CPU_SMALL)
    assert (result.limit_hit, result.exit_code) == ("cpu", -9)


def test_memory_limit(backend: SandboxBackend) -> None:
    result = backend.run("x = bytearray(512 * 1024 * 1024)", limits=SMALL)
    assert (result.limit_hit, result.error_type, result.exit_code) == ("memory", "MemoryError", 1)


def test_memory_limit_by_growth(backend: SandboxBackend) -> None:
    result = backend.run(
        "chunks = []\nwhile True:\n    chunks.append(bytearray(10**7))", limits=SMALL
    )
    assert (result.limit_hit, result.error_type) == ("memory", "MemoryError")


def test_file_size_limit(backend: SandboxBackend) -> None:
    result = backend.run("open('big', 'wb').write(b'x' * (2 * 1024 * 1024))", limits=SMALL)
    assert (result.limit_hit, result.error_type) == ("file_size", "OSError")
    assert "File too large" in result.stderr


def test_open_files_limit(backend: SandboxBackend) -> None:
    result = backend.run("files = [open('/dev/null') for _ in range(100)]", limits=SMALL)
    assert (result.limit_hit, result.error_type) == ("open_files", "OSError")


def test_wall_time_limit(backend: SandboxBackend) -> None:
    limits = SMALL.model_copy(update={"wall_time_s": 1.0})
    started = time.monotonic()
    result = backend.run("print('before', flush=True)\nimport time\ntime.sleep(30)", limits=limits)
    elapsed = time.monotonic() - started
    assert (result.limit_hit, result.exit_code, result.stdout) == ("wall_time", -9, "before\n")
    assert 1.0 <= elapsed < 4.0


def test_output_limit_keeps_exactly_the_cap(backend: SandboxBackend) -> None:
    result = backend.run("while True:\n    print('x' * 1000)", limits=SMALL)
    assert (result.limit_hit, result.exit_code) == ("output_size", -9)
    assert len(result.stdout) + len(result.stderr) == SMALL.output_bytes


def test_output_under_the_cap_is_complete(backend: SandboxBackend) -> None:
    result = backend.run("print('y' * 4000, end='')", limits=SMALL)
    assert (result.limit_hit, len(result.stdout)) == (None, 4000)


def test_process_limit_applies_to_threads(isolated: SandboxBackend) -> None:
    code = (
        "import threading, time\n"
        "threads = [threading.Thread(target=time.sleep, args=(3,)) for _ in range(40)]\n"
        "for t in threads:\n    t.start()"
    )
    result = isolated.run(code, limits=SMALL)
    assert (result.limit_hit, result.error_type) == ("processes", "RuntimeError")


def test_processes_up_to_the_limit_are_allowed(isolated: SandboxBackend) -> None:
    limits = SMALL.model_copy(update={"processes": 4})
    code = (
        "import os\npids = []\nfor _ in range(3):\n    pid = os.fork()\n"
        "    if pid == 0:\n        os._exit(0)\n    pids.append(pid)\n"
        "[os.waitpid(p, 0)[1] for p in pids]"
    )
    result = isolated.run(code, limits=limits)
    assert (result.limit_hit, result.value) == (None, [0, 0, 0])


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="cpu_s"):
        SandboxLimits(cpu_s=0)
    with pytest.raises(ValueError, match="extra"):
        SandboxLimits(gpu=1)  # type: ignore[call-arg]


@pytest.mark.anyio
async def test_concurrent_async_calls(backend: SandboxBackend) -> None:
    results = await asyncio.gather(*(backend.arun(f"{i} * 2") for i in range(4)))
    assert [r.value for r in results] == [0, 2, 4, 6]


@pytest.mark.anyio
async def test_cancellation_kills_the_call(backend: SandboxBackend) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await backend.arun("import time\ntime.sleep(20)")
    assert time.monotonic() - started < 3
    assert (await backend.arun("1")).value == 1
