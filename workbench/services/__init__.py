"""Real servers of the workbench: start, stop and find them by name.

Each kind of server is a :class:`ServiceDefinition` registered under a name; the
manager starts it detached on a free loopback port, waits until it answers, and
records it in ``<settings.services_dir>/<name>.json`` (the :class:`ServiceInfo`
fields plus the definition's ``describe`` keys at top level), where the runtime
finds it. Built in: ``model`` (SmolLM2 behind llama.cpp's OpenAI-compatible server),
``phoenix`` (Arize Phoenix, the trace UI and OTLP collector), ``docker``
(a private Docker engine for the docker sandbox backend), ``redis`` (the shared
store of the gateway's rate limits and budgets), ``prometheus`` (scrapes ``workbench
serve``) and ``jupyterlab`` (JupyterLab on
loopback with a token, for the notebooks and the browser test).

Adding a server: write a ``ServiceDefinition`` subclass in its own module, decorate
it with :func:`register_service`, and import that module below.

Example:
    >>> from workbench.services import start_service, stop_service
    >>> info = start_service("model")  # doctest: +SKIP
    >>> info.extra["base_url"]  # doctest: +SKIP
    'http://127.0.0.1:40123/v1'
    >>> stop_service("model")  # doctest: +SKIP
    True
"""

from __future__ import annotations

from workbench.services._definition import ServiceDefinition, ServiceInfo
from workbench.services._docker import DockerService
from workbench.services._jupyter import JupyterLabService
from workbench.services._manager import (
    aservice_status,
    astart_service,
    astop_service,
    service_status,
    start_service,
    stop_service,
)
from workbench.services._model import ModelService, find_smollm2_gguf
from workbench.services._phoenix import PhoenixService
from workbench.services._postgres import PostgresService
from workbench.services._prometheus import PrometheusService
from workbench.services._redis import RedisService
from workbench.services._registry import (
    get_service_definition,
    list_services,
    register_service,
)

__all__ = [
    "DockerService",
    "JupyterLabService",
    "ModelService",
    "PhoenixService",
    "PostgresService",
    "PrometheusService",
    "RedisService",
    "ServiceDefinition",
    "ServiceInfo",
    "aservice_status",
    "astart_service",
    "astop_service",
    "find_smollm2_gguf",
    "get_service_definition",
    "list_services",
    "register_service",
    "service_status",
    "start_service",
    "stop_service",
]
