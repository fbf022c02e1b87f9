#!/usr/bin/env bash
# Backlog: N activity tasks (default 1,000,000; BACKLOG_TASKS=N for fewer)
# queued in a fresh SQLite file while no activity worker polls, then a
# restart, then workers drain them. Prints the sync-match rate (the same
# workflows with their workers waiting), the RSS with the backlog queued,
# restart to serving, the drain rate against the sync-match rate, and how
# close to oldest first the tasks were handed out. Flags go to scalegen
# (-fresh: workflows of the sync phase, -concurrency, -pollers, -db,
# -server-args); KAIROS_BIN overrides the binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${KAIROS_BIN:-$here/../build/server/kairos}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$here/scalegen" && go build -o "$work/scalegen" .)
echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$work/scalegen" -kairos-bin "$bin" -backlog "${BACKLOG_TASKS:-1000000}" "$@"
