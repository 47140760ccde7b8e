"""Cassettes: record real model calls to a JSON file and replay them offline.

A cassette is one JSON object keyed by :func:`request_key`; each entry holds a short
summary of the request and the recorded reply. The active cassette lives in a
contextvar (so concurrent tasks may use different ones), or process-wide in
``$WORKBENCH_CASSETTE`` (mode from ``$WORKBENCH_CASSETTE_MODE``, default ``replay``).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, get_args

from workbench.errors import CassetteMissError, ConfigError
from workbench.models._prices import cost_usd
from workbench.models._types import ModelReply, ToolCallRequest

__all__ = ["Cassette", "CassetteMode", "active_cassette", "request_key", "use_cassette"]

CassetteMode = Literal["replay", "record", "auto"]

# Parameters that do not change what the model answers.
_VOLATILE_PARAMS = frozenset(
    {"timeout", "timeout_s", "num_retries", "max_retries", "api_key", "api_base", "metadata"}
)
_SUMMARY_CHARS = 200


class Cassette:
    """A JSON file of recorded model replies, keyed by request.

    Modes: ``replay`` serves recorded replies and raises :class:`CassetteMissError` on
    a request it does not hold; ``record`` always calls the model and stores the
    reply; ``auto`` replays when it can and records otherwise. Thread-safe.
    """

    def __init__(self, path: Path | str, *, mode: CassetteMode = "replay") -> None:
        """Open the cassette at ``path``.

        Raises:
            ConfigError: Unknown mode; in replay mode, the file does not exist; or the
                file is not a cassette.
        """
        if mode not in get_args(CassetteMode):
            raise ConfigError(f"cassette mode must be one of {get_args(CassetteMode)}: {mode!r}")
        self.path = Path(path)
        """The JSON file."""
        self.mode: CassetteMode = mode
        """``replay``, ``record`` or ``auto``."""
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cassette {self.path} is not readable JSON: {exc}") from exc
            if not isinstance(loaded, dict):
                raise ConfigError(f"cassette {self.path} is not a JSON object of entries")
            self._entries = loaded
        elif mode == "replay":
            raise ConfigError(
                f"cassette {self.path} does not exist; record it first with mode='record'"
            )

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        """The request keys recorded, sorted."""
        with self._lock:
            return sorted(self._entries)

    def get(self, key: str) -> ModelReply | None:
        """The recorded reply for ``key`` (latency 0, cost from the recorded tokens), if any."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        response = entry["response"]
        model = str(response["model"])
        prompt_tokens = int(response["prompt_tokens"])
        completion_tokens = int(response["completion_tokens"])
        try:
            cost = cost_usd(model, prompt_tokens, completion_tokens)
        except ConfigError:
            # The replaying process may not know this model's price (an unregistered
            # script); the cost recorded with the same tokens is the right figure.
            cost = float(response["cost_usd"])
        return ModelReply(
            text=response["text"],
            tool_calls=[ToolCallRequest(**call) for call in response["tool_calls"]],
            finish_reason=response["finish_reason"],
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            model=model,
            latency_s=0.0,
        )

    def put(self, key: str, request: dict[str, Any], reply: ModelReply) -> None:
        """Store ``reply`` under ``key`` and rewrite the file atomically."""
        entry = {"request": request, "response": reply.model_dump(exclude={"latency_s"})}
        with self._lock:
            self._entries[key] = entry
            text = json.dumps(self._entries, indent=2, sort_keys=True, ensure_ascii=False)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, self.path)

    def miss(self, key: str, summary: str) -> CassetteMissError:
        """The error for a request this cassette does not hold."""
        return CassetteMissError(
            f"cassette {self.path} has no entry for {summary} (key {key[:12]}); "
            "re-record it with mode='record' or mode='auto'",
            key=key,
            request_summary=summary,
        )


