// Copying a machine (Machine::clone, Machine::copy_from): every member is
// copied, then the pointers that lead inside a machine (each zone's context,
// the context's zone table and zone lookup, the id index's frame table, the
// tracer when it is the machine's own trace buffer) are pointed at the
// copy's own parts. Nothing is shared with the original but the immutable
// PageblockZones.
#include <cstddef>

#include "core/id_index.h"
#include "core/machine.h"

namespace memd {

// A member added to Machine or MemContext must be copied below (a Zone is
// copied whole by its copy assignment): these sizes usually change with it,
// and fail here as a reminder. On x86_64 with libstdc++, memd's platform.
#if defined(__GLIBCXX__) && defined(__x86_64__)
static_assert(sizeof(MemContext) == 216, "copy the new MemContext member in copy_context()");
static_assert(sizeof(Machine) == 1184, "copy the new Machine member in copy_from()");
#endif

std::unique_ptr<Machine> Machine::clone() const {
  std::unique_ptr<Machine> m(new Machine(config_, layout_));
  m->copy_from(*this);
  return m;
}

void Machine::copy_from(const Machine& other) {
  if (this == &other) return;
  config_ = other.config_;
  layout_ = other.layout_;
  warnings_ = other.warnings_;
  log_ = other.log_;
  *trace_ = *other.trace_;
  current_comm_ = other.current_comm_;
  nopage_rs_ = other.nopage_rs_;
  alloc_ticks_ = other.alloc_ticks_;
  copy_zones(other);
  copy_context(other.ctx_);
  ctx_.tracer = other.ctx_.tracer == other.trace_.get() ? trace_.get() : nullptr;
  zonelists_ = other.zonelists_;
  memory_blocks_ = other.memory_blocks_;
  nr_online_nodes_ = other.nr_online_nodes_;
  dma32_idx_ = other.dma32_idx_;
  min_free_kbytes_ = other.min_free_kbytes_;
  user_min_free_kbytes_ = other.user_min_free_kbytes_;
  watermark_scale_factor_ = other.watermark_scale_factor_;
  percpu_pagelist_high_fraction_ = other.percpu_pagelist_high_fraction_;
  lowmem_reserve_ratio_ = other.lowmem_reserve_ratio_;
  thp_enabled_ = other.thp_enabled_;
  direct_gbpages_ = other.direct_gbpages_;
  totalreserve_pages_ = other.totalreserve_pages_;
  pgmigrate_success_ = other.pgmigrate_success_;
  pgmigrate_fail_ = other.pgmigrate_fail_;
  thp_migration_success_ = other.thp_migration_success_;
  thp_migration_fail_ = other.thp_migration_fail_;
  offlined_pages_ = other.offlined_pages_;
  ids_->copy_from(*other.ids_);
  next_id_ = other.next_id_;
}

// The zones, by value, into this machine's Zone objects (kept when the
// shape is the same, so the per-cpu vectors keep their memory); each points
// at this machine's context. Run before copy_context(), which indexes them.
void Machine::copy_zones(const Machine& other) {
  zones_.resize(other.zones_.size());
  for (size_t nid = 0; nid < other.zones_.size(); ++nid) {
    auto& mine = zones_[nid];
    const auto& theirs = other.zones_[nid];
    mine.resize(theirs.size());
    for (size_t z = 0; z < theirs.size(); ++z) {
      if (mine[z]) {
        *mine[z] = *theirs[z];
      } else {
        mine[z] = std::make_unique<Zone>(*theirs[z]);
      }
      mine[z]->ctx = &ctx_;
    }
  }
}

// The shared state: the memory map (only the pages that differ), the
// pageblock bitmap and counts, the switches and counters; the zone table by
// global index and the zone lookup of this machine. Outside listeners are
// not carried over.
void Machine::copy_context(const MemContext& other) {
  ctx_.frames.copy_from(other.frames);
  ctx_.pageblocks = other.pageblocks;
  ctx_.pageblock_zones = other.pageblock_zones;  // immutable after boot
  ctx_.pageblock_free = other.pageblock_free;
  ctx_.zones.assign(other.zones.size(), nullptr);
  for (auto& node : zones_) {
    for (auto& zone : node) {
      ctx_.zones[zone->global_idx] = zone.get();
    }
  }
  set_zone_lookup();
  ctx_.mobility_disabled = other.mobility_disabled;
  ctx_.watermark_boost_factor = other.watermark_boost_factor;
  ctx_.thp_configured = other.thp_configured;
  ctx_.movable_idx = other.movable_idx;
  ctx_.pcp_thp_order = other.pcp_thp_order;
  ctx_.pgfree = other.pgfree;
  ctx_.extfrag_claims = other.extfrag_claims;
  ctx_.extfrag_steals = other.extfrag_steals;
  ctx_.extfrag_listener = nullptr;
  ctx_.tracer = nullptr;  // copy_from() attaches the copy's own trace buffer
  ctx_.trace_cpu = other.trace_cpu;
  ctx_.pcp_depth = other.pcp_depth;
}

}  // namespace memd
