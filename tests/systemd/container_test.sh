#!/bin/bash
# memd under a real systemd: boots a throw-away container (container.sh),
# installs memd's .deb with dpkg, and checks the life the product promises:
#   - systemd-analyze verify of the installed units prints nothing;
#   - the package created the memd group and /run/memd;
#   - systemctl start memd: active, STATUS= says what it emulates, the files
#     are readable through the mount, memctl allocates, a member of group
#     memd may use the socket and read the files;
#   - a killed memd is restarted (Restart=on-failure) and its dead mount
#     cleaned up; the watchdog is pinged;
#   - systemctl stop memd: exit 0, no mount, no memd process left;
#   - socket activation: memd.socket listens, the first memctl starts memd;
#   - dpkg -r stops memd and takes everything away.
# usage: container_test.sh MEMD_DEB       exit 0 pass, 1 fail, 77 skipped
set -euo pipefail
DEB=$(readlink -f "${1:?usage: $0 memd_VERSION_ARCH.deb}")
. "$(dirname "$0")/container.sh"

FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
# expect WHAT COMMAND...: the command (run inside) must succeed.
expect() {
  local what=$1 out
  shift
  if out=$(ct_run "$@" 2>&1); then ok "$what"; else fail "$what: $* -> $out"; fi
}
# expect_out WHAT PATTERN COMMAND...: its output must match the extended regex.
expect_out() {
  local what=$1 pattern=$2 out
  shift 2
  out=$(ct_run "$@" 2>&1) || true  # the output is what is checked
  if grep -Eq -- "$pattern" <<<"$out"; then ok "$what"; else fail "$what: '$*' printed [$out], wanted /$pattern/"; fi
}
show() { IN systemctl show --value -p "$2" "$1"; }
memd_mounts() { IN awk '$3 == "fuse.memd" {print $2}' /proc/self/mounts; }
memd_procs() { IN pgrep -x memd; }
journal() {
  echo "--- journal of memd.service and memd.socket (tail):"
  IN journalctl -b --no-pager -o short-monotonic -u memd.service -u memd.socket | tail -n 40
}
# Stop what may still run inside before poweroff, so that it unmounts cleanly.
on_exit() {
  ct_run systemctl stop memd.socket memd.service >/dev/null 2>&1
  if [ "$FAILS" != 0 ]; then journal; fi
}
CT_ON_EXIT=on_exit

ct_preflight
[ -f "$DEB" ] || { echo "FAIL: no package $DEB"; exit 1; }
ct_copy "$DEB" /var/tmp/memd.deb
ct_boot

# --- install ---------------------------------------------------------------
expect "dpkg -i installs the package" \
  env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confnew /var/tmp/memd.deb
expect "the package created group memd" getent group memd
expect "the package created /run/memd" test -d /run/memd
expect "memd is installed" sh -c 'command -v memd && command -v memctl'
mapfile -t units < <(IN systemctl show -p FragmentPath --value memd.service memd.socket | grep .)
verify=$(ct_run systemd-analyze verify "${units[@]}" 2>&1) || fail "systemd-analyze verify exited non-zero"
if [ -z "$verify" ]; then ok "systemd-analyze verify ${units[*]}: no output"; else
  fail "systemd-analyze verify ${units[*]} printed:"
  echo "$verify" | sed 's/^/  | /'
fi
expect "systemctl enable memd (units have [Install])" systemctl enable memd.service

# --- systemctl start memd ----------------------------------------------------
expect "systemctl start memd" systemctl start memd.service
expect_out "is-active" '^active$' systemctl is-active memd.service
expect_out "STATUS= says what memd emulates" 'Emulating .*/run/memd/proc' \
  systemctl show -p StatusText --value memd.service
pid=$(show memd.service MainPID)
[ "$(IN readlink /proc/1/ns/mnt)" = "$(IN readlink "/proc/$pid/ns/mnt")" ] &&
  ok "memd mounts in the system's mount namespace" ||
  fail "memd runs in a mount namespace of its own: its mount is invisible"
