#!/usr/bin/env bash
# The mount's memory/ directory against real kernels: memd boots the machine of
# a capture in tests/reference/kernel-6.1/ (its e820 map, command line and
# nodes), and the blocks read through the mount, with the capture tool's own
# blkline() (tests/reference/tools/capture-hotplug.sh), must give the
# capture's memory-blocks file line for line. Then the shape of the tree: the
# files of a block, their modes (state and online 0644, as in sysfs), the node
# links and their targets. Then the capture's hotplug steps through the mount,
# written as its script wrote them (sh -c "echo VALUE > state"): each write's
# exit status and error, and the blocks' lines after each step.
set -euo pipefail
. "$(dirname "$0")/lib.sh" "$@"
REF=$HERE/../reference/kernel-6.1

# write_config DIR NODE...: the capture's machine; each NODE is "start end cpu".
write_config() {
  {
    printf '[daemon]\nstate_dir = ""\n[machine]\ncpus = 2\n'
    printf "cmdline = '%s'\n" "$(cat "$REF/$1/cmdline")"
    printf "e820 = '''\n%s\n'''\n" "$(cat "$REF/$1/e820")"
    shift
    local n start end cpu
    for n in "$@"; do
      read -r start end cpu <<<"$n"
      printf '[[machine.node]]\nstart = "%s"\nend = "%s"\ncpus = [%s]\n' "$start" "$end" "$cpu"
    done
  } >"$CONFIG"
}

# The capture's blkline(), on the mount (MEMDIR = the mount's memory/); every
# file is one line, so `read` does what its rd() does, without a process per file.
MEMDIR=$MNT/memory
rd() { local x=""; IFS= read -r x <"$1" || true; printf '%s' "$x"; }
blocknums() { ls "$MEMDIR" | sed -n 's/^memory\([0-9][0-9]*\)$/\1/p' | sort -n; }
blkline() {
  local d=$MEMDIR/memory$1 nl="" s o p r v
  [ -d "$d" ] || { echo "memory$1 absent"; return; }
  for l in "$d"/node*; do [ -e "$l" ] && nl="${nl:+$nl,}${l##*/node}"; done
  IFS= read -r s <"$d/state"; IFS= read -r o <"$d/online"; IFS= read -r p <"$d/phys_index"
  IFS= read -r r <"$d/removable"; IFS= read -r v <"$d/valid_zones"
  echo "memory$1 state=$s online=$o phys_index=$p removable=$r valid_zones=$v node=${nl:-?}"
}

# compare_with DIR: memory/ as the capture's memory-blocks shows it, without
# auto_online_blocks (memd does not serve it).
compare_with() {
  {
    echo "block_size_bytes: $(rd "$MEMDIR"/block_size_bytes)"
    echo "nr_blocks: $(blocknums | wc -l)"
    for b in $(blocknums); do blkline "$b"; done
  } >"$W/$1.memd"
  grep -v '^auto_online_blocks:' "$REF/$1/memory-blocks" >"$W/$1.kernel"
  diff "$W/$1.kernel" "$W/$1.memd" >"$W/$1.diff" || {
    sed 's/^/  /' "$W/$1.diff" | head -n 20
    fail "memory/ of $1 differs from the kernel's (< kernel, > memd)"
  }
}

# 2 GiB, movablecore=512M: memory0 spans DMA and DMA32 (none), memory12-15
# Movable, memory15 over the hole below 2 GiB.
write_config hp1-2G-movablecore512M
start_memd
compare_with hp1-2G-movablecore512M

# The tree of one block: the kernel's files, then the node link.
expect_eq "memory/ starts with" "$(ls -U "$MEMDIR" | head -n 3 | tr '\n' ' ')" \
  "block_size_bytes memory0 memory1 "
expect_eq "memory12/" "$(ls -U "$MEMDIR/memory12" | tr '\n' ' ')" \
  "phys_index state phys_device removable valid_zones online node0 "
for f in block_size_bytes memory12/phys_index memory12/phys_device memory12/removable \
  memory12/valid_zones; do
  expect_eq "mode of memory/$f" "$(stat -c %a "$MEMDIR/$f")" 444
  expect_eq "size of memory/$f" "$(stat -c %s "$MEMDIR/$f")" 0
done
for f in memory12/state memory12/online; do
  expect_eq "mode of memory/$f" "$(stat -c %a "$MEMDIR/$f")" 644
  expect_eq "size of memory/$f" "$(stat -c %s "$MEMDIR/$f")" 0
done
expect_eq "memory12/phys_device" "$(cat "$MEMDIR/memory12/phys_device")" 0
expect_eq "node link" "$(stat -c %F "$MEMDIR/memory12/node0")" "symbolic link"
expect_eq "node link target" "$(readlink "$MEMDIR/memory12/node0")" "../../node/node0"
[ -d "$MEMDIR/memory12/node0/" ] || fail "memory12/node0 does not resolve to a directory"
expect_eq "node/" "$(ls "$MNT/node" | tr '\n' ' ')" "node0 "
[ -e "$MEMDIR/memory16" ] && fail "memory16 exists: RAM ends below 2 GiB"
# A word state_store() does not know: EINVAL, nothing changes.
out=$( (echo offlin >"$MEMDIR/memory13/state") 2>&1) && fail "writing 'offlin' succeeded"
expect_contains "writing offlin" "$out" "Invalid argument"
expect_eq "memory13/state after the write" "$(cat "$MEMDIR/memory13/state")" online
# show takes the mount's paths (memctl show too).
expect_eq "show valid_zones" "$(json 'r["text"]' "$(send 'show memory/memory12/valid_zones')")" Movable
expect_eq "show block_size_bytes" "$(json 'r["text"]' "$(send 'show memory/block_size_bytes')")" 8000000
expect_contains "show of a block past RAM" "$(send 'show memory/memory16/state')" "no memory block 16"
# Small reads see the same bytes.
expect_eq "valid_zones 1 byte at a time" "$(dd if="$MEMDIR/memory13/valid_zones" bs=1 status=none)" Movable
stop_memd

