"""The switch that blocks requests to real providers (tests turn it off)."""

from __future__ import annotations

import os

__all__ = ["allow_model_requests", "model_requests_allowed"]

_ENV_VAR = "WORKBENCH_ALLOW_MODEL_REQUESTS"
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})

ALLOW_MODEL_REQUESTS = True
"""Process-wide switch; read it through :func:`model_requests_allowed`."""


def allow_model_requests(flag: bool) -> None:
    """Allow (``True``, the default) or block (``False``) requests to real providers.

    Scripted models, ``local/...`` models and cassette replays are always allowed:
    only a request that would leave this machine for a provider is blocked.

    Args:
        flag: Whether real provider requests may be made from now on.
    """
    global ALLOW_MODEL_REQUESTS
    ALLOW_MODEL_REQUESTS = flag


def model_requests_allowed() -> bool:
    """Whether real provider requests are allowed.

    They are blocked when :func:`allow_model_requests` was given ``False`` or when
    ``$WORKBENCH_ALLOW_MODEL_REQUESTS`` is ``0`` (or ``false``, ``no``, ``off``).
    """
    env = os.environ.get(_ENV_VAR, "1").strip().lower()
    return ALLOW_MODEL_REQUESTS and env not in _FALSE_WORDS
