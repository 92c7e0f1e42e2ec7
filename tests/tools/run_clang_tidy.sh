#!/usr/bin/env bash
# clang-tidy with the repository's .clang-tidy over the project's own sources
# (core daemon fusefs client protocol traceio; not tests/, bench/), in parallel, from a
# build directory's compile_commands.json. Every finding is an error.
# usage: run_clang_tidy.sh BUILD_DIR [JOBS]
# Prints clang-tidy's diagnostics, then one `FINDING file:line check` line per
# distinct finding (a header's finding is reported once, not once per source
# that includes it) and a summary line; exits 1 on any finding or when
# clang-tidy fails on a file.
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 BUILD_DIR [JOBS]}" && pwd)
JOBS=${2:-2}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TIDY=$(command -v clang-tidy || command -v clang-tidy-14 || true)
[ -n "$TIDY" ] || { echo "run_clang_tidy: no clang-tidy (apt-get install clang-tidy)"; exit 1; }
[ -f "$BUILD/compile_commands.json" ] || { echo "run_clang_tidy: no $BUILD/compile_commands.json"; exit 1; }
OUTDIR=$(mktemp -d /tmp/memd-tidy.XXXXXX)
trap 'rm -rf "$OUTDIR"' EXIT

mapfile -t FILES < <(python3 - "$BUILD/compile_commands.json" "$SRC" <<'PY'
import json, os, sys
src = os.path.realpath(sys.argv[2])
dirs = ("core", "daemon", "fusefs", "client", "protocol", "traceio")
seen = set()
for e in json.load(open(sys.argv[1])):
    f = os.path.realpath(os.path.join(e["directory"], e["file"]))
    rel = os.path.relpath(f, src)
    if rel.split(os.sep)[0] in dirs and f.endswith(".cpp") and f not in seen:
        seen.add(f)
        print(f)
PY
)
[ ${#FILES[@]} -gt 0 ] || { echo "run_clang_tidy: no project sources in $BUILD/compile_commands.json"; exit 1; }

# One log per file, so that parallel runs do not interleave their lines.
export TIDY BUILD OUTDIR
status=0
printf '%s\n' "${FILES[@]}" | xargs -P "$JOBS" -I{} sh -c \
  'f=$1; log=$OUTDIR/$(printf %s "$f" | tr / _).log
   "$TIDY" -p "$BUILD" --quiet --warnings-as-errors="*" "$f" >"$log" 2>&1 || echo "$f" >>"$OUTDIR/failed"' _ {} ||
  status=$?
cat "$OUTDIR"/*.log
# file:line:col: warning|error: message [check(,-warnings-as-errors)]
mapfile -t FINDINGS < <(cat "$OUTDIR"/*.log |
  sed -nE 's#^([^ :]+):([0-9]+):[0-9]+: (warning|error): .* \[([^],]+)(,-warnings-as-errors)?\]$#\1:\2 \4#p' |
  sed "s|^$SRC/||" | sort -t: -k1,1 -k2,2n -u)
for f in "${FINDINGS[@]}"; do echo "FINDING $f"; done
nfailed=0
[ -f "$OUTDIR/failed" ] && nfailed=$(wc -l <"$OUTDIR/failed")
if [ ${#FINDINGS[@]} -gt 0 ]; then
  echo "run_clang_tidy: ${#FINDINGS[@]} findings in ${#FILES[@]} files; by check:"
  printf '%s\n' "${FINDINGS[@]}" | awk '{print $2}' | sort | uniq -c | sort -rn | sed 's/^/  /'
  exit 1
fi
if [ "$nfailed" != 0 ] || [ "$status" != 0 ]; then
  echo "run_clang_tidy: clang-tidy failed on $nfailed files (no diagnostic with a check name; see above)"
  exit 1
fi
echo "run_clang_tidy: no findings in ${#FILES[@]} files"
