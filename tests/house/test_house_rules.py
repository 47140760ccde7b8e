"""House rules that review would otherwise have to catch."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import workbench
from workbench import errors

REPO = Path(__file__).resolve().parents[2]


def _packages() -> list[str]:
    names = ["workbench"]
    for info in pkgutil.walk_packages(workbench.__path__, "workbench."):
        if info.ispkg:
            names.append(info.name)
    return names


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("name", _packages())
def test_every_package_exports_a_sorted_complete_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    assert list(exported) == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names {item!r}, which it lacks"


def test_modules_under_packages_are_private() -> None:
    public = [
        p.relative_to(REPO).as_posix()
        for p in (REPO / "workbench").rglob("*.py")
        if not p.name.startswith("_") and p.parent != REPO / "workbench"
    ]
    assert public == [], "modules inside subpackages are private (_name.py)"


def test_no_module_is_a_monster() -> None:
    big = {
        p.relative_to(REPO).as_posix(): n
        for p in (REPO / "workbench").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 800
    }
    assert big == {}


def test_every_error_code_is_documented_and_unique() -> None:
    doc = (REPO / "docs" / "errors.md").read_text()
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.WorkbenchError)
    ]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
    missing = [code for code in codes if f"`{code}`" not in doc]
    assert missing == []


def test_test_modules_have_unique_basenames() -> None:
    # Test directories are not packages: two test files of one name cannot both import.
    root = Path(__file__).resolve().parents[1]
    seen: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        if path.name == "conftest.py" or "fixtures" in path.parts:
            continue
        assert path.name not in seen, f"{path} and {seen[path.name]} share a module name"
        seen[path.name] = path


def test_no_test_imports_from_a_conftest() -> None:
    # `from conftest import X` finds whichever conftest.py was imported first under that
    # name; shared helpers live in uniquely named modules (runtime_helpers.py, ...).
    root = Path(__file__).resolve().parents[1]
    offenders = [
        str(path.relative_to(root))
        for path in sorted(root.rglob("*.py"))
        if path != Path(__file__).resolve()
        and (
            "from conftest import" in (text := path.read_text(encoding="utf-8"))
            or "import conftest" in text
        )
    ]
    assert offenders == []
