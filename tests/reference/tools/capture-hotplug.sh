#!/bin/bash
# capture-hotplug.sh - capture.sh plus a memory-hotplug extension of the guest /init:
#   after the boot snapshot it writes memory-blocks (block_size_bytes and every
#   memoryN's state/online/phys_index/removable/valid_zones/node) and hotplug-steps
#   (a scripted series of offline/online writes to memoryN/state with each write's
#   result, the kernel's messages and /proc/zoneinfo, buddyinfo, pagetypeinfo after
#   each step; then compact_memory). Edit the step script in the init to try others.
# capture.sh - boot a real Debian x86_64 kernel under qemu (TCG by default) with a
# given memory size / NUMA layout / kernel command line, and store what the kernel
# prints in /proc/zoneinfo, /proc/buddyinfo, /proc/pagetypeinfo, /proc/meminfo,
# /proc/vmstat and dmesg as a reference for the page-allocator emulator.
#
# usage: capture.sh [options] NAME
#   -m MEM       guest RAM, qemu -m syntax (e.g. 2G, 4096M)                 [2G]
#   -n SIZES     NUMA node sizes, comma separated, must add up to MEM
#                (e.g. "2G,2G" or "1G,1G,1G,1G"); empty = no NUMA tables   []
#   -c CPUS      per-node cpu lists separated by ':' (e.g. "0:1" or "0-1:2-3::");
#                an empty entry = memory-only node.  default: cpu i -> node i%N
#   -s SMP       number of vCPUs                                              [2]
#   -d DISTS     SLIT distances "src-dst=val,..." e.g. "0-1=20,0-2=30,1-2=25"
#                (qemu mirrors a pair given in one direction only)
#   -k CMDLINE   extra kernel command line (appended after the fixed part)
#   -K           keep KASLR (do NOT add "nokaslr"; the kernel image then lands at a
#                random physical address, so per-zone managed counts may vary)
#   -M MACHINE   qemu machine type                                          [pc]
#   -a ACCEL     tcg | kvm  (kvm hung without output on this host)          [tcg]
#   -q QEMUARGS  extra raw qemu arguments (word-split)
#   -o OUTROOT   output root                  [./kernel-ref-out]
#   -t TIMEOUT   seconds before qemu is killed (by its PID)                 [240]
#   -w WORKDIR   kernel/initramfs/scratch dir                     [$TMPDIR/kref-work]
#   -R           guest RAM with reserve=off (MAP_NORESERVE): a guest larger than the
#                host's commit limit (over 64 GiB) still starts; pages are touched lazily
#   -B           memory blocks only: write memory-blocks, skip the offline/online
#                steps and compaction (for large guests under TCG; own initramfs)
#
# Output: OUTROOT/NAME/{cmdline,qemu-args,zoneinfo,buddyinfo,pagetypeinfo,meminfo,
#   vmstat,dmesg,e820,kernel-version, ...} - see README.md for the full list.
#
# Requirements (Debian 12): apt-get install qemu-system-x86 busybox-static cpio
# The kernel .deb is fetched with `apt-get download` and only extracted (dpkg-deb -x)
# into WORKDIR; nothing is installed into /boot.  KPKG=linux-image-6.1.0-56-amd64
# pins the kernel (default: whatever linux-image-amd64 currently depends on).
set -euo pipefail

MEM=2G; NODES=""; CPUS=""; SMP=2; DISTS=""; KEXTRA=""; KASLR=0; MACHINE=pc
ACCEL=tcg; QEXTRA=""; OUTROOT=$PWD/kernel-ref-out; TIMEOUT=240
WORK=${TMPDIR:-/tmp}/kref-work
BSUF=""; NORES=""
while getopts "m:n:c:s:d:k:KM:a:q:o:t:w:BRh" opt; do
  case $opt in
    m) MEM=$OPTARG;; n) NODES=$OPTARG;; c) CPUS=$OPTARG;; s) SMP=$OPTARG;;
    d) DISTS=$OPTARG;; k) KEXTRA=$OPTARG;; K) KASLR=1;; M) MACHINE=$OPTARG;;
    a) ACCEL=$OPTARG;; q) QEXTRA=$OPTARG;; o) OUTROOT=$OPTARG;; t) TIMEOUT=$OPTARG;;
    w) WORK=$OPTARG;; B) BSUF=-blocks;; R) NORES=,reserve=off;;
    h|*) sed -n '2,38p' "$0"; exit 1;;
  esac
