#!/usr/bin/env bash
# The control file from a shell: `echo CMD > control` for every verb, good
# and bad (exit status and message as bash prints them), the result on the
# same open file, the help on a fresh one, the reason in the log.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
SAMPLE=$HERE/../../../shared/traces/build-sample.trace.gz

start_memd
C=$MNT/control

# ctl CMD: runs `echo CMD > control` in a shell; sets $rc and $err (stderr).
ctl() {
  rc=0
  err=$(bash -c 'echo "$1" > "$2"' _ "$1" "$C" 2>&1) || rc=$?
}
good() { ctl "$1"; [ $rc = 0 ] || fail "'$1' failed: $err"; }
bad() {  # bad CMD ERRNO-TEXT LOG-TEXT
  ctl "$1"
  [ $rc != 0 ] || fail "'$1' succeeded"
  expect_contains "'$1'" "$err" "write error: $2"
  grep -qF -- "$3" "$LOG" || fail "the log does not say why '$1' failed ($3)"
}

# A fresh open reads the help.
head -n 1 "$C" | grep -q '^memd commands' || fail "a fresh control does not read the help"

good "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE"
good "alloc order=0 gfp=GFP_KERNEL|__GFP_ZERO node=0 cpu=1 count=4"
good "alloc order=2 gfp=0xcc0"
printf 'alloc order=1 gfp=GFP_KERNEL' >"$C" || fail "a command without a newline"
printf 'alloc order=1 gfp=GFP_KERNEL\r\n' >"$C" || fail "a command ending in CRLF"

# Bad commands: EINVAL, the reason in the log, the machine untouched.
cp /dev/null "$W/before"; cat "$MNT/buddyinfo" >"$W/before"
bad "alloc order=x gfp=GFP_KERNEL" "Invalid argument" "alloc: order=x: not a number"
bad "alloc order=11 gfp=GFP_KERNEL" "Invalid argument" "order=11: must be in 0..10"
bad "alloc order=1 gfp=GFP_NOPE" "Invalid argument" "gfp=GFP_NOPE"
bad "alloc order=1 gfp=GFP_KERNEL cpu=9" "Invalid argument" "cpu=9: the machine has CPUs 0-1"
bad "alloc order=1 gfp=GFP_KERNEL colour=blue" "Invalid argument" "unknown key 'colour'"
bad "frobnicate" "Invalid argument" "unknown command 'frobnicate'"
bad "free pfn=0x1" "Invalid argument" "pfn=0x1: not the first page of a live allocation"
bad "free id=424242" "Invalid argument" "id=424242: no live allocation"
bad "sysctl nr_hugepages=3" "Invalid argument" "nr_hugepages"
bad "show slabinfo" "Invalid argument" "unknown file 'slabinfo'"
bad "replay begin" "Invalid argument" "streaming (begin, data, end, abort) is for the socket"
# Two lines in one write(2) (bash's echo writes line by line; dd writes once).
out=$(printf 'alloc order=1 gfp=GFP_KERNEL\nfree all\n' | dd of="$C" bs=64k status=none 2>&1) &&
  fail "a write of two commands succeeded"
expect_contains "two commands in one write" "$out" "Invalid argument"
grep -q "one command per line" "$LOG" || fail "the log does not say 'one command per line'"
cmp -s "$W/before" <(cat "$MNT/buddyinfo") || fail "a bad command changed buddyinfo"
# An oversized command.
head -c 70000 /dev/zero | tr '\0' 'a' >"$W/big"
out=$( (cat "$W/big" >"$C") 2>&1) && fail "a 70000-byte command succeeded"
expect_contains "oversized" "$out" "Invalid argument"
# A failing allocation is not a bad command: ENOMEM with the kernel's line.
ctl "alloc order=10 gfp=GFP_KERNEL|__GFP_NORETRY count=100000"
[ $rc != 0 ] || fail "exhausting memory succeeded"
expect_contains "alloc failure" "$err" "write error: Cannot allocate memory"
grep -q 'page allocation failure: order:10, mode:0x10cc0(GFP_KERNEL|__GFP_NORETRY)' "$LOG" ||
  fail "the log lacks the warn_alloc line"
good "free all"

# Write then read on the same open file: the result of that write.
exec 3<>"$C"
echo "alloc order=2 gfp=GFP_KERNEL" >&3 || fail "alloc on fd 3"
result=$(cat <&3)
[[ "$result" =~ ^id=[0-9]+\ pfn=(0x[0-9a-f]+)\ order=2\ zone=Normal\ node=0\ migratetype=Unmovable$ ]] ||
  fail "alloc result: [$result]"
