"""Canary tokens: a per-execution secret in the system prompt that must never come out.

The token is an HMAC-SHA256 of the execution id under a per-home secret
(``$WORKBENCH_HOME/guardrails/canary.key``, created with mode 0600 on first use), so
it is deterministic for an execution and unguessable without the home. Its shape
(``wb-canary-`` and 24 hex digits) lets the detector find any canary, even one of
another execution; with the execution id known it also finds the bare digest.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from workbench.guardrails._registry import detector
from workbench.guardrails._types import Detection, ScanContext

__all__ = ["CANARY_PREFIX", "canary_detector", "canary_for", "load_canary_key"]

CANARY_PREFIX = "wb-canary-"
"""The prefix of every canary token."""

_CANARY = re.compile(r"wb[-_ ]?canary[-_ ]?([0-9a-f]{24})", re.IGNORECASE)


def load_canary_key(home: Path) -> bytes:
    """The per-home canary secret, created (32 random bytes, mode 0600) when missing."""
    path = home / "guardrails" / "canary.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    try:
        # Another process may have won the race: keep whichever landed first.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def canary_for(key: bytes, execution_id: str) -> str:
    """The canary token of ``execution_id`` under ``key``."""
    digest = hmac.new(key, execution_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return CANARY_PREFIX + digest[:24]


@detector(
    name="canary", channels=("tool_output", "tool_argument", "final_answer"), category="canary"
)
def canary_detector(text: str, ctx: ScanContext) -> list[Detection]:
    """Any canary token, or this execution's canary digest on its own."""
    found: list[Detection] = []
    lower = text.lower()
    if "canary" in lower:
        for m in _CANARY.finditer(text):
            own = ctx.canary is not None and ctx.canary.endswith(m.group(1).lower())
            name = "canary.leak" if own or ctx.canary is None else "canary.foreign"
            found.append(
                Detection(name, 1.0, "critical", "wb-canary-…", "canary", ctx.layer, *m.span())
            )
    if ctx.canary is not None and not found:
        digest = ctx.canary[len(CANARY_PREFIX) :]
        at = lower.find(digest)
        if at >= 0:
            found.append(
                Detection(
                    "canary.leak", 1.0, "critical", "…", "canary", ctx.layer, at, at + len(digest)
                )
            )
    return found
