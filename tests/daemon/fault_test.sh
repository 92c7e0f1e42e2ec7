#!/usr/bin/env bash
# Faults, each ending with memd running correctly or gone with a clear
# message, never a hang or a broken mount left behind:
#  - kill -9 at random moments of a busy workload (fault_test.py workload),
#    and during start-up; the next memd on the same paths cleans up and
#    `check` passes; nothing the workload did hangs on the dead mount;
#  - the mount taken away under a running memd: umount -l, fusermount3 -u,
#    umount -l while a reader holds a file open, the mount point removed
#    after; another file system mounted over it;
#  - a client streaming a replay killed mid-frame and after a whole frame
#    (fault_test.py replay-kill).
# MEMD_LONG=1 kills more often.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
SAMPLE=$(readlink -f "$HERE/../../../shared/traces/build-sample.trace.gz") || true
[ -f "$SAMPLE" ] || fail "no sample trace at $SAMPLE"
ROUNDS=6
[ "${MEMD_LONG:-0}" = 1 ] && ROUNDS=40

# Starts memd afresh on the same paths (keeping the old log aside).
restart() {
  if [ -f "$LOG" ]; then cat "$LOG" >>"$W/all.log"; fi
  : >"$LOG"
  start_memd "$@"
}
healthy() {
  local r
  r=$(send check)
  expect_eq "$1: check" "$r" '{"ok":true,"problems":[]}'
  head -1 "$MNT/buddyinfo" | grep -q '^Node 0, zone' || fail "$1: buddyinfo does not read"
  expect_eq "$1: control" "$(cat "$MNT/control" | head -1 | cut -c1-13)" "memd commands"
}
# Waits for a process sent kill -9 to die, and for every process of that
# memd to be gone (no child of it may outlive it holding its mount, socket or
# lock); fails instead of hanging.
reap_killed() {  # $1: pid, $2: what
  reap "$1" || fail "$2: pid $1 survives kill -9 (waits in $(wchan "$1"))"
  for _ in $(seq 50); do
    pgrep -f -- "--socket $SOCK( |\$)" >/dev/null || return 0
    sleep 0.1
  done
  fail "$2: processes of the killed memd remain: $(pgrep -a -f -- "--socket $SOCK( |\$)")"
}
term() {  # SIGTERM: memd exits within 10 s, or the test fails (never hangs)
  kill -TERM "$MEMD_PID"
  reap "$MEMD_PID" || fail "memd hangs on SIGTERM (waits in $(wchan "$MEMD_PID"))"
}
dead_mount() {
  local out
  out=$(stat "$MNT/buddyinfo" 2>&1) && fail "$1: the mount still answers"
  expect_contains "$1: dead mount" "$out" "Transport endpoint is not connected"
}

# kill_during_workload WHAT SEED DELAY: runs fault_test.py's workload (seed
# SEED) and kill -9s memd DELAY seconds into it; the workload must notice by
# itself (nothing hangs on the dead mount or socket) with every reply it got
# right.
kill_during_workload() {
  PYTHONPATH=$HERE "$PY" "$HERE/fault_test.py" workload "$SOCK" "$MNT" "$SAMPLE" "$2" \
    >"$W/workload.out" 2>&1 &
  local wl=$!
  PIDS="$PIDS $wl"
  sleep "$3"
  kill -9 "$MEMD_PID"
  reap_killed "$MEMD_PID" "$1"
  kills=$((kills + 1))
  for _ in $(seq 100); do kill -0 "$wl" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$wl" 2>/dev/null && fail "$1: the workload hangs after memd died: $(cat "$W/workload.out")"
  wait "$wl" || fail "$1: wrong replies before memd died: $(cat "$W/workload.out")"
}

# --- kill -9 at random moments of a workload, then a restart on the same paths ---
restart
kills=0
for i in $(seq "$ROUNDS"); do
  kill_during_workload "round $i" "$i" "$((RANDOM % 2000 / 1000)).$(printf %03d $((RANDOM % 1000)))"
  mounted || fail "round $i: premise: kill -9 leaves the dead mount"
  dead_mount "round $i"
  restart
  grep -q "cleaning up a stale mount" "$LOG" || fail "round $i: the stale mount was not reported"
  grep -q "removing an orphaned socket" "$LOG" || fail "round $i: the orphaned socket was not reported"
  healthy "round $i"
  echo "round $i: killed after $(json 'r["ops"]' "$(cat "$W/workload.out")") operations; restart clean"
done

