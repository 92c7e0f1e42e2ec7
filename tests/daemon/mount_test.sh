#!/usr/bin/env bash
# The mount: every file, its mode, size 0, the same bytes as `memd --print`
# and as `show`, one snapshot per open, and reads in any block size.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"

start_memd
FILES="buddyinfo pagetypeinfo zoneinfo vmstat meminfo extfrag_index unusable_index dmesg zonelists trace pageblocks.svg"

# The listing and the modes the kernel gives these files.
expect_eq "ls" "$(LC_ALL=C ls "$MNT" | tr '\n' ' ')" \
  "buddyinfo control dmesg extfrag_index meminfo memory node pageblocks.svg pagetypeinfo trace trace_pipe unusable_index vmstat zoneinfo zonelists "
for f in $FILES control trace_pipe; do
  want=0444
  case $f in pagetypeinfo | trace | trace_pipe) want=0400 ;; esac
  [ $f = control ] && want=0600
  expect_eq "mode of $f" "$(stat -c %a "$MNT/$f")" "${want#0}"
  expect_eq "size of $f" "$(stat -c %s "$MNT/$f")" 0
  expect_eq "owner of $f" "$(stat -c %u:%g "$MNT/$f")" "0:0"
done
expect_eq "root dir mode" "$(stat -c %a "$MNT")" 555
expect_eq "fs type" "$(awk -v m="$MNT" '$2 == m {print $3}' /proc/mounts)" "fuse.memd"

# Every file: not empty, identical to --print on the same fresh machine and to `show`.
for f in $FILES; do
  cat "$MNT/$f" >"$W/$f.mount" || fail "cat $f"
  [ -s "$W/$f.mount" ] || fail "$f is empty"
  "$MEMD" --config "$CONFIG" --print $f >"$W/$f.print" || fail "--print $f"
  cmp -s "$W/$f.mount" "$W/$f.print" || fail "$f differs from memd --print $f"
  reply=$(send "show $f")
  json 'r["text"]' "$reply" >"$W/$f.show"
  # print() adds a newline after the text
  head -c -1 "$W/$f.show" | cmp -s - "$W/$f.mount" || fail "show $f differs from the mount's $f"
  # Small reads see the same bytes.
  dd if="$MNT/$f" bs=7 status=none | cmp -s - "$W/$f.mount" || fail "$f read 7 bytes at a time differs"
done
head -n 1 "$W/buddyinfo.mount" | grep -Eq '^Node 0, zone +DMA( +[0-9]+){11} *$' || fail "buddyinfo line 1"
grep -q '^Free pages count per migrate type at order' "$W/pagetypeinfo.mount" || fail "pagetypeinfo header"
grep -q '^MemTotal:' "$W/meminfo.mount" || fail "meminfo MemTotal"
grep -qx '\[    0.000000\] Fallback order for Node 0: 0 ' "$W/dmesg.mount" || fail "dmesg: fallback order"
# The pageblock map is an SVG document (tests/daemon/pageblocks_svg_test.sh checks its content).
"$PY" -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot()
assert r.tag == "{http://www.w3.org/2000/svg}svg", r.tag' "$W/pageblocks.svg.mount" ||
  fail "pageblocks.svg is not SVG"
expect_eq "zonelists" "$(cat "$W/zonelists.mount")" \
  "Node 0 fallback: Normal/0 DMA32/0 DMA/0
Node 0 nofallback: Normal/0 DMA32/0 DMA/0"

# One snapshot per open: reading on after a change still shows the state at open.
exec 3<"$MNT/buddyinfo"
dd bs=20 count=1 status=none <&3 >"$W/snap"
echo "alloc order=0 gfp=GFP_KERNEL count=1000" >"$MNT/control" || fail "alloc"
cat <&3 >>"$W/snap"
exec 3<&-
cmp -s "$W/snap" "$W/buddyinfo.mount" || fail "an open buddyinfo changed under its reader"
cat "$MNT/buddyinfo" >"$W/buddyinfo.after" || fail "cat buddyinfo after the allocations"
cmp -s "$W/buddyinfo.after" "$W/buddyinfo.mount" && fail "a new open did not see the allocations"

# Nothing but control can be written; unknown names do not exist.
out=$( (echo x >"$MNT/buddyinfo") 2>&1) && fail "writing buddyinfo succeeded"
expect_contains "write buddyinfo" "$out" "Permission denied"
out=$(cat "$MNT/slabinfo" 2>&1) && fail "slabinfo exists"
expect_contains "cat slabinfo" "$out" "No such file or directory"
out=$(touch "$MNT/newfile" 2>&1) && fail "created a file in the mount"

# A failed allocation adds warn_alloc's report to dmesg, naming the task that
# wrote the command (this shell) as the kernel names `current`.
(echo "alloc order=10 gfp=GFP_KERNEL count=100000" >"$MNT/control") 2>/dev/null &&
  fail "100000 order-10 allocations from 4 GiB succeeded"
grep -q "^\[    0.000000\] bash: page allocation failure: order:10, mode:0xcc0(GFP_KERNEL), nodemask=(null),cpuset=/,mems_allowed=0\$" \
  "$MNT/dmesg" || fail "dmesg: no warn_alloc report naming bash"
grep -q '^\[    0.000000\] Node 0 Normal: ' "$MNT/dmesg" || fail "dmesg: no free lists in the report"

stop_memd
mounted && fail "still mounted after SIGTERM"

# A mount point that holds files is refused unless told (--nonempty or
# daemon.nonempty, as FUSE's nonempty), and then said in the log; directories
# memd creates (the socket's parents, the mount point) are said in the log too.
touch "$MNT/left-over"
rc=0
"$MEMD" --config "$CONFIG" --foreground --mount "$MNT" --socket "$SOCK" 2>"$W/refused.log" || rc=$?
expect_eq "exit status over a non-empty mount point" "$rc" 1
expect_contains "refusal" "$(cat "$W/refused.log")" \
  "$MNT: the mount point is not empty (1 entries); mount over it with --nonempty or daemon.nonempty = true"
mounted && fail "mounted over a non-empty directory"
: >"$LOG"
start_memd --nonempty
expect_contains "nonempty warning" "$(cat "$LOG")" \
  "<4>$MNT: mounting over a directory that is not empty (1 entries, hidden while memd runs; nonempty)"
[ -e "$MNT/left-over" ] && fail "the files under the mount show through"
stop_memd
printf '[daemon]\nstate_dir = ""\nnonempty = true\n' >"$CONFIG"
start_memd
stop_memd
rm "$MNT/left-over"
rmdir "$MNT"
SOCK=$W/run/a/memd.sock
: >"$LOG"
start_memd
expect_contains "created directories" "$(cat "$LOG")" "<5>created the missing directory $W/run (mode 0755)"
expect_contains "created directories" "$(cat "$LOG")" "<5>created the missing directory $W/run/a (mode 0755)"
expect_contains "created mount point" "$(cat "$LOG")" "<5>created the missing directory $MNT (mode 0755)"
stop_memd
exit 0
