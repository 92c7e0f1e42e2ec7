#!/usr/bin/env bash
# The style checkers on small fixture trees: each rule broken once is reported
# with its file and line and fails; the same tree without the breaks passes.
# usage: selftest.sh   (runs the checkers next to it)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/memd-tools-test.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# run CHECKER ARGS...: sets $out and $rc without stopping the script.
run() { rc=0; out=$("$@" 2>&1) || rc=$?; }

# --- layering ---
mkdir -p "$W/l"/{core,protocol,fusefs,client,daemon,traceio}
cd "$W/l"
printf '#include "core/zone.h"\n#include "types.h"\n#include <vector>\n' >core/ok.cpp
printf '#include "protocol/command.h"\n' >fusefs/ok.cpp
printf '#include "protocol/command.h"\n#include <fuse3/fuse.h>\n' >client/ok.h
printf '#include "core/machine.h"\n#include "fusefs/fuse_mount.h"\n' >daemon/ok.cpp
printf '#include "traceio/trace_input.h"\n' >client/ok2.cpp
printf '#include "traceio/decompress.h"\n#include <zlib.h>\n' >traceio/ok.cpp
run "$HERE/check_layering.py" "$W/l"
[ "$rc" = 0 ] || fail "layering: a clean tree fails: $out"
printf '// a comment\n#include "daemon/log.h"\n' >core/bad.cpp
printf '#include "../daemon/service.h"\n' >fusefs/bad.h
printf '#  include "core/result.h"\n' >client/bad.cpp
printf '#include <core/types.h>\n' >protocol/bad.h
printf '#include "core/types.h"\n' >fusefs/bad2.cpp
printf '#include "protocol/reply.h"\n' >traceio/bad.cpp
run "$HERE/check_layering.py" "$W/l"
[ "$rc" = 1 ] || fail "layering: exit $rc on a broken tree, wanted 1: $out"
for want in "core/bad.cpp:2: includes daemon/log.h (core/" \
  "fusefs/bad.h:1: includes ../daemon/service.h (fusefs/" \
  "fusefs/bad2.cpp:1: includes core/types.h (fusefs/" \
  "client/bad.cpp:1: includes core/result.h (client/" \
  "protocol/bad.h:1: includes core/types.h (protocol/" \
  "traceio/bad.cpp:1: includes protocol/reply.h (traceio/"; do
  grep -qF -- "$want" <<<"$out" || fail "layering: no [$want] in: $out"
done
[ "$(grep -c ': includes ' <<<"$out")" = 6 ] || fail "layering: not exactly 6 violations: $out"

# --- function length ---
mkdir -p "$W/f/core" "$W/f/tests"
body() { for _ in $(seq "$1"); do echo "  x++;"; done; }
{
  echo "namespace memd {"
  echo "int eighty(int x) {"; body 77; echo "  return x;"; echo "}"  # 80 lines: allowed
  echo "int long_one(int x) {"; body 79; echo "  return x;"; echo "}"
  echo "int with_lambda(int x) {"
  echo "  auto l = [&](int y) {"; body 40; echo "    return y;"; echo "  };"
  echo "  return l(x);"; echo "}"
  echo "}"
} >"$W/f/core/a.cpp"
{ echo "void long_test() {"; body 200; echo "}"; } >"$W/f/tests/t.cpp"
run "$HERE/check_function_length.py" "$W/f"
[ "$rc" = 1 ] || fail "length: exit $rc, wanted 1: $out"
grep -qF "core/a.cpp:82 memd::long_one (82 lines)" <<<"$out" || fail "length: long_one not reported: $out"
[ "$(grep -c ' lines)$' <<<"$out")" = 1 ] || fail "length: not exactly one function reported: $out"
run "$HERE/check_function_length.py" --max 82 "$W/f"
[ "$rc" = 0 ] || fail "length: --max 82 fails: $out"
echo "PASS: selftest.sh"
