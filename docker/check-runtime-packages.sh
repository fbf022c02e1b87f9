#!/usr/bin/env bash
# Checks that the runtime stage of docker/Dockerfile installs every Debian
# package that provides a shared library of the built binary (`ldd`), so that
# the image cannot miss one. No container engine is needed; run after a build:
#   bash docker/check-runtime-packages.sh [build/server/kairos]
# With --list it prints the runtime stage's packages instead (one a line).
set -euo pipefail
cd "$(dirname "$0")/.."
# Packages of the runtime stage: the apt-get install line(s) after the last
# FROM, comments left out.
listed="$(awk '/^FROM/{stage++} stage==2 && !/^ *#/' docker/Dockerfile | tr ' \\' '\n\n' \
  | grep -E '^lib[a-z0-9.+-]+$|^tzdata$' | sort -u)"
if [[ "${1:-}" == "--list" ]]; then
  echo "$listed"
  exit 0
fi
bin="${1:-build/server/kairos}"
# Packages owning the libraries the binary loads; the base image has libc6,
# libgcc-s1, libstdc++6 and zlib1g.
# (dpkg -S fails for the few paths it knows only under /lib: those are libc6's.)
needed="$(ldd "$bin" | awk '$3 ~ /^\// {print $3}' | xargs -n1 readlink -f | { xargs dpkg -S 2>/dev/null || true; } \
  | cut -d: -f1 | sort -u | grep -vE '^(libc6|libgcc-s1|libstdc\+\+6|zlib1g)$')"
missing="$(comm -23 <(echo "$needed") <(echo "$listed"))"
if [[ -n "$missing" ]]; then
  echo "docker/Dockerfile's runtime stage lacks: $missing" >&2
  exit 1
fi
echo "runtime stage installs every library package of $bin: $(echo $needed)"
