"""The context a tool may ask for: which execution, step and call it serves."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ToolContext"]


class ToolContext(BaseModel):
    """Where a tool call sits in an execution.

    A tool receives it when its signature has a parameter annotated ``ToolContext``
    (any name); that parameter never appears in the tool's JSON schema.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    execution_id: str
    """Id of the execution the call belongs to."""
    step: int
    """Step of the ReAct loop that made the call (0-based)."""
    call_index: int
    """Index of the call among the tool calls of that step (0-based)."""
    idempotency_key: str | None
    """``f"{execution_id}:{step}:{call_index}"`` for side-effecting tools, else ``None``.

    It is stable across resume: a side-effecting tool must use it to apply its effect
    at most once (a resumed execution may run the interrupted call again)."""
    principal: str | None = None
    """The principal the execution runs for, when the gateway knows it."""

    @classmethod
    def for_call(
        cls,
        *,
        execution_id: str,
        step: int,
        call_index: int,
        side_effects: bool,
        principal: str | None = None,
    ) -> ToolContext:
        """The context of one call; the idempotency key is set only when ``side_effects``.

        Args:
            execution_id: Id of the execution.
            step: Step of the loop.
            call_index: Index of the call within the step.
            side_effects: Whether the tool declares side effects.
            principal: The principal, if known.
        """
        key = f"{execution_id}:{step}:{call_index}" if side_effects else None
        return cls(
            execution_id=execution_id,
            step=step,
            call_index=call_index,
            idempotency_key=key,
            principal=principal,
        )
