"""A scripted model that calls every tool it is given once, with schema-valid arguments.

Use it to smoke-test an agent's tools end to end through the real loop: each tool's
schema, validation, permissions and error handling are exercised without writing a
script by hand (the idea of pydantic-ai's ``TestModel``).
"""

from __future__ import annotations

from typing import Any

from workbench.models import ScriptedToolCall, Turn, register_script

__all__ = ["example_arguments", "register_tool_caller"]


def example_arguments(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A small value that satisfies ``schema`` (a JSON Schema subset: the one tools use)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return example_arguments(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example_arguments(options[0], defs)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        required = set(schema.get("required", []))
        return {
            name: example_arguments(sub, defs)
            for name, sub in schema.get("properties", {}).items()
            if name in required
        }
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example_arguments(schema.get("items", {}), defs) for _ in range(count)]
    if kind == "string":
        return "a" * max(1, int(schema.get("minLength", 1)))
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    return None


def _next_turn(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Turn:
    called = sum(1 for m in messages if m.get("role") == "tool")
    functions = [t["function"] for t in tools or []]
    if called < len(functions):
        fn = functions[called]
        return Turn(
            tool_calls=[
                ScriptedToolCall(
                    name=fn["name"], arguments=example_arguments(fn.get("parameters", {}))
                )
            ]
        )
    results = [str(m.get("content", "")) for m in messages if m.get("role") == "tool"]
    return Turn.final(f"called {len(functions)} tools: " + " | ".join(results))


def register_tool_caller(name: str = "tool-caller") -> str:
    """Register the model as ``scripted/<name>`` and return that model name."""
    return register_script(name, _next_turn)
