#!/usr/bin/env bash
# Who may do what, claim by claim (permissions_test.sh has the basics):
#  1. socket peers are checked with SO_PEERCRED against the socket group; a
#     refused peer's later lines never run; root inside a user namespace is
#     not root to memd;
#  2. the mount is its owner's unless allow_other; nobody, not even root,
#     changes a mode, an owner or a name in it;
#  3. control is 0600, root's, closed to others even with allow_other; files
#     other users hold open cannot make memd hold more than 128 MiB;
#  4. a path from a client: `replay file=` only from root (socket) or the
#     control file, refused before anything is opened; `show` takes names of
#     the mount's files, never paths;
#  5. memd's own files: the socket and its lock are never made through
#     another user's links or in a directory others can write; the mount point
#     is never another user's link.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
as_nobody_send() { printf '%s\n' "$1" | $NOBODY socat -t5 - "UNIX-CONNECT:$SOCK" 2>&1; }
live() { json 'r["live_allocations"]' "$(send status)"; }

# --- 1. the socket: SO_PEERCRED against the group --------------------------------------------
start_memd --socket-group users
chmod 0666 "$SOCK"  # the file mode aside: SO_PEERCRED alone must keep strangers out
denied="{\"ok\":false,\"error\":\"permission denied: uid 65534 is neither root nor in group 'users'\",\"failure\":\"denied\"}"
# A stranger pipelining commands gets one refusal; none of its lines runs.
out=$(printf 'alloc order=0 gfp=GFP_KERNEL\nalloc order=1 gfp=GFP_KERNEL\nreset\n' |
  $NOBODY socat -t5 - "UNIX-CONNECT:$SOCK")
expect_eq "a stranger's pipeline" "$out" "$denied"
expect_eq "live allocations after a stranger's pipeline" "$(live)" 0
# A member by supplementary group is let in; by primary group too (below).
out=$(printf 'alloc order=0 gfp=GFP_KERNEL\n' |
  setpriv --reuid=65534 --regid=65534 --groups=100 socat -t5 - "UNIX-CONNECT:$SOCK")
expect_contains "supplementary member" "$out" '{"ok":true,"allocations":[{"id":1,'
# Root in a user namespace of its own is still uid 65534 to memd.
if $NOBODY unshare -Ur true 2>/dev/null; then
  out=$(printf 'status\n' | $NOBODY unshare -Ur socat -t5 - "UNIX-CONNECT:$SOCK")
  expect_eq "root of a user namespace" "$out" "$denied"
else
  echo "note: unprivileged user namespaces are not available here: that check is skipped"
fi
stop_memd
start_memd --socket-group nogroup  # nobody's primary group
expect_eq "socket mode" "$(stat -c '%a %U:%G' "$SOCK")" "660 root:nogroup"
expect_contains "primary member" "$(as_nobody_send status)" '{"ok":true,'
stop_memd

# --- 2 and 3. the mount and control ----------------------------------------------------------
start_memd --no-allow-other  # allow_other is the default (permissions_test.sh checks it)
for f in buddyinfo zoneinfo vmstat meminfo extfrag_index unusable_index; do
  expect_eq "$f mode" "$(stat -c '%a %U' "$MNT/$f")" "444 root"
done
expect_eq "pagetypeinfo mode" "$(stat -c '%a %U' "$MNT/pagetypeinfo")" "400 root"
expect_eq "control mode" "$(stat -c '%a %U' "$MNT/control")" "600 root"
expect_eq "root mode" "$(stat -c '%a %U' "$MNT")" "555 root"
# Without allow_other nobody else even looks.
for what in "ls $MNT" "stat $MNT/buddyinfo" "cat $MNT/buddyinfo"; do
  out=$($NOBODY $what 2>&1) && fail "nobody could: $what"
  expect_contains "nobody: $what" "$out" "Permission denied"
