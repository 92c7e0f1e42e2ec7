#include "core/zone.h"

#include "core/assert.h"
#include "core/kernel_math.h"

#include <algorithm>

namespace memd {
namespace {

// fallbacks[] in mm/page_alloc.c
constexpr unsigned kFallbacks[kMigratePcpTypes][kMigratePcpTypes - 1] = {
    {kReclaimable, kMovable},    // Unmovable
    {kReclaimable, kUnmovable},  // Movable
    {kUnmovable, kMovable},      // Reclaimable
};

}  // namespace

// --- MemContext ----------------------------------------------------------------------------

void MemContext::write_pageblock(Pfn pfn, uint8_t raw) {
  const unsigned old_mt = pageblocks.get(pfn);
  pageblocks.set_raw(pfn, raw);
  const unsigned new_mt = pageblocks.get(pfn);
  if (old_mt == new_mt) return;
  const uint64_t block = pfn >> kPageblockOrder;
  const PageblockZones& counted = *pageblock_zones;
  if (block < counted.first.size() && counted.first[block]) {
    Zone* z = zones[counted.first[block] - 1];
    z->block_count[old_mt]--;
    z->block_count[new_mt]++;
  }
  for (const auto& [b, counter] : counted.second) {
    if (b != block) continue;
    Zone* z = zones[counter - 1];
    z->block_count[old_mt]--;
    z->block_count[new_mt]++;
  }
}

void MemContext::set_pageblock_migratetype(Pfn pfn, unsigned mt) {
  MEMD_ASSERT(mt != kIsolate);
  if (mobility_disabled && mt < kMigratePcpTypes) mt = kUnmovable;
  uint8_t raw = pageblocks.raw(pfn);
  raw = static_cast<uint8_t>((raw & ~(PageblockTable::kMigrateMask | PageblockTable::kIsolateBit)) |
                             mt);
  write_pageblock(pfn, raw);
}

void MemContext::emit_extfrag(const ExtfragEvent& e) {
  if (e.change_ownership) {
    ++extfrag_claims;
  } else {
    ++extfrag_steals;
  }
  if (extfrag_listener) extfrag_listener->on_extfrag(e);
  if (tracer) [[unlikely]] {
    KmemRecord r =
        page_record(KmemEvent::kMmPageAllocExtfrag, e.pfn, static_cast<unsigned>(e.alloc_order),
                    static_cast<unsigned>(e.alloc_migratetype));
    r.arg = e.fallback_order;
    r.fallback_migratetype = e.fallback_migratetype;
    r.change_ownership = e.change_ownership;
    trace(r);
  }
}

// The zone-lock tracepoints run with irqs off (spin_lock_irqsave) under the
// pcp lock, if any; mm_page_alloc and mm_page_free with no lock held.
void MemContext::trace(KmemRecord r) const {
  if (!tracer->enabled(r.event)) return;
  r.cpu = trace_cpu;
  if (r.event != KmemEvent::kMmPageAlloc && r.event != KmemEvent::kMmPageFree) {
    r.irqs_off = true;
    r.preempt_depth = static_cast<uint8_t>(pcp_depth + 1);
  }
  tracer->record(r);
}

// --- free list primitives --------------------------------------------------------------------

// account_freepages()
void Zone::account_freepages(int64_t nr_pages, unsigned mt) {
  if (mt == kIsolate) return;
  nr_free_pages += nr_pages;
  if (mt == kHighAtomic) nr_free_highatomic += nr_pages;
}

// __add_to_free_list() + set_buddy_order(). Asserts the kernel's
// VM_WARN_ONCE (the block's pageblock has the list's type) and what
// set_buddy_order() assumes: an aligned block of this zone, in no list yet.
void Zone::add_to_free_list(Pfn pfn, unsigned order, unsigned mt, bool tail) {
  MEMD_ASSERT(order < kNrPageOrders && mt < kMigrateTypes);
  MEMD_ASSERT((pfn & ((1ULL << order) - 1)) == 0);
  MEMD_ASSERT(spans(pfn) && spans(pfn + (1ULL << order) - 1));
  MEMD_ASSERT(frames()[pfn].state() == FrameState::kNone);
  MEMD_ASSERT(block_mt(pfn) == mt);
  load_free_block(pfn, order, mt, tail);
}

// The list insertion and counters of __add_to_free_list(), without its
// preconditions: restoring saved state loads blocks that Machine::check()
// verifies afterwards, and a damaged file must be refused, not abort.
void Zone::load_free_block(Pfn pfn, unsigned order, unsigned mt, bool tail) {
  FreeArea& area = free_area[order];
  frames()[pfn].set(FrameState::kBuddy, order, 0, global_idx);
  if (tail) {
    frames().push_back(&area.free_list[mt], pfn);
  } else {
    frames().push_front(&area.free_list[mt], pfn);
  }
  area.nr[mt]++;
  area.nr_free++;
  ctx->pageblock_free_add(pfn, order);
  if (order >= kPageblockOrder && mt != kIsolate) nr_free_pages_blocks += 1LL << order;
}

// __del_page_from_free_list(). Asserts the kernel's VM_WARN_ONCE (the
// pageblock has the list's type) and that the block is a free block of this
// order in this zone (buddy_order() == order).
void Zone::del_page_from_free_list(Pfn pfn, unsigned order, unsigned mt) {
  MEMD_ASSERT(frames()[pfn].state() == FrameState::kBuddy);
  MEMD_ASSERT(frames()[pfn].order() == order && frames()[pfn].zone_global_idx() == global_idx);
  MEMD_ASSERT(block_mt(pfn) == mt && area_nr_positive(order, mt));
  FreeArea& area = free_area[order];
  frames().remove(&area.free_list[mt], pfn);
  frames()[pfn].clear();
  area.nr[mt]--;
  area.nr_free--;
  ctx->pageblock_free_sub(pfn, order);
  if (order >= kPageblockOrder && mt != kIsolate) nr_free_pages_blocks -= 1LL << order;
}

// move_to_free_list(): to the tail of the new type's list.
void Zone::move_to_free_list(Pfn pfn, unsigned order, unsigned old_mt, unsigned new_mt) {
  FreeArea& area = free_area[order];
  const int64_t nr_pages = 1LL << order;
  frames().move_tail(&area.free_list[old_mt], &area.free_list[new_mt], pfn);
  area.nr[old_mt]--;
  area.nr[new_mt]++;
  account_freepages(-nr_pages, old_mt);
  account_freepages(nr_pages, new_mt);
  if (order >= kPageblockOrder && (old_mt == kIsolate) != (new_mt == kIsolate)) {
    nr_free_pages_blocks += old_mt == kIsolate ? nr_pages : -nr_pages;
  }
}

// expand(): the upper halves go to the list heads; the caller keeps the lowest pfns.
// VM_BUG_ON_PAGE(bad_range()) is asserted for every half.
uint64_t Zone::expand(Pfn pfn, unsigned low, unsigned high, unsigned mt) {
  MEMD_ASSERT(low <= high && high < kNrPageOrders);
  uint64_t size = 1ULL << high;
  uint64_t nr_added = 0;
  while (high > low) {
    high--;
    size >>= 1;
    MEMD_ASSERT(spans(pfn + size));
    add_to_free_list(pfn + size, high, mt, false);
    nr_added += size;
  }
  return nr_added;
}

// page_del_and_expand()
void Zone::page_del_and_expand(Pfn pfn, unsigned low, unsigned high, unsigned mt) {
  int64_t nr_pages = 1LL << high;
  del_page_from_free_list(pfn, high, mt);
  nr_pages -= static_cast<int64_t>(expand(pfn, low, high, mt));
  account_freepages(-nr_pages, mt);
}

// --- allocation -----------------------------------------------------------------------------

// __rmqueue_smallest()
OptPfn Zone::rmqueue_smallest(unsigned order, unsigned mt) {
  for (unsigned current_order = order; current_order < kNrPageOrders; ++current_order) {
    const PageList& list = free_area[current_order].free_list[mt];
    if (list.empty()) continue;
    Pfn pfn = list.head;
    page_del_and_expand(pfn, order, current_order, mt);
    if (ctx->tracer) [[unlikely]] {
      KmemRecord r = page_record(KmemEvent::kMmPageAllocZoneLocked, pfn, order, mt);
      r.arg = pcp_allowed_order(order) && mt < kMigratePcpTypes;  // percpu_refill
      ctx->trace(r);
    }
    return pfn;
  }
  return std::nullopt;
}

// should_try_claim_block() folded into find_suitable_fallback()
int Zone::find_suitable_fallback(unsigned order, unsigned mt, bool claimable) const {
  if (claimable) {
    bool claim = order >= kPageblockOrder || order >= kPageblockOrder / 2 || mt == kReclaimable ||
                 mt == kUnmovable || ctx->mobility_disabled;
    if (!claim) return -2;
  }
  const FreeArea& area = free_area[order];
  if (area.nr_free == 0) return -1;
  for (unsigned i = 0; i < kMigratePcpTypes - 1; ++i) {
    unsigned fallback_mt = kFallbacks[mt][i];
    if (!area.free_list[fallback_mt].empty()) return static_cast<int>(fallback_mt);
  }
  return -1;
}

// boost_watermark()
bool Zone::boost_watermark() {
  if (!ctx->watermark_boost_factor) return false;
  if (kPageblockNrPages * 4 > managed) return false;
  uint64_t max_boost = mult_frac(watermark[kWmarkHigh], ctx->watermark_boost_factor, 10000);
  if (!max_boost) return false;
  max_boost = std::max(kPageblockNrPages, max_boost);
  watermark_boost = std::min(watermark_boost + kPageblockNrPages, max_boost);
  return true;
}

// prep_move_freepages_block(): the block must lie inside the zone. Counts the
// free pages and the pages of live movable allocations (linux-mm.md §15.3).
bool Zone::prep_move_freepages_block(Pfn pfn, Pfn* start_out, int* num_free,
                                     int* num_movable) const {
  const Pfn start = pfn & ~(kPageblockNrPages - 1);
  const Pfn end = start + kPageblockNrPages;
  if (!spans(start) || !spans(end - 1)) return false;
  *start_out = start;
  if (num_free) {
    *num_free = 0;
    *num_movable = 0;
    for (Pfn p = start; p < end;) {
      const Frame& f = frames()[p];
      switch (f.state()) {
        case FrameState::kBuddy:
          *num_free += 1 << f.order();
          p += 1ULL << f.order();
          break;
        case FrameState::kAllocated:
          if (f.alloc_mt() == kMovable) *num_movable += 1 << f.order();
          p += 1ULL << f.order();
          break;
        case FrameState::kPcp:
          p += 1ULL << f.order();
          break;
        case FrameState::kNone:
          ++p;
          break;
      }
    }
  }
  return true;
}

// __move_freepages_block()
int Zone::move_freepages_block_range(Pfn start, unsigned old_mt, unsigned new_mt) {
  const Pfn end = start + kPageblockNrPages;
  int pages_moved = 0;
  for (Pfn p = start; p < end;) {
    const Frame& f = frames()[p];
    if (f.state() != FrameState::kBuddy) {
      // Heads of allocated and pcp blocks skip their block; tails are never reached.
      p += (f.state() == FrameState::kNone) ? 1 : (1ULL << f.order());
      continue;
    }
    const unsigned order = f.order();
    move_to_free_list(p, order, old_mt, new_mt);
    p += 1ULL << order;
    pages_moved += 1 << order;
  }
  return pages_moved;
}

// move_freepages_block()
int Zone::move_freepages_block(Pfn pfn, unsigned old_mt, unsigned new_mt) {
  Pfn start = 0;
  if (!prep_move_freepages_block(pfn, &start, nullptr, nullptr)) return -1;
  int res = move_freepages_block_range(start, old_mt, new_mt);
  ctx->set_pageblock_migratetype(start, new_mt);
  return res;
}

// change_pageblock_range()
void Zone::change_pageblock_range(Pfn pfn, unsigned order, unsigned mt) {
  uint64_t nr_pageblocks = 1ULL << (order - kPageblockOrder);
  while (nr_pageblocks--) {
    ctx->set_pageblock_migratetype(pfn, mt);
    pfn += kPageblockNrPages;
  }
}

// try_to_claim_block()
OptPfn Zone::try_to_claim_block(Pfn pfn, unsigned current_order, unsigned order,
                                unsigned start_type, unsigned block_type, unsigned alloc_flags) {
  if (current_order >= kPageblockOrder) {
    del_page_from_free_list(pfn, current_order, block_type);
    account_freepages(-(1LL << current_order), block_type);
    change_pageblock_range(pfn, current_order, start_type);
    uint64_t nr_added = expand(pfn, order, current_order, start_type);
    account_freepages(static_cast<int64_t>(nr_added), start_type);
    return pfn;
  }
  if (boost_watermark() && (alloc_flags & alloc::kKswapd)) boosted_watermark = true;

  Pfn start = 0;
  int free_pages = 0, movable_pages = 0;
  if (!prep_move_freepages_block(pfn, &start, &free_pages, &movable_pages)) return std::nullopt;
  int alike_pages = 0;
  if (start_type == kMovable) {
    alike_pages = movable_pages;
  } else if (block_type == kMovable) {
    alike_pages = static_cast<int>(kPageblockNrPages) - (free_pages + movable_pages);
  }
  if (free_pages + alike_pages >= (1 << (kPageblockOrder - 1)) || ctx->mobility_disabled) {
    move_freepages_block_range(start, block_type, start_type);
    ctx->set_pageblock_migratetype(start, start_type);
    return rmqueue_smallest(order, start_type);
  }
  return std::nullopt;
}

// __rmqueue_claim(): the largest fallback block first.
OptPfn Zone::rmqueue_claim(unsigned order, unsigned start_mt, unsigned alloc_flags) {
  int min_order = static_cast<int>(order);
  if (order < kPageblockOrder && (alloc_flags & alloc::kNofragment)) min_order = kPageblockOrder;
  for (int current_order = kMaxPageOrder; current_order >= min_order; --current_order) {
    int fallback_mt = find_suitable_fallback(current_order, start_mt, true);
    if (fallback_mt == -1) continue;
    if (fallback_mt == -2) break;
    Pfn pfn = free_area[current_order].free_list[fallback_mt].head;
    auto page = try_to_claim_block(pfn, current_order, order, start_mt, fallback_mt, alloc_flags);
    if (page) {
      ctx->emit_extfrag({*page, static_cast<int>(order), current_order, static_cast<int>(start_mt),
                         fallback_mt, ctx->pageblocks.get(*page) == start_mt, nid, idx});
      return page;
    }
  }
  return std::nullopt;
}

// __rmqueue_steal(): the smallest fallback block, keeping its type.
OptPfn Zone::rmqueue_steal(unsigned order, unsigned start_mt) {
  for (unsigned current_order = order; current_order < kNrPageOrders; ++current_order) {
    int fallback_mt = find_suitable_fallback(current_order, start_mt, false);
    if (fallback_mt == -1) continue;
    Pfn pfn = free_area[current_order].free_list[fallback_mt].head;
    page_del_and_expand(pfn, order, current_order, fallback_mt);
    ctx->emit_extfrag({pfn, static_cast<int>(order), static_cast<int>(current_order),
                       static_cast<int>(start_mt), fallback_mt,
                       ctx->pageblocks.get(pfn) == start_mt, nid, idx});
    return pfn;
  }
  return std::nullopt;
}

// __rmqueue() (no CMA)
OptPfn Zone::rmqueue_inner(unsigned order, unsigned mt, unsigned alloc_flags, RmqueueMode* mode) {
  OptPfn page;
  switch (*mode) {
    case RmqueueMode::kNormal:
      page = rmqueue_smallest(order, mt);
      if (page) return page;
      [[fallthrough]];
    case RmqueueMode::kCma:
      [[fallthrough]];
    case RmqueueMode::kClaim:
      page = rmqueue_claim(order, mt, alloc_flags);
      if (page) {
        *mode = RmqueueMode::kNormal;
        return page;
      }
      [[fallthrough]];
    case RmqueueMode::kSteal:
      if (!(alloc_flags & alloc::kNofragment)) {
        page = rmqueue_steal(order, mt);
        if (page) {
          *mode = RmqueueMode::kSteal;
          return page;
        }
      }
  }
  return std::nullopt;
}

// rmqueue_bulk(): the blocks go to the list tail, in the order taken.
int Zone::rmqueue_bulk(unsigned order, int count, PageList* list, unsigned mt,
                       unsigned alloc_flags) {
  RmqueueMode mode = RmqueueMode::kNormal;
  int i = 0;
  for (; i < count; ++i) {
    auto page = rmqueue_inner(order, mt, alloc_flags, &mode);
    if (!page) break;
    frames()[*page].set(FrameState::kPcp, order, 0, global_idx);
    frames().push_back(list, *page);
  }
  return i;
}

// reserve_highatomic_pageblock()
void Zone::reserve_highatomic_pageblock(Pfn pfn, unsigned order) {
  if (managed / 100 < kPageblockNrPages) return;
  const uint64_t max_managed = (managed / 100 + kPageblockNrPages - 1) & ~(kPageblockNrPages - 1);
  if (nr_reserved_highatomic >= max_managed) return;
  const unsigned mt = ctx->pageblocks.get(pfn);
  if (!migratetype_is_mergeable(mt)) return;
  if (order < kPageblockOrder) {
    if (move_freepages_block(pfn, mt, kHighAtomic) == -1) return;
    nr_reserved_highatomic += kPageblockNrPages;
  } else {
    change_pageblock_range(pfn, order, kHighAtomic);
    nr_reserved_highatomic += 1ULL << order;
  }
}

// --- freeing ------------------------------------------------------------------------------

bool Zone::page_is_buddy(Pfn buddy, unsigned order, unsigned zone_global_idx) const {
  const Frame& f = frames()[buddy];
  return f.state() == FrameState::kBuddy && f.order() == order &&
         f.zone_global_idx() == zone_global_idx;
}

// __free_one_page(). Asserts the kernel's VM_BUG_ONs: a valid migratetype,
// pfn aligned to the order, the block inside this zone (bad_range), and that
// the block is not already free or on a pcp list (PAGE_FLAGS_CHECK_AT_PREP).
void Zone::free_one_page_inner(Pfn pfn, unsigned order, unsigned mt, bool to_tail) {
  MEMD_ASSERT(mt < kMigrateTypes && order < kNrPageOrders);
  MEMD_ASSERT((pfn & ((1ULL << order) - 1)) == 0);
  MEMD_ASSERT(spans(pfn) && spans(pfn + (1ULL << order) - 1));
  MEMD_ASSERT(ctx->zone_global_idx_of(pfn) == global_idx);
  MEMD_ASSERT(frames()[pfn].state() == FrameState::kNone);
  account_freepages(1LL << order, mt);
  Pfn buddy_pfn = 0;
  while (order < kMaxPageOrder) {
    unsigned buddy_mt = mt;
    buddy_pfn = pfn ^ (1ULL << order);
    if (!page_is_buddy(buddy_pfn, order)) break;
    if (order >= kPageblockOrder) {
      buddy_mt = block_mt(buddy_pfn);
      if (mt != buddy_mt &&
          (!migratetype_is_mergeable(mt) || !migratetype_is_mergeable(buddy_mt))) {
        break;
      }
    }
    del_page_from_free_list(buddy_pfn, order, buddy_mt);
    if (buddy_mt != mt) change_pageblock_range(buddy_pfn, order, mt);
    pfn &= buddy_pfn;
    order++;
  }
  if (!to_tail && order < kMaxPageOrder - 1) {
    // buddy_merge_likely(): is the buddy of our parent free at the next order?
    // page_is_buddy() compares with the parent page's zone, which is not ours
    // when the parent is our (unmerged) buddy across a zone boundary.
    const Pfn higher_page_pfn = buddy_pfn & pfn;
    const unsigned higher_zone =
        higher_page_pfn == pfn ? global_idx : ctx->zone_global_idx_of(higher_page_pfn);
    to_tail = page_is_buddy(higher_page_pfn ^ (1ULL << (order + 1)), order + 1, higher_zone);
  }
  add_to_free_list(pfn, order, mt, to_tail);
}

// free_one_page() + split_large_buddy(). The kernel takes zone->lock here;
// core/ is single-threaded and has no lock (see the naming rule in zone.h).
void Zone::free_one_page(Pfn pfn, unsigned order, bool to_tail) {
  const Pfn end = pfn + (1ULL << order);
  ctx->pgfree += 1ULL << order;
  const unsigned piece = std::min(order, kPageblockOrder);
  do {
    free_one_page_inner(pfn, piece, block_mt(pfn), to_tail);
    pfn += 1ULL << piece;
  } while (pfn != end);
}

// --- per-cpu lists ----------------------------------------------------------------------------

bool Zone::pcp_allowed_order(unsigned order) const {
  if (order <= kPageAllocCostlyOrder) return true;
  return ctx->thp_configured && order == ctx->pcp_thp_order;
}

unsigned Zone::order_to_pindex(unsigned mt, unsigned order) const {
  if (order > kPageAllocCostlyOrder) return kNrLowOrderPcpLists + (mt == kMovable ? 1 : 0);
  return kMigratePcpTypes * order + mt;
}

unsigned Zone::pindex_to_order(unsigned pindex) const {
  if (pindex >= kNrLowOrderPcpLists) return ctx->pcp_thp_order;
  return pindex / kMigratePcpTypes;
}

// nr_pcp_alloc()
int Zone::nr_pcp_alloc(PerCpuPages* pcp, unsigned order) {
  const int base_batch = pcp->batch;
  const int high_min = pcp->high_min, high_max = pcp->high_max;
  int high = pcp->high = kclamp(pcp->high, high_min, high_max);
  if (high < base_batch) return 1;
  int batch = order ? base_batch : (base_batch << pcp->alloc_factor);
  if (high_min != high_max && !below_high) high = pcp->high = std::min(high + batch, high_max);
  if (!order) {
    int max_nr_alloc = std::max(high - pcp->count - base_batch, base_batch);
    if (batch <= max_nr_alloc && pcp->alloc_factor < kPcpBatchScaleMax) pcp->alloc_factor++;
    batch = std::min(batch, max_nr_alloc);
  }
  if (batch > 1) batch = std::max(batch >> order, 2);
  return batch;
}

// nr_pcp_high() (ZONE_RECLAIM_ACTIVE is never set: memd has no reclaim)
int Zone::nr_pcp_high(PerCpuPages* pcp, int batch, bool free_high) {
  const int high_min = pcp->high_min, high_max = pcp->high_max;
  int high = pcp->high = kclamp(pcp->high, high_min, high_max);
  if (!high) return 0;
  if (free_high) {
    pcp->high = std::max(high - (batch << kPcpBatchScaleMax), high_min);
    return 0;
  }
  if (high_min == high_max) return high;
  if (below_high) {
    int free_count = std::max(pcp->free_count, batch);
    pcp->high = std::max(high - free_count, high_min);
    high = std::max(pcp->count, high_min);
  } else if (pcp->count >= high) {
    int need_high = pcp->free_count + batch;
    if (pcp->high < need_high) pcp->high = kclamp(need_high, high_min, high_max);
  }
  return high;
}

// nr_pcp_free()
int Zone::nr_pcp_free(const PerCpuPages& pcp, int batch, int high, bool free_high) {
  if (free_high) return std::min(pcp.count, batch << kPcpBatchScaleMax);
  if (high < batch) return 1;
  const int min_nr_free = batch;
  const int max_nr_free = high - batch;
  return kclamp(pcp.free_count, min_nr_free, max_nr_free);
}

// free_pcppages_bulk(): round robin from `pindex`, oldest (tail) first.
void Zone::free_pcppages_bulk(PerCpuPages* pcp, int count, unsigned pindex_start) {
  count = std::min(pcp->count, count);
  int pindex = static_cast<int>(pindex_start) - 1;
  while (count > 0) {
    PageList* list;
    do {
      if (++pindex > static_cast<int>(kNrPcpLists) - 1) pindex = 0;
      list = &pcp->lists[pindex];
    } while (list->empty());
    const unsigned order = pindex_to_order(pindex);
    const int nr_pages = 1 << order;
    do {
      const Pfn pfn = list->tail;
      const unsigned mt = block_mt(pfn);
      MEMD_ASSERT(frames()[pfn].state() == FrameState::kPcp && frames()[pfn].order() == order);
      frames().remove(list, pfn);
      frames()[pfn].clear();
      count -= nr_pages;
      pcp->count -= nr_pages;
      free_one_page_inner(pfn, order, mt, false);
      if (ctx->tracer) [[unlikely]] {
        ctx->trace(page_record(KmemEvent::kMmPagePcpuDrain, pfn, order, mt));
      }
    } while (count > 0 && !list->empty());
  }
}

// free_frozen_page_commit(). Asserts what free_frozen_pages() checked
// before: an order the pcp lists take, a pcp migratetype, an aligned block of
// this zone that is in no list.
void Zone::free_pcp_commit(PerCpuPages* pcp, Pfn pfn, unsigned mt, unsigned order) {
  MEMD_ASSERT(pcp_allowed_order(order) && mt < kMigratePcpTypes);
  MEMD_ASSERT((pfn & ((1ULL << order) - 1)) == 0 && spans(pfn));
  MEMD_ASSERT(frames()[pfn].state() == FrameState::kNone);
  pcp->alloc_factor >>= 1;
  ctx->pgfree += 1ULL << order;
  const unsigned pindex = order_to_pindex(mt, order);
  frames()[pfn].set(FrameState::kPcp, order, 0, global_idx);
  frames().push_front(&pcp->lists[pindex], pfn);
  pcp->count += 1 << order;

  const int batch = pcp->batch;
  bool free_high = false;
  if (order && order <= kPageAllocCostlyOrder) {
    // PCPF_FREE_HIGH_BATCH is never set (it depends on the host's cache size).
    free_high = pcp->free_count >= batch + pcp->high_min / 2 && pcp->prev_free_high_order;
    pcp->prev_free_high_order = true;
  } else if (pcp->prev_free_high_order) {
    pcp->prev_free_high_order = false;
  }
  if (pcp->free_count < (batch << kPcpBatchScaleMax)) pcp->free_count += 1 << order;

  const int high = nr_pcp_high(pcp, batch, free_high);
  if (pcp->count < high) return;
  ctx->pcp_depth = 2;  // pcp_spin_trylock()
  free_pcppages_bulk(pcp, nr_pcp_free(*pcp, batch, high, free_high), pindex);
  ctx->pcp_depth = 0;
  if (below_high && watermark_ok(0, wmark(kWmarkHigh), ctx->movable_idx, 0)) {
    below_high = false;
  }
}

// drain_pages_zone()
void Zone::drain_pages(PerCpuPages* pcp) {
  int count;
  do {
    count = pcp->count;
    if (count) {
      int to_drain = std::min(count, pcp->batch << kPcpBatchScaleMax);
      ctx->pcp_depth = 1;  // spin_lock(&pcp->lock)
      free_pcppages_bulk(pcp, to_drain, 0);
      ctx->pcp_depth = 0;
      count -= to_drain;
    }
  } while (count);
}

// --- watermarks -------------------------------------------------------------------------------

// __zone_watermark_unusable_free() (no CMA)
int64_t Zone::watermark_unusable_free(unsigned order, unsigned alloc_flags) const {
  int64_t unusable_free = (1LL << order) - 1;
  if (!(alloc_flags & alloc::kReserves)) unusable_free += nr_free_highatomic;
  return unusable_free;
}

// __zone_watermark_ok()
bool Zone::watermark_ok_inner(unsigned order, uint64_t mark, unsigned highest_zoneidx,
                              unsigned alloc_flags, int64_t free_pages) const {
  int64_t min = static_cast<int64_t>(mark);
  free_pages -= watermark_unusable_free(order, alloc_flags);
  if (alloc_flags & alloc::kReserves) {
    if (alloc_flags & alloc::kMinReserve) {
      min -= min / 2;
      if (alloc_flags & alloc::kNonBlock) min -= min / 4;
    }
    if (alloc_flags & alloc::kOom) min -= min / 2;
  }
  if (free_pages <= min + lowmem_reserve[highest_zoneidx]) return false;
  if (!order) return true;
  for (unsigned o = order; o < kNrPageOrders; ++o) {
    const FreeArea& area = free_area[o];
    if (!area.nr_free) continue;
    for (unsigned mt = 0; mt < kMigratePcpTypes; ++mt) {
      if (!area.free_list[mt].empty()) return true;
    }
    if ((alloc_flags & (alloc::kHighatomic | alloc::kOom)) &&
        !area.free_list[kHighAtomic].empty()) {
      return true;
    }
  }
  return false;
}

// zone_watermark_fast()
bool Zone::watermark_fast(unsigned order, uint64_t mark, unsigned highest_zoneidx,
                          unsigned alloc_flags) const {
  const int64_t free_pages = nr_free_pages;
  if (!order) {
    int64_t usable_free = free_pages;
    const int64_t reserved = watermark_unusable_free(0, alloc_flags);
    usable_free -= std::min(usable_free, reserved);
    if (usable_free > static_cast<int64_t>(mark) + lowmem_reserve[highest_zoneidx]) return true;
  }
  if (watermark_ok_inner(order, mark, highest_zoneidx, alloc_flags, free_pages)) return true;
  if (!order && (alloc_flags & alloc::kMinReserve) && watermark_boost &&
      (alloc_flags & alloc::kWmarkMask) == alloc::kWmarkMin) {
    return watermark_ok_inner(order, watermark[kWmarkMin], highest_zoneidx, alloc_flags,
                              free_pages);
  }
  return false;
}

}  // namespace memd
