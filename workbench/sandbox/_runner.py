"""The runner: the first and only trusted code inside a sandbox.

Not imported by the host: under bubblewrap it runs precompiled (a ``marshal``-ed
code object handed over by ``RUNNER_BOOTSTRAP``), elsewhere its source is handed
to ``python3 -I -S -c``; either way with the number of the status pipe as its
argument. It forks the code's process at once, then makes itself non-dumpable (the
code cannot ptrace it or read its ``/proc`` files) and tells the child, by a byte
on a pipe, that the code may start; meanwhile the child loads what compiling the
code needs (on a second core, this overlaps). The runner writes ``R`` to the
status pipe; the child waits for one job (a ``marshal``-ed dict on stdin, from the
host), applies the job's resource limits and runs the code. The runner waits for
it and writes to the status pipe, after its length, a JSON line of the wait status
and CPU time followed by the child's outcome (JSON the host parses as untrusted).
The child closes the status pipe first, so the code cannot forge the wait status
or the CPU time, and runs nothing until the runner is non-dumpable. Nothing slow is
imported on the way (``json`` only for a value; errors are encoded by hand, since
imports may fail under the limits), so a pooled runner answers in a few
milliseconds. Standard library only: it runs on the system Python, not the
project's venv.
"""

from __future__ import annotations

import marshal
import os
import resource  # the child sets the limits, and os.wait4 in the runner needs it
import select
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing would cost milliseconds of every cold start
    from typing import Any

VALUE_CAP = 1_000_000
REPR_CAP = 10_000


def _non_dumpable() -> None:
    # prctl(PR_SET_DUMPABLE, 0) through _ctypes itself: importing the ctypes package
    # would add about 2 ms to every cold start.
    try:
        import _ctypes

        native: Any = _ctypes
        c_int = type("c_int", (native._SimpleCData,), {"_type_": "i"})
        function = type(
            "function", (native.CFuncPtr,), {"_flags_": native.FUNCFLAG_CDECL, "_restype_": c_int}
        )
        libc = type("libc", (), {"_handle": native.dlopen(None, 2)})()  # RTLD_NOW
        prctl = function(("prctl", libc))
        prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (ImportError, OSError, AttributeError, TypeError):
        pass


def _limit(kind: int, value: int) -> None:
    resource.setrlimit(kind, (value, value))


