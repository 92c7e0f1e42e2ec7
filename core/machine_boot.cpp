// Booting a machine (mm/mm_init.c, mm/page_alloc.c): the zones and the
// memmap, the zonelists, boot-time freeing of memblock memory, the pagesets,
// then the initcalls that set the watermarks and the command line's sysctls.
#include "core/machine.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <limits>

#include "core/boot_log.h"
#include "core/id_index.h"
#include "core/kernel_math.h"

namespace memd {

Machine::Machine(MachineConfig config, Layout layout)
    : config_(std::move(config)),
      layout_(std::move(layout)),
      trace_(std::make_unique<TraceBuffer>(layout_.nr_cpus)),
      ids_(std::make_unique<IdIndex>(&ctx_.frames)) {}

void Machine::set_trace_events(uint32_t mask) {
  trace_->set_mask(mask & kAllKmemEvents);
  ctx_.tracer = trace_->mask() ? trace_.get() : nullptr;
}

Machine::~Machine() = default;

Result<std::unique_ptr<Machine>> Machine::boot(const MachineConfig& config) {
  auto params = parse_kernel_cmdline(config.cmdline);
  if (!params) return make_error("machine.cmdline: " + params.error().message);
  auto layout = compute_layout(config, *params);
  if (!layout) return layout.error();
  std::unique_ptr<Machine> m(new Machine(config, std::move(*layout)));
  if (auto st = m->init(*params); !st) return st.error();
  return m;
}

// The boot sequence, in the kernel's order: free_area_init() (zones, memmap),
// build_all_zonelists(), memblock_free_all(), setup_per_cpu_pageset(), the
// initcalls (init_per_zone_wmark_min, hugepage_init), then the sysctl.vm.*
// command-line parameters, which the kernel applies after boot.
Status Machine::init(const KernelParams& params) {
  warnings_ = layout_.warnings;
  for (const std::string& p : params.ignored) {
    warnings_.push_back("kernel parameter '" + p + "' is not modelled by memd and is ignored");
  }
  const ArchLayout& arch = layout_.arch;
  ctx_.thp_configured = config_.thp;
  // probe_page_size_mask() (arch/x86/mm/init.c): 1 GiB pages in the direct
  // mapping when the CPU has them and no nogbpages said otherwise.
  direct_gbpages_ = arch.arch == Arch::kX86_64 && config_.gbpages && params.direct_gbpages;
  ctx_.movable_idx = arch.movable_idx();
  dma32_idx_ = arch.index_of(ZoneKind::kDma32);
  if (arch.arch == Arch::kX86_64) {
    lowmem_reserve_ratio_ = {256, 256, 32, 0, 0};
  } else {
    lowmem_reserve_ratio_ = {256, 32, 0, 0};
  }
  print_setup_arch(layout_, config_, &log_);
  print_initmem_init(layout_, &log_);
  print_free_area_init(layout_, &log_);
  if (auto st = free_area_init_core(); !st) return st;
  init_pageblock_block_counts();
  init_memmap();
  print_kernel_command_line(config_, params, &log_);
  build_all_zonelists();
  free_boot_memory();
  setup_per_cpu_pageset();

  // init_per_zone_wmark_min() (postcore_initcall)
  calculate_min_free_kbytes();
  setup_per_zone_wmarks();
  refresh_zone_stat_thresholds();
  setup_per_zone_lowmem_reserve();

  memory_blocks_ = MemoryBlocks::memory_dev_init(layout_);  // driver_init()
  hugepage_init(params);
  return apply_cmdline_sysctls(params);
}

// free_area_init_core(): one Zone per node and zone type, global indices in
// node order; managed starts at present until boot freeing recounts it.
Status Machine::free_area_init_core() {
  const ArchLayout& arch = layout_.arch;
  ctx_.frames = FrameTable(layout_.memmap_end);
  ctx_.pageblocks = PageblockTable(ctx_.frames.end());
  ctx_.pageblock_free.assign(ctx_.pageblocks.size(), 0);
  zones_.resize(layout_.nodes.size());
  unsigned global_idx = 0;
  for (const NodeLayout& n : layout_.nodes) {
    for (unsigned z = 0; z < arch.nr_zones(); ++z) {
      auto zone = std::make_unique<Zone>();
      zone->ctx = &ctx_;
      zone->global_idx = global_idx++;
      zone->nid = n.id;
      zone->idx = z;
      zone->kind = arch.zones[z];
      zone->name = zone_kind_name(zone->kind);
      zone->start_pfn = n.zones[z].start;
      zone->spanned = n.zones[z].spanned;
      zone->present = n.zones[z].present;
      zone->managed = zone->present;
      if (zone->populated()) zone->pcp.resize(layout_.nr_cpus);
      ctx_.zones.push_back(zone.get());
      zones_[n.id].push_back(std::move(zone));
    }
  }
  nr_online_nodes_ = static_cast<int>(layout_.nodes.size());
  if (global_idx > 0xffff) return make_error("too many zones");
  set_zone_lookup();
  return {};
}

void Machine::set_zone_lookup() {
  ctx_.zone_global_idx_of = [this](Pfn pfn) -> unsigned { return pfn_zone_global_idx(pfn); };
}

// Which pageblocks each zone's "Number of blocks" row counts
// (pagetypeinfo_showblockcount_print): every 512th pfn from zone_start_pfn
// whose page is in the zone. A block straddling two zones is counted by both.
void Machine::init_pageblock_block_counts() {
  auto counted = std::make_shared<PageblockZones>();
  counted->first.assign(ctx_.pageblocks.size(), 0);
  for (Zone* zone : ctx_.zones) {
    if (!zone->populated()) continue;
    for (Pfn pfn = zone->start_pfn; pfn < zone->end_pfn(); pfn += kPageblockNrPages) {
      auto iv = layout_.zone_of(pfn);
      if (!iv || iv->nid != zone->nid || iv->zone != zone->idx) continue;
      const uint64_t block = pfn >> kPageblockOrder;
      const auto counter = static_cast<uint16_t>(zone->global_idx + 1);
      if (counted->first[block] == 0) {
        counted->first[block] = counter;
      } else {
        counted->second.emplace_back(block, counter);
      }
      zone->block_count[kUnmovable]++;  // the bitmap starts zeroed: Unmovable
    }
  }
  ctx_.pageblock_zones = std::move(counted);
}

// hugepage_init() (subsys_initcall): THP turns itself off below 512 MiB;
// otherwise khugepaged's start recomputes min_free_kbytes.
void Machine::hugepage_init(const KernelParams& params) {
  if (!ctx_.thp_configured) return;
  uint64_t totalram = 0;
  for (const Zone* z : ctx_.zones) {
    totalram += z->managed;
  }
  thp_enabled_ = params.thp != KernelParams::Thp::kNever;
  if (totalram < (512ULL << 20) >> kPageShift) {
    thp_enabled_ = false;
  } else {
    set_recommended_min_free_kbytes();
  }
}

// sysctl.vm.* from the command line, applied at the end of boot, each
// followed by what its handler recomputes.
Status Machine::apply_cmdline_sysctls(const KernelParams& params) {
  const unsigned nr_zones = layout_.arch.nr_zones();
  if (params.watermark_boost_factor) ctx_.watermark_boost_factor = *params.watermark_boost_factor;
  if (params.min_free_kbytes) {
    user_min_free_kbytes_ = min_free_kbytes_ = *params.min_free_kbytes;
    setup_per_zone_wmarks();
  }
  if (params.watermark_scale_factor) {
    watermark_scale_factor_ = *params.watermark_scale_factor;
    setup_per_zone_wmarks();
  }
  if (params.lowmem_reserve_ratio) {
    const auto& r = *params.lowmem_reserve_ratio;
    if (r.size() > nr_zones) {
      return make_error("sysctl.vm.lowmem_reserve_ratio: " + std::to_string(r.size()) +
                        " ratios given, the machine has " + std::to_string(nr_zones) + " zones");
    }
    for (size_t i = 0; i < r.size(); ++i) {
      lowmem_reserve_ratio_[i] = r[i] < 1 ? 0 : r[i];
    }
    setup_per_zone_lowmem_reserve();
  }
  if (params.percpu_pagelist_high_fraction && *params.percpu_pagelist_high_fraction) {
    percpu_pagelist_high_fraction_ = *params.percpu_pagelist_high_fraction;
    setup_per_cpu_pageset();
  }
  return {};
}

// memmap_init(): every pageblock-aligned pfn in memory starts MIGRATE_MOVABLE;
// blocks whose first pfn is a hole stay Unmovable.
void Machine::init_memmap() {
  for (const MemRegion& r : layout_.memory) {
    Pfn first = (r.start + kPageblockNrPages - 1) & ~(kPageblockNrPages - 1);
    for (Pfn pfn = first; pfn < r.end; pfn += kPageblockNrPages) {
      if (!layout_.zone_of(pfn)) continue;
      ctx_.write_pageblock(pfn, kMovable);
    }
  }
}

// find_next_best_node() + build_zonelists() (NUMA node order).
void Machine::build_zonelists(int local, std::vector<int>* node_load, bool print) {
  const int nr = nr_nodes();
  std::vector<bool> used(nr, false);
  auto has_memory = [&](int n) { return layout_.nodes[n].present() > 0; };
  auto dist = [&](int a, int b) { return layout_.nodes[a].distance[b]; };
  auto next_best = [&]() -> int {
    if (!used[local] && has_memory(local)) {
      used[local] = true;
      return local;
    }
    int best = -1;
    long min_val = std::numeric_limits<long>::max();
    for (int n = 0; n < nr; ++n) {
      if (!has_memory(n) || used[n]) continue;
      long val = dist(local, n);
      val += n < local;
      if (!layout_.nodes[n].cpus.empty()) val += 1;  // PENALTY_FOR_NODE_WITH_CPUS
      val *= kMaxNumNodes;
      val += (*node_load)[n];
      if (val < min_val) {
        min_val = val;
        best = n;
      }
    }
    if (best >= 0) used[best] = true;
    return best;
  };
  Zonelists& zl = zonelists_[local];
  zl = {};
  int prev = local;
  for (int node; (node = next_best()) >= 0;) {
    if (dist(local, node) != dist(local, prev)) (*node_load)[node] += 1;
    zl.node_order.push_back(node);
    prev = node;
  }
  auto zonerefs = [&](int nid, std::vector<unsigned>* out) {
    for (int z = static_cast<int>(layout_.arch.nr_zones()) - 1; z >= 0; --z) {
      const Zone& zone = *zones_[nid][z];
      if (zone.populated()) out->push_back(zone.global_idx);
    }
  };
  for (int n : zl.node_order) {
    zonerefs(n, &zl.fallback);
  }
  zonerefs(local, &zl.nofallback);
  if (numa_configured() && print) {
    std::string line = fmt::format("Fallback order for Node {}: ", local);
    for (int n : zl.node_order) {
      line += fmt::format("{} ", n);
    }
    log_.printk(PrintkLevel::kInfo, line);
  }
  for (unsigned z = 0; z < kMaxNrZones; ++z) {
    auto f = first_zone(zl.fallback, z);
    auto nf = first_zone(zl.nofallback, z);
    zl.first_fallback[z] = f ? static_cast<int>(*f) : -1;
    zl.first_nofallback[z] = nf ? static_cast<int>(*nf) : -1;
  }
}

// build_all_zonelists(): zonelists, then the mobility grouping switch, computed
// while managed == present and the watermarks are still 0.
void Machine::build_all_zonelists(bool print) {
  zonelists_.assign(nr_nodes(), {});
  std::vector<int> node_load(nr_nodes(), 0);
  for (int nid = 0; nid < nr_nodes(); ++nid) {
    build_zonelists(nid, &node_load, print);
  }
  const unsigned movable_zone =
      static_cast<unsigned>(gfp_zone(gfp::kHighuserMovable, layout_.arch.arch));
  uint64_t vm_total_pages = nr_free_zone_pages(movable_zone);
  ctx_.mobility_disabled = vm_total_pages < kPageblockNrPages * kMigrateTypes;
  if (!print) return;
  log_.printk(PrintkLevel::kInfo,
              fmt::format("Built {} zonelists, mobility grouping {}.  Total pages: {}",
                          nr_online_nodes_, ctx_.mobility_disabled ? "off" : "on", vm_total_pages));
  if (numa_configured()) {
    log_.printk(PrintkLevel::kInfo, fmt::format("Policy zone: {}", zone_kind_name(policy_zone())));
  }
}

// check_highest_zone() over every populated zone: the highest zone type
// below ZONE_MOVABLE that has memory.
ZoneKind Machine::policy_zone() const {
  unsigned policy = 0;
  for (const Zone* z : ctx_.zones) {
    if (z->populated() && z->kind != ZoneKind::kMovable) policy = std::max(policy, z->idx);
  }
  return layout_.arch.zones[policy];
}

// memblock_free_all() -> __free_pages_memory(): ascending, largest aligned
// chunks, each freed with FPI_TO_TAIL through __free_pages_core().
void Machine::free_boot_memory() {
  for (Zone* z : ctx_.zones) {
    z->managed = 0;
  }
  for (auto [start, end] : layout_.free_ranges) {
    while (start < end) {
      unsigned order =
          start ? std::min<unsigned>(kMaxPageOrder, std::countr_zero(start)) : kMaxPageOrder;
      while (start + (1ULL << order) > end) {
        order--;
      }
      auto iv = layout_.zone_of(start);
      Zone* zone = zones_[iv->nid][iv->zone].get();
      zone->managed += 1ULL << order;
      zone->free_one_page(start, order, /*to_tail=*/true);
      start += 1ULL << order;
    }
  }
}

// setup_per_cpu_pageset(): the pcp values from zone_set_pageset_high_and_batch.
void Machine::setup_per_cpu_pageset() {
  for (Zone* z : ctx_.zones) {
    if (z->populated()) zone_pcp_update(z);
  }
}

// refresh_zone_stat_thresholds() with calculate_normal_threshold().
void Machine::refresh_zone_stat_thresholds() {
  for (Zone* z : ctx_.zones) {
    if (!z->populated()) continue;
    uint64_t mem = z->managed >> (27 - kPageShift);
    int threshold = 2 * fls(static_cast<uint64_t>(nr_cpus())) * (1 + fls(mem));
    z->stat_threshold = std::min(125, threshold);
  }
}

}  // namespace memd