# --- kill -9 with a state directory: the next memd comes back from the last
# clean stop's state (what happened after it is lost, by design), consistent ---
term
restart --state-dir "$W/state"
send "alloc order=2 gfp=GFP_KERNEL count=7" | grep -q '"ok":true' || fail "alloc before the save"
stop_memd  # saves the state
restart --state-dir "$W/state"
expect_eq "restored allocations" "$(json 'r["live_allocations"]' "$(send status)")" 7
for i in 1 2 3; do
  kill_during_workload "state round $i" "$((100 + i))" "0.$((RANDOM % 900 + 100))"
  restart --state-dir "$W/state"
  healthy "state round $i"
  expect_eq "state round $i: allocations of the last clean stop" \
    "$(json 'r["live_allocations"]' "$(send status)")" 7
done
term
restart

# --- kill -9 during start-up, at several moments ---
for delay in 0 0.005 0.02 0.05 0.1 0.3; do
  term
  cat "$LOG" >>"$W/all.log"
  : >"$LOG"
  "$MEMD" --config "$CONFIG" --foreground --mount "$MNT" --socket "$SOCK" 2>>"$LOG" &
  pid=$!
  PIDS="$PIDS $pid"
  sleep "$delay"
  kill -9 "$pid"
  reap_killed "$pid" "killed $delay s into start-up"
  kills=$((kills + 1))
  restart
  healthy "killed $delay s into start-up"
done
echo "kill -9: $kills kills, each followed by a clean restart on the same paths"

# --- the mount taken away under a running memd ---
gone_with_message() {  # $1: what was done
  for _ in $(seq 100); do kill -0 "$MEMD_PID" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$MEMD_PID" 2>/dev/null && fail "$1: memd kept running without its mount"
  local rc=0
  wait "$MEMD_PID" || rc=$?
  expect_eq "$1: exit status" $rc 1
  grep -q "the FUSE mount at $MNT went away (unmounted from outside?); exiting" "$LOG" ||
    fail "$1: no clear message"
  [ -e "$SOCK" ] && fail "$1: socket left behind"
  mounted && fail "$1: a mount left behind"
  return 0
}
umount -l "$MNT"
gone_with_message "umount -l"
rmdir "$MNT" || fail "the mount point cannot be removed after memd left"
restart  # creates the mount point again
healthy "after umount -l and rmdir"
[ -d "$MNT" ] || fail "the mount point was not created again"

fusermount3 -u "$MNT" || fail "fusermount3 -u"
gone_with_message "fusermount3 -u"
restart

# Lazily unmounted while a reader holds a file open: that reader keeps its
# snapshot; memd leaves once the last file is closed.
exec 3<"$MNT/zoneinfo"
umount -l "$MNT"
mounted && fail "umount -l left the mount in place"
head -c 4 <&3 | grep -q Node || fail "an open file stopped reading after umount -l"
exec 3<&-
gone_with_message "umount -l with a file open"
rm -rf "$MNT"
restart
healthy "after the mount point was removed"

# Another file system mounted over memd's: memd is not disturbed, a second
# memd is refused clearly, and stopping memd leaves the other mount alone
# (its own stays under it, dead, until the next memd cleans it up).
mount -t tmpfs memd-test-tmpfs "$MNT" || fail "mount tmpfs"
send status | grep -q '"ok":true' || fail "memd stopped answering when its mount was covered"
out=$("$MEMD" --config "$CONFIG" --foreground --mount "$MNT" --socket "$W/other.sock" 2>&1) &&
  fail "a memd started on a covered mount point"
expect_contains "second memd on a covered mount point" "$out" "something else is mounted here (type tmpfs)"
kill -TERM "$MEMD_PID"
for _ in $(seq 100); do kill -0 "$MEMD_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$MEMD_PID" 2>/dev/null && fail "memd hangs on SIGTERM with its mount covered"
rc=0
wait "$MEMD_PID" || rc=$?
expect_eq "exit status after SIGTERM with the mount covered" $rc 0
awk -v m="$MNT" '$2 == m && $3 == "tmpfs" {found=1} END {exit !found}' /proc/mounts ||
  fail "stopping memd unmounted the tmpfs mounted over its mount point"
grep -q "a tmpfs file system is mounted over memd's files; leaving it mounted" "$LOG" ||
  fail "no word about the covered mount"
umount "$MNT"
# Under it, memd's own mount, dead: the next memd cleans it up.
dead_mount "memd's mount once uncovered"
restart
grep -q "cleaning up a stale mount" "$LOG" || fail "the uncovered stale mount was not cleaned up"
healthy "after the covered mount"

# --- a client killed while a replay streams ---
PYTHONPATH=$HERE timeout 100 "$PY" "$HERE/fault_test.py" replay-kill "$SOCK" "$MNT" "$SAMPLE" ||
  fail "fault_test.py replay-kill"
healthy "after the replay kills"
stop_memd
grep -q "WARNING: ThreadSanitizer\|ERROR: AddressSanitizer\|runtime error:" "$LOG" "$W/all.log" &&
  fail "sanitizer report in the log"
exit 0
