#!/bin/bash
# memd's .deb, without installing it: the files it ships, its conffile and
# maintainer scripts, and dependencies that cover every shared library its
# binaries need (each library's package, found with dpkg -S, must be in
# Depends:). The packaged configuration gives the default machine.
# usage: package_test.sh memd.deb SOURCE/packaging
set -euo pipefail
DEB=$(readlink -f "$1") SRC=$2
W=$(mktemp -d /tmp/memd-package.XXXXXX)
trap 'rm -rf "$W"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

dpkg-deb -x "$DEB" "$W/root" || { echo "FAIL: dpkg-deb -x $DEB"; exit 1; }
dpkg-deb -e "$DEB" "$W/control" || { echo "FAIL: dpkg-deb -e $DEB"; exit 1; }
field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = memd ] && ok "Package: memd" || fail "Package: $(field Package)"

# Files, wherever the prefix put them.
# (sort, not head: head ending early could SIGPIPE find, a failure under pipefail.)
find_one() { (cd "$W/root" && find . -path "$1" | sed 's|^\.||' | sort | sed -n 1p); }
for f in '*/bin/memd' '*/bin/memctl' '*/lib/systemd/system/memd.service' \
  '*/lib/systemd/system/memd.socket' '*/lib/sysusers.d/memd.conf' '*/lib/tmpfiles.d/memd.conf' \
  './etc/memd/memd.toml' '*/share/doc/memd/README.md'; do
  p=$(find_one "$f")
  [ -n "$p" ] && ok "ships $p" || fail "no file matching $f"
done
MEMD=$W/root$(find_one '*/bin/memd')
MEMCTL=$W/root$(find_one '*/bin/memctl')
SERVICE=$W/root$(find_one '*/lib/systemd/system/memd.service')

# The unit starts the binary the package installs.
exec_start=$(sed -n 's|^ExecStart=\([^ ]*\).*|\1|p' "$SERVICE")
[ -x "$W/root$exec_start" ] && ok "ExecStart=$exec_start is in the package" ||
  fail "ExecStart=$exec_start is not in the package"

# Conffiles and maintainer scripts.
[ "$(cat "$W/control/conffiles" 2>/dev/null)" = /etc/memd/memd.toml ] &&
  ok "conffiles: /etc/memd/memd.toml" || fail "conffiles: [$(cat "$W/control/conffiles" 2>/dev/null)]"
for s in postinst prerm postrm; do
  if [ -x "$W/control/$s" ] && sh -n "$W/control/$s"; then ok "$s is an executable sh script"; else
    fail "$s missing, not executable, or not valid sh"
  fi
done
cmp -s "$W/root/etc/memd/memd.toml" "$SRC/memd.toml" && ok "/etc/memd/memd.toml is packaging/memd.toml" ||
  fail "/etc/memd/memd.toml differs from packaging/memd.toml"

# Dependencies: every NEEDED library belongs to a package named in Depends.
depends=$(field Depends)
echo "Depends: $depends"
deps=" $(echo "$depends" | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/:.*//; s/ //g' | tr '\n' ' ') "
for pkg in fuse3 libfuse3-3 libsystemd0; do
  [[ "$deps" == *" $pkg "* ]] && ok "depends on $pkg" || fail "does not depend on $pkg"
done
for bin in "$MEMD" "$MEMCTL"; do
  for lib in $(objdump -p "$bin" | awk '$1 == "NEEDED" {print $2}'); do
    # awk reads all of ldconfig's output (no exit): ldconfig must not meet a closed pipe.
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|64bit/ && !p {p = $NF} END {print p}')
    [ -n "$path" ] || path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !p {p = $NF} END {print p}')
    [ -n "$path" ] || { fail "$(basename "$bin") needs $lib, which is not installed here"; continue; }
    # dpkg -S exits 1 for a path no package owns: then the next form is tried.
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | sed -n 1p | cut -d: -f1) || pkg=""
    [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | sed -n 1p | cut -d: -f1) || pkg=""
    if [[ "$deps" == *" $pkg "* ]]; then ok "$(basename "$bin") needs $lib: $pkg is a dependency"; else
      fail "$(basename "$bin") needs $lib from package '$pkg', which is not in Depends"
    fi
  done
done

# The packaged binaries run, and the packaged configuration is the default machine.
"$MEMD" --version >/dev/null && ok "memd --version" || fail "memd --version"
"$MEMCTL" --help >/dev/null && ok "memctl --help" || fail "memctl --help"
for f in zoneinfo buddyinfo meminfo; do
  "$MEMD" --config "$W/root/etc/memd/memd.toml" --print $f >"$W/$f.packaged" 2>"$W/err" &&
    "$MEMD" --config /dev/null --print $f >"$W/$f.default" 2>>"$W/err" ||
    { fail "memd --print $f: $(cat "$W/err")"; continue; }
  cmp -s "$W/$f.packaged" "$W/$f.default" && ok "memd.toml boots the default machine ($f)" ||
    fail "memd.toml's $f differs from the built-in default's"
done

if [ "$FAILS" = 0 ]; then echo "PASS: the package"; exit 0; fi
echo "FAILED: $FAILS check(s)"
exit 1
