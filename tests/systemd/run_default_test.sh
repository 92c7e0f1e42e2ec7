#!/bin/bash
# The README's first command, packaging/run-default.sh, in a throw-away
# systemd container (container.sh), on this build directory (already built, so
# it only packages, installs and starts): memd.service runs the default
# machine, and the next commands it prints work. Dependencies are not
# installed (MEMD_NO_DEPS=1: the container has no network). Twice: the second
# run restarts memd. Writes go to the container's overlay, never to the host.
# usage: run_default_test.sh SOURCE_DIR BUILD_DIR      exit 0 pass, 1 fail, 77 skipped
set -euo pipefail
SRC=$(readlink -f "$1") BUILD=$(readlink -f "$2")
CT_TIMEOUT=400  # a step may rebuild what changed since the build (none in CI)
. "$(dirname "$0")/container.sh"

FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
CT_ON_EXIT=on_exit
on_exit() { ct_run systemctl stop memd.service memd.socket >/dev/null 2>&1; }

ct_preflight
ct_overlay "$SRC"
ct_overlay "$BUILD"
ct_boot

for run in first second; do
  rc=0
  out=$(ct_run env MEMD_NO_DEPS=1 MEMD_BUILD_DIR="$BUILD" "$SRC/packaging/run-default.sh" 2>&1) || rc=$?
  if [ $rc = 0 ]; then ok "run-default.sh ($run run)"; else
    fail "run-default.sh ($run run) exited $rc"
    echo "$out" | tail -n 30 | sed 's/^/  | /'
    continue
  fi
  for want in "/run/memd/proc" "cat /run/memd/proc/buddyinfo" "memctl alloc --order 3 --movable"; do
    grep -qF -- "$want" <<<"$out" && ok "it prints '$want'" || fail "it does not print '$want'"
  done
  [ "$(IN systemctl is-active memd.service)" = active ] && ok "memd.service is active" ||
    fail "memd.service is $(IN systemctl is-active memd.service)"
  IN grep -Eq "^Node 0, zone +DMA32" /run/memd/proc/buddyinfo && ok "cat /run/memd/proc/buddyinfo" ||
    fail "cat /run/memd/proc/buddyinfo"
  IN memctl alloc --order 3 --movable | grep -q Movable && ok "memctl alloc --order 3 --movable" ||
    fail "memctl alloc --order 3 --movable"
done
starts=$(IN journalctl -b -o cat -u memd.service | grep -c '^Emulating') || true  # 0: grep exits 1
[ "$starts" = 2 ] && ok "the second run restarted memd" ||
  { fail "memd started $starts times, not 2"; IN journalctl -b -o cat -u memd.service | sed 's/^/  | /'; }

if [ "$FAILS" = 0 ]; then echo "PASS: packaging/run-default.sh"; exit 0; fi
echo "FAILED: $FAILS check(s)"
exit 1
