"""Input validation: size in UTF-8 bytes, valid text without control characters, a JSON Schema."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError, InputInvalid, InputTooLarge
from workbench.gateway._config import GatewayConfig

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

__all__ = ["InputValidator"]

# C0 controls, DEL and C1 controls; the allowed ones are removed from the class.
_CONTROLS = [chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))]
_MAX_ERRORS = 5


class InputValidator:
    """Validates a request's task text and structured input against a :class:`GatewayConfig`.

    Schemas are compiled once, per agent. Checks, in order: size (task plus the JSON of
    ``input``, in UTF-8 bytes), encoding (no lone surrogates), control characters (any
    string in the task or ``input``), then the JSON Schema: the agent's own, else the
    config's ``input_schema``; it validates ``input`` when the request has one, else the
    task text.

    Args:
        config: Limits and schemas.

    Raises:
        ConfigError: A schema in ``config`` is not a valid JSON Schema.
    """

    def __init__(self, config: GatewayConfig) -> None:
        self._max_bytes = config.max_input_bytes
        banned = "".join(c for c in _CONTROLS if c not in config.allowed_control_chars)
        self._controls = re.compile(f"[{re.escape(banned)}]") if banned else None
        self._default = _compile(config.input_schema, "input_schema")
        self._per_agent = {
            agent: _compile(schema, f"agent_input_schemas[{agent!r}]")
            for agent, schema in config.agent_input_schemas.items()
        }

    def validate(
        self,
        task: str,
        input: Any = None,
        *,
        agent: str | None = None,
        principal: str | None = None,
    ) -> None:
        """Check one request's input.

        Args:
            task: The task text.
            input: Structured task input (JSON-able), if any.
            agent: The agent asked for (selects its schema).
            principal: Named in the errors.

        Raises:
            InputTooLarge: Over ``max_input_bytes``.
            InputInvalid: Not a string, invalid UTF-8, a banned control character, or
                the schema fails (the message lists up to 5 violations with their paths).
        """
        if not isinstance(task, str):
            raise InputInvalid(f"task must be text, not {type(task).__name__}", principal=principal)
        try:
            size = len(task.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InputInvalid(
                f"task is not valid UTF-8 text (lone surrogate at {exc.start})", principal=principal
            ) from None
        encoded_input: str | None = None
        if input is not None:
            try:
                encoded_input = json.dumps(input, ensure_ascii=False, allow_nan=False)
                size += len(encoded_input.encode("utf-8"))
            except (TypeError, ValueError, UnicodeEncodeError) as exc:
                raise InputInvalid(
                    f"input is not valid JSON text: {exc}", principal=principal
                ) from None
        if size > self._max_bytes:
            raise InputTooLarge(
                f"input is {size} bytes, over the gateway's max_input_bytes of {self._max_bytes}",
                principal=principal,
            )
        controls = self._controls
        if controls is not None:
            for where, text in (("task", task), ("input", encoded_input)):
                if text is None or (where == "task" and text.isprintable()):
                    # Every C0/C1 control and DEL is non-printable: a printable task has none
                    # (one C-level pass instead of the regular expression).
                    continue
                found = controls.search(text if where == "task" else _decoded_strings(input))
                if found is not None:
                    raise InputInvalid(
                        f"{where} contains the control character U+{ord(found.group()):04X}",
                        principal=principal,
                    )
        validator = self._per_agent.get(agent, self._default) if agent else self._default
        if validator is not None:
            subject = input if input is not None else task
            errors = sorted(validator.iter_errors(subject), key=lambda e: list(e.absolute_path))
            if errors:
                listed = "; ".join(
                    f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                    for e in errors[:_MAX_ERRORS]
                )
                raise InputInvalid(f"input fails the input schema: {listed}", principal=principal)


def _decoded_strings(value: Any) -> str:
    """Every string (keys too) inside ``value``, joined: what control characters hide in."""
    parts: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return "\x20".join(parts)


def _compile(schema: dict[str, Any] | None, where: str) -> Draft202012Validator | None:
    if schema is None:
        return None
    # Imported only when a schema is configured: jsonschema takes seconds to import here.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ConfigError(f"gateway {where} is not a valid JSON Schema: {exc.message}") from None
    return Draft202012Validator(schema)