done
shift $((OPTIND-1))
[ $# -eq 1 ] || { sed -n '2,38p' "$0"; exit 1; }
NAME=$1
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$OUTROOT/$NAME
mkdir -p "$WORK"

# ---------------------------------------------------------------- kernel ----
KPKG=${KPKG:-}
if [ -z "$KPKG" ]; then
  KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
fi
[ -n "$KPKG" ] || { echo "cannot determine kernel package (apt-get update?)" >&2; exit 1; }
KVER=${KPKG#linux-image-}
VMLINUZ=$WORK/kpkg/boot/vmlinuz-$KVER
if [ ! -f "$VMLINUZ" ]; then
  ( cd "$WORK" && apt-get download "$KPKG" >/dev/null 2>&1 || apt-get download "$KPKG" )
  dpkg-deb -x "$WORK"/${KPKG}_*.deb "$WORK/kpkg"
fi

# ------------------------------------------------------------- initramfs ----
INITRD=$WORK/initramfs$BSUF.cpio.gz
if [ ! -f "$INITRD" ] || [ "$0" -nt "$INITRD" ]; then
  rm -rf "$WORK/initramfs$BSUF-src"
  mkdir -p "$WORK"/initramfs$BSUF-src/{bin,proc,sys,dev,out,tmp}
  cp /bin/busybox "$WORK/initramfs$BSUF-src/bin/busybox"
  cat > "$WORK/initramfs$BSUF-src/init" <<'EOF'
#!/bin/busybox sh
# kernel-ref capture init: dump allocator state, ship it as base64 tar on /dev/ttyS1, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk      # keep the console quiet from here on
read UP_INIT _ < /proc/uptime
O=/out
snap() {  # $1 = suffix ('' for the boot-time snapshot)
  s=$1
  cat /proc/zoneinfo     > $O/zoneinfo$s
  cat /proc/buddyinfo    > $O/buddyinfo$s
  cat /proc/pagetypeinfo > $O/pagetypeinfo$s
  cat /proc/meminfo      > $O/meminfo$s
  cat /proc/vmstat       > $O/vmstat$s
  for f in min_free_kbytes watermark_scale_factor watermark_boost_factor lowmem_reserve_ratio \
           numa_zonelist_order percpu_pagelist_high_fraction; do
    [ -r /proc/sys/vm/$f ] && echo "$f = $(cat /proc/sys/vm/$f | tr '\t' ' ')" >> $O/sysctl-vm$s
  done
}
# --- boot-time snapshot, taken first ---
snap ""
cat /proc/cmdline > $O/cmdline
cat /proc/version > $O/kernel-version
cat /proc/iomem > $O/iomem
grep -E '^(processor|physical id|core id|apicid)' /proc/cpuinfo > $O/cpus
for d in /sys/devices/system/node/node*; do
  [ -d "$d" ] || continue
  n=${d##*/}
  { echo "== $n"; echo "cpulist: $(cat $d/cpulist)"; echo "distance: $(cat $d/distance)"; cat $d/meminfo; } >> $O/nodes
done
for m in possible online has_memory has_normal_memory has_cpu; do
  echo "$m: $(cat /sys/devices/system/node/$m 2>/dev/null)" >> $O/nodes
done
{ echo "thp_enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled)";
  echo "memory_block_size_bytes: 0x$(cat /sys/devices/system/memory/block_size_bytes 2>/dev/null)";
  echo "uptime_at_init: $UP_INIT"; } > $O/misc
# --- recompute snapshot: write the sysctls back with their own values so that
#     lowmem_reserve and the watermarks are recomputed from the FINAL managed counts
#     (at boot they were computed before initrd/initmem were freed) ---
cat /proc/sys/vm/lowmem_reserve_ratio > /proc/sys/vm/lowmem_reserve_ratio
cat /proc/sys/vm/watermark_scale_factor > /proc/sys/vm/watermark_scale_factor
snap ".recomputed"
dmesg > $O/dmesg
# ====================== memory-hotplug extension (capture-hp.sh) ======================
# Everything above is unchanged from capture.sh.  From here: memory-blocks (sysfs memory
# block list) and hotplug-steps (scripted offline/online sequence, sectioned).
dmesg -c > /dev/null                  # boot log already saved; from now on dmesg -c per step
MEMD=/sys/devices/system/memory
HPTO=120                              # a single sysfs write is SIGKILLed after this many s
HP=$O/hotplug-steps
rd() { cat "$1" 2>&1 | tr '\n' ' ' | sed 's/ *$//'; }
up() { cut -d' ' -f1 /proc/uptime; }
blocknums() { ls $MEMD | sed -n 's/^memory\([0-9][0-9]*\)$/\1/p' | sort -n; }
blkline() {  # one line per memory block
  d=$MEMD/memory$1
  [ -d $d ] || { echo "memory$1 absent"; return; }
  nl=""
  for l in $d/node*; do [ -e "$l" ] && nl="${nl:+$nl,}${l##*/node}"; done
  echo "memory$1 state=$(rd $d/state) online=$(rd $d/online) phys_index=$(rd $d/phys_index) removable=$(rd $d/removable) valid_zones=$(rd $d/valid_zones) node=${nl:-?}"
}
nbrs() { for x in $(($1-1)) $1 $(($1+1)); do [ -d $MEMD/memory$x ] && echo $x; done; }
sec() { echo "" >> $HP; echo "######## $*" >> $HP; }
sub() { echo "## $*" >> $HP; }
OK=0
wr() {  # wr VALUE BLOCK: echo VALUE > memoryBLOCK/state, log rc + error text; sets OK
  f=$MEMD/memory$2/state
  ta=$(up)
  err=$(timeout -s KILL $HPTO sh -c "echo $1 > $f" 2>&1); rc=$?
  tb=$(up)
  sub "op: echo $1 > $f"
  echo "rc=$rc err=${err:-<none>} uptime=$ta..$tb" >> $HP
  [ $rc = 0 ] && OK=1 || OK=0
}
dm() { sub "dmesg"; dmesg -c >> $HP; }
state() {  # state BLOCK...: block lines, then the full allocator files
  sub "blocks"
  for b in "$@"; do blkline $b; done >> $HP
  sub "zoneinfo";     cat /proc/zoneinfo >> $HP
  sub "buddyinfo";    cat /proc/buddyinfo >> $HP
  sub "pagetypeinfo"; cat /proc/pagetypeinfo >> $HP
  sub "meminfo";      cat /proc/meminfo >> $HP
  sub "sysctl"
  for f in min_free_kbytes watermark_scale_factor lowmem_reserve_ratio; do echo "$f = $(rd /proc/sys/vm/$f | tr '\t' ' ')"; done >> $HP
  sub "end"
}
# pr_debug() in mm/memory_hotplug.c carries the offline failure reason ("memory offlining
# [mem ...] failed due to ..."): switch it on now (after the boot snapshots) via dynamic debug
DDC=/proc/dynamic_debug/control
if [ ! -w $DDC ]; then mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null; DDC=/sys/kernel/debug/dynamic_debug/control; fi
DYN=""
for f in mm/memory_hotplug.c mm/page_isolation.c drivers/base/memory.c; do
  e=$(echo "file $f +p" 2>&1 > $DDC); DYN="$DYN $f:rc=$?${e:+($e)}"
done
dmesg -c > /dev/null
# ---- step 1: memory-blocks ----
{
  echo "block_size_bytes: $(rd $MEMD/block_size_bytes)"
  echo "auto_online_blocks: $(rd $MEMD/auto_online_blocks)"
  echo "nr_blocks: $(blocknums | wc -l)"
  for b in $(blocknums); do blkline $b; done
} > $O/memory-blocks
# ---- steps 2..: skipped when the script ran with -B (a /blocks-only marker in the initramfs) ----
if [ ! -e /blocks-only ]; then
# ---- step 2: targets, chosen from the boot state ----
TOP=""; NTOP=""; NKIND=""; D32TOP=""; MOV=""
for b in $(blocknums); do
  st=$(rd $MEMD/memory$b/state); vz=$(rd $MEMD/memory$b/valid_zones)
  [ "$st" = online ] || continue
  TOP=$b
  case "$vz" in
    Normal) NTOP=$b;; DMA32) D32TOP=$b;; Movable) MOV="$MOV $b";;
  esac
