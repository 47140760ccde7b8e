"""The detector registry and the ``@detector`` decorator that fills it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias

from workbench.errors import ConfigError
from workbench.guardrails._types import CHANNELS, Channel, Detection, ScanContext

__all__ = [
    "DetectorFn",
    "DetectorSpec",
    "detector",
    "get_detector",
    "registered_detectors",
    "unregister_detector",
]

DetectorFn: TypeAlias = Callable[[str, ScanContext], list[Detection]]
"""A detector: ``(normalised_text, ctx) -> detections``. It must be cheap, pure and
thread-safe: a guard calls it for the text and for every decoded view of it."""


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """A registered detector: its function and how it was registered.

    Attributes:
        name: Unique name; detections are named ``<name>.<rule>`` by convention.
        fn: The function.
        channels: Channels it runs on by default.
        category: The category of its detections.
        decoded: Whether it also runs on decoded views (base64, rot13, ...), not only
            on the normalised text.
    """

    name: str
    fn: DetectorFn
    channels: tuple[Channel, ...]
    category: str
    decoded: bool = True


_REGISTRY: dict[str, DetectorSpec] = {}


def detector(
    *,
    name: str,
    channels: Iterable[Channel] = CHANNELS,
    category: str,
    decoded: bool = True,
) -> Callable[[DetectorFn], DetectorFn]:
    """Register a detector function under ``name``.

    Every :class:`Guard` built afterwards with a default config runs it on ``channels``.
    The function gets the normalised text (NFKC, confusables folded, zero-width and tag
    characters removed) and, unless ``decoded`` is False, every decoded view of it too.

    Example::

        @detector(name="acme_codename", channels=("final_answer",), category="secret")
        def acme_codename(text: str, ctx: ScanContext) -> list[Detection]:
            if "project bluebird" in text.lower():
                return [Detection("acme_codename.bluebird", 0.9, "critical", "...", "secret")]
            return []

    Args:
        name: Unique detector name.
        channels: Channels it runs on unless a config says otherwise.
        category: Category of its detections (``injection``, ``secret``, ``pii``, ...).
        decoded: Also run on decoded views of the text.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Raises:
        ConfigError: The name is taken by another function, or a channel is unknown.
    """
    chosen = tuple(channels)
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown:
        raise ConfigError(f"detector {name!r}: unknown channels {unknown}; known: {CHANNELS}")

    def register(fn: DetectorFn) -> DetectorFn:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.fn.__qualname__ != fn.__qualname__:
            raise ConfigError(f"a detector named {name!r} is already registered")
        # Re-registering the same function (a re-imported module) replaces it.
        _REGISTRY[name] = DetectorSpec(name, fn, chosen, category, decoded)
        return fn

    return register


def get_detector(name: str) -> DetectorSpec:
    """The detector registered as ``name``.

    Raises:
        ConfigError: No such detector; the message lists the registered ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(f"unknown detector {name!r}; registered: {known}") from None


def registered_detectors() -> list[DetectorSpec]:
    """Every registered detector, in registration order."""
    return list(_REGISTRY.values())


def unregister_detector(name: str) -> None:
    """Remove a detector (tests use it to clean up)."""
    _REGISTRY.pop(name, None)
