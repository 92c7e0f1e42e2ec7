#!/bin/bash
# Runs inside `unshare --mount --propagation private` for container.sh: joins
# the test's own cgroups, mounts the overlay root, copies the test's files in
# and becomes systemd-nspawn. Every mount here dies with this namespace.
# Environment: CT_W CT_MACHINE CT_CGPROCS CT_COPIES (SRC:DEST ...) CT_OVERLAYS (DIR ...).
set -euo pipefail
for p in $CT_CGPROCS; do echo $$ >"$p"; done
mount -t tmpfs -o mode=0755 memd-ct-up "$CT_W/up"
mkdir -p "$CT_W/up/upper" "$CT_W/up/work"
mount -t overlay memd-ct-root -o "lowerdir=/,upperdir=$CT_W/up/upper,workdir=$CT_W/up/work" "$CT_W/root"
# nspawn writes /run/systemd/nspawn*; /run may be on the root disk (pitfall 3).
# With --keep-unit --register=no it needs nothing else from the host's /run/systemd.
mount -t tmpfs -o mode=0755 memd-ct-run /run/systemd
R=$CT_W/root
# A clean /tmp of our own (nspawn must not mount another over it, hiding what
# follows), then the trees the test needs at their own paths, copy-on-write
# too (the root overlay covers only the root filesystem, not /tmp's tmpfs).
mount -t tmpfs -o mode=1777 memd-ct-tmp "$R/tmp"
export SYSTEMD_NSPAWN_TMPFS_TMP=0
i=0
for d in $CT_OVERLAYS; do
  i=$((i + 1))
  mkdir -p "$CT_W/up/ov$i/upper" "$CT_W/up/ov$i/work" "$R$d"
  mount -t overlay "memd-ct-ov$i" -o "lowerdir=$d,upperdir=$CT_W/up/ov$i/upper,workdir=$CT_W/up/ov$i/work" "$R$d"
done
for c in $CT_COPIES; do install -D -m "$(stat -c %a "${c%%:*}")" "${c%%:*}" "$R${c#*:}"; done
# The host's own memd, if any, must not boot in the container.
rm -f "$R"/etc/systemd/system/*.wants/memd.* 2>/dev/null || true
exec systemd-nspawn -q -D "$R" -M "$CT_MACHINE" --register=no --keep-unit \
  --private-network --bind=/dev/fuse \
  -b -- systemd.unit=basic.target systemd.show_status=0
