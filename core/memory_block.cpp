#include "core/memory_block.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace memd {

uint64_t probe_memory_block_size(Pfn max_pfn) {
  const uint64_t boot_mem_end = max_pfn << kPageShift;
  if (boot_mem_end < kMemSizeForLargeBlock) {
    return kMinMemoryBlockSize;
  }
  // memory_block_advised_max_size() is 0 (no driver advised one), and memd's
  // machine is a guest: "Find the largest allowed block size that aligns to
  // memory end".
  uint64_t bz = kMaxMemoryBlockSize;
  for (; bz > kMinMemoryBlockSize; bz >>= 1) {
    if (boot_mem_end % bz == 0) {
      break;
    }
  }
  return bz;
}

// memory_dev_init(): a block for every block-sized range with a present
// section (for_each_present_section_nr), online; then the node links of
// register_memory_blocks_under_nodes(), region by region in address order.
MemoryBlocks MemoryBlocks::memory_dev_init(const Layout& layout) {
  MemoryBlocks m;
  if (layout.arch.arch != Arch::kX86_64 || layout.memory.empty()) {
    return m;
  }
  m.block_size_bytes_ = probe_memory_block_size(layout.memory.back().end);
  const uint64_t sections_per_block = m.block_size_bytes_ / kMinMemoryBlockSize;
  for (size_t nr = 0; nr < layout.section_present.size(); ++nr) {
    const uint64_t id = nr / sections_per_block;
    if (layout.section_present[nr] != 0 && (m.blocks_.empty() || m.blocks_.back().id != id)) {
      m.blocks_.push_back({id, MemoryBlockState::kOnline, -1, {}, std::nullopt});
    }
  }
  for (const MemRegion& r : layout.memory) {
    const uint64_t first = (r.start << kPageShift) / m.block_size_bytes_;
    const uint64_t last = ((r.end << kPageShift) - 1) / m.block_size_bytes_;
    for (uint64_t id = first; id <= last; ++id) {
      if (MemoryBlock* block = m.find(id)) {
        m.add_nid_early(block, r.nid, layout);
      }
    }
  }
  return m;
}

// memory_block_add_nid_early() and do_register_memory_block_under_node():
// the first node sets the zone, a second one clears it; the link is made
// once per node (sysfs_create_link_nowarn's -EEXIST).
void MemoryBlocks::add_nid_early(MemoryBlock* block, int nid, const Layout& layout) const {
  if (block->nid != nid) {
    if (block->nid == -1) {
      block->zone = early_node_zone_for_range(layout.nodes[static_cast<size_t>(nid)].zones,
                                              start_pfn(*block), pages_per_block());
    } else {
      block->zone = std::nullopt;
    }
    block->nid = nid;
  }
  if (std::find(block->nodes.begin(), block->nodes.end(), nid) == block->nodes.end()) {
    block->nodes.push_back(nid);
  }
}

const MemoryBlock* MemoryBlocks::find(uint64_t id) const {
  auto it = std::lower_bound(blocks_.begin(), blocks_.end(), id,
                             [](const MemoryBlock& b, uint64_t v) { return b.id < v; });
  return it != blocks_.end() && it->id == id ? &*it : nullptr;
}

MemoryBlock* MemoryBlocks::find(uint64_t id) {
  return const_cast<MemoryBlock*>(std::as_const(*this).find(id));
}

bool zone_intersects(const ZoneSpan& zone, Pfn start, uint64_t nr_pages) {
  if (zone.spanned == 0) {
    return false;
  }
  return start < zone.end() && start + nr_pages > zone.start;
}

std::optional<unsigned> early_node_zone_for_range(const std::vector<ZoneSpan>& node_zones,
                                                  Pfn start, uint64_t nr_pages) {
  std::optional<unsigned> matching;
  for (unsigned i = 0; i < node_zones.size(); ++i) {
    const ZoneSpan& zone = node_zones[i];
    if (zone.present == 0 || !zone_intersects(zone, start, nr_pages)) {
      continue;
    }
    if (matching) {
      return std::nullopt;  // spans multiple zones
    }
    matching = i;
  }
  return matching;
}

