#!/usr/bin/env bash
# The socket protocol (socket_test.py), against a real memd.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
start_memd
SAMPLE=$(readlink -f "$HERE/../../../shared/traces/build-sample.trace.gz") || true
[ -f "$SAMPLE" ] || fail "no sample trace at $SAMPLE"
# socat, as a shell user would: one JSON line per command.
reply=$(send "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE")
[[ "$reply" =~ ^\{\"ok\":true,\"allocations\":\[\{\"id\":1,\"pfn\":\"0x[0-9a-f]+\",\"order\":3,\"zone\":\"Normal\",\"node\":0,\"migratetype\":\"Movable\"\}\]\}$ ]] ||
  fail "socat alloc: $reply"
expect_eq "socat bad input" "$(send "alloc order=3")" \
  '{"ok":false,"error":"alloc: missing gfp= (usage: alloc order=N gfp=FLAGS [node=N] [cpu=N] [count=N])","failure":"bad_input"}'
send "free all" >/dev/null
PYTHONPATH=$HERE timeout 100 "$PY" "$HERE/socket_test.py" "$SOCK" "$MNT" "$SAMPLE" || fail "socket_test.py"
stop_memd
exit 0
