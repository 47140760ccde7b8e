"""The result of one model call, in the shape every caller of :func:`acomplete` sees."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ModelReply", "ToolCallRequest"]


class ToolCallRequest(BaseModel):
    """One tool call the model asked for, exactly as the model produced it."""

    model_config = ConfigDict(frozen=True)

    id: str
    """The provider's tool call id; tool results answer it by this id."""
    name: str
    """Name of the tool the model called (it may not exist: the runtime checks)."""
    arguments: str
    """Raw JSON text of the arguments as the model produced it; it may be malformed."""


class ModelReply(BaseModel):
    """What one model call returned, with its usage and USD cost."""

    model_config = ConfigDict(frozen=True)

    text: str | None
    """The assistant's text, or ``None`` when it only called tools."""
    tool_calls: list[ToolCallRequest] = Field(default_factory=list)
    """Tool calls in the order the model made them."""
    finish_reason: str
    """``"stop"``, ``"tool_calls"``, ``"length"`` (truncated) or the provider's own value."""
    prompt_tokens: int
    """Input tokens the provider counted."""
    completion_tokens: int
    """Output tokens the provider counted."""
    cost_usd: float
    """USD cost of the call: tokens times the model's registered or catalogue price."""
    model: str
    """The model name as requested, e.g. ``"scripted/analyst"``."""
    latency_s: float
    """Wall-clock seconds of the call (0 for a cassette replay)."""

    def to_message(self) -> dict[str, Any]:
        """The reply as an OpenAI-format assistant message, ready to append to a conversation.

        Returns:
            ``{"role": "assistant", "content": ..., "tool_calls": [...]}``; the
            ``tool_calls`` key is left out when there are none, as providers reject
            an empty list.
        """
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self.tool_calls
            ]
        return message
