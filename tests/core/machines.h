// Small named machines for the core tests, so that a test's setup is one
// line: what each one boots into (zones, pfns) is in its comment, derived
// from the kernel's boot code (mm/mm_init.c, arch/x86), and tests rely on it.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "tests/core/test_util.h"

namespace memd::test::machines {

// qemu pc, 64 MiB, 1 CPU, THP: DMA [1, 4096), DMA32 [4096, 16352).
inline MachineConfig pc_64m(int cpus = 1) {
  return pc_machine(64 * kMiB, cpus, true);
}

// qemu pc, 64 MiB, THP, two nodes: node 0 has all the memory and CPU 0,
// node 1 has no memory ("Initmem setup node 1 as memoryless") and CPU 1.
inline MachineConfig memoryless_64m() {
  MachineConfig cfg = pc_64m(2);
  NodeConfig n0, n1;
  n0.size = 64 * kMiB;
  n0.cpus = {0};
  n1.size = 0;
  n1.cpus = {1};
  cfg.nodes = {n0, n1};
  return cfg;
}

// qemu pc, 256 MiB, 1 CPU, THP: DMA and DMA32 [4096, 65504).
inline MachineConfig pc_256m(int cpus = 1) {
  return pc_machine(256 * kMiB, cpus, true);
}

// qemu pc, 1 GiB on one node, THP.
inline MachineConfig one_node_1g(int cpus = 1) {
  return pc_machine(1 * kGiB, cpus, true);
}

// 1 GiB with movablecore=256M: required_kernelcore = 262014 - 65536 pages,
// spread from pfn 1 (find_zone_movable_pfns_for_nodes), ends at 196576 and
// is aligned up to 196608: ZONE_MOVABLE = [196608, 262112).
inline MachineConfig movablecore_256m() {
  MachineConfig cfg = one_node_1g();
  cfg.cmdline = "movablecore=256M";
  return cfg;
}

// 64 MiB below 4 GiB and 64 MiB above it, 1 CPU, THP: DMA, DMA32 [4096,
// 16384) and Normal [1048576, 1064960).
inline MachineConfig normal_64m() {
  MachineConfig cfg;
  cfg.e820 =
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
      "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\n"
      "BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved\n"
      "BIOS-e820: [mem 0x0000000000100000-0x0000000003ffffff] usable\n"
      "BIOS-e820: [mem 0x0000000100000000-0x0000000103ffffff] usable\n";
  cfg.cpus = 1;
  cfg.thp = true;
  return cfg;
}

// Two nodes of 32 MiB: node 0 = DMA + DMA32 [4096, 8192), node 1 = DMA32
// [8192, 16352). CPU 0 on node 0, CPU 1 on node 1.
inline MachineConfig two_nodes() {
  MachineConfig cfg = pc_machine(64 * kMiB, 2, true);
  for (int n = 0; n < 2; ++n) {
    NodeConfig nc;
    nc.size = 32 * kMiB;
    nc.cpus = {n};
    cfg.nodes.push_back(nc);
  }
  return cfg;
}

// Two nodes split inside a pageblock: node 0 = [0, 33 MiB), node 1 = [33 MiB,
// 64 MiB); node 1's DMA32 starts at pfn 8448. CPUs 0 and 1 round-robin.
inline MachineConfig nodes_33m_31m() {
  MachineConfig cfg = pc_machine(64 * kMiB, 2, true);
  NodeConfig n0;
  n0.size = 33 * kMiB;
  NodeConfig n1;
  n1.size = 31 * kMiB;
  cfg.nodes = {n0, n1};
  return cfg;
}

// 4 nodes of 16 MiB (node 0: DMA only; nodes 1-3: DMA32), one CPU each, with
// the given SLIT rows (empty: default distances).
inline MachineConfig four_nodes_16m(const std::vector<std::vector<int>>& distance) {
  MachineConfig cfg = pc_machine(64 * kMiB, 4, true);
  for (int n = 0; n < 4; ++n) {
    NodeConfig nc;
    nc.size = 16 * kMiB;
    nc.cpus = {n};
    if (!distance.empty()) nc.distance = distance[n];
    cfg.nodes.push_back(nc);
  }
  return cfg;
}

// i386, qemu pc, 1 GiB, no THP: DMA, Normal up to 896 MiB, HighMem above.
inline MachineConfig i386_1g() {
  MachineConfig cfg = pc_machine(1 * kGiB, 1, false);
  cfg.arch = Arch::kI386;
  return cfg;
}

// RAM [4K, 0x9fc00) and [1M, 64M), plus one more e820 line (`extra`), 1 CPU.
inline MachineConfig low_64m_plus(const std::string& extra) {
  MachineConfig cfg;
  cfg.e820 = std::string(
                 "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
                 "BIOS-e820: [mem 0x0000000000100000-0x0000000003ffffff] usable\n") +
             extra;
  cfg.cpus = 1;
  return cfg;
}

}  // namespace memd::test::machines
