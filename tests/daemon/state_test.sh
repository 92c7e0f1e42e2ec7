#!/usr/bin/env bash
# State that survives a restart, against real memds: SIGTERM then a restart
# gives the same files byte for byte, the same ids and pfns, and the same next
# allocation as a twin that never stopped; foreign and damaged state files are
# moved aside and memd boots fresh; kill -9 comes back to the last clean stop;
# a full disk or read-only state directory is a clear error that leaves the
# previous file intact; `snapshot save/load` on the socket (state_socket_test.py).
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
SAMPLE=$(readlink -f "$HERE/../../../shared/traces/build-sample.trace.gz") || true
[ -f "$SAMPLE" ] || fail "no sample trace at $SAMPLE"
STATE=$W/state
FILES="buddyinfo pagetypeinfo zoneinfo vmstat meminfo extfrag_index unusable_index"

# start_twin: a second memd that keeps no state, on $W/twin.*.
start_twin() {
  mkdir -p "$W/twin.mnt"
  "$MEMD" --config "$CONFIG" --foreground --mount "$W/twin.mnt" --socket "$W/twin.sock" \
    --no-state 2>>"$W/twin.log" &
  TWIN_PID=$!
  PIDS="$PIDS $TWIN_PID"
  for _ in $(seq 200); do
    grep -q "Emulating" "$W/twin.log" && [ -e "$W/twin.mnt/control" ] && return 0
    kill -0 "$TWIN_PID" 2>/dev/null || fail "the twin exited: $(tail -3 "$W/twin.log")"
    sleep 0.05
  done
  fail "the twin is not ready after 10 s"
}
# restart [FLAGS...]: memd on $MNT and $SOCK with the state in $STATE, a fresh log.
restart() {
  : >"$LOG"
  start_memd --state-dir "$STATE" "$@"
}
# One command on a socket: sendto SOCK CMD. memd hangs up once it has
# replied; the timeout only bounds a replay of the whole sample trace under a
# sanitizer on a busy machine (several seconds).
sendto() { printf '%s\n' "$2" | socat -t60 - "UNIX-CONNECT:$1"; }
ok_on() {
  local r
  r=$(sendto "$1" "$2")
  case "$r" in '{"ok":true'*) printf '%s' "$r" ;; *) fail "$2 on $1: $r" ;; esac
}
# snapshot_files DIR MOUNT: copies every file of the mount into DIR.
snapshot_files() {
  mkdir -p "$1"
  for f in $FILES; do cat "$2/$f" >"$1/$f" || fail "reading $2/$f"; done
}
same_files() {  # same_files WHAT DIR1 DIR2
  for f in $FILES; do cmp -s "$2/$f" "$3/$f" || fail "$1: $f differs ($(diff "$2/$f" "$3/$f" | head -4))"; done
}
live() { json 'r["live_allocations"]' "$(sendto "${1:-$SOCK}" status)"; }
# stop_expect RC: SIGTERM, and memd must exit with RC within 10 s.
stop_expect() {
  kill -TERM "$MEMD_PID"
  for _ in $(seq 200); do kill -0 "$MEMD_PID" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$MEMD_PID" 2>/dev/null && fail "memd still runs 10 s after SIGTERM"
  local rc=0
  wait "$MEMD_PID" || rc=$?
  expect_eq "exit status after SIGTERM" $rc "$1"
  mounted && fail "still mounted after SIGTERM"
  [ -e "$SOCK" ] && fail "socket left after SIGTERM"
  return 0
}
kill9() {
  kill -9 "$MEMD_PID"
  wait "$MEMD_PID" 2>/dev/null || true  # 137
}

# --- --print and the flags never touch the state ------------------------------------------------
"$MEMD" --config "$CONFIG" --state-dir "$W/print-state" --print buddyinfo >/dev/null || fail "--print"
[ -e "$W/print-state" ] && fail "--print created the state directory"
rc=0
out=$("$MEMD" --config "$CONFIG" --state-dir "$STATE" --no-state --print buddyinfo 2>&1) || rc=$?
expect_eq "--state-dir with --no-state" $rc 2
expect_contains "--state-dir with --no-state" "$out" "excludes"

