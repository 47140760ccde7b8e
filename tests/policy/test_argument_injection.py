"""Tool-argument injection: SQL, shell metacharacters, SSRF address forms, and the spec built-ins.

Forms already covered in ``tests/tools`` (plain stacked statements, ATTACH, COPY,
read_csv, INSTALL/LOAD; 2130706433, 0177.0.0.1, 0x7f.0.0.1 off the allow-list) are
not repeated here.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ToolArgumentsInvalid, ToolExecutionError, ToolRefused
from workbench.runtime import AgentSpec, resolve_tools
from workbench.tools import Tool, ToolContext
from workbench.tools.builtin import (
    calculator,
    http_get_tool,
    python_tool,
    read_file_tool,
    read_outbox,
    send_email_tool,
    sql_tool,
    write_file_tool,
)

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
SALES = REPO / "datasets" / "sales.csv"
CTX = ToolContext.for_call(execution_id="ex", step=0, call_index=0, side_effects=True)


async def _call(t: Tool, ctx: ToolContext = CTX, **arguments: Any) -> Any:
    return await t.ainvoke(t.parse_arguments(arguments), ctx, timeout_s=30)


# ------------------------------------------------------------------------ SQL


@pytest.fixture(scope="module")
def sql() -> Tool:
    return sql_tool({"sales": SALES})


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("select 1;/* hidden */ attach '/tmp/wb_q.db' as q", "send exactly one statement, got 2"),
        ("SELECT 1;\n\n  DROP TABLE sales", "send exactly one statement, got 2"),
        ("FORCE INSTALL httpfs", "got LOAD"),
        ("LOAD '/tmp/evil.duckdb_extension'", "got LOAD"),
        ("EXPORT DATABASE '/tmp/wb_export'", "got EXPORT"),
        ("CALL pragma_version()", "got CALL"),
        ("CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')", "got CREATE"),
        ("SELECT * FROM read_csv_auto('/etc/passwd')", "'read_csv_auto' is not allowed"),
        ("SELECT * FROM sales UNION ALL SELECT * FROM read_csv('/etc/passwd')", "'read_csv'"),
        ("WITH x AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM x", "'read_text'"),
        ("SELECT (SELECT content FROM read_text('/etc/hostname'))", "'read_text'"),
        ("SELECT * FROM sales, LATERAL read_blob('/etc/hostname')", "'read_blob'"),
        ("SELECT * FROM parquet_scan('/etc/passwd')", "'parquet_scan'"),
        ("SELECT * FROM sqlite_scan('/tmp/x.db', 't')", "'sqlite_scan'"),
        ("SELECT * FROM duckdb_secrets()", "'duckdb_secrets'"),
        ("SELECT * FROM 'https://example.com/x.csv'", "is not available"),
    ],
)
async def test_sql_injection_forms_are_refused(sql: Tool, query: str, reason: str) -> None:
    with pytest.raises(ToolArgumentsInvalid, match="SQL refused") as info:
        await _call(sql, query=query)
    assert reason in info.value.message


async def test_sql_tautology_only_reads_and_env_is_unreachable(sql: Tool) -> None:
    """A classic `' OR 1=1 --` reads the dataset (allowed anyway); it changes nothing."""
    rows = await _call(sql, query="SELECT count(*) FROM sales WHERE region = '' OR 1=1 --'")
    assert rows["rows"] == [[200]]
    # A second statement hidden in a comment is just a comment.
    rows = await _call(sql, query="SELECT count(*) FROM sales; -- '; DELETE FROM sales")
    assert rows["rows"] == [[200]]
    with pytest.raises(ToolExecutionError, match="getenv does not exist"):
        await _call(sql, query="SELECT getenv('HOME')")
    assert (await _call(sql, query="SELECT count(*) FROM sales"))["rows"] == [[200]]


# ------------------------------------------------------ shell metacharacters


PAYLOADS = ["$(touch {m})", "`touch {m}`", "x; touch {m}", "x | touch {m}", "x && touch {m} #"]


@pytest.fixture
def shell_spy(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record every process start that would go through a shell."""
    calls: list[object] = []
    real_init = subprocess.Popen.__init__

    def popen(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        if kwargs.get("shell") or isinstance(args, (str, bytes)):
            calls.append(args)
        real_init(self, args, *rest, **kwargs)

    def system(command: str) -> int:
        calls.append(command)
        raise AssertionError(f"os.system({command!r})")

    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    monkeypatch.setattr(os, "system", system)
    monkeypatch.setattr(os, "popen", system)
    return calls


async def test_shell_metacharacters_are_inert_in_every_tool(
    tmp_path: Path, shell_spy: list[object]
) -> None:
    workspace = tmp_path / "ws"
    read, write = read_file_tool(workspace), write_file_tool(workspace)
    mail = send_email_tool(outbox=tmp_path / "o.sqlite")
    sql = sql_tool({"sales": SALES})
    code = python_tool()
    for index, template in enumerate(PAYLOADS):
        marker = tmp_path / f"pwned{index}"
        payload = template.format(m=marker)
        # The payload is data: stored, echoed or refused verbatim, never executed.
        name = payload.replace("/", "_")
        ctx = ToolContext.for_call(execution_id="ex", step=index, call_index=0, side_effects=True)
        written = await _call(write, ctx, path=f"d/{name}", content=payload)
        assert written["path"] == f"d/{name}"
        assert (workspace / "d" / name).read_text() == payload
        assert (await _call(read, path=f"d/{name}"))["text"] == payload
        echoed = await _call(sql, query=f"SELECT '{payload.replace(chr(39), chr(39) * 2)}' AS v")
        assert echoed["rows"] == [[payload]]
        await _call(mail, ctx, to="ops@example.com", subject=payload, body=payload)
        with pytest.raises(ToolArgumentsInvalid):
            await _call(calculator, expression=f"1 + 1 {payload}")
        ran = await _call(code, code=f"print({payload!r})")
        assert ran["stdout"] == payload + "\n"
        assert not marker.exists()
    assert [r["subject"] for r in read_outbox(tmp_path / "o.sqlite")] == [
        t.format(m=tmp_path / f"pwned{i}") for i, t in enumerate(PAYLOADS)
    ]
    assert shell_spy == []


# --------------------------------------------------------------------- SSRF


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attempts: list[object] = []

    def refuse(_self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError(f"connection attempted to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        # Numeric forms that the C resolver turns into loopback even when they are
        # allow-listed as names: decimal, hex, octal, short forms.
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("017700000001", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("0", "unspecified"),
        ("0xa9fea9fe", "link-local"),  # 169.254.169.254
        ("2852039166", "link-local"),  # 169.254.169.254
    ],
)
async def test_numeric_ip_forms_are_resolved_then_refused(
    no_connect: list[object], host: str, kind: str
) -> None:
    t = http_get_tool(allow_hosts=[host])
    with pytest.raises(ToolRefused, match=f"a {kind} address"):
        await _call(t, url=f"http://{host}/latest/meta-data/")
    assert no_connect == []


@pytest.mark.parametrize(
    "url",
    [
        "http://[::]/",
        "http://[0:0:0:0:0:ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://127.0.0.1.nip.io/",
        "http://localtest.me/",
        "http://metadata.google.internal/",
        "http://example.com:80@127.0.0.1/",
        "http://127.0.0.1#@example.com/",
        "http://127.0.0.1\\@example.com/",
    ],
)
async def test_other_ssrf_forms_are_refused_before_connecting(
    no_connect: list[object], url: str
) -> None:
    t = http_get_tool(allow_hosts=["example.com"])
    with pytest.raises(ToolRefused):
        await _call(t, url=url)
    assert no_connect == []


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("127.0.0.2", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
    ],
)
async def test_allow_listed_names_resolving_to_loopback_forms_are_refused(
    no_connect: list[object], monkeypatch: pytest.MonkeyPatch, answer: str, kind: str
) -> None:
    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        family = socket.AF_INET6 if ":" in answer else socket.AF_INET
        sockaddr = (answer, port, 0, 0) if ":" in answer else (answer, port)
        return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    t = http_get_tool(allow_hosts=["rebind.example.test"])
    with pytest.raises(ToolRefused, match=f"a {kind} address"):
        await _call(t, url="http://rebind.example.test/")
    assert no_connect == []


# ------------------------------------------------------------ spec built-ins


def test_file_and_mail_tools_are_spec_built_ins(workbench_home: Path) -> None:
    spec = AgentSpec.from_dict(
        {
            "name": "clerk",
            "version": "v1",
            "model": "scripted/clerk",
            "system_prompt": "You file things.",
            "tools": ["read_file", "write_file", "send_email"],
        }
    )
    registry = resolve_tools(spec)
    tools = {name: registry.get(name) for name in ("read_file", "write_file", "send_email")}
    assert {n: (t.risk, t.side_effects, t.egress) for n, t in tools.items()} == {
        "read_file": ("low", False, False),
        "write_file": ("high", True, False),
        "send_email": ("high", True, True),
    }
    assert (workbench_home / "workspaces" / "clerk").is_dir()
