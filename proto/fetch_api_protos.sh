#!/usr/bin/env bash
# Obtains Temporal's public API .proto files from the pinned npm package
# @temporalio/core-bridge and unpacks only the proto trees into a cache
# directory outside the source tree. Idempotent: a populated cache is reused.
#
#   fetch_api_protos.sh VERSION CACHE_DIR
# Prints the directory that holds api_upstream/ and grpc/.
set -euo pipefail
version="$1"
cache="$2"
dest="$cache/core-bridge-$version"
stamp="$dest/.complete"
if [ ! -f "$stamp" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "@temporalio/core-bridge@$version" >/dev/null 2>&1)
  tarball=$(ls "$tmp"/temporalio-core-bridge-*.tgz)
  rm -rf "$dest" && mkdir -p "$dest"
  tar -xzf "$tarball" -C "$tmp" \
    package/sdk-core/crates/protos/protos/api_upstream \
    package/sdk-core/crates/protos/protos/grpc
  mv "$tmp/package/sdk-core/crates/protos/protos/api_upstream" "$dest/"
  mv "$tmp/package/sdk-core/crates/protos/protos/grpc" "$dest/"
  touch "$stamp"
fi
printf '%s' "$dest"
