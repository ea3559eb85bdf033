#!/usr/bin/env bash
# Install the Debian packages the integration tests use, when they are missing.
# As root: apt-get install them.  Otherwise: say in one line what is missing; the tests that need
# it are then skipped (and fail under KHRONOS_REQUIRE_INTEGRATION=1).
set -euo pipefail

# command -> Debian package
declare -A NEEDED=(
  [sqlite3]=sqlite3
  [age]=age                          # snapshots: the reference age decrypts what Khronos stores
  [zstd]=zstd                        # snapshots: the reference zstd decompresses it
  [prometheus]=prometheus
  [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager
  [amtool]=prometheus-alertmanager
  [systemd-analyze]=systemd          # `systemd-analyze verify` checks khronos init's unit
  [docker-compose]=docker-compose   # `docker-compose config` checks khronos init's compose file
  [chromium]=chromium
)

missing=()
for cmd in "${!NEEDED[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEEDED[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing Debian packages (not root, not installed): ${missing[*]}; tests that need them will be skipped"
fi