pfn=${BASH_REMATCH[1]}
echo "free pfn=$pfn cpu=1" >&3 || fail "free pfn=$pfn"
expect_contains "free result" "$(cat <&3)" "freed id="
echo "free pfn=$pfn" >&3 2>/dev/null && fail "double free succeeded"
expect_contains "double free result" "$(cat <&3)" "error: free: pfn=$pfn: not the first page"
echo "sysctl" >&3 || fail "sysctl"
expect_contains "sysctl list" "$(cat <&3)" "vm.min_free_kbytes = "
echo "sysctl watermark_scale_factor=200" >&3 || fail "sysctl set"
expect_eq "sysctl set" "$(cat <&3)" "vm.watermark_scale_factor = 200"
echo "sysctl vm.watermark_scale_factor" >&3 || fail "sysctl get"
expect_eq "sysctl get" "$(cat <&3)" "vm.watermark_scale_factor = 200"
echo 'sysctl lowmem_reserve_ratio="256 256 32"' >&3 || fail "sysctl lowmem_reserve_ratio"
expect_contains "lowmem_reserve_ratio" "$(cat <&3)" "vm.lowmem_reserve_ratio = 256	256	32"
# Commas are refused, as the kernel's proc_dointvec refuses them.
echo "sysctl lowmem_reserve_ratio=1,2" >&3 2>/dev/null && fail "sysctl lowmem_reserve_ratio=1,2 succeeded"
expect_eq "lowmem_reserve_ratio commas" "$(cat <&3)" "error: sysctl: lowmem_reserve_ratio=1,2: '1,2' is not an integer (the kernel reads integers separated by spaces, tabs or newlines)"
echo "check" >&3 || fail "check"
expect_eq "check" "$(cat <&3)" "ok: every invariant holds"
echo "show buddyinfo" >&3 || fail "show"
cmp -s <(cat <&3) <(cat "$MNT/buddyinfo") || fail "show buddyinfo differs from buddyinfo"
echo "status" >&3 || fail "status"
expect_contains "status" "$(cat <&3)" "machine: x86_64"
echo "help" >&3 || fail "help"
expect_contains "help" "$(cat <&3)" "alloc order=N gfp=FLAGS"
# A trace replayed from a file, plain and gzipped: the first 3000 lines of the
# shared sample trace (in ../shared in CI). A missing or damaged trace fails
# the test: zcat's status is lost to head's SIGPIPE, so the lines are counted.
[ -f "$SAMPLE" ] || fail "no sample trace at $SAMPLE"
{ zcat "$SAMPLE" || true; } | head -n 3000 >"$W/t.trace"
expect_eq "lines taken from the sample trace" "$(wc -l <"$W/t.trace")" 3000
grep -q ' mm_page_alloc: ' "$W/t.trace" || fail "the sample trace has no mm_page_alloc line in its first 3000"
gzip -k "$W/t.trace"
echo "replay file=$W/t.trace" >&3 || fail "replay file="
# (The whole line: "lines: 3000" is also a prefix of "lines: 30000".)
out=$(cat <&3)
grep -qx "lines: $(wc -l <"$W/t.trace")" <<<"$out" || fail "replay report: [$out]"
echo "replay file=$W/t.trace.gz" >&3 || fail "replay file=.gz"
out=$(cat <&3)
grep -qx "lines: $(wc -l <"$W/t.trace")" <<<"$out" || fail "replay report (gz): [$out]"
echo "replay file=$W/nonexistent" >&3 2>/dev/null && fail "replay of a missing file succeeded"
expect_contains "replay missing" "$(cat <&3)" "cannot open $W/nonexistent"
# A .gz cut short is an error, not a shorter trace.
head -c $(($(stat -c %s "$W/t.trace.gz") / 2)) "$W/t.trace.gz" >"$W/cut.trace.gz"
echo "replay file=$W/cut.trace.gz" >&3 2>/dev/null && fail "replay of a truncated .gz succeeded"
expect_contains "replay truncated" "$(cat <&3)" \
  "replay: reading $W/cut.trace.gz: the file ends in the middle of its gzip stream"
echo "reset" >&3 || fail "reset"
expect_contains "reset" "$(cat <&3)" "machine reset: x86_64"
exec 3<&-
"$MEMD" --config "$CONFIG" --print buddyinfo | cmp -s - "$MNT/buddyinfo" || fail "reset did not restore the fresh machine"

# A bad command's reason is also what the next read of that open file returns.
exec 3<>"$C"
echo "alloc order=2" >&3 2>/dev/null && fail "alloc without gfp succeeded"
expect_eq "error result" "$(cat <&3)" \
  "error: alloc: missing gfp= (usage: alloc order=N gfp=FLAGS [node=N] [cpu=N] [count=N])"
exec 3<&-

stop_memd
exit 0
