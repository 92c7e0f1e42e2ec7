#!/bin/bash
# Every test of memd, as CI runs it (.ci/run):
#   release  g++ Release build (memd, memctl, tests, benchmarks built but not run);
#            every ctest test: unit, integration (real FUSE mounts), the .deb,
#            memd under a real systemd in a throw-away container
#   asan     the same suite built with -DMEMD_SANITIZE=address,undefined
#   tsan     the same suite built with -DMEMD_SANITIZE=thread
#   fuzz     clang -DMEMD_FUZZ=ON: each fuzz target for MEMD_FUZZ_SECONDS (20) seconds
#   lint     clang build of memd and memctl (every source clang-tidy reads) with
#            -DMEMD_THREAD_SAFETY=ON (-Wthread-safety -Werror), then
#            clang-tidy (.clang-tidy, warnings as errors) on core daemon fusefs
#            client protocol; any finding fails the stage
# Installs the dependencies first (packaging/install-deps.sh, apt-get update).
# Every stage runs even when an earlier one failed; the exit status is 0 only
# when every stage built and every test passed (skipped tests are listed).
#
# usage: tests/run-all.sh [--no-deps] [--only release,asan,tsan,fuzz,lint] [--long]
#   --no-deps   do not run packaging/install-deps.sh
#   --only      run these stages only
#   --long      (or MEMD_LONG=1) long fuzzing (MEMD_LONG_FUZZ_SECONDS, 300 s a
#               target) and tests labelled `long` (load runs); off by default
# Environment: MEMD_JOBS (parallel compile and test jobs, default 2),
#   MEMD_CI_DIR (build directories, default build-ci/ in the source tree).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
DEPS=1
STAGES=release,asan,tsan,fuzz,lint
MEMD_LONG=${MEMD_LONG:-0}
while [ $# -gt 0 ]; do
  case "$1" in
    --no-deps) DEPS=0 ;;
    --only) STAGES=$2; shift ;;
    --only=*) STAGES=${1#--only=} ;;
    --long) MEMD_LONG=1 ;;
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-all.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
export MEMD_LONG
JOBS=${MEMD_JOBS:-2}
OUT=${MEMD_CI_DIR:-$SRC/build-ci}
FUZZ_SECONDS=${MEMD_FUZZ_SECONDS:-20}
[ "$MEMD_LONG" = 1 ] && FUZZ_SECONDS=${MEMD_LONG_FUZZ_SECONDS:-300}
# Tests labelled `long` only with --long / MEMD_LONG=1.
CTEST_FILTER=(-LE long)
[ "$MEMD_LONG" = 1 ] && CTEST_FILTER=()

T0=$(date +%s)
SUMMARY=()
FAILED=0
mkdir -p "$OUT"
ts() { date +%T; }
elapsed() { echo "$(($(date +%s) - $1))s"; }

if [ "$DEPS" = 1 ]; then
  echo "== $(ts) dependencies: packaging/install-deps.sh"
  t=$(date +%s)
  if "$SRC/packaging/install-deps.sh" >"$OUT/deps.log" 2>&1; then
    SUMMARY+=("deps      ok       $(elapsed "$t")")
  else
    tail -n 30 "$OUT/deps.log"
    echo "run-all.sh: installing the dependencies failed (log: $OUT/deps.log)"
    exit 1
  fi
fi

