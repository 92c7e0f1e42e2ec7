#!/usr/bin/env bash
# The kmem tracepoints through a real memd: the `trace` command and its bad
# input, the `trace` file, a reader blocked on trace_pipe woken by an event
# (with the task and pid of the client that caused it), and, in
# trace_test.py, non-blocking reads, lost events and the round trip through
# `memctl replay`.
#   usage: trace_test.sh path/to/memd path/to/memctl
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
MEMCTL=$(readlink -f "${2:?usage: $0 memd memctl}")

start_memd

# What is on, and the kernel's default buffer (trace_buf_size 1441792: 1410 KiB as read back).
r=$(send "trace")
expect_eq "trace" "$(json 'r["trace"]' "$r")" \
  "{'events': [], 'buffer_size_kb': 1410, 'entries': 0, 'overrun': 0}"

# Bad input: clear errors, and the machine and the settings unchanged.
cat "$MNT/buddyinfo" >"$W/buddyinfo.before"
for bad in "trace on bogus" "trace on" "trace buffer_size_kb=0" "trace buffer_size_kb=99999999999" \
  "trace frob" "trace on mm_page_alloc x=1" "trace buffer_size_kb=-1" "trace on mm_page_alloc;ls"; do
  r=$(send "$bad")
  expect_eq "$bad: ok" "$(json 'r["ok"]' "$r")" False
done
expect_contains "unknown event" "$(send "trace on mm_page_alloc,bogus")" \
  "trace on: unknown event 'bogus' (events: mm_page_alloc, mm_page_free, mm_page_free_batched, mm_page_alloc_zone_locked, mm_page_pcpu_drain, mm_page_alloc_extfrag, or all)"
expect_contains "size 0" "$(send "trace buffer_size_kb=0")" "needs at least 1 KiB"
expect_contains "size absurd" "$(send "trace buffer_size_kb=99999999999")" "more than memd allows"
r=$(send "trace")
expect_eq "trace after bad input" "$(json 'r["trace"]' "$r")" \
  "{'events': [], 'buffer_size_kb': 1410, 'entries': 0, 'overrun': 0}"
cat "$MNT/buddyinfo" | cmp -s - "$W/buddyinfo.before" || fail "bad trace commands changed the machine"

# `trace on` twice is what writing 1 to an enable file twice is: no change, no error.
send "trace on mm_page_alloc,kmem:mm_page_alloc_extfrag" >/dev/null
r=$(send "trace on mm_page_alloc")
expect_eq "trace on twice" "$(json 'r["trace"]["events"]' "$r")" \
  "['mm_page_alloc', 'mm_page_alloc_extfrag']"

# A reader blocked on trace_pipe (the mount's workers stay free: the
# buddyinfo read below answers) is woken by the allocation that follows.
# One read(2), as the kernel's trace_pipe answers it: what is there once something is.
timeout 20 dd if="$MNT/trace_pipe" bs=65536 count=1 status=none >"$W/first" &
READER=$!
PIDS="$PIDS $READER"
sleep 0.5
kill -0 $READER 2>/dev/null || fail "the trace_pipe reader did not wait for an event"
cat "$MNT/buddyinfo" >/dev/null || fail "the mount does not answer while a reader waits"
r=$(send "alloc order=0 gfp=GFP_HIGHUSER_MOVABLE")
pfn=$(json 'r["allocations"][0]["pfn"]' "$r")
wait $READER || fail "the trace_pipe reader failed"
line=$(head -n 1 "$W/first")
echo "$line" | grep -Eq '^ +socat-[0-9]+ +\[000\] \.\.\.\.\. +[0-9]+\.[0-9]{6}: mm_page_alloc: page=ffffea[0-9a-f]{10} pfn='"$pfn"' order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE$' ||
  fail "trace_pipe line: [$line]"

# The control file's events are its writer's (this shell, whose builtin echo writes).
echo "alloc order=1 gfp=GFP_HIGHUSER_MOVABLE cpu=1" >"$MNT/control"
grep -Eq "^ +bash-$$ +\[001\] \.\.\.\.\. .*mm_page_alloc: .* order=1 " "$MNT/trace" ||
  fail "the control file's event: $(tail -n 2 "$MNT/trace")"
# The trace file: the kernel's header, events not consumed by reading it.
head -n 3 "$MNT/trace" >"$W/head"
expect_eq "trace header" "$(cat "$W/head")" "# tracer: nop
#
# entries-in-buffer/entries-written: 1/1   #P:2"
grep -c mm_page_alloc "$MNT/trace" >/dev/null
expect_eq "trace unread" "$(grep -c 'mm_page_alloc: ' "$MNT/trace" || true)" 1
expect_eq "memctl trace" "$("$MEMCTL" --socket "$SOCK" trace)" "events on: mm_page_alloc mm_page_alloc_extfrag
buffer_size_kb: 1410
entries-in-buffer/entries-written: 1/1"
expect_eq "memctl trace bad" "$("$MEMCTL" --socket "$SOCK" trace on nope 2>&1 || echo "rc=$?")" \
  "memctl: trace on: unknown event 'nope' (events: mm_page_alloc, mm_page_free, mm_page_free_batched, mm_page_alloc_zone_locked, mm_page_pcpu_drain, mm_page_alloc_extfrag, or all)
rc=2"

"$PY" "$HERE/trace_test.py" "$SOCK" "$MNT" "$MEMCTL" "$W" || fail "trace_test.py"

# A reader that never reads does not stop memd from stopping.
exec 4<"$MNT/trace_pipe"
stop_memd
exec 4<&-
