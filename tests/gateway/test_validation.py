"""Input validation: size, encoding, control characters and the input JSON Schema."""

from __future__ import annotations

import re
from typing import Any

import pytest

from workbench.errors import ConfigError, InputInvalid, InputTooLarge
from workbench.gateway import GatewayConfig, InputValidator

SCHEMA = {
    "type": "object",
    "properties": {"region": {"enum": ["North", "South"]}, "year": {"type": "integer"}},
    "required": ["region"],
    "additionalProperties": False,
}


def test_plain_text_with_newlines_and_tabs_passes() -> None:
    InputValidator(GatewayConfig()).validate("Which region?\n\tNorth or South — ünïcode ✓")


def test_size_is_counted_in_utf8_bytes_including_the_input() -> None:
    validator = InputValidator(GatewayConfig(max_input_bytes=10))
    validator.validate("é" * 5)  # 10 bytes
    with pytest.raises(InputTooLarge, match="11 bytes") as info:
        validator.validate("é" * 5 + "x")
    assert info.value.http_status == 413
    with pytest.raises(InputTooLarge):
        validator.validate("ab", {"k": "12345"})


@pytest.mark.parametrize(
    ("task", "what"),
    [
        ("a\x00b", "U+0000"),
        ("ring the bell\x07", "U+0007"),
        ("escape \x1b[31m red", "U+001B"),
        ("del \x7f", "U+007F"),
        ("c1 \x85 next line", "U+0085"),
        ("carriage\rreturn", "U+000D"),
    ],
)
def test_control_characters_are_refused(task: str, what: str) -> None:
    with pytest.raises(InputInvalid, match=re.escape(what)) as info:
        InputValidator(GatewayConfig()).validate(task)
    assert info.value.http_status == 422


def test_allowed_control_characters_are_configurable() -> None:
    InputValidator(GatewayConfig(allowed_control_chars="\n\t\r")).validate("a\r\nb")


def test_lone_surrogates_are_not_valid_text() -> None:
    with pytest.raises(InputInvalid, match="not valid UTF-8"):
        InputValidator(GatewayConfig()).validate("bad \ud800 text")


def test_non_text_task_and_non_json_input_are_refused() -> None:
    validator = InputValidator(GatewayConfig())
    with pytest.raises(InputInvalid, match="must be text"):
        validator.validate(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InputInvalid, match="not valid JSON"):
        validator.validate("t", {"x": float("nan")})
    with pytest.raises(InputInvalid, match=r"U\+0000"):
        validator.validate("t", {"nested": ["ok", {"k\x00": "v"}]})


def test_input_schema_validates_structured_input() -> None:
    validator = InputValidator(GatewayConfig(input_schema=SCHEMA))
    validator.validate("report", {"region": "North", "year": 2025})
    with pytest.raises(InputInvalid, match="region") as info:
        validator.validate("report", {"region": "West", "extra": 1})
    assert "additional" in info.value.message.lower()


def test_per_agent_schema_replaces_the_default_and_can_check_the_task_text() -> None:
    short_text: dict[str, Any] = {"type": "string", "maxLength": 5}
    config = GatewayConfig(input_schema=SCHEMA, agent_input_schemas={"terse": short_text})
    validator = InputValidator(config)
    validator.validate("hi", agent="terse")
    with pytest.raises(InputInvalid, match="too long"):
        validator.validate("far too long", agent="terse")
    with pytest.raises(InputInvalid):
        validator.validate("no structured input", agent="other")  # the default schema


def test_an_invalid_schema_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="input_schema"):
        InputValidator(GatewayConfig(input_schema={"type": "no-such-type"}))
