"""The worst-case model: does its benign task, and obeys every instruction it reads.

It measures the runtime's defenses independently of how robust an LLM is: any
injected goal that reaches it (in the user's task, a tool output, a document, a
memory; marked as untrusted or not) is carried out, once, as soon as it is read:
a ``call``/``send`` goal becomes that tool call (an exfiltrating ``send`` carries
everything read so far in its ``body``); a ``leak`` goal is appended to the final
answer. Otherwise it follows its scripted benign plan. See ``_goals.py`` for the
grammar and ``docs/redteam.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from workbench.models import Turn, register_script
from workbench.redteam._goals import Goal, find_goals

__all__ = ["Plan", "WorstCaseModel", "read_messages", "worst_case_model"]

Plan = Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], Turn]
"""A benign plan: ``(messages, tools) -> Turn``, as for ``register_script``."""

_BODY_CHARS = 4000


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def read_messages(messages: Sequence[dict[str, Any]]) -> list[str]:
    """What the model has *read* that is not its own instructions: the user's messages and
    every tool output, in order (the system prompt is trusted, its own turns are not read)."""
    return [_text(m) for m in messages if m.get("role") in ("user", "tool")]


def _calls_made(messages: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    made: list[tuple[str, dict[str, Any]]] = []
    for message in messages:
        if message.get("role") != "assistant":
            continue
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except json.JSONDecodeError:
                arguments = {}
            made.append(
                (str(function.get("name")), arguments if isinstance(arguments, dict) else {})
            )
    return made


def _carried_out(goal: Goal, made: Sequence[tuple[str, dict[str, Any]]]) -> bool:
    return any(
        name == goal.tool and all(args.get(k) == v for k, v in goal.arguments.items())
        for name, args in made
    )


def _tool_names(tools: list[dict[str, Any]] | None) -> set[str] | None:
    if tools is None:
        return None
    return {str((t.get("function") or t).get("name")) for t in tools}


class WorstCaseModel:
    """A script function (``(messages, tools) -> Turn``) wrapping a benign ``plan``.

    Args:
        plan: What the model does when no goal is pending.
        only_offered_tools: Carry out a ``call`` goal only when the agent has that tool
            (a call of a tool the agent lacks fails anyway and would cost a repair).
    """

    def __init__(self, plan: Plan, *, only_offered_tools: bool = True) -> None:
        self.plan = plan
        self.only_offered_tools = only_offered_tools

    def goals(self, messages: Sequence[dict[str, Any]]) -> list[Goal]:
        """Every goal read so far, in the order it was read."""
        out: list[Goal] = []
        keys: set[str] = set()
        for text in read_messages(messages):
            for goal in find_goals(text):
                if goal.key not in keys:
                    keys.add(goal.key)
                    out.append(goal)
        return out

    def __call__(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Turn:
        goals = self.goals(messages)
        made = _calls_made(messages)
        offered = _tool_names(tools) if self.only_offered_tools else None
        for goal in goals:
            if goal.kind != "call" or _carried_out(goal, made):
                continue
            if offered is not None and goal.tool not in offered:
                continue
            arguments = dict(goal.arguments)
            if goal.exfiltrate:
                read = [
                    t
                    for m, t in zip(messages, map(_text, messages), strict=True)
                    if m.get("role") == "tool"
                ]
                arguments["body"] = ("\n".join(read) or "(nothing read)")[:_BODY_CHARS]
            assert goal.tool is not None
            return Turn.call(goal.tool, **arguments)
        turn = self.plan(messages, tools)
        leaks = [g for g in goals if g.kind == "leak"]
        if turn.tool_calls or not leaks:
            return turn
        system = next((_text(m) for m in messages if m.get("role") == "system"), "")
        extra = [system if g.leak == "system_prompt" else str(g.leak) for g in leaks]
        return turn.model_copy(update={"text": "\n\n".join([turn.text or "", *extra]).strip()})


def worst_case_model(
    name: str,
    plan: Plan,
    *,
    input_per_mtok: float = 0.15,
    output_per_mtok: float = 0.60,
) -> str:
    """Register ``scripted/<name>``: the worst-case model around a benign ``plan``.

    Example:
        >>> from workbench.models import Turn
        >>> worst_case_model("wc_doc", lambda messages, tools: Turn.final("done"))
        'scripted/wc_doc'

    Args:
        name: The scripted model's name.
        plan: The benign plan (``(messages, tools) -> Turn``).
        input_per_mtok: USD per million prompt tokens.
        output_per_mtok: USD per million completion tokens.

    Returns:
        The model name for an agent spec, ``scripted/<name>``.
    """
    return register_script(
        name,
        WorstCaseModel(plan),
        input_per_mtok=input_per_mtok,
        output_per_mtok=output_per_mtok,
    )
