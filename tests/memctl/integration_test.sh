#!/usr/bin/env bash
# memctl against a real memd: every subcommand, its output, --json and its
# exit status. Starts memd on a temporary mount and socket (as root: FUSE) and
# always cleans up (kill by pid, lazy unmount, rm the directory), whatever the
# outcome. Exit 77: skipped.
#   usage: integration_test.sh path/to/memd path/to/memctl path/to/build-sample.trace.gz
set -euo pipefail
MEMCTL=$(readlink -f "${2:?usage: $0 MEMD MEMCTL SAMPLE_TRACE}")
SAMPLE=$(readlink -f "${3:?usage: $0 MEMD MEMCTL SAMPLE_TRACE}") || SAMPLE=$3
# The daemon tests' harness: $W, $MNT, $SOCK, $LOG, a $CONFIG of the default
# machine without a state directory, start_memd/stop_memd, and the cleanup
# (kill by pid without hanging, lazy unmount, rm) whatever the outcome.
. "$(dirname "$0")/../daemon/lib.sh" "$@"
[ -f "$SAMPLE" ] || fail "no sample trace at $SAMPLE"

# A failure shows what memctl printed, then memd's log.
fail() {
  echo "FAIL: $*"
  echo "  memctl stdout: $(head -c 2000 "$W/out" 2>/dev/null)"
  echo "  memctl stderr: $(cat "$W/err" 2>/dev/null)"
  [ -s "$LOG" ] && sed 's/^/  memd log: /' "$LOG" | tail -n 20
  exit 1
}

# mc ARGS...: runs memctl on the test's socket; sets RC, OUT, ERR.
mc() {
  RC=0
  "$MEMCTL" --socket "$SOCK" "$@" >"$W/out" 2>"$W/err" || RC=$?
  OUT=$(cat "$W/out")
  ERR=$(cat "$W/err")
}
expect_rc() { [ "$RC" = "$1" ] || fail "memctl $2: exit $RC, wanted $1"; }
expect_out() { [ "$OUT" = "$1" ] || fail "stdout [$OUT], wanted [$1]"; }
expect_out_has() { case "$OUT" in *"$1"*) ;; *) fail "stdout lacks [$1]" ;; esac; }
# (A here-string, not a pipe: grep -q ending early must not fail the writer.)
expect_out_matches() { grep -Eq -- "$1" <<<"$OUT" || fail "stdout does not match /$1/"; }
expect_no_err() { [ -z "$ERR" ] || fail "stderr not empty"; }
# One line on stderr, "memctl: ..." containing $1.
expect_err_line() {
  [ "$(wc -l <"$W/err")" = 1 ] || fail "stderr is not one line"
  case "$ERR" in "memctl: "*"$1"*) ;; *) fail "stderr lacks [$1]" ;; esac
}
# json EXPR: a Python expression on the parsed stdout `r`.
json() { printf '%s' "$OUT" | python3 -c "import json,sys; r=json.load(sys.stdin); print($1)"; }

# --- start memd ---------------------------------------------------------------------------------
start_memd

# --- status, reset, check -----------------------------------------------------------------------
mc status
expect_rc 0 status; expect_no_err
expect_out_has "memd pid $MEMD_PID: x86_64, 4095 MiB in 1 node, 2 CPUs"
expect_out_matches '^   0  Normal +0x100000 +262144 +262144 +262144 +262144$'
expect_out_has "live allocations: 0"
expect_out_has "replay running: no"
mc status --json
expect_rc 0 "status --json"
[ "$(json 'r["ok"], r["machine"]["cpus"], r["live_allocations"]')" = "True 2 0" ] || fail "status --json"
MEMD_SOCKET=$SOCK "$MEMCTL" status >/dev/null 2>&1 || fail "MEMD_SOCKET is not used"
mc reset
expect_rc 0 reset; expect_out "machine reset: x86_64, 4095 MiB in 1 node, 2 CPUs"
mc check
expect_rc 0 check; expect_out "ok: every invariant holds"; expect_no_err
mc --json check
expect_rc 0 "--json check"; [ "$(json 'r["ok"]')" = True ] || fail "check --json"

# --- alloc ---------------------------------------------------------------------------------------
HEADER="      ID  PFN          ORDER  ZONE     NODE  MIGRATETYPE"
mc alloc --order 3 --movable
expect_rc 0 alloc; expect_no_err
expect_out "$HEADER
       1  0x100000         3  Normal      0  Movable"