expect_out "the mount is listed" '^/run/memd/proc$' awk '$3 == "fuse.memd" {print $2}' /proc/self/mounts
expect_out "cat /run/memd/proc/buddyinfo" '^Node 0, zone +DMA32( +[0-9]+){11}' cat /run/memd/proc/buddyinfo
expect_out "zoneinfo" 'pages free' cat /run/memd/proc/zoneinfo
before=$(IN cat /run/memd/proc/buddyinfo)
expect_out "memctl alloc --order 3 --movable" 'Movable' memctl alloc --order 3 --movable
after=$(IN cat /run/memd/proc/buddyinfo)
[ "$before" != "$after" ] && ok "buddyinfo shows the allocation" || fail "buddyinfo did not change after alloc"
expect "echo alloc > control" sh -c 'echo "alloc order=0 gfp=GFP_KERNEL" > /run/memd/proc/control'
expect_out "the socket is 0660 root:memd" '^660 root:memd$' stat -c '%a %U:%G' /run/memd/memd.sock
expect "a user in group memd may use memctl and read the files" sh -c '
  useradd --no-create-home --groups memd memd-tester &&
  runuser -u memd-tester -- env -u XDG_RUNTIME_DIR memctl status >/dev/null &&
  runuser -u memd-tester -- cat /run/memd/proc/buddyinfo >/dev/null'
expect "other users may not" sh -c '
  useradd --no-create-home memd-stranger &&
  ! runuser -u memd-stranger -- env -u XDG_RUNTIME_DIR memctl status 2>/dev/null &&
  ! runuser -u memd-stranger -- sh -c "echo reset > /run/memd/proc/control" 2>/dev/null'

# --- the journal's structured fields ---------------------------------------------
# A change, a failure and a refusal, each from a shell that prints its pid and
# execs memctl (the socket's peer pid memd logs); then memd's entries in
# `journalctl -o json` must carry the README's MESSAGE_ID and PRIORITY for
# each, MEMD_CLIENT_UID/PID of that client, and MESSAGE naming the same pid.
client_pid() {  # client_pid [runuser -u USER --] memctl ARGS...: the pid memctl ran as
  local out
  out=$(ct_run "$@" 2>/dev/null) || true
  echo "${out%%$'\n'*}"
}
reset_pid=$(client_pid sh -c 'echo $$; exec memctl reset >/dev/null')
failed_pid=$(client_pid sh -c 'echo $$; exec memctl free --id 999999999 >/dev/null 2>&1')
tester_uid=$(IN id -u memd-tester)
refused_pid=$(client_pid runuser -u memd-tester -- env -u XDG_RUNTIME_DIR \
  sh -c 'echo $$; exec memctl show pagetypeinfo >/dev/null 2>&1')
jfile=$(mktemp /tmp/memd-journal.XXXXXX)
jcheck=(python3 "$(dirname "$0")/journal_fields.py" "$jfile" "$pid"
  "general:::Emulating x86_64"
  "command:0:$reset_pid:: reset: ok"
  "failed:0:$failed_pid:: free id=999999999: error: "
  "refused:$tester_uid:$refused_pid:: show pagetypeinfo: error: show pagetypeinfo: permission denied")
jok=no jout='' jend=$((SECONDS + 5))
while :; do  # journald takes the datagrams in its own time: up to 5 s
  IN journalctl -b --no-pager -o json -u memd.service >"$jfile" 2>/dev/null || true
  if jout=$("${jcheck[@]}" 2>&1); then jok=yes && break; fi
  [ "$SECONDS" -lt "$jend" ] || break
  sleep 0.2
done
if [ "$jok" != yes ]; then
  fail "the journal's fields for reset (pid $reset_pid), a failed free (pid $failed_pid) and a refused show (pid $refused_pid):"
  echo "$jout" | sed 's/^/  | /'
else
  ok "journal: MESSAGE_ID, PRIORITY, MEMD_CLIENT_UID/PID of a change, a failure, a refusal and memd's start"
fi
rm -f "$jfile"

# --- the watchdog and Restart=on-failure --------------------------------------
[ "$(show memd.service WatchdogUSec)" != 0 ] && [ "$(show memd.service WatchdogTimestampMonotonic)" != 0 ] &&
  ok "the watchdog is armed" || fail "no watchdog: WatchdogUSec=$(show memd.service WatchdogUSec)"
IN kill -KILL "$pid"
for _ in $(seq 100); do
  npid=$(show memd.service MainPID)
  [ "$npid" != 0 ] && [ "$npid" != "$pid" ] && [ "$(IN systemctl is-active memd.service)" = active ] && break
  sleep 0.1
