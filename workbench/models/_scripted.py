"""Scripted models: deterministic ``scripted/<name>`` models for tests, demos and evals.

A script is a list of :class:`Turn` (or a function that builds one from the request).
The turn served for a request is chosen by the number of assistant messages already in
the request, never by an in-process counter, so a process that resumes a conversation
half-way gets the right next turn. Transient faults are counted per attempt in-process.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from workbench.errors import ConfigError, ScriptError
from workbench.models._prices import register_price

__all__ = [
    "Fault",
    "RateLimitFault",
    "Script",
    "ScriptedCall",
    "ScriptedModel",
    "ScriptedOutput",
    "ScriptedToolCall",
    "ServerErrorFault",
    "TimeoutFault",
    "Turn",
    "get_scripted_model",
    "register_script",
]

PREFIX = "scripted/"
_SUMMARY_CHARS = 200
KEEP_CALLS = 1000
"""Requests a scripted model keeps by default (the newest); older ones are only counted."""


class ScriptedToolCall(BaseModel):
    """A tool call a scripted turn makes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Tool name; it need not exist (to test unknown-tool handling)."""
    arguments: dict[str, Any] | None = None
    """Arguments, serialised as JSON; ``None`` means ``{}``."""
    raw_arguments: str | None = None
    """Raw argument text sent as is, overriding ``arguments`` (to emit malformed JSON)."""

    def raw(self) -> str:
        """The argument text the model emits."""
        if self.raw_arguments is not None:
            return self.raw_arguments
        return json.dumps(self.arguments or {})


class RateLimitFault(BaseModel):
    """The attempt fails with 429 and a Retry-After header."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["rate_limit"] = "rate_limit"
    """Discriminator."""
    retry_after_s: float | None = 1.0
    """Retry-After in seconds; ``None`` sends no header."""


class ServerErrorFault(BaseModel):
    """The attempt fails with a 5xx status."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["server_error"] = "server_error"
    """Discriminator."""
    status: int = Field(default=500, ge=500, le=599)
    """The HTTP status of the failure."""


class TimeoutFault(BaseModel):
    """The attempt sleeps past the caller's timeout, then raises litellm's Timeout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["timeout"] = "timeout"
    """Discriminator."""


Fault: TypeAlias = Annotated[
    RateLimitFault | ServerErrorFault | TimeoutFault, Field(discriminator="kind")
]


class Turn(BaseModel):
    """One scripted assistant turn: text and/or tool calls, usage, latency and faults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str | None = None
    """Assistant text."""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    """Tool calls, in order."""
    prompt_tokens: int | None = Field(default=None, ge=0)
    """Prompt tokens reported; default: estimated from the request (chars / 4, min 1)."""
    completion_tokens: int | None = Field(default=None, ge=0)
    """Completion tokens reported; default: estimated from the output (chars / 4, min 1)."""
    latency_s: float = Field(default=0.0, ge=0)
    """Simulated latency of a successful attempt (an ``asyncio.sleep``)."""
    faults: list[Fault] = Field(default_factory=list)
    """Transient faults: the first ``len(faults)`` attempts of this turn fail with them,
    in order, then the turn succeeds."""
    truncated: bool = False
    """Finish with ``"length"`` and cut the text and tool arguments in half."""

    @classmethod
    def final(cls, text: str, **options: Any) -> Turn:
        """A final answer."""
        return cls(text=text, **options)

    @classmethod
    def call(cls, name: str, /, **arguments: Any) -> Turn:
        """One call of tool ``name`` with ``arguments``."""
        return cls(tool_calls=[ScriptedToolCall(name=name, arguments=arguments)])

    @classmethod
    def malformed(cls, name: str, raw: str = "{bad json") -> Turn:
        """One call of ``name`` whose argument text is ``raw`` (malformed JSON by default)."""
        return cls(tool_calls=[ScriptedToolCall(name=name, raw_arguments=raw)])

    @classmethod
    def unknown_tool(cls, name: str = "no_such_tool") -> Turn:
        """One call of a tool the agent does not have."""
        return cls(tool_calls=[ScriptedToolCall(name=name, arguments={})])


Script: TypeAlias = (
    Sequence[Turn] | Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], Turn]
)


class ScriptedCall(BaseModel):
    """One request a scripted model received (every attempt, faulted or not)."""

    model_config = ConfigDict(frozen=True)

    turn_index: int
    """Assistant messages already in the request: the turn it asked for."""
    messages: list[dict[str, Any]]
    """The request's messages."""
    tools: list[dict[str, Any]] | None
    """The request's tools."""
    outcome: str
    """``"ok"``, the fault kind (``"rate_limit"``, ...) or ``"script_error"``."""


