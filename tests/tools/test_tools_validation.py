"""Strict argument validation: no coercion, every violation with its JSON path."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel, field_validator

from workbench.errors import ToolArgumentsInvalid
from workbench.tools import Tool, tool


class Item(BaseModel):
    sku: str
    quantity: int

    @field_validator("sku")
    @classmethod
    def _upper(cls, value: str) -> str:
        if value != value.upper():
            raise ValueError("sku must be upper case")
        return value


@tool
def order(
    customer: str,
    count: int,
    items: list[Item],
    weight: float = 1.0,
    gift: bool = False,
    note: str | None = None,
    mode: Literal["air", "sea"] = "sea",
) -> int:
    """Place an order.

    Args:
        customer: Who orders.
        count: How many.
        items: What.
        weight: Kilograms.
        gift: Gift wrap.
        note: Free text.
        mode: Shipping mode.
    """
    return count


VALID: dict[str, Any] = {"customer": "ada", "count": 2, "items": [{"sku": "A1", "quantity": 1}]}


def problems(target: Tool, raw: Any) -> list[str]:
    with pytest.raises(ToolArgumentsInvalid) as info:
        target.parse_arguments(raw)
    assert info.value.tool == target.name
    assert info.value.code == "tool_arguments_invalid"
    header, *lines = info.value.message.splitlines()
    assert header.startswith(f"invalid arguments for tool {target.name!r} (")
    return [line.removeprefix("- ") for line in lines]


def test_valid_arguments_come_back_unchanged() -> None:
    assert order.parse_arguments(VALID) == VALID
    assert order.parse_arguments('{"customer": "ada", "count": 2, "items": []}') == {
        "customer": "ada",
        "count": 2,
        "items": [],
    }


def test_int_accepted_for_float() -> None:
    assert order.parse_arguments({**VALID, "weight": 3})["weight"] == 3


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"count": "3"}, '$.count: expected integer, got string "3"'),
        ({"customer": 1}, "$.customer: expected string, got integer 1"),
        ({"count": True}, "$.count: expected integer, got boolean true"),
        ({"count": 1.0}, "$.count: expected integer, got number 1.0"),
        ({"count": 1.5}, "$.count: expected integer, got number 1.5"),
        ({"gift": 1}, "$.gift: expected boolean, got integer 1"),
        ({"gift": "true"}, '$.gift: expected boolean, got string "true"'),
        ({"weight": "1.5"}, '$.weight: expected number, got string "1.5"'),
        ({"note": 5}, "$.note: expected string or null, got integer"),
        ({"mode": "rail"}, '$.mode: "rail" is not one of "air", "sea"'),
        ({"items": {"sku": "A1"}}, '$.items: expected array, got object {"sku": "A1"}'),
    ],
)
def test_no_silent_coercion(override: dict[str, Any], expected: str) -> None:
    assert problems(order, {**VALID, **override}) == [expected]


def test_extra_property_is_rejected_and_allowed_names_are_listed() -> None:
    assert problems(order, {**VALID, "coupon": "X"}) == [
        "$: unexpected property 'coupon' (allowed: count, customer, gift, items, mode, note, "
        "weight)"
    ]


def test_missing_required() -> None:
    assert problems(order, {"customer": "ada"}) == [
        "$: missing required property 'count'",
        "$: missing required property 'items'",
    ]


def test_nested_model_and_list_item_errors_have_paths() -> None:
    raw = {
        "customer": "ada",
        "count": 1,
        "items": [
            {"sku": "A1", "quantity": 1},
            {"sku": 7, "quantity": "2", "colour": "red"},
            {"quantity": 1},
        ],
    }
    assert problems(order, raw) == [
        '$.items[1].quantity: expected integer, got string "2"',
        "$.items[1].sku: expected string, got integer 7",
        "$.items[1]: unexpected property 'colour' (allowed: quantity, sku)",
        "$.items[2]: missing required property 'sku'",
    ]


def test_every_violation_is_listed() -> None:
    found = problems(order, {"customer": 1, "count": "x", "extra": True})
    assert found == [
        '$.count: expected integer, got string "x"',
        "$.customer: expected string, got integer 1",
        "$: missing required property 'items'",
        "$: unexpected property 'extra' (allowed: count, customer, gift, items, mode, note, "
        "weight)",
    ]


def test_pydantic_validators_run_in_strict_mode_after_the_schema() -> None:
    raw = {**VALID, "items": [{"sku": "lower", "quantity": 1}]}
    assert problems(order, raw) == ["$.items[0].sku: Value error, sku must be upper case"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            '{"customer": "ada",',
            "arguments are not valid JSON: Expecting property name enclosed in double quotes "
            "at line 1 column 20 (char 19)",
        ),
        (
            '{"customer": "ada"\n "count": 1}',
            "arguments are not valid JSON: Expecting ',' delimiter at line 2 column 2 (char 20)",
        ),
        ("[1, 2]", "$: arguments must be a JSON object, got array"),
        ('"text"', "$: arguments must be a JSON object, got string"),
        ('{"count": 1, "count": 2}', "arguments are not valid JSON: duplicate key 'count'"),
        ('{"count": NaN}', "arguments are not valid JSON: NaN is not a JSON number"),
        ('{"count": 1e999}', "arguments are not valid JSON: 1e999 is out of range for a number"),
        (42, "$: arguments must be a JSON object, got int"),
    ],
)
def test_malformed_json_says_where(raw: Any, expected: str) -> None:
    assert problems(order, raw) == [expected]


def test_empty_string_means_no_arguments() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    assert ping.parse_arguments("") == {}
    assert ping.parse_arguments("  ") == {}
    assert problems(ping, '{"x": 1}') == ["$: unexpected property 'x' (no properties allowed)"]


def test_message_is_capped() -> None:
    raw = {**VALID, **{f"extra{i:02d}": i for i in range(30)}}
    found = problems(order, raw)
    assert len(found) == 21
    assert found[-1] == "... and 10 more"