# replay_steps DIR: the capture's hotplug-steps up to its compaction step
# (not hotplug), each write as the capture's script made it, then the blocks
# it listed, with its blkline(). hp1 only: the EBUSY of hp2 and hp3 comes
# from memblock reservations that memd's configuration gets from
# tests/core/kernel61.h (HotplugCapture in tests/core/hotplug_test.cpp
# replays those on the core).
replay_steps() {
  local steps=$REF/$1/hotplug-steps value block want got rc err n=0
  while IFS= read -r line; do
    case "$line" in
      "######## STEP f:"*) break ;;
      "## op: echo "*" > /sys/devices/system/memory/memory"*"/state")
        value=${line#"## op: echo "}
        value=${value%% *}
        block=${line##*/memory/memory}
        block=${block%/state}
        IFS= read -r want
        want=${want%% uptime=*}
        err=$(bash -c "echo $value > $MEMDIR/memory$block/state" 2>&1) && rc=0 || rc=$?
        # bash, whose echo names the errno (dash says "I/O error" for any); the shells word
        # it differently ("sh: write error: X", "bash: line 1: echo: write error: X"):
        # the exit status and the errno's text are compared.
        expect_eq "$1: echo $value > memory$block/state" "rc=$rc ${err:+${err##*: }}" \
          "$(sed -e 's/ err=<none>$/ /' -e 's/ err=.*: / /' <<<"$want")"
        n=$((n + 1))
        ;;
      "memory"*" state="*" online="*)
        block=${line%% *}
        expect_eq "$1: $block after the step" "$(blkline "${block#memory}")" "$line"
        ;;
      "memory"*" state="*)  # the short form: state and valid_zones
        block=${line%% *}
        got=$(blkline "${block#memory}")
        got=$(sed 's/^\(memory[0-9]* state=[a-z]*\) .*\(valid_zones=.*\) node=.*/\1 \2/' <<<"$got")
        expect_eq "$1: $block after the step" "$got" "$line"
        ;;
    esac
  done <"$steps"
  echo "$1: $n writes replayed"
}
write_config hp1-2G-movablecore512M
start_memd
replay_steps hp1-2G-movablecore512M
# The socket's verb on the same machine: memory14 offline again (all its pages
# free: nothing to migrate), then back online in ZONE_MOVABLE.
r=$(send 'memory offline block=14')
expect_eq "memory offline: message" "$(json 'r["message"]' "$r")" "Offlined Pages 32768"
expect_eq "memory offline: zone" "$(json 'r["zone"]' "$r")" "Normal"
expect_eq "memory14/state" "$(cat "$MEMDIR/memory14/state")" offline
r=$(send 'memory offline block=15')
expect_eq "memory offline of memory15: failure" "$(json 'r["failure"]' "$r")" bad_input
expect_contains "memory offline of memory15" "$(json 'r["error"]' "$r")" \
  "memory offlining [mem 0x78000000-0x7fffffff] failed due to memory holes"
r=$(send 'memory online block=14 zone=movable')
expect_eq "memory online: zone" "$(json 'r["zone"]' "$r")" "Movable"
# online takes kstrtobool's words: 0 takes memory14 offline, 1 brings it back
# (the default online type), 1 again is a quiet success.
echo 0 >"$MEMDIR/memory14/online"
expect_eq "memory14/online after 0" "$(cat "$MEMDIR/memory14/online")" 0
echo 1 >"$MEMDIR/memory14/online"
echo 1 >"$MEMDIR/memory14/online"
expect_eq "memory14/state after 1" "$(cat "$MEMDIR/memory14/state")" online
out=$( (echo maybe >"$MEMDIR/memory14/online") 2>&1) && fail "writing 'maybe' to online succeeded"
expect_contains "writing maybe to online" "$out" "Invalid argument"
expect_eq "check after the hotplug" "$(json 'r["ok"]' "$(send check)")" True
stop_memd

# Two nodes of 2 GiB: node 1 has the DMA32 blocks up to 3 GiB and the Normal ones
# above 4 GiB; no block for the PCI hole.
write_config hp3-4G-2nodes "0x0 0x80000000 0" "0x80000000 0x140000000 1"
start_memd
compare_with hp3-4G-2nodes
expect_eq "node/ with two nodes" "$(ls "$MNT/node" | tr '\n' ' ')" "node0 node1 "
expect_eq "node link of memory16" "$(readlink "$MEMDIR/memory16/node1")" "../../node/node1"
stop_memd

# 67 GiB in two nodes (RAM ends at 68 GiB: 2 GiB blocks): memory16 holds the end
# of node 0 (33 GiB) and the start of node 1, so it has two node links and
# valid_zones none.
write_config hp6-67G-2nodes-blocks "0x0 0x840000000 0" "0x840000000 0x1100000000 1"
start_memd
compare_with hp6-67G-2nodes-blocks
expect_eq "memory16/" "$(ls -U "$MEMDIR/memory16" | tr '\n' ' ')" \
  "phys_index state phys_device removable valid_zones online node0 node1 "
expect_eq "memory16's second link" "$(readlink "$MEMDIR/memory16/node1")" "../../node/node1"
stop_memd
