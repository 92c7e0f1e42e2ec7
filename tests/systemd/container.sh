# shellcheck shell=bash
# A throw-away systemd for memd's tests: systemd-nspawn boots an overlay of
# the host's root (lower = "/", read-only; upper = tmpfs), in a private mount
# namespace and cgroups of its own, and the test drives it with nsenter. The
# method and its pitfalls: ../shared/tools/systemd/README.md.
#
# Sourced by a test (bash):
#   . container.sh
#   ct_preflight                 # exits 77 (SKIP) where this machine cannot do it
#   ct_copy SRC DEST             # files to put into the container's root before boot
#   ct_overlay DIR               # DIR, seen in the container at the same path,
#                                # copy-on-write (for a tree outside the root fs)
#   ct_boot                      # boots; afterwards IN runs a command inside
#   IN cmd...                    # run inside (stdout/stderr pass through), no time limit
#   ct_run cmd...                # run inside, limited to CT_TIMEOUT s, interruptible
# Cleanup (poweroff, kill what is left, remove cgroup dirs and the temp dir)
# runs on every exit through the EXIT trap; the test's own cleanup may be set
# with CT_ON_EXIT="function name" (run first, while the container is up).
set -euo pipefail

CT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CT_TIMEOUT=${CT_TIMEOUT:-60}
CT_W='' CT_NSPID='' CT_LEADER='' CT_BGPID='' CT_CGDIRS='' CT_CGPROCS=''
CT_COPIES=()
CT_OVERLAYS=()
CT_ON_EXIT=${CT_ON_EXIT:-}

ct_log() { echo "[$(date +%T.%N | cut -c1-12)] $*"; }
ct_skip() { echo "SKIP: $*"; exit 77; }

# Everything this machine must have; anything missing is a SKIP, not a failure.
ct_preflight() {
  [ "$(id -u)" = 0 ] || ct_skip "the systemd container test needs root"
  local c
  for c in systemd-nspawn unshare nsenter mount pgrep timeout; do
    command -v "$c" >/dev/null || ct_skip "$c is missing (packaging/install-deps.sh installs systemd-container)"
  done
  [ -x /lib/systemd/systemd ] || ct_skip "systemd is not installed"
  [ -c /dev/fuse ] || ct_skip "no /dev/fuse on this machine"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    ct_skip "no overlay filesystem"
  grep -qE ' (cgroup2|cgroup) ' /proc/self/mounts || ct_skip "no cgroup filesystem mounted"
  # Can this process make mount namespaces and overlay mounts at all (not in an
  # unprivileged container)?
  local probe
  probe=$(mktemp -d /tmp/memd-ct-probe.XXXXXX)
  mkdir -p "$probe/u" "$probe/w" "$probe/m"
  if ! unshare --mount --propagation private -- sh -c \
      "mount -t tmpfs t '$probe/u' && mkdir '$probe/u/u' '$probe/u/w' &&
       mount -t overlay o -o lowerdir=/,upperdir='$probe/u/u',workdir='$probe/u/w' '$probe/m'" \
      2>"$probe/err"; then
    local why
    why=$(cat "$probe/err")
    rm -rf "$probe"
    ct_skip "cannot mount an overlay of / in a mount namespace: $why"
  fi
  rm -rf "$probe"
}

ct_copy() { CT_COPIES+=("$(readlink -f "$1"):$2"); }
ct_overlay() { CT_OVERLAYS+=("$(readlink -f "$1")"); }

IN() { nsenter -t "$CT_LEADER" -m -u -i -n -p -- "$@"; }

# Long steps run in the background with a limit inside the container, so that
# a signal to the test acts at once (pitfall 11: only the in-container child of
# nsenter may be killed, then nsenter reaps it).
ct_run() {
  IN timeout "$CT_TIMEOUT" "$@" &
  CT_BGPID=$!
  local rc=0
  wait "$CT_BGPID" || rc=$?
  CT_BGPID=
  return $rc
}

ct_stop_bg() {
  local n c
  for n in "$CT_BGPID" $(pgrep -P "$CT_BGPID"); do
    [ "$(cat "/proc/$n/comm" 2>/dev/null)" = nsenter ] || continue
    for c in $(pgrep -P "$n"); do kill -KILL "$c" 2>/dev/null; done
  done
  wait "$CT_BGPID" 2>/dev/null
  CT_BGPID=
}

