#!/usr/bin/env bash
# Visibility at scale: fills a fresh Kairos (SQLite file) with closed and
# running workflows carrying three custom search attributes, then times
# filtered lists and counts and the CPU that search attributes add per
# workflow. Flags go to visgen (-closed, -running, -concurrency, -overhead,
# -repeats); KAIROS_BIN overrides the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${KAIROS_BIN:-$here/../build/server/kairos}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$here/visgen" && go build -o "$work/visgen" .)
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$work/visgen" -kairos-bin "$bin" "$@"