done
if [ -n "$NTOP" ]; then NKIND=Normal; else NTOP=$D32TOP; NKIND="DMA32 (no online ZONE_NORMAL block)"; fi
{
  echo "# hotplug-steps: sections start with '######## STEP <id>: ...', subsections with '## <what>'."
  echo "# op lines: rc = exit status of 'sh -c \"echo VALUE > state\"' (0 ok, 1 write error, 137 killed after ${HPTO}s), err = its stderr."
  echo "dynamic_debug ($DDC):$DYN"
  echo "targets: top_online_block=$TOP kernel_zone_top_block=$NTOP ($NKIND) movable_blocks=[${MOV# }]"
} > $HP
sec "STEP 0: baseline before any hotplug operation"
dm; state $(nbrs $TOP)
# (a) offline the highest-numbered online block
B=$TOP
sec "STEP a: offline highest-numbered online block memory$B"
wr offline $B; A_OK=$OK; dm; state $(nbrs $B)
sec "STEP b: online memory$B with online_movable"
wr online_movable $B; dm; state $(nbrs $B)
sec "STEP c: offline memory$B again, then online_kernel"
wr offline $B; dm
wr online_kernel $B; C_OK=$OK; dm; state $(nbrs $B)
if [ $C_OK = 0 ] && [ "$(rd $MEMD/memory$B/state)" = offline ]; then
  sec "STEP c-restore: online_kernel refused, online memory$B with plain online"
  wr online $B; dm; state $(nbrs $B)
