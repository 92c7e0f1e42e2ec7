// Watermarks, reserves and per-cpu pageset sizes (mm/page_alloc.c):
// min_free_kbytes, the zone watermarks, lowmem_reserve, totalreserve_pages,
// and the pcp batch and high limits. Every sysctl handler and the boot
// sequence recompute through these.
#include "core/machine.h"

#include "core/kernel_math.h"

#include <fmt/format.h>

#include <algorithm>

namespace memd {

// nr_free_zone_pages(): over the boot CPU's node's GFP_KERNEL zonelist.
uint64_t Machine::nr_free_zone_pages(unsigned offset) const {
  uint64_t sum = 0;
  for (unsigned global_idx : zonelists_[layout_.cpu_node[0]].fallback) {
    const Zone* z = zone_by_global_idx(global_idx);
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
  if (new_min > user_min_free_kbytes_) {
    min_free_kbytes_ = kclamp(new_min, 128, 262144);
  } else {
    log_.printk(PrintkLevel::kWarning,
                fmt::format("min_free_kbytes is not updated to {} because user defined value {} "
                            "is preferred",
                            new_min, user_min_free_kbytes_));
  }
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
    if (recommended > static_cast<uint64_t>(min_free_kbytes_)) {
      if (user_min_free_kbytes_ >= 0) {
        log_.printk(PrintkLevel::kInfo,
                    fmt::format("raising min_free_kbytes from {} to {} to help transparent "
                                "hugepage allocations",
                                min_free_kbytes_, recommended));
      }
      min_free_kbytes_ = static_cast<int>(recommended);
    }
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
  for (Zone* z : ctx_.zones) {
    zone_pcp_update(z);
  }
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

// One node's pgdat->totalreserve_pages: per zone, its largest lowmem_reserve
// plus its high watermark, capped at its managed pages.
uint64_t Machine::node_totalreserve_pages(const std::vector<std::unique_ptr<Zone>>& node) {
  uint64_t total = 0;
  for (const auto& z : node) {
    int64_t max = 0;
    for (unsigned j = z->idx; j < node.size(); ++j) {
      max = std::max(max, z->lowmem_reserve[j]);
    }
    total += std::min(static_cast<uint64_t>(max) + z->wmark(kWmarkHigh), z->managed);
  }
  return total;
}

// calculate_totalreserve_pages(): the sum over the nodes.
void Machine::calculate_totalreserve_pages() {
  totalreserve_pages_ = 0;
  for (const auto& node : zones_) {
    totalreserve_pages_ += node_totalreserve_pages(node);
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

}  // namespace memd
