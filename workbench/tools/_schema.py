"""JSON schemas of tools: derived from signatures, and made strict.

A tool's schema is never written by hand: for a Python function it comes from the
signature and the Google docstring through a pydantic model, which is also what builds
the Python values of a call. Every schema, derived or given, is made strict: each
object level says ``additionalProperties: false`` unless it declares its own
``additionalProperties`` (``dict[str, X]`` parameters do).
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo
from pydantic.json_schema import PydanticJsonSchemaWarning

from workbench.errors import ConfigError
from workbench.tools._context import ToolContext
from workbench.tools._docstring import parse_docstring

__all__ = [
    "NAME_PATTERN",
    "FunctionSchema",
    "check_name",
    "context_parameter",
    "function_schema",
    "map_schemas",
    "strict_schema",
]

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""Tool names that every provider accepts (OpenAI's limit)."""

# Keywords whose value is a schema, a list of schemas, or a name -> schema mapping.
_SCHEMA_ONE = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
)
_SCHEMA_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAP = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid tool name, else raise :class:`ConfigError`."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ConfigError(f"tool name {name!r} must match {NAME_PATTERN.pattern}")
    return name


def map_schemas(schema: Any, fn: Callable[[dict[str, Any]], None]) -> None:
    """Call ``fn`` on ``schema`` and on every subschema, in place."""
    if not isinstance(schema, dict):
        return
    fn(schema)
    for key in _SCHEMA_ONE:
        value = schema.get(key)
        if isinstance(value, list):  # draft-4 style tuple "items"
            for item in value:
                map_schemas(item, fn)
        else:
            map_schemas(value, fn)
    for key in _SCHEMA_LIST:
        for item in schema.get(key) or ():
            map_schemas(item, fn)
    for key in _SCHEMA_MAP:
        value = schema.get(key)
        if isinstance(value, dict):
            for item in value.values():
                map_schemas(item, fn)


def _is_object(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return (
        kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in schema
    )


def _close_object(schema: dict[str, Any]) -> None:
    open_keys = ("additionalProperties", "patternProperties", "unevaluatedProperties")
    if _is_object(schema) and not any(key in schema for key in open_keys):
        schema["additionalProperties"] = False


def _drop_title(schema: dict[str, Any]) -> None:
    schema.pop("title", None)


def strict_schema(parameters: Mapping[str, Any], *, tool: str) -> dict[str, Any]:
    """A deep copy of ``parameters`` with ``additionalProperties: false`` where absent.

    Args:
        parameters: A JSON schema of ``type: object``.
        tool: The tool name, for error messages.

    Raises:
        ConfigError: The schema is not an object schema.
    """
    if not isinstance(parameters, Mapping) or parameters.get("type") != "object":
        raise ConfigError(f"tool {tool!r}: parameters must be a JSON schema with type 'object'")
    schema = copy.deepcopy(dict(parameters))
    schema.setdefault("properties", {})
    map_schemas(schema, _close_object)
    return schema


def context_parameter(fn: Callable[..., Any], *, tool: str) -> str | None:
    """The name of ``fn``'s parameter annotated :class:`ToolContext`, if any."""
    found: list[str] = []
    hints = _type_hints(fn, tool=tool, strict=False)
    for name, param in _signature(fn, tool=tool).parameters.items():
        hint = hints.get(name, param.annotation)
        if hint is ToolContext or hint == "ToolContext":
            found.append(name)
    if len(found) > 1:
        raise ConfigError(f"tool {tool!r}: more than one ToolContext parameter: {found}")
    return found[0] if found else None


@dataclass(frozen=True)
class FunctionSchema:
    """What a Python function contributes to its tool."""

    description: str
    """First paragraph of the docstring."""
    parameters: dict[str, Any]
    """The strict JSON schema of the arguments."""
    model: type[BaseModel]
    """Validates (strictly) and builds the Python values; fields are aliased to names."""


def function_schema(fn: Callable[..., Any], *, tool: str) -> FunctionSchema:
    """Derive the schema of ``fn``'s arguments from its signature and docstring.

    Args:
        fn: The tool function.
        tool: The tool name, for error messages.

    Raises:
        ConfigError: A parameter is unannotated, variadic or positional-only, the
            docstring documents a parameter that does not exist, or pydantic cannot
            build a JSON schema for a type or a default.
    """
    signature = _signature(fn, tool=tool)
    hints = _type_hints(fn, tool=tool, strict=True)
    doc = parse_docstring(fn.__doc__)
    context = context_parameter(fn, tool=tool)
    unknown = sorted(set(doc.params) - set(signature.parameters))
    if unknown:
        raise ConfigError(f"tool {tool!r}: docstring documents unknown parameters {unknown}")
    fields: dict[str, Any] = {}
    for index, (name, param) in enumerate(signature.parameters.items()):
        if name == context:
            continue
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise ConfigError(
                f"tool {tool!r}: parameter {name!r} must be a plain or keyword-only parameter"
            )
        if name not in hints:
            raise ConfigError(f"tool {tool!r}: parameter {name!r} needs a type annotation")
        hint = hints[name]
        default = ... if param.default is param.empty else param.default
        description = None if _has_description(hint) else doc.params.get(name)
        # Internal field names avoid clashes with BaseModel attributes (json, schema, ...).
        info = (
            Field(default, alias=name, description=description)
            if description
            else Field(default, alias=name)  # keeps a description from Annotated[..., Field]
        )
        fields[f"p{index}"] = (hint, info)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PydanticJsonSchemaWarning)
            model: type[BaseModel] = create_model(
                "Arguments",
                __config__=ConfigDict(extra="forbid", strict=True),
                **fields,
            )
            schema = model.model_json_schema(by_alias=True)
    except Exception as exc:  # pydantic raises several unrelated types for bad annotations
        raise ConfigError(f"tool {tool!r}: cannot derive a JSON schema: {exc}") from exc
    map_schemas(schema, _drop_title)
    return FunctionSchema(
        description=doc.description,
        parameters=strict_schema(schema, tool=tool),
        model=model,
    )


def _has_description(hint: Any) -> bool:
    if typing.get_origin(hint) is not Annotated:
        return False
    return any(isinstance(m, FieldInfo) and m.description for m in hint.__metadata__)


def _signature(fn: Callable[..., Any], *, tool: str) -> inspect.Signature:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"tool {tool!r}: cannot read the signature of {fn!r}") from exc


def _type_hints(fn: Callable[..., Any], *, tool: str, strict: bool) -> dict[str, Any]:
    target: Any = fn.func if isinstance(fn, functools.partial) else fn
    if not (inspect.isfunction(target) or inspect.ismethod(target)) and callable(target):
        target = type(target).__call__  # a callable object: read its __call__
    # Only the parameters matter: an unresolvable return annotation must not fail the tool.
    annotations = dict(getattr(target, "__annotations__", None) or {})
    annotations.pop("return", None)
    shim = types.SimpleNamespace(
        __annotations__=annotations, __globals__=getattr(target, "__globals__", {})
    )
    try:
        hints = typing.get_type_hints(shim, include_extras=True)
    except Exception as exc:  # NameError, TypeError, ... from evaluating string annotations
        if strict:
            raise ConfigError(f"tool {tool!r}: cannot resolve type annotations: {exc}") from exc
        return {}
    return hints