# --- a workload, on memd (with state) and on its twin (without) ---------------------------------
start_memd --state-dir "$STATE"
grep -q "$STATE/memd.state: no saved machine yet; starting a fresh one" "$LOG" || fail "first start"
start_twin
for s in "$SOCK" "$W/twin.sock"; do
  ok_on "$s" "replay file=$SAMPLE" >/dev/null
  ok_on "$s" "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE count=50" >"$s.alloc3"
  ok_on "$s" "alloc order=0 gfp=GFP_KERNEL count=500 cpu=1" >"$s.alloc0"
  ok_on "$s" "alloc order=2 gfp=GFP_KERNEL|__GFP_RECLAIMABLE count=40" >/dev/null
  ok_on "$s" "sysctl min_free_kbytes=90000" >/dev/null
  ok_on "$s" "sysctl watermark_scale_factor=40" >/dev/null
  ids=$(json '" ".join("id=%d" % a["id"] for a in r["allocations"][10:13])' "$(cat "$s.alloc0")")
  ok_on "$s" "free $ids cpu=1" >/dev/null  # onto cpu 1's per-cpu lists
done
cmp -s "$SOCK.alloc3" "$W/twin.sock.alloc3" || fail "the twins allocated differently (test premise)"
snapshot_files "$W/before" "$MNT"
snapshot_files "$W/twin-before" "$W/twin.mnt"
same_files "twins before the restart" "$W/before" "$W/twin-before"
LIVE=$(live)
[ "$LIVE" -gt 100000 ] || fail "the workload left only $LIVE allocations"

# --- SIGTERM saves; the restart restores the same machine ---------------------------------------
stop_memd
grep -q "saved the machine ($LIVE allocations, [0-9]* bytes) to $STATE/memd.state" "$LOG" ||
  fail "no 'saved' line in the log"
expect_eq "state file mode" "$(stat -c %a "$STATE/memd.state")" 600
expect_eq "state dir mode" "$(stat -c %a "$STATE")" 700
[ -e "$STATE/memd.state.new" ] && fail "the temporary file was left"
cp "$STATE/memd.state" "$W/good.state"
restart
grep -q "Emulating .*; restored $LIVE allocations from $STATE/memd.state" "$LOG" ||
  fail "no 'restored' in the ready line"
expect_eq "live allocations after the restart" "$(live)" "$LIVE"
snapshot_files "$W/after" "$MNT"
same_files "after the restart" "$W/before" "$W/after"
same_files "against the twin" "$W/after" "$W/twin-before"
expect_eq "sysctl after the restart" "$(json 'r["sysctl"]' "$(send "sysctl min_free_kbytes")")" \
  "{'min_free_kbytes': 90000}"
# The same ids and pfns, and the same next allocations, as the twin that never stopped.
ID3=$(json 'r["allocations"][7]["id"]' "$(cat "$SOCK.alloc3")")
ID0=$(json 'r["allocations"][123]["id"]' "$(cat "$SOCK.alloc0")")
expect_eq "free id=$ID3 (pfn as before)" "$(json 'r["freed"][0]' "$(send "free id=$ID3")")" \
  "$(json 'r["allocations"][7]' "$(cat "$SOCK.alloc3")")"
ok_on "$W/twin.sock" "free id=$ID3" >/dev/null
for cmd in "free id=$ID0 cpu=1" "alloc order=0 gfp=GFP_KERNEL count=3 cpu=1" \
  "alloc order=4 gfp=GFP_HIGHUSER_MOVABLE" "alloc order=10 gfp=GFP_KERNEL count=2"; do
  # ok_on: two identical refusals (say, of an empty id) must not pass as agreement.
  expect_eq "$cmd: restarted memd vs its twin" "$(ok_on "$SOCK" "$cmd")" "$(ok_on "$W/twin.sock" "$cmd")"