fi
USED=" $B "
if [ $A_OK = 0 ]; then
  # (a2) the top block would not go offline: walk down to the highest block that does
  sec "STEP a2: memory$B would not offline; try lower online single-zone blocks (highest first, at most 16)"
  B2=""; n=0
  for b in $(blocknums | sort -rn); do
    [ $b -lt $B ] || continue
    [ "$(rd $MEMD/memory$b/state)" = online ] || continue
    [ "$(rd $MEMD/memory$b/valid_zones)" = none ] && continue
    n=$((n+1)); [ $n -le 16 ] || break
    sub "try memory$b (valid_zones=$(rd $MEMD/memory$b/valid_zones))"
    wr offline $b; dm
    if [ $OK = 1 ]; then B2=$b; break; fi
  done
  if [ -n "$B2" ]; then
    USED="$USED$B2 "
    sub "first block that went offline: memory$B2"
    state $(nbrs $B2)
    sec "STEP b2: online memory$B2 with online_movable"
    wr online_movable $B2; dm; state $(nbrs $B2)
    sec "STEP c2: offline memory$B2 again, then online_kernel"
    wr offline $B2; dm
    wr online_kernel $B2; C_OK=$OK; dm; state $(nbrs $B2)
    if [ $C_OK = 0 ] && [ "$(rd $MEMD/memory$B2/state)" = offline ]; then
      sec "STEP c2-restore: online_kernel refused, online memory$B2 with plain online"
      wr online $B2; dm; state $(nbrs $B2)
    fi
  else
    sub "no block went offline in 16 tries"; state
  fi
fi
# (d) highest ZONE_NORMAL block (boot state), only if there is a Movable zone
if [ -n "$MOV" ] && [ -n "$NTOP" ]; then
  sec "STEP d: offline highest kernel-zone block memory$NTOP (zone at boot: $NKIND)"
  wr offline $NTOP; D_OK=$OK; dm; state $(nbrs $NTOP)
  if [ $D_OK = 1 ]; then
    sec "STEP d-restore: online memory$NTOP with plain online"
    wr online $NTOP; dm; state $(nbrs $NTOP)
  else
    # one more try on the next lower block of the same zone (the top one may just hold a hole)
    z=$(rd $MEMD/memory$NTOP/valid_zones); N2=""
    for b in $(blocknums | sort -rn); do
      [ $b -lt $NTOP ] || continue
      [ "$(rd $MEMD/memory$b/state)" = online ] && [ "$(rd $MEMD/memory$b/valid_zones)" = "$z" ] && { N2=$b; break; }
    done
    if [ -n "$N2" ]; then
      sec "STEP d2: memory$NTOP did not offline; offline the next lower $z block memory$N2"
      wr offline $N2; D_OK=$OK; dm; state $(nbrs $N2)
      if [ $D_OK = 1 ]; then
        sec "STEP d2-restore: online memory$N2 with plain online"
        wr online $N2; dm; state $(nbrs $N2)
      fi
    fi
  fi
else
  sec "STEP d: skipped (movable_blocks=[${MOV# }], kernel_zone_top_block=$NTOP)"
