"""AgentConsole: run an agent, watch its steps stream in, approve or deny, stop.

:class:`AgentConsoleModel` runs executions through :class:`~workbench.runtime.Runtime`
on the workbench's worker loop (so the notebook's kernel stays free to receive clicks)
and turns each :class:`~workbench.runtime.StepEvent` into a :class:`ConsoleRow`. When
an approval gate pauses the execution it exposes the pending call; :meth:`approve` and
:meth:`deny` call :meth:`Runtime.adecide`, and the resumed execution streams on.
:class:`AgentConsole` is the ipywidgets view.
"""

from __future__ import annotations

import html
import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets  # type: ignore[import-untyped]

from workbench._util import run_sync
from workbench.errors import ConfigError
from workbench.runtime import (
    AgentSpec,
    ExecutionResult,
    ExecutionStatus,
    Runtime,
    StepEvent,
    new_execution_id,
    request_stop,
)
from workbench.settings import Settings, get_settings
from workbench.widgets._base import (
    WidgetModel,
    error_label,
    html_table,
    on_kernel_thread,
    progress_bar,
    show_error,
    show_progress,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

__all__ = ["AgentConsole", "AgentConsoleModel", "ConsoleRow", "PendingCall", "row_of"]

_CLIP = 400


@dataclass(frozen=True, slots=True)
class ConsoleRow:
    """One line of the console: what happened at a step."""

    step: int
    kind: str
    """The event type: model, tool, guardrail, policy, approval, retry, repair, status."""
    summary: str
    """What to show, e.g. ``send_email({"to": ...})`` or the tool's result."""
    tokens: int
    """Tokens of the execution so far."""
    cost_usd: float
    """USD of the execution so far."""
    error: str | None = None
    """Stable error code when the step failed."""


@dataclass(frozen=True, slots=True)
class PendingCall:
    """The tool call an approval gate holds."""

    approval_id: str
    tool: str
    arguments: str
    reason: str


def _clip(text: str | None, limit: int = _CLIP) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def row_of(event: StepEvent) -> ConsoleRow:
    """The console line of one step event."""
    tokens = event.prompt_tokens + event.completion_tokens
    kind = event.type
    if kind == "model":
        calls = event.tool_calls or []
        summary = (
            "calls " + "; ".join(f"{c['name']}({_clip(str(c['arguments']), 160)})" for c in calls)
            if calls
            else "answers: " + _clip(event.text)
        )
    elif kind == "tool":
        summary = f"{event.tool_name} → {_clip(event.text)}"
    elif kind == "guardrail":
        summary = f"guardrail flagged the output of {event.tool_name}: {_clip(event.text, 200)}"
    elif kind == "policy":
        summary = f"policy denied {event.tool_name}({_clip(event.arguments, 160)}): {event.text}"
    elif kind == "approval":
        summary = (
            f"waits for approval: {event.tool_name}({_clip(event.arguments, 200)}): {event.text}"
        )
    elif kind == "status":
        summary = f"status {event.status}" + (f": {_clip(event.text)}" if event.text else "")
    else:  # retry, repair
        summary = _clip(event.text)
    return ConsoleRow(event.step, kind, summary, tokens, event.cost_usd, event.error)


class AgentConsoleModel(WidgetModel):
    """Runs one agent and keeps what the console shows.

    Args:
        spec: The agent, or the path of its YAML spec.
        settings: Workbench home and limits; from the environment if omitted.
        runtime: The runtime to use (owned by the caller); a new one on ``settings``
            if omitted (closed by :meth:`close`).
        decided_by: Recorded as who approved or denied a call from this console.
    """

    def __init__(
        self,
        spec: AgentSpec | str | Path,
        *,
        settings: Settings | None = None,
        runtime: Runtime | None = None,
        decided_by: str = "notebook",
    ) -> None:
        super().__init__()
        self.spec = spec if isinstance(spec, AgentSpec) else AgentSpec.from_yaml(spec)
        self.settings = settings or (runtime.settings if runtime else get_settings())
        self._runtime = runtime
        self._owns_runtime = runtime is None
        self.decided_by = decided_by
        self.rows: list[ConsoleRow] = []
        """Every step event of the current execution, as console lines."""
        self.events: list[StepEvent] = []
        """The raw step events."""
        self.status: str = "idle"
        """``idle``, ``running``, ``awaiting_approval`` or a final status."""
        self.execution_id: str | None = None
        self.pending: PendingCall | None = None
        """The call waiting at an approval gate, when ``status`` is ``awaiting_approval``."""
        self.result: ExecutionResult | None = None
        """The last result (a pause at a gate is a result too)."""
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cost_usd = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wb-console")
        self._future: Future[ExecutionResult | None] | None = None
        self._busy = threading.Event()

    # -- actions --------------------------------------------------------------------

    @property
    def runtime(self) -> Runtime:
        """The runtime executions run on."""
        if self._runtime is None:
            self._runtime = Runtime(self.settings)
        return self._runtime

    @property
    def busy(self) -> bool:
        """True while an execution (or a decision and the resumed run) is in flight."""
        return self._busy.is_set()

    def start(
        self, task: str, *, execution_id: str | None = None
    ) -> Future[ExecutionResult | None]:
        """Start an execution of the agent on ``task`` in the background.

        Returns:
            A future of the result (``None`` when the run failed; see :attr:`error`).
        """
        if self.busy:
            raise ConfigError("the console is already running an execution; stop it first")
        self.rows, self.events, self.pending, self.result = [], [], None, None
        self.prompt_tokens = self.completion_tokens = 0
        self.cost_usd = 0.0
        self.execution_id = execution_id or new_execution_id()
        self._set_status("running")
        self.set_error(None)
        eid = self.execution_id
        return self._submit(
            lambda: self.runtime.arun(self.spec, task, execution_id=eid, on_event=self._on_event)
        )

    def run(self, task: str, *, execution_id: str | None = None) -> ExecutionResult | None:
        """Run to a final status or an approval gate, blocking; ``None`` on failure."""
        return self.start(task, execution_id=execution_id).result()

    def decide(self, approve: bool, *, reason: str | None = None) -> Future[ExecutionResult | None]:
        """Approve or deny the pending call; the execution resumes in the background.

        Raises:
            ConfigError: No call is waiting for approval.
        """
        pending = self.pending
        if pending is None or self.busy:
            raise ConfigError("no tool call is waiting for approval in this console")
        self.pending = None
        self._set_status("running")
        return self._submit(
            lambda: self.runtime.adecide(
                pending.approval_id,
                approve=approve,
                reason=reason,
                decided_by=self.decided_by,
                on_event=self._on_event,
            )
        )

    def approve(self, *, reason: str | None = None) -> Future[ExecutionResult | None]:
        """Approve the pending call (it runs once) and resume."""
        return self.decide(True, reason=reason)

    def deny(self, *, reason: str | None = None) -> Future[ExecutionResult | None]:
        """Deny the pending call (the model sees a tool error) and resume."""
        return self.decide(False, reason=reason or "denied in the console")

    def stop(self) -> None:
        """Ask the running execution to stop at its next step."""
        if self.execution_id is not None and self.busy:
            eid = self.execution_id
            self.attempt(lambda: request_stop(eid, settings=self.settings))

    def wait(self, timeout_s: float | None = None) -> ExecutionResult | None:
        """Wait for the work in flight, if any, and return the last result."""
        if self._future is not None:
            self._future.result(timeout=timeout_s)
        return self.result

    def close(self) -> None:
        """Wait for work in flight and close the runtime this console opened."""
        self.wait()
        self._pool.shutdown(wait=True)
        if self._owns_runtime and self._runtime is not None:
            runtime = self._runtime
            self._runtime = None
            run_sync(runtime.aclose())

    # -- internals ------------------------------------------------------------------

    def _submit(
        self, make: Callable[[], Coroutine[Any, Any, ExecutionResult]]
    ) -> Future[ExecutionResult | None]:
        self._busy.set()

        def work() -> ExecutionResult | None:
            try:
                result = run_sync(make())
            except Exception as exc:
                self.set_error(exc)
                self._set_status("error")
                return None
            finally:
                self._busy.clear()
            self._finish(result)
            return result

        self._future = self._pool.submit(work)
        return self._future

    def _finish(self, result: ExecutionResult) -> None:
        with self._lock:
            self.result = result
            self.execution_id = result.execution_id
            self.prompt_tokens = result.prompt_tokens
            self.completion_tokens = result.completion_tokens
            self.cost_usd = result.cost_usd
            self.pending = None
            if result.status is ExecutionStatus.AWAITING_APPROVAL and result.pending_approval:
                self.pending = self._pending_call(result.pending_approval)
        self.changed("totals")
        self._set_status(result.status.value)

    def _pending_call(self, approval_id: str) -> PendingCall:
        approval = self.runtime.get_approval(approval_id)
        return PendingCall(approval_id, approval.tool, approval.arguments, approval.reason)

    def _on_event(self, event: StepEvent) -> None:
        with self._lock:
            self.events.append(event)
            self.rows.append(row_of(event))
            self.prompt_tokens = event.prompt_tokens
            self.completion_tokens = event.completion_tokens
            self.cost_usd = event.cost_usd
        self.changed("rows")

    def _set_status(self, status: str) -> None:
        self.status = status
        self.changed("status")


class AgentConsole(ipywidgets.VBox):  # type: ignore[misc]
    """The console view: task box, streaming steps, totals, Approve/Deny, Stop.

    Args:
        spec: The agent, or the path of its YAML spec (or pass ``model=``).
        model: An existing :class:`AgentConsoleModel` to show.
        task: Text put in the task box.
        **options: Passed to :class:`AgentConsoleModel`.

    Example:
        >>> c = AgentConsole("agents/support.yaml", task="Handle T-1042")  # doctest: +SKIP
        >>> c  # in a notebook: press Run, then Approve when asked  # doctest: +SKIP
    """

    def __init__(
        self,
        spec: AgentSpec | str | Path | None = None,
        *,
        model: AgentConsoleModel | None = None,
        task: str = "",
        **options: Any,
    ) -> None:
        if model is None:
            if spec is None:
                raise ConfigError("AgentConsole needs an agent spec or a model")
            model = AgentConsoleModel(spec, **options)
        self.model = model
        s = model.spec
        self.header = ipywidgets.HTML(
            f"<b>{html.escape(s.name)}</b> {html.escape(s.version)} · "
            f"<code>{html.escape(s.model)}</code> · tools: {html.escape(', '.join(s.tools))}"
        )
        self.task = ipywidgets.Text(value=task, placeholder="task", layout={"width": "60%"})
        self.run_button = ipywidgets.Button(description="Run", button_style="primary")
        self.stop_button = ipywidgets.Button(description="Stop", button_style="warning")
        self.approve_button = ipywidgets.Button(description="Approve", button_style="success")
        self.deny_button = ipywidgets.Button(description="Deny", button_style="danger")
        self.reason = ipywidgets.Text(placeholder="reason (optional)")
        self.pending_label = ipywidgets.HTML()
        self.approval_box = ipywidgets.VBox(
            [
                self.pending_label,
                ipywidgets.HBox([self.approve_button, self.deny_button, self.reason]),
            ]
        )
        self.approval_box.add_class("wb-approval")
        self.steps = ipywidgets.HTML()
        self.steps.add_class("wb-steps")
        self.totals = ipywidgets.HTML()
        self.totals.add_class("wb-totals")
        self.error = error_label()
        self.progress = progress_bar()
        self.run_button.on_click(lambda _b: self._run())
        self.stop_button.on_click(lambda _b: self.model.stop())
        self.approve_button.on_click(lambda _b: self._decide(True))
        self.deny_button.on_click(lambda _b: self._decide(False))
        super().__init__(
            [
                self.header,
                ipywidgets.HBox([self.task, self.run_button, self.stop_button]),
                self.progress,
                self.steps,
                self.approval_box,
                self.totals,
                self.error,
            ]
        )
        self.add_class("wb-agent-console")
        model.observe(on_kernel_thread(self.refresh))
        self.refresh()

    def _run(self) -> None:
        text = self.task.value.strip()
        if not text:
            self.model.set_error("type a task first")
            return
        self.model.attempt(lambda: self.model.start(text))

    def _decide(self, approve: bool) -> None:
        said = "approved" if approve else "denied"
        reason = self.reason.value.strip() or f"{said} in the AgentConsole"
        self.model.attempt(lambda: self.model.decide(approve, reason=reason))

    def refresh(self) -> None:
        """Render the model's current state."""
        m = self.model
        with m._lock:
            rows = list(m.rows)
            pending = m.pending
        self.steps.value = html_table(
            ["step", "event", "what", "tokens", "USD"],
            [(r.step, r.kind, r.summary, r.tokens, f"{r.cost_usd:.6f}") for r in rows],
            highlight=lambda i: rows[i].kind in ("guardrail", "policy", "approval"),
        )
        tokens = m.prompt_tokens + m.completion_tokens
        self.totals.value = (
            f"status <b class='wb-status'>{html.escape(m.status)}</b> · tokens {tokens} "
            f"({m.prompt_tokens} in, {m.completion_tokens} out) · ${m.cost_usd:.6f}"
            + (f" · <code>{html.escape(m.execution_id)}</code>" if m.execution_id else "")
        )
        if pending is not None:
            self.pending_label.value = (
                f"<b>{html.escape(pending.tool)}</b> waits for approval: "
                f"<code>{html.escape(_pretty(pending.arguments))}</code><br>"
                f"<i>{html.escape(pending.reason)}</i>"
            )
            self.approval_box.layout.display = ""
        else:
            self.approval_box.layout.display = "none"
        running = m.status == "running"
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        self.approve_button.disabled = self.deny_button.disabled = pending is None
        show_progress(self.progress, (len(rows), 0) if running else None)
        show_error(self.error, m.error)


def _pretty(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except (json.JSONDecodeError, TypeError):
        return arguments
