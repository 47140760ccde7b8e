"""The registry of service definitions, keyed by name."""

from __future__ import annotations

from typing import TypeVar

from workbench.errors import ServiceError
from workbench.services._definition import ServiceDefinition

__all__ = ["get_service_definition", "list_services", "register_service"]

_REGISTRY: dict[str, ServiceDefinition] = {}

_D = TypeVar("_D", bound="type[ServiceDefinition] | ServiceDefinition")


def register_service(defn: _D) -> _D:
    """Register a service definition under its ``name``; usable as a class decorator.

    A class is instantiated with no arguments; pass an instance to register one with
    non-default configuration. Registering a name again replaces the earlier
    definition, so a user may swap in their own.

    Args:
        defn: A :class:`ServiceDefinition` subclass or instance.

    Returns:
        ``defn`` unchanged.

    Raises:
        ServiceError: ``defn`` has no ``name``.
    """
    instance = defn() if isinstance(defn, type) else defn
    name = getattr(instance, "name", "")
    if not isinstance(name, str) or not name:
        raise ServiceError(f"service definition {type(instance).__name__} has no name")
    _REGISTRY[name] = instance
    return defn


def get_service_definition(name: str) -> ServiceDefinition:
    """The definition registered as ``name``.

    Raises:
        ServiceError: No service of that name; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(list_services()) or "none"
        raise ServiceError(f"unknown service {name!r} (known: {known})") from None


def list_services() -> list[str]:
    """Names of all registered services, sorted."""
    return sorted(_REGISTRY)
