"""The :class:`Tool`: a named function with a strict JSON schema, and the ``@tool`` decorator."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal, overload

from jsonschema.protocols import Validator
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

from workbench.errors import ConfigError, ToolError, ToolExecutionError, ToolTimeout
from workbench.tools._context import ToolContext
from workbench.tools._openapi import openapi_operation
from workbench.tools._schema import (
    check_name,
    context_parameter,
    function_schema,
    strict_schema,
)
from workbench.tools._validation import (
    load_arguments,
    make_validator,
    pydantic_problems,
    raise_invalid,
    schema_problems,
)

__all__ = ["Tool", "tool"]

Risk = Literal["low", "high"]


class Tool:
    """A function the model can call, with a strict JSON schema of its arguments.

    Immutable. Build one with :func:`tool`, :meth:`from_function_definition` or
    :meth:`from_openapi_operation`; call it through :meth:`parse_arguments` then
    :meth:`ainvoke`. ``fn`` stays reachable for direct calls in tests.
    """

    __slots__ = (
        "_context_param",
        "_model",
        "_parameters",
        "_validator",
        "description",
        "egress",
        "fn",
        "name",
        "requires_approval",
        "risk",
        "scope",
        "side_effects",
        "timeout_s",
    )

    name: str
    description: str
    fn: Callable[..., Any]
    _parameters: dict[str, Any]
    _validator: Validator
    _model: type[BaseModel] | None
    _context_param: str | None
    side_effects: bool
    timeout_s: float | None
    scope: str | None
    requires_approval: bool
    risk: Risk
    egress: bool

    def __init__(
        self,
        *,
        name: str,
        description: str,
        parameters: Mapping[str, Any],
        fn: Callable[..., Any],
        side_effects: bool = False,
        timeout_s: float | None = None,
        scope: str | None = None,
        requires_approval: bool = False,
        arguments_model: type[BaseModel] | None = None,
        risk: Risk = "low",
        egress: bool = False,
    ) -> None:
        """Build a tool from a ready schema.

        Args:
            name: Unique name, matching ``^[a-zA-Z0-9_-]{1,64}$``.
            description: What the tool does, for the model.
            parameters: JSON schema (``type: object``) of the arguments; made strict
                (``additionalProperties: false`` wherever an object level lacks it).
            fn: The function; sync or async. It receives the arguments as keywords,
                plus the :class:`ToolContext` if a parameter is annotated with it.
            side_effects: Whether calling the tool changes the world.
            timeout_s: Per-tool timeout; ``None`` uses the caller's default.
            scope: Permission scope the tool needs.
            requires_approval: Whether a human must approve each call.
            arguments_model: Strict pydantic model that builds the Python values
                (set by :func:`tool`; its fields are aliased to the argument names).
            risk: ``"high"`` for tools that can do real harm (send mail, HTTP POST,
                write files, run code); policies ask a person before untrusted data
                reaches one.
            egress: Whether the tool sends data off the machine.

        Raises:
            ConfigError: Bad name, schema, timeout, or a schema property the function
                cannot receive.
        """
        check_name(name)
        if timeout_s is not None and not (isinstance(timeout_s, (int, float)) and timeout_s > 0):
            raise ConfigError(f"tool {name!r}: timeout_s must be a positive number or None")
        if not callable(fn):
            raise ConfigError(f"tool {name!r}: fn must be callable")
        if risk not in ("low", "high"):
            raise ConfigError(f"tool {name!r}: risk must be 'low' or 'high', got {risk!r}")
        schema = strict_schema(parameters, tool=name)
        context = context_parameter(fn, tool=name)
        if arguments_model is None:
            _check_accepts(fn, schema, context, tool=name)
        sets = object.__setattr__
        sets(self, "name", name)
        sets(self, "description", description)
        sets(self, "fn", fn)
        sets(self, "side_effects", side_effects)
        sets(self, "timeout_s", None if timeout_s is None else float(timeout_s))
        sets(self, "scope", scope)
        sets(self, "requires_approval", requires_approval)
        sets(self, "risk", risk)
        sets(self, "egress", bool(egress))
        sets(self, "_parameters", schema)
        sets(self, "_validator", make_validator(schema, tool=name))
        sets(self, "_model", arguments_model)
        sets(self, "_context_param", context)

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError(f"Tool is immutable: cannot set {key!r}")

    def __delattr__(self, key: str) -> None:
        raise AttributeError(f"Tool is immutable: cannot delete {key!r}")

    def __repr__(self) -> str:
        return (
            f"Tool(name={self.name!r}, side_effects={self.side_effects}, "
            f"scope={self.scope!r}, requires_approval={self.requires_approval})"
        )

    @property
    def parameters(self) -> dict[str, Any]:
        """The strict JSON schema of the arguments (a copy: the tool cannot be mutated)."""
        return copy.deepcopy(self._parameters)

    def definition(self) -> dict[str, Any]:
        """The OpenAI function-calling definition of the tool."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def parse_arguments(self, raw: str | Mapping[str, Any]) -> dict[str, Any]:
        """Parse and strictly validate the arguments of a call.

        Args:
            raw: The JSON text the model produced, or an already parsed mapping.

        Returns:
            The arguments as a JSON-able dict (defaults are not filled in).

        Raises:
            ToolArgumentsInvalid: Malformed JSON (with line and column), not an
                object, or schema violations; the message lists every violation
                with its JSON path.
        """
        arguments = load_arguments(raw, tool=self.name)
        problems = schema_problems(self._validator, arguments)
        if problems:
            raise_invalid(self.name, problems)
        if self._model is not None:
            self._build(arguments)
        return arguments

    def _build(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validated keyword arguments for ``fn`` (Python values when there is a model)."""
        if self._model is None:
            return dict(arguments)
        try:
            # JSON mode: strict, yet a string is accepted for an Enum, a datetime, ...
            built = self._model.model_validate_json(json.dumps(arguments), strict=True)
        except PydanticValidationError as exc:
            raise_invalid(self.name, pydantic_problems(exc))
        except (TypeError, ValueError) as exc:
            raise_invalid(self.name, [f"$: arguments are not JSON-able: {exc}"])
        return {
            field.alias or key: getattr(built, key)
            for key, field in type(built).model_fields.items()
        }

    async def ainvoke(
        self, arguments: Mapping[str, Any], ctx: ToolContext, *, timeout_s: float
    ) -> Any:
        """Run the tool on validated arguments.

        An async function is awaited; a sync one runs in a worker thread (which
        cannot be stopped: on timeout it finishes in the background and its result
        is dropped).

        Args:
            arguments: Arguments, as returned by :meth:`parse_arguments`; they are
                validated again, so a caller that skipped parsing is still safe.
            ctx: The call's context, passed to a ``ToolContext`` parameter if any.
            timeout_s: Timeout used when the tool declares none.

        Returns:
            The function's result, made JSON-able (pydantic models, dataclasses,
            dates, ... are converted by ``pydantic_core.to_jsonable_python``).

        Raises:
            ToolArgumentsInvalid: The arguments fail validation.
            ToolTimeout: The timeout elapsed.
            ToolExecutionError: The function raised (``"ExcType: message"``, with the
                original as ``__cause__``) or returned something not JSON-able.
            ToolError: Raised by the function itself; passed through unchanged.
        """
        problems = schema_problems(self._validator, arguments)
        if problems:
            raise_invalid(self.name, problems)
        kwargs = self._build(arguments)
        if self._context_param is not None:
            kwargs[self._context_param] = ctx
        limit = self.timeout_s or timeout_s
        try:
            async with asyncio.timeout(limit):
                try:
                    result = await self._call(kwargs)
                except ToolError:
                    raise
                except Exception as exc:
                    raise ToolExecutionError(
                        f"{type(exc).__name__}: {exc}", tool=self.name
                    ) from exc
        except TimeoutError as exc:
            raise ToolTimeout(
                f"tool {self.name!r} timed out after {limit:g} s", tool=self.name
            ) from exc
        try:
            return to_jsonable_python(result)
        except PydanticSerializationError as exc:
            raise ToolExecutionError(
                f"tool {self.name!r} returned a value that is not JSON-able: {exc}",
                tool=self.name,
            ) from exc

    async def _call(self, kwargs: dict[str, Any]) -> Any:
        fn = self.fn
        if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__):
            return await fn(**kwargs)
        result = await asyncio.to_thread(fn, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    @classmethod
    def from_function_definition(
        cls,
        definition: Mapping[str, Any],
        fn: Callable[..., Any],
        *,
        side_effects: bool = False,
        timeout_s: float | None = None,
        scope: str | None = None,
        requires_approval: bool = False,
        risk: Risk = "low",
        egress: bool = False,
    ) -> Tool:
        """A tool from an OpenAI function definition and the function that serves it.

        Args:
            definition: ``{"type": "function", "function": {...}}`` or the bare
                ``{"name", "description", "parameters"}``. Missing ``parameters``
                means no arguments; ``additionalProperties: false`` is added to every
                object level that lacks ``additionalProperties``.
            fn: Called with the arguments as keywords (plus a ``ToolContext``
                parameter if it has one).
            side_effects: See :class:`Tool`.
            timeout_s: See :class:`Tool`.
            scope: See :class:`Tool`.
            requires_approval: See :class:`Tool`.
            risk: See :class:`Tool`.
            egress: See :class:`Tool`.

        Raises:
            ConfigError: The definition is malformed.
        """
        body: Any = definition
        if definition.get("type") == "function" and isinstance(definition.get("function"), Mapping):
            body = definition["function"]
        name = body.get("name")
        if not isinstance(name, str):
            raise ConfigError("function definition has no 'name'")
        description = body.get("description") or ""
        if not isinstance(description, str):
            raise ConfigError(f"tool {name!r}: 'description' must be a string")
        parameters = body.get("parameters") or {"type": "object", "properties": {}}
        return cls(
            name=name,
            description=description,
            parameters=parameters,
            fn=fn,
            side_effects=side_effects,
            timeout_s=timeout_s,
            scope=scope,
            requires_approval=requires_approval,
            risk=risk,
            egress=egress,
        )

    @classmethod
    def from_openapi_operation(
        cls,
        document: Mapping[str, Any],
        *,
        path: str,
        method: str,
        fn: Callable[..., Any],
        side_effects: bool = False,
        timeout_s: float | None = None,
        scope: str | None = None,
        requires_approval: bool = False,
        risk: Risk = "low",
        egress: bool = False,
    ) -> Tool:
        """A tool from one operation of an OpenAPI 3.0/3.1 document.

        The name is the ``operationId`` (sanitised to ``^[a-zA-Z0-9_-]{1,64}$``;
        ``<method>_<path>`` without one), the description is the summary and
        description, and the parameters are the path, query and header parameters
        plus the properties of the ``application/json`` request body, with local
        ``$ref``\\ s resolved and ``required`` lists honoured.

        Args:
            document: The OpenAPI document.
            path: The path key, e.g. ``"/orders/{order_id}"``.
            method: The HTTP method, any case.
            fn: Called with every argument as a keyword (plus a ``ToolContext``
                parameter if it has one).
            side_effects: See :class:`Tool`.
            timeout_s: See :class:`Tool`.
            scope: See :class:`Tool`.
            requires_approval: See :class:`Tool`.
            risk: See :class:`Tool`.
            egress: See :class:`Tool`.

        Raises:
            ConfigError: The operation is missing or uses what is not supported
                (cookie parameters, remote ``$ref``, recursive schemas, clashes).
        """
        name, description, parameters = openapi_operation(document, path=path, method=method)
        return cls(
            name=name,
            description=description,
            parameters=parameters,
            fn=fn,
            side_effects=side_effects,
            timeout_s=timeout_s,
            scope=scope,
            requires_approval=requires_approval,
            risk=risk,
            egress=egress,
        )


def _check_accepts(
    fn: Callable[..., Any], schema: Mapping[str, Any], context: str | None, *, tool: str
) -> None:
    """Fail early when ``fn`` cannot receive a property of the schema as a keyword."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    keywords = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    missing = sorted(set(schema.get("properties", {})) - keywords - {context})
    if missing:
        raise ConfigError(f"tool {tool!r}: the function does not accept arguments {missing}")


