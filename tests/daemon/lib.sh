# shellcheck shell=bash
# Sourced by memd's integration tests: a temporary directory, memd processes
# started on it, and a cleanup that always runs (kill by pid, lazy unmount,
# remove the directory), whatever the test's outcome.
#   usage in a test:  . "$(dirname "$0")/lib.sh" "$@"
# Strict mode for every test that sources it (the tests set it too, first
# thing): a command that fails unexpectedly ends the test with its status,
# an unset variable is an error, and a pipeline fails if any stage fails.
# A command expected to fail is written `cmd && fail ...`, `cmd || rc=$?` or
# inside `if`; `grep -c` (status 1 on no match) as `$(grep -c ... || true)`.
set -euo pipefail
MEMD=$(readlink -f "${1:?usage: $0 path/to/memd}")
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if [ "$(id -u)" != 0 ]; then echo "SKIP: the daemon's integration tests run as root"; exit 77; fi
if [ ! -c /dev/fuse ]; then echo "SKIP: no /dev/fuse"; exit 77; fi

W=$(mktemp -d /tmp/memd-test.XXXXXX)
chmod 0755 "$W"  # other users reach the socket in the permission tests
MNT=$W/mnt
SOCK=$W/memd.sock
LOG=$W/memd.log
CONFIG=$W/memd.toml
# The default machine (one node, 4 GiB, 2 CPUs), fresh at every start: no
# state directory, so that no test reads or writes /var/lib/memd. A test that
# writes its own configuration as root must keep `state_dir = ""` (or pass
# --no-state or --state-dir under $W).
printf '[daemon]\nstate_dir = ""\n' >"$CONFIG"
PIDS=""
MEMD_PID=""

# reap PID: waits up to 10 s for a process sent a signal to exit, and reaps
# it; false if it is still there (never hangs, unlike `wait`).
reap() {
  for _ in $(seq 100); do
    case "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" in "" | Z) break ;; esac
    sleep 0.1
  done
  case "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" in
    "" | Z) wait "$1" 2>/dev/null || true; return 0 ;;
    *) return 1 ;;
  esac
}
wchan() { cat "/proc/$1/wchan" 2>/dev/null; }

cleanup() {
  rc=$?
  set +e  # best effort from here on: every step runs, whatever the one before did
  for pid in $PIDS; do kill -9 "$pid" 2>/dev/null; done
  # Reap them, but never hang on one the kernel cannot kill (a process stuck
  # on a FUSE request nobody will answer): name it and fail instead.
  for pid in $PIDS; do
    reap "$pid" || { echo "FAIL: pid $pid survives kill -9 (waits in $(wchan "$pid"))"; rc=1; }
  done
  # Lazy-unmount whatever is still mounted under the temp dir, deepest first.
  awk -v w="$W" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || fusermount3 -u -z "$m" 2>/dev/null
  done
  rm -rf "$W"
  if [ $rc = 0 ]; then echo "PASS: $(basename "$0")"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*"
  if [ -s "$LOG" ]; then sed 's/^/  memd log: /' "$LOG" | tail -n 40; fi
  exit 1
}
check() { "$@" || fail "$*"; }
# expect_eq WHAT GOT WANTED
expect_eq() { [ "$2" = "$3" ] || fail "$1: got [$2], wanted [$3]"; }
expect_contains() { case "$2" in *"$3"*) ;; *) fail "$1: [$2] does not contain [$3]" ;; esac; }

# Starts memd in the foreground on $MNT and $SOCK (extra flags appended) and
# waits until it said it is ready.
start_memd() {
  local before
  before=$(grep -c "Emulating" "$LOG" 2>/dev/null || true)
  "$MEMD" --config "$CONFIG" --foreground --mount "$MNT" --socket "$SOCK" "$@" 2>>"$LOG" &
  MEMD_PID=$!
  PIDS="$PIDS $MEMD_PID"
  wait_ready "$MEMD_PID" "${before:-0}"
}
# wait_ready PID [N]: until the log has more than N "Emulating" lines and the
# mount answers. A line of an earlier memd must not count: this memd is ready
# only once it logs its own (a kill -9 before that can hit it while it checks
# its own mount, which leaves it unkillable in the kernel's FUSE wait).
wait_ready() {
  local n
  for _ in $(seq 200); do
    n=$(grep -c "Emulating" "$LOG" 2>/dev/null || true)
    if [ "${n:-0}" -gt "${2:-0}" ] && [ -e "$MNT/control" ]; then return 0; fi
    kill -0 "$1" 2>/dev/null || fail "memd exited before it was ready"
    sleep 0.05
  done
  fail "memd not ready after 10 s"
}
# Sends SIGTERM and checks that memd exits 0 within 10 s.
stop_memd() {
  kill -TERM "$MEMD_PID"
  for _ in $(seq 200); do kill -0 "$MEMD_PID" 2>/dev/null || break; sleep 0.05; done
  local rc=0
  wait "$MEMD_PID" || rc=$?
  [ $rc = 0 ] || fail "memd exited with $rc after SIGTERM"
}
# One command on the socket; prints the JSON reply line.
send() { printf '%s\n' "$1" | socat -t5 - "UNIX-CONNECT:$SOCK"; }
# json EXPR JSON: evaluates a Python expression on the parsed reply `r`.
json() { printf '%s' "$2" | "$PY" -c "import json,sys; r=json.load(sys.stdin); print($1)"; }
mounted() { awk -v m="$MNT" '$2 == m {found=1} END {exit !found}' /proc/mounts; }
