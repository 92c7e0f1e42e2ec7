// Memory hotplug: a memory block going offline and coming back online
// (mm/memory_hotplug.c offline_pages() and online_pages(), with the page
// isolation of mm/page_isolation.c and the migration of mm/migrate.c), as
// drivers/base/memory.c's state_store() runs them, with the rules of
// linux-mm.md §12.5 where the kernel depends on what memd does not have:
// an allocation is movable iff its GFP has __GFP_MOVABLE; it migrates whole
// (one folio), keeps its id, and gets the target's pfn and zone; offline
// runs on CPU 0; a migration pass that migrates nothing gives up (EINTR,
// where the kernel would retry until a signal).
#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "core/assert.h"
#include "core/id_index.h"
#include "core/machine.h"

namespace memd {

namespace {

// walk_system_ram_range() counted every pfn of [start, end): memblock.memory
// (memd's e820 RAM) covers the range without a gap.
bool range_is_ram(const Layout& layout, Pfn start, Pfn end) {
  Pfn covered = start;
  for (const MemRegion& r : layout.memory) {
    if (r.start <= covered && r.end > covered) covered = r.end;
  }
  return covered >= end;
}

}  // namespace

std::string HotplugResult::message(bool offline) const {
  if (offline && ok()) return "Offlined Pages " + std::to_string(nr_pages);
  if (ok()) return "Onlined Pages " + std::to_string(nr_pages);
  char range[64];
  std::snprintf(range, sizeof range, "[mem %#010llx-%#010llx]",
                static_cast<unsigned long long>(start_pfn) << kPageShift,
                (static_cast<unsigned long long>(start_pfn + nr_pages) << kPageShift) - 1);
  return std::string(offline ? "memory offlining " : "online_pages ") + range + " failed due to " +
         reason;
}

unsigned Machine::pfn_zone_global_idx(Pfn pfn) const {
  auto iv = layout_.zone_of(pfn);
  const unsigned base = iv ? zones_[iv->nid][iv->zone]->global_idx : ~0u;
  const uint64_t per_block = memory_blocks_.pages_per_block();
  if (per_block == 0) return base;
  const MemoryBlock* b = memory_blocks_.find(pfn / per_block);
  if (!b) return base;
  if (b->state == MemoryBlockState::kOffline) return ~0u;
  if (b->zone && iv && b->nid == iv->nid && *b->zone != iv->zone) {
    return zones_[b->nid][*b->zone]->global_idx;
  }
  return base;
}

// walk_system_ram_range() against [start, end) and PageReserved(): whether
// every pfn was given to the buddy allocator at boot (memd's e820 RAM minus
// memblock reservations). Offline needs both: a hole is "memory holes", a
// reserved page an unmovable one.
bool Machine::pfn_is_managed_at_boot(Pfn start, Pfn end) const {
  const auto& ranges = layout_.free_ranges;
  auto it = std::upper_bound(ranges.begin(), ranges.end(), std::make_pair(start, ~Pfn{0}));
  if (it == ranges.begin()) return false;
  --it;
  return start >= it->first && end <= it->second;
}

// zone_pcp_disable(): every CPU's pcp of the zone gets batch 1, high 0 and
// is drained.
void Machine::zone_pcp_disable(Zone* zone) {
  for (PerCpuPages& pcp : zone->pcp) {
    pcp.batch = 1;
    pcp.high_min = 0;
    pcp.high_max = 0;
  }
  for (PerCpuPages& pcp : zone->pcp) {
    zone->drain_pages(&pcp);
  }
}

// zone_pcp_enable(): the zone's cached pageset values back.
void Machine::zone_pcp_enable(Zone* zone) {
  for (PerCpuPages& pcp : zone->pcp) {
    pcp.batch = zone->pageset_batch;
    pcp.high_min = zone->pageset_high_min;
    pcp.high_max = zone->pageset_high_max;
  }
}

// find_large_buddy(): the free block that contains `start`, if one starts
// at or before it; else `start`.
Pfn Machine::find_large_buddy(Pfn start) const {
  Pfn pfn = start;
  unsigned order = 0;
  while (ctx_.frames[pfn].state() != FrameState::kBuddy) {
    if (++order > kMaxPageOrder) return start;
    pfn &= ~Pfn{0} << order;
  }
  if (pfn + (1ULL << ctx_.frames[pfn].order()) > start) return pfn;
  return start;
}

void Machine::toggle_pageblock_isolate(Pfn pfn, bool isolate) {
  const uint8_t raw = ctx_.pageblocks.raw(pfn);
  ctx_.write_pageblock(pfn, static_cast<uint8_t>(isolate ? (raw | PageblockTable::kIsolateBit)
                                                         : (raw & ~PageblockTable::kIsolateBit)));
}

// __move_freepages_block_isolate(): a free block larger than a pageblock
// that covers it is split into pageblocks (each freed with its own type);
// otherwise the block's free pages move to (from) the Isolate lists.
bool Machine::move_freepages_block_isolate(Zone* zone, Pfn pfn, bool isolate) {
  Pfn start = 0;
  if (!zone->prep_move_freepages_block(pfn, &start, nullptr, nullptr)) return false;
  const Pfn buddy = find_large_buddy(start);
  const Frame& bf = ctx_.frames[buddy];
  if (bf.state() == FrameState::kBuddy && bf.order() > kPageblockOrder) {
    const unsigned order = bf.order();
    const unsigned mt = ctx_.pageblocks.get(buddy);
    zone->del_page_from_free_list(buddy, order, mt);
    zone->account_freepages(-(1LL << order), mt);
    toggle_pageblock_isolate(start, isolate);
    for (Pfn p = buddy; p < buddy + (1ULL << order); p += kPageblockNrPages) {
      zone->free_one_page_inner(p, kPageblockOrder, ctx_.pageblocks.get(p), false);
    }
    return true;
  }
  const unsigned plain = ctx_.pageblocks.raw(start) & PageblockTable::kMigrateMask;
  zone->move_freepages_block_range(start, isolate ? plain : unsigned{kIsolate},
                                   isolate ? unsigned{kIsolate} : plain);
  toggle_pageblock_isolate(start, isolate);
  return true;
}

// has_unmovable_pages() for PB_ISOLATE_MODE_MEM_OFFLINE: a reserved page
// anywhere; outside ZONE_MOVABLE, an allocation that is not movable.
bool Machine::has_unmovable_pages(const Zone& zone, Pfn start, Pfn end) const {
  if (!pfn_is_managed_at_boot(start, end)) return true;
  if (zone.idx == ctx_.movable_idx) return false;
  for (Pfn p = start; p < end;) {
    const Frame& f = ctx_.frames[p];
    if (f.state() == FrameState::kNone) {
      ++p;
      continue;
    }
    if (f.state() == FrameState::kAllocated && f.alloc_mt() != kMovable) return true;
    p += 1ULL << f.order();
  }
  return false;
}

// set_migratetype_isolate() for one pageblock.
bool Machine::set_migratetype_isolate(Zone* zone, Pfn pfn) {
  if (ctx_.pageblocks.get(pfn) == kIsolate) return false;
  if (has_unmovable_pages(*zone, pfn, pfn + kPageblockNrPages)) return false;
  return move_freepages_block_isolate(zone, pfn, true);
}

// unset_migratetype_isolate(): an order-9 free block whose buddy is free
// and not isolated is taken off and freed again (merging, to the tail);
// otherwise the block's free pages move back to its type's lists.
void Machine::unset_migratetype_isolate(Zone* zone, Pfn pfn) {
  if (ctx_.pageblocks.get(pfn) != kIsolate) return;
  const Frame& f = ctx_.frames[pfn];
  if (f.state() == FrameState::kBuddy && f.order() >= kPageblockOrder &&
      f.order() < kMaxPageOrder) {
    const unsigned order = f.order();
    const Pfn buddy = pfn ^ (1ULL << order);
    const Frame& bf = ctx_.frames[buddy];
    if (bf.state() == FrameState::kBuddy && bf.order() == order &&
        bf.zone_global_idx() == zone->global_idx && ctx_.pageblocks.get(buddy) != kIsolate) {
      zone->del_page_from_free_list(pfn, order, kIsolate);
      toggle_pageblock_isolate(pfn, false);
      // __putback_isolated_page(): FPI_TO_TAIL.
      zone->free_one_page_inner(pfn, order, ctx_.pageblocks.get(pfn), true);
      return;
    }
  }
  move_freepages_block_isolate(zone, pfn, false);
}

// start_isolate_page_range(): the first pageblock, the last, then the ones
// between upward; at the first that fails, the isolated ones are undone.
// The boundaries are MAX_ORDER-aligned, so isolate_single_pageblock() has
// no straddling block to deal with.
bool Machine::start_isolate_page_range(Zone* zone, Pfn start, Pfn end) {
  const Pfn last = end - kPageblockNrPages;
  if (!set_migratetype_isolate(zone, start)) return false;
  if (last != start && !set_migratetype_isolate(zone, last)) {
    unset_migratetype_isolate(zone, start);
    return false;
  }
  for (Pfn pfn = start + kPageblockNrPages; pfn < last; pfn += kPageblockNrPages) {
    if (!set_migratetype_isolate(zone, pfn)) {
      undo_isolate_page_range(zone, start, pfn);
      unset_migratetype_isolate(zone, last);
      return false;
    }
  }
  return true;
}

void Machine::undo_isolate_page_range(Zone* zone, Pfn start, Pfn end) {
  for (Pfn pfn = start; pfn < end; pfn += kPageblockNrPages) {
    unset_migratetype_isolate(zone, pfn);
  }
}

// do_migrate_range()'s source list: the movable allocations of the range,
// isolated upward and list_add()ed, so migrated from the highest pfn down.
std::vector<Pfn> Machine::movable_heads_descending(Pfn start, Pfn end) const {
  std::vector<Pfn> heads;
  for (Pfn p = start; p < end;) {
    const Frame& f = ctx_.frames[p];
    if (f.state() == FrameState::kNone) {
      ++p;
      continue;
    }
    if (f.state() == FrameState::kAllocated && f.alloc_mt() == kMovable) heads.push_back(p);
    p += 1ULL << f.order();
  }
  std::reverse(heads.begin(), heads.end());
  return heads;
}

// The mtc.nmask of do_migrate_range(): the nodes with memory but the
// source's, or the source's alone when no other has memory; as a zonelist,
// the source node's fallback list without the excluded node's zones.
std::vector<unsigned> Machine::migration_zonelist(int nid) const {
  bool others = false;
  for (const Zone* z : ctx_.zones) {
    if (z->nid != nid && z->populated()) others = true;
  }
  std::vector<unsigned> zl;
  for (unsigned g : zonelists_[nid].fallback) {
    if (!others || zone_by_global_idx(g)->nid != nid) zl.push_back(g);
  }
  return zl;
}

// One folio through migrate_pages(): a target from alloc_migration_target()
// (GFP_KERNEL | __GFP_MOVABLE | __GFP_RETRY_MAYFAIL, __GFP_HIGHMEM from
// ZONE_MOVABLE or highmem, GFP_TRANSHUGE without __GFP_RECLAIM for a large
// folio), the id moved to it, the source freed (into its isolated
// pageblock). False when no target could be allocated.
bool Machine::migrate_one(Pfn src, const std::vector<unsigned>& zonelist, HotplugResult* r) {
  const Frame sf = ctx_.frames[src];
  const unsigned order = sf.order();
  const Zone* from = zone_by_global_idx(sf.zone_global_idx());
  Gfp gfp = gfp::kKernel | gfp::kMovable | gfp::kRetryMayfail;
  if (order > 0) gfp = (gfp & ~gfp::kReclaim) | gfp::kTranshuge;
  if (layout_.arch.is_highmem(from->idx) || from->idx == ctx_.movable_idx) gfp |= gfp::kHighmem;
  AllocRequest req;
  req.order = order;
  req.gfp = gfp;
  Zone* zone = nullptr;
  const OptPfn target = alloc_pages_zonelist(req, zonelist, &zone);
  // folio_test_pmd_mappable(): a THP-sized folio counts in thp_migration_*.
  const bool thp = order >= kHpagePmdOrder;
  if (!target) {
    pgmigrate_fail_ += 1ULL << order;
    thp_migration_fail_ += thp;
    r->failed_pages += 1ULL << order;
    return false;
  }
  const AllocId id = sf.alloc_id();
  ctx_.frames[*target].set(FrameState::kAllocated, order, sf.alloc_mt(), zone->global_idx);
  ctx_.frames[*target].set_alloc_id(id);
  ids_->erase(id, src);
  ids_->insert(id, *target);
  free_block(src, 0);
  pgmigrate_success_ += 1ULL << order;
  thp_migration_success_ += thp;
  r->migrated_pages += 1ULL << order;
  r->migrated_allocations++;
  return true;
}

// One pass of offline_pages()'s loop: do_migrate_range() over every movable
// allocation of the range; the pass stops at the first folio without a
// target (migrate_pages_batch()'s -ENOMEM). Returns the pages migrated.
uint64_t Machine::migrate_range(Zone* zone, Pfn start, Pfn end, HotplugResult* r) {
  const std::vector<Pfn> heads = movable_heads_descending(start, end);
  if (heads.empty()) return 0;
  const std::vector<unsigned> zl = migration_zonelist(zone->nid);
  uint64_t migrated = 0;
  for (Pfn src : heads) {
    const uint64_t n = 1ULL << ctx_.frames[src].order();
    if (!migrate_one(src, zl, r)) break;
    migrated += n;
  }
  return migrated;
}

// __offline_isolated_pages(): every page of the range is now a free
// isolated one; the blocks leave the buddy lists.
void Machine::offline_isolated_pages(Zone* zone, Pfn start, Pfn end) {
  for (Pfn p = start; p < end;) {
    const unsigned order = ctx_.frames[p].order();
    MEMD_ASSERT(ctx_.frames[p].state() == FrameState::kBuddy);
    zone->del_page_from_free_list(p, order, kIsolate);
    p += 1ULL << order;
  }
}

// pagetypeinfo_showblockcount_print() counts the pageblocks of online
// sections only: an offline block's pageblocks leave the zone's row; an
// onlined block's join its new zone's row.
void Machine::set_pageblocks_counted(Zone* zone, Pfn start, Pfn end, bool counted) {
  auto zones = std::make_shared<PageblockZones>(*ctx_.pageblock_zones);
  for (Pfn p = start; p < end; p += kPageblockNrPages) {
    const uint64_t b = p >> kPageblockOrder;
    const unsigned mt = ctx_.pageblocks.get(p);
    if (counted) {
      zones->first[b] = static_cast<uint16_t>(zone->global_idx + 1);
      zone->block_count[mt]++;
    } else if (zones->first[b]) {
      ctx_.zones[zones->first[b] - 1]->block_count[mt]--;
      zones->first[b] = 0;
    }
  }
  ctx_.pageblock_zones = std::move(zones);
}

void Machine::recount_pageblock_blocks() {
  for (Zone* z : ctx_.zones) {
    z->block_count.fill(0);
  }
  const PageblockZones& counted = *ctx_.pageblock_zones;
  for (size_t b = 0; b < counted.first.size(); ++b) {
    if (counted.first[b] == 0) continue;
    ctx_.zones[counted.first[b] - 1]->block_count[ctx_.pageblocks.get(b << kPageblockOrder)]++;
  }
  for (const auto& [b, counter] : counted.second) {
    ctx_.zones[counter - 1]->block_count[ctx_.pageblocks.get(b << kPageblockOrder)]++;
  }
}

// From the boot rows (restore_state() runs on a freshly booted machine):
// each offline block's pageblocks out of them, each block onlined into
// another zone counted in that zone's row.
void Machine::reset_pageblock_zones_from_blocks() {
  auto zones = std::make_shared<PageblockZones>(*ctx_.pageblock_zones);
  const uint64_t per_block = memory_blocks_.pages_per_block();
  for (const MemoryBlock& mb : memory_blocks_.blocks()) {
    const Pfn start = memory_blocks_.start_pfn(mb);
    for (Pfn p = start; p < start + per_block; p += kPageblockNrPages) {
      const uint64_t b = p >> kPageblockOrder;
      if (b >= zones->first.size()) break;
      if (mb.state == MemoryBlockState::kOffline) {
        zones->first[b] = 0;
      } else if (mb.zone) {
        const unsigned g = zones_[mb.nid][*mb.zone]->global_idx;
        if (zones->first[b] != 0) zones->first[b] = static_cast<uint16_t>(g + 1);
      }
    }
  }
  ctx_.pageblock_zones = std::move(zones);
}

// shrink_zone_span(): only a block at the zone's start or end moves it, to
// the next (previous) pfn still in the zone, section by section; a zone
// with no such pfn left becomes empty (start 0, span 0).
void Machine::shrink_zone_span(Zone* zone, Pfn start, Pfn end) {
  auto in_zone = [&](Pfn p) { return pfn_zone_global_idx(p) == zone->global_idx; };
  if (zone->start_pfn == start) {
    Pfn p = end;
    while (p < zone->end_pfn() && !in_zone(p)) {
      p += kPagesPerSection;
    }
    if (p < zone->end_pfn()) {
      zone->spanned = zone->end_pfn() - p;
      zone->start_pfn = p;
    } else {
      zone->start_pfn = 0;
      zone->spanned = 0;
    }
  } else if (zone->end_pfn() == end) {
    Pfn p = start;
    while (p > zone->start_pfn && !in_zone(p - 1)) {
      p -= kPagesPerSection;
    }
    if (p > zone->start_pfn) {
      zone->spanned = p - zone->start_pfn;
    } else {
      zone->start_pfn = 0;
      zone->spanned = 0;
    }
  }
}

// resize_zone_range(): an empty zone starts at the block; else the span
// grows to cover it.
void Machine::resize_zone_range(Zone* zone, Pfn start, Pfn end) {
  if (zone->spanned == 0) {
    zone->start_pfn = start;
    zone->spanned = end - start;
    return;
  }
  const Pfn old_end = zone->end_pfn();
  zone->start_pfn = std::min(zone->start_pfn, start);
  zone->spanned = std::max(old_end, end) - zone->start_pfn;
}

// init_per_zone_wmark_min(), then khugepaged_min_free_kbytes_update().
void Machine::init_per_zone_wmark_min() {
  calculate_min_free_kbytes();
  setup_per_zone_wmarks();
  refresh_zone_stat_thresholds();
  setup_per_zone_lowmem_reserve();
  if (thp_enabled_) set_recommended_min_free_kbytes();
}

// What memory_block_offline()/offline_pages() refuse before touching
// anything: no block, a block already offline, one over several zones
// (mem->zone NULL), one with holes.
HotplugResult Machine::offline_refusal(const MemoryBlock* block, uint64_t id) const {
  HotplugResult r;
  r.block = id;
  if (!block) {
    r.error = ENOENT;
    r.reason = "no memory block " + std::to_string(id);
    return r;
  }
  r.start_pfn = memory_blocks_.start_pfn(*block);
  r.nr_pages = memory_blocks_.pages_per_block();
  if (block->state == MemoryBlockState::kOffline) {
    r.error = EINVAL;
    r.reason = "the block is already offline";
  } else if (!block->zone) {
    r.error = EINVAL;
    r.reason = "the block spans several zones";
  } else {
    if (!range_is_ram(layout_, r.start_pfn, r.start_pfn + r.nr_pages)) {
      r.error = EINVAL;
      r.reason = "memory holes";
    }
  }
  return r;
}

HotplugResult Machine::offline_block(uint64_t block_id) {
  MemoryBlock* block = memory_blocks_.find(block_id);
  HotplugResult r = offline_refusal(block, block_id);
  if (!r.ok()) return r;
  const Pfn start = r.start_pfn, end = start + r.nr_pages;
  Zone* zone = zones_[block->nid][*block->zone].get();
  r.zone_name = std::string(zone->name);
  zone_pcp_disable(zone);
  if (!start_isolate_page_range(zone, start, end)) {
    zone_pcp_enable(zone);
    r.error = EBUSY;
    r.reason = "failure to isolate range";
    return r;
  }
  while (!movable_heads_descending(start, end).empty()) {
    if (migrate_range(zone, start, end, &r) == 0) {
      undo_isolate_page_range(zone, start, end);
      zone_pcp_enable(zone);
      r.error = EINTR;
      r.reason = "signal backoff";
      return r;
    }
  }
  offline_isolated_pages(zone, start, end);
  zone_pcp_enable(zone);
  zone->managed -= r.nr_pages;
  zone->present -= r.nr_pages;
  offlined_pages_ += static_cast<int64_t>(r.nr_pages);
  set_pageblocks_counted(zone, start, end, false);
  block->state = MemoryBlockState::kOffline;
  block->zone.reset();
  init_per_zone_wmark_min();
  if (!zone->populated()) {
    zone->pcp.clear();
    build_all_zonelists();
  }
  shrink_zone_span(zone, start, end);
  return r;
}

HotplugResult Machine::online_block(uint64_t block_id, OnlineType type) {
  MemoryBlock* block = memory_blocks_.find(block_id);
  HotplugResult r;
  r.block = block_id;
  if (!block) {
    r.error = ENOENT;
    r.reason = "no memory block " + std::to_string(block_id);
    return r;
  }
  r.start_pfn = memory_blocks_.start_pfn(*block);
  r.nr_pages = memory_blocks_.pages_per_block();
  if (block->state != MemoryBlockState::kOffline) {
    r.error = EINVAL;
    r.reason = "the block is already online";
    return r;
  }
  const Pfn start = r.start_pfn, end = start + r.nr_pages;
  const unsigned idx =
      zone_for_pfn_range(type, layout_.arch, zone_spans(block->nid), start, r.nr_pages);
  Zone* zone = zones_[block->nid][idx].get();
  r.zone_name = std::string(zone->name);
  // move_pfn_range_to_zone(): the span, the block's zone, its pageblocks
  // MOVABLE + isolated.
  resize_zone_range(zone, start, end);
  block->state = MemoryBlockState::kOnline;
  block->zone = idx;
  for (Pfn p = start; p < end; p += kPageblockNrPages) {
    ctx_.write_pageblock(p, kMovable | PageblockTable::kIsolateBit);
  }
  set_pageblocks_counted(zone, start, end, true);
  const bool was_populated = zone->populated();
  if (!was_populated) zone->pcp.assign(static_cast<size_t>(nr_cpus()), PerCpuPages{});
  // online_pages_range(): MAX_ORDER chunks, __free_pages_core() to the tail.
  for (Pfn p = start; p < end; p += kMaxOrderNrPages) {
    zone->free_one_page(p, kMaxPageOrder, true);
  }
  zone->managed += r.nr_pages;
  zone->present += r.nr_pages;
  if (!was_populated) build_all_zonelists();
  undo_isolate_page_range(zone, start, end);
  init_per_zone_wmark_min();
  return r;
}

}  // namespace memd
