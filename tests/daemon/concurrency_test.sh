#!/usr/bin/env bash
# Many clients and readers at once (concurrency_test.py), against a real memd.
# MEMD_TEST_SCALE (default 1) scales the work, e.g. 0.3 under TSan.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
start_memd
SAMPLE=$(readlink -f "$HERE/../../../shared/traces/build-sample.trace.gz") || true
[ -f "$SAMPLE" ] || fail "no sample trace at $HERE/../../../shared/traces/build-sample.trace.gz"
PYTHONPATH=$HERE timeout 110 "$PY" "$HERE/concurrency_test.py" "$SOCK" "$MNT" "$SAMPLE" \
  "${MEMD_TEST_SCALE:-1}" || fail "concurrency_test.py"
stop_memd  # exit 0: under a sanitizer, a report would make it non-zero
grep -q "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer\|runtime error:" "$LOG" &&
  fail "sanitizer report in the log"
exit 0
