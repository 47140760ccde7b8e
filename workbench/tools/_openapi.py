"""Turn one OpenAPI 3.0/3.1 operation into a tool's name, description and schema."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from workbench.errors import ConfigError
from workbench.tools._schema import map_schemas

__all__ = ["openapi_operation", "sanitise_name"]

_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_LOCATIONS = frozenset({"path", "query", "header"})
# Values of these keywords are data, not schemas: a "$ref" inside them is not a reference.
_DATA_KEYWORDS = frozenset({"example", "examples", "default", "enum", "const"})
# OpenAPI-only annotations with no JSON Schema meaning; dropped to keep the schema small.
_OPENAPI_ONLY = ("example", "xml", "externalDocs", "discriminator")


def sanitise_name(raw: str) -> str:
    """Make ``raw`` a valid tool name: other characters become ``_``, at most 64."""
    name = re.sub(r"[^a-zA-Z0-9_-]+", "_", raw).strip("_")[:64]
    return name or "operation"


def openapi_operation(
    document: Mapping[str, Any], *, path: str, method: str
) -> tuple[str, str, dict[str, Any]]:
    """Name, description and parameters schema of the operation at ``path`` and ``method``.

    Raises:
        ConfigError: The operation is missing or uses an unsupported feature.
    """
    verb = method.lower()
    if verb not in _METHODS:
        raise ConfigError(f"OpenAPI: unknown HTTP method {method!r}")
    item = _deref(document, (document.get("paths") or {}).get(path))
    if not isinstance(item, Mapping) or not isinstance(item.get(verb), Mapping):
        raise ConfigError(f"OpenAPI: no operation {verb.upper()} {path}")
    operation: Mapping[str, Any] = item[verb]
    name = sanitise_name(str(operation.get("operationId") or f"{verb}{path}"))
    texts = (operation.get("summary"), operation.get("description"))
    description = "\n\n".join(str(t).strip() for t in texts if t)
    legacy = str(document.get("openapi", "3.1")).startswith("3.0")

    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in _parameters(document, item, operation):
        pname, location = param.get("name"), param.get("in")
        if location not in _LOCATIONS:
            raise ConfigError(f"OpenAPI {name}: {location!r} parameters are not supported")
        if not isinstance(pname, str):
            raise ConfigError(f"OpenAPI {name}: a parameter has no name")
        schema = _schema(document, _parameter_schema(param, name), legacy=legacy, op=name)
        if param.get("description") and "description" not in schema:
            schema["description"] = param["description"]
        _add(properties, pname, schema, op=name)
        if location == "path" or param.get("required"):
            required.append(pname)

    body = _deref(document, operation.get("requestBody"))
    if isinstance(body, Mapping):
        content = body.get("content") or {}
        media = content.get("application/json")
        if not isinstance(media, Mapping):
            raise ConfigError(f"OpenAPI {name}: only application/json request bodies are supported")
        schema = _schema(document, media.get("schema") or {}, legacy=legacy, op=name)
        body_required = bool(body.get("required"))
        if isinstance(schema.get("properties"), dict) and schema.get("type", "object") == "object":
            inner_required = set(schema.get("required") or ())
            for pname, sub in schema["properties"].items():
                if isinstance(sub, Mapping) and sub.get("readOnly"):
                    continue  # the server sets it; a client never sends it
                _add(properties, pname, sub, op=name)
                if body_required and pname in inner_required:
                    required.append(pname)
        else:
            _add(properties, "body", schema, op=name)
            if body_required:
                required.append("body")

    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return name, description, parameters


def _parameters(
    document: Mapping[str, Any], item: Mapping[str, Any], operation: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """Path-item parameters overridden by operation parameters of the same name and place."""
    merged: dict[tuple[Any, Any], Mapping[str, Any]] = {}
    for raw in [*(item.get("parameters") or ()), *(operation.get("parameters") or ())]:
        param = _deref(document, raw)
        if not isinstance(param, Mapping):
            raise ConfigError("OpenAPI: a parameter is not an object")
        merged[(param.get("name"), param.get("in"))] = param
    return list(merged.values())


def _parameter_schema(param: Mapping[str, Any], op: str) -> Any:
    if "schema" in param:
        return param["schema"]
    content = param.get("content")
    if isinstance(content, Mapping) and len(content) == 1:
        media = next(iter(content.values()))
        if isinstance(media, Mapping):
            return media.get("schema") or {}
    raise ConfigError(f"OpenAPI {op}: parameter {param.get('name')!r} has no schema")


def _add(properties: dict[str, Any], name: str, schema: Any, *, op: str) -> None:
    if name in properties:
        raise ConfigError(f"OpenAPI {op}: two arguments are named {name!r}")
    properties[name] = schema


def _deref(document: Mapping[str, Any], value: Any) -> Any:
    """Follow a top-level local ``$ref`` chain (parameters, request bodies, path items)."""
    seen: set[str] = set()
    while isinstance(value, Mapping) and isinstance(value.get("$ref"), str):
        ref = value["$ref"]
        if ref in seen:
            raise ConfigError(f"OpenAPI: circular $ref {ref!r}")
        seen.add(ref)
        value = _pointer(document, ref)
    return value


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ConfigError(f"OpenAPI: only local $ref are supported, got {ref!r}")
    node: Any = document
    for token in ref[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            raise ConfigError(f"OpenAPI: $ref {ref!r} does not resolve")
        node = node[key]
    return node


def _schema(document: Mapping[str, Any], schema: Any, *, legacy: bool, op: str) -> dict[str, Any]:
    """``schema`` with every local ``$ref`` inlined and OpenAPI 3.0 idioms made JSON Schema."""
    if not isinstance(schema, Mapping):
        raise ConfigError(f"OpenAPI {op}: a schema is not an object")
    inlined = _inline(document, schema, stack=(), op=op)
    if not isinstance(inlined, dict):
        raise ConfigError(f"OpenAPI {op}: a schema is not an object")
    map_schemas(inlined, _convert_legacy if legacy else _drop_openapi_only)
    return inlined


def _inline(document: Mapping[str, Any], value: Any, *, stack: tuple[str, ...], op: str) -> Any:
    if isinstance(value, list):
        return [_inline(document, v, stack=stack, op=op) for v in value]
    if not isinstance(value, Mapping):
        return value
    ref = value.get("$ref")
    if isinstance(ref, str):
        if ref in stack:
            raise ConfigError(f"OpenAPI {op}: recursive schema {ref!r} is not supported")
        target = _inline(document, _pointer(document, ref), stack=(*stack, ref), op=op)
        siblings = {k: v for k, v in value.items() if k != "$ref"}
        if not siblings:
            return target
        merged = dict(target) if isinstance(target, dict) else {}
        merged.update(_inline(document, siblings, stack=stack, op=op))
        return merged
    return {
        k: copy.deepcopy(v) if k in _DATA_KEYWORDS else _inline(document, v, stack=stack, op=op)
        for k, v in value.items()
    }


def _drop_openapi_only(schema: dict[str, Any]) -> None:
    for key in _OPENAPI_ONLY:
        schema.pop(key, None)


def _convert_legacy(schema: dict[str, Any]) -> None:
    """OpenAPI 3.0 -> JSON Schema 2020-12: ``nullable`` and boolean exclusive bounds."""
    _drop_openapi_only(schema)
    if schema.pop("nullable", False):
        kind = schema.get("type")
        if isinstance(kind, str):
            schema["type"] = [kind, "null"]
            if "enum" in schema and None not in schema["enum"]:
                schema["enum"] = [*schema["enum"], None]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = schema.get(exclusive)
        if isinstance(flag, bool):
            del schema[exclusive]
            if flag and bound in schema:
                schema[exclusive] = schema.pop(bound)
