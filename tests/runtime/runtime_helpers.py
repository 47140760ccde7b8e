"""Types shared by the runtime tests (a uniquely named module: conftest.py files clash)."""

from __future__ import annotations

from collections.abc import Callable

from workbench.runtime import AgentSpec, StepEvent

SpecFactory = Callable[..., AgentSpec]


class Events(list[StepEvent]):
    """Collects step events; ``types()`` gives their types in order."""

    def types(self) -> list[str]:
        return [e.type for e in self]
