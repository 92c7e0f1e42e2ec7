#!/bin/sh
# Installs everything memd needs to build, run, test and package, from
# Debian 12's packages. Safe to run again (apt-get only adds what is missing).
# Usage: packaging/install-deps.sh            (as root, or with sudo available)
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# --no-install-recommends: systemd-container recommends libnss-mymachines,
# which would edit /etc/nsswitch.conf. chromium and python3-pil are for the
# picture tests only (tests/pictures/: SVGs rendered in a real browser).
# libtracecmd/libtraceevent (and libtracefs, which they need) read trace-cmd's
# trace.dat; libzstd and liblzma zstd and xz traces; trace-cmd and linux-perf
# record the live traces of tests/traces/.
$SUDO apt-get install -y --no-install-recommends --no-upgrade \
  build-essential cmake pkg-config git ca-certificates \
  clang clang-format clang-tidy libclang-rt-14-dev \
  libfuse3-dev fuse3 \
  libboost-dev libsystemd-dev \
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libfmt-dev zlib1g-dev \
  libtracecmd-dev libtraceevent-dev libtracefs-dev libzstd-dev liblzma-dev trace-cmd linux-perf \
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev \
  jc socat python3 gzip zstd xz-utils universal-ctags \
  chromium python3-pil \
  systemd systemd-container \
  procps psmisc util-linux passwd binutils dpkg-dev file
