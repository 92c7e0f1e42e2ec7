#!/usr/bin/env bash
# Load on the socket while readers loop over the mount (load_test.py): a short
# run by default (about 30 s), MEMD_LONG=1 for five minutes and more clients.
# The machine has 1024 CPUs so that zoneinfo (what the slow readers ask for
# and never read) is megabytes: buffered replies would show in memd's memory.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
printf '[machine]\nsize = "4G"\ncpus = 1024\n[daemon]\nstate_dir = ""\n' >"$CONFIG"
start_memd
long=""
limit=150
if [ "${MEMD_LONG:-0}" = 1 ]; then long=--long; limit=900; fi
PYTHONPATH=$HERE timeout $limit "$PY" "$HERE/load_test.py" "$SOCK" "$MNT" "$MEMD_PID" $long ||
  fail "load_test.py"
kill -0 "$MEMD_PID" || fail "memd died under load"
stop_memd  # exit 0: under a sanitizer, a report would make it non-zero
grep -q "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer\|runtime error:" "$LOG" &&
  fail "sanitizer report in the log"
exit 0
