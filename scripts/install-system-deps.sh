#!/usr/bin/env bash
# System packages the tests need. Installs with apt-get only when running as root and
# a piece is missing; otherwise says what is missing and fails.
set -euo pipefail
need=()
# cmake and a C++ compiler build llama-cpp-python (the local model server) from source.
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v g++ >/dev/null 2>&1 || need+=(g++)
# bubblewrap is the default code sandbox (workbench/sandbox); it runs the system python3.
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
[ -x /usr/bin/python3 ] || need+=(python3-minimal)
# redis-server backs the shared rate limiter and budget ledger (`workbench services up redis`).
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# prometheus (and promtool) scrape `workbench serve` and check its alert rules
# (`workbench services up prometheus`, tests/server).
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
# postgresql: the shared checkpointer and journal for workers on several machines
# (`workbench services up postgres`).
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
# Debian's Chromium runs the real-browser test (Playwright drives it; no browser download).
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (install them, or run as root)" >&2
  exit 1
fi
echo "installing system packages: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
