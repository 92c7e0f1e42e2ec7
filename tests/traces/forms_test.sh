#!/usr/bin/env bash
# One recording of this kernel's kmem page events in every form memd reads
# (tests/traces/: the kernel's trace text, trace-cmd's trace.dat and its
# `trace-cmd report`; and a perf script recording), each plain and
# compressed with gzip, zstd or xz, replays to the same machine: identical
# buddyinfo and pagetypeinfo and identical event counts in the report. The
# events counted are checked against grep's count of event lines. Input with
# no mm_page_alloc or mm_page_free event (/dev/null, random bytes, plain
# text, a binary) is refused with exit status 1, saying what was read, and
# leaves memd's machine, and its replay for --continue, as they were.
# LIVE=1: records a new trace on this machine first (record_kmem.sh; skipped
# with exit 77 where tracefs or trace-cmd is missing) and checks that instead.
#   usage: forms_test.sh path/to/memd path/to/memctl
set -euo pipefail
MEMCTL=$(readlink -f "${2:?usage: $0 MEMD MEMCTL}")
FIX="$(cd "$(dirname "$0")" && pwd)"
. "$FIX/../daemon/lib.sh" "$@"

if [ "${LIVE:-0}" = 1 ]; then
  rc=0
  BUFFER_KB=16 "$FIX/record_kmem.sh" "$W/live" 100 || rc=$?
  [ "$rc" = 0 ] || exit "$rc"
  for f in ftrace report; do gzip -1 -c "$W/live/kmem.$f.txt" >"$W/live/kmem.$f.txt.gz"; done
  # perf records every CPU for as long as the workload runs: its first 2000 lines are plenty.
  if [ -f "$W/live/kmem.perf.txt" ]; then
    head -n 2000 "$W/live/kmem.perf.txt" | gzip -1 >"$W/live/kmem.perf.txt.gz"
  fi
  FIX="$W/live"
fi

# The forms: plain and compressed copies of each.
D="$W/forms"
mkdir -p "$D"
for f in ftrace report perf; do
  [ -f "$FIX/kmem.$f.txt.gz" ] && gzip -dc "$FIX/kmem.$f.txt.gz" >"$D/kmem.$f.txt"
done
cp "$FIX/kmem.dat" "$D/kmem.dat"
for f in "$D"/kmem.*; do
  gzip -kn -1 "$f"
  zstd -q -k "$f"
  xz -k -1 "$f"
done

# replay FILE: memd's batch mode (as `replay file=`); files in FILE.out, the
# report's event counters (not lines/ignored, which differ by form) in FILE.counts.
replay() {
  "$MEMD" --config "$CONFIG" --replay "$1" --print buddyinfo,pagetypeinfo >"$1.out" 2>"$1.err" ||
    fail "memd --replay $1: $(cat "$1.err")"
  grep -E '^  (events|applied|skipped|failed|realloc|free_order|malformed|trace_extfrag|emulator)' \
    "$1.err" >"$1.counts"
}
ref="$D/kmem.ftrace.txt"
replay "$ref"
want=$(grep -cE ': mm_page_(alloc|free): ' "$ref")
got=$(awk '$1 == "events" {print $2}' "$ref.counts")
[ "$got" = "$want" ] || fail "ftrace text: $got events replayed, grep counts $want"
[ "$want" -gt 100 ] || fail "the recording holds only $want events"
ref_events=$want
grep -qE '^  malformed_lines +0$' "$ref.err" || fail "malformed lines in $ref"
# Every compression of the trace.dat and the ftrace text; one of each other form.
for f in "$D"/kmem.{ftrace.txt,dat}{,.gz,.zst,.xz} "$D"/kmem.report.txt{,.xz}; do
  [ "$f" = "$ref" ] && continue
  replay "$f"
  cmp -s "$f.out" "$ref.out" || fail "$(basename "$f"): files differ from the ftrace text's"
  cmp -s "$f.counts" "$ref.counts" ||
    fail "$(basename "$f"): counts differ: $(diff "$ref.counts" "$f.counts" | head -5)"
done
echo "ok: $want events, same files and counts from ftrace text and trace.dat (plain/gz/zst/xz), report (plain/xz)"
if [ -f "$D/kmem.perf.txt" ]; then
  p="$D/kmem.perf.txt"
  replay "$p"
  want=$(grep -cE ' kmem:mm_page_(alloc|free): ' "$p")
  got=$(awk '$1 == "events" {print $2}' "$p.counts")
  [ "$got" = "$want" ] || fail "perf script: $got events replayed, grep counts $want"
  grep -qE '^  malformed_lines +0$' "$p.err" || fail "malformed lines in perf script text"
  for f in "$p".zst; do
    replay "$f"
    cmp -s "$f.out" "$p.out" || fail "$(basename "$f"): files differ from perf script's"
  done
  echo "ok: perf script, $want events, plain and zst"
fi

