#!/usr/bin/env bash
# memctl replay --history and --continue against a real memd: the history
# through the socket is byte for byte memd --replay --history's (batch mode,
# same machine); the sample trace replayed in three parts with --continue
# ends in the files one replay of the whole gives, and without --continue it
# does not; bad input is refused and leaves the machine as it was.
# As root (FUSE); exit 77: skipped.
#   usage: history_test.sh path/to/memd path/to/memctl path/to/build-sample.trace.gz
set -euo pipefail
MEMCTL=$(readlink -f "${2:?usage: $0 MEMD MEMCTL SAMPLE_TRACE}")
SAMPLE=$(readlink -f "${3:?usage: $0 MEMD MEMCTL SAMPLE_TRACE}")
CHECK="$(cd "$(dirname "$0")/../daemon" && pwd)/history_check.py"
# $W, $MNT, $SOCK, $LOG, $CONFIG (the default machine, no state), start_memd,
# fail, expect_eq, send, json, and the cleanup whatever the outcome.
. "$(dirname "$0")/../daemon/lib.sh" "$@"

# mc ARGS...: memctl on the test's socket; sets RC; output in $W/out, $W/err.
mc() {
  RC=0
  "$MEMCTL" --socket "$SOCK" "$@" >"$W/out" 2>"$W/err" || RC=$?
}
expect_rc() { [ "$RC" = "$1" ] || fail "memctl $2: exit $RC, wanted $1: $(cat "$W/err")"; }
expect_err() { grep -qF -- "$1" "$W/err" || fail "memctl stderr lacks [$1]: $(cat "$W/err")"; }
# The files compared between machines.
files() { for f in buddyinfo pagetypeinfo zoneinfo vmstat; do cat "$MNT/$f"; done; }

# What one replay of the whole trace gives, from memd's batch mode.
"$MEMD" --config "$CONFIG" --replay "$SAMPLE" --history "$W/batch.csv" \
  --print buddyinfo,pagetypeinfo,zoneinfo,vmstat >"$W/batch.out" 2>"$W/batch.err" ||
  fail "memd --replay: $(cat "$W/batch.err")"
start_memd

# --- (3) the history through the socket is the batch's, byte for byte ------------------------------
mc replay "$SAMPLE" --history "$W/socket.csv"
expect_rc 0 "replay --history"
cmp "$W/socket.csv" "$W/batch.csv" || fail "memctl's history differs from memd --replay's"
# The report is printed the same way by both (after the line with the time).
[ "$(tail -n +2 "$W/out")" = "$(tail -n +2 "$W/batch.err")" ] || fail "the reports differ"
for f in buddyinfo pagetypeinfo zoneinfo vmstat; do echo "==> $f <=="; cat "$MNT/$f"; echo; done |
  head -c -1 >"$W/socket.files"
cmp -s "$W/socket.files" "$W/batch.out" || fail "the files after memctl replay are not the batch's"

# --plot draws the history as `memctl plot` does, titled by the trace's name;
# without --history it records into a temporary file that it removes.
mc reset
before_tmp=$(ls /tmp | grep -c '^memctl-history\.' || true)
mc replay "$SAMPLE" --plot "$W/replay.svg"
expect_rc 0 "replay --plot"
"$MEMCTL" plot "$W/socket.csv" --label "$(basename "$SAMPLE")" -o "$W/plot.svg" ||
  fail "memctl plot of the history"
cmp "$W/replay.svg" "$W/plot.svg" || fail "replay --plot differs from memctl plot of its history"
[ "$(ls /tmp | grep -c '^memctl-history\.' || true)" = "$before_tmp" ] ||
  fail "replay --plot left its temporary history behind"
mc replay "$SAMPLE" --every 10 --plot "$W/p10.svg"
expect_rc 0 "replay --every 10 --plot (no --history)"

