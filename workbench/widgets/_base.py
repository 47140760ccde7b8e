"""What every widget shares: a model that notifies its view, readable errors, PNG plots.

Each widget is two objects. The *model* (``...Model``) holds the state and does the
work through public workbench APIs; tests drive it from Python without a browser. The
*view* (an ``ipywidgets`` box) only renders the model and forwards clicks to it.

A model reports failures as :attr:`WidgetModel.error` (``"[code] message"``, the CLI's
format) instead of raising into the notebook's log, and long work as
:attr:`WidgetModel.progress`.
"""

from __future__ import annotations

import asyncio
import html
import io
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import ipywidgets  # type: ignore[import-untyped]
    from matplotlib.figure import Figure

__all__ = [
    "Listener",
    "WidgetModel",
    "describe_error",
    "error_label",
    "figure_png",
    "html_table",
    "new_figure",
    "on_kernel_thread",
    "progress_bar",
    "show_error",
    "show_progress",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
Listener = Callable[[str], None]
"""Called with the name of what changed (``"rows"``, ``"status"``, ``"error"``, ...)."""


def describe_error(exc: BaseException) -> str:
    """One readable line for an exception: ``[code] message`` for workbench errors."""
    if isinstance(exc, WorkbenchError):
        return f"[{exc.code}] {exc.message}"
    return f"[{type(exc).__name__}] {exc}"


class WidgetModel:
    """Base of every widget model: listeners, a readable error and a progress figure."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self.error: str | None = None
        """The last failure as ``[code] message``; ``None`` when the last action worked."""
        self.progress: tuple[int, int] | None = None
        """``(done, total)`` of the work in progress; ``None`` when idle."""

    def observe(self, listener: Listener) -> None:
        """Call ``listener(what)`` after every change (from whichever thread made it)."""
        self._listeners.append(listener)

    def changed(self, what: str) -> None:
        """Tell the listeners that ``what`` changed; a failing listener is logged only."""
        for listener in list(self._listeners):
            try:
                listener(what)
            except Exception:
                log.exception("widget listener failed on %r", what)

    def set_error(self, exc: BaseException | str | None) -> None:
        """Record (or clear, with ``None``) the error shown in the widget."""
        self.error = exc if exc is None or isinstance(exc, str) else describe_error(exc)
        self.changed("error")

    def set_progress(self, done: int | None, total: int = 0) -> None:
        """Record progress (``None`` ends it)."""
        self.progress = None if done is None else (done, total)
        self.changed("progress")

    def attempt(self, action: Callable[[], T]) -> T | None:
        """Run ``action``; on failure record its error and return ``None`` instead of raising."""
        try:
            result = action()
        except Exception as exc:
            log.debug("widget action failed", exc_info=True)
            self.set_error(exc)
            return None
        if self.error is not None:
            self.set_error(None)
        return result


def on_kernel_thread(view_update: Callable[[], None]) -> Callable[[str], None]:
    """A listener that runs ``view_update`` on the thread that built the view.

    Models change from worker threads (an execution runs on the workbench's worker
    loop); widget state is sent from the kernel's own event loop when there is one.
    """
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    owner = threading.get_ident()

    def listener(_what: str) -> None:
        if loop is not None and threading.get_ident() != owner and not loop.is_closed():
            loop.call_soon_threadsafe(view_update)
        else:
            view_update()

    return listener


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of a matplotlib figure (drawn off-screen), then closed."""
    buffer = io.BytesIO()
    # No bbox_inches="tight": it draws the figure twice (seconds on a slow CPU).
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def new_figure(width: float = 6.4, height: float = 3.0) -> Figure:
    """A figure on the Agg canvas: no GUI backend, no global pyplot state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # Fixed margins: a layout engine ("constrained", "tight") solves and draws the
    # figure more than once, seconds per figure on a slow CPU.
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.1, right=0.97, top=0.88, bottom=0.25, wspace=0.3)
    FigureCanvasAgg(fig)
    return fig


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    highlight: Callable[[int], bool] | None = None,
    cls: str = "wb-table",
) -> str:
    """A small escaped HTML table; rows for which ``highlight(i)`` is true are marked."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        mark = (
            ' class="wb-highlight" style="background:#ffe4b5"'
            if highlight is not None and highlight(i)
            else ""
        )
        cells = "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row)
        body.append(f"<tr{mark}>{cells}</tr>")
    return (
        f'<table class="{cls}" style="border-collapse:collapse;font-size:12px">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:.6g}"
    return str(value)


def error_label() -> ipywidgets.HTML:
    """The red line where a widget shows its error (hidden while there is none)."""
    import ipywidgets

    label = ipywidgets.HTML(value="")
    label.add_class("wb-error")
    label.layout.display = "none"
    return label


def show_error(label: ipywidgets.HTML, error: str | None) -> None:
    """Put ``error`` in ``label`` (or hide it)."""
    if error is None:
        label.value = ""
        label.layout.display = "none"
    else:
        label.value = f'<span style="color:#b00020">{html.escape(error)}</span>'
        label.layout.display = ""


def progress_bar() -> ipywidgets.IntProgress:
    """A progress bar hidden while idle."""
    import ipywidgets

    bar = ipywidgets.IntProgress(value=0, min=0, max=1)
    bar.layout.display = "none"
    return bar


def show_progress(bar: ipywidgets.IntProgress, progress: tuple[int, int] | None) -> None:
    """Show ``(done, total)`` in ``bar`` (or hide it)."""
    if progress is None:
        bar.layout.display = "none"
        return
    done, total = progress
    bar.max = max(total, 1)
    bar.value = min(done, bar.max)
    bar.description = f"{done}/{total}" if total else f"{done}"
    bar.layout.display = ""
