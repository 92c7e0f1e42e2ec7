#include "core/machine.h"

#include "core/id_index.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace memd {

namespace {

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

// int_sqrt(): floor of the square root.
uint64_t int_sqrt(uint64_t x) {
  uint64_t r = static_cast<uint64_t>(std::sqrt(static_cast<long double>(x)));
  while (r * r > x)
    --r;
  while ((r + 1) * (r + 1) <= x)
    ++r;
  return r;
}

// fls(): 1-based index of the most significant set bit, 0 for 0.
int fls(uint64_t x) {
  return x ? 64 - std::countl_zero(x) : 0;
}

uint64_t rounddown_pow_of_two(uint64_t x) {
  return x ? 1ULL << (fls(x) - 1) : 0;
}

uint64_t mult_frac(uint64_t x, uint64_t n, uint64_t d) {
  return (x / d) * n + ((x % d) * n) / d;
}

}  // namespace

// warn_alloc(): "mode:%#x(%pGg)". The kernel's %#x prints 0 as "0x0", and
// %pGg prints nothing for 0 (show_gfp_flags' "none" is the tracepoint's).
std::string alloc_failure_message(unsigned order, Gfp gfp) {
  char mode[16];
  std::snprintf(mode, sizeof mode, "0x%x", gfp);
  return "page allocation failure: order:" + std::to_string(order) + ", mode:" + mode + "(" +
         (gfp ? format_gfp(gfp) : std::string()) + "), nodemask=(null)";
}

// --- boot -----------------------------------------------------------------------------------

Machine::Machine(MachineConfig config, Layout layout)
    : config_(std::move(config)),
      layout_(std::move(layout)),
      ids_(std::make_unique<IdIndex>(&ctx_.frames)) {}

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

