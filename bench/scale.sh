#!/usr/bin/env bash
# Scale: N open workflows (default 1,000,000; SCALE_WORKFLOWS=N for fewer),
# each sleeping on a 1-30 day durable timer, in a fresh SQLite file. Prints
# the creation rate, RSS with all open, restart to serving, the lag of timers
# due now while they are pending, and the fresh-workflow rate against the
# empty server. Flags go to scalegen (-fresh, -lag-timers, -concurrency,
# -pollers, -db, -server-args); KAIROS_BIN overrides the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${KAIROS_BIN:-$here/../build/server/kairos}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$here/scalegen" && go build -o "$work/scalegen" .)
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$work/scalegen" -kairos-bin "$bin" -workflows "${SCALE_WORKFLOWS:-1000000}" "$@"
