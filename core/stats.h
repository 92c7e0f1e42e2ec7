// A snapshot of every counter the kernel's files print, copied from a Machine
// in microseconds (Machine::stats) so the text can be formatted without
// holding the machine. Plain data; rendering is in core/render.h.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/types.h"

namespace memd {

struct PcpStats {
  int count = 0;
  int high = 0;
  int batch = 0;
  int high_min = 0;
  int high_max = 0;
};

struct ZoneStats {
  int nid = 0;
  unsigned idx = 0;         // zone_idx
  unsigned global_idx = 0;  // among all zones of the machine, node by node
  ZoneKind kind = ZoneKind::kNormal;
  std::string name;        // "DMA", "DMA32", "Normal", "HighMem", "Movable", "Device"
  bool populated = false;  // present_pages != 0
  uint64_t start_pfn = 0;
  uint64_t spanned = 0;
  uint64_t present = 0;
  uint64_t managed = 0;
  uint64_t cma = 0;
  // NR_FREE_PAGES (buddy pages outside Isolate blocks; pcp pages not included)
  uint64_t free_pages = 0;
  uint64_t free_pages_blocks = 0;  // NR_FREE_PAGES_BLOCKS
  uint64_t free_cma = 0;
  uint64_t boost = 0;
  std::array<uint64_t, kNrWmark> watermark{};     // _watermark[], without boost
  std::vector<int64_t> lowmem_reserve;            // one per zone of the layout
  std::array<uint64_t, kNrPageOrders> nr_free{};  // free_area[o].nr_free
  // Entries on free_area[o].free_list[mt] (the kernel's walk, uncapped here).
  std::array<std::array<uint64_t, kMigrateTypes>, kNrPageOrders> nr_free_by_type{};
  std::array<uint64_t, kMigrateTypes> block_count{};  // "Number of blocks type"
  std::array<uint64_t, kNrNumaStats> numa{};
  uint64_t pgalloc = 0;  // PGALLOC_<zone>
  uint64_t nr_reserved_highatomic = 0;
  uint64_t nr_free_highatomic = 0;
  std::vector<PcpStats> pcp;  // one per CPU (online CPUs); empty for unpopulated zones
  int stat_threshold = 0;     // "vm stats threshold"
};

struct NodeStats {
  int nid = 0;
  bool has_memory = false;  // N_MEMORY
  std::vector<int> cpus;
  std::vector<ZoneStats> zones;     // every zone of the layout, in zone_idx order
  uint64_t totalreserve_pages = 0;  // pgdat->totalreserve_pages
};

struct MachineStats {
  Arch arch = Arch::kX86_64;
  int nr_cpus = 0;
  unsigned pageblock_order = kPageblockOrder;
  bool thp_configured = true;    // CONFIG_TRANSPARENT_HUGEPAGE
  bool thp_enabled = false;      // hugepage_pmd_enabled()
  std::vector<NodeStats> nodes;  // online nodes, by id
  uint64_t totalram_pages = 0;   // sum of managed
  uint64_t totalreserve_pages = 0;
  uint64_t pgfree = 0;
  uint64_t extfrag_claims = 0;  // mm_page_alloc_extfrag with change_ownership=1
  uint64_t extfrag_steals = 0;
  // migrate_pages() (memory offline): PGMIGRATE_SUCCESS/FAIL in pages,
  // THP_MIGRATION_SUCCESS/FAIL in folios of pageblock order or more.
  uint64_t pgmigrate_success = 0;
  uint64_t pgmigrate_fail = 0;
  uint64_t thp_migration_success = 0;
  uint64_t thp_migration_fail = 0;
  uint64_t nr_memmap_pages = 0;  // not modelled: memd's memmap is not in emulated memory
  // nr_memmap_boot_pages: the struct pages the kernel allocated at boot
  // (sparse_init_nid: 512 pages per present section on x86_64;
  // alloc_node_mem_map on i386's FLATMEM).
  uint64_t nr_memmap_boot_pages = 0;
  // memblock.memory regions in pfns, ascending (for_each_mem_pfn_range), and
  // max_low_pfn: what init_mem_mapping() maps, for meminfo's DirectMap lines.
  std::vector<std::pair<Pfn, Pfn>> memblock_memory;
  uint64_t max_low_pfn = 0;
  // X86_FEATURE_GBPAGES: the emulated x86_64 CPU has 1 GiB pages
  // (machine.gbpages; like the host-6.18 reference, unlike qemu's default
  // CPU), which gives the 1 GiB hstate; direct_gbpages: the direct mapping
  // uses them (not with nogbpages), which gives meminfo's DirectMap1G line.
  bool cpu_gbpages = false;
  bool direct_gbpages = false;
  int min_free_kbytes = 0;
  int watermark_scale_factor = 0;
  int watermark_boost_factor = 0;
  int percpu_pagelist_high_fraction = 0;
  std::vector<int> lowmem_reserve_ratio;
};

}  // namespace memd