done
[ "$(show memd.service NRestarts)" = 1 ] && [ "$npid" != "$pid" ] &&
  ok "killed memd was restarted (pid $pid -> $npid)" || fail "memd was not restarted after SIGKILL"
expect_out "the files work again after the restart" '^Node 0, zone +Normal' cat /run/memd/proc/buddyinfo
expect_out "one mount, not two" '^1$' sh -c "awk '\$3 == \"fuse.memd\"' /proc/self/mounts | wc -l"

# --- systemctl restart memd loses nothing (the state in /var/lib/memd) ----------
expect "allocations to keep" memctl alloc --order 2 --reclaimable --count 5
status_before=$(IN memctl --json status | sed 's/,"pid":[0-9]*//')
files_before=$(IN cat /run/memd/proc/buddyinfo /run/memd/proc/pagetypeinfo)
expect "systemctl restart memd" systemctl restart memd.service
expect_out "the restarted memd says what it restored" 'restored [0-9]+ allocations from /var/lib/memd/memd.state' \
  systemctl show -p StatusText --value memd.service
[ "$(IN memctl --json status | sed 's/,"pid":[0-9]*//')" = "$status_before" ] &&
  ok "memctl status is the same after the restart" ||
  fail "status changed across the restart: $status_before -> $(IN memctl --json status)"
[ "$(IN cat /run/memd/proc/buddyinfo /run/memd/proc/pagetypeinfo)" = "$files_before" ] &&
  ok "buddyinfo and pagetypeinfo are the same after the restart" ||
  fail "the files changed across the restart"
expect "memctl free --all after the restart" memctl free --all

# --- systemctl stop memd -------------------------------------------------------
expect "systemctl stop memd" systemctl stop memd.service
expect_out "inactive after stop" '^inactive$' systemctl is-active memd.service
expect_out "memd exited 0 on SIGTERM" '^Result=success ExecMainStatus=0$' \
  sh -c 'echo $(systemctl show -p Result -p ExecMainStatus memd.service)'
[ -z "$(memd_mounts)" ] && ok "no mount left after stop" || fail "mounts left after stop: $(memd_mounts)"
[ -z "$(memd_procs)" ] && ok "no memd process left" || fail "memd processes left: $(memd_procs)"
expect "the socket file is gone" test ! -e /run/memd/memd.sock

# --- socket activation ----------------------------------------------------------
expect "systemctl start memd.socket" systemctl start memd.socket
expect_out "memd.service waits for a client" '^inactive$' systemctl is-active memd.service
expect_out "memctl through the socket starts memd" '.' memctl status
expect_out "memd.service is active" '^active$' systemctl is-active memd.service
expect_out "memd took the socket from systemd" 'socket activation' \
  journalctl -b --no-pager -o cat -u memd.service -n 5
expect_out "and mounted the files" '^Node 0, zone +DMA' cat /run/memd/proc/buddyinfo
expect "systemctl stop memd.service memd.socket" systemctl stop memd.service memd.socket
[ -z "$(memd_mounts)" ] && ok "no mount left" || fail "mounts left: $(memd_mounts)"
expect "memd.socket removed its socket" test ! -e /run/memd/memd.sock

# --- removal ----------------------------------------------------------------------
expect "systemctl start memd (before dpkg -r)" systemctl start memd.service
expect "dpkg -r memd" env DEBIAN_FRONTEND=noninteractive dpkg -r memd
expect_out "dpkg -r stopped memd" '^(inactive|unknown)$' systemctl is-active memd.service
[ -z "$(memd_mounts)" ] && ok "no mount left after dpkg -r" || fail "mounts left after dpkg -r: $(memd_mounts)"
expect "binaries and units are gone" sh -c \
  '! command -v memd && ! command -v memctl && ! systemctl cat memd.service memd.socket 2>/dev/null'
expect "the configuration stays after dpkg -r" test -f /etc/memd/memd.toml
expect "dpkg -P memd" env DEBIAN_FRONTEND=noninteractive dpkg -P memd
expect "and goes with dpkg -P" test ! -e /etc/memd/memd.toml

if [ "$FAILS" = 0 ]; then echo "PASS: memd under systemd"; exit 0; fi
echo "FAILED: $FAILS check(s)"
exit 1
