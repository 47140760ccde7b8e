"""Tools from OpenAI function definitions and OpenAPI operations."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from workbench.errors import ConfigError, ToolArgumentsInvalid
from workbench.tools import Tool, ToolContext

CTX = ToolContext.for_call(execution_id="e", step=0, call_index=0, side_effects=True)

WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "units": {"type": "string", "enum": ["c", "f"]},
                "where": {"type": "object", "properties": {"lat": {"type": "number"}}},
                "meta": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["city"],
        },
    },
}


def weather(city: str, units: str = "c", where: Any = None, meta: Any = None) -> str:
    return f"{city}:{units}"


@pytest.mark.parametrize("wrapped", [True, False])
def test_from_function_definition_enforces_additional_properties(wrapped: bool) -> None:
    definition = WEATHER if wrapped else WEATHER["function"]
    before = copy.deepcopy(definition)
    made = Tool.from_function_definition(definition, weather, scope="web", timeout_s=3)
    assert definition == before  # the caller's dict is not modified
    params = made.parameters
    assert params["additionalProperties"] is False
    assert params["properties"]["where"]["additionalProperties"] is False
    assert params["properties"]["meta"]["additionalProperties"] == {"type": "string"}
    assert made.definition() == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": params,
        },
    }
    assert (made.scope, made.timeout_s, made.side_effects) == ("web", 3.0, False)


@pytest.mark.anyio
async def test_from_function_definition_validates_and_calls() -> None:
    made = Tool.from_function_definition(WEATHER, weather)
    with pytest.raises(ToolArgumentsInvalid) as info:
        made.parse_arguments({"city": 1, "where": {"lat": 1, "lon": 2}})
    assert info.value.message.splitlines()[1:] == [
        "- $.city: expected string, got integer 1",
        "- $.where: unexpected property 'lon' (allowed: lat)",
    ]
    args = made.parse_arguments('{"city": "Oslo", "units": "f"}')
    assert await made.ainvoke(args, CTX, timeout_s=5) == "Oslo:f"


def test_from_function_definition_without_parameters() -> None:
    made = Tool.from_function_definition({"name": "noop"}, lambda: None)
    assert made.parameters == {"type": "object", "properties": {}, "additionalProperties": False}
    assert made.description == ""


def test_from_function_definition_checks_the_function_accepts_the_arguments() -> None:
    with pytest.raises(
        ConfigError, match=r"does not accept arguments \['meta', 'units', 'where'\]"
    ):
        Tool.from_function_definition(WEATHER, lambda city: city)


@pytest.mark.parametrize(
    "definition",
    [
        {"description": "no name"},
        {"name": "bad name!"},
        {"name": "x", "parameters": {"type": "array"}},
    ],
)
def test_from_function_definition_rejects_bad_definitions(definition: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Tool.from_function_definition(definition, lambda **kw: kw)


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Shop", "version": "1"},
    "paths": {
        "/stores/{store_id}/orders": {
            "parameters": [
                {
                    "name": "store_id",
                    "in": "path",
                    "required": True,
                    "description": "The store.",
                    "schema": {"type": "integer"},
                },
            ],
            "post": {
                "operationId": "createOrder (v2)",
                "summary": "Create an order.",
                "description": "Charges the customer.",
                "parameters": [
                    {"$ref": "#/components/parameters/DryRun"},
                    {"name": "X-Request-Id", "in": "header", "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewOrder"}}
                    },
                },
            },
        }
    },
    "components": {
        "parameters": {
            "DryRun": {
                "name": "dry_run",
                "in": "query",
                "required": False,
                "schema": {"type": "boolean", "default": False},
            }
        },
        "schemas": {
            "NewOrder": {
                "type": "object",
                "required": ["sku", "quantity"],
                "properties": {
                    "id": {"type": "integer", "readOnly": True},
                    "sku": {"type": "string", "example": "A-1"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "coupon": {"type": "string", "nullable": True},
                    "shipping": {"$ref": "#/components/schemas/Address"},
                },
            },
            "Address": {
                "type": "object",
                "required": ["city"],
                "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            },
        },
    },
}


def test_from_openapi_operation_merges_params_and_ref_body() -> None:
    made = Tool.from_openapi_operation(
        OPENAPI, path="/stores/{store_id}/orders", method="POST", fn=lambda **kw: kw
    )
    assert made.name == "createOrder_v2"
    assert made.description == "Create an order.\n\nCharges the customer."
    assert made.parameters == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "store_id": {"type": "integer", "description": "The store."},
            "dry_run": {"type": "boolean", "default": False},
            "X-Request-Id": {"type": "string"},
            "sku": {"type": "string"},
            "quantity": {"type": "integer", "minimum": 1},
            "coupon": {"type": ["string", "null"]},
            "shipping": {
                "type": "object",
                "additionalProperties": False,
                "required": ["city"],
                "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            },
        },
        "required": ["store_id", "sku", "quantity"],
    }


@pytest.mark.anyio
async def test_openapi_tool_calls_fn_with_keywords() -> None:
    calls: list[dict[str, Any]] = []

    def create_order(**kwargs: Any) -> dict[str, str]:
        calls.append(kwargs)
        return {"status": "created"}

    made = Tool.from_openapi_operation(
        OPENAPI,
        path="/stores/{store_id}/orders",
        method="post",
        fn=create_order,
        side_effects=True,
        requires_approval=True,
    )
    assert made.requires_approval
    assert made.side_effects
    args = made.parse_arguments(
        {"store_id": 7, "sku": "A-1", "quantity": 2, "shipping": {"city": "Oslo"}}
    )
    assert await made.ainvoke(args, CTX, timeout_s=5) == {"status": "created"}
    assert calls == [{"store_id": 7, "sku": "A-1", "quantity": 2, "shipping": {"city": "Oslo"}}]
    with pytest.raises(ToolArgumentsInvalid) as info:
        made.parse_arguments({"store_id": "7", "sku": "A-1", "quantity": 0, "id": 3})
    assert info.value.message.splitlines()[1:] == [
        "- $.quantity: 0 is less than the minimum of 1",
        '- $.store_id: expected integer, got string "7"',
        "- $: unexpected property 'id' (allowed: X-Request-Id, coupon, dry_run, quantity, "
        "shipping, sku, store_id)",
    ]


def test_openapi_without_operation_id_and_array_body() -> None:
    document = {
        "openapi": "3.1.0",
        "paths": {
            "/tags": {
                "put": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"type": "string"}}
                            }
                        }
                    }
                }
            }
        },
    }
    made = Tool.from_openapi_operation(document, path="/tags", method="put", fn=lambda **kw: kw)
    assert made.name == "put_tags"
    assert made.parameters == {
        "type": "object",
        "additionalProperties": False,
        "properties": {"body": {"type": "array", "items": {"type": "string"}}},
    }


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d, "no operation GET"),
        (
            lambda d: d["paths"]["/x"]["get"].update(
                parameters=[{"name": "s", "in": "cookie", "schema": {"type": "string"}}]
            ),
            "'cookie' parameters are not supported",
        ),
        (
            lambda d: d["paths"]["/x"]["get"].update(
                parameters=[{"name": "s", "in": "query", "schema": {"$ref": "other.yaml#/X"}}]
            ),
            "only local $ref",
        ),
        (
            lambda d: d["paths"]["/x"]["get"].update(
                parameters=[
                    {"name": "n", "in": "query", "schema": {"$ref": "#/components/schemas/Node"}}
                ]
            ),
            "recursive schema",
        ),
    ],
)
def test_openapi_unsupported_features_are_config_errors(mutate: Any, fragment: str) -> None:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "paths": {"/x": {"post": {"operationId": "x"}}},
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {"next": {"$ref": "#/components/schemas/Node"}},
                }
            }
        },
    }
    if fragment != "no operation GET":
        document["paths"]["/x"]["get"] = {"operationId": "x"}
    mutate(document)
    with pytest.raises(ConfigError, match=fragment.replace("$", r"\$").replace("(", r"\(")):
        Tool.from_openapi_operation(document, path="/x", method="get", fn=lambda **kw: kw)
