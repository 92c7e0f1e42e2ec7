#!/usr/bin/env bash
# Who may do what: the socket is 0660 with the configured group; peers are
# checked with SO_PEERCRED (root, the socket group, its members); the mount is
# for its owner unless allow_other; replay file= is for root.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
as_nobody_send() { printf '%s\n' "$1" | $NOBODY socat -t5 - "UNIX-CONNECT:$SOCK" 2>&1; }

# No group: 0660 root:root; nobody cannot even connect.
start_memd --socket-group ""
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
stop_memd
start_memd --socket-group users
reply=$(printf 'status\n' | setpriv --reuid=65534 --regid=65534 --groups=100 socat -t5 - "UNIX-CONNECT:$SOCK")
expect_contains "supplementary group member" "$reply" '{"ok":true,'
chmod 0666 "$SOCK"
expect_eq "not a member" "$(as_nobody_send status)" \
  "{\"ok\":false,\"error\":\"permission denied: uid 65534 is neither root nor in group 'users'\",\"failure\":\"denied\"}"
stop_memd

# allow_other: others read the 0444 files, not pagetypeinfo (0400) nor control (0600).
start_memd --allow-other
$NOBODY cat "$MNT/buddyinfo" >/dev/null || fail "nobody cannot read buddyinfo with allow_other"
$NOBODY cat "$MNT/pagetypeinfo" >/dev/null 2>&1 && fail "nobody read pagetypeinfo (0400)"
$NOBODY sh -c "echo status > $MNT/control" 2>/dev/null && fail "nobody wrote control (0600)"
$NOBODY cat "$MNT/control" >/dev/null 2>&1 && fail "nobody read control (0600)"
stop_memd
exit 0
