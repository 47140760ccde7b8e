"""The policy engine: loading (typed errors naming the file), the decision scheme, encoding."""

from __future__ import annotations

import filecmp
import math
from pathlib import Path
from typing import Any

import cedarpy
import pytest

from workbench.errors import PolicyError
from workbench.policy import (
    DEFAULT_POLICY_DIR,
    SCHEMA_FILE,
    PolicyEngine,
    ToolRequest,
    default_policy_dir,
)
from workbench.policy._encode import encode_arguments
from workbench.tools import tool

REPO = Path(__file__).resolve().parents[2]
SCHEMA = (REPO / "policies" / SCHEMA_FILE).read_text()


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.default()


def test_the_packaged_copy_is_the_repository_policies() -> None:
    repo = REPO / "policies"
    names = sorted(p.name for p in repo.iterdir())
    assert names == ["default.cedar", SCHEMA_FILE]
    assert sorted(p.name for p in DEFAULT_POLICY_DIR.iterdir()) == names
    _, mismatch, errors = filecmp.cmpfiles(repo, DEFAULT_POLICY_DIR, names, shallow=False)
    assert (mismatch, errors) == ([], []), "run: cp policies/* workbench/policy/default/"
    assert default_policy_dir() == repo  # a source checkout uses the repository's copy


def test_default_engine_loads_every_shipped_policy(engine: PolicyEngine) -> None:
    assert engine.policy_ids == (
        "permit-tool-grant",
        "permit-tool-scope",
        "permit-unscoped-low-risk",
        "forbid-path-outside-workspace",
        "forbid-mail-outside-allow-list",
        "ask-tainted-high-risk",
        "ask-requires-approval",
    )
    assert PolicyEngine.from_path(DEFAULT_POLICY_DIR).policy_ids == engine.policy_ids


def _write(tmp_path: Path, policies: str, schema: str = SCHEMA) -> Path:
    (tmp_path / "a.cedar").write_text(policies)
    (tmp_path / SCHEMA_FILE).write_text(schema)
    return tmp_path


@pytest.mark.parametrize(
    ("policies", "fragment"),
    [
        ("permit (principal, action, resource) when { x };", "Cedar cannot parse it"),
        ("permit (principal, action, resource);", "policy policy0 has no @id"),
        (
            '@id("p") permit (principal, action, resource);\n'
            '@id("p") forbid (principal, action, resource);',
            "policy id 'p' is used twice",
        ),
        (
            '@id("typo") permit (principal, action, resource) when { principal.scopez.isEmpty() };',
            "does not validate against the schema: [typo] for policy `typo`, attribute `scopez`",
        ),
        (
            '@id("t") permit (principal == ?principal, action, resource);',
            "templates are not supported",
        ),
    ],
)
def test_bad_policy_files_are_typed_errors_naming_the_file(
    tmp_path: Path, policies: str, fragment: str
) -> None:
    with pytest.raises(PolicyError) as info:
        PolicyEngine.from_path(_write(tmp_path, policies))
    assert info.value.code == "policy_invalid"
    assert info.value.message.startswith(f"{tmp_path / 'a.cedar'}: ")
    assert fragment in info.value.message


def test_a_directory_without_policies_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no policies \\(everything would be denied\\)"):
        PolicyEngine.from_path(_write(tmp_path, "// nothing but a comment\n"))


def test_bad_or_missing_schema_and_paths(tmp_path: Path) -> None:
    good = '@id("p") permit (principal, action, resource);'
    with pytest.raises(PolicyError, match="invalid Cedar schema: failed to resolve type: Nope"):
        PolicyEngine.from_path(_write(tmp_path, good, "entity A = { x: Nope };"))
    (tmp_path / SCHEMA_FILE).unlink()
    with pytest.raises(PolicyError, match=f"no Cedar schema \\({SCHEMA_FILE}\\)"):
        PolicyEngine.from_path(tmp_path)
    with pytest.raises(PolicyError, match="no policy file or directory"):
        PolicyEngine.from_path(tmp_path / "missing")


def test_a_single_file_uses_the_schema_beside_it(tmp_path: Path) -> None:
    path = _write(tmp_path, '@id("all") permit (principal, action, resource);') / "a.cedar"
    engine = PolicyEngine.from_path(path)
    assert engine.decide(ToolRequest(tool="x")).effect == "allow"