# stage NAME CONFIGURE-ARGS... -- BUILD-TARGETS... -- CTEST-ARGS...
# Configures, builds (only the targets named, or all) and runs ctest in $OUT/NAME.
stage() {
  local name=$1
  shift
  local cfg=() targets=() tests=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do cfg+=("$1"); shift; done
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do targets+=("$1"); shift; done
  shift
  tests=("$@")
  local dir=$OUT/$name log=$OUT/$name.log t
  t=$(date +%s)
  : >"$log"
  rm -f "$dir/ctest.log"
  echo "== $(ts) $name: configure and build in $dir (log: $log)"
  if ! cmake -S "$SRC" -B "$dir" "${cfg[@]}" >>"$log" 2>&1; then
    tail -n 40 "$log"
    SUMMARY+=("$(printf '%-9s %-8s %s' "$name" FAILED "$(elapsed "$t")  cmake failed")")
    FAILED=1
    return
  fi
  local build=(cmake --build "$dir" -j "$JOBS")
  [ ${#targets[@]} -gt 0 ] && build+=(--target "${targets[@]}")
  if ! "${build[@]}" >>"$log" 2>&1; then
    grep -E -A6 'error:|Error [0-9]' "$log" | head -n 80
    SUMMARY+=("$(printf '%-9s %-8s %s' "$name" FAILED "$(elapsed "$t")  build failed")")
    FAILED=1
    return
  fi
  local tb
  tb=$(elapsed "$t")
  echo "== $(ts) $name: built in $tb; ctest ${tests[*]}"
  local prefix=()
  # ThreadSanitizer cannot map its shadow with some ASLR settings: run without ASLR.
  [ "$name" = tsan ] && prefix=(setarch "$(uname -m)" -R)
  (cd "$dir" && "${prefix[@]}" ctest --output-on-failure --no-tests=error -j "$JOBS" "${tests[@]}") \
    >"$dir/ctest.log" 2>&1
  local rc=$?
  cat "$dir/ctest.log" >>"$log"
  if [ $rc = 0 ]; then
    sed -n '/tests passed/,$p' "$dir/ctest.log"
  else
    cat "$dir/ctest.log"  # the failed tests' output is in there (--output-on-failure)
  fi
  local skipped
  skipped=$(grep -c '\*\*\*Skipped\|Not Run (Disabled)' "$dir/ctest.log")
  if [ $rc = 0 ]; then
    SUMMARY+=("$(printf '%-9s %-8s %s' "$name" ok "$(elapsed "$t")  (build $tb; $(grep -o '[0-9]*% tests passed.*' "$dir/ctest.log" | head -n 1); $skipped skipped)")")
  else
    SUMMARY+=("$(printf '%-9s %-8s %s' "$name" FAILED "$(elapsed "$t")  (build $tb; $(grep -o '[0-9]*% tests passed.*' "$dir/ctest.log" | head -n 1))")")
    FAILED=1
  fi
}

has() { [[ ",$STAGES," == *",$1,"* ]]; }
# Sanitizer builds: -O1 with line tables only (40% less compile time than
# -O2 -g, and the stack traces keep their lines); assertions on; no benchmarks.
SAN_CFG=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" "-DCMAKE_C_FLAGS_DEBUG=-O1 -g1"
  -DMEMD_BUILD_BENCH=OFF)

if has release; then
  stage release -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -- -- "${CTEST_FILTER[@]}"
fi
if has asan; then
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    stage asan "${SAN_CFG[@]}" -DMEMD_SANITIZE=address,undefined -- -- "${CTEST_FILTER[@]}"
fi
# What those tests run: memd, memctl and the daemon's and the adapter's own tests.
TSAN_LABELS='daemon|fusefs|integration|memctl|traces|systemd'
TSAN_TARGETS=(memd memctl daemon_tests fusefs_tests)
if has tsan; then
  # Only the tests that run threads: the daemon's (socket server, Service,
  # fusefs) and those that start memd. The core's unit tests run on one
  # thread, where ThreadSanitizer has nothing to find (ASan runs them all).
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
    stage tsan "${SAN_CFG[@]}" -DMEMD_SANITIZE=thread -- "${TSAN_TARGETS[@]}" -- \
    "${CTEST_FILTER[@]}" -L "$TSAN_LABELS"
fi
if has fuzz; then
  # clang (libFuzzer); only the fuzz targets are built: ctest -N names them (fuzz.<target>).
  export CC=clang CXX=clang++
  FUZZ_CFG=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMD_FUZZ=ON -DMEMD_FUZZ_SECONDS="$FUZZ_SECONDS"
    -DMEMD_BUILD_BENCH=OFF)
  FUZZ_TARGETS=()
  if cmake -S "$SRC" -B "$OUT/fuzz" "${FUZZ_CFG[@]}" >"$OUT/fuzz.log" 2>&1; then
    mapfile -t FUZZ_TARGETS < <(cd "$OUT/fuzz" && ctest -N -L fuzz | sed -n 's/^ *Test *#[0-9]*: fuzz\.//p')
  fi
  stage fuzz "${FUZZ_CFG[@]}" -- "${FUZZ_TARGETS[@]}" -- -L fuzz
  unset CC CXX