fi
# (e) a block in the middle of ZONE_MOVABLE (boot state), not one used above
set -- $(for b in $MOV; do case "$USED" in *" $b "*) ;; *) echo $b;; esac; done)
if [ $# -gt 0 ]; then
  shift $(($# / 2)); M=$1
  sec "STEP e: offline memory$M (middle of the boot-time ZONE_MOVABLE blocks)"
  wr offline $M; dm; state $(nbrs $M)
  sec "STEP e-valid_zones: valid_zones of memory$M and its neighbours while it is offline"
  for x in $(nbrs $M); do echo "memory$x state=$(rd $MEMD/memory$x/state) valid_zones=$(rd $MEMD/memory$x/valid_zones)"; done >> $HP
  sec "STEP e-online: online memory$M with plain online"
  wr online $M; dm; state $(nbrs $M)
else
  sec "STEP e: skipped (no online ZONE_MOVABLE block at boot)"
fi
# (f) full compaction
sec "STEP f: echo 1 > /proc/sys/vm/compact_memory"
sub "vmstat before"; grep -E '^(compact_|pgmigrate_)' /proc/vmstat >> $HP
ta=$(up)
err=$(timeout -s KILL $HPTO sh -c "echo 1 > /proc/sys/vm/compact_memory" 2>&1); rc=$?
tb=$(up)
sub "op: echo 1 > /proc/sys/vm/compact_memory"
echo "rc=$rc err=${err:-<none>} uptime=$ta..$tb" >> $HP
sub "vmstat after"; grep -E '^(compact_|pgmigrate_)' /proc/vmstat >> $HP
dm; state
sec "FINAL: all memory blocks"
for b in $(blocknums); do blkline $b; done >> $HP
dm
echo "#### done" >> $HP
fi   # /blocks-only
# ==================== end of memory-hotplug extension ====================
read UP_END _ < /proc/uptime
echo "uptime_at_end: $UP_END" >> $O/misc
stty -F /dev/ttyS1 raw -echo 2>/dev/null
{
  echo "@@KREF-BEGIN@@"
  cd / && tar cf - out | gzip -9 | base64
  echo "@@KREF-END@@"
} > /dev/ttyS1
sync
poweroff -f
EOF
  chmod +x "$WORK/initramfs$BSUF-src/init"
  [ -z "$BSUF" ] || : > "$WORK/initramfs$BSUF-src/blocks-only"
  # bit-reproducible archive: fixed mtimes, --reproducible cpio, gzip -n.  The initrd size
  # matters: its pages are still reserved when the boot-time watermarks are computed.
  find "$WORK/initramfs$BSUF-src" -exec touch -h -d @0 {} +
  ( cd "$WORK/initramfs$BSUF-src" && find . | LC_ALL=C sort \
      | cpio -o -H newc --reproducible --owner=0:0 2>/dev/null | gzip -9 -n ) > "$INITRD"
fi

# ------------------------------------------------------------ qemu args ----
CMDLINE="console=ttyS0"
[ "$KASLR" = 1 ] || CMDLINE="$CMDLINE nokaslr"
[ -n "$KEXTRA" ] && CMDLINE="$CMDLINE $KEXTRA"

QARGS=(-machine "$MACHINE" -accel "$ACCEL" -m "$MEM" -smp "$SMP")
if [ -n "$NODES" ]; then
  IFS=',' read -r -a SIZES <<< "$NODES"
  N=${#SIZES[@]}
  declare -a NCPU
  if [ -n "$CPUS" ]; then
    IFS=':' read -r -a NCPU <<< "$CPUS:"   # trailing ':' keeps empty last entries
  else
    for ((i=0;i<N;i++)); do NCPU[$i]=""; done
    for ((c=0;c<SMP;c++)); do
      i=$((c % N)); NCPU[$i]="${NCPU[$i]:+${NCPU[$i]},}$c"
    done
  fi
  for ((i=0;i<N;i++)); do
    QARGS+=(-object "memory-backend-ram,id=m$i,size=${SIZES[$i]}$NORES")
    nodearg="node,nodeid=$i,memdev=m$i"
    if [ -n "${NCPU[$i]:-}" ]; then
      IFS=',' read -r -a cl <<< "${NCPU[$i]}"
      for c in "${cl[@]}"; do nodearg="$nodearg,cpus=$c"; done
    fi
    QARGS+=(-numa "$nodearg")
  done
  if [ -n "$DISTS" ]; then
    IFS=',' read -r -a DL <<< "$DISTS"
    for d in "${DL[@]}"; do
      sd=${d%%=*}; v=${d#*=}; s=${sd%%-*}; t=${sd#*-}
      QARGS+=(-numa "dist,src=$s,dst=$t,val=$v")
    done
  fi
fi
if [ -z "$NODES" ] && [ -n "$NORES" ]; then
  QARGS+=(-object "memory-backend-ram,id=ram0,size=$MEM$NORES" -machine memory-backend=ram0)
fi
# shellcheck disable=SC2206
[ -n "$QEXTRA" ] && QARGS+=($QEXTRA)

RUN=$WORK/run-$NAME
rm -rf "$RUN"; mkdir -p "$RUN"
FULL=(qemu-system-x86_64 "${QARGS[@]}" -kernel "$VMLINUZ" -initrd "$INITRD" -append "$CMDLINE"
      -display none -monitor none -serial "file:$RUN/console.log" -serial "file:$RUN/data.log"
      -no-reboot)

# ---------------------------------------------------------------- boot -----
t0=$(date +%s.%N)
"${FULL[@]}" > "$RUN/qemu.stdout" 2>&1 &
QPID=$!
echo "[$NAME] qemu pid $QPID: ${FULL[*]}" >&2
killed=0
for ((i=0; i<TIMEOUT*5; i++)); do
  kill -0 "$QPID" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$QPID" 2>/dev/null; then
  echo "[$NAME] timeout after ${TIMEOUT}s, killing qemu pid $QPID" >&2
  kill "$QPID" 2>/dev/null || true; sleep 1; kill -9 "$QPID" 2>/dev/null || true
  killed=1
fi
wait "$QPID" 2>/dev/null && qrc=0 || qrc=$?
t1=$(date +%s.%N)
WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')

if [ "$killed" = 1 ] || ! grep -q '@@KREF-END@@' "$RUN/data.log"; then
  echo "[$NAME] FAILED (qemu rc=$qrc, killed=$killed); see $RUN/console.log $RUN/qemu.stdout" >&2
  tail -20 "$RUN/console.log" >&2 || true
  cat "$RUN/qemu.stdout" >&2 || true
  exit 2
fi

sed -n '/@@KREF-BEGIN@@/,/@@KREF-END@@/p' "$RUN/data.log" | tr -d '\r' | sed '1d;$d' \
  | base64 -d | tar xzf - -C "$RUN"

# ---------------------------------------------------------------- store ----
rm -rf "$OUT"; mkdir -p "$OUT"
cp "$RUN"/out/* "$OUT"/
{ printf '%q ' "${FULL[@]}"; echo; } | sed "s#$WORK#\$WORK#g" > "$OUT/qemu-args"
grep -E 'BIOS-e820:' "$OUT/dmesg" > "$OUT/e820" || true
grep -E 'e820|Zone ranges|^\[[ 0-9.]+\]   (DMA|DMA32|Normal|Movable|Device) |Movable zone start|^\[[ 0-9.]+\]   Node |Early memory node ranges|^\[[ 0-9.]+\]   node |Initmem setup|On node|zonelists|Policy zone|Fallback order|NUMA|SRAT|SLIT|NODE_DATA|Faking a node|Memory: |Freeing|deferred pages|kernelcore|movablecore|raising min_free_kbytes|Kernel command line' \
  "$OUT/dmesg" > "$OUT/dmesg-mm" || true
{
  echo "host_wall_seconds: $WALL"
  echo "accel: $ACCEL"
  grep -E 'uptime_' "$OUT/misc"
} > "$OUT/timing"
echo "kernel_package: $KPKG $(dpkg-deb -f "$WORK"/${KPKG}_*.deb Version 2>/dev/null)" >> "$OUT/kernel-version"
echo "qemu: $(qemu-system-x86_64 --version | head -1)" >> "$OUT/kernel-version"
echo "initramfs_bytes: $(stat -c %s "$INITRD") sha256: $(sha256sum < "$INITRD" | cut -c1-16) busybox: $(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null)" >> "$OUT/kernel-version"
SUMM=$HERE/summarize.py; [ -f "$SUMM" ] || SUMM=$HERE/../kernel-ref/summarize.py
if [ -f "$SUMM" ]; then
  python3 "$SUMM" "$OUT" > "$OUT/summary.md" || echo "[$NAME] summarize failed" >&2
fi
if [ -f "$HERE/hp_summary.py" ] && [ -f "$OUT/hotplug-steps" ]; then
  python3 "$HERE/hp_summary.py" "$OUT" > "$OUT/hotplug-summary.md" || echo "[$NAME] hp_summary failed" >&2
fi
rm -rf "$RUN"
echo "[$NAME] ok: wall ${WALL}s -> $OUT" >&2