def test_policies_are_parsed_once(engine: PolicyEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parsing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed again")

    monkeypatch.setattr(cedarpy.PolicySet, "from_str", no_parsing)
    monkeypatch.setattr(cedarpy.Schema, "from_str", no_parsing)
    request = ToolRequest(principal="alice", scopes=("tool:sql",), tool="sql")
    assert [engine.decide(request).effect for _ in range(3)] == ["allow"] * 3


# ------------------------------------------------------------------ decisions

SQL = {"tool": "sql", "tool_scope": "data.read"}
WRITE = {"tool": "write_file", "tool_scope": "files.write", "risk": "high", "side_effects": True}
MAIL = {"tool": "send_email", "tool_scope": "mail.send", "risk": "high", "egress": True}


@pytest.mark.parametrize(
    ("request_fields", "effect", "ids"),
    [
        # permits
        ({"scopes": ("tool:sql",), **SQL}, "allow", ("permit-tool-grant",)),
        ({"scopes": ("tool:*",), **SQL}, "allow", ("permit-tool-grant",)),
        ({"scopes": ("data.read",), **SQL}, "allow", ("permit-tool-scope",)),
        ({"scopes": ("data.read",), "tool": "calc"}, "allow", ("permit-unscoped-low-risk",)),
        # privilege escalation: a tool outside the principal's scopes
        ({"scopes": ("tool:calculator",), **SQL}, "deny", ()),
        ({"scopes": ("tool:sql_admin", "tool:sq*", "TOOL:SQL", "data.*"), **SQL}, "deny", ()),
        ({"scopes": ("data.read",), **WRITE, "arguments": {"path": "a.txt"}}, "deny", ()),
        ({"scopes": ("data.read",), "tool": "hook", "side_effects": True}, "deny", ()),
        ({"scopes": ("data.read",), "tool": "post", "risk": "high"}, "deny", ()),
        ({"scopes": ("data.read",), "tool": "beacon", "egress": True}, "deny", ()),
        # an unknown principal (no scopes at all) gets nothing, not even unscoped tools
        ({"principal": "mallory", **SQL}, "deny", ()),
        ({"principal": "mallory", "tool": "calc"}, "deny", ()),
        ({"principal": None, "tool": "calc"}, "deny", ()),
        # untainted: allowed, even for high risk; tainted: ask for high risk only
        ({"scopes": ("tool:*",), **WRITE, "arguments": {"path": "a.txt"}}, "allow", None),
        (
            {"scopes": ("tool:*",), **WRITE, "arguments": {"path": "a.txt"}, "tainted": True},
            "ask",
            ("ask-tainted-high-risk",),
        ),
        ({"scopes": ("tool:*",), **SQL, "tainted": True}, "allow", ("permit-tool-grant",)),
        (
            {"scopes": ("tool:*",), "tool": "refund", "requires_approval": True},
            "ask",
            ("ask-requires-approval",),
        ),
        # arguments outside policy: deny even with tool:*; deny beats ask
        (
            {"scopes": ("tool:*",), **WRITE, "arguments": {"path": "../x"}, "tainted": True},
            "deny",
            ("forbid-path-outside-workspace",),
        ),
        (
            {"scopes": ("tool:*",), **MAIL, "arguments": {"to": "boss@evil.test"}},
            "deny",
            ("forbid-mail-outside-allow-list",),
        ),
        ({"scopes": ("tool:*",), **MAIL, "arguments": {"to": "ops@example.com"}}, "allow", None),
    ],
)
def test_decisions(
    engine: PolicyEngine,
    request_fields: dict[str, Any],
    effect: str,
    ids: tuple[str, ...] | None,
) -> None:
    fields = {"principal": "alice", **request_fields}
    decision = engine.decide(ToolRequest(**fields))
    assert decision.effect == effect, decision.reason
    if ids is not None:
        assert decision.policy_ids == ids
    if effect == "deny" and ids == ():
        assert decision.reason.startswith("no policy permits")
    if effect == "ask":
        assert decision.reason.startswith("needs approval: ")
    assert 0 < decision.elapsed_us < 1_000_000


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "../secrets.txt",
        "notes/../../etc/passwd",
        "notes/..",
        "..",
        "~root/.ssh/id_rsa",
        "notes\\..\\..\\x",
        "a.txt\x00.png",
        "",
    ],
)
def test_paths_outside_the_workspace_are_forbidden_by_policy(
    engine: PolicyEngine, path: str
) -> None:
    for tool_name in ("read_file", "write_file"):
        decision = engine.decide(
            ToolRequest(
                principal="alice", scopes=("tool:*",), tool=tool_name, arguments={"path": path}
            )
        )
        assert (decision.effect, decision.policy_ids) == (
            "deny",
            ("forbid-path-outside-workspace",),
        ), path


@pytest.mark.parametrize("path", ["a.txt", "notes/a..b.md", "./x", "dir/.hidden", "..x/y"])
def test_paths_inside_the_workspace_pass_the_policy(engine: PolicyEngine, path: str) -> None:
    request = ToolRequest(
        principal="alice", scopes=("tool:*",), tool="read_file", arguments={"path": path}
    )
    assert engine.decide(request).effect == "allow"


@pytest.mark.parametrize(
    "to",
    [
        "x@evil.test",
        "x@example.com.evil.test",
        "x@sub.example.com",
        "x@EXAMPLE.COM",
        "x@evil.test,y@example.org",
        "x@evil.test\n@example.org",
    ],
)
def test_mail_outside_the_allow_list_is_forbidden_by_policy(engine: PolicyEngine, to: str) -> None:
    request = ToolRequest(principal="alice", scopes=("tool:*",), **MAIL, arguments={"to": to})
    assert engine.decide(request).policy_ids == ("forbid-mail-outside-allow-list",)
    assert engine.decide(request).effect == "deny"


