#!/usr/bin/env bash
# Obtains the built Temporal Web UI from the pinned Go module
# github.com/temporalio/ui-server/v2 through the Go module proxy, into a module
# cache outside the source tree (GOMODCACHE=CACHE_DIR/gomod). Go verifies the
# module against go.sum's public checksum database. Idempotent: a cached
# module is not downloaded again.
#
#   fetch_ui_assets.sh VERSION CACHE_DIR
# Prints the directory holding the UI's index.html and _app/.
set -euo pipefail
version="$1"
cache="$2"
modcache="$cache/gomod"
dir="$modcache/github.com/temporalio/ui-server/v2@$version"
if [ ! -f "$dir/ui/assets/local/index.html" ]; then
  command -v go >/dev/null || { echo "go is needed to fetch the Web UI module" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && GOMODCACHE="$modcache" GOFLAGS=-mod=mod go mod download -json \
      "github.com/temporalio/ui-server/v2@$version" >/dev/null)
fi
[ -f "$dir/ui/assets/local/index.html" ] || { echo "no ui/assets/local/index.html in ui-server $version" >&2; exit 1; }
printf '%s' "$dir/ui/assets/local"
