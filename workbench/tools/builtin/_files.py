"""``read_file_tool`` and ``write_file_tool``: files confined to one workspace directory.

Every path is refused before anything touches the disk when it is empty, absolute,
starts with ``~``, has a ``..`` component, a backslash, a NUL or another control
character, or is too long. The path is then walked one component at a time from
the workspace with ``openat``-style calls (``dir_fd``) and ``O_NOFOLLOW``, each
component ``lstat``-ed first: a symlink anywhere on the path, a device file, a FIFO,
a socket or a file with several hard links is refused before it is opened, and the
opened file is checked to be the very file that was ``lstat``-ed (no swap in
between). Nothing goes through a shell.

``write_file`` is side-effecting and high risk. It writes a temporary file and
renames it over the target (a reader never sees half a file), and applies each
call's effect at most once per idempotency key (:class:`~workbench.tools.ToolContext`):
the key and the hash of the content it must produce are journaled in a SQLite
ledger before the write, so a call run again after a crash or on resume returns the
recorded result instead of writing (or appending) twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from workbench.errors import ConfigError, ToolExecutionError, ToolRefused
from workbench.settings import get_settings
from workbench.tools._context import ToolContext
from workbench.tools._tool import Tool, tool

__all__ = ["MAX_PATH_LENGTH", "read_file_tool", "write_file_tool"]

MAX_PATH_LENGTH = 1024
"""Longest path accepted, in characters."""
_MAX_COMPONENT = 255
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _Workspace:
    """A directory that the file tools may not leave."""

    def __init__(self, root: Path | str, *, tool_name: str) -> None:
        self.tool_name = tool_name
        path = Path(root)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"tool {tool_name!r}: cannot create workspace {path}: {exc}") from exc
        self.root = path.resolve()
        if not self.root.is_dir():
            raise ConfigError(f"tool {tool_name!r}: workspace {self.root} is not a directory")

    def refuse(self, path: str, reason: str) -> ToolRefused:
        return ToolRefused(f"{self.tool_name} refused {path!r}: {reason}", tool=self.tool_name)

    def components(self, path: str) -> list[str]:
        """The path's components, after every check that needs no disk access."""
        if not path:
            raise self.refuse(path, "the path is empty")
        if len(path) > MAX_PATH_LENGTH:
            raise self.refuse(path[:64], f"the path is longer than {MAX_PATH_LENGTH} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in path):
            raise self.refuse(path, "the path has a NUL or another control character")
        if "\\" in path:
            raise self.refuse(path, "use / to separate directories (no backslash)")
        if path.startswith("/"):
            raise self.refuse(path, "absolute paths are not allowed: give a path in the workspace")
        if path.startswith("~"):
            raise self.refuse(path, "~ is not expanded: give a path in the workspace")
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(path, "'..' is not allowed: the path must stay in the workspace")
        if not parts:
            raise self.refuse(path, "the path names the workspace itself, not a file")
        for part in parts:
            if len(part.encode("utf-8", "surrogatepass")) > _MAX_COMPONENT:
                raise self.refuse(path, f"a path component is longer than {_MAX_COMPONENT} bytes")
        return parts

    @contextlib.contextmanager
    def directory(self, path: str, parts: list[str], *, create: bool) -> Iterator[int]:
        """A descriptor of the directory holding ``parts[-1]``, reached without symlinks."""
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in parts[:-1]:
                try:
                    info = os.stat(part, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    if not create:
                        raise ToolExecutionError(
                            f"{self.tool_name}: no directory {part!r} on the path {path!r}",
                            tool=self.tool_name,
                        ) from None
                    os.mkdir(part, 0o755, dir_fd=fd)
                    info = os.stat(part, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    raise self.refuse(path, f"{part!r} is a symbolic link")
                if not stat.S_ISDIR(info.st_mode):
                    raise self.refuse(path, f"{part!r} is not a directory")
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:  # swapped for a symlink after the lstat
                    raise self.refuse(path, f"{part!r} cannot be opened safely: {exc}") from exc
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def check_file(self, path: str, info: os.stat_result) -> None:
        """Refuse what is not a plain regular file with one link."""
        if stat.S_ISLNK(info.st_mode):
            raise self.refuse(path, "it is a symbolic link")
        if stat.S_ISDIR(info.st_mode):
            raise self.refuse(path, "it is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise self.refuse(path, "it is not a regular file (device, FIFO or socket)")
        if info.st_nlink > 1:
            raise self.refuse(path, "it has several hard links")

    def open_existing(self, path: str, dir_fd: int, name: str) -> tuple[int, os.stat_result]:
        """Open a regular file for reading; refuse anything else before opening it."""
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise ToolExecutionError(
                f"{self.tool_name}: no file {path!r} in the workspace", tool=self.tool_name
            ) from None
        self.check_file(path, info)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError as exc:
            raise self.refuse(path, f"it cannot be opened safely: {exc}") from exc
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(
            opened.st_mode
        ):
            os.close(fd)
            raise self.refuse(path, "the file changed while it was opened")
        return fd, opened


def _read_fd(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_file_tool(
    workspace: Path | str, *, max_bytes: int = 1_000_000, name: str = "read_file"
) -> Tool:
    """A tool that reads a text file from the workspace.

    Args:
        workspace: The directory the tool may read in (created if missing).
        max_bytes: Most bytes returned; ``truncated`` says when the file is longer.
        name: Tool name.

    Returns:
        A low-risk tool with scope ``files.read`` returning ``{"path", "text",
        "bytes" (the file's size), "truncated"}``; the text is decoded as UTF-8 with
        invalid bytes replaced. A refused path raises
        :class:`~workbench.errors.ToolRefused`.

    Raises:
        ConfigError: The workspace cannot be created, or ``max_bytes < 1``.
    """
    if max_bytes < 1:
        raise ConfigError(f"tool {name!r}: max_bytes must be at least 1")
    space = _Workspace(workspace, tool_name=name)

    def read(path: str) -> dict[str, Any]:
        parts = space.components(path)
        with space.directory(path, parts, create=False) as dir_fd:
            fd, info = space.open_existing(path, dir_fd, parts[-1])
            try:
                data = _read_fd(fd, max_bytes + 1)
            finally:
                os.close(fd)
        return {
            "path": "/".join(parts),
            "text": data[:max_bytes].decode("utf-8", "replace"),
            "bytes": info.st_size,
            "truncated": len(data) > max_bytes,
        }

    def read_file(
        path: Annotated[str, Field(max_length=MAX_PATH_LENGTH)],
    ) -> dict[str, Any]:
        """Read a text file from the workspace.

        Args:
            path: Path relative to the workspace, e.g. ``notes/summary.md``.
        """
        return read(path)

    description = (
        "Read a UTF-8 text file from the agent's workspace (paths are relative to it, "
        f"at most {max_bytes} bytes are returned)."
    )
    return tool(read_file, name=name, description=description, scope="files.read")


class _Ledger:
    """Idempotency keys of applied writes (SQLite; several processes may share it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS file_writes (key TEXT PRIMARY KEY, path TEXT NOT NULL,"
                " sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, written INTEGER NOT NULL,"
                " state TEXT NOT NULL, at REAL NOT NULL)"
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            with con:
                yield con
        finally:
            con.close()

    def get(self, key: str) -> tuple[Any, ...] | None:
        with self._connect() as con:
            row: tuple[Any, ...] | None = con.execute(
                "SELECT path, sha256, bytes, written, state FROM file_writes WHERE key = ?", (key,)
            ).fetchone()
        return row

    def put(self, key: str, result: dict[str, Any], state: str) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO file_writes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    result["path"],
                    result["sha256"],
                    result["bytes"],
                    result["written"],
                    state,
                    time.time(),
                ),
            )


def write_file_tool(
    workspace: Path | str,
    *,
    max_bytes: int = 1_000_000,
    ledger: Path | str | None = None,
    name: str = "write_file",
) -> Tool:
    """A tool that writes (or appends to) a text file in the workspace, once per call.

    Args:
        workspace: The directory the tool may write in (created if missing).
        max_bytes: Largest file the tool writes (after an append).
        ledger: SQLite file of applied idempotency keys; defaults to
            ``$WORKBENCH_HOME/file_writes.sqlite`` (outside the workspace, so the
            agent cannot edit it).
        name: Tool name.

    Returns:
        A high-risk, side-effecting tool with scope ``files.write`` returning
        ``{"path", "bytes" (the file's size), "written" (bytes of content),
        "sha256" (of the file), "replayed"}``. ``replayed`` is true when the call's
        idempotency key had already been applied and nothing was written.

    Raises:
        ConfigError: The workspace cannot be created, or ``max_bytes < 1``.
    """
    if max_bytes < 1:
        raise ConfigError(f"tool {name!r}: max_bytes must be at least 1")
    space = _Workspace(workspace, tool_name=name)
    journal = _Ledger(
        Path(ledger) if ledger is not None else get_settings().home / "file_writes.sqlite"
    )
    lock = threading.Lock()

    def existing(path: str, parts: list[str]) -> bytes | None:
        """The file's current bytes (at most ``max_bytes + 1``), ``None`` if it is missing."""
        try:
            with space.directory(path, parts, create=False) as dir_fd:
                fd, _ = space.open_existing(path, dir_fd, parts[-1])
                try:
                    return _read_fd(fd, max_bytes + 1)
                finally:
                    os.close(fd)
        except ToolExecutionError:  # no such file or directory
            return None

    def outcome(parts: list[str], final: bytes, data: bytes, replayed: bool) -> dict[str, Any]:
        return {
            "path": "/".join(parts),
            "bytes": len(final),
            "written": len(data),
            "sha256": hashlib.sha256(final).hexdigest(),
            "replayed": replayed,
        }

    def planned(path: str, parts: list[str], data: bytes, mode: str) -> bytes:
        """What the file will hold after the write."""
        before = existing(path, parts) if mode == "append" else None
        final = (before or b"") + data
        if len(final) > max_bytes:
            raise space.refuse(path, f"the file would be larger than {max_bytes} bytes")
        return final

    def apply(path: str, parts: list[str], final: bytes) -> None:
        with space.directory(path, parts, create=True) as dir_fd:
            target = parts[-1]
            try:
                info = os.stat(target, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                space.check_file(path, info)
            temporary = f".{target[:200]}.{uuid.uuid4().hex}.tmp"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(temporary, flags, 0o644, dir_fd=dir_fd)
            try:
                view = memoryview(final)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                # rename() replaces a directory entry and never follows a symlink.
                os.replace(temporary, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(temporary, dir_fd=dir_fd)
                raise

    def write(path: str, content: str, mode: str, key: str | None) -> dict[str, Any]:
        parts = space.components(path)  # refused before the ledger or the disk is touched
        data = content.encode("utf-8", "surrogatepass")
        with lock:
            if key is not None:
                row = journal.get(key)
                if row is not None:
                    recorded = {
                        "path": row[0],
                        "sha256": row[1],
                        "bytes": row[2],
                        "written": row[3],
                        "replayed": True,
                    }
                    # "pending": the process died between journaling and finishing; the
                    # effect happened iff the file already holds what it should.
                    current = existing(path, parts) if row[4] != "done" else None
                    if row[4] == "done" or (
                        current is not None and hashlib.sha256(current).hexdigest() == row[1]
                    ):
                        journal.put(key, recorded, "done")
                        return recorded
            final = planned(path, parts, data, mode)
            result = outcome(parts, final, data, replayed=False)
            if key is not None:
                journal.put(key, result, "pending")
            apply(path, parts, final)
            if key is not None:
                journal.put(key, result, "done")
            return result

    def write_file(
        path: Annotated[str, Field(max_length=MAX_PATH_LENGTH)],
        content: str,
        ctx: ToolContext,
        mode: Literal["overwrite", "append"] = "overwrite",
    ) -> dict[str, Any]:
        """Write a text file in the workspace (parent directories are created).

        Args:
            path: Path relative to the workspace, e.g. ``reports/summary.md``.
            content: The text to write (UTF-8).
            mode: ``overwrite`` replaces the file; ``append`` adds to its end.
        """
        return write(path, content, mode, ctx.idempotency_key)

    description = (
        "Write a UTF-8 text file in the agent's workspace (paths are relative to it; "
        f"files of at most {max_bytes} bytes). mode=append adds to the end of the file."
    )
    return tool(
        write_file,
        name=name,
        description=description,
        scope="files.write",
        side_effects=True,
        risk="high",
    )
