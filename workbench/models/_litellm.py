"""Lazy, configured import of litellm (importing it costs about 4 s, so only on first use)."""

from __future__ import annotations

import os
import threading
from types import ModuleType

__all__ = ["get_litellm", "loaded"]

_lock = threading.Lock()
_module: ModuleType | None = None


def get_litellm() -> ModuleType:
    """litellm, imported offline and quiet, with the ``scripted`` provider registered."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            # Without this litellm downloads its cost map at import time.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            from workbench.models._provider import SCRIPTED_PROVIDER, ScriptedProvider

            litellm.suppress_debug_info = True
            others = [
                entry
                for entry in litellm.custom_provider_map
                if entry.get("provider") != SCRIPTED_PROVIDER
            ]
            litellm.custom_provider_map = [
                *others,
                {"provider": SCRIPTED_PROVIDER, "custom_handler": ScriptedProvider()},
            ]
            _module = litellm
            # After _module is set: a price registered from now on mirrors itself.
            from workbench.models._prices import mirror_prices

            mirror_prices(litellm)
    return _module


def loaded() -> ModuleType | None:
    """litellm if :func:`get_litellm` has imported it, else ``None`` (never imports it)."""
    return _module
