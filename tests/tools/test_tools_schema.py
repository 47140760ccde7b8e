"""Schemas derived from signatures and Google docstrings, and the Tool's shape."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from workbench.errors import ConfigError
from workbench.tools import Tool, ToolContext, tool


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str
    zip_code: str | None = None


def create_ticket(
    title: str,
    ctx: ToolContext,
    count: int,
    ratio: float = 0.5,
    urgent: bool = False,
    tags: list[str] | None = None,
    labels: dict[str, int] | None = None,
    priority: Priority = Priority.LOW,
    channel: Literal["email", "chat"] = "email",
    address: Address | None = None,
    limit: Annotated[int, Field(ge=1, le=10, description="Page size.")] = 5,
    *,
    json: bool = False,
) -> dict[str, Any]:
    """Create a support ticket.

    The second paragraph is not part of the description.

    Args:
        title: Short summary
            of the problem.
        ctx: The call context (not in the schema).
        count (int): How many tickets.
        ratio: A ratio.
        urgent: Whether it is urgent.
        tags: Free-form tags.
        labels: Label weights.
        priority: How important.
        channel: Where to answer.
        address: Where to send things.
        limit: Ignored, the Field description wins.
        json: A name that clashes with a BaseModel method.

    Returns:
        The ticket.
    """
    return {"title": title}


EXPECTED_SCHEMA: dict[str, Any] = {
    "$defs": {
        "Address": {
            "additionalProperties": False,
            "description": "A postal address.",
            "properties": {
                "city": {"type": "string"},
                "street": {"type": "string"},
                "zip_code": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            },
            "required": ["street", "city"],
            "type": "object",
        },
        "Priority": {"enum": ["low", "high"], "type": "string"},
    },
    "additionalProperties": False,
    "properties": {
        "address": {
            "anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}],
            "default": None,
            "description": "Where to send things.",
        },
        "channel": {
            "default": "email",
            "description": "Where to answer.",
            "enum": ["email", "chat"],
            "type": "string",
        },
        "count": {"description": "How many tickets.", "type": "integer"},
        "json": {
            "default": False,
            "description": "A name that clashes with a BaseModel method.",
            "type": "boolean",
        },
        "labels": {
            "anyOf": [
                {"additionalProperties": {"type": "integer"}, "type": "object"},
                {"type": "null"},
            ],
            "default": None,
            "description": "Label weights.",
        },
        "limit": {
            "default": 5,
            "description": "Page size.",
            "maximum": 10,
            "minimum": 1,
            "type": "integer",
        },
        "priority": {"$ref": "#/$defs/Priority", "default": "low", "description": "How important."},
        "ratio": {"default": 0.5, "description": "A ratio.", "type": "number"},
        "tags": {
            "anyOf": [{"items": {"type": "string"}, "type": "array"}, {"type": "null"}],
            "default": None,
            "description": "Free-form tags.",
        },
        "title": {"description": "Short summary of the problem.", "type": "string"},
        "urgent": {"default": False, "description": "Whether it is urgent.", "type": "boolean"},
    },
    "required": ["title", "count"],
    "type": "object",
}


def test_schema_is_derived_from_signature_and_docstring() -> None:
    made = tool(create_ticket)
    assert made.name == "create_ticket"
    assert made.description == "Create a support ticket."
    assert made.parameters == EXPECTED_SCHEMA
    assert "ctx" not in made.parameters["properties"]


def test_definition_is_openai_function_format() -> None:
    made = tool(name="ticket", scope="tickets.write", side_effects=True)(create_ticket)
    assert made.definition() == {
        "type": "function",
        "function": {
            "name": "ticket",
            "description": "Create a support ticket.",
            "parameters": EXPECTED_SCHEMA,
        },
    }
    assert (made.side_effects, made.scope, made.requires_approval, made.timeout_s) == (
        True,
        "tickets.write",
        False,
        None,
    )


def test_tool_without_parameters_has_an_empty_closed_object() -> None:
    @tool
    def now() -> str:
        """The time."""
        return "noon"

    assert now.parameters == {"additionalProperties": False, "properties": {}, "type": "object"}
    assert now.fn() == "noon"


def test_tool_is_immutable_and_parameters_cannot_be_mutated() -> None:
    made = tool(create_ticket)
    with pytest.raises(AttributeError):
        made.name = "other"
    made.parameters["properties"].clear()
    assert made.parameters == EXPECTED_SCHEMA


def test_description_override() -> None:
    made = tool(create_ticket, description="Open a ticket.")
    assert made.description == "Open a ticket."


def _unannotated(x):  # type: ignore[no-untyped-def]
    """No annotation."""


def _variadic(*args: int) -> None:
    """Variadic."""


def _positional(x: int, /) -> None:
    """Positional-only."""


def _documents_ghost(x: int) -> None:
    """Docs a parameter that does not exist.

    Args:
        x: Real.
        y: Ghost.
    """


def _two_contexts(a: ToolContext, b: ToolContext) -> None:
    """Two contexts."""


@pytest.mark.parametrize(
    ("fn", "fragment"),
    [
        (_unannotated, "needs a type annotation"),
        (_variadic, "plain or keyword-only"),
        (_positional, "plain or keyword-only"),
        (_documents_ghost, "unknown parameters ['y']"),
        (_two_contexts, "more than one ToolContext"),
    ],
)
def test_bad_signatures_are_config_errors(fn: Any, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        tool(fn)
    assert fragment in info.value.message


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "dots.are.bad", "ünïcode"])
def test_invalid_names_are_config_errors(name: str) -> None:
    with pytest.raises(ConfigError):
        tool(create_ticket, name=name)


def test_valid_name_edge() -> None:
    assert tool(create_ticket, name="a-B_9" + "x" * 59).name == "a-B_9" + "x" * 59


def test_non_json_default_is_a_config_error() -> None:
    def bad(when: object = object()) -> None:
        """Bad default."""

    with pytest.raises(ConfigError):
        tool(bad)


def test_negative_timeout_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        tool(create_ticket, timeout_s=0)


def test_tool_constructor_requires_object_schema() -> None:
    with pytest.raises(ConfigError):
        Tool(name="x", description="", parameters={"type": "string"}, fn=lambda: None)
    with pytest.raises(ConfigError, match="invalid parameters schema"):
        Tool(
            name="x",
            description="",
            parameters={"type": "object", "properties": {"a": {"type": "nope"}}},
            fn=lambda a: None,
        )
