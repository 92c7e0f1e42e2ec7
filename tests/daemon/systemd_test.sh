#!/usr/bin/env bash
# systemd without systemd: sd_notify checked with a real NOTIFY_SOCKET
# listener (READY=1 from the main pid once the mount and the socket work,
# STATUS=, WATCHDOG=1, STOPPING=1), and socket activation through
# systemd-socket-activate (LISTEN_FDS, LISTEN_FDNAMES).
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
command -v systemd-socket-activate >/dev/null || { echo "SKIP: no systemd-socket-activate"; exit 77; }

NOTIFY=$W/notify.sock
NLOG=$W/notify.log
"$PY" "$HERE/notify_listener.py" "$NOTIFY" "$NLOG" &
PIDS="$PIDS $!"
for _ in $(seq 100); do [ -S "$NOTIFY" ] && break; sleep 0.05; done
[ -S "$NOTIFY" ] || fail "the notify listener did not start"
wait_notify() {  # wait_notify PATTERN: until the listener logged a line matching it
  for _ in $(seq 200); do grep -q "$1" "$NLOG" && return 0; sleep 0.05; done
  fail "no '$1' from memd; notify log: $(cat "$NLOG")"
}

# Type=notify with a watchdog.
NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=200000 "$MEMD" --config "$CONFIG" --mount "$MNT" \
  --socket "$SOCK" 2>>"$LOG" &
MEMD_PID=$!
PIDS="$PIDS $MEMD_PID"
wait_notify "^pid=$MEMD_PID READY=1"
# READY=1 came once both work.
mounted || fail "READY=1 before the mount"
cat "$MNT/buddyinfo" >/dev/null || fail "READY=1 but buddyinfo does not read"
send status | grep -q '"ok":true' || fail "READY=1 but the socket does not answer"
grep "READY=1" "$NLOG" | grep -q "STATUS=Emulating x86_64, 4095 MiB in 1 node, 2 CPUs; files at $MNT" ||
  fail "no STATUS= with the machine's shape: $(cat "$NLOG")"
sleep 0.5
pings=$(grep -c "^pid=$MEMD_PID WATCHDOG=1" "$NLOG" || true)
[ "$pings" -ge 3 ] || fail "$pings watchdog pings in 0.5 s at WATCHDOG_USEC=200000"
rc=0; kill -TERM "$MEMD_PID"; wait "$MEMD_PID" || rc=$?
expect_eq "exit status" $rc 0
wait_notify "^pid=$MEMD_PID STOPPING=1"
mounted && fail "still mounted after SIGTERM"
[ -e "$SOCK" ] && fail "socket left after SIGTERM"

# WATCHDOG_PID naming another process: no pings from memd.
: >"$NLOG"
NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=100000 WATCHDOG_PID=1 "$MEMD" --config "$CONFIG" \
  --mount "$MNT" --socket "$SOCK" 2>>"$LOG" &
MEMD_PID=$!
PIDS="$PIDS $MEMD_PID"
wait_notify "^pid=$MEMD_PID READY=1"
sleep 0.3
grep -q "WATCHDOG=1" "$NLOG" && fail "watchdog pings although WATCHDOG_PID is not memd"
stop_memd

# Socket activation: systemd-socket-activate binds the socket and execs memd
# (same pid) on the first connection, with LISTEN_FDS=1 and LISTEN_FDNAMES=memd.
: >"$NLOG"
: >"$LOG"
systemd-socket-activate -l "$SOCK" --fdname=memd -E NOTIFY_SOCKET="$NOTIFY" -E PATH \
  "$MEMD" --config "$CONFIG" --foreground --mount "$MNT" 2>>"$LOG" &
SA_PID=$!
PIDS="$PIDS $SA_PID"
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || fail "systemd-socket-activate did not bind $SOCK"
reply=$(send "alloc order=2 gfp=GFP_KERNEL")
expect_contains "first reply through an activated socket" "$reply" '"ok":true,"allocations":[{"id":1,'
wait_notify "^pid=$SA_PID READY=1"
grep -q "(socket activation)" "$LOG" || fail "memd did not say it was socket-activated"
grep -qF "socket $SOCK (socket activation)" "$LOG" || fail "memd did not name the activated socket"
expect_eq "second reply" "$(json 'r["live_allocations"]' "$(send status)")" 1
MEMD_PID=$SA_PID
stop_memd
mounted && fail "still mounted after SIGTERM (activated)"
[ -e "$SOCK.lock" ] && fail "lock file left (activated)"
[ -S "$SOCK" ] || fail "memd removed the socket systemd owns"
rm -f "$SOCK"

# Accept=yes (inetd style) passes a connection, not a listening socket: refused clearly.
: >"$LOG"
systemd-socket-activate -a -l "$SOCK" -E PATH "$MEMD" --config "$CONFIG" --foreground \
  --mount "$MNT" 2>>"$LOG" &
PIDS="$PIDS $!"
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
send status >/dev/null 2>&1 || true  # memd refuses the connection it was given
for _ in $(seq 100); do grep -q "Accept=no" "$LOG" && break; sleep 0.05; done
grep -q "memd needs ListenStream= with Accept=no" "$LOG" || fail "Accept=yes not refused clearly"
mounted && fail "mounted although the socket was refused"
exit 0