@dataclass(frozen=True, slots=True)
class ScriptedOutput:
    """A successful scripted attempt, ready for the provider to wrap."""

    turn_index: int
    text: str | None
    tool_calls: list[tuple[str, str, str]]  # (id, name, raw arguments)
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float


class ScriptedModel:
    """A registered scripted model: its script, the requests it got, and its fault state.

    Thread-safe: sync callers on several threads may share it. It keeps the newest
    ``keep_calls`` requests (:attr:`calls`) and counts all of them (:attr:`call_count`),
    so a long eval run does not hold every conversation in memory.
    """

    def __init__(self, name: str, script: Script, *, keep_calls: int = KEEP_CALLS) -> None:
        if keep_calls < 0:
            raise ConfigError(f"keep_calls must be >= 0, got {keep_calls}")
        self.name = PREFIX + name
        """The full model name, ``scripted/<name>``."""
        self._calls: deque[ScriptedCall] = deque(maxlen=keep_calls)
        self._call_count = 0
        self._turns: tuple[Turn, ...] | None
        self._function: Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], Turn] | None
        if callable(script):
            self._turns, self._function = None, script
        else:
            turns = tuple(script)
            for position, turn in enumerate(turns):
                if not isinstance(turn, Turn):
                    raise ConfigError(
                        f"{self.name}: script item {position} is {type(turn).__name__}, not a Turn"
                    )
            self._turns, self._function = turns, None
        self._lock = threading.Lock()
        self._attempts: dict[tuple[str, int], int] = {}
        self._served: set[int] = set()

    @property
    def calls(self) -> list[ScriptedCall]:
        """The requests received, in arrival order: the newest ``keep_calls`` of them."""
        with self._lock:
            return list(self._calls)

    @property
    def call_count(self) -> int:
        """Requests received since registration, including those no longer kept."""
        return self._call_count

    def respond(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> ScriptedOutput | RateLimitFault | ServerErrorFault | TimeoutFault:
        """Plan one attempt: the turn's output, or the fault this attempt fails with.

        Raises:
            ScriptError: The script has no turn for this request.
        """
        index = sum(1 for message in messages if message.get("role") == "assistant")
        try:
            turn = self._turn(index, messages, tools)
        except ScriptError:
            self._record(index, messages, tools, "script_error")
            raise
        if turn.faults:
            key = (_conversation_key(messages), index)
            with self._lock:
                attempt = self._attempts.get(key, 0)
                self._attempts[key] = attempt + 1
            if attempt < len(turn.faults):
                fault = turn.faults[attempt]
                self._record(index, messages, tools, fault.kind)
                return fault
        self._record(index, messages, tools, "ok")
        with self._lock:
            self._served.add(index)
        return _render(turn, index, messages, tools)

    def assert_consumed(self) -> None:
        """Raise :class:`ScriptError` listing the turns of a list script never served."""
        if self._turns is None:
            return
        with self._lock:
            unused = [i for i in range(len(self._turns)) if i not in self._served]
        if unused:
            raise ScriptError(
                f"{self.name} left {len(unused)} of {len(self._turns)} turns unused: "
                f"turn indexes {unused}"
            )

    def _turn(
        self, index: int, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> Turn:
        if self._function is not None:
            turn = self._function(messages, tools)
            if not isinstance(turn, Turn):
                raise ScriptError(
                    f"{self.name}: the script function returned {type(turn).__name__}, not a Turn"
                )
            return turn
        assert self._turns is not None
        if index >= len(self._turns):
            raise ScriptError(
                f"{self.name} has no turn {index}; the script has {len(self._turns)} turns; "
                f"last message: {_summarise(messages[-1]) if messages else '(none)'}"
            )
        return self._turns[index]

    def _record(
        self,
        index: int,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        outcome: str,
    ) -> None:
        call = ScriptedCall.model_construct(
            turn_index=index, messages=list(messages), tools=tools, outcome=outcome
        )
        with self._lock:
            self._calls.append(call)
            self._call_count += 1


_MODELS: dict[str, ScriptedModel] = {}


def register_script(
    name: str,
    script: Script,
    *,
    input_per_mtok: float = 0.15,
    output_per_mtok: float = 0.60,
    keep_calls: int = KEEP_CALLS,
) -> str:
    """Register ``scripted/<name>`` (replacing any model of that name) and its price.

    Args:
        name: The name after ``scripted/``.
        script: A list of turns (turn K answers a request holding K assistant messages)
            or a function ``(messages, tools) -> Turn``.
        input_per_mtok: USD per million prompt tokens.
        output_per_mtok: USD per million completion tokens.
        keep_calls: How many of the newest requests :attr:`ScriptedModel.calls` keeps
            (all are counted in :attr:`ScriptedModel.call_count`).

    Returns:
        The model name to pass to :func:`acomplete`, ``"scripted/<name>"``.

    Raises:
        ConfigError: The name is empty or has whitespace or a slash, an item is not a Turn,
            or ``keep_calls`` is negative.
    """
    name = name.removeprefix(PREFIX)
    if not name or any(ch.isspace() or ch == "/" for ch in name):
        raise ConfigError(f"scripted model name must be non-empty without spaces or '/': {name!r}")
    model = ScriptedModel(name, script, keep_calls=keep_calls)
    register_price(model.name, input_per_mtok=input_per_mtok, output_per_mtok=output_per_mtok)
    _MODELS[name] = model
    return model.name


def get_scripted_model(name: str) -> ScriptedModel:
    """The registered scripted model ``name`` (with or without the ``scripted/`` prefix).

    Raises:
        ConfigError: No scripted model of that name is registered in this process.
    """
    model = _MODELS.get(name.removeprefix(PREFIX))
    if model is None:
        raise ConfigError(f"no scripted model {name!r} is registered; call register_script first")
    return model


def lookup(name: str) -> ScriptedModel:
    """Like :func:`get_scripted_model` but raising ScriptError, for the request path."""
    model = _MODELS.get(name.removeprefix(PREFIX))
    if model is None:
        raise ScriptError(
            f"{PREFIX}{name.removeprefix(PREFIX)} is not registered in this process; "
            "call register_script first"
        )
    return model


def _render(
    turn: Turn, index: int, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> ScriptedOutput:
    text = turn.text
    calls = [(f"call_{index}_{j}", call.name, call.raw()) for j, call in enumerate(turn.tool_calls)]
    if turn.truncated:
        text = _cut(text)
        calls = [(call_id, name, _cut(raw) or "") for call_id, name, raw in calls]
        finish = "length"
    else:
        finish = "tool_calls" if calls else "stop"
    prompt_tokens = turn.prompt_tokens
    if prompt_tokens is None:
        prompt_tokens = _estimate(_request_chars(messages, tools))
    completion_tokens = turn.completion_tokens
    if completion_tokens is None:
        chars = len(text or "") + sum(len(name) + len(raw) for _, name, raw in calls)
        completion_tokens = _estimate(chars)
    return ScriptedOutput(
        turn_index=index,
        text=text,
        tool_calls=calls,
        finish_reason=finish,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_s=turn.latency_s,
    )


def _cut(text: str | None) -> str | None:
    if not text:
        return text
    return text[: max(1, len(text) // 2)]


def _estimate(chars: int) -> int:
    return max(1, chars // 4)


def _request_chars(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    chars = len(json.dumps(tools)) if tools else 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif content is not None:
            chars += len(json.dumps(content, default=str))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            chars += len(str(function.get("name", ""))) + len(str(function.get("arguments", "")))
    return chars


def _conversation_key(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        if message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content, default=str)
            return hashlib.sha256(text.encode()).hexdigest()
    return ""


def _summarise(message: dict[str, Any]) -> str:
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    if message.get("tool_calls"):
        names = [str((c.get("function") or {}).get("name")) for c in message["tool_calls"]]
        text = f"{text} tool_calls={names}"
    if len(text) > _SUMMARY_CHARS:
        text = text[:_SUMMARY_CHARS] + "..."
    return f"{message.get('role', '?')}: {text}"