done
# Not even root changes the mount: modes, owners, names, sizes of the kernel's files.
for what in "chmod 0666 $MNT/control" "chmod 0666 $MNT/pagetypeinfo" "chown nobody $MNT/buddyinfo" \
  "chgrp nogroup $MNT/control" "touch $MNT/newfile" "mkdir $MNT/dir" "rm -f $MNT/buddyinfo" \
  "mv $MNT/buddyinfo $MNT/x" "ln -s /etc/passwd $MNT/link" "truncate -s 0 $MNT/zoneinfo" \
  "chmod 0777 $MNT"; do
  $what 2>/dev/null && fail "root could: $what"
done
out=$(sh -c "echo x > $MNT/buddyinfo" 2>&1) && fail "root wrote buddyinfo"
expect_eq "modes after the attempts" "$(stat -c '%a' "$MNT/control" "$MNT/pagetypeinfo" "$MNT")" \
  "$(printf '600\n400\n555')"
stop_memd
start_memd --allow-other
$NOBODY cat "$MNT/buddyinfo" >/dev/null || fail "nobody cannot read buddyinfo with allow_other"
for what in "cat $MNT/pagetypeinfo" "cat $MNT/control" "sh -c 'echo status > $MNT/control'" \
  "sh -c 'echo reset >> $MNT/control'" "chmod 0666 $MNT/control" "truncate -s 0 $MNT/control"; do
  out=$($NOBODY sh -c "$what" 2>&1) && fail "nobody could (allow_other): $what"
done
$NOBODY sh -c "exec 3<>$MNT/control" 2>/dev/null && fail "nobody opened control read-write"
stop_memd
# With allow_other, files other users hold open cannot make memd hold more
# than 128 MiB of rendered text (zoneinfo of a 1024-CPU machine is 0.5 MiB):
# past it their opens fail with ENFILE; root's never do; closing frees it.
CONFIG=$W/big.toml
printf '[machine]\ncpus = 1024\n[daemon]\nstate_dir = ""\n' >"$CONFIG"
start_memd --allow-other
rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$MEMD_PID/status"; }
before=$(rss)
coproc HOLDER { $NOBODY "$PY" -c "
import errno, os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
fds = []
try:
    while len(fds) < 5000:
        fds.append(os.open(sys.argv[1], os.O_RDONLY))
    print(len(fds), 'none', flush=True)
except OSError as e:
    print(len(fds), errno.errorcode[e.errno], flush=True)
sys.stdin.read()  # holds them until told
" "$MNT/zoneinfo"; }
PIDS="$PIDS $HOLDER_PID"
read -r -t 120 opened why <&"${HOLDER[0]}" || fail "the opener said nothing"
held=$(rss)
expect_eq "nobody's opens past the limit" "$why" ENFILE
[ "$opened" -ge 200 ] && [ "$opened" -le 520 ] || fail "nobody opened $opened zoneinfo files"
max=${MEMD_OPEN_FILES_MAX_MB:-192}  # more under a sanitizer (shadow memory)
[ $((held - before)) -le "$max" ] || fail "memd grew by $((held - before)) MiB for nobody's open files"
head -c 4 "$MNT/zoneinfo" | grep -q Node || fail "root cannot open zoneinfo while nobody holds the limit"
out=$($NOBODY cat "$MNT/zoneinfo" 2>&1 >/dev/null) && fail "nobody opened more past the limit"
expect_contains "nobody past the limit" "$out" "Too many open files in system"
grep -q "files open by other users hold [0-9]* MiB already (ENFILE)" "$LOG" || fail "no word of the limit"
eval "exec ${HOLDER[1]}>&-"
wait "$HOLDER_PID"
$NOBODY cat "$MNT/buddyinfo" >/dev/null || fail "nobody cannot read once the files are closed"
echo "open files: nobody held $opened zoneinfo files open (memd +$((held - before)) MiB) before ENFILE"
stop_memd
CONFIG=$W/memd.toml

# --- 4. paths sent by clients ----------------------------------------------------------------
mkfifo -m 0666 "$W/fifo"
chmod 0644 "$W/fifo"
start_memd --socket-group nogroup
for path in "$W/fifo" /etc/shadow /etc/passwd /proc/self/environ; do
  t0=$(date +%s%N)
  out=$(as_nobody_send "replay file=$path")
  ms=$((($(date +%s%N) - t0) / 1000000))
  expect_contains "a member's replay file=$path" "$out" "only root may make the daemon read a file"
  [ $ms -lt 3000 ] || fail "refusing replay file=$path took $ms ms"
done
# memd never opened the FIFO: a writer that does not wait finds no reader (ENXIO).
"$PY" -c "
import errno, os, sys
try:
    os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
except OSError as e:
    sys.exit(0 if e.errno == errno.ENXIO else 1)
sys.exit(1)" "$W/fifo" || fail "memd opened the FIFO a non-root client named"
expect_eq "what the refusals left" "$(live)" 0
# Paths are absolute, and show takes names of the mount's files, nothing else.
expect_contains "relative replay path" "$(send 'replay file=etc/passwd')" "needs an absolute path"
for name in ../../etc/passwd /etc/passwd buddyinfo/../../../etc/passwd ./buddyinfo "buddyinfo " \
  control; do
  out=$(send "show \"$name\"")
  expect_contains "show $name" "$out" '{"ok":false,"error":"show: unknown file'
  case "$out" in *root:*) fail "show $name leaked a file" ;; esac
