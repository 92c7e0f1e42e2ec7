#!/usr/bin/env bash
# The daemon's life: --help, --print, bad configuration, SIGTERM/SIGINT
# leave nothing behind, kill -9 then a clean restart, a second memd refused,
# the mount taken away from outside, detaching without --foreground.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"

# --help and --version exit 0; a usage error exits 2.
# (Output in a variable, then grep: memd's status counts, and grep -q ending
# early cannot SIGPIPE memd.)
out=$("$MEMD" --help) || fail "--help exits non-zero"
grep -q -- "--config" <<<"$out" || fail "--help"
out=$("$MEMD" --version) || fail "--version exits non-zero"
grep -Eq '^[0-9]+\.[0-9]+' <<<"$out" || fail "--version"
rc=0; "$MEMD" --frobnicate >/dev/null 2>&1 || rc=$?; expect_eq "usage error status" $rc 2
rc=0; "$MEMD" --print nosuchfile >/dev/null 2>&1 || rc=$?; expect_eq "--print of an unknown file" $rc 2

# --print boots, prints and exits without mounting; flags override the file.
printf '[machine]\nsize = "2G"\ncpus = 4\n' >"$W/small.toml"
"$MEMD" --config "$W/small.toml" --print zoneinfo >"$W/z" || fail "--print zoneinfo"
grep -q "^Node 0, zone    DMA32" "$W/z" || fail "--print zoneinfo output"
# (Both counts come from the output checked: with no pagesets at all, 0 = 4 * 0 would pass.)
[ "$(grep -c 'pagesets' "$W/z" || true)" -gt 0 ] || fail "--print zoneinfo has no pagesets"
expect_eq "cpus in pagesets" "$(grep -c '^    cpu: ' "$W/z")" "$((4 * $(grep -c 'pagesets' "$W/z")))"
out=$("$MEMD" --config "$W/small.toml" --cpus 1 --print zoneinfo) || fail "--cpus 1 --print zoneinfo"
grep -q '^    cpu: 0' <<<"$out" || fail "--cpus 1: no cpu 0 in zoneinfo"
grep -q '^    cpu: 1' <<<"$out" && fail "--cpus 1 ignored"
out=$("$MEMD" --config "$W/small.toml" --size 8G --print meminfo) || fail "--size 8G --print meminfo"
grep -Eq '^MemTotal: +8[0-9]{6} kB' <<<"$out" || fail "--size 8G ignored"

# A bad configuration names the file, line, key and reason, exits 1, mounts nothing.
printf '[machine]\nsize = "4G"\n\n[daemon]\nmount = "%s"\nsockett = "/x"\n' "$MNT" >"$W/bad.toml"
rc=0; out=$("$MEMD" --config "$W/bad.toml" --foreground 2>&1) || rc=$?
expect_eq "bad config status" $rc 1
expect_contains "bad config message" "$out" "$W/bad.toml:6:1: daemon.sockett: unknown key"
printf '[machine]\ncpus = "many"\n' >"$W/bad2.toml"
rc=0; out=$("$MEMD" --config "$W/bad2.toml" --foreground --mount "$MNT" --socket "$SOCK" 2>&1) || rc=$?
expect_eq "bad config status" $rc 1
expect_contains "bad value message" "$out" "$W/bad2.toml:2:8: machine.cpus: must be an integer"
printf '[machine]\ncmdline = "kernelcore=lots"\n' >"$W/bad3.toml"
out=$("$MEMD" --config "$W/bad3.toml" --foreground 2>&1) && fail "a bad cmdline was accepted"
expect_contains "bad cmdline message" "$out" "machine.cmdline: kernelcore"
rc=0; out=$("$MEMD" --config "$W/missing.toml" 2>&1) || rc=$?; expect_eq "missing config status" $rc 2
mounted && fail "a bad configuration mounted something"
[ -e "$SOCK" ] && fail "a bad configuration created the socket"

# SIGTERM and SIGINT: exit 0, no mount, no socket, no lock file.
for sig in TERM INT; do
  start_memd
  rc=0; kill -$sig "$MEMD_PID"; wait "$MEMD_PID" || rc=$?
  expect_eq "exit status after SIG$sig" $rc 0
  mounted && fail "still mounted after SIG$sig"
  [ -e "$SOCK" ] && fail "socket left after SIG$sig"
  [ -e "$SOCK.lock" ] && fail "lock file left after SIG$sig"
  grep -q "unmounting $MNT and exiting" "$LOG" || fail "no goodbye in the log"
done

