# Shell helpers shared by the bench scripts (sourced, not run).

# wait_idle: with BENCH_WAIT_IDLE=S (seconds, default 0 = off), wait up to S
# seconds for the machine to be idle (< 5% of all CPU busy over 2 s) before a
# measurement, so other work on the machine does not skew it.
wait_idle() {
  local limit="${BENCH_WAIT_IDLE:-0}" start=$SECONDS a b busy total
  ((limit > 0)) || return 0
  while ((SECONDS - start < limit)); do
    read -r -a a < /proc/stat; sleep 2; read -r -a b < /proc/stat
    busy=$(( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) ))
    total=$(( busy + (b[4]+b[5]) - (a[4]+a[5]) ))
    ((total > 0 && busy * 100 < 5 * total)) && return 0
  done
  echo "warning: machine still busy after ${limit}s of waiting; measuring anyway" >&2
}