# --- (4) three parts with --continue end where the whole does -----------------------------------
"$PY" "$CHECK" split "$SAMPLE" 3 "$W/part"
mc reset
expect_rc 0 reset
mc replay "$W/part.1" --history "$W/part1.csv"
expect_rc 0 "replay part 1"
for i in 2 3; do
  mc replay "$W/part.$i" --continue --history "$W/part$i.csv"
  expect_rc 0 "replay part $i --continue"
done
grep -q "^replayed $W/part.3, continuing the previous replay: 300000 lines in all" "$W/out" ||
  fail "part 3's report: $(head -n 1 "$W/out")"
grep -Eq '^  events +300000$' "$W/out" || fail "part 3's report does not count all the parts"
files >"$W/continued.files"
for f in buddyinfo pagetypeinfo zoneinfo vmstat; do echo "==> $f <=="; cat "$MNT/$f"; echo; done |
  head -c -1 >"$W/continued.out"
cmp -s "$W/continued.out" "$W/batch.out" || fail "three parts with --continue differ from the whole"
"$PY" "$CHECK" parts "$W/batch.csv" "$W/part1.csv" "$W/part2.csv" "$W/part3.csv" ||
  fail "the parts' histories"

# ... and without --continue they do not (each part maps the trace's pfns afresh).
mc reset
for i in 1 2 3; do
  mc replay "$W/part.$i"
  expect_rc 0 "replay part $i"
done
files >"$W/separate.files"
cmp -s "$W/separate.files" "$W/continued.files" && fail "three parts without --continue end as the whole"
expect_eq "part 3 alone" "$(grep -E '^  events +' "$W/out" | tr -s ' ')" \
  " events $("$PY" "$CHECK" count "$W/part.3")"

# --- (5) bad input: refused, the machine unchanged -----------------------------------------------
before=$(files; "$MEMCTL" --socket "$SOCK" status | grep -v '^memd pid')
mc replay "$SAMPLE" --history "$W/h.csv" --every 0
expect_rc 2 "--every 0"; expect_err "--every: Value 0 not in range"
mc replay "$SAMPLE" --history "$W/h.csv" --every x
expect_rc 2 "--every x"; expect_err "--every"
mc replay "$SAMPLE" --every 10
expect_rc 2 "--every without --history"; expect_err "--every requires --history or --plot"
[ ! -e "$W/h.csv" ] || fail "a refused command created the history file"
mc replay "$SAMPLE" --history "$W/no/such/dir/h.csv"
expect_rc 2 "--history to a missing directory"
expect_err "cannot write the history to $W/no/such/dir/h.csv: No such file or directory"
r=$(send "replay begin every=0")
expect_eq "replay begin every=0" "$(json 'r["ok"], r["error"]' "$r")" \
  "False replay: every=0: must be in 1..281474976710656 (usage: replay begin [every=N] [continue])"
r=$(send "replay begin every=x continue")
expect_contains "replay begin every=x" "$r" "every=x: not a number"
after=$(files; "$MEMCTL" --socket "$SOCK" status | grep -v '^memd pid')
[ "$before" = "$after" ] || fail "refused commands changed the machine"
# After a reset there is nothing to continue; the machine stays fresh.
mc reset
before=$(files)
r=$(send "replay begin continue")
expect_eq "replay begin continue" "$(json 'r["ok"], r["error"]' "$r")" \
  "False replay: no previous replay to continue"
mc replay "$W/part.2" --continue
expect_rc 2 "--continue after a reset"; expect_err "replay: no previous replay to continue"
[ "$(files)" = "$before" ] || fail "a refused --continue changed the machine"
# A history without --continue starts at event 0, and plain replies carry no history.
r=$( (printf 'replay begin\n'; sleep 0.2; printf 'replay end\n') | socat -t5 - "UNIX-CONNECT:$SOCK")
expect_eq "plain replay begin/end" "$(printf '%s\n' "$r" | head -n 1)" '{"ok":true}'
case "$r" in *history*) fail "a replay without every= sends history: $r" ;; esac
stop_memd
