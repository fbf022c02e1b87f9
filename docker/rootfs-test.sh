#!/usr/bin/env bash
# The container test without a container engine: builds the runtime root
# filesystem of docker/Dockerfile from Debian's packages (debootstrap of
# bookworm, minbase as in bookworm-slim, plus the runtime stage's package
# list), puts the built binary in it, runs `kairos start` there under chroot
# as the image's non-root user with the image's arguments, passes the
# image's HEALTHCHECK command (run inside the root filesystem) and runs a
# workflow through it with the Go SDK. A missing runtime library fails the
# start; a missing tool fails the health check.
#
#   sudo bash docker/rootfs-test.sh [build/server/kairos]
#
# Needs root (debootstrap, chroot) and debootstrap (apt-get install
# debootstrap); downloads about 60 MB from deb.debian.org the first time
# (the root filesystem is kept in $ROOTFS, default /var/tmp/kairos-rootfs).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(readlink -f "${1:-build/server/kairos}")"
rootfs="${ROOTFS:-/var/tmp/kairos-rootfs}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

packages="$(bash docker/check-runtime-packages.sh --list | paste -sd, -)"
if [[ ! -x "$rootfs/usr/bin/bash" || "$(cat "$rootfs/.kairos-packages" 2>/dev/null)" != "$packages" ]]; then
  rm -rf "$rootfs"
  echo "debootstrap bookworm (minbase) + $packages into $rootfs"
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" > "$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log"; exit 1; }
  echo "$packages" > "$rootfs/.kairos-packages"
fi

# As the runtime stage: the user, the data directory, the (stripped) binary.
chroot "$rootfs" id kairos > /dev/null 2>&1 \
  || chroot "$rootfs" useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin kairos
rm -rf "$rootfs/data" && mkdir -p "$rootfs/data" && chown 10001:10001 "$rootfs/data"
install -m 0755 "$bin" "$rootfs/usr/local/bin/kairos"
strip "$rootfs/usr/local/bin/kairos"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); ui=$(free_port); metrics=$(free_port)
# The image's ENTRYPOINT and CMD, with free ports on loopback (chroot shares
# this machine's network) instead of 0.0.0.0 and the fixed ports.
log="$(mktemp)"
chroot --userspec=10001:10001 "$rootfs" /usr/local/bin/kairos start --ip 127.0.0.1 --port "$port" \
  --ui-port "$ui" --metrics-port "$metrics" --data-dir /data --allow-insecure > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT

# The Dockerfile's HEALTHCHECK, port substituted, run inside the root
# filesystem, retried as Docker would during its start period.
check="$(grep -A1 '^HEALTHCHECK' docker/Dockerfile | tail -1 | sed -E 's/.*"-c", "(.*)"\]$/\1/; s/\\\\/\\/g' \
  | sed "s#/9090#/$metrics#")"
healthy=""
for _ in $(seq 50); do
  if chroot --userspec=10001:10001 "$rootfs" bash -c "$check" 2> /dev/null; then healthy=1; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$healthy" ]]; then
  echo "FAIL: the health check did not pass; server output:" >&2
  cat "$log" >&2
  exit 1
fi
echo "health check passed (kairos start as uid 10001 in $rootfs)"
sed -n '1,4p' "$log"

# A workflow through it, with the Go SDK.
(cd tests/e2e/go && KAIROS_EXTERNAL_ADDR="127.0.0.1:$port" go test -count=1 -run '^TestExternalServerRunsAWorkflow$' -v . \
  | grep -E '^(--- |ok|FAIL)')
echo "PASS: the runtime root filesystem runs Kairos"