def request_key(
    model: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    params: dict[str, Any] | None = None,
) -> str:
    """The cassette key of a request: sha256 of its normalised form.

    Normalisation sorts dict keys, strips whitespace around strings, drops ``None``
    values, replaces tool-call ids by their position in the conversation, re-serialises
    valid JSON tool arguments with sorted keys, and drops volatile parameters
    (timeout, retries, credentials).

    Args:
        model: The model name as requested.
        messages: OpenAI-format messages.
        tools: OpenAI-format tool definitions, or ``None``.
        params: Sampling parameters such as ``max_tokens`` and ``temperature``.

    Returns:
        64 hex digits.
    """
    ids: dict[str, str] = {}
    normal = {
        "model": model.strip(),
        "messages": [_normalise_message(message, ids) for message in messages],
        "tools": _strip(tools) if tools else None,
        "params": {
            k: _strip(v)
            for k, v in (params or {}).items()
            if v is not None and k not in _VOLATILE_PARAMS
        },
    }
    blob = json.dumps(normal, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def request_summary(model: str, messages: list[dict[str, Any]]) -> str:
    """``model=..., last message=...``: how a request is named in errors and cassettes."""
    if not messages:
        return f"model={model}, last message=(none)"
    last = messages[-1]
    content = last.get("content")
    text = content if isinstance(content, str) else json.dumps(content, default=str)
    if len(text) > _SUMMARY_CHARS:
        text = text[:_SUMMARY_CHARS] + "..."
    return f"model={model}, last message={last.get('role', '?')}: {text}"


_active: contextvars.ContextVar[Cassette | None] = contextvars.ContextVar(
    "workbench_cassette", default=None
)
_env_cassettes: dict[tuple[str, str], Cassette] = {}
_env_lock = threading.Lock()


@contextlib.contextmanager
def use_cassette(path: Path | str, *, mode: CassetteMode = "replay") -> Iterator[Cassette]:
    """Make a cassette active for every :func:`acomplete` in this context.

    Args:
        path: The cassette's JSON file.
        mode: ``replay`` (default), ``record`` or ``auto``.

    Yields:
        The open :class:`Cassette`.
    """
    cassette = Cassette(path, mode=mode)
    token = _active.set(cassette)
    try:
        yield cassette
    finally:
        _active.reset(token)


def active_cassette() -> Cassette | None:
    """The cassette of this context, else the one named by ``$WORKBENCH_CASSETTE``, else None."""
    cassette = _active.get()
    if cassette is not None:
        return cassette
    path = os.environ.get("WORKBENCH_CASSETTE")
    if not path:
        return None
    mode = os.environ.get("WORKBENCH_CASSETTE_MODE", "replay")
    key = (str(Path(path).resolve()), mode)
    with _env_lock:
        cassette = _env_cassettes.get(key)
        if cassette is None:
            cassette = Cassette(path, mode=mode)  # type: ignore[arg-type]  # Cassette validates
            _env_cassettes[key] = cassette
    return cassette


def _normalise_message(message: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in message.items():
        if value is None:
            continue
        if key == "tool_calls":
            out[key] = [_normalise_tool_call(call, ids) for call in value]
        elif key == "tool_call_id":
            out[key] = _position(str(value), ids)
        else:
            out[key] = _strip(value)
    return out


def _normalise_tool_call(call: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    out = {k: _strip(v) for k, v in call.items() if v is not None and k != "id"}
    if call.get("id") is not None:
        out["id"] = _position(str(call["id"]), ids)
    function = out.get("function")
    if isinstance(function, dict) and isinstance(function.get("arguments"), str):
        try:
            parsed = json.loads(function["arguments"])
        except ValueError:
            pass
        else:
            function["arguments"] = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    return out


def _position(call_id: str, ids: dict[str, str]) -> str:
    if call_id not in ids:
        ids[call_id] = f"call#{len(ids)}"
    return ids[call_id]


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return {str(k): _strip(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_strip(v) for v in value]
    return value