namespace {

// default_kernel_zone_for_pfn(): the first zone below ZONE_NORMAL whose span
// meets the range, else ZONE_NORMAL.
unsigned default_kernel_zone_for_pfn(const ArchLayout& arch,
                                     const std::vector<ZoneSpan>& node_zones, Pfn start,
                                     uint64_t nr_pages) {
  const unsigned normal = arch.normal_idx();
  for (unsigned zid = 0; zid < normal; ++zid) {
    if (zone_intersects(node_zones[zid], start, nr_pages)) {
      return zid;
    }
  }
  return normal;
}

// default_zone_for_pfn() with movable_node_enabled false: the kernel zone or
// ZONE_MOVABLE when the range meets exactly one of them, else the kernel zone.
unsigned default_zone_for_pfn(const ArchLayout& arch, const std::vector<ZoneSpan>& node_zones,
                              Pfn start, uint64_t nr_pages) {
  const unsigned kernel = default_kernel_zone_for_pfn(arch, node_zones, start, nr_pages);
  const unsigned movable = arch.movable_idx();
  const bool in_kernel = zone_intersects(node_zones[kernel], start, nr_pages);
  const bool in_movable = zone_intersects(node_zones[movable], start, nr_pages);
  if (in_kernel != in_movable) {
    return in_kernel ? kernel : movable;
  }
  return kernel;
}

// valid_zones_show(): an online block's zone ("none" over several), an
// offline block's default zone then the online_kernel and online_movable
// zones that differ from it (print_allowed_zone).
std::string valid_zones_text(const MemoryBlocks& blocks, const MemoryBlock& block,
                             const ArchLayout& arch, const std::vector<ZoneSpan>& node_zones) {
  if (block.state == MemoryBlockState::kOnline) {
    return fmt::format("{}\n", block.zone ? zone_kind_name(arch.zones[*block.zone]) : "none");
  }
  const Pfn start = blocks.start_pfn(block);
  const uint64_t nr = blocks.pages_per_block();
  const unsigned def = zone_for_pfn_range(OnlineType::kOnline, arch, node_zones, start, nr);
  std::string text(zone_kind_name(arch.zones[def]));
  for (OnlineType type : {OnlineType::kOnlineKernel, OnlineType::kOnlineMovable}) {
    const unsigned zone = zone_for_pfn_range(type, arch, node_zones, start, nr);
    if (zone != def) {
      text += fmt::format(" {}", zone_kind_name(arch.zones[zone]));
    }
  }
  return text + "\n";
}

std::string_view state_text(MemoryBlockState state) {
  switch (state) {
    case MemoryBlockState::kOnline:
      return "online";
    case MemoryBlockState::kGoingOffline:
      return "going-offline";
    case MemoryBlockState::kOffline:
      return "offline";
  }
  return "";
}

}  // namespace

unsigned zone_for_pfn_range(OnlineType type, const ArchLayout& arch,
                            const std::vector<ZoneSpan>& node_zones, Pfn start, uint64_t nr_pages) {
  switch (type) {
    case OnlineType::kOnlineKernel:
      return default_kernel_zone_for_pfn(arch, node_zones, start, nr_pages);
    case OnlineType::kOnlineMovable:
      return arch.movable_idx();
    case OnlineType::kOnline:
      break;
  }
  return default_zone_for_pfn(arch, node_zones, start, nr_pages);
}

std::string render_block_size_bytes(const MemoryBlocks& blocks) {
  return fmt::format("{:x}\n", blocks.block_size_bytes());
}

std::string render_memory_block_file(MemoryBlockFile file, const MemoryBlocks& blocks,
                                     const MemoryBlock& block, const ArchLayout& arch,
                                     const std::vector<ZoneSpan>& node_zones) {
  switch (file) {
    case MemoryBlockFile::kPhysIndex:
      return fmt::format("{:08x}\n", block.id);
    case MemoryBlockFile::kState:
      return fmt::format("{}\n", state_text(block.state));
    case MemoryBlockFile::kPhysDevice:  // arch_get_memory_phys_device(): 0 but on s390
      return "0\n";
    case MemoryBlockFile::kRemovable:  // IS_ENABLED(CONFIG_MEMORY_HOTREMOVE)
      return "1\n";
    case MemoryBlockFile::kValidZones:
      return valid_zones_text(blocks, block, arch, node_zones);
    case MemoryBlockFile::kOnline:  // online_show(): !dev->offline
      return block.state == MemoryBlockState::kOffline ? "0\n" : "1\n";
  }
  return "";
}

std::string memory_block_node_link_target(int nid) {
  return fmt::format("../../node/node{}", nid);
}

}  // namespace memd
