"""``send_email``, a demo world-changing tool: outbox, allow-list, header injection, keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workbench.errors import ConfigError, ToolArgumentsInvalid, ToolRefused
from workbench.tools import Tool, ToolContext
from workbench.tools.builtin import read_outbox, send_email_tool

pytestmark = pytest.mark.anyio


def _ctx(step: int = 0) -> ToolContext:
    return ToolContext.for_call(execution_id="ex", step=step, call_index=0, side_effects=True)


async def _send(t: Tool, ctx: ToolContext | None = None, **arguments: Any) -> Any:
    body = {"subject": "Report", "body": "All good.", **arguments}
    return await t.ainvoke(t.parse_arguments(body), ctx or _ctx(), timeout_s=10)


def test_metadata(tmp_path: Path) -> None:
    t = send_email_tool(outbox=tmp_path / "o.sqlite")
    assert (t.name, t.scope, t.risk, t.egress, t.side_effects) == (
        "send_email",
        "mail.send",
        "high",
        True,
        True,
    )
    assert t.parameters["required"] == ["to", "subject", "body"]
    assert "example.com, workbench.test" in t.description


async def test_queues_once_per_idempotency_key(tmp_path: Path) -> None:
    box = tmp_path / "o.sqlite"
    t = send_email_tool(outbox=box)
    first = await _send(t, _ctx(0), to="ops@example.com")
    again = await _send(send_email_tool(outbox=box), _ctx(0), to="ops@example.com")
    other = await _send(t, _ctx(1), to="cfo@workbench.test", subject="Q3")
    assert first["replayed"] is False
    assert again == {**first, "replayed": True}
    assert other["message_id"] != first["message_id"]
    rows = read_outbox(box)
    assert [(r["to_addr"], r["subject"], r["idempotency_key"]) for r in rows] == [
        ("ops@example.com", "Report", "ex:0:0"),
        ("cfo@workbench.test", "Q3", "ex:1:0"),
    ]


async def test_default_outbox_is_under_workbench_home(workbench_home: Path) -> None:
    await _send(send_email_tool(), to="ops@example.com")
    assert (workbench_home / "outbox.sqlite").is_file()
    assert [r["to_addr"] for r in read_outbox()] == ["ops@example.com"]


@pytest.mark.parametrize(
    "to", ["boss@evil.test", "x@sub.example.com", "x@example.com.evil.test", "x@example.org"]
)
async def test_recipients_outside_the_allow_list_are_refused(tmp_path: Path, to: str) -> None:
    box = tmp_path / "o.sqlite"
    with pytest.raises(ToolRefused, match="is not allowed"):
        await _send(send_email_tool(outbox=box), to=to)
    assert read_outbox(box) == []


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({"to": "a@example.com, b@evil.test"}, "is not one plain address"),
        ({"to": "a@example.com\r\nBcc: b@evil.test"}, "is not one plain address"),
        ({"to": "Alice <a@example.com>"}, "is not one plain address"),
        ({"to": "a@evil.test@example.com"}, "is not one plain address"),
        ({"to": "a@EXAMPLE.COM"}, "is not one plain address"),
        ({"to": "ops@example.com", "subject": "Hi\r\nBcc: b@evil.test"}, "one line"),
        ({"to": "ops@example.com", "subject": "Hi\x1b[2J"}, "one line"),
        ({"to": "ops@example.com", "body": "x\x00y"}, "NUL"),
    ],
)
async def test_header_injection_and_malformed_addresses(
    tmp_path: Path, arguments: dict[str, str], fragment: str
) -> None:
    box = tmp_path / "o.sqlite"
    with pytest.raises(ToolArgumentsInvalid, match=fragment):
        await _send(send_email_tool(outbox=box), **arguments)
    assert read_outbox(box) == []


async def test_body_cap(tmp_path: Path) -> None:
    t = send_email_tool(outbox=tmp_path / "o.sqlite", max_body_chars=5)
    with pytest.raises(ToolArgumentsInvalid, match="longer than 5 characters"):
        await _send(t, to="ops@example.com", body="123456")


@pytest.mark.parametrize("domains", [[], "example.com", ["Example.com"], ["*.example.com"]])
def test_bad_allow_lists(tmp_path: Path, domains: Any) -> None:
    with pytest.raises(ConfigError):
        send_email_tool(outbox=tmp_path / "o.sqlite", allow_domains=domains)