ct_cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  exec 1>&3 2>&4
  [ -n "$CT_BGPID" ] && ct_stop_bg
  if [ -n "$CT_LEADER" ] && kill -0 "$CT_LEADER" 2>/dev/null; then
    [ -n "$CT_ON_EXIT" ] && "$CT_ON_EXIT"
    kill -s RTMIN+3 "$CT_LEADER"  # poweroff, for systemd as PID 1
  fi
  if [ -n "$CT_NSPID" ]; then
    local _
    for _ in $(seq 100); do kill -0 "$CT_NSPID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$CT_NSPID" 2>/dev/null; then
      ct_log "the container did not power off in 10 s: killing it"
      [ -n "$CT_LEADER" ] && kill -KILL "$CT_LEADER" 2>/dev/null  # the whole PID namespace
      sleep 0.5
      kill -KILL "$CT_NSPID" 2>/dev/null
    fi
    wait "$CT_NSPID" 2>/dev/null
  fi
  local d left=""
  for d in $CT_CGDIRS; do
    [ -d "$d" ] || continue
    left="$left$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)"
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$d" ] && { echo "container: cgroup $d is still there"; rc=1; }
  done
  [ -z "$left" ] || { echo "container: processes left behind: $left"; rc=1; }
  if [ -n "$CT_W" ]; then
    if grep -q " $CT_W/" /proc/self/mounts; then
      echo "container: $CT_W is still mounted, not removing it"
      rc=1
    else
      rm -rf "$CT_W"
    fi
  fi
  exit $rc
}

ct_boot() {
  CT_W=$(mktemp -d /tmp/memd-systemd.XXXXXX) || { echo "mktemp failed"; exit 1; }
  mkdir -p "$CT_W/up" "$CT_W/root"
  local id machine
  id=$(basename "$CT_W" | tr -c 'a-zA-Z0-9\n' '-')
  machine="memd${id#memd-systemd-}"
  exec 3>&1 4>&2
  trap ct_cleanup EXIT
  trap 'exit 130' INT TERM
  # nspawn runs with --keep-unit in a cgroup of our own (pitfall 4): a
  # delegated scope where the host runs systemd (not tried on the reference
  # machine), otherwise a subtree we make in each hierarchy nspawn uses.
  local launch=()
  if [ -d /run/systemd/system ]; then
    launch=(systemd-run --quiet --scope --collect -p Delegate=yes --unit="$machine")
  else
    local _dev mp fstype opts _rest
    while read -r _dev mp fstype opts _rest; do
      if [ "$fstype" = cgroup2 ] || { [ "$fstype" = cgroup ] && [[ ",$opts," == *,name=systemd,* ]]; }; then
        mkdir "$mp/$id" && CT_CGDIRS="$CT_CGDIRS $mp/$id" && CT_CGPROCS="$CT_CGPROCS $mp/$id/cgroup.procs"
      fi
    done </proc/self/mounts
  fi
  local t0
  t0=$(date +%s.%N)
  CT_W=$CT_W CT_MACHINE=$machine CT_CGPROCS=$CT_CGPROCS CT_COPIES="${CT_COPIES[*]}" \
    CT_OVERLAYS="${CT_OVERLAYS[*]}" \
    "${launch[@]}" unshare --mount --propagation private -- bash "$CT_HERE/boot-inner.sh" \
    </dev/null >"$CT_W/console.log" 2>&1 &
  CT_NSPID=$!
  local _
  for _ in $(seq $((CT_TIMEOUT * 10))); do
    CT_LEADER=$(pgrep -P "$CT_NSPID" -x systemd | head -n 1) || true  # none yet: pgrep exits 1
    [ -n "$CT_LEADER" ] && break
    if ! kill -0 "$CT_NSPID" 2>/dev/null; then
      sed 's/^/  console: /' "$CT_W/console.log"
      CT_NSPID=
      ct_skip "systemd-nspawn could not start a container on this machine"
    fi
    sleep 0.1
  done
  [ -n "$CT_LEADER" ] || { sed 's/^/  console: /' "$CT_W/console.log"; echo "FAIL: no init in the container"; exit 1; }
  for _ in $(seq $((CT_TIMEOUT * 10))); do
    IN test -S /run/systemd/private 2>/dev/null && break
    sleep 0.1
  done
  local state
  state=$(ct_run systemctl is-system-running --wait 2>&1) || true  # non-zero when degraded
  case "$state" in
    running | degraded) ;;
    *)
      sed 's/^/  console: /' "$CT_W/console.log" | tail -n 30
      echo "FAIL: the container's systemd did not boot: '$state'"
      exit 1
      ;;
  esac
  if [ "$state" = degraded ]; then
    IN systemctl --failed --no-legend --plain | sed 's/^/  failed in the container (not ours): /'
  fi
  ct_log "container up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}') s" \
    "(init pid $CT_LEADER, $state)"
}
