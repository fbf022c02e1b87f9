#!/usr/bin/env bash
# Instructions the server executes per single-activity workflow, counted by
# valgrind's callgrind: a figure that does not depend on the machine's load,
# so that a regression shows where CPU times are noisy. Each variant runs
# the server under callgrind twice, with a small and a larger number of
# workflows (loadgen, concurrency 10, SQLite file), and reports the
# difference per workflow, which cancels start-up and shutdown.
#   bash bench/instructions.sh                 # plain, then with three search attributes
#   INSTR_SMALL=100 INSTR_LARGE=400 bash bench/instructions.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${KAIROS_BIN:-$here/../build/server/kairos}"
small="${INSTR_SMALL:-100}"
large="${INSTR_LARGE:-400}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
(cd "$here/loadgen" && go build -o "$work/loadgen" .)

# instructions N FLAG: total instructions of a server that ran N workflows.
instructions() {
  local n=$1 flag=$2 port dir out
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  dir="$(mktemp -d -p "$work")"
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg" --dump-instr=no \
    "$bin" server start-dev --headless --port "$port" --db-filename "$dir/k.db" --log-level warn \
    >/dev/null 2>"$dir/valgrind.log" &
  local server=$!
  if ! "$work/loadgen" -address "127.0.0.1:$port" -workflows "$n" -concurrency 10 -timeout 900s "$flag" \
      >"$dir/loadgen.out" 2>&1; then
    echo "loadgen failed:" >&2; tail -5 "$dir/loadgen.out" >&2; exit 1
  fi
  grep -q '^errors: *0$' "$dir/loadgen.out" || { echo "workflows failed:" >&2; cat "$dir/loadgen.out" >&2; exit 1; }
  kill -TERM "$server"; wait "$server" || true
  sed -n 's/^summary: //p' "$dir/cg"
}

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  binary: $bin  workflows: $small and $large"
declare -A per
for variant in plain search-attributes; do
  flag=-search-attributes=false
  [[ $variant == search-attributes ]] && flag=-search-attributes
  a=$(instructions "$small" "$flag")
  b=$(instructions "$large" "$flag")
  per[$variant]=$(( (b - a) / (large - small) ))
  printf '%-34s %s\n' "instructions_per_workflow_$variant:" "${per[$variant]}"
done
printf '%-34s %s%%\n' "search_attribute_overhead:" \
  "$(python3 -c "print(round(100*(${per[search-attributes]}-${per[plain]})/${per[plain]}, 1))")"