def _apply_limits(limits: dict[str, Any]) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # A fresh child has used almost nothing; the soft limit sends SIGXCPU (reported
    # as "cpu"), the hard one a second later SIGKILL (if SIGXCPU is caught).
    cpu = int(usage.ru_utime + usage.ru_stime) + int(limits["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    _limit(resource.RLIMIT_AS, int(limits["memory_mb"]) * 1024 * 1024)
    _limit(resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) * 1024 * 1024)
    _limit(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    # The runner (pid 1 of the sandbox) counts too.
    _limit(resource.RLIMIT_NPROC, int(limits["processes"]) + 1)
    _limit(resource.RLIMIT_CORE, 0)


def _chain(exc: BaseException) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    seen: BaseException | None = exc
    while seen is not None and len(found) < 8:
        found.append(
            {
                "type": type(seen).__name__,
                "errno": getattr(seen, "errno", None),
                "message": str(seen)[:500],
            }
        )
        seen = seen.__cause__ or seen.__context__
    return found


def _child(out: int, go: int) -> None:
    me = os.getpid()
    outcome = b'{"ok": true, "value": null, "repr": null}'
    status = 0
    code = ""
    try:
        # Loaded while the runner makes itself non-dumpable: importing _ast builds
        # the AST types (about 0.7 ms), which compiling the code needs anyway.
        import _ast

        if os.path.isdir("/usr/lib/python3/dist-packages"):
            sys.path.append("/usr/lib/python3/dist-packages")
        if os.read(go, 1) != b"g":
            # The runner is gone or could not protect itself: run nothing.
            os._exit(125)
        os.close(go)
        job: dict[str, Any] = marshal.loads(sys.stdin.buffer.read())
        code = job["code"]
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        _apply_limits(job["limits"])
        scope: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
        tree: Any = compile(code, "<sandbox>", "exec", _ast.PyCF_ONLY_AST)
        body = tree.body
        last = body.pop() if body and isinstance(body[-1], _ast.Expr) else None
        exec(compile(tree, "<sandbox>", "exec"), scope)
        if last is not None:
            expression = _ast.Expression(body=last.value)
            value = eval(compile(expression, "<sandbox>", "eval"), scope)
            if value is not None:
                outcome = _value_outcome(value)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException as exc:
        status = 1
        outcome = _error_outcome(exc, code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    if os.getpid() != me:
        # A process the code forked ended up here: only the code's own process reports.
        os._exit(status & 0xFF)
    try:
        if len(outcome) > VALUE_CAP:
            outcome = b'{"ok": true, "value": null, "repr": null}'
        _write_all(out, outcome)
    except BaseException:
        pass
    os._exit(status & 0xFF)


def _value_outcome(value: Any) -> bytes:
    import json

    shown = repr(value)[:REPR_CAP]
    try:
        encoded = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError):
        encoded = None
    return json.dumps({"ok": True, "value": encoded, "repr": shown}).encode()


def _error_outcome(exc: BaseException, code: str) -> bytes:
    try:
        import linecache
        import traceback

        linecache.cache["<sandbox>"] = (len(code), None, code.splitlines(True), "<sandbox>")
        tb = exc.__traceback__
        # Hide the runner's own frames: the traceback starts in the code.
        while tb is not None and tb.tb_frame.f_code.co_filename != "<sandbox>":
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)
    except BaseException:
        # Under the limits (memory, open files) even importing traceback may fail.
        try:  # noqa: SIM105 - contextlib would cost every cold start its import
            os.write(2, f"{type(exc).__name__}: {exc}\n".encode(errors="replace"))
        except BaseException:
            pass
    try:
        items = ", ".join(
            f'{{"type": {_json_str(e["type"])}, "errno": {_json_int(e["errno"])}, '
            f'"message": {_json_str(e["message"])}}}'
            for e in _chain(exc)
        )
        return f'{{"ok": false, "errors": [{items}]}}'.encode()
    except BaseException:
        return f'{{"ok": false, "errors": [{{"type": {_json_str(type(exc).__name__)}}}]}}'.encode()


def _json_str(text: object) -> str:
    out = ['"']
    for char in str(text):
        if char in '"\\':
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else "?")
    out.append('"')
    return "".join(out)


def _json_int(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "null"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _wait(pid: int, read_end: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    wait: tuple[int, int, Any] | None = None
    # A pidfd turns readable when the child exits, so an idle pooled sandbox blocks
    # instead of polling; without one (an old kernel), poll every 50 ms.
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1
    watched = [read_end] if pidfd < 0 else [read_end, pidfd]
    timeout = 0.05 if pidfd < 0 else None
    while True:
        # A grandchild may hold the pipe open: stop reading once the child has exited
        # and nothing more arrives within 50 ms.
        ready, _, _ = select.select(watched, [], [], timeout)
        if read_end in ready:
            chunk = os.read(read_end, 65536)
            if chunk and size < VALUE_CAP:
                chunks.append(chunk)
                size += len(chunk)
            if not chunk:
                break
            continue
        if wait is None:
            # A readable pidfd means the child has exited: this wait4 returns at once.
            done = os.wait4(pid, 0 if pidfd in ready else os.WNOHANG)
            if done[0] == pid:
                wait = done
                watched, timeout = [read_end], 0.05
                continue
        else:
            break
    if wait is None:
        wait = os.wait4(pid, 0)
    _, status, usage = wait
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    cpu = usage.ru_utime + usage.ru_stime
    code = "null" if exit_code is None else str(exit_code)
    signal = "null" if sig is None else str(sig)
    header = f'{{"cpu_s": {cpu!r}, "exit_code": {code}, "signal": {signal}}}\n'
    return header.encode() + b"".join(chunks)[:VALUE_CAP]


def main() -> None:
    """Fork the code's process, protect the runner, wait for the code, report, exit."""
    status_fd = int(sys.argv[1])
    read_end, write_end = os.pipe()
    go_read, go_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.close(status_fd)
        os.close(go_write)
        _child(write_end, go_read)
    os.close(write_end)
    os.close(go_read)
    _non_dumpable()
    os.write(go_write, b"g")
    os.close(go_write)
    os.write(status_fd, b"R")
    report = _wait(pid, read_end)
    # Length-prefixed: the host stops waiting as soon as the report is complete,
    # without waiting for the sandbox to be torn down.
    _write_all(status_fd, b"%d\n" % len(report) + report)
    os._exit(0)


if __name__ == "__main__":
    main()