done
snapshot_files "$W/after2" "$MNT"
snapshot_files "$W/twin-after2" "$W/twin.mnt"
same_files "twins after more work" "$W/after2" "$W/twin-after2"
expect_eq "check after the restart" "$(send check)" '{"ok":true,"problems":[]}'
kill -TERM "$TWIN_PID"; wait "$TWIN_PID" || fail "the twin exited non-zero"
grep -q "saved the machine" "$W/twin.log" && fail "the twin (--no-state) saved something"

# --- a second memd on the same state directory neither restores nor saves -----------------------
"$MEMD" --config "$CONFIG" --foreground --mount "$W/second.mnt" --socket "$W/second.sock" \
  --state-dir "$STATE" 2>"$W/second.log" &
SECOND=$!
PIDS="$PIDS $SECOND"
for _ in $(seq 200); do [ -e "$W/second.mnt/control" ] && grep -q Emulating "$W/second.log" && break; sleep 0.05; done
grep -q "$STATE: another memd uses this state directory; this memd neither restores nor saves" \
  "$W/second.log" || fail "second memd on the state dir: $(cat "$W/second.log")"
expect_eq "second memd is fresh" "$(live "$W/second.sock")" 0
kill -TERM "$SECOND"; wait "$SECOND" || fail "the second memd exited non-zero"
grep -q "saved the machine" "$W/second.log" && fail "the second memd saved"
stop_memd
cp "$STATE/memd.state" "$W/good2.state"

# --- a foreign state file: warning, moved aside, fresh machine ------------------------------------
cp "$W/good.state" "$STATE/memd.state"
restart --cpus 4
grep -q "<4>$STATE/memd.state: state refused: it was saved from a machine with a different configuration; moved it to $STATE/memd.state.rejected; starting a fresh machine" \
  "$LOG" || fail "foreign state: $(cat "$LOG")"
expect_eq "fresh after a foreign state" "$(live)" 0
cmp -s "$STATE/memd.state.rejected" "$W/good.state" || fail "the rejected file is not the foreign one"
[ -e "$STATE/memd.state" ] && fail "the foreign file was left in place"
stop_memd

# --- damaged state files: warning, moved aside, fresh machine -------------------------------------
damage() {  # damage HOW REASON
  case $1 in
    truncate) head -c -100 "$W/good.state" >"$STATE/memd.state" ;;
    flip) "$PY" -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); d[len(d)//2]^=4; open(sys.argv[2],"wb").write(d)' \
      "$W/good.state" "$STATE/memd.state" ;;
    garbage) printf 'hello\n' >"$STATE/memd.state" ;;
    empty) : >"$STATE/memd.state" ;;
  esac
  cp "$STATE/memd.state" "$W/damaged"
  restart
  grep -q "$STATE/memd.state: state refused: $2.*; moved it to $STATE/memd.state.rejected; starting a fresh machine" \
    "$LOG" || fail "$1: $(cat "$LOG")"
  expect_eq "$1: fresh machine" "$(live)" 0
  expect_eq "$1: check" "$(send check)" '{"ok":true,"problems":[]}'
  cmp -s "$STATE/memd.state.rejected" "$W/damaged" || fail "$1: the rejected file changed"
  kill9
}
damage truncate "truncated or padded"
damage flip "checksum mismatch (damaged)"
damage garbage "not a memd state file (bad magic)"
damage empty "not a memd state file (bad magic)"

