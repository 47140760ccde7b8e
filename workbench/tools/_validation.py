"""Strict argument validation, with messages a model can act on.

Arguments are checked with ``jsonschema`` (draft 2020-12) against the tool's schema,
with no coercion: ``"3"`` is not an integer, ``1`` is not a string, ``true`` is not an
integer, and a float is never an integer, not even ``1.0`` (pydantic strict mode agrees).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from pydantic import ValidationError as PydanticValidationError

from workbench.errors import ConfigError, ToolArgumentsInvalid

__all__ = [
    "load_arguments",
    "make_validator",
    "pydantic_problems",
    "raise_invalid",
    "schema_problems",
]

_MAX_PROBLEMS = 20
_MAX_REPR = 60


def _is_integer(checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_StrictValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def make_validator(schema: Mapping[str, Any], *, tool: str) -> Validator:
    """A strict draft 2020-12 validator for ``schema``; :class:`ConfigError` if it is invalid."""
    try:
        _StrictValidator.check_schema(schema)
    except SchemaError as exc:
        raise ConfigError(f"tool {tool!r}: invalid parameters schema: {exc.message}") from exc
    validator: Validator = _StrictValidator(schema)
    return validator


def raise_invalid(tool: str, problems: Sequence[str]) -> NoReturn:
    """Raise :class:`ToolArgumentsInvalid` listing ``problems``, one a line."""
    shown = list(problems[:_MAX_PROBLEMS])
    if len(problems) > _MAX_PROBLEMS:
        shown.append(f"... and {len(problems) - _MAX_PROBLEMS} more")
    noun = "problem" if len(problems) == 1 else "problems"
    lines = "\n".join(f"- {p}" for p in shown)
    raise ToolArgumentsInvalid(
        f"invalid arguments for tool {tool!r} ({len(problems)} {noun}):\n{lines}", tool=tool
    )


def load_arguments(raw: str | Mapping[str, Any], *, tool: str) -> dict[str, Any]:
    """Parse raw arguments into a dict, rejecting anything that is not a JSON object.

    An empty (or all-whitespace) string means no arguments, ``{}``: some models send
    it for tools without parameters. Duplicate keys, ``NaN`` and ``Infinity`` are
    rejected because JSON does not define them.
    """
    if isinstance(raw, Mapping):
        return dict(raw)
    if not isinstance(raw, str):
        raise_invalid(tool, [f"$: arguments must be a JSON object, got {type(raw).__name__}"])
    if not raw.strip():
        return {}
    try:
        value = json.loads(
            raw,
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        raise_invalid(
            tool,
            [
                f"arguments are not valid JSON: {exc.msg} at line {exc.lineno} "
                f"column {exc.colno} (char {exc.pos})"
            ],
        )
    except ValueError as exc:
        raise_invalid(tool, [f"arguments are not valid JSON: {exc}"])
    if not isinstance(value, dict):
        raise_invalid(tool, [f"$: arguments must be a JSON object, got {_json_type(value)}"])
    return value


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a number")
    return value


def schema_problems(validator: Validator, arguments: Mapping[str, Any]) -> list[str]:
    """Every violation of the schema, each as ``"<json path>: <what is wrong>"``."""
    problems: list[str] = []
    for error in validator.iter_errors(arguments):
        for problem in _describe(error):
            if problem not in problems:
                problems.append(problem)
    return sorted(problems)


def pydantic_problems(exc: PydanticValidationError) -> list[str]:
    """The errors of a pydantic validation, in the same format as :func:`schema_problems`."""
    return sorted(f"{json_path(err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False))


def json_path(parts: Iterable[Any]) -> str:
    """``$.a[0].b`` for the path ``("a", 0, "b")``; odd keys are quoted (``$["a b"]``)."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            path += f".{part}"
        else:
            path += f"[{json.dumps(str(part))}]"
    return path


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _short(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _expected(kinds: object) -> str:
    if isinstance(kinds, list):
        return " or ".join(str(k) for k in kinds)
    return str(kinds)


def _describe(error: ValidationError) -> list[str]:
    path = json_path(error.absolute_path)
    instance = error.instance
    kind = error.validator
    expected: Any = error.validator_value
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if kind == "type":
        return [
            f"{path}: expected {_expected(error.validator_value)}, "
            f"got {_json_type(instance)} {_short(instance)}"
        ]
    if kind == "required" and isinstance(instance, dict):
        missing = [p for p in expected if p not in instance]
        return [f"{path}: missing required property {p!r}" for p in missing]
    if kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extras = [k for k in instance if k not in allowed]
        hint = f" (allowed: {', '.join(allowed)})" if allowed else " (no properties allowed)"
        return [f"{path}: unexpected property {k!r}{hint}" for k in extras]
    if kind == "enum":
        options = ", ".join(_short(v) for v in expected)
        return [f"{path}: {_short(instance)} is not one of {options}"]
    if kind == "const":
        return [f"{path}: expected {_short(error.validator_value)}, got {_short(instance)}"]
    if kind in ("anyOf", "oneOf") and error.context:
        return _describe_alternatives(error, path)
    message = error.message
    shown = repr(instance)
    if message.startswith(shown):  # "'<the whole value>' is too long": show it short
        message = _short(instance) + message[len(shown) :]
    message = message if len(message) <= 200 else message[:197] + "..."
    return [f"{path}: {message}"]


def _describe_alternatives(error: ValidationError, path: str) -> list[str]:
    """Explain a failed ``anyOf``/``oneOf`` by the branch whose type fits the value.

    ``Optional[Point]`` given ``{"x": "1"}`` should say ``$.p.x: expected integer``,
    not ``expected null``: branches that reject the value's type outright are noise.
    """
    branches: dict[object, list[ValidationError]] = {}
    for sub in error.context or ():
        key = sub.relative_schema_path[0] if sub.relative_schema_path else None
        branches.setdefault(key, []).append(sub)
    fitting = [
        errors
        for errors in branches.values()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    ]
    if fitting:
        problems: list[str] = []
        for sub in fitting[0]:
            problems.extend(_describe(sub))
        return problems
    kinds: list[str] = []
    for errors in branches.values():
        for sub in errors:
            if sub.validator == "type" and not sub.relative_path:
                kinds.append(_expected(sub.validator_value))
    return [f"{path}: expected {' or '.join(kinds)}, got {_json_type(error.instance)}"]