# SIGTERM during a long replay (from the control file): the replay ends at
# its next batch and memd exits at once, 0, leaving nothing behind.
SAMPLE=$(readlink -f "$HERE/../../../shared/traces/build-sample.trace.gz") || true
[ -f "$SAMPLE" ] || fail "no sample trace at $HERE/../../../shared/traces/build-sample.trace.gz"
for _ in $(seq 20); do cat "$SAMPLE"; done >"$W/long.trace.gz"  # 6 million lines
start_memd
(echo "replay file=$W/long.trace.gz" >"$MNT/control") 2>"$W/replay.err" &
RP=$!
PIDS="$PIDS $RP"
for _ in $(seq 100); do send status | grep -q '"replaying":true' && break; sleep 0.02; done
if send status | grep -q '"replaying":true'; then
  t0=$(date +%s%N)
  rc=0; kill -TERM "$MEMD_PID"; wait "$MEMD_PID" || rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  expect_eq "exit status after SIGTERM during a replay" $rc 0
  [ $ms -lt 2000 ] || fail "memd took $ms ms to stop during a replay"
  wait $RP && fail "the interrupted replay reported success"
  mounted && fail "still mounted after SIGTERM during a replay"
  [ -e "$SOCK" ] && fail "socket left after SIGTERM during a replay"
else
  echo "note: the replay finished before it could be interrupted"
  stop_memd
fi

# kill -9 leaves a dead mount and an orphaned socket; the next memd cleans both.
start_memd
echo "alloc order=0 gfp=GFP_KERNEL" >"$MNT/control"
kill -9 "$MEMD_PID"; wait "$MEMD_PID" 2>/dev/null || true
mounted || fail "kill -9 did not leave a mount (test premise)"
[ -S "$SOCK" ] || fail "kill -9 did not leave the socket (test premise)"
out=$(stat "$MNT/buddyinfo" 2>&1) && fail "a dead mount answers"
expect_contains "dead mount" "$out" "Transport endpoint is not connected"
: >"$LOG"
start_memd
grep -q "cleaning up a stale mount" "$LOG" || fail "the stale mount was not reported"
grep -q "removing an orphaned socket" "$LOG" || fail "the orphaned socket was not reported"
cat "$MNT/buddyinfo" >/dev/null || fail "buddyinfo after the restart"
expect_eq "fresh machine after restart" "$(json 'r["live_allocations"]' "$(send status)")" 0

# A second memd on the same socket, or on the same mount, is refused; the first carries on.
rc=0; out=$("$MEMD" --config "$CONFIG" --foreground --mount "$W/mnt2" --socket "$SOCK" 2>&1) || rc=$?
[ $rc != 0 ] || fail "a second memd on the same socket started"
expect_contains "second memd (socket)" "$out" "another memd (pid $MEMD_PID) is running on socket $SOCK"
rc=0; out=$("$MEMD" --config "$CONFIG" --foreground --mount "$MNT" --socket "$W/other.sock" 2>&1) || rc=$?
[ $rc != 0 ] || fail "a second memd on the same mount started"
expect_contains "second memd (mount)" "$out" "$MNT: another memd is already mounted here"
[ -e "$W/other.sock" ] && fail "the refused memd left its socket"
# Without the lock file (removed by hand), the live socket still keeps a second memd out.
rm -f "$SOCK.lock"
out=$("$MEMD" --config "$CONFIG" --foreground --mount "$W/mnt3" --socket "$SOCK" 2>&1) &&
  fail "a second memd started while the first listens"
expect_contains "second memd (live socket)" "$out" "another memd is listening on this socket"
send status | grep -q '"ok":true' || fail "the first memd stopped answering"
cat "$MNT/buddyinfo" >/dev/null || fail "the first memd's mount stopped answering"

# The mount taken away from outside: memd notices and exits (non-zero).
umount -l "$MNT"
for _ in $(seq 100); do kill -0 "$MEMD_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$MEMD_PID" 2>/dev/null && fail "memd kept running without its mount"
rc=0; wait "$MEMD_PID" || rc=$?
expect_eq "exit status after losing the mount" $rc 1
grep -q "went away" "$LOG" || fail "no message about the lost mount"
[ -e "$SOCK" ] && fail "socket left after losing the mount"

# Without --foreground (and outside systemd), memd detaches once it is ready.
rc=0
env -u NOTIFY_SOCKET -u INVOCATION_ID -u JOURNAL_STREAM -u LISTEN_FDS \
  "$MEMD" --config "$CONFIG" --mount "$MNT" --socket "$SOCK" 2>>"$LOG" || rc=$?
expect_eq "detaching memd status" $rc 0
DPID=$(cat "$SOCK.lock")
PIDS="$PIDS $DPID"
mounted || fail "the detached memd is not mounted"
# With no syslog socket, the log would be lost once detached: said once, on stderr, before.
if [ ! -e /dev/log ]; then
  expect_eq "no-syslog warning" "$(grep -c '^<4>no syslog socket (/dev/log): once detached' "$LOG")" 1
fi
send status | grep -q "\"pid\":$DPID" || fail "the detached memd does not answer"
kill -TERM "$DPID"
for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$DPID" 2>/dev/null && fail "the detached memd ignored SIGTERM"
mounted && fail "the detached memd left its mount"
# A detaching memd that fails says why and exits 1.
rc=0
out=$(env -u NOTIFY_SOCKET -u INVOCATION_ID -u JOURNAL_STREAM "$MEMD" --config "$CONFIG" \
  --mount "$W/bad.toml" --socket "$SOCK" 2>&1) || rc=$?
expect_eq "failed detaching memd status" $rc 1
expect_contains "failed detaching memd" "$out" "not a directory"
exit 0
