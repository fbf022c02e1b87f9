#!/usr/bin/env bash
# Startup latency: time from exec of the server to its first SERVING answer to
# grpc.health.v1.Health/Check (service temporal.api.workflowservice.v1.WorkflowService),
# as measured by an external client (bench/healthprobe), repeated N times.
#
#   bash bench/startup.sh [kairos|temporal|both]    (default: both; temporal is skipped if not installed)
#
# Modes: kairos server start-dev in memory, with a fresh --db-filename, and
# `kairos start --data-dir` on a fresh dir; temporal server start-dev in
# memory and with a fresh --db-filename. Each repetition gets a fresh process,
# free port and empty temp dir; the probe retries every 0.5 ms on a new
# connection, and stops the server (SIGTERM) before the next repetition.
#
# Environment: STARTUP_RUNS (default 20), KAIROS_BIN, TEMPORAL_BIN (as in run.sh),
# BENCH_WAIT_IDLE=S (before each mode, wait up to S s for an idle machine).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
what="${1:-both}"
case "$what" in kairos|temporal|both) ;; *) echo "usage: $0 [kairos|temporal|both]" >&2; exit 2 ;; esac
runs="${STARTUP_RUNS:-20}"
kairos_bin="${KAIROS_BIN:-$repo/build/server/kairos}"
temporal_bin="${TEMPORAL_BIN:-$(command -v temporal || echo /tmp/tvenv/bin/temporal)}"

work="$(mktemp -d "${TMPDIR:-/tmp}/kairos-startup.XXXXXX")"
probe_pid=""
# The probe stops its server when it gets SIGINT/SIGTERM; it runs in the
# background so that a signal to this script reaches the trap at once.
cleanup() {
  if [[ -n "$probe_pid" ]]; then kill -TERM "$probe_pid" 2>/dev/null || true; wait "$probe_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
(cd "$here/healthprobe" && go build -o "$work/healthprobe" .)

# shellcheck source=lib.sh
source "$here/lib.sh"

summary=()
status=0
measure() {
  local label="$1"; shift
  local out="$work/out"
  wait_idle
  echo
  echo "=== $label: $runs starts ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load avg $(cut -d' ' -f1-3 /proc/loadavg)) ==="
  echo "command:  $*"
  echo "version:  $("$1" --version 2>&1 | head -n 1) (binary modified $(date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ))"
  # Each probe run is bounded: 60 s to serve, 15 s to stop, per repetition.
  local rc=0
  "$work/healthprobe" -repeat "$runs" -interval 500us -timeout 60s -log "$work/server.log" -label "$label" -- "$@" >"$out" &
  probe_pid=$!
  wait "$probe_pid" || rc=$?
  probe_pid=""
  if ((rc != 0)); then
    status=1
    echo "probe reported failures; server log tail:" >&2
    tail -n 20 "$work/server.log" | cut -c1-400 >&2
  fi
  echo "samples_ms: $(awk '$1=="sample_ms:"{printf "%s ", $2}' "$out")"
  grep -v '^sample_ms:' "$out"
  local v; v() { awk -v k="$1:" '$1==k{print $2}' "$out"; }
  summary+=("$(printf '%-36s %8s %8s %8s %8s %9s' "$label" "$(v startup_min_ms)" "$(v startup_median_ms)" \
    "$(v startup_max_ms)" "$(v failures)" "$(v stop_median_ms)")")
  : >"$work/server.log"
}

if [[ "$what" == kairos || "$what" == both ]]; then
  [[ -x "$kairos_bin" ]] || { echo "kairos binary not found: $kairos_bin (set KAIROS_BIN)" >&2; exit 1; }
  measure "kairos start-dev memory" "$kairos_bin" server start-dev --ip 127.0.0.1 --port '{port}' --headless --log-level warn
  measure "kairos start-dev file (fresh db)" "$kairos_bin" server start-dev --ip 127.0.0.1 --port '{port}' --headless \
    --log-level warn --db-filename '{dir}/kairos.db'
  measure "kairos start (fresh data dir)" "$kairos_bin" start --ip 127.0.0.1 --port '{port}' --log-level warn \
    --data-dir '{dir}/data'
fi
if [[ "$what" == temporal || "$what" == both ]]; then
  if [[ -x "$temporal_bin" ]]; then
    measure "temporal start-dev memory" "$temporal_bin" server start-dev --ip 127.0.0.1 --port '{port}' --headless \
      --log-level warn
    measure "temporal start-dev file (fresh db)" "$temporal_bin" server start-dev --ip 127.0.0.1 --port '{port}' \
      --headless --log-level warn --db-filename '{dir}/temporal.db'
  else
    echo "temporal binary not found ($temporal_bin): skipping (set TEMPORAL_BIN)" >&2
    [[ "$what" == temporal ]] && status=1
  fi
fi

echo
echo "=== summary: exec -> first SERVING health check, $runs runs each, ms ==="
printf '%-36s %8s %8s %8s %8s %9s\n' server min median max failures stop_med
printf '%s\n' "${summary[@]}"
exit "$status"
