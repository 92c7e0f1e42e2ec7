#!/bin/bash
# Builds memd's .deb with CPack from an already built tree and leaves it at
# OUT (a fixed name for the tests that install it).
# usage: build_deb.sh CPACK CPackConfig.cmake OUT.deb
set -euo pipefail
CPACK=$1 CONFIG=$2 OUT=$3
DIR=$(dirname "$OUT")
rm -rf "$DIR"
mkdir -p "$DIR"
"$CPACK" -G DEB --config "$CONFIG" -B "$DIR/cpack" >"$DIR/cpack.log" 2>&1 || {
  cat "$DIR/cpack.log"
  echo "FAIL: cpack"
  exit 1
}
set -- "$DIR"/cpack/memd_*.deb
[ $# = 1 ] && [ -f "$1" ] || { cat "$DIR/cpack.log"; echo "FAIL: cpack made no single memd_*.deb"; exit 1; }
mv "$1" "$OUT"
rm -rf "$DIR/cpack"
echo "built $OUT ($(dpkg-deb -f "$OUT" Version), $(stat -c %s "$OUT") bytes)"
