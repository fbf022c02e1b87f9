#!/usr/bin/env bash
# Installs everything Kairos needs on a fresh Debian machine and builds it:
# Debian packages (compiler toolchain, gRPC, Protobuf, SQLite, spdlog, Abseil + tzdata,
# Catch2, CLI11, cpp-httplib and nlohmann-json for the HTTP API, Chromium for the
# Web UI test, Prometheus's Python parser and the openssl CLI for the metrics and TLS
# tests), the npm, Go and Python modules of the end-to-end tests, then the
# release build in ./build. Idempotent: a second run only rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build ccache pkg-config
          libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
          libsqlite3-dev libspdlog-dev catch2 libcli11-dev libabsl-dev libjemalloc-dev tzdata python3-venv
          libcpp-httplib-dev nlohmann-json3-dev chromium
          python3-prometheus-client openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

command -v go >/dev/null || { echo "Go is required for the end-to-end tests (https://go.dev/dl)"; exit 1; }
command -v npm >/dev/null || { echo "Node.js and npm are required for the TypeScript tests"; exit 1; }

(cd tests/e2e/go && go mod download)
(cd bench/loadgen && go mod download)
(cd tests/e2e/ts && npm ci --no-audit --no-fund --loglevel=error)
# The Python SDK suite runs in its own virtual environment, pinned by its
# requirements file.
command -v python3 >/dev/null || { echo "Python 3 is required for the Python SDK tests"; exit 1; }
[ -x tests/e2e/py/.venv/bin/python ] || python3 -m venv tests/e2e/py/.venv
tests/e2e/py/.venv/bin/pip install -q --disable-pip-version-check -r tests/e2e/py/requirements.txt

# Relative paths and no working directory in the hash: the sanitizer build
# and clones elsewhere reuse what ccache holds.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