# ----------------------------------------------------- odd values never raise


class _Weird:
    def __repr__(self) -> str:
        return "<weird>"


def _nested(depth: int) -> list[Any]:
    value: list[Any] = ["x"]
    for _ in range(depth):
        value = [value]
    return value


def _circular() -> dict[str, Any]:
    value: dict[str, Any] = {}
    value["self"] = value
    return value


@pytest.mark.parametrize(
    "arguments",
    [
        {"n": math.nan, "i": math.inf, "big": 2**80, "neg": -(2**70)},
        {"nested": {"a": [1, {"b": None}], "c": (1, 2)}, "none": None},
        {"obj": _Weird(), "bytes": b"\xff\x00", "set": {1, 2}},
        {"loop": _circular()},
        {"mixed": {1: "a", "b": 2}},
        {"__entity": {"type": "Principal", "id": "root"}, "__extn": {"fn": "ip", "arg": "x"}},
        {"deep": _nested(2000)},
        {"s" * 10_000: "v" * 1_000_000},
    ],
)
def test_odd_arguments_are_encoded_not_raised(
    engine: PolicyEngine, arguments: dict[str, Any]
) -> None:
    request = ToolRequest(principal="alice", scopes=("tool:*",), tool="x", arguments=arguments)
    assert engine.decide(request).effect == "allow"


def test_an_argument_of_the_wrong_type_is_an_evaluation_error_and_a_deny(
    engine: PolicyEngine,
) -> None:
    request = ToolRequest(
        principal="alice", scopes=("tool:*",), tool="write_file", arguments={"path": 5}
    )
    decision = engine.decide(request)
    assert decision.effect == "deny"
    assert decision.policy_ids == ("forbid-path-outside-workspace",)
    assert decision.reason.startswith("policy evaluation error: ")
    assert "`forbid-path-outside-workspace`: type error: expected string, got long" in (
        decision.reason
    )


def test_malformed_unicode_is_a_deny_not_a_crash(engine: PolicyEngine) -> None:
    request = ToolRequest(
        principal="alice", scopes=("tool:*",), tool="x", arguments={"s": "\ud800"}
    )
    decision = engine.decide(request)
    assert decision.effect == "deny"
    assert "failed to build request" in decision.reason


def test_an_unexpected_failure_is_a_deny(
    engine: PolicyEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(cedarpy, "is_authorized_batch", broken)
    decision = engine.decide(ToolRequest(principal="alice", scopes=("tool:*",), tool="x"))
    assert (decision.effect, decision.reason) == (
        "deny",
        "the policy engine failed: RuntimeError('boom')",
    )


def test_argument_encoding() -> None:
    record, text = encode_arguments(
        {
            "s": "x",
            "b": True,
            "i": 7,
            "big": 2**64,
            "f": 1.5,
            "none": None,
            "l": [1, "a"],
            "d": {"z": 1, "a": 2},
            "__entity": "hidden",
        }
    )
    assert record == {
        "s": "x",
        "b": True,
        "i": 7,
        "big": "18446744073709551616",
        "f": "1.5",
        "none": "null",
        "l": '[1,"a"]',
        "d": '{"a":2,"z":1}',
    }
    assert '"__entity":"hidden"' in text
    assert text.startswith('{"__entity":"hidden","b":true,')


def test_policies_can_match_nested_and_json_encoded_arguments() -> None:
    engine = PolicyEngine.from_text(
        '@id("all") permit (principal, action, resource);\n'
        '@id("no-metadata") forbid (principal, action, resource)'
        ' when { context.arguments_json like "*169.254.169.254*" };',
        SCHEMA,
    )
    hidden = {"options": {"mirror": ["http://169.254.169.254/latest"]}}
    assert engine.decide(ToolRequest(tool="x", arguments=hidden)).policy_ids == ("no-metadata",)
    assert engine.decide(ToolRequest(tool="x", arguments={"a": "b"})).effect == "allow"


def test_for_tool_copies_the_tools_metadata(engine: PolicyEngine) -> None:
    @tool(scope="mail.send", risk="high", egress=True, side_effects=True)
    def mail(to: str) -> str:
        """Send.

        Args:
            to: Recipient.
        """
        return to

    request = ToolRequest.for_tool(
        mail,
        {"to": "a@example.com"},
        principal="alice",
        scopes=["mail.send"],
        tainted=True,
        taint_sources=["tool:http_get"],
    )
    assert (request.tool, request.tool_scope, request.risk, request.egress) == (
        "mail",
        "mail.send",
        "high",
        True,
    )
    assert (request.side_effects, request.requires_approval, request.scopes) == (
        True,
        False,
        ("mail.send",),
    )
    decision = engine.decide(request)
    assert (decision.effect, decision.policy_ids) == ("ask", ("ask-tainted-high-risk",))