fi

# lint: the invariants the compiler and clang-tidy can check. A clang build
# (-O0, no debug info: only the diagnostics matter) with -Wthread-safety and
# -Werror, then clang-tidy with the repository's .clang-tidy over the
# project's own sources (not tests/, bench/), warnings as errors.
lint_stage() {
  local dir=$OUT/lint log=$OUT/lint.log t tb
  t=$(date +%s)
  : >"$log"
  rm -f "$dir/clang-tidy.log"
  echo "== $(ts) lint: clang -Wthread-safety build in $dir, then clang-tidy (log: $log)"
  if ! CC=clang CXX=clang++ cmake -S "$SRC" -B "$dir" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DCMAKE_C_FLAGS_DEBUG=-O0 -DMEMD_THREAD_SAFETY=ON \
    -DMEMD_BUILD_BENCH=OFF >>"$log" 2>&1; then
    tail -n 40 "$log"
    SUMMARY+=("$(printf '%-9s %-8s %s' lint FAILED "$(elapsed "$t")  cmake failed")")
    FAILED=1
    return
  fi
  # memd and memctl build every library of core daemon fusefs client
  # protocol: all that -Wthread-safety and clang-tidy are asked to check.
  if ! cmake --build "$dir" -j "$JOBS" --target memd memctl >>"$log" 2>&1; then
    grep -E -A6 'error:|Error [0-9]' "$log" | head -n 80
    SUMMARY+=("$(printf '%-9s %-8s %s' lint FAILED "$(elapsed "$t")  clang build failed")")
    FAILED=1
    return
  fi
  tb=$(elapsed "$t")
  echo "== $(ts) lint: built in $tb; clang-tidy"
  local tidy=$OUT/lint/clang-tidy.log findings=0 rc=0
  "$SRC/tests/tools/run_clang_tidy.sh" "$dir" "$JOBS" >"$tidy" 2>&1 || rc=$?
  cat "$tidy" >>"$log"
  findings=$(grep -c '^FINDING ' "$tidy" || true)
  if [ "$rc" = 0 ]; then
    tail -n 1 "$tidy"
    SUMMARY+=("$(printf '%-9s %-8s %s' lint ok "$(elapsed "$t")  (build $tb; clang-tidy: no findings)")")
  else
    grep -E '^FINDING |^run_clang_tidy' "$tidy"
    SUMMARY+=("$(printf '%-9s %-8s %s' lint FAILED "$(elapsed "$t")  (build $tb; clang-tidy: $findings findings)")")
    FAILED=1
  fi
}
if has lint; then lint_stage; fi

echo
echo "== memd tests: $(elapsed "$T0") in all (stages: $STAGES; long: $MEMD_LONG)"
for line in "${SUMMARY[@]}"; do echo "   $line"; done
for name in release asan tsan fuzz; do
  if ! has "$name" || [ ! -f "$OUT/$name/ctest.log" ]; then continue; fi
  grep -h '\*\*\*Skipped' "$OUT/$name/ctest.log" | sed "s/^/   skipped in $name: /"
done
for name in release asan tsan fuzz; do
  if ! has "$name" || [ ! -f "$OUT/$name/ctest.log" ]; then continue; fi
  sed -n '/The following tests FAILED/,/^Errors while running/p' "$OUT/$name/ctest.log" |
    grep -E '^\s+[0-9]+ - ' | sed "s/^\s*/   FAILED in $name: /"
done
if has lint && [ -f "$OUT/lint/clang-tidy.log" ]; then
  grep -h '^FINDING ' "$OUT/lint/clang-tidy.log" | sed 's/^FINDING /   lint: /'
fi
if [ "$FAILED" = 0 ]; then echo "== PASSED"; else echo "== FAILED"; fi
exit "$FAILED"
