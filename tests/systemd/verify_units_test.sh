#!/bin/bash
# `systemd-analyze verify` of memd's units, with the built memd standing in for
# the installed one. verify exits 0 on unknown keys and unparsable values, so
# ANY output is a failure. Runs in a private mount namespace with a tmpfs on
# /run/systemd, so that nothing is left on the host.
# usage: verify_units_test.sh MEMD memd.service memd.socket
set -euo pipefail
MEMD=$(readlink -f "$1") SERVICE=$2 SOCKET=$3
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a private mount namespace)"; exit 77; }
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }
W=$(mktemp -d /tmp/memd-verify.XXXXXX)
trap 'rm -rf "$W"' EXIT
installed=$(sed -n 's|^ExecStart=\([^ ]*\).*|\1|p' "$SERVICE")
[ -n "$installed" ] || { echo "FAIL: no ExecStart= in $SERVICE"; exit 1; }
sed "s|^ExecStart=$installed|ExecStart=$MEMD|" "$SERVICE" >"$W/memd.service"
cp "$SOCKET" "$W/memd.socket"
rc=0
out=$(unshare --mount --propagation private -- sh -c \
  'mount -t tmpfs -o mode=0755 memd-verify /run/systemd && exec systemd-analyze verify "$1" "$2"' \
  sh "$W/memd.service" "$W/memd.socket" 2>&1) || rc=$?
if [ $rc != 0 ] || [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify memd.service memd.socket (exit $rc):"
  echo "$out" | sed 's/^/  | /'
  exit 1
fi
echo "PASS: systemd-analyze verify memd.service memd.socket: no output"