# --- no events: refused, exit 1, nothing changed ----------------------------------------------------
head -c 100000 /dev/urandom >"$W/random.bin"
printf 'hello\nworld\n' >"$W/plain.txt"
seq 12345 >"$W/numbers.txt"
: >"$W/empty"
# (/dev/null is not a regular file: `replay file=` refuses it, exit 1, before reading.)
rc=0
"$MEMD" --config "$CONFIG" --replay /dev/null 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "memd --replay /dev/null: exit $rc, wanted 1"
for f in "$W/empty" "$W/random.bin" "$W/plain.txt" "$W/numbers.txt" /bin/true; do
  rc=0
  "$MEMD" --config "$CONFIG" --replay "$f" --history "$W/bh.csv" --print buddyinfo >/dev/null \
    2>"$W/err" || rc=$?
  [ "$rc" = 1 ] || fail "memd --replay $f: exit $rc, wanted 1: $(cat "$W/err")"
  [ ! -e "$W/bh.csv" ] || fail "memd --replay $f left a history file"
  grep -qF 'no mm_page_alloc or mm_page_free events: not a kernel trace?' "$W/err" ||
    fail "memd --replay $f: $(cat "$W/err")"
done
"$MEMD" --config "$CONFIG" --replay "$W/numbers.txt" 2>"$W/err" && fail "numbers replayed"
grep -qF 'replay: 12,345 lines, no mm_page_alloc or mm_page_free events: not a kernel trace?' \
  "$W/err" || fail "the message does not say what was read: $(cat "$W/err")"

start_memd
mc() {
  RC=0
  "$MEMCTL" --socket "$SOCK" "$@" >"$W/out" 2>"$W/err" || RC=$?
}
files() { for f in buddyinfo pagetypeinfo zoneinfo vmstat; do cat "$MNT/$f"; done; }
# memctl reads every form on its side too: trace.dat compressed with zstd.
mc replay "$D/kmem.dat.zst"
[ "$RC" = 0 ] || fail "memctl replay kmem.dat.zst: exit $RC: $(cat "$W/err")"
{ echo "==> buddyinfo <=="; cat "$MNT/buddyinfo"; echo; echo "==> pagetypeinfo <=="; cat "$MNT/pagetypeinfo"; } >"$W/socket2.out"
cmp -s "$W/socket2.out" "$ref.out" || fail "memctl replay of kmem.dat.zst: files differ from memd --replay's"
# ... and from stdin (a pipe: memctl inflates the trace.dat into memory for libtracecmd).
mc reset
RC=0
"$MEMCTL" --socket "$SOCK" replay - <"$D/kmem.dat.xz" >"$W/out" 2>"$W/err" || RC=$?
[ "$RC" = 0 ] || fail "memctl replay - < kmem.dat.xz: exit $RC: $(cat "$W/err")"
{ echo "==> buddyinfo <=="; cat "$MNT/buddyinfo"; echo; echo "==> pagetypeinfo <=="; cat "$MNT/pagetypeinfo"; } >"$W/stdin.out"
cmp -s "$W/stdin.out" "$ref.out" || fail "memctl replay - of kmem.dat.xz: files differ from memd --replay's"
# A trace in two parts, an eventless replay between them: --continue goes on
# from the first part, so the end is the whole trace's.
mc reset
n=$(wc -l <"$ref")
head -n $((n / 2)) "$ref" >"$W/part1"
tail -n +$((n / 2 + 1)) "$ref" >"$W/part2"
mc replay "$W/part1"
[ "$RC" = 0 ] || fail "part 1: $(cat "$W/err")"
files >"$W/before"
for f in /dev/null "$W/random.bin" "$W/numbers.txt"; do
  mc replay "$f" --history "$W/h.csv"
  [ "$RC" = 1 ] || fail "memctl replay $f: exit $RC, wanted 1: $(cat "$W/err")"
  grep -qF 'no mm_page_alloc or mm_page_free events: not a kernel trace?' "$W/err" ||
    fail "memctl replay $f: $(cat "$W/err")"
  [ ! -e "$W/h.csv" ] || fail "memctl replay $f left a history file"
  files >"$W/after"
  cmp -s "$W/before" "$W/after" || fail "memctl replay $f changed the machine"
done
mc replay "$W/numbers.txt" --continue
[ "$RC" = 1 ] || fail "an eventless --continue part: exit $RC"
mc replay "$W/part2" --continue
[ "$RC" = 0 ] || fail "part 2 --continue after eventless replays: $(cat "$W/err")"
grep -qE "^  events +$ref_events$" "$W/out" ||
  fail "the continued report does not count $ref_events events: $(cat "$W/out")"
{ echo "==> buddyinfo <=="; cat "$MNT/buddyinfo"; echo; echo "==> pagetypeinfo <=="; cat "$MNT/pagetypeinfo"; } >"$W/parts.out"
cmp -s "$W/parts.out" "$ref.out" || fail "two parts around eventless replays do not end where the whole does"
echo "ok: eventless input refused with exit 1, machine and replay state unchanged"
echo "PASS"