# --- kill -9: the next start restores the last clean stop ---------------------------------------
cp "$W/good2.state" "$STATE/memd.state"
restart
N=$(live)
send "alloc order=3 gfp=GFP_KERNEL count=10" >/dev/null
kill9
printf 'half written' >"$STATE/memd.state.new"  # as if killed while saving
restart
grep -q "restored $N allocations" "$LOG" || fail "kill -9: not the last clean stop's state"
[ -e "$STATE/memd.state.new" ] && fail "a leftover temporary file was not removed"
expect_eq "check after kill -9" "$(send check)" '{"ok":true,"problems":[]}'
# `reset` does not touch the file: a kill -9 after it comes back to the saved state...
expect_eq "reset" "$(json 'r["ok"]' "$(send reset)")" True
kill9
restart
grep -q "restored $N allocations" "$LOG" || fail "reset deleted the saved state"
# ...and a clean stop after it saves the fresh machine.
send reset >/dev/null
stop_memd
restart
grep -q "restored 0 allocations" "$LOG" || fail "the reset machine was not saved"
kill9
# kill -9 without any state file: a fresh machine, and check passes.
rm -f "$STATE/memd.state"
restart
send "alloc order=0 gfp=GFP_KERNEL count=5" >/dev/null
kill9
restart
grep -q "no saved machine yet" "$LOG" || fail "kill -9 without state: $(cat "$LOG")"
expect_eq "fresh after kill -9 without state" "$(live)" 0
expect_eq "check" "$(send check)" '{"ok":true,"problems":[]}'
stop_memd

# --- the socket's snapshot save/load, and the control file refuses them ---------------------------
restart
PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$HERE timeout 60 "$PY" "$HERE/state_socket_test.py" "$SOCK" "$MNT" || fail "state_socket_test.py"
out=$( (echo "snapshot save" >"$MNT/control") 2>&1) && fail "snapshot save on the control file"
expect_contains "control file snapshot" "$out" "Invalid argument"
exec 3<>"$MNT/control"
printf 'snapshot load bytes=10' >&3 2>/dev/null && fail "snapshot load on the control file"
expect_contains "control file snapshot load" "$(cat <&3)" "the control file carries text only"
exec 3>&-
stop_memd

# --- a full disk, then a read-only directory: a clear error, the old file intact, exit 1 ----------
FULL=$W/full
mkdir "$FULL"
mount -t tmpfs -o size=64k,mode=0755 memd-test "$FULL" || fail "cannot mount a tmpfs"
STATE=$FULL/state
restart
send "alloc order=3 gfp=GFP_KERNEL count=3" >/dev/null
stop_memd
cp "$STATE/memd.state" "$W/small.state"
restart
grep -q "restored 3 allocations" "$LOG" || fail "restore from the tmpfs"
send "alloc order=0 gfp=GFP_KERNEL count=20000" >/dev/null  # 320 KiB more state than fits
dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null && fail "dd filled no disk (test premise)"  # ENOSPC
stop_expect 1
grep -q "<3>cannot save the machine's state: $STATE/memd.state.new: write: No space left on device; the state saved before stays in $STATE/memd.state" \
  "$LOG" || fail "full disk: $(cat "$LOG")"
cmp -s "$STATE/memd.state" "$W/small.state" || fail "full disk: the previous state changed"
[ -e "$STATE/memd.state.new" ] && fail "full disk: the temporary file was left"
rm -f "$FULL/filler"
mount -o remount,ro "$FULL" || fail "cannot remount the tmpfs read-only"
restart
grep -q "restored 3 allocations" "$LOG" || fail "restore from a read-only directory"
send "alloc order=0 gfp=GFP_KERNEL" >/dev/null
stop_expect 1
grep -q "<3>cannot save the machine's state: $STATE/memd.state.new: create: Read-only file system; the state saved before stays in $STATE/memd.state" \
  "$LOG" || fail "read-only: $(cat "$LOG")"
cmp -s "$STATE/memd.state" "$W/small.state" || fail "read-only: the previous state changed"
umount "$FULL" || umount -l "$FULL"
awk -v m="$FULL" '$2 == m {found=1} END {exit !found}' /proc/mounts && fail "the tmpfs is still mounted"
exit 0