mc alloc --order 3 --json
expect_rc 0 "alloc --json"
[ "$(printf '%s\n' "$OUT" | wc -l)" = 1 ] || fail "--json is not one line"
[ "$(json 'r["ok"], r["allocations"][0]["id"], r["allocations"][0]["order"], r["allocations"][0]["migratetype"]')" = \
  "True 2 3 Unmovable" ] || fail "alloc --json"
mc alloc --reclaimable --count 3 --cpu 1
expect_rc 0 "alloc --reclaimable --count 3"
[ "$(printf '%s\n' "$OUT" | grep -c ' Reclaimable$')" = 3 ] || fail "three reclaimable allocations"
mc alloc --gfp 'GFP_NOWAIT|__GFP_COMP' --order 2 --node 0
expect_rc 0 "alloc --gfp"; expect_out_matches '^ +6  0x[0-9a-f]+ +2  Normal +0  Unmovable$'
# --- allocations: where each one is, filtered --------------------------------------------------
mc allocations --migratetype Movable
expect_rc 0 "allocations --migratetype Movable"; expect_no_err
expect_out "$HEADER
       1  0x100000         3  Normal      0  Movable
1 of 1 allocation"
mc allocations --migratetype Reclaimable --limit 2
expect_rc 0 "allocations --limit 2"
[ "$(printf '%s\n' "$OUT" | tail -n 2)" = "2 of 3 allocations
the next ones: --after 4" ] || fail "allocations --limit 2: $OUT"
mc allocations --zone Normall
expect_rc 2 "allocations --zone Normall"; expect_out ""; expect_err_line "zone=Normall"
mc alloc --node 5
expect_rc 2 "alloc --node 5"; expect_out ""; expect_err_line "node=5"
mc alloc --gfp '__GFP_BOGUS'
expect_rc 2 "alloc --gfp __GFP_BOGUS"; expect_err_line "__GFP_BOGUS"
mc alloc --order x
expect_rc 2 "alloc --order x"; expect_err_line "--order"
# A value out of range is a usage error whichever side notices it: memctl
# (--order -1 is no unsigned number) or memd (order 20 is above MAX_PAGE_ORDER).
mc alloc --order -1
expect_rc 2 "alloc --order -1"; expect_out ""
mc alloc --order 20
expect_rc 2 "alloc --order 20"; expect_out ""; expect_err_line "order"
mc --json alloc --order 20
expect_rc 2 "--json alloc --order 20"
[ "$(json 'r["ok"], r["failure"]')" = "False bad_input" ] || fail "alloc --order 20 --json"
# Exhaust the machine with order-10 blocks: the kernel's failure line, and what was allocated.
mc alloc --order 10 --gfp GFP_NOWAIT --count 5000
expect_rc 1 "alloc until failure"
expect_err_line "page allocation failure: order:10, mode:0x2800(GFP_NOWAIT), nodemask=(null)"
[ "$(printf '%s\n' "$OUT" | wc -l)" -gt 100 ] || fail "the allocations made before the failure"

# --- free ----------------------------------------------------------------------------------------
mc free --all
expect_rc 0 "free --all"; expect_out_matches '^freed [0-9]+ allocations$'
mc alloc --order 3 --movable --json
expect_rc 0 "alloc --order 3 --movable --json"
PFN=$(json 'r["allocations"][0]["pfn"]')
ID=$(json 'r["allocations"][0]["id"]')
mc free "$PFN"
expect_rc 0 "free $PFN"; expect_no_err
expect_out "freed 1 allocation
$HEADER
$(printf '%8s  %-12s %5s  %-8s %4s  %s' "$ID" "$PFN" 3 Normal 0 Movable)"
mc free "$PFN"
expect_rc 2 "free $PFN again"; expect_out ""; expect_err_line "pfn=$PFN"
mc alloc --count 2 --json
expect_rc 0 "alloc --count 2 --json"
mc free --id "$(json 'r["allocations"][0]["id"]')" --id "$(json 'r["allocations"][1]["id"]')" --cpu 1
expect_rc 0 "free --id"; expect_out_has "freed 2 allocations"
mc free
expect_rc 2 "free with nothing"; expect_err_line "free"

# The issue's example: 32249 ids, more than one line of memd's takes. memctl
# sends them in parts under the limit and prints one result, as one command
# would; memd logs no oversized line. (The long outputs are read from their
# files: mcf is mc without $OUT.)
mcf() {
  RC=0
  "$MEMCTL" --socket "$SOCK" "$@" >"$W/out" 2>"$W/err" || RC=$?
  ERR=$(cat "$W/err")
}
mc reset
for count in 100000 100000 58000; do
  "$MEMCTL" --socket "$SOCK" --json alloc --count "$count" >/dev/null || fail "alloc --count $count"
done
mcf free --id $(seq 10 8 258000)
expect_rc 0 "free --id \$(seq 10 8 258000)"; expect_no_err
[ "$(head -n 1 "$W/out")" = "freed 32249 allocations" ] || fail "freed 32249"
[ "$(wc -l <"$W/out")" = 32251 ] || fail "the header and 32249 rows"
[ "$(awk 'NR > 2 {print $1}' "$W/out")" = "$(seq 10 8 258000)" ] || fail "the ids freed, in order"
mc --json status
[ "$(json 'r["live_allocations"]')" = $((258000 - 32249)) ] || fail "live allocations after the free"
grep -q "longer than" "$LOG" && fail "memd saw an oversized line"
# Again: the first part is refused (id 10 is gone), nothing is freed.
mcf free --id $(seq 10 8 258000)
expect_rc 2 "the same free again"; [ -s "$W/out" ] && fail "the same free again printed something"
expect_err_line "free: id=10: no live allocation has this id"
# Refused in a later part: what the parts before it freed is printed and said.
mc free --id 200004
expect_rc 0 "free --id 200004"
mcf free --id $(seq 12 8 258000)
expect_rc 2 "a free refused in its fourth part"
expect_err_line "free: id=200004: no live allocation has this id (memd refused part 4 of 5, targets 21048-27600 of 32249 and freed none of them; parts 1-3 (targets 1-21047) were freed: 21047 allocations; targets 27601-32249 were not sent)"
FREED=$(sed -n 's/.* were freed: \([0-9]*\) allocations.*/\1/p' "$W/err")
[ -n "$FREED" ] && [ "$(head -n 1 "$W/out")" = "freed $FREED allocations" ] ||
  fail "what was freed before the refusal"
[ "$(awk 'NR > 2 {print $1}' "$W/out")" = "$(seq 12 8 $((12 + 8 * (FREED - 1))))" ] ||
  fail "the ids freed before the refusal"
mc --json status
[ "$(json 'r["live_allocations"]')" = $((258000 - 32249 - 1 - FREED)) ] ||
  fail "live allocations after a free refused in its fourth part"
# The same line sent whole by another client: memd reads it to its end, answers
# with the limit, closes the connection and logs it.
OVERSIZED=$(python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(("free" + "".join(" id=%d" % i for i in range(10, 258001, 8)) + "\n").encode())
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print(got.decode(), end="")
' "$SOCK") || fail "a client writing a 308 KB line: $OVERSIZED"
WANT="{\"ok\":false,\"error\":\"line longer than 65536 bytes: 'free id=10 id=18 id=26 id=34 id=42 id=50 id=58 i...' has no newline in its first 65536 bytes; closing the connection\",\"failure\":\"bad_input\"}"
[ "$OVERSIZED" = "$WANT" ] || fail "memd's reply to a 308 KB line: $OVERSIZED"
grep -q "socket: pid [0-9]* uid 0: line longer than 65536 bytes: 'free id=10 " "$LOG" ||
  fail "memd did not log the oversized line"
mc free --all
expect_rc 0 "free --all"

# --- show: exactly what the mount serves -----------------------------------------------------------
for f in buddyinfo pagetypeinfo zoneinfo vmstat meminfo extfrag_index unusable_index pageblocks.svg; do
  mc show "$f"
  expect_rc 0 "show $f"; expect_no_err
  [ "$OUT" = "$(cat "$MNT/$f")" ] || fail "show $f differs from $MNT/$f"
done
mc show buddyinfo --json
[ "$(json 'r["text"] == open("'"$MNT"'/buddyinfo").read()')" = True ] || fail "show --json"
mc show cpuinfo
expect_rc 2 "show cpuinfo"; expect_err_line "cpuinfo"

# --- sysctl --------------------------------------------------------------------------------------
mc sysctl
expect_rc 0 sysctl; expect_out_matches '^vm\.min_free_kbytes = [0-9]+$'
expect_out_matches '^vm\.lowmem_reserve_ratio = 256	256	32	0	0$'
mc sysctl min_free_kbytes=70000
expect_rc 0 "sysctl set"; expect_out "vm.min_free_kbytes = 70000"
mc sysctl vm.min_free_kbytes
expect_rc 0 "sysctl get"; expect_out "vm.min_free_kbytes = 70000"
mc sysctl --json watermark_scale_factor
[ "$(json 'r["sysctl"]["watermark_scale_factor"]')" = 10 ] || fail "sysctl --json"
mc sysctl bogus
expect_rc 2 "sysctl bogus"; expect_err_line "bogus"
mc sysctl min_free_kbytes=-5
expect_rc 2 "sysctl bad value"

# --- replay ----------------------------------------------------------------------------------------
# The sample trace on a fresh machine: counts as tests/replay/sample_trace_test.cpp derives them.
mc reset
expect_rc 0 "reset"
mc replay "$SAMPLE"
expect_rc 0 replay; expect_no_err  # not a terminal: no progress bar
expect_out_matches "^replayed $SAMPLE: 300000 lines in [0-9.]+ s$"
expect_out_matches '^  applied_allocs +192164$'
expect_out_matches '^  applied_frees +59509$'
expect_out_matches '^  skipped_free_before_trace +1100$'
expect_out_matches '^  skipped_batched +47227$'
expect_out_matches '^  malformed_lines +0$'
mc check
expect_rc 0 "check after replay"
mc status
expect_out_has "live allocations: 132655"
# The pageblock map of the replayed machine, as `memctl show pageblocks.svg > map.svg`
# saves it: its cells of each migrate type are pagetypeinfo's block counts.
"$MEMCTL" --socket "$SOCK" show pageblocks.svg >"$W/map.svg" || fail "show pageblocks.svg > map.svg"
"$PY" - "$W/map.svg" "$MNT/pagetypeinfo" <<'EOF' || fail "the map after the replay"
import re, sys
import xml.etree.ElementTree as ET
types = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"]
cells = [0] * 5
for e in ET.parse(sys.argv[1]).getroot().iter():
    if e.get("data-pfn") is not None:
        cells[types.index(e.get("data-mt"))] += 1
table = open(sys.argv[2]).read().split("Number of blocks type")[1]
blocks = [0] * 5
for row in re.findall(r"^Node \d+, zone +\w+ ((?: +\d+){5}) $", table, re.M):
    blocks = [a + int(b) for a, b in zip(blocks, row.split())]
assert cells == blocks, (cells, blocks)
assert blocks[0] > 0 and blocks[2] > 0, blocks  # the replay made Unmovable and Reclaimable blocks
EOF
mc reset
expect_rc 0 "reset"
mc --json replay "$SAMPLE"
expect_rc 0 "replay --json"
[ "$(json 'r["ok"], r["report"]["lines"], r["report"]["applied_allocs"], r["report"]["malformed"]')" = \
  "True 300000 192164 []" ] || fail "replay --json"
# A plain (not gzipped) trace with a malformed line: reported with its line number.
{
  echo "# tracer: nop"
  echo "  bash-1 [001] ..... 1.000001: mm_page_alloc: page=0 pfn=0x10 order=0 migratetype=0 gfp_flags=__GFP_BOGUS"
  echo "  bash-1 [001] ..... 1.000002: mm_page_alloc: page=0 pfn=0x20 order=1 migratetype=0 gfp_flags=GFP_KERNEL"
  echo "  bash-1 [000] ..... 1.000003: mm_page_free: page=0 pfn=0x20 order=1"
} >"$W/small.trace"
mc replay "$W/small.trace"
expect_rc 0 "replay small"
expect_out_matches '^  applied +2$'
expect_out_matches '^  line 2: mm_page_alloc: unknown GFP flag .__GFP_BOGUS.$'
mc replay "$W/missing.trace"
expect_rc 2 "replay of a missing file"; expect_err_line "missing.trace"
# A .gz cut short: memctl says so and aborts the replay (memd keeps no half line).
head -c $(($(stat -c %s "$SAMPLE") / 2)) "$SAMPLE" >"$W/cut.trace.gz"
mc replay "$W/cut.trace.gz"
expect_rc 2 "replay of a truncated .gz"
expect_err_line "reading $W/cut.trace.gz: the file ends in the middle of its gzip stream (replay aborted after"

# Ctrl-C: a long trace (the sample 20 times), interrupted; a second replay meanwhile is refused.
for _ in $(seq 20); do cat "$SAMPLE"; done >"$W/long.trace.gz"
python3 - "$MEMCTL" "$SOCK" "$W/long.trace.gz" "$SAMPLE" <<'EOF' || fail "interrupted replay"
import signal, subprocess, sys, time
memctl, sock, long_trace, sample = sys.argv[1:]
p = subprocess.Popen([memctl, "--socket", sock, "replay", long_trace],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(0.4)
other = subprocess.run([memctl, "--socket", sock, "replay", sample], capture_output=True, text=True)
assert other.returncode == 1, other
assert other.stderr == "memctl: replay begin: another replay is running\n", other.stderr
p.send_signal(signal.SIGINT)
out, err = p.communicate(timeout=60)
assert p.returncode == 130, (p.returncode, out, err)
assert "interrupted after" in out, out
assert err.count("\n") == 1 and err.startswith("memctl: interrupted"), err
EOF
mc status
expect_out_has "replay running: no"
mc check
expect_rc 0 "check after an interrupted replay"

# --- snapshot save / load ------------------------------------------------------------------------
files() { for f in buddyinfo pagetypeinfo zoneinfo vmstat meminfo; do cat "$MNT/$f"; done; }
mc reset
expect_rc 0 "reset"
mc alloc --order 3 --movable --count 5
expect_rc 0 "alloc --order 3 --movable --count 5"
mc alloc --count 20 --cpu 1
expect_rc 0 "alloc --count 20 --cpu 1"
mc sysctl min_free_kbytes=80000
expect_rc 0 "sysctl min_free_kbytes=80000"
BEFORE=$(files)
mc snapshot save "$W/machine.state"
expect_rc 0 "snapshot save"; expect_no_err
expect_out "saved 25 allocations ($(stat -c %s "$W/machine.state") bytes) to $W/machine.state"
[ "$(head -c 8 "$W/machine.state")" = MEMDST01 ] || fail "snapshot save: not a state file"
[ "$(ls "$W" | grep -c '^machine\.state')" = 1 ] || fail "snapshot save left a temporary file"
"$MEMCTL" --socket "$SOCK" snapshot save - >"$W/stdout.state" 2>"$W/err" || fail "snapshot save -"
cmp -s "$W/stdout.state" "$W/machine.state" || fail "snapshot save - differs from the file"
mc --json snapshot save "$W/json.state"
expect_rc 0 "--json snapshot save"
[ "$(json 'r["ok"], r["bytes"], r["allocations"]')" = "True $(stat -c %s "$W/json.state") 25" ] ||
  fail "snapshot save --json"
mc alloc --order 5 --count 3
expect_rc 0 "alloc --order 5 --count 3"
mc sysctl min_free_kbytes=70000
expect_rc 0 "sysctl min_free_kbytes=70000"
mc snapshot load "$W/machine.state"
expect_rc 0 "snapshot load"; expect_no_err
expect_out "loaded $W/machine.state: x86_64, 4095 MiB in 1 node, 2 CPUs, 25 allocations"
[ "$(files)" = "$BEFORE" ] || fail "the files after snapshot load differ from the saved machine's"
mc sysctl min_free_kbytes
expect_out "vm.min_free_kbytes = 80000"
mc check
expect_rc 0 "check after snapshot load"
mc free --id 3
expect_rc 0 "free an id of the loaded machine"
RC=0
"$MEMCTL" --socket "$SOCK" --json snapshot load - <"$W/machine.state" >"$W/out" 2>"$W/err" || RC=$?
OUT=$(cat "$W/out")
expect_rc 0 "snapshot load -"
[ "$(json 'r["allocations"]')" = 25 ] || fail "snapshot load - --json"
# Damaged and foreign files are refused; the machine stays as it was.
python3 -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); d[len(d)//2]^=1; open(sys.argv[2],"wb").write(d)' \
  "$W/machine.state" "$W/damaged.state"
mc alloc --order 2
expect_rc 0 "alloc --order 2"
BEFORE=$(files)
mc snapshot load "$W/damaged.state"
expect_rc 2 "snapshot load of a damaged file"; expect_out ""
expect_err_line "snapshot load: state refused: checksum mismatch (damaged)"
"$MEMD" --config "$CONFIG" --foreground --mount "$W/other.mnt" --socket "$W/other.sock" --cpus 4 \
  2>>"$W/other.log" &
OTHER_PID=$!
PIDS="$PIDS $OTHER_PID"
for _ in $(seq 200); do grep -q Emulating "$W/other.log" 2>/dev/null && break; sleep 0.05; done
"$MEMCTL" --socket "$W/other.sock" snapshot save "$W/foreign.state" >/dev/null || fail "save on the other memd"
kill -TERM "$OTHER_PID"; wait "$OTHER_PID" || fail "the other memd exited non-zero"
mc snapshot load "$W/foreign.state"
expect_rc 2 "snapshot load of a foreign file"
expect_err_line "snapshot load: state refused: it was saved from a machine with a different configuration"
head -c 5000 "$W/machine.state" >"$W/short.state"
mc snapshot load "$W/short.state"
expect_rc 2 "snapshot load of a truncated file"; expect_err_line "truncated"
[ "$(files)" = "$BEFORE" ] || fail "a refused snapshot load changed the machine"
mc snapshot load "$W/missing.state"
expect_rc 2 "snapshot load of a missing file"; expect_err_line "$W/missing.state"
mc snapshot save "$W/no/such/dir/x.state"
expect_rc 2 "snapshot save into a missing directory"; expect_err_line "$W/no/such/dir/x.state"
mc snapshot
expect_rc 2 "snapshot without save or load"

# --- an unreachable daemon, usage errors ------------------------------------------------------------
RC=0
"$MEMCTL" --socket "$W/nope.sock" status >"$W/out" 2>"$W/err" || RC=$?
ERR=$(cat "$W/err")
expect_rc 3 "status on a missing socket"; expect_err_line "$W/nope.sock"
mc frobnicate
expect_rc 2 frobnicate; expect_err_line "frobnicate"
# memctl --version is memd's.
mc --version
expect_rc 0 "--version"; expect_no_err
expect_out "$("$MEMD" --version)"

# --- memd stops cleanly ---------------------------------------------------------------------------
stop_memd

# --- offline and online: the README's five commands ---------------------------------------------
# 4 GiB with movablecore=512M: Normal is memory32-35 (4 GiB up), Movable
# memory36-39 (0x120000 up). 30000 order-2 movable allocations fill
# memory36-38 in id order (memory37 holds ids 8193-16384); offlining
# memory37 migrates all 8192 of them, each keeping its id; an unmovable
# page in memory32 keeps it online.
printf '[daemon]\nstate_dir = ""\n[machine]\nsize = "4G"\ncmdline = "movablecore=512M"\n' >"$CONFIG"
start_memd
mc alloc --movable --order 2 --count 30000
expect_rc 0 "alloc --movable --count 30000"
[ "$(sed -n 8194p <<<"$OUT")" = "    8193  0x128000         2  Movable     0  Movable" ] ||
  fail "id 8193 is not memory37's first allocation"
mc offline 37
expect_rc 0 "offline 37"; expect_no_err
expect_out "memory37: offline (from Movable): Offlined Pages 32768; 8192 allocations (32768 pages) migrated"
mc allocations --after 8192 --limit 2
expect_rc 0 "allocations --after 8192"
expect_out "      ID  PFN          ORDER  ZONE     NODE  MIGRATETYPE
    8193  0x105798         2  Normal      0  Movable
    8194  0x105794         2  Normal      0  Movable
2 of 21808 allocations
the next ones: --after 8194"
mc alloc --order 4
expect_out_matches '^   30001  0x105800 +4  Normal +0  Unmovable$'
mc offline 32
expect_rc 1 "offline 32"; expect_out ""
expect_err_line "memory offline block=32: memory offlining [mem 0x100000000-0x107ffffff] failed due to failure to isolate range"
[ "$(cat "$MNT/memory/memory37/state") $(cat "$MNT/memory/memory32/state")" = "offline online" ] ||
  fail "the blocks' states"
grep -qx 'pgmigrate_success 32768' "$MNT/vmstat" || fail "vmstat's pgmigrate_success"
mc online 37 --kernel
expect_rc 0 "online 37 --kernel"
expect_out "memory37: online in Normal: Onlined Pages 32768"
mc check
expect_rc 0 "check after offline and online"
stop_memd
exit 0