Status Machine::init(const KernelParams& params) {
  warnings_ = layout_.warnings;
  for (const std::string& p : params.ignored) {
    warnings_.push_back("kernel parameter '" + p + "' is not modelled by memd and is ignored");
  }
  const ArchLayout& arch = layout_.arch;
  const unsigned nr_zones = arch.nr_zones();
  ctx_.thp_configured = config_.thp;
  ctx_.movable_idx = arch.movable_idx();
  dma32_idx_ = arch.index_of(ZoneKind::kDma32);
  if (arch.arch == Arch::kX86_64) {
    lowmem_reserve_ratio_ = {256, 256, 32, 0, 0};
  } else {
    lowmem_reserve_ratio_ = {256, 32, 0, 0};
  }

  // Zones (free_area_init_core): managed starts at present until boot freeing.
  ctx_.frames = FrameTable(layout_.memmap_end);
  ctx_.pageblocks = PageblockTable(ctx_.frames.end());
  zones_.resize(layout_.nodes.size());
  unsigned gid = 0;
  for (const NodeLayout& n : layout_.nodes) {
    for (unsigned z = 0; z < nr_zones; ++z) {
      auto zone = std::make_unique<Zone>();
      zone->ctx = &ctx_;
      zone->gid = gid++;
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
  if (gid > 0xffff) return make_error("too many zones");
  ctx_.zone_gid_of = [this](Pfn pfn) -> unsigned {
    auto iv = layout_.zone_of(pfn);
    return iv ? zones_[iv->nid][iv->zone]->gid : ~0u;
  };

  // Which pageblocks each zone's "Number of blocks" row counts
  // (pagetypeinfo_showblockcount_print): every 512th pfn from zone_start_pfn.
  ctx_.pb_counted_by.assign(ctx_.pageblocks.size(), 0);
  for (Zone* zone : ctx_.zones) {
    if (!zone->populated()) continue;
    for (Pfn pfn = zone->start_pfn; pfn < zone->end_pfn(); pfn += kPageblockNrPages) {
      auto iv = layout_.zone_of(pfn);
      if (!iv || iv->nid != zone->nid || iv->zone != zone->idx) continue;
      uint64_t block = pfn >> kPageblockOrder;
      if (ctx_.pb_counted_by[block] == 0) {
        ctx_.pb_counted_by[block] = static_cast<uint16_t>(zone->gid + 1);
      } else {
        ctx_.pb_counted_extra.emplace_back(block, static_cast<uint16_t>(zone->gid + 1));
      }
      zone->block_count[kUnmovable]++;  // the bitmap starts zeroed: Unmovable
    }
  }

  init_memmap();
  build_all_zonelists();
  free_boot_memory();
  setup_per_cpu_pageset();

  // init_per_zone_wmark_min() (postcore_initcall)
  calculate_min_free_kbytes();
  setup_per_zone_wmarks();
  refresh_zone_stat_thresholds();
  setup_per_zone_lowmem_reserve();

  // hugepage_init() (subsys_initcall): THP turns itself off below 512 MiB;
  // otherwise khugepaged's start recomputes min_free_kbytes.
  if (ctx_.thp_configured) {
    uint64_t totalram = 0;
    for (const Zone* z : ctx_.zones)
      totalram += z->managed;
    thp_enabled_ = params.thp != KernelParams::Thp::kNever;
    if (totalram < (512ULL << 20) >> kPageShift) {
      thp_enabled_ = false;
    } else {
      set_recommended_min_free_kbytes();
    }
  }

  // sysctl.vm.* from the command line, applied at the end of boot.
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
    for (size_t i = 0; i < r.size(); ++i)
      lowmem_reserve_ratio_[i] = r[i] < 1 ? 0 : r[i];
    setup_per_zone_lowmem_reserve();
  }
  if (params.percpu_pagelist_high_fraction && *params.percpu_pagelist_high_fraction) {
    percpu_pagelist_high_fraction_ = *params.percpu_pagelist_high_fraction;
    for (Zone* z : ctx_.zones) {
      if (z->populated()) zone_pcp_update(z);
    }
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
void Machine::build_zonelists(int local, std::vector<int>* node_load) {
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
      if (zone.populated()) out->push_back(zone.gid);
    }
  };
  for (int n : zl.node_order)
    zonerefs(n, &zl.fallback);
  zonerefs(local, &zl.nofallback);
  for (unsigned z = 0; z < kMaxNrZones; ++z) {
    auto f = first_zone(zl.fallback, z);
    auto nf = first_zone(zl.nofallback, z);
    zl.first_fallback[z] = f ? static_cast<int>(*f) : -1;
    zl.first_nofallback[z] = nf ? static_cast<int>(*nf) : -1;
  }
}

// build_all_zonelists(): zonelists, then the mobility grouping switch, computed
// while managed == present and the watermarks are still 0.
void Machine::build_all_zonelists() {
  zonelists_.assign(nr_nodes(), {});
  std::vector<int> node_load(nr_nodes(), 0);
  for (int nid = 0; nid < nr_nodes(); ++nid)
    build_zonelists(nid, &node_load);
  const unsigned movable_zone =
      static_cast<unsigned>(gfp_zone(gfp::kHighuserMovable, layout_.arch.arch));
  uint64_t vm_total_pages = nr_free_zone_pages(movable_zone);
  ctx_.mobility_disabled = vm_total_pages < kPageblockNrPages * kMigrateTypes;
}

// memblock_free_all() -> __free_pages_memory(): ascending, largest aligned
// chunks, each freed with FPI_TO_TAIL through __free_pages_core().
void Machine::free_boot_memory() {
  for (Zone* z : ctx_.zones)
    z->managed = 0;
  for (auto [start, end] : layout_.free_ranges) {
    while (start < end) {
      unsigned order =
          start ? std::min<unsigned>(kMaxPageOrder, std::countr_zero(start)) : kMaxPageOrder;
      while (start + (1ULL << order) > end)
        order--;
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

// --- watermarks, reserves, pagesets ----------------------------------------------------------

// nr_free_zone_pages(): over the boot CPU's node's GFP_KERNEL zonelist.
uint64_t Machine::nr_free_zone_pages(unsigned offset) const {
  uint64_t sum = 0;
  for (unsigned gid : zonelists_[layout_.cpu_node[0]].fallback) {
    const Zone* z = zone_by_gid(gid);
    if (z->idx > offset) continue;
    uint64_t size = z->managed, high = z->wmark(kWmarkHigh);
    if (size > high) sum += size - high;
  }
  return sum;
}

// calculate_min_free_kbytes()
void Machine::calculate_min_free_kbytes() {
  const unsigned user_zone = static_cast<unsigned>(gfp_zone(gfp::kUser, layout_.arch.arch));
  uint64_t lowmem_kbytes = nr_free_zone_pages(user_zone) * (kPageSize >> 10);
  int new_min = static_cast<int>(int_sqrt(lowmem_kbytes * 16));
  if (new_min > user_min_free_kbytes_) min_free_kbytes_ = kclamp(new_min, 128, 262144);
}

// set_recommended_min_free_kbytes() (mm/khugepaged.c)
void Machine::set_recommended_min_free_kbytes() {
  if (!thp_enabled_) {
    calculate_min_free_kbytes();
  } else {
    const unsigned user_zone = static_cast<unsigned>(gfp_zone(gfp::kUser, layout_.arch.arch));
    uint64_t nr_zones = 0;
    for (const Zone* z : ctx_.zones) {
      if (z->populated() && z->idx <= user_zone) nr_zones++;
    }
    uint64_t recommended = kPageblockNrPages * nr_zones * 2;
    recommended += kPageblockNrPages * nr_zones * kMigratePcpTypes * kMigratePcpTypes;
    recommended = std::min(recommended, nr_free_zone_pages(user_zone) / 20);
    recommended <<= (kPageShift - 10);
    if (recommended > static_cast<uint64_t>(min_free_kbytes_))
      min_free_kbytes_ = static_cast<int>(recommended);
  }
  setup_per_zone_wmarks();
}

// setup_per_zone_wmarks() = __setup_per_zone_wmarks() + zone_pcp_update()
void Machine::setup_per_zone_wmarks() {
  const uint64_t pages_min = static_cast<uint64_t>(min_free_kbytes_) >> (kPageShift - 10);
  uint64_t lowmem_pages = 0;
  for (const Zone* z : ctx_.zones) {
    if (!layout_.arch.is_highmem(z->idx) && z->idx != ctx_.movable_idx) lowmem_pages += z->managed;
  }
  for (Zone* z : ctx_.zones) {
    uint64_t tmp = lowmem_pages ? pages_min * z->managed / lowmem_pages : 0;
    if (layout_.arch.is_highmem(z->idx) || z->idx == ctx_.movable_idx) {
      z->watermark[kWmarkMin] = kclamp<uint64_t>(z->managed / 1024, kSwapClusterMax, 128);
    } else {
      z->watermark[kWmarkMin] = tmp;
    }
    tmp = std::max(tmp >> 2, mult_frac(z->managed, watermark_scale_factor_, 10000));
    z->watermark_boost = 0;
    z->watermark[kWmarkLow] = z->watermark[kWmarkMin] + tmp;
    z->watermark[kWmarkHigh] = z->watermark[kWmarkLow] + tmp;
    z->watermark[kWmarkPromo] = z->watermark[kWmarkHigh] + tmp;
  }
  calculate_totalreserve_pages();
  for (Zone* z : ctx_.zones)
    zone_pcp_update(z);
}

// setup_per_zone_lowmem_reserve()
void Machine::setup_per_zone_lowmem_reserve() {
  const unsigned nr_zones = layout_.arch.nr_zones();
  for (auto& node : zones_) {
    for (unsigned i = 0; i + 1 < nr_zones; ++i) {
      Zone& zone = *node[i];
      const int ratio = lowmem_reserve_ratio_[i];
      const bool clear = !ratio || !zone.managed;
      uint64_t managed_pages = 0;
      for (unsigned j = i + 1; j < nr_zones; ++j) {
        managed_pages += node[j]->managed;
        zone.lowmem_reserve[j] = clear ? 0 : static_cast<int64_t>(managed_pages / ratio);
      }
    }
  }
  calculate_totalreserve_pages();
}

// calculate_totalreserve_pages()
void Machine::calculate_totalreserve_pages() {
  const unsigned nr_zones = layout_.arch.nr_zones();
  totalreserve_pages_ = 0;
  for (const Zone* z : ctx_.zones) {
    int64_t max = 0;
    for (unsigned j = z->idx; j < nr_zones; ++j)
      max = std::max(max, z->lowmem_reserve[j]);
    uint64_t m = static_cast<uint64_t>(max) + z->wmark(kWmarkHigh);
    totalreserve_pages_ += std::min(m, z->managed);
  }
}

// zone_batchsize()
int Machine::zone_batchsize(const Zone& zone) const {
  int64_t batch =
      static_cast<int64_t>(std::min<uint64_t>(zone.managed >> 10, (1 << 20) / kPageSize));
  batch /= 4;
  if (batch < 1) batch = 1;
  batch = static_cast<int64_t>(rounddown_pow_of_two(static_cast<uint64_t>(batch + batch / 2))) - 1;
  return static_cast<int>(batch);
}

// zone_highsize() (cpu_online = 0)
int Machine::zone_highsize(const Zone& zone, int batch, int fraction) const {
  uint64_t total_pages =
      fraction ? zone.managed / fraction : zone.watermark[kWmarkLow] + zone.watermark_boost;
  uint64_t nr_split_cpus = layout_.nodes[zone.nid].cpus.size();
  if (!nr_split_cpus) nr_split_cpus = nr_cpus();
  int high = static_cast<int>(total_pages / nr_split_cpus);
  return std::max(high, batch << 2);
}

// zone_pcp_update() -> zone_set_pageset_high_and_batch()
void Machine::zone_pcp_update(Zone* zone) {
  int new_batch = std::max(1, zone_batchsize(*zone));
  int new_high_min, new_high_max;
  if (percpu_pagelist_high_fraction_) {
    new_high_min = zone_highsize(*zone, new_batch, percpu_pagelist_high_fraction_);
    new_high_max = new_high_min;
  } else {
    new_high_min = zone_highsize(*zone, new_batch, 0);
    new_high_max = zone_highsize(*zone, new_batch, kMinPercpuPagelistHighFraction);
  }
  if (zone->pageset_high_min == new_high_min && zone->pageset_high_max == new_high_max &&
      zone->pageset_batch == new_batch) {
    return;
  }
  zone->pageset_high_min = new_high_min;
  zone->pageset_high_max = new_high_max;
  zone->pageset_batch = new_batch;
  for (PerCpuPages& pcp : zone->pcp) {
    pcp.batch = new_batch;
    pcp.high_min = new_high_min;
    pcp.high_max = new_high_max;
  }
}

// --- allocation -----------------------------------------------------------------------------

std::optional<size_t> Machine::first_zone(const std::vector<unsigned>& zl, unsigned highest) const {
  for (size_t i = 0; i < zl.size(); ++i) {
    if (zone_by_gid(zl[i])->idx <= highest) return i;
  }
  return std::nullopt;
}

// alloc_flags_nofragment()
unsigned Machine::alloc_flags_nofragment(const Zone* zone, Gfp gfp) const {
  unsigned alloc_flags = gfp & gfp::kKswapdReclaim;  // == ALLOC_KSWAPD
  const int dma32 = dma32_idx_;
  if (dma32 < 0) return alloc_flags;  // ALLOC_NOFRAGMENT is 0 without ZONE_DMA32
  if (!zone) return alloc_flags;
  if (zone->kind != ZoneKind::kNormal) return alloc_flags;
  if (nr_online_nodes_ > 1 && !zones_[zone->nid][dma32]->populated()) return alloc_flags;
  return alloc_flags | alloc::kNofragment;
}

// gfp_to_alloc_flags()
unsigned Machine::gfp_to_alloc_flags(Gfp gfp, unsigned order) const {
  unsigned alloc_flags = alloc::kWmarkMin | alloc::kCpuset;
  alloc_flags |= gfp & (gfp::kHigh | gfp::kKswapdReclaim);  // MIN_RESERVE, KSWAPD
  if (!(gfp & gfp::kDirectReclaim)) {
    if (!(gfp & gfp::kNomemalloc)) {
      alloc_flags |= alloc::kNonBlock;
      if (order > 0 && (alloc_flags & alloc::kMinReserve)) alloc_flags |= alloc::kHighatomic;
    }
    if (alloc_flags & alloc::kMinReserve) alloc_flags &= ~alloc::kCpuset;
  }
  return alloc_flags;
}

void Machine::zone_statistics(Zone* preferred, Zone* z, int cpu) {
  const unsigned local_stat =
      z->nid != layout_.cpu_node[cpu] ? unsigned{kNumaOther} : unsigned{kNumaLocal};
  if (z->nid == preferred->nid) {
    z->numa[kNumaHit]++;
  } else {
    z->numa[kNumaMiss]++;
    preferred->numa[kNumaForeign]++;
  }
  z->numa[local_stat]++;
}

// rmqueue_pcplist()
OptPfn Machine::rmqueue_pcplist(Zone* preferred, Zone* zone, unsigned order, unsigned mt,
                                unsigned alloc_flags, int cpu) {
  PerCpuPages* pcp = &zone->pcp[cpu];
  pcp->free_count >>= 1;
  PageList* list = &pcp->lists[zone->order_to_pindex(mt, order)];
  if (list->empty()) {
    int batch = zone->nr_pcp_alloc(pcp, order);
    int alloced = zone->rmqueue_bulk(order, batch, list, mt, alloc_flags);
    pcp->count += alloced << order;
    if (list->empty()) return std::nullopt;
  }
  Pfn pfn = ctx_.frames.pop_front(list);
  ctx_.frames[pfn].clear();
  pcp->count -= 1 << order;
  zone->pgalloc += 1ULL << order;
  zone_statistics(preferred, zone, cpu);
  return pfn;
}

// rmqueue_buddy()
OptPfn Machine::rmqueue_buddy(Zone* preferred, Zone* zone, unsigned order, unsigned alloc_flags,
                              unsigned mt, int cpu) {
  OptPfn page;
  if (alloc_flags & alloc::kHighatomic) page = zone->rmqueue_smallest(order, kHighAtomic);
  if (!page) {
    RmqueueMode mode = RmqueueMode::kNormal;
    page = zone->rmqueue(order, mt, alloc_flags, &mode);
    if (!page && (alloc_flags & (alloc::kOom | alloc::kNonBlock))) {
      page = zone->rmqueue_smallest(order, kHighAtomic);
    }
    if (!page) return std::nullopt;
  }
  zone->pgalloc += 1ULL << order;
  zone_statistics(preferred, zone, cpu);
  return page;
}

// rmqueue()
OptPfn Machine::rmqueue(Zone* preferred, Zone* zone, unsigned order, unsigned alloc_flags,
                        unsigned mt, int cpu) {
  OptPfn page;
  if (zone->pcp_allowed_order(order))
    page = rmqueue_pcplist(preferred, zone, order, mt, alloc_flags, cpu);
  if (!page) page = rmqueue_buddy(preferred, zone, order, alloc_flags, mt, cpu);
  if ((alloc_flags & alloc::kKswapd) && zone->boosted_watermark) {
    zone->boosted_watermark = false;
    wakeup_kswapd(*zone, zone->idx);
  }
  return page;
}

// What memd does where the kernel wakes kswapd (§15.3): a kswapd that finishes
// at once, dropping the boost of the node's zones up to highest_zoneidx.
void Machine::wakeup_kswapd(const Zone& zone, unsigned highest_zoneidx) {
  for (unsigned i = 0; i <= highest_zoneidx && i < layout_.arch.nr_zones(); ++i) {
    zones_[zone.nid][i]->watermark_boost = 0;
  }
}

// wake_all_kswapds()
void Machine::wake_all_kswapds(const AllocContext& ac) {
  int last_nid = -1;
  for (unsigned gid : *ac.zonelist) {
    const Zone* z = zone_by_gid(gid);
    if (z->idx > ac.highest_zoneidx) continue;
    if (!z->managed) continue;
    if (z->nid == last_nid) continue;
    wakeup_kswapd(*z, ac.highest_zoneidx);
    last_nid = z->nid;
  }
}

// get_page_from_freelist()
OptPfn Machine::get_page_from_freelist(Gfp gfp, unsigned order, unsigned alloc_flags,
                                       const AllocContext& ac, Zone** zone_out) {
  const std::vector<unsigned>& zl = *ac.zonelist;
  Zone* preferred = zone_by_gid(zl[ac.preferred]);
  for (;;) {
    const bool no_fallback = alloc_flags & alloc::kNofragment;
    bool restart = false;
    for (size_t i = ac.preferred; i < zl.size(); ++i) {
      Zone* zone = zone_by_gid(zl[i]);
      if (zone->idx > ac.highest_zoneidx) continue;
      if (no_fallback && nr_online_nodes_ > 1 && zone != preferred && zone->nid != preferred->nid) {
        // Locality beats fragmentation avoidance.
        alloc_flags &= ~alloc::kNofragment;
        restart = true;
        break;
      }
      bool try_zone = false;
      if (!zone->below_high) {
        if (zone->watermark_fast(order, zone->wmark(kWmarkHigh), ac.highest_zoneidx, alloc_flags)) {
          try_zone = true;
        } else {
          zone->below_high = true;
        }
      }
      if (!try_zone) {
        const uint64_t mark = zone->wmark(static_cast<Wmark>(alloc_flags & alloc::kWmarkMask));
        if (!zone->watermark_fast(order, mark, ac.highest_zoneidx, alloc_flags) &&
            !(alloc_flags & alloc::kNoWatermarks)) {
          continue;
        }
      }
      auto page = rmqueue(preferred, zone, order, alloc_flags, ac.migratetype, ac.cpu);
      if (page) {
        // prep_new_page(): the block is now a live allocation.
        ctx_.frames[*page].set(FrameState::kAllocated, order, gfp_migratetype(gfp), zone->gid);
        if (alloc_flags & alloc::kHighatomic) zone->reserve_highatomic_pageblock(*page, order);
        *zone_out = zone;
        return page;
      }
    }
    if (restart) continue;
    if (no_fallback) {
      alloc_flags &= ~alloc::kNofragment;
      continue;
    }
    return std::nullopt;
  }
}

// unreserve_highatomic_pageblock()
bool Machine::unreserve_highatomic_pageblock(const AllocContext& ac, bool force) {
  for (unsigned gid : *ac.zonelist) {
    Zone* zone = zone_by_gid(gid);
    if (zone->idx > ac.highest_zoneidx) continue;
    if (!force && zone->nr_reserved_highatomic <= kPageblockNrPages) continue;
    for (unsigned order = 0; order < kNrPageOrders; ++order) {
      const PageList& list = zone->free_area[order].free_list[kHighAtomic];
      if (list.empty()) continue;
      const Pfn pfn = list.head;
      uint64_t size = std::max<uint64_t>(kPageblockNrPages, 1ULL << order);
      size = std::min(size, zone->nr_reserved_highatomic);
      zone->nr_reserved_highatomic -= size;
      int ret;
      if (order < kPageblockOrder) {
        ret = zone->move_freepages_block(pfn, kHighAtomic, ac.migratetype);
      } else {
        zone->move_to_free_list(pfn, order, kHighAtomic, ac.migratetype);
        zone->change_pageblock_range(pfn, order, ac.migratetype);
        ret = 1;
      }
      if (ret > 0) return true;
    }
  }
  return false;
}

// should_reclaim_retry() with nothing reclaimable.
bool Machine::should_reclaim_retry(unsigned order, const AllocContext& ac, unsigned alloc_flags,
                                   int* no_progress_loops) {
  (*no_progress_loops)++;
  bool ret = false;
  if (*no_progress_loops <= kMaxReclaimRetries) {
    for (unsigned gid : *ac.zonelist) {
      const Zone* zone = zone_by_gid(gid);
      if (zone->idx > ac.highest_zoneidx) continue;
      if (zone->watermark_ok(order, zone->wmark(kWmarkMin), ac.highest_zoneidx, alloc_flags,
                             zone->nr_free_pages)) {
        ret = true;
        break;
      }
    }
  }
  if (!ret) return unreserve_highatomic_pageblock(ac, true);
  return ret;
}

// __alloc_pages_slowpath() as linux-mm.md §15.4 fixes it for a machine with
// nothing to reclaim and no compaction.
OptPfn Machine::alloc_slowpath(Gfp gfp, unsigned order, AllocContext* ac, Zone** zone_out) {
  const bool can_direct_reclaim = gfp & gfp::kDirectReclaim;
  const bool can_compact = gfp & gfp::kIo;  // gfp_compaction_allowed()
  const bool costly_order = order > kPageAllocCostlyOrder;
  auto pfmemalloc_flags = [gfp]() -> unsigned {
    if (gfp & gfp::kNomemalloc) return 0;
    if (gfp & gfp::kMemalloc) return alloc::kNoWatermarks;
    return 0;
  };

  unsigned alloc_flags = gfp_to_alloc_flags(gfp, order);
  auto pref = first_zone(*ac->zonelist, ac->highest_zoneidx);
  if (!pref) return std::nullopt;
  ac->preferred = *pref;
  if (alloc_flags & alloc::kKswapd) wake_all_kswapds(*ac);
  if (auto page = get_page_from_freelist(gfp, order, alloc_flags, *ac, zone_out)) return page;

  if (can_direct_reclaim && can_compact &&
      (costly_order || (order > 0 && ac->migratetype != kMovable)) && !pfmemalloc_flags()) {
    // Direct compaction: memd does not compact (COMPACT_SKIPPED).
    if (costly_order && (gfp & gfp::kNoretry)) return std::nullopt;
  }

  int no_progress_loops = 0;
  for (;;) {
    if (alloc_flags & alloc::kKswapd) wake_all_kswapds(*ac);
    const unsigned reserve_flags = pfmemalloc_flags();
    if (reserve_flags) alloc_flags = reserve_flags | (alloc_flags & alloc::kKswapd);
    if (auto page = get_page_from_freelist(gfp, order, alloc_flags, *ac, zone_out)) return page;
    if (!can_direct_reclaim) return std::nullopt;
    // Direct reclaim makes no progress (so no pcp drain); compaction is skipped.
    if (gfp & gfp::kNoretry) return std::nullopt;
    if (costly_order && (!can_compact || !(gfp & gfp::kRetryMayfail))) return std::nullopt;
    if (should_reclaim_retry(order, *ac, alloc_flags, &no_progress_loops)) continue;
    break;
  }
  // __alloc_pages_may_oom(): one last try at the high watermark, then no OOM kill.
  return get_page_from_freelist((gfp | gfp::kHardwall) & ~gfp::kDirectReclaim, order,
                                alloc::kWmarkHigh | alloc::kCpuset, *ac, zone_out);
}

Result<Allocation> Machine::alloc(const AllocRequest& req) {
  if (req.order > kMaxPageOrder) {
    return make_error("order " + std::to_string(req.order) + " is above MAX_PAGE_ORDER (10)");
  }
  if (req.cpu < 0 || req.cpu >= nr_cpus()) {
    return make_error("cpu " + std::to_string(req.cpu) +
                      " does not exist (the machine has CPUs 0-" + std::to_string(nr_cpus() - 1) +
                      ")");
  }
  if (req.node && (*req.node < 0 || *req.node >= nr_nodes())) {
    return make_error("node " + std::to_string(*req.node) +
                      " does not exist (the machine has nodes 0-" + std::to_string(nr_nodes() - 1) +
                      ")");
  }
  const int zone_idx = gfp_zone(req.gfp, layout_.arch.arch);
  if (zone_idx < 0) {
    return make_error("GFP flags " + format_gfp(req.gfp) +
                      " combine zone modifiers the kernel rejects (GFP_ZONE_BAD)");
  }
  if ((req.gfp & gfp::kMovableMask) == gfp::kMovableMask) {
    return make_error("GFP flags " + format_gfp(req.gfp) +
                      " set both __GFP_MOVABLE and __GFP_RECLAIMABLE");
  }
  const int nid = req.node.value_or(layout_.cpu_node[req.cpu]);
  const bool thisnode = req.gfp & gfp::kThisnode;
  const Zonelists& lists = zonelists_[nid];
  AllocContext ac;
  ac.cpu = req.cpu;
  ac.highest_zoneidx = static_cast<unsigned>(zone_idx);
  ac.zonelist = thisnode ? &lists.nofallback : &lists.fallback;
  ac.migratetype = ctx_.mobility_disabled ? unsigned{kUnmovable} : gfp_migratetype(req.gfp);

  Zone* zone = nullptr;
  OptPfn page;
  const int pref = (thisnode ? lists.first_nofallback : lists.first_fallback)[ac.highest_zoneidx];
  if (pref >= 0) {
    ac.preferred = static_cast<size_t>(pref);
    unsigned alloc_flags =
        alloc::kWmarkLow | alloc_flags_nofragment(zone_by_gid((*ac.zonelist)[pref]), req.gfp);
    page = get_page_from_freelist(req.gfp, req.order, alloc_flags, ac, &zone);
  }
  if (!page) page = alloc_slowpath(req.gfp, req.order, &ac, &zone);
  if (!page) return make_error(alloc_failure_message(req.order, req.gfp));

  const AllocId id = next_id_++;
  ctx_.frames[*page].set_alloc_id(id);
  ids_->insert(id, *page);
  Allocation a;
  a.id = id;
  a.pfn = *page;
  a.order = req.order;
  a.nid = zone->nid;
  a.zone_idx = zone->idx;
  a.zone_name = zone->name;
  a.migratetype = ac.migratetype;
  return a;
}

// --- freeing ----------------------------------------------------------------------------------

Allocation Machine::describe(Pfn pfn, const Frame& f) const {
  const Zone* z = zone_by_gid(f.zone_gid());
  Allocation a;
  a.id = f.alloc_id();
  a.pfn = pfn;
  a.order = f.order();
  a.nid = z->nid;
  a.zone_idx = z->idx;
  a.zone_name = z->name;
  a.migratetype = ctx_.mobility_disabled ? unsigned{kUnmovable} : f.alloc_mt();
  return a;
}

// __free_frozen_pages() / __free_pages_ok()
void Machine::free_block(Pfn pfn, int cpu) {
  Frame& f = ctx_.frames[pfn];
  const unsigned order = f.order();
  Zone* zone = zone_by_gid(f.zone_gid());
  f.clear();
  if (!zone->pcp_allowed_order(order)) {
    zone->free_one_page(pfn, order, false);
    return;
  }
  unsigned mt = ctx_.pageblocks.get(pfn);
  if (mt >= kMigratePcpTypes) {
    if (mt == kIsolate) {
      zone->free_one_page(pfn, order, false);
      return;
    }
    mt = kMovable;
  }
  zone->free_pcp_commit(&zone->pcp[cpu], pfn, mt, order);
}

std::optional<Allocation> Machine::find_pfn(Pfn pfn) const {
  if (pfn >= ctx_.frames.end()) return std::nullopt;
  const Frame& f = ctx_.frames[pfn];
  if (f.state() != FrameState::kAllocated) return std::nullopt;
  return describe(pfn, f);
}

std::optional<Allocation> Machine::find_id(AllocId id) const {
  auto pfn = ids_->find(id);
  if (!pfn) return std::nullopt;
  return describe(*pfn, ctx_.frames[*pfn]);
}

uint64_t Machine::nr_allocations() const {
  return ids_->size();
}

Result<Allocation> Machine::free_pfn(Pfn pfn, int cpu) {
  if (cpu < 0 || cpu >= nr_cpus()) {
    return make_error("cpu " + std::to_string(cpu) + " does not exist (the machine has CPUs 0-" +
                      std::to_string(nr_cpus() - 1) + ")");
  }
  if (pfn >= ctx_.frames.end())
    return make_error("pfn " + hex(pfn) + " is beyond the end of memory");
  const Frame& f = ctx_.frames[pfn];
  switch (f.state()) {
    case FrameState::kAllocated:
      break;
    case FrameState::kBuddy:
    case FrameState::kPcp:
      return make_error("pfn " + hex(pfn) + " is free (double free?)");
    case FrameState::kNone:
      return make_error("pfn " + hex(pfn) + " is not the first page of a live allocation");
  }
  Allocation a = describe(pfn, f);
  ids_->erase(a.id, pfn);
  free_block(pfn, cpu);
  return a;
}

Result<Allocation> Machine::free_id(AllocId id, int cpu) {
  auto pfn = ids_->find(id);
  if (!pfn) return make_error("no live allocation has id " + std::to_string(id));
  return free_pfn(*pfn, cpu);
}

uint64_t Machine::free_all(int cpu) {
  auto all = ids_->sorted();
  for (auto [id, pfn] : all) {
    ids_->erase(id, pfn);
    free_block(pfn, cpu);
  }
  return all.size();
}

// --- sysctls -----------------------------------------------------------------------------------

const std::vector<std::string_view>& Machine::sysctl_names() {
  static const std::vector<std::string_view> names = {
      "min_free_kbytes", "watermark_scale_factor", "watermark_boost_factor", "lowmem_reserve_ratio",
      "percpu_pagelist_high_fraction"};
  return names;
}

Result<std::string> Machine::get_sysctl(std::string_view name) const {
  if (name == "min_free_kbytes") return std::to_string(min_free_kbytes_);
  if (name == "watermark_scale_factor") return std::to_string(watermark_scale_factor_);
  if (name == "watermark_boost_factor") return std::to_string(ctx_.watermark_boost_factor);
  if (name == "percpu_pagelist_high_fraction")
    return std::to_string(percpu_pagelist_high_fraction_);
  if (name == "lowmem_reserve_ratio") {
    std::string s;
    for (size_t i = 0; i < lowmem_reserve_ratio_.size(); ++i) {
      if (i) s += '\t';
      s += std::to_string(lowmem_reserve_ratio_[i]);
    }
    return s;
  }
  return make_error("unknown sysctl '" + std::string(name) +
                    "' (memd models vm.min_free_kbytes, "
                    "vm.watermark_scale_factor, vm.watermark_boost_factor, "
                    "vm.lowmem_reserve_ratio, vm.percpu_pagelist_high_fraction)");
}

Status Machine::set_sysctl(std::string_view name, std::string_view value) {
  const std::string what = std::string(name) + "=" + std::string(value);
  if (name == "lowmem_reserve_ratio") {
    // proc_dointvec: integers separated by whitespace. A write the kernel
    // would reject part-way ("256,256" stops at the comma) changes nothing.
    std::vector<int> ratios;
    size_t i = 0;
    while (i < value.size()) {
      while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == '\n'))
        ++i;
      size_t j = i;
      while (j < value.size() && value[j] != ' ' && value[j] != '\t' && value[j] != '\n')
        ++j;
      if (j > i) {
        auto n = parse_sysctl_int(value.substr(i, j - i));
        if (!n) {
          return make_error(what + ": '" + std::string(value.substr(i, j - i)) +
                            "' is not an integer (the kernel reads whitespace-separated integers)");
        }
        ratios.push_back(*n);
      }
      i = j;
    }
    if (ratios.empty()) return make_error(what + ": no ratios given");
    if (ratios.size() > lowmem_reserve_ratio_.size()) {
      return make_error(what + ": " + std::to_string(ratios.size()) + " ratios for " +
                        std::to_string(lowmem_reserve_ratio_.size()) + " zones");
    }
    for (size_t k = 0; k < ratios.size(); ++k)
      lowmem_reserve_ratio_[k] = ratios[k] < 1 ? 0 : ratios[k];
    setup_per_zone_lowmem_reserve();
    return {};
  }
  auto n = parse_sysctl_int(value);
  if (!n) {
    if (!get_sysctl(name)) return get_sysctl(name).error();
    return make_error(what + ": not an integer");
  }
  if (name == "min_free_kbytes") {
    if (*n < 0) return make_error(what + ": must be >= 0");
    user_min_free_kbytes_ = min_free_kbytes_ = *n;
    setup_per_zone_wmarks();
  } else if (name == "watermark_scale_factor") {
    if (*n < 1 || *n > 3000) return make_error(what + ": must be in 1..3000");
    watermark_scale_factor_ = *n;
    setup_per_zone_wmarks();
  } else if (name == "watermark_boost_factor") {
    if (*n < 0) return make_error(what + ": must be >= 0");
    ctx_.watermark_boost_factor = *n;
  } else if (name == "percpu_pagelist_high_fraction") {
    if (*n < 0 || (*n && *n < kMinPercpuPagelistHighFraction)) {
      return make_error(what + ": must be 0 or at least 8");
    }
    if (*n == percpu_pagelist_high_fraction_) return {};
    percpu_pagelist_high_fraction_ = *n;
    for (Zone* z : ctx_.zones) {
      if (z->populated()) zone_pcp_update(z);
    }
  } else {
    return get_sysctl(name).error();
  }
  return {};
}

// --- stats -------------------------------------------------------------------------------------

MachineStats Machine::stats() const {
  MachineStats s;
  s.arch = layout_.arch.arch;
  s.nr_cpus = nr_cpus();
  s.thp_configured = ctx_.thp_configured;
  s.thp_enabled = thp_enabled_;
  s.pgfree = ctx_.pgfree;
  s.extfrag_claims = ctx_.extfrag_claims;
  s.extfrag_steals = ctx_.extfrag_steals;
  s.totalreserve_pages = totalreserve_pages_;
  s.min_free_kbytes = min_free_kbytes_;
  s.watermark_scale_factor = watermark_scale_factor_;
  s.watermark_boost_factor = ctx_.watermark_boost_factor;
  s.percpu_pagelist_high_fraction = percpu_pagelist_high_fraction_;
  s.lowmem_reserve_ratio = lowmem_reserve_ratio_;
  // What meminfo's DirectMap lines and nr_memmap_boot_pages derive from.
  for (const MemRegion& r : layout_.memory)
    s.memblock_memory.emplace_back(r.start, r.end);
  s.max_low_pfn = layout_.arch_zone_highest[layout_.arch.normal_idx()];
  s.direct_gbpages = layout_.arch.arch == Arch::kX86_64;
  if (layout_.arch.arch == Arch::kX86_64) {
    // sparse_init_nid(): PAGES_PER_SECTION * sizeof(struct page) (64) per present section.
    for (uint8_t present : layout_.section_present)
      s.nr_memmap_boot_pages += present ? 512 : 0;
  } else {
    // alloc_node_mem_map(): the node span widened to MAX_ORDER_NR_PAGES, 32-byte struct pages.
    for (const NodeLayout& n : layout_.nodes) {
      if (!n.has_memory()) continue;
      Pfn start = n.start & ~(kMaxOrderNrPages - 1);
      Pfn end = (n.end + kMaxOrderNrPages - 1) & ~(kMaxOrderNrPages - 1);
      s.nr_memmap_boot_pages += ((end - start) * 32 + kPageSize - 1) / kPageSize;
    }
  }
  const unsigned nr_zones = layout_.arch.nr_zones();
  for (int nid = 0; nid < nr_nodes(); ++nid) {
    NodeStats ns;
    ns.nid = nid;
    ns.has_memory = layout_.nodes[nid].present() > 0;
    ns.cpus = layout_.nodes[nid].cpus;
    for (unsigned i = 0; i < nr_zones; ++i) {
      const Zone& z = *zones_[nid][i];
      ZoneStats zs;
      zs.nid = nid;
      zs.idx = i;
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
      for (const PerCpuPages& p : z.pcp)
        zs.pcp.push_back({p.count, p.high, p.batch, p.high_min, p.high_max});
      zs.stat_threshold = z.stat_threshold;
      s.totalram_pages += z.managed;
      ns.zones.push_back(std::move(zs));
    }
    // pgdat->totalreserve_pages
    for (unsigned i = 0; i < nr_zones; ++i) {
      const Zone& z = *zones_[nid][i];
      int64_t max = 0;
      for (unsigned j = i; j < nr_zones; ++j)
        max = std::max(max, z.lowmem_reserve[j]);
      ns.totalreserve_pages +=
          std::min(static_cast<uint64_t>(max) + z.wmark(kWmarkHigh), z.managed);
    }
    s.nodes.push_back(std::move(ns));
  }
  return s;
}

// --- the invariant checker ---------------------------------------------------------------------

CheckReport Machine::check() const {
  CheckReport r;
  auto fail = [&r](std::string msg) {
    if (r.problems.size() < 100) r.problems.push_back(std::move(msg));
  };
  const FrameTable& frames = ctx_.frames;
  uint64_t buddy_and_pcp_pages = 0;
  uint64_t pgalloc_total = 0;

  // Managed memory per zone: the boot free ranges, merged where adjacent.
  std::vector<std::vector<std::pair<Pfn, Pfn>>> managed(ctx_.zones.size());
  for (auto [s, e] : layout_.free_ranges) {
    for (Pfn p = s; p < e;) {
      auto iv = layout_.zone_of(p);
      Pfn stop = std::min(e, iv->end);
      const Zone* z = zones_[iv->nid][iv->zone].get();
      auto& v = managed[z->gid];
      if (!v.empty() && v.back().second == p) {
        v.back().second = stop;
      } else {
        v.emplace_back(p, stop);
      }
      p = stop;
    }
  }
  auto in_managed = [&](unsigned gid, Pfn s, Pfn e) {
    const auto& v = managed[gid];
    auto it = std::upper_bound(v.begin(), v.end(), std::make_pair(s, ~Pfn{0}));
    if (it == v.begin()) return false;
    --it;
    return s >= it->first && e <= it->second;
  };

  // Allocations: every index entry is an allocated head, reachable from its id.
  std::vector<uint64_t> allocated_pages(ctx_.zones.size(), 0);
  ids_->for_each_pfn([&](Pfn pfn) {
    const Frame& f = frames[pfn];
    if (f.state() != FrameState::kAllocated || f.zone_gid() >= allocated_pages.size()) {
      fail("the id index points at " + hex(pfn) + ", which is not a live allocation");
      return;
    }
    if (!ids_->indexed_at(f.alloc_id(), pfn)) {
      fail("allocation " + std::to_string(f.alloc_id()) + " at " + hex(pfn) +
           " is unreachable by its id");
    }
    allocated_pages[f.zone_gid()] += 1ULL << f.order();
  });
  uint64_t allocated_heads = 0;

  for (const Zone* zp : ctx_.zones) {
    const Zone& z = *zp;
    const std::string zname =
        "node " + std::to_string(z.nid) + " zone " + std::string(zone_kind_name(z.kind));
    uint64_t managed_pages = 0;
    for (auto [s, e] : managed[z.gid])
      managed_pages += e - s;
    if (managed_pages != z.managed) {
      fail(zname + ": managed " + std::to_string(z.managed) + " but " +
           std::to_string(managed_pages) + " pages were given to the buddy allocator");
    }
    int64_t free_pages = 0, free_blocks = 0, free_highatomic = 0, isolated = 0;
    for (unsigned o = 0; o < kNrPageOrders; ++o) {
      const FreeArea& area = z.free_area[o];
      uint64_t total = 0;
      for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
        uint64_t n = 0;
        Pfn prev = kNilPfn;
        for (Pfn p = area.free_list[mt].head; p != kNilPfn; p = frames[p].next) {
          const Frame& f = frames[p];
          ++n;
          const std::string where = zname + ": free block " + hex(p) + " order " +
                                    std::to_string(o) + " on the " +
                                    std::string(kMigrateTypeNames[mt]) + " list";
          if (f.prev != prev) fail(where + ": broken list link");
          prev = static_cast<uint32_t>(p);
          if (n > area.nr[mt] + 1) {
            fail(where + ": list longer than its count (cycle?)");
            break;
          }
          if (f.state() != FrameState::kBuddy || f.order() != o || f.zone_gid() != z.gid) {
            fail(where + ": frame is not marked free at this order in this zone");
          }
          if (p & ((1ULL << o) - 1)) fail(where + ": not aligned to its order");
          if (!z.spans(p) || !z.spans(p + (1ULL << o) - 1)) fail(where + ": outside the zone");
          if (!in_managed(z.gid, p, p + (1ULL << o)))
            fail(where + ": covers pages never given to the buddy allocator");
          for (Pfn b = p; b < p + (1ULL << o); b += kPageblockNrPages) {
            if (ctx_.pageblocks.get(b) != mt) {
              fail(where + ": its pageblock " + hex(b & ~(kPageblockNrPages - 1)) + " is " +
                   std::string(kMigrateTypeNames[ctx_.pageblocks.get(b)]));
              break;
            }
          }
          if (o < kMaxPageOrder) {
            Pfn buddy = p ^ (1ULL << o);
            const Frame& bf = frames[buddy];
            if (bf.state() == FrameState::kBuddy && bf.order() == o && bf.zone_gid() == z.gid) {
              unsigned bmt = ctx_.pageblocks.get(buddy);
              bool mergeable = o < kPageblockOrder || mt == bmt ||
                               (migratetype_is_mergeable(mt) && migratetype_is_mergeable(bmt));
              if (mergeable && p < buddy)
                fail(where + ": its buddy " + hex(buddy) + " is free and unmerged");
            }
          }
          if (mt == kIsolate) {
            isolated += 1LL << o;
          } else {
            free_pages += 1LL << o;
            if (o >= kPageblockOrder) free_blocks += 1LL << o;
          }
          if (mt == kHighAtomic) free_highatomic += 1LL << o;
        }
        if (n != area.nr[mt]) {
          fail(zname + ": order " + std::to_string(o) + " " + std::string(kMigrateTypeNames[mt]) +
               " list has " + std::to_string(n) + " entries, counted " +
               std::to_string(area.nr[mt]));
        }
        if (prev != area.free_list[mt].tail) fail(zname + ": list tail pointer is wrong");
        total += n;
      }
      if (total != area.nr_free) {
        fail(zname + ": order " + std::to_string(o) + " nr_free " + std::to_string(area.nr_free) +
             " but the lists hold " + std::to_string(total));
      }
    }
    if (free_pages != z.nr_free_pages) {
      fail(zname + ": nr_free_pages " + std::to_string(z.nr_free_pages) + " but the lists hold " +
           std::to_string(free_pages));
    }
    if (free_blocks != z.nr_free_pages_blocks) {
      fail(zname + ": nr_free_pages_blocks " + std::to_string(z.nr_free_pages_blocks) +
           ", recount " + std::to_string(free_blocks));
    }
    if (free_highatomic != z.nr_free_highatomic) {
      fail(zname + ": nr_free_highatomic " + std::to_string(z.nr_free_highatomic) + ", recount " +
           std::to_string(free_highatomic));
    }
    buddy_and_pcp_pages += static_cast<uint64_t>(free_pages + isolated);
    pgalloc_total += z.pgalloc;

    // Per-cpu lists.
    uint64_t pcp_pages = 0;
    for (size_t cpu = 0; cpu < z.pcp.size(); ++cpu) {
      const PerCpuPages& pcp = z.pcp[cpu];
      int count = 0;
      for (unsigned pi = 0; pi < kNrPcpLists; ++pi) {
        const unsigned o = z.pindex_to_order(pi);
        for (Pfn p = pcp.lists[pi].head; p != kNilPfn; p = frames[p].next) {
          const Frame& f = frames[p];
          if (f.state() != FrameState::kPcp || f.order() != o || f.zone_gid() != z.gid) {
            fail(zname + ": cpu " + std::to_string(cpu) + " pcp list " + std::to_string(pi) +
                 " holds " + hex(p) + " which is not a pcp block of order " + std::to_string(o));
            break;
          }
          count += 1 << o;
          if (count > 1 << 30) break;
        }
      }
      if (count != pcp.count) {
        fail(zname + ": cpu " + std::to_string(cpu) + " pcp count " + std::to_string(pcp.count) +
             " but its lists hold " + std::to_string(count));
      }
      buddy_and_pcp_pages += static_cast<uint64_t>(count);
      pcp_pages += static_cast<uint64_t>(count);
    }

    // Every managed page belongs to exactly one block: free, on a pcp list or allocated.
    if (static_cast<uint64_t>(free_pages + isolated) + pcp_pages + allocated_pages[z.gid] !=
        managed_pages) {
      fail(zname + ": free + pcp + allocated pages = " +
           std::to_string(static_cast<uint64_t>(free_pages + isolated) + pcp_pages +
                          allocated_pages[z.gid]) +
           ", managed " + std::to_string(managed_pages) + " (overlapping or lost blocks)");
    }
    for (auto [s, e] : managed[z.gid]) {
      for (Pfn p = s; p < e;) {
        const Frame& f = frames[p];
        if (f.state() == FrameState::kNone) {
          fail(zname + ": managed page " + hex(p) + " belongs to no free, pcp or allocated block");
          break;
        }
        const uint64_t n = 1ULL << f.order();
        if (p & (n - 1)) {
          fail(zname + ": block " + hex(p) + " is not aligned to its order " +
               std::to_string(f.order()));
          break;
        }
        if (f.zone_gid() != z.gid)
          fail(zname + ": block " + hex(p) + " is marked as another zone's");
        if (f.state() == FrameState::kAllocated) ++allocated_heads;
        p += n;
      }
    }

    // Block counts.
    std::array<uint64_t, kMigrateTypes> counts{};
    for (Pfn pfn = z.start_pfn; z.populated() && pfn < z.end_pfn(); pfn += kPageblockNrPages) {
      auto iv = layout_.zone_of(pfn);
      if (!iv || iv->nid != z.nid || iv->zone != z.idx) continue;
      counts[ctx_.pageblocks.get(pfn)]++;
    }
    if (counts != z.block_count) fail(zname + ": pageblock counts per type differ from a recount");
  }

  // Every allocated block is in the index (ids are unique by construction).
  if (allocated_heads != ids_->size()) {
    fail(std::to_string(allocated_heads) + " allocated blocks but " + std::to_string(ids_->size()) +
         " entries in the id index");
  }

  // Every page freed minus every page allocated is free or on a pcp list.
  if (ctx_.pgfree - pgalloc_total != buddy_and_pcp_pages) {
    fail("pgfree - pgalloc = " + std::to_string(ctx_.pgfree - pgalloc_total) + " but " +
         std::to_string(buddy_and_pcp_pages) + " pages are free or on pcp lists");
  }
  return r;
}

}  // namespace memd