done
expect_contains "a member's show" "$(as_nobody_send 'show buddyinfo')" '{"ok":true,"text":"Node 0'
stop_memd

# --- 5. memd's own files, where other users can write ----------------------------------------
S=$W/sticky  # like /tmp: everyone writes, nobody removes what others made
mkdir -m 1777 "$S"
echo precious >"$W/victim"
start_other() {  # $1: socket, $2: mount; prints memd's message; fails if it started
  local out rc
  rc=0
  out=$(timeout 5 "$MEMD" --config "$CONFIG" --foreground --socket "$1" --mount "$2" 2>&1) || rc=$?
  [ $rc = 0 ] || [ $rc = 124 ] && fail "memd started with --socket $1 --mount $2: $out"
  printf '%s' "$out"
}
# The lock: never through a link, never another user's file.
$NOBODY ln -s "$W/victim" "$S/a.sock.lock"
expect_contains "lock planted as a link" "$(start_other "$S/a.sock" "$W/m1")" \
  "$S/a.sock.lock: a symbolic link: refusing to follow it"
$NOBODY touch "$S/b.sock.lock"
expect_contains "lock planted as a file" "$(start_other "$S/b.sock" "$W/m1")" \
  "$S/b.sock.lock: not a lock file of memd's"
# The socket: never through a link.
$NOBODY ln -s "$W/victim" "$S/c.sock"
expect_contains "socket planted as a link" "$(start_other "$S/c.sock" "$W/m1")" \
  "$S/c.sock: exists and is not a socket"
expect_eq "the victim" "$(cat "$W/victim")" "precious"
expect_eq "the victim's owner" "$(stat -c '%U:%G %a' "$W/victim")" "root:root 644"
# Directories another user owns, or may rename entries in.
mkdir "$W/theirs" && chown nobody "$W/theirs"
expect_contains "a directory of another user" "$(start_other "$W/theirs/memd.sock" "$W/m1")" \
  "$W/theirs: owned by uid 65534"
mkdir -m 0777 "$W/open" && chmod 0777 "$W/open"
expect_contains "a directory all may write" "$(start_other "$W/open/memd.sock" "$W/m1")" \
  "$W/open: writable by other users (mode 777)"
# The mount point: never another user's link (it could point at /usr/bin).
mkdir "$W/target"
$NOBODY ln -s "$W/target" "$S/mnt"
expect_contains "mount point planted as a link" "$(start_other "$W/d.sock" "$S/mnt")" \
  "$S/mnt: a symbolic link of uid 65534"
awk -v t="$W/target" '$2 == t {found=1} END {exit !found}' /proc/mounts && fail "memd mounted through the link"
# In the sticky directory with nothing planted, memd runs.
MNT=$S/okmnt
SOCK=$S/ok.sock
start_memd
expect_contains "memd in a sticky directory" "$(send status)" '{"ok":true,'
stop_memd
exit 0
