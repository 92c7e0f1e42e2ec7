// The counters the kernel's files are rendered from (MachineStats): a
// snapshot of every zone, node and global counter, read without walking
// frames, so that rendering under the daemon's lock stays cheap.
#include "core/machine.h"

#include <algorithm>

namespace memd {
namespace {

// One zone's counters: /proc/zoneinfo, buddyinfo, pagetypeinfo, vmstat.
ZoneStats zone_stats(const Zone& z, unsigned nr_zones) {
  ZoneStats zs;
  zs.nid = z.nid;
  zs.idx = z.idx;
  zs.global_idx = z.global_idx;
  zs.kind = z.kind;
  zs.name = std::string(z.name);
  zs.populated = z.populated();
  zs.start_pfn = z.start_pfn;
  zs.spanned = z.spanned;
  zs.present = z.present;
  zs.managed = z.managed;
  zs.free_pages = static_cast<uint64_t>(z.nr_free_pages);
  zs.free_pages_blocks = static_cast<uint64_t>(z.nr_free_pages_blocks);
  zs.boost = z.watermark_boost;
  zs.watermark = z.watermark;
  zs.lowmem_reserve.assign(z.lowmem_reserve.begin(), z.lowmem_reserve.begin() + nr_zones);
  for (unsigned o = 0; o < kNrPageOrders; ++o) {
    zs.nr_free[o] = z.free_area[o].nr_free;
    zs.nr_free_by_type[o] = z.free_area[o].nr;
  }
  zs.block_count = z.block_count;
  zs.numa = z.numa;
  zs.pgalloc = z.pgalloc;
  zs.nr_reserved_highatomic = z.nr_reserved_highatomic;
  zs.nr_free_highatomic = static_cast<uint64_t>(z.nr_free_highatomic);
  for (const PerCpuPages& p : z.pcp) {
    zs.pcp.push_back({p.count, p.high, p.batch, p.high_min, p.high_max});
  }
  zs.stat_threshold = z.stat_threshold;
  return zs;
}

// The struct pages the kernel allocates at boot, for nr_memmap_boot_pages.
uint64_t nr_memmap_boot_pages(const Layout& layout) {
  uint64_t pages = 0;
  if (layout.arch.arch == Arch::kX86_64) {
    // sparse_init_nid(): PAGES_PER_SECTION * sizeof(struct page) (64) per present section.
    for (uint8_t present : layout.section_present) {
      pages += present ? 512 : 0;
    }
    return pages;
  }
  // alloc_node_mem_map(): the node span widened to MAX_ORDER_NR_PAGES, 32-byte struct pages.
  for (const NodeLayout& n : layout.nodes) {
    if (!n.has_memory()) continue;
    const Pfn start = n.start & ~(kMaxOrderNrPages - 1);
    const Pfn end = (n.end + kMaxOrderNrPages - 1) & ~(kMaxOrderNrPages - 1);
    pages += ((end - start) * 32 + kPageSize - 1) / kPageSize;
  }
  return pages;
}

}  // namespace

// A node's counters; adds its managed pages to totalram_pages.
NodeStats Machine::node_stats(int nid, uint64_t* totalram_pages) const {
  NodeStats ns;
  ns.nid = nid;
  ns.has_memory = layout_.nodes[nid].present() > 0;
  ns.cpus = layout_.nodes[nid].cpus;
  for (const auto& z : zones_[nid]) {
    ns.zones.push_back(zone_stats(*z, layout_.arch.nr_zones()));
    *totalram_pages += z->managed;
  }
  ns.totalreserve_pages = node_totalreserve_pages(zones_[nid]);
  return ns;
}

PageblockSnapshot Machine::pageblock_snapshot() const {
  PageblockSnapshot s;
  s.pageblock_order = kPageblockOrder;
  s.zones = ctx_.pageblock_zones;
  s.raw = ctx_.pageblocks.bits();
  s.free = ctx_.pageblock_free;
  return s;
}

MachineStats Machine::stats() const {
  MachineStats s;
  s.arch = layout_.arch.arch;
  s.nr_cpus = nr_cpus();
  s.thp_configured = ctx_.thp_configured;
  s.thp_enabled = thp_enabled_;
  s.pgfree = ctx_.pgfree;
  s.extfrag_claims = ctx_.extfrag_claims;
  s.extfrag_steals = ctx_.extfrag_steals;
  s.pgmigrate_success = pgmigrate_success_;
  s.pgmigrate_fail = pgmigrate_fail_;
  s.thp_migration_success = thp_migration_success_;
  s.thp_migration_fail = thp_migration_fail_;
  s.totalreserve_pages = totalreserve_pages_;
  s.min_free_kbytes = min_free_kbytes_;
  s.watermark_scale_factor = watermark_scale_factor_;
  s.watermark_boost_factor = ctx_.watermark_boost_factor;
  s.percpu_pagelist_high_fraction = percpu_pagelist_high_fraction_;
  s.lowmem_reserve_ratio = lowmem_reserve_ratio_;
  // What meminfo's DirectMap lines and nr_memmap_boot_pages derive from.
  for (const MemRegion& r : layout_.memory) {
    s.memblock_memory.emplace_back(r.start, r.end);
  }
  s.max_low_pfn = layout_.arch_zone_highest[layout_.arch.normal_idx()];
  s.cpu_gbpages = layout_.arch.arch == Arch::kX86_64 && config_.gbpages;
  s.direct_gbpages = direct_gbpages_;
  s.nr_memmap_boot_pages = nr_memmap_boot_pages(layout_);
  for (int nid = 0; nid < nr_nodes(); ++nid) {
    s.nodes.push_back(node_stats(nid, &s.totalram_pages));
  }
  return s;
}

}  // namespace memd
