// The machine's memory layout as Linux computes it at boot: memblock memory
// and reservations from the firmware map, NUMA node ranges, the arch zone
// ranges, ZONE_MOVABLE placement, zone spans and present pages, and which
// zone every pfn with a memmap belongs to.
//
// compute_layout() runs, in the kernel's order, one function per kernel step
// (core/layout.cpp, each named after its twin): e820__memory_setup,
// e820__update_table, e820__end_of_ram_pfn, trim_bios_range, highmem_pfn_init
// (arch/x86/kernel/e820.c, setup.c, mm/init_32.c); e820__memblock_setup and
// memblock_reserve; init_cpu_to_node, numa_set_distance,
// get_pfn_range_for_nid; zone_sizes_init (arch/x86/mm/init.c); and from
// mm/mm_init.c free_area_init's zone limits, early_calculate_totalpages,
// find_usable_zone_for_movable, find_zone_movable_pfns_for_nodes,
// adjust_zone_range_for_zone_movable, zone_spanned_pages_in_node,
// zone_absent_pages_in_node, calculate_node_totalpages, memblocks_present
// (mm/sparse.c) and memmap_init. The direct map is core/direct_map.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/e820.h"
#include "core/result.h"
#include "core/types.h"

namespace memd {

// The zone types of an architecture layout, indexed by zone_idx.
struct ArchLayout {
  Arch arch = Arch::kX86_64;
  std::vector<ZoneKind> zones;  // enum zone_type order
  unsigned nr_zones() const { return static_cast<unsigned>(zones.size()); }
  int index_of(ZoneKind kind) const;  // -1 if the layout has no such zone
  bool is_highmem(unsigned idx) const { return zones[idx] == ZoneKind::kHighMem; }
  unsigned movable_idx() const { return static_cast<unsigned>(index_of(ZoneKind::kMovable)); }
  unsigned normal_idx() const { return static_cast<unsigned>(index_of(ZoneKind::kNormal)); }

  static ArchLayout for_arch(Arch arch);
};

// A memblock.memory region, in pfns [start, end) (PFN_UP/PFN_DOWN of the bytes).
struct MemRegion {
  Pfn start = 0;
  Pfn end = 0;
  int nid = 0;
  bool mirror = false;
};

struct ZoneSpan {
  Pfn start = 0;  // zone_start_pfn (0 when spanned is 0)
  uint64_t spanned = 0;
  uint64_t present = 0;
  Pfn end() const { return start + spanned; }
};

struct NodeLayout {
  int id = 0;
  Pfn start = 0;  // node_start_pfn
  Pfn end = 0;
  std::vector<ZoneSpan> zones;  // one per zone index
  std::vector<int> cpus;        // cpumask_of_node(): a CPU may be in several nodes
  std::vector<int> distance;    // to every node
  bool has_memory() const { return end > start; }
  uint64_t present() const;
  uint64_t spanned() const;
};

// Which zone a pfn's struct page belongs to (page_zone), for pfns in
// memory and in holes that have a memmap.
struct PfnInterval {
  Pfn start = 0;
  Pfn end = 0;
  int nid = 0;
  unsigned zone = 0;
};

// A hole in memory whose pfns have a memmap, given to a zone by memmap_init()
// (init_unavailable_range: "On node N, zone Z: K pages in unavailable ranges").
struct UnavailableRange {
  int nid = 0;
  unsigned zone = 0;
  uint64_t pages = 0;  // pfns with a memmap (pfn_valid) in the hole
};

struct Layout {
  ArchLayout arch;
  std::vector<e820::Range> e820;    // the firmware's map, sanitised (e820__update_table)
  std::vector<MemRegion> memory;    // sorted by address, split at node boundaries
  std::vector<PhysRange> reserved;  // memblock.reserved, bytes, sorted and merged
  std::vector<std::pair<Pfn, Pfn>> free_ranges;  // memory minus reserved, in pfns, ascending
  std::vector<Pfn> arch_zone_lowest;             // per zone index
  std::vector<Pfn> arch_zone_highest;
  int movable_zone = 0;               // the zone ZONE_MOVABLE is carved from
  std::vector<Pfn> zone_movable_pfn;  // per node, 0 when none
  std::vector<NodeLayout> nodes;
  std::vector<PfnInterval> memmap;            // sorted, non-overlapping
  std::vector<UnavailableRange> unavailable;  // in memmap_init()'s order, empty ones left out
  Pfn memmap_end = 0;                         // frames exist for pfns below this
  uint64_t totalpages = 0;                    // early_calculate_totalpages()
  int nr_cpus = 0;
  std::vector<int> cpu_node;  // cpu -> home node (cpu_to_node)
  bool mirrored_kernelcore = false;
  bool slit_ignored = false;  // the configured distances fail slit_valid()
  std::vector<std::string> warnings;

  // The zone a pfn's page belongs to, or nullopt where there is no memmap.
  std::optional<PfnInterval> zone_of(Pfn pfn) const;
  // pfn_to_online_page() != NULL: the pfn's section has a memmap.
  bool pfn_online(Pfn pfn) const;
  std::vector<uint8_t> section_present;  // per section (x86_64); unused on i386 (flatmem)
};

// Builds the layout the kernel would compute for this configuration.
Result<Layout> compute_layout(const MachineConfig& cfg, const KernelParams& params);

// The e820 map qemu's pc machine gives a guest with `bytes` of RAM (§15.1).
std::vector<E820Entry> qemu_pc_e820(uint64_t bytes);

// The smallest RAM size (machine.size, --size, the nodes' sizes) memd can
// boot, 1156 KiB: qemu's pc machine gives usable RAM below 640 KiB and in
// [1 MiB, size - 128 KiB) (qemu_pc_e820); the kernel reserves all of the
// first MiB (reserve_real_mode(), arch/x86/realmode/init.c), so the buddy
// allocator gets a page only when size - 128 KiB reaches 1 MiB + 4 KiB.
inline constexpr uint64_t kSmallestMachineSize = (1ULL << 20) + (128ULL << 10) + (4ULL << 10);
// "the smallest machine memd can boot is 1156 KiB (...why...)", for errors
// that name the size's key first.
std::string smallest_machine_error();

}  // namespace memd
