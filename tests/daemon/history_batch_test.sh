#!/usr/bin/env bash
# memd's batch mode (memd --replay TRACE --history FILE --print A,B,...) and
# the history it writes: the issue's check, that the rows at event K are the
# files after replaying exactly the trace's first K events (the prefix cut
# by tests/daemon/history_check.py, which counts events on its own); the
# --print list's format; usage errors. No mount, no socket: runs as any user.
#   usage: history_batch_test.sh path/to/memd path/to/build-sample.trace.gz
set -euo pipefail
MEMD=$(readlink -f "${1:?usage: $0 MEMD SAMPLE_TRACE}")
SAMPLE=$(readlink -f "${2:?usage: $0 MEMD SAMPLE_TRACE}")
CHECK="$(cd "$(dirname "$0")" && pwd)/history_check.py"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
W=$(mktemp -d /tmp/memd-history.XXXXXX)
trap 'rc=$?; rm -rf "$W"; [ $rc = 0 ] && echo "PASS: $(basename "$0")"; exit $rc' EXIT
fail() {
  echo "FAIL: $*"
  for f in "$W"/*.err; do [ -s "$f" ] && sed "s|^|  $(basename "$f"): |" "$f" | tail -n 5; done
  exit 1
}
# The default machine, whatever /etc/memd/memd.toml says.
CONFIG=$W/memd.toml
printf '[daemon]\nstate_dir = ""\n' >"$CONFIG"
FILES=buddyinfo,pagetypeinfo,unusable_index,zoneinfo

# --- the whole trace: history every 1000 events, and the files at the end -----------------------
"$MEMD" --config "$CONFIG" --replay "$SAMPLE" --history "$W/whole.csv" --print "$FILES" \
  >"$W/whole.out" 2>"$W/whole.err" || fail "memd --replay exited $?"
EVENTS=$("$PY" "$CHECK" count "$SAMPLE")
[ "$EVENTS" = 300000 ] || fail "the sample has $EVENTS event lines, wanted 300000"
# Rows at 0, every 1000 and the end (300000, a multiple): 301 samples of 3 zones, and the header.
[ "$(wc -l <"$W/whole.csv")" = $((1 + 301 * 3)) ] || fail "whole.csv has $(wc -l <"$W/whole.csv") lines"
"$PY" "$CHECK" rows "$W/whole.csv" "$EVENTS" "$W/whole.out" "$W/whole.err" || fail "rows at the end"

# --- rows at 1000 and 50000 events: the files after replaying exactly that prefix -------------
for k in 1000 50000; do
  "$PY" "$CHECK" cut "$SAMPLE" "$k" "$W/prefix.$k"
  "$MEMD" --config "$CONFIG" --replay "$W/prefix.$k" --print "$FILES" \
    >"$W/prefix.$k.out" 2>"$W/prefix.$k.err" || fail "memd --replay prefix.$k exited $?"
  "$PY" "$CHECK" rows "$W/whole.csv" "$k" "$W/prefix.$k.out" "$W/prefix.$k.err" ||
    fail "rows at event $k"
done
# ... and at a count that is no multiple: the last row of a prefix's own history.
"$PY" "$CHECK" cut "$SAMPLE" 1234 "$W/prefix.1234"
"$MEMD" --config "$CONFIG" --replay "$W/prefix.1234" --history "$W/p1234.csv" --every 500 \
  --print "$FILES" >"$W/p1234.out" 2>"$W/p1234.err" || fail "memd --replay prefix.1234"
[ "$(cut -d, -f1 "$W/p1234.csv" | uniq | tr '\n' ' ')" = "event 0 500 1000 1234 " ] ||
  fail "prefix.1234's rows: $(cut -d, -f1 "$W/p1234.csv" | uniq | tr '\n' ' ')"
"$PY" "$CHECK" rows "$W/p1234.csv" 1234 "$W/p1234.out" "$W/p1234.err" || fail "rows at event 1234"

# --- the report on stderr: memctl replay's text --------------------------------------------------
grep -Eq "^replayed $SAMPLE: 300000 lines in [0-9]+\.[0-9]{2} s$" "$W/whole.err" ||
  fail "the report's first line: $(head -n 1 "$W/whole.err")"
grep -Eq '^  events +300000$' "$W/whole.err" || fail "no events line in the report"
"$MEMD" --config "$CONFIG" --replay "$SAMPLE" >"$W/report.out" 2>"$W/report.err" ||
  fail "memd --replay without --print"
[ ! -s "$W/report.out" ] || fail "--replay without --print printed on stdout"
[ "$(tail -n +2 "$W/report.err")" = "$(tail -n +2 "$W/whole.err")" ] ||
  fail "the report differs with and without --history"

# --- --print: one file as before, several as head(1) prints them ------------------------------
"$MEMD" --config "$CONFIG" --print buddyinfo >"$W/one.out" 2>"$W/one.err" || fail "--print buddyinfo"
"$MEMD" --config "$CONFIG" --print zoneinfo >"$W/two.out" 2>"$W/two.err" || fail "--print zoneinfo"
head -c 10 "$W/one.out" | grep -q '^Node 0, z' || fail "--print buddyinfo: $(head -n 1 "$W/one.out")"
"$MEMD" --config "$CONFIG" --print buddyinfo,zoneinfo >"$W/both.out" 2>"$W/both.err" ||
  fail "--print buddyinfo,zoneinfo"
{ echo "==> buddyinfo <=="; cat "$W/one.out"; echo; echo "==> zoneinfo <=="; cat "$W/two.out"; } \
  >"$W/both.want"
cmp -s "$W/both.out" "$W/both.want" || fail "--print buddyinfo,zoneinfo is not head(1)'s format"

# --- usage errors (exit 2) and files that cannot be read or written (exit 1) --------------------
# expect RC TEXT ARGS...: memd ARGS exits RC and says TEXT on stderr.
expect() {
  local want=$1 text=$2 rc=0
  shift 2
  "$MEMD" --config "$CONFIG" "$@" >"$W/bad.out" 2>"$W/bad.err" || rc=$?
  [ "$rc" = "$want" ] || fail "memd $*: exit $rc, wanted $want"
  grep -qF -- "$text" "$W/bad.err" || fail "memd $*: stderr lacks [$text]: $(cat "$W/bad.err")"
  [ ! -s "$W/bad.out" ] || fail "memd $*: printed on stdout"
}
expect 2 "--every: Value 0 not in range" --replay "$SAMPLE" --history "$W/h.csv" --every 0
expect 2 "--every" --replay "$SAMPLE" --history "$W/h.csv" --every x
expect 2 "--history requires --replay" --history "$W/h.csv" --print buddyinfo
expect 2 "--every requires --history" --replay "$SAMPLE" --every 10
expect 2 "$W/missing.trace" --replay "$W/missing.trace" --print buddyinfo
expect 2 "unknown file 'nope'" --print buddyinfo,nope
expect 2 "unknown file ''" --print buddyinfo,
[ ! -e "$W/h.csv" ] || fail "a refused command created the history file"
expect 1 "--history: cannot write the history to $W/no/such/dir/h.csv" \
  --replay "$SAMPLE" --history "$W/no/such/dir/h.csv" --print buddyinfo
head -c 100000 "$SAMPLE" >"$W/cut.trace.gz"
expect 1 "cannot read the trace" --replay "$W/cut.trace.gz" --history "$W/cut.csv" --print buddyinfo
