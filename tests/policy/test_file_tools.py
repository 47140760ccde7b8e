"""``read_file`` / ``write_file``: confined to the workspace; refusals happen before disk access."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ToolExecutionError, ToolRefused
from workbench.tools import Tool, ToolContext
from workbench.tools.builtin import read_file_tool, write_file_tool

pytestmark = pytest.mark.anyio


def _ctx(step: int = 0, call: int = 0) -> ToolContext:
    return ToolContext.for_call(execution_id="ex", step=step, call_index=call, side_effects=True)


async def _call(t: Tool, ctx: ToolContext | None = None, **arguments: Any) -> Any:
    return await t.ainvoke(t.parse_arguments(arguments), ctx or _ctx(), timeout_s=10)


@pytest.fixture
def space(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes").mkdir()
    (root / "notes" / "a.md").write_text("hello")
    (tmp_path / "secret.txt").write_text("top secret")
    return root


def test_metadata_and_schema(space: Path) -> None:
    read, write = read_file_tool(space), write_file_tool(space)
    assert (read.name, read.scope, read.risk, read.side_effects, read.egress) == (
        "read_file",
        "files.read",
        "low",
        False,
        False,
    )
    assert (write.name, write.scope, write.risk, write.side_effects, write.egress) == (
        "write_file",
        "files.write",
        "high",
        True,
        False,
    )
    assert write.parameters["required"] == ["path", "content"]
    assert write.parameters["properties"]["mode"]["enum"] == ["overwrite", "append"]
    assert read.parameters["properties"]["path"]["maxLength"] == 1024


async def test_read_and_write_inside_the_workspace(space: Path) -> None:
    read, write = read_file_tool(space, max_bytes=3), write_file_tool(space)
    assert await _call(read, path="notes/a.md") == {
        "path": "notes/a.md",
        "text": "hel",
        "bytes": 5,
        "truncated": True,
    }
    result = await _call(write, path="out/deep/r.txt", content="é1")
    assert result["path"] == "out/deep/r.txt"
    assert (result["bytes"], result["written"], result["replayed"]) == (3, 3, False)
    assert (space / "out" / "deep" / "r.txt").read_text() == "é1"
    assert [p.name for p in (space / "out" / "deep").iterdir()] == ["r.txt"]  # no temp left


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/etc/passwd", "absolute paths are not allowed"),
        ("../secret.txt", "'..' is not allowed"),
        ("notes/../../secret.txt", "'..' is not allowed"),
        ("notes/..", "'..' is not allowed"),
        ("~/secret.txt", "~ is not expanded"),
        ("notes\\..\\..\\secret.txt", "no backslash"),
        ("notes/a.md\x00.png", "NUL or another control character"),
        ("notes/a\n.md", "NUL or another control character"),
        ("", "the path is empty"),
        ("./.", "names the workspace itself"),
        ("x" * 300, "longer than 255 bytes"),
    ],
)
async def test_lexical_refusals_touch_no_disk(
    space: Path, monkeypatch: pytest.MonkeyPatch, path: str, reason: str
) -> None:
    read, write = read_file_tool(space), write_file_tool(space)
    touched: list[object] = []

    def spy(*args: object, **kwargs: object) -> Any:
        touched.append(args)
        raise AssertionError("disk touched")

    monkeypatch.setattr(os, "open", spy)
    monkeypatch.setattr(os, "stat", spy)
    for t in (read, write):
        arguments: dict[str, Any] = {"path": path}
        if t is write:
            arguments["content"] = "pwned"
        with pytest.raises(ToolRefused, match=reason):
            await t.ainvoke(arguments, _ctx(), timeout_s=10)
    assert touched == []


async def test_symlinks_are_refused_anywhere_on_the_path(space: Path, tmp_path: Path) -> None:
    (space / "link.txt").symlink_to(tmp_path / "secret.txt")
    (space / "linkdir").symlink_to(tmp_path)
    (space / "inner").symlink_to(space / "notes")  # even one that stays inside
    read, write = read_file_tool(space), write_file_tool(space)
    for path, fragment in [
        ("link.txt", "it is a symbolic link"),
        ("linkdir/secret.txt", "'linkdir' is a symbolic link"),
        ("inner/a.md", "'inner' is a symbolic link"),
    ]:
        with pytest.raises(ToolRefused, match=fragment):
            await _call(read, path=path)
        with pytest.raises(ToolRefused, match=fragment):
            await _call(write, path=path, content="pwned")
    assert (tmp_path / "secret.txt").read_text() == "top secret"
    assert (space / "link.txt").is_symlink()


async def test_device_files_fifos_and_hard_links_are_refused_before_opening(
    space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os.mkfifo(space / "pipe")  # opening a FIFO for reading would block forever
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(space / "sock"))
    cases = [
        ("pipe", "not a regular file"),
        ("sock", "not a regular file"),
        ("hard.txt", "several hard links"),
        ("notes", "it is a directory"),
    ]
    try:
        os.mknod(space / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # a /dev/zero
        cases.append(("zero", "not a regular file"))
    except PermissionError:  # only root may make device nodes; FIFO and socket still run
        pass
    os.link(tmp_path / "secret.txt", space / "hard.txt")
    read, write = read_file_tool(space), write_file_tool(space)
    opened: list[object] = []
    real_open = os.open

    def spy(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        opened.append(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    for path, fragment in cases:
        with pytest.raises(ToolRefused, match=fragment):
            await _call(read, path=path)
        with pytest.raises(ToolRefused, match=fragment):
            await _call(write, path=path, content="pwned")
    unix.close()
    assert all(p in (str(space), space) for p in opened), opened  # only the workspace itself
    assert (tmp_path / "secret.txt").read_text() == "top secret"


async def test_missing_files_and_directories(space: Path) -> None:
    read = read_file_tool(space)
    with pytest.raises(ToolExecutionError, match=r"no file 'nope\.txt'"):
        await _call(read, path="nope.txt")
    with pytest.raises(ToolExecutionError, match="no directory 'nope'"):
        await _call(read, path="nope/a.txt")
    with pytest.raises(ToolRefused, match=r"'a\.md' is not a directory"):
        await _call(read, path="notes/a.md/x")


async def test_a_write_is_applied_once_per_idempotency_key(space: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    write = write_file_tool(space, ledger=ledger)
    first = await _call(write, _ctx(1), path="log.txt", content="a\n", mode="append")
    again = await _call(write, _ctx(1), path="log.txt", content="a\n", mode="append")
    other = await _call(write, _ctx(2), path="log.txt", content="b\n", mode="append")
    assert (space / "log.txt").read_text() == "a\nb\n"
    assert again == {**first, "replayed": True}
    assert other["replayed"] is False
    assert other["bytes"] == 4
    # A new tool over the same ledger (another process, after a resume) replays too.
    again = await _call(
        write_file_tool(space, ledger=ledger), _ctx(2), path="log.txt", content="b\n", mode="append"
    )
    assert again["replayed"] is True
    assert (space / "log.txt").read_text() == "a\nb\n"


async def test_a_write_journaled_but_interrupted_is_finished_once(
    space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    write = write_file_tool(space, ledger=ledger)
    await _call(write, _ctx(0), path="log.txt", content="a\n", mode="append")
    real_replace = os.replace

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("killed before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(ToolExecutionError, match="killed before the rename"):
        await _call(write, _ctx(1), path="log.txt", content="b\n", mode="append")
    with sqlite3.connect(ledger) as con:
        assert con.execute("SELECT state FROM file_writes WHERE key = 'ex:1:0'").fetchone() == (
            "pending",
        )
    assert (space / "log.txt").read_text() == "a\n"  # not applied
    monkeypatch.setattr(os, "replace", real_replace)
    done = await _call(write, _ctx(1), path="log.txt", content="b\n", mode="append")
    assert done["replayed"] is False
    assert (space / "log.txt").read_text() == "a\nb\n"
    # Applied, but the process died before the ledger said so: the key is not re-applied.
    with sqlite3.connect(ledger) as con:
        con.execute("UPDATE file_writes SET state = 'pending' WHERE key = 'ex:1:0'")
    replayed = await _call(write, _ctx(1), path="log.txt", content="b\n", mode="append")
    assert replayed["replayed"] is True
    assert (space / "log.txt").read_text() == "a\nb\n"


async def test_size_cap(space: Path) -> None:
    write = write_file_tool(space, max_bytes=4)
    await _call(write, _ctx(0), path="x.txt", content="abc")
    with pytest.raises(ToolRefused, match="larger than 4 bytes"):
        await _call(write, _ctx(1), path="x.txt", content="de", mode="append")
    assert (space / "x.txt").read_text() == "abc"
