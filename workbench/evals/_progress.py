"""Progress display of a run: rich in a terminal, an ipywidgets bar in a notebook."""

from __future__ import annotations

import sys
from typing import Any, Literal, Protocol

__all__ = ["Progress", "ProgressMode", "make_progress"]

ProgressMode = Literal["auto", "rich", "widget", "none"]


class Progress(Protocol):
    """What the runner tells a progress display."""

    def start(self, total: int, done: int, description: str) -> None:
        """The run starts: ``total`` units, ``done`` already finished (a resume)."""

    def advance(self, *, cost_usd: float, failed: bool) -> None:
        """One unit finished."""

    def note(self, text: str) -> None:
        """A line worth showing (forecast, concurrency change)."""

    def close(self) -> None:
        """The run ended."""


class _Silent:
    def start(self, total: int, done: int, description: str) -> None:
        pass

    def advance(self, *, cost_usd: float, failed: bool) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class _Rich:
    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._console = Console(stderr=True)
        self._bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("${task.fields[cost]:.4f}"),
            TextColumn("[red]{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=False,
        )
        self._task: Any = None
        self._cost = 0.0
        self._failed = 0

    def start(self, total: int, done: int, description: str) -> None:
        self._bar.start()
        self._task = self._bar.add_task(
            description, total=total, completed=done, cost=0.0, failed=0
        )

    def advance(self, *, cost_usd: float, failed: bool) -> None:
        self._cost += cost_usd
        self._failed += int(failed)
        self._bar.update(self._task, advance=1, cost=self._cost, failed=self._failed)

    def note(self, text: str) -> None:
        self._bar.console.print(text)

    def close(self) -> None:
        self._bar.stop()


class _Widget:
    def __init__(self) -> None:
        import ipywidgets  # type: ignore[import-untyped]
        from IPython.display import display

        self._bar = ipywidgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        self._label = ipywidgets.HTML()
        self._notes = ipywidgets.HTML()
        box = ipywidgets.VBox([ipywidgets.HBox([self._bar, self._label]), self._notes])
        display(box)  # type: ignore[no-untyped-call]
        self._cost = 0.0
        self._failed = 0
        self._description = ""

    def _show(self) -> None:
        self._label.value = (
            f"<b>{self._description}</b> {self._bar.value}/{self._bar.max}"
            f" &middot; ${self._cost:.4f} &middot; {self._failed} failed"
        )

    def start(self, total: int, done: int, description: str) -> None:
        self._bar.max = max(total, 1)
        self._bar.value = done
        self._description = description
        self._show()

    def advance(self, *, cost_usd: float, failed: bool) -> None:
        self._bar.value += 1
        self._cost += cost_usd
        self._failed += int(failed)
        self._show()

    def note(self, text: str) -> None:
        self._notes.value += f"<div>{text}</div>"

    def close(self) -> None:
        self._bar.bar_style = "success" if self._failed == 0 else "warning"


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (an IPython ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def make_progress(mode: ProgressMode = "auto") -> Progress:
    """The display for ``mode``; ``auto`` picks a widget in a notebook, rich on a
    terminal (stderr is a TTY) and nothing otherwise."""
    if mode == "auto":
        if in_notebook():
            mode = "widget"
        elif sys.stderr.isatty():
            mode = "rich"
        else:
            mode = "none"
    if mode == "widget":
        return _Widget()
    if mode == "rich":
        return _Rich()
    return _Silent()
