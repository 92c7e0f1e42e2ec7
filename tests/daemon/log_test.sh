#!/usr/bin/env bash
# The log of what clients do: commands that change the machine with the
# peer's uid, pid and command name; reads only with -v; failures and
# refusals always; at most 20 such lines a second, then one summary per
# client ("N more commands from uid U pid P (comm) not logged").
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"

# The commands on one connection from a shell that execs socat: the log must name its pid.
start_memd --socket-group nogroup
: >"$LOG"
printf 'alloc order=0 gfp=GFP_KERNEL\nstatus\nreset\nsysctl min_free_kbytes=8000\nalloc order=11 gfp=GFP_KERNEL\n' >"$W/commands"
out=$(sh -c 'echo $$ >"$1"; exec socat -t5 - "UNIX-CONNECT:$2" <"$3"' sh "$W/pid" "$SOCK" "$W/commands")
P=$(cat "$W/pid")
expect_eq "replies" "$(printf '%s\n' "$out" | wc -l)" 5
sleep 0.2
expect_eq "the log" "$(grep "pid $P " "$LOG")" \
"<5>uid 0 pid $P (socat): alloc order=0 gfp=GFP_KERNEL: ok
<5>uid 0 pid $P (socat): reset: ok
<5>uid 0 pid $P (socat): sysctl min_free_kbytes=8000: ok
<4>uid 0 pid $P (socat): alloc order=11 gfp=GFP_KERNEL: error: alloc: order=11: must be in 0..10 (usage: alloc order=N gfp=FLAGS [node=N] [cpu=N] [count=N])"
# A refusal, with another uid: the socket group's member asks for a 0400 file.
: >"$LOG"
printf 'show pagetypeinfo\n' | $NOBODY socat -t5 - "UNIX-CONNECT:$SOCK" >/dev/null
sleep 0.2
expect_contains "refusal" "$(cat "$LOG")" "<4>uid 65534 pid "
expect_contains "refusal" "$(cat "$LOG")" "(socat): show pagetypeinfo: error: show pagetypeinfo: permission denied"

# A flood: 1000 allocs on one connection log at most 20 lines a second, and
# every one of them is accounted for, in lines or in summaries (its own, or,
# once it is gone and the second is full, the one of clients gone that comes
# before the next line written: the reset a second later).
: >"$LOG"
for _ in $(seq 1000); do echo "alloc order=0 gfp=GFP_KERNEL"; done >"$W/flood"
socat -t10 - "UNIX-CONNECT:$SOCK" <"$W/flood" >"$W/replies"
expect_eq "flood replies" "$(grep -c '"ok":true' "$W/replies")" 1000
sleep 1.1
send reset >/dev/null
sleep 0.2
summed() { sed -n "s/^<5>\([0-9]*\) more commands from $1 not logged (over 20 lines a second)\$/\1/p" "$LOG" |
  awk '{s += $1} END {print s + 0}'; }
lines=$(grep -c ': alloc order=0 gfp=GFP_KERNEL: ok$' "$LOG" || true)
own=$(summed "uid 0 pid [0-9]* (socat)")
gone=$(summed "clients now gone")
# (The lines just before it may have used part of this second's 20.)
[ "$lines" -ge 1 ] || fail "the flood logged no line"
# A new second while it runs starts with its summary: seconds = own summaries (+1).
seconds=$(( $(grep -c 'more commands from uid 0' "$LOG" || true) + 1 ))
[ "$lines" -le $((20 * seconds)) ] || fail "the flood logged $lines lines over $seconds seconds"
expect_eq "flood lines and summaries" $((lines + own + gone)) 1000
expect_eq "flood log size" "$(($(wc -l <"$LOG") <= 21 * seconds + 2))" 1

stop_memd

# -v: reads too, at debug.
: >"$LOG"
start_memd -v
send status >/dev/null
sleep 0.2
grep -q "^<7>uid 0 pid [0-9]* (socat): status: ok$" "$LOG" || fail "-v does not log reads"
stop_memd
exit 0
