"""The registry, tool references and the package's public names."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import workbench.tools
import workbench.tools.builtin
from workbench.errors import ConfigError, ToolNotFound
from workbench.tools import Tool, ToolRegistry, resolve_tool, tool


@tool
def alpha(x: int) -> int:
    """Alpha."""
    return x


@tool
def beta() -> str:
    """Beta."""
    return "b"


def test_registry_basics() -> None:
    registry = ToolRegistry([alpha])
    assert registry.register(beta) is beta
    assert registry.names() == ["alpha", "beta"]
    assert len(registry) == 2
    assert "alpha" in registry
    assert "gamma" not in registry
    assert list(registry) == [alpha, beta]
    assert registry.get("beta") is beta
    assert registry.definitions() == [alpha.definition(), beta.definition()]


def test_duplicate_name_is_a_config_error() -> None:
    registry = ToolRegistry([alpha])
    with pytest.raises(ConfigError, match="already registered"):
        registry.register(tool(alpha.fn))


def test_only_tools_can_be_registered() -> None:
    with pytest.raises(ConfigError):
        ToolRegistry().register(alpha.fn)  # type: ignore[arg-type]


def test_unknown_tool_lists_available_names() -> None:
    registry = ToolRegistry([alpha, beta])
    with pytest.raises(ToolNotFound) as info:
        registry.get("gamma")
    assert info.value.tool == "gamma"
    assert info.value.code == "tool_not_found"
    assert info.value.message == "unknown tool 'gamma'; available tools: alpha, beta"


@pytest.fixture
def tool_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = "wb_test_tool_refs"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from workbench.tools import tool

            @tool
            def echo(text: str) -> str:
                '''Echo.'''
                return text

            def make_echo():
                return echo

            def broken_factory():
                raise RuntimeError("nope")

            def not_a_tool_factory():
                return 42

            class Holder:
                inner = echo

            CONSTANT = 3
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_resolve_tool(tool_module: str) -> None:
    echo = resolve_tool(f"{tool_module}:echo")
    assert isinstance(echo, Tool)
    assert echo.name == "echo"
    assert resolve_tool(f"{tool_module}:make_echo") is echo
    assert resolve_tool(f"{tool_module}:Holder.inner") is echo
    assert resolve_tool("workbench.tools.builtin:calculator").name == "calculator"


@pytest.mark.parametrize(
    ("attr", "fragment"),
    [
        ("", "must look like"),
        (":missing", "no attribute 'missing'"),
        (":broken_factory", "the factory failed: RuntimeError: nope"),
        (":not_a_tool_factory", "returned int, not a Tool"),
        (":CONSTANT", "neither a Tool nor a factory"),
    ],
)
def test_resolve_tool_errors(tool_module: str, attr: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        resolve_tool(f"{tool_module}{attr}")


def test_resolve_tool_bad_module() -> None:
    with pytest.raises(ConfigError, match="cannot import"):
        resolve_tool("no_such_module_xyz:thing")
    with pytest.raises(ConfigError, match="must look like"):
        resolve_tool(":thing")


@pytest.mark.parametrize("module", [workbench.tools, workbench.tools.builtin])
def test_public_names_are_sorted_and_exported(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    # isort-style, the house order (tests/house): CONSTANTS, then Classes, then functions.
    kind = {True: 0}
    assert names == sorted(
        names, key=lambda n: (kind.get(n.isupper(), 1 if n[:1].isupper() else 2), n)
    )
    for name in names:
        assert getattr(module, name) is not None
    public = {n for n in vars(module) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(module, n)).__name__ == "module"}
    assert public - modules - {"annotations"} == set(names)
