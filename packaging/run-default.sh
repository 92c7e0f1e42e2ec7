#!/bin/sh
# Installs the dependencies, builds memd and memctl (Release), builds the .deb
# and installs it, then starts memd on its default machine (one node, 4 GiB,
# 2 CPUs; /etc/memd/memd.toml): as a service where systemd runs, otherwise as
# a daemon started by hand. Prints where the files are and what to try next.
# Run it again after a change: it rebuilds, reinstalls and restarts memd.
# usage: packaging/run-default.sh        (as root, or with sudo available)
# Environment: MEMD_BUILD_DIR (default build-release/), MEMD_JOBS (default 2),
#   MEMD_NO_DEPS=1 to skip packaging/install-deps.sh.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${MEMD_BUILD_DIR:-$SRC/build-release}
JOBS=${MEMD_JOBS:-2}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
step() { printf '\n== %s\n' "$*"; }

if [ "${MEMD_NO_DEPS:-0}" != 1 ]; then
  step "dependencies (packaging/install-deps.sh)"
  "$SRC/packaging/install-deps.sh"
fi

step "build memd and memctl in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DMEMD_BUILD_TESTS=OFF -DMEMD_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j "$JOBS"

step "package and install memd (.deb)"
rm -f "$BUILD"/memd_*.deb
(cd "$BUILD" && cpack -G DEB >/dev/null)
DEB=$(ls "$BUILD"/memd_*.deb)
echo "$DEB"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --reinstall "$DEB"

if [ -d /run/systemd/system ]; then
  step "start memd.service"
  $SUDO systemctl start memd.service   # a reinstall restarted it already (postinst)
  systemctl --no-pager status memd.service | head -n 4 || true
  HOW="it runs as a service: systemctl status memd; journalctl -u memd
  stop it:        ${SUDO:+sudo }systemctl stop memd
  at every boot:  ${SUDO:+sudo }systemctl enable --now memd   (or memd.socket: started on first use)"
else
  step "start memd (systemd is not running here: memd detaches by itself)"
  SOCK=/run/memd/memd.sock
  if [ -f $SOCK.lock ] && PID=$(cat $SOCK.lock) && [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    echo "stopping the memd already running (pid $PID)"
    $SUDO kill -TERM "$PID"
    while kill -0 "$PID" 2>/dev/null; do sleep 0.1; done
  fi
  $SUDO memd   # returns once the files are mounted and the socket listens
  HOW="it runs as a daemon (logs to syslog; memd --foreground keeps it in a terminal)
  stop it:        ${SUDO:+sudo }kill \$(cat /run/memd/memd.sock.lock)"
fi

cat <<EOF

memd $(memd --version) is running, emulating its default machine
  (one node, 4 GiB, 2 CPUs, x86_64; edit /etc/memd/memd.toml and restart to change it).
  the files:      /run/memd/proc/{buddyinfo,pagetypeinfo,zoneinfo,vmstat,meminfo,extfrag_index,unusable_index,control}
  the socket:     /run/memd/memd.sock (root and group memd)
  $HOW

Try:
  cat /run/memd/proc/buddyinfo
  ${SUDO:+sudo }memctl alloc --order 3 --movable
  cat /run/memd/proc/buddyinfo
  echo "alloc order=0 gfp=GFP_KERNEL count=1000" | ${SUDO:+sudo }tee /run/memd/proc/control
  ${SUDO:+sudo }memctl status
  ${SUDO:+sudo }memctl replay $(cd "$SRC/.." && pwd)/shared/traces/build-sample.trace.gz
  ${SUDO:+sudo }memctl free --all
EOF