@overload
def tool(
    fn: Callable[..., Any],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = False,
    timeout_s: float | None = None,
    scope: str | None = None,
    requires_approval: bool = False,
    risk: Risk = "low",
    egress: bool = False,
) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = False,
    timeout_s: float | None = None,
    scope: str | None = None,
    requires_approval: bool = False,
    risk: Risk = "low",
    egress: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    side_effects: bool = False,
    timeout_s: float | None = None,
    scope: str | None = None,
    requires_approval: bool = False,
    risk: Risk = "low",
    egress: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a :class:`Tool` of a function; usable as ``@tool`` and ``@tool(...)``.

    The schema comes from the signature through a strict pydantic model (``str``,
    ``int``, ``float``, ``bool``, lists, ``dict[str, ...]``, ``Literal``, ``Enum``,
    optionals, defaults, pydantic models, ``Annotated[..., Field(...)]``); parameter
    descriptions come from the docstring's ``Args:`` section and the description
    from its first paragraph. A parameter annotated ``ToolContext`` receives the
    call's context and is left out of the schema.

    Args:
        fn: The function (when used as a bare decorator).
        name: Tool name; defaults to the function's name.
        description: Overrides the docstring's first paragraph.
        side_effects: Whether calling the tool changes the world.
        timeout_s: Per-tool timeout; ``None`` uses the caller's default.
        scope: Permission scope the tool needs.
        requires_approval: Whether a human must approve each call.
        risk: ``"low"`` (default) or ``"high"`` (send mail, HTTP POST, write files,
            run code); see :class:`Tool`.
        egress: Whether the tool sends data off the machine.

    Raises:
        ConfigError: The name is invalid or the signature cannot be made a schema.
    """

    def build(func: Callable[..., Any]) -> Tool:
        tool_name = check_name(name if name is not None else getattr(func, "__name__", ""))
        derived = function_schema(func, tool=tool_name)
        return Tool(
            name=tool_name,
            description=description if description is not None else derived.description,
            parameters=derived.parameters,
            fn=func,
            side_effects=side_effects,
            timeout_s=timeout_s,
            scope=scope,
            requires_approval=requires_approval,
            arguments_model=derived.model,
            risk=risk,
            egress=egress,
        )

    if fn is not None:
        return build(fn)
    return build
