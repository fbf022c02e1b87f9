#!/usr/bin/env bash
# Retention soak: SOAK_WORKFLOWS short workflows (default 100,000) through an
# in-memory Kairos dev server whose retention is a few seconds, in chunks of
# SOAK_CHUNK (default 10,000) on one task queue. Prints the server's RSS after
# each chunk and, at the end, the ratio of the final RSS to the RSS after the
# first chunk; the soak passes when it is within 20% (exit 1 otherwise).
#
#   bash bench/soak.sh
#   SOAK_WORKFLOWS=20000 SOAK_RETENTION_MS=1000 bash bench/soak.sh
#
# Environment:
#   SOAK_WORKFLOWS      total workflows                       (default 100000)
#   SOAK_CHUNK          workflows per chunk (RSS sampled after each)  (default 10000)
#   SOAK_CONCURRENCY    workflows in flight at most           (default 100)
#   SOAK_RETENTION_MS   --retention-override-ms of the server (default 2000)
#   KAIROS_BIN          default <repo>/build/server/kairos
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
total="${SOAK_WORKFLOWS:-100000}"
chunk="${SOAK_CHUNK:-10000}"
concurrency="${SOAK_CONCURRENCY:-100}"
retention_ms="${SOAK_RETENTION_MS:-2000}"
kairos_bin="${KAIROS_BIN:-$repo/build/server/kairos}"
[[ -x "$kairos_bin" ]] || { echo "kairos binary not found: $kairos_bin (set KAIROS_BIN)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kairos-soak.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$here/loadgen" && go build -o "$work/loadgen" .)
(cd "$here/healthprobe" && go build -o "$work/healthprobe" .)

rss_mb() { awk '/^VmRSS:/{printf "%.1f", $2/1024}' "/proc/$server_pid/status"; }

port="$("$work/healthprobe" -free-port)"
cmd=("$kairos_bin" server start-dev --ip 127.0.0.1 --port "$port" --headless --log-level warn
     --retention-override-ms "$retention_ms" --retention-interval-ms 200)
echo "command:  ${cmd[*]}"
echo "load:     $total workflows in chunks of $chunk, concurrency $concurrency, retention ${retention_ms} ms" \
     "($(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load avg $(cut -d' ' -f1-3 /proc/loadavg))"
"${cmd[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
"$work/healthprobe" -address "127.0.0.1:$port" -timeout 60s >/dev/null
echo "rss_at_start_mb:        $(rss_mb)"

done_count=0
first_rss=""
printf '%-10s %10s %10s %8s\n' "workflows" "wf/s" "rss_mb" "errors"
while ((done_count < total)); do
  n=$(( total - done_count < chunk ? total - done_count : chunk ))
  "$work/loadgen" -address "127.0.0.1:$port" -workflows "$n" -concurrency "$concurrency" \
    -task-queue soak -timeout 600s >"$work/chunk.out"
  done_count=$((done_count + n))
  rss="$(rss_mb)"
  [[ -n "$first_rss" ]] || first_rss="$rss"
  printf '%-10s %10s %10s %8s\n' "$done_count" "$(awk '$1=="workflows_per_sec:"{print $2}' "$work/chunk.out")" \
    "$rss" "$(awk '$1=="errors:"{print $2}' "$work/chunk.out")"
done
# Let retention catch up with the last chunk, then sample once more.
sleep $(( retention_ms / 1000 + 2 ))
end_rss="$(rss_mb)"
peak="$(awk '/^VmHWM:/{printf "%.1f", $2/1024}' "/proc/$server_pid/status")"
ratio="$(awk -v a="$end_rss" -v b="$first_rss" 'BEGIN{printf "%.3f", a/b}')"
echo "rss_after_first_chunk_mb: $first_rss"
echo "rss_at_end_mb:            $end_rss"
echo "rss_peak_mb:              $peak"
echo "end_over_first:           $ratio"
if grep -qiE 'error|critical' "$work/server.log"; then
  echo "server logged errors:"; grep -iE 'error|critical' "$work/server.log" | head -n 5 | cut -c1-300
fi
awk -v r="$ratio" 'BEGIN{exit !(r <= 1.2)}' && echo "result:                   PASS (within 20%)" || {
  echo "result:                   FAIL (more than 20% growth)"; exit 1; }
