"""Encoding a :class:`ToolRequest` as Cedar entities and context (JSON), safely.

Arguments become ``context.arguments``, a record with one attribute per top-level
argument:

- ``str`` stays a Cedar ``String``; ``bool`` a ``Bool``; an ``int`` within Cedar's
  64-bit range a ``Long``;
- everything else (floats, integers out of range, ``None``, lists, objects, and any
  non-JSON Python value) becomes its compact JSON text (``String``). Cedar has no
  float type and no map type, and it cannot quantify over a set ("every recipient
  ..."), so flattening nested values into attributes would give policies names they
  cannot rely on; a JSON string keeps the whole value and can still be matched with
  ``like``.
- names starting with ``__`` are left out of the record (Cedar's JSON format reads
  ``__entity`` and ``__extn`` as escapes); they stay in ``context.arguments_json``,
  the whole argument object as JSON text with sorted keys.

Nothing here raises on odd values: what ``json`` cannot encode is ``repr``-ed.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.policy._types import ToolRequest

__all__ = ["encode_arguments", "entities_json", "principal_uid", "tool_uid"]

_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1


def _json_text(value: Any) -> str:
    """Compact JSON text of ``value``, whatever it is (never raises)."""
    try:
        return json.dumps(
            value,
            separators=(",", ":"),
            sort_keys=True,
            ensure_ascii=False,
            allow_nan=True,
            default=repr,
        )
    except (TypeError, ValueError, RecursionError):
        # Mixed key types cannot be sorted; circular values cannot be encoded.
        try:
            return json.dumps(repr(value), ensure_ascii=False)
        except (ValueError, RecursionError):
            return '"<unencodable>"'


def _attribute(value: Any) -> str | int | bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, int) and _LONG_MIN <= value <= _LONG_MAX:
        return value
    return _json_text(value)


def encode_arguments(arguments: dict[str, Any]) -> tuple[dict[str, str | int | bool], str]:
    """``(context.arguments, context.arguments_json)`` for a call's arguments."""
    record: dict[str, str | int | bool] = {}
    for key, value in arguments.items():
        if not isinstance(key, str) or key.startswith("__"):
            continue
        record[key] = _attribute(value)
    return record, _json_text(arguments)


def principal_uid(request: ToolRequest) -> dict[str, str]:
    """The request's principal as a Cedar entity uid (``""`` when there is none)."""
    return {"type": "Principal", "id": request.principal or ""}


def tool_uid(request: ToolRequest) -> dict[str, str]:
    """The request's tool as a Cedar entity uid."""
    return {"type": "Tool", "id": request.tool}


def entities_json(request: ToolRequest) -> str:
    """The principal and tool entities of a request, as Cedar's JSON entity list."""
    tool_attrs: dict[str, Any] = {
        "name": request.tool,
        "grant": f"tool:{request.tool}",
        "risk": request.risk,
        "egress": request.egress,
        "side_effects": request.side_effects,
        "requires_approval": request.requires_approval,
    }
    if request.tool_scope:
        tool_attrs["scope"] = request.tool_scope
    return json.dumps(
        [
            {
                "uid": principal_uid(request),
                "attrs": {
                    "authenticated": bool(request.principal),
                    "scopes": sorted(set(request.scopes)),
                },
                "parents": [],
            },
            {"uid": tool_uid(request), "attrs": tool_attrs, "parents": []},
        ]
    )
