"""Helpers of the server tests: a real uvicorn server on a free loopback port, scripted agents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from workbench.gateway import Gateway, GatewayConfig, KeyStore
from workbench.models import Turn, register_script
from workbench.server import ServeConfig, ServerHandle, ServerState, create_app


def write_spec(folder: Path, name: str, version: str, model: str, **extra: object) -> Path:
    """An agent spec YAML on a scripted model, with the calculator tool."""
    data = {
        "name": name,
        "version": version,
        "model": model,
        "system_prompt": "You help.",
        "tools": ["calculator"],
        "limits": {"max_retries": 1, "backoff_base_s": 0.0, "backoff_max_s": 0.0},
        **extra,
    }
    path = folder / f"{name}_{version}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@dataclass
class Served:
    url: str
    secret: str
    other_secret: str
    state: ServerState
    keys: KeyStore

    def headers(self, secret: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret or self.secret}"}


def start_served(
    tmp_path: Path,
    *,
    serve_yaml: dict[str, object] | None = None,
    shadow_seed: int | None = 0,
    gateway_config: GatewayConfig | None = None,
    rate_per_minute: int | None = None,
) -> tuple[ServerHandle, Served]:
    """A server over ``tmp_path/agents`` (``serve.yaml`` from ``serve_yaml`` when given)."""
    folder = tmp_path / "agents"
    folder.mkdir(exist_ok=True)
    model = register_script(
        "srv-calc", [Turn.call("calculator", expression="6*7"), Turn.final("42")]
    )
    write_spec(folder, "calc", "v1", model)
    if serve_yaml is not None:
        (folder / "serve.yaml").write_text(yaml.safe_dump(serve_yaml), encoding="utf-8")
    keys = KeyStore()
    _, secret = keys.create("team-a", ["agent:*", "tool:*"], rate_per_minute=rate_per_minute)
    _, other = keys.create("team-b", ["agent:*", "tool:*"])
    gateway = Gateway(gateway_config, keys=keys)
    app = create_app(ServeConfig.from_dir(folder), gateway=gateway, shadow_seed=shadow_seed)
    handle = ServerHandle(app).start()
    return handle, Served(handle.url, secret, other, app.state.server, keys)
