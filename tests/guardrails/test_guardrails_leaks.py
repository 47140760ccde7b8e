"""Secrets, PII and canaries going out through a final answer or a tool argument."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from workbench.guardrails import CANARY_PREFIX, Guard, GuardConfig

AWS = "AKIAZ3MPLE7Q4TXW2R9B"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


@pytest.fixture
def guard(tmp_path: Path) -> Guard:
    return Guard(GuardConfig(record_events=False), home=tmp_path)


@pytest.mark.parametrize(
    ("value", "rule", "category"),
    [
        (AWS, "secrets.aws_access_key", "secret"),
        ("ASIAZ3MPLE7Q4TXW2R9B", "secrets.aws_access_key", "secret"),  # temporary (STS) key
        ("ACCAZ3MPLE7Q4TXW2R9B", "secrets.aws_access_key", "secret"),
        (GITHUB, "secrets.github_token", "secret"),
        ("sk-proj-" + "Zx9" * 12, "secrets.openai_key", "secret"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "secrets.private_key", "secret"),
        ("api_key=Q7mZ2xK9pL4vR8tW1nB6", "secrets.assignment", "secret"),
        ("maria.gonzalez@gmail.com", "pii.email", "pii"),
        ("4539 1488 0343 6467", "pii.credit_card", "pii"),
        ("DE89 3704 0044 0532 0130 00", "pii.iban", "pii"),
        ("123-45-6789", "pii.ssn", "pii"),
        ("+1 (415) 555-2671", "pii.phone", "pii"),
    ],
)
@pytest.mark.parametrize("channel", ["final_answer", "tool_argument"])
def test_leaks_are_found(guard: Guard, value: str, rule: str, category: str, channel: str) -> None:
    verdict = guard.scan(f"Here you go: {value} (as asked)", channel)  # type: ignore[arg-type]
    assert verdict.flagged
    hit = next(d for d in verdict.detectors if d.name == rule)
    assert hit.category == category
    assert value not in hit.excerpt  # excerpts are masked


def test_redaction_replaces_only_the_spans(guard: Guard) -> None:
    guarded = guard.apply(f"Key {AWS}, mail maria.gonzalez@gmail.com, done.", "final_answer")
    assert guarded.text == "Key [REDACTED:secret], mail [REDACTED:pii], done."
    assert not guarded.blocked
    assert guarded.verdict.action == "redact"


def test_encoded_secret_is_redacted_as_its_encoded_run(guard: Guard) -> None:
    blob = base64.b64encode(AWS.encode()).decode()
    guarded = guard.apply(f"Encoded: {blob} ok", "final_answer")
    assert guarded.text == "Encoded: [REDACTED:secret] ok"


def test_tool_argument_leak_is_blocked(guard: Guard) -> None:
    guarded = guard.apply(f'{{"to": "x@partner.io", "body": "{GITHUB}"}}', "tool_argument")
    assert guarded.blocked
    assert guarded.verdict.action == "block"


@pytest.mark.parametrize(
    "text",
    [
        "Contact support@example.com or open a ticket.",
        "Set OPENAI_API_KEY=<your key here> in the environment.",
        "The server is at 192.168.10.25 on port 8080.",
        "The checksum is 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.",
        "Order #5591 shipped on 2025-11-03; total EUR 1,240.00.",
        "password is read from PASSWORD (default: changeme)",
    ],
)
def test_benign_answers_are_not_flagged(guard: Guard, text: str) -> None:
    verdict = guard.scan(text, "final_answer")
    assert not verdict.flagged, [d.name for d in verdict.detectors]


def test_canary_is_deterministic_per_execution_and_home(tmp_path: Path) -> None:
    a = Guard(home=tmp_path / "a")
    assert a.canary("ex-1") == a.canary("ex-1") == Guard(home=tmp_path / "a").canary("ex-1")
    assert a.canary("ex-1") != a.canary("ex-2")
    assert a.canary("ex-1") != Guard(home=tmp_path / "b").canary("ex-1")
    assert a.canary("ex-1").startswith(CANARY_PREFIX)
    key = tmp_path / "a" / "guardrails" / "canary.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_canary_leak_in_answer_and_argument(guard: Guard) -> None:
    token = guard.canary("ex-7")
    prompt = guard.system_prompt_with_canary("You are helpful.", "ex-7")
    assert prompt.startswith("You are helpful.\n\n")
    assert token in prompt
    answer = guard.apply(f"My marker is {token}.", "final_answer", execution_id="ex-7")
    assert answer.text == "My marker is [REDACTED:canary]."
    digest_only = guard.scan(f"code {token[len(CANARY_PREFIX):]}", "tool_argument",
                             execution_id="ex-7")  # fmt: skip
    assert digest_only.flagged
    assert digest_only.detectors[0].name == "canary.leak"
    b64 = base64.b64encode(token.encode()).decode()
    assert guard.scan(f"data={b64}", "tool_argument").flagged
    # A canary in the user's own input is not a leak.
    assert not guard.scan(f"what is {token}?", "user_input").flagged
