"""The registry, the unsafe-local warning, and no fallback when bubblewrap is missing."""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.cli import app
from workbench.errors import SandboxBackendNotFound, SandboxUnavailable
from workbench.sandbox import (
    DEFAULT_BACKEND,
    BubblewrapBackend,
    DockerBackend,
    SandboxBackend,
    SandboxLimits,
    SandboxResult,
    UnsafeLocalBackend,
    UnsafeSandboxWarning,
    backend_names,
    get_backend,
    register_backend,
)


def test_registry_names_and_shared_instances() -> None:
    assert backend_names() == ["bubblewrap", "docker", "unsafe-local"]
    assert DEFAULT_BACKEND == "bubblewrap"
    assert isinstance(get_backend(), BubblewrapBackend)
    assert get_backend("bubblewrap") is get_backend()
    configured = get_backend("bubblewrap", pool_size=0, limits=SandboxLimits(cpu_s=3))
    assert configured is not get_backend()
    assert (configured.limits.cpu_s, configured.pool.size) == (3, 0)
    assert (BubblewrapBackend.isolated, UnsafeLocalBackend.isolated) == (True, False)
    assert DockerBackend.isolated is True


def test_unknown_backend_is_a_typed_error() -> None:
    with pytest.raises(SandboxBackendNotFound) as caught:
        get_backend("podman")
    assert caught.value.code == "sandbox_backend_not_found"
    assert caught.value.message == (
        "no sandbox backend 'podman'; registered: bubblewrap, docker, unsafe-local"
    )


def test_a_backend_registers_by_decorator() -> None:
    @register_backend("test-echo")
    class Echo(SandboxBackend):
        async def arun(self, code: str, *, limits: SandboxLimits | None = None) -> SandboxResult:
            return SandboxResult(backend=self.name, stdout=code, stderr="", exit_code=0)

    try:
        assert get_backend("test-echo").run("hi").stdout == "hi"
        with pytest.raises(ValueError, match="already registered"):
            register_backend("test-echo")(UnsafeLocalBackend)
    finally:
        from workbench.sandbox import _backend

        _backend._REGISTRY.pop("test-echo")
        _backend._SHARED.pop("test-echo", None)


def test_missing_bwrap_raises_with_the_fix_and_never_falls_back(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable) as caught:
        BubblewrapBackend(bwrap=str(tmp_path / "no-bwrap"))
    assert caught.value.code == "sandbox_unavailable"
    assert "apt-get install bubblewrap" in caught.value.message
    assert "no fallback" in caught.value.message


def test_a_sandbox_that_cannot_start_raises(tmp_path: Path) -> None:
    # Where uid 65534 may run it (bwrap runs as nobody when the tests run as root).
    shared = Path(tempfile.mkdtemp(prefix="fake-bwrap-"))
    shared.chmod(0o755)
    fake = shared / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    backend = BubblewrapBackend(bwrap=str(fake), pool_size=0, workdir_root=tmp_path / "w")
    with pytest.raises(SandboxUnavailable, match="No permissions to create new namespace"):
        backend.run("1")
    shutil.rmtree(shared)


def test_unsafe_local_warns_and_logs_on_every_call(caplog: pytest.LogCaptureFixture) -> None:
    backend = get_backend("unsafe-local")
    caplog.set_level(logging.WARNING, logger="workbench.sandbox")
    for _ in range(2):
        with pytest.warns(UnsafeSandboxWarning, match="WITHOUT a sandbox"):
            assert backend.run("1 + 1").value == 2
    assert [r.message for r in caplog.records] == [
        "unsafe-local runs code WITHOUT a sandbox: use it for trusted code only"
    ] * 2


def test_docker_without_an_engine_raises_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    # No docker service runs in this test's fresh home, and DOCKER_HOST is unset.
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    with pytest.raises(SandboxUnavailable) as caught:
        get_backend("docker")
    assert caught.value.code == "sandbox_unavailable"
    assert "`workbench services up docker`" in caught.value.message
    assert "no fallback" in caught.value.message
    # An address where nothing answers is refused the same way, with the address.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxUnavailable, match=re.escape("/nonexistent/docker.sock does not")):
        DockerBackend(pool_size=0)


def test_docker_without_the_image_says_how_to_build_it(docker: DockerBackend) -> None:
    with pytest.raises(SandboxUnavailable) as caught:
        DockerBackend(docker_host=docker.docker_host, image="workbench-sandbox:missing")
    assert caught.value.message == (
        f"the sandbox image workbench-sandbox:missing is not in the engine at "
        f"{docker.docker_host}: `workbench services up docker` builds it"
    )


def test_cli_exec_with_the_docker_backend(
    docker: DockerBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker.docker_host)
    script = tmp_path / "job.py"
    script.write_text("import os\nprint('hi')\n[os.getuid(), os.getcwd()]\n")
    ran = CliRunner().invoke(app, ["sandbox", "exec", "--backend", "docker", str(script)])
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.output)
    assert (result["backend"], result["stdout"], result["value"]) == (
        "docker",
        "hi\n",
        [65534, "/work"],
    )
