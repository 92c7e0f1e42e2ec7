#!/usr/bin/env bash
# Who may do what: the socket is 0660 with the configured group; peers are
# checked with SO_PEERCRED (root, the socket group, its members); the mount is
# everyone's (allow_other, as /proc: built in and packaged) with the kernel
# checking each file's mode, and `show` follows the same modes; replay file=
# is for root.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
as_nobody_send() { printf '%s\n' "$1" | $NOBODY socat -t5 - "UNIX-CONNECT:$SOCK" 2>&1; }

# No group: 0660 root:root; nobody cannot even connect.
start_memd --socket-group "" --no-allow-other
expect_eq "socket mode" "$(stat -c '%a %U:%G' "$SOCK")" "660 root:root"
out=$(as_nobody_send status) && fail "nobody connected to a 0660 root socket"
expect_contains "nobody connecting" "$out" "Permission denied"
# The mount is its owner's: nobody reads nothing.
out=$($NOBODY cat "$MNT/buddyinfo" 2>&1) && fail "nobody read the mount without allow_other"
expect_contains "nobody reading" "$out" "Permission denied"
# Should the file mode let a stranger in, SO_PEERCRED still keeps it out, with a JSON error.
chmod 0666 "$SOCK"
out=$(as_nobody_send status)
expect_eq "stranger refused" "$out" '{"ok":false,"error":"permission denied: uid 65534 is not root","failure":"denied"}'
grep -q "refused pid [0-9]* uid 65534" "$LOG" || fail "the refusal is not logged"
stop_memd

# A socket group: its members may talk; others are refused.
start_memd --socket-group nogroup
expect_eq "socket mode" "$(stat -c '%a %U:%G' "$SOCK")" "660 root:nogroup"
reply=$(as_nobody_send "alloc order=0 gfp=GFP_KERNEL")  # nobody's primary group is nogroup
expect_contains "group member alloc" "$reply" '{"ok":true,"allocations":[{"id":1,'
reply=$(as_nobody_send "replay file=/etc/passwd")
expect_contains "non-root replay file=" "$reply" "only root may make the daemon read a file"
# One rule for both doors: the 0400 files are not shown to a group member.
expect_eq "nobody show pagetypeinfo" "$(as_nobody_send "show pagetypeinfo")" \
  '{"ok":false,"error":"show pagetypeinfo: permission denied: the file is 0400 (root and memd'"'"'s own user only, as on the mount); uid 65534 is neither","failure":"denied"}'
expect_contains "nobody show trace" "$(as_nobody_send "show trace")" '{"ok":false,"error":"show trace: permission denied'
expect_contains "nobody show buddyinfo" "$(as_nobody_send "show buddyinfo")" '{"ok":true,"text":"Node 0, zone      DMA'
expect_contains "root show pagetypeinfo" "$(send "show pagetypeinfo")" '{"ok":true,"text":"Page block order: 9'
stop_memd
start_memd --socket-group users
reply=$(printf 'status\n' | setpriv --reuid=65534 --regid=65534 --groups=100 socat -t5 - "UNIX-CONNECT:$SOCK")
expect_contains "supplementary group member" "$reply" '{"ok":true,'
chmod 0666 "$SOCK"
expect_eq "not a member" "$(as_nobody_send status)" \
  "{\"ok\":false,\"error\":\"permission denied: uid 65534 is neither root nor in group 'users'\",\"failure\":\"denied\"}"
stop_memd

# allow_other by default (a configuration without the key, as $CONFIG is),
# and in the packaged file alike: others read every 0444 file, not the 0400
# ones (pagetypeinfo, trace, trace_pipe) nor control (0600).
modes_hold_for_nobody() {
  local f mode
  for f in "$MNT"/*; do
    mode=$(stat -c %a "$f")
    case "$mode" in
      444) $NOBODY cat "$f" >/dev/null || fail "$1: nobody cannot read $(basename "$f") (0444)" ;;
      400) out=$($NOBODY cat "$f" 2>&1) && fail "$1: nobody read $(basename "$f") (0400)"
           expect_contains "$1: nobody reading $(basename "$f")" "$out" "Permission denied" ;;
      600) ;;
      555) [ -d "$f" ] || fail "$1: $(basename "$f") has mode 555 and is not a directory"
           $NOBODY ls "$f" >/dev/null || fail "$1: nobody cannot list $(basename "$f")/" ;;
      *) fail "$1: $(basename "$f") has mode $mode" ;;
    esac
  done
  expect_eq "$1: the 0400 files" "$(stat -c '%a %n' "$MNT"/* | awk '$1 == 400 {sub(".*/", "", $2); print $2}' | sort | tr '\n' ' ')" \
    "pagetypeinfo trace trace_pipe "
  $NOBODY sh -c "echo status > $MNT/control" 2>/dev/null && fail "$1: nobody wrote control (0600)"
  $NOBODY cat "$MNT/control" >/dev/null 2>&1 && fail "$1: nobody read control (0600)"
  $NOBODY cat "$MNT/buddyinfo" | grep -Eq "^Node 0, zone +DMA " || fail "$1: buddyinfo as nobody"
}
grep -q allow_other "$CONFIG" && fail "the test configuration names allow_other"
start_memd
modes_hold_for_nobody "built-in default"
stop_memd
CONFIG="$HERE/../../packaging/memd.toml" start_memd --no-state --socket-group ""
modes_hold_for_nobody "packaged memd.toml"
stop_memd
exit 0
