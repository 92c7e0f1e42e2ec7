// The machine's memory blocks, as drivers/base/memory.c keeps them and shows
// them in /sys/devices/system/memory: the block size of the x86 rule
// (arch/x86/mm/init_64.c probe_memory_block_size), one block per block-sized
// range with a present section (memory_dev_init), each block's node(s) from
// the memblock regions (drivers/base/node.c register_memory_blocks_under_nodes,
// memory_block_add_nid_early), its state and, while online, its zone (the
// kernel's mem->zone: early_node_zone_for_memory_block), and the text of
// each of its files (phys_index_show, state_show, removable_show,
// phys_device_show, valid_zones_show with zone_for_pfn_range of
// mm/memory_hotplug.c, and the device core's online_show).
//
// A block's state and zone are data, not derived from the layout: offlining
// and onlining change them (and the zones' spans, which valid_zones of an
// offline block reads as they are at the time), so the files always print
// the current state. x86_64 only: the i386 kernel has no memory hotplug
// (ARCH_ENABLE_MEMORY_HOTPLUG if X86_64), so it has no blocks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/layout.h"
#include "core/types.h"

namespace memd {

// drivers/base/memory.c: MIN_MEMORY_BLOCK_SIZE is one section (128 MiB on
// x86_64); arch/x86/mm/init_64.c: MAX_BLOCK_SIZE 2 GiB, large blocks from
// MEM_SIZE_FOR_LARGE_BLOCK (64 GiB) of RAM.
inline constexpr uint64_t kMinMemoryBlockSize = kPagesPerSection << kPageShift;
inline constexpr uint64_t kMaxMemoryBlockSize = 2ULL << 30;
inline constexpr uint64_t kMemSizeForLargeBlock = 64ULL << 30;

// probe_memory_block_size() on x86_64 as a guest sees it (X86_FEATURE_HYPERVISOR
// set, no memory_block_advised_max_size(), no UV platform): 128 MiB when RAM
// ends below 64 GiB, else the largest power of two <= 2 GiB that divides the
// end of RAM (max_pfn << PAGE_SHIFT), at least 128 MiB.
uint64_t probe_memory_block_size(Pfn max_pfn);

// enum mem_state's values that a block shows (MEM_GOING_OFFLINE while an
// offline runs).
enum class MemoryBlockState : uint8_t { kOnline, kGoingOffline, kOffline };

// The kernel's online types (MMOP_*) for zone_for_pfn_range().
enum class OnlineType : uint8_t { kOnline, kOnlineKernel, kOnlineMovable };

struct MemoryBlock {
  uint64_t id = 0;  // memory_block_id(): memoryN's N, and phys_index
  MemoryBlockState state = MemoryBlockState::kOnline;
  // mem->nid: NUMA_NO_NODE (-1) until a memblock region names a node; for a
  // block over several nodes, the last one registered.
  int nid = -1;
  // The nodes the block is linked under (memoryN/nodeK), in the order the
  // links were made.
  std::vector<int> nodes;
  // mem->zone: zone_idx (within node nid) of the one zone an online block is
  // in; nullopt when it spans several zones or nodes (then it cannot be
  // offlined, and valid_zones prints "none"), and while offline.
  std::optional<unsigned> zone;
};

// The files of a memoryN directory, in the order of memory_memblk_attrs[]
// (then the device core's `online`); the node links are listed by the block.
enum class MemoryBlockFile : uint8_t {
  kPhysIndex,
  kState,
  kPhysDevice,
  kRemovable,
  kValidZones,
  kOnline,
};
inline constexpr MemoryBlockFile kMemoryBlockFiles[] = {
    MemoryBlockFile::kPhysIndex, MemoryBlockFile::kState,      MemoryBlockFile::kPhysDevice,
    MemoryBlockFile::kRemovable, MemoryBlockFile::kValidZones, MemoryBlockFile::kOnline};
constexpr std::string_view memory_block_file_name(MemoryBlockFile file) {
  switch (file) {
    case MemoryBlockFile::kPhysIndex:
      return "phys_index";
    case MemoryBlockFile::kState:
      return "state";
    case MemoryBlockFile::kPhysDevice:
      return "phys_device";
    case MemoryBlockFile::kRemovable:
      return "removable";
    case MemoryBlockFile::kValidZones:
      return "valid_zones";
    case MemoryBlockFile::kOnline:
      return "online";
  }
  return "";
}

class MemoryBlocks {
 public:
  MemoryBlocks() = default;
  // memory_dev_init() and register_memory_blocks_under_nodes() for a booted
  // layout: every block online, its node(s) and zone set; none on i386.
  static MemoryBlocks memory_dev_init(const Layout& layout);

  uint64_t block_size_bytes() const { return block_size_bytes_; }
  uint64_t pages_per_block() const { return block_size_bytes_ >> kPageShift; }
  // Ascending by id; ids skip blocks without a present section.
  const std::vector<MemoryBlock>& blocks() const { return blocks_; }
  // The same blocks, for restoring their states (the ids stay).
  std::vector<MemoryBlock>& mutable_blocks() { return blocks_; }
  const MemoryBlock* find(uint64_t id) const;
  MemoryBlock* find(uint64_t id);
  Pfn start_pfn(const MemoryBlock& block) const { return block.id * pages_per_block(); }

  bool operator==(const MemoryBlocks&) const = default;

 private:
  void add_nid_early(MemoryBlock* block, int nid, const Layout& layout) const;

  uint64_t block_size_bytes_ = 0;
  std::vector<MemoryBlock> blocks_;
};

// zone_intersects(): the zone spans pfns and [start, start + nr_pages) meets its span.
bool zone_intersects(const ZoneSpan& zone, Pfn start, uint64_t nr_pages);

// early_node_zone_for_memory_block(): the one populated zone of the node
// (its zones as they are, by zone_idx) whose span meets the range, or
// nullopt if none or several do.
std::optional<unsigned> early_node_zone_for_range(const std::vector<ZoneSpan>& node_zones,
                                                  Pfn start, uint64_t nr_pages);

// zone_for_pfn_range() with the default online policy (contig-zones) and
// movable_node off: the zone_idx a block onlined with `type` would join.
unsigned zone_for_pfn_range(OnlineType type, const ArchLayout& arch,
                            const std::vector<ZoneSpan>& node_zones, Pfn start, uint64_t nr_pages);

// block_size_bytes_show(): "%lx\n".
std::string render_block_size_bytes(const MemoryBlocks& blocks);

// One file of a block, as the kernel prints it. `node_zones` are the zones
// of the block's node as they are now (valid_zones of an offline block reads
// their spans).
std::string render_memory_block_file(MemoryBlockFile file, const MemoryBlocks& blocks,
                                     const MemoryBlock& block, const ArchLayout& arch,
                                     const std::vector<ZoneSpan>& node_zones);

// The target of a block's node link, as sysfs shows it (memoryN/nodeK ->
// ../../node/nodeK).
std::string memory_block_node_link_target(int nid);

}  // namespace memd
