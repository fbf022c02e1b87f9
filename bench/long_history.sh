#!/usr/bin/env bash
# Long histories: one workflow with 50,000 events (LONG_HISTORY_EVENTS=N for
# another length) in a fresh SQLite file; prints the cost of the first and
# the last history page, how a workflow task for an uncached worker pages
# the history, and what a sticky worker's next task carries. KAIROS_BIN
# overrides the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${KAIROS_BIN:-$here/../build/server/kairos}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$here/longhistory" && go build -o "$work/longhistory" .)
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$work/longhistory" -kairos-bin "$bin" -events "${LONG_HISTORY_EVENTS:-50000}" "$@"
