// The allocation path of the page allocator (mm/page_alloc.c): __alloc_pages(),
// get_page_from_freelist(), rmqueue() and its pcp and buddy halves, and the
// slow path as linux-mm.md §15.4 fixes it. The buddy-list steps themselves are
// Zone's (core/zone.cpp).
#include "core/machine.h"

#include "core/assert.h"
#include "core/id_index.h"
#include "core/show_mem.h"

#include <algorithm>
#include <cstdio>

namespace memd {

// warn_alloc(): "mode:%#x(%pGg)". The kernel's %#x prints 0 as "0x0", and
// %pGg prints nothing for 0 (show_gfp_flags' "none" is the tracepoint's).
std::string alloc_failure_message(unsigned order, Gfp gfp) {
  char mode[16];
  std::snprintf(mode, sizeof mode, "0x%x", gfp);
  return "page allocation failure: order:" + std::to_string(order) + ", mode:" + mode + "(" +
         (gfp ? format_gfp(gfp) : std::string()) + "), nodemask=(null)";
}

std::optional<size_t> Machine::first_zone(const std::vector<unsigned>& zl, unsigned highest) const {
  for (size_t i = 0; i < zl.size(); ++i) {
    if (zone_by_global_idx(zl[i])->idx <= highest) return i;
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

// rmqueue_pcplist(). The kernel takes the pcp lock with a trylock and falls
// back to the buddy lists when it fails; core/ is single-threaded, so the
// lock always succeeds and memd has no such fallback.
OptPfn Machine::rmqueue_pcplist(Zone* preferred, Zone* zone, unsigned order, unsigned mt,
                                unsigned alloc_flags, int cpu) {
  PerCpuPages* pcp = &zone->pcp[cpu];
  pcp->free_count >>= 1;
  PageList* list = &pcp->lists[zone->order_to_pindex(mt, order)];
  if (list->empty()) {
    int batch = zone->nr_pcp_alloc(pcp, order);
    ctx_.pcp_depth = 2;  // pcp_spin_trylock()
    int alloced = zone->rmqueue_bulk(order, batch, list, mt, alloc_flags);
    ctx_.pcp_depth = 0;
    pcp->count += alloced << order;
    if (list->empty()) return std::nullopt;
  }
  Pfn pfn = ctx_.frames.pop_front(list);
  MEMD_ASSERT(ctx_.frames[pfn].state() == FrameState::kPcp && ctx_.frames[pfn].order() == order);
  ctx_.frames[pfn].clear();
  pcp->count -= 1 << order;
  zone->pgalloc += 1ULL << order;
  zone_statistics(preferred, zone, cpu);
  return pfn;
}

// rmqueue_buddy(): the zone-lock half of rmqueue(). The kernel's
// check_new_pages() (bad-page checks under CONFIG_DEBUG_VM) has nothing to
// check in memd: a block leaving the free lists is asserted in
// Zone::del_page_from_free_list() instead.
OptPfn Machine::rmqueue_buddy(Zone* preferred, Zone* zone, unsigned order, unsigned alloc_flags,
                              unsigned mt, int cpu) {
  OptPfn page;
  if (alloc_flags & alloc::kHighatomic) page = zone->rmqueue_smallest(order, kHighAtomic);
  if (!page) {
    RmqueueMode mode = RmqueueMode::kNormal;
    page = zone->rmqueue_inner(order, mt, alloc_flags, &mode);
    if (!page && (alloc_flags & (alloc::kOom | alloc::kNonBlock))) {
      page = zone->rmqueue_smallest(order, kHighAtomic);
    }
    if (!page) return std::nullopt;
  }
  zone->pgalloc += 1ULL << order;
  zone_statistics(preferred, zone, cpu);
  return page;
}

// rmqueue(): the per-cpu lists for small orders, else (or when they are
// empty and cannot be refilled) the buddy lists; then kswapd is woken for a
// zone whose watermark a fallback boosted (ZONE_BOOSTED_WATERMARK).
OptPfn Machine::rmqueue(Zone* preferred, Zone* zone, unsigned order, unsigned alloc_flags,
                        unsigned mt, int cpu) {
  OptPfn page;
  if (zone->pcp_allowed_order(order)) {
    page = rmqueue_pcplist(preferred, zone, order, mt, alloc_flags, cpu);
  }
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
  for (unsigned global_idx : *ac.zonelist) {
    const Zone* z = zone_by_global_idx(global_idx);
    if (z->idx > ac.highest_zoneidx) continue;
    if (!z->managed) continue;
    if (z->nid == last_nid) continue;
    wakeup_kswapd(*z, ac.highest_zoneidx);
    last_nid = z->nid;
  }
}

// get_page_from_freelist(): walks the zonelist from the preferred zone and
// takes the first zone whose watermark allows the allocation. Steps of the
// kernel's walk memd leaves out, because memd has nothing they act on:
// - cpusets (__cpuset_zone_allowed, ALLOC_CPUSET): one cpuset holds all nodes;
// - dirty limits (ac->spread_dirty_pages, node_dirty_ok): there is no page
//   cache, so no dirty pages;
// - node reclaim (node_reclaim_mode, zone_allows_reclaim): nothing is
//   reclaimable (linux-mm.md §15), so a zone below its watermark is skipped;
// - deferred struct page init (_deferred_grow_zone): every memmap is
//   initialised at boot.
OptPfn Machine::get_page_from_freelist(Gfp gfp, unsigned order, unsigned alloc_flags,
                                       const AllocContext& ac, Zone** zone_out) {
  const std::vector<unsigned>& zl = *ac.zonelist;
  Zone* preferred = zone_by_global_idx(zl[ac.preferred]);
  for (;;) {
    const bool no_fallback = alloc_flags & alloc::kNofragment;
    bool restart = false;
    for (size_t i = ac.preferred; i < zl.size(); ++i) {
      Zone* zone = zone_by_global_idx(zl[i]);
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
        ctx_.frames[*page].set(FrameState::kAllocated, order, gfp_migratetype(gfp),
                               zone->global_idx);
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
  for (unsigned global_idx : *ac.zonelist) {
    Zone* zone = zone_by_global_idx(global_idx);
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
    for (unsigned global_idx : *ac.zonelist) {
      const Zone* zone = zone_by_global_idx(global_idx);
      if (zone->idx > ac.highest_zoneidx) continue;
      if (zone->watermark_ok(order, zone->wmark(kWmarkMin), ac.highest_zoneidx, alloc_flags)) {
        ret = true;
        break;
      }
    }
  }
  if (!ret) return unreserve_highatomic_pageblock(ac, true);
  return ret;
}

// __alloc_pages_slowpath() as linux-mm.md §15.4 fixes it for a machine with
// nothing to reclaim and no compaction: kswapd is the instant one of
// wakeup_kswapd(); direct reclaim makes no progress and drains no pcp lists;
// direct compaction is skipped (COMPACT_SKIPPED); there is no OOM killer, so
// __alloc_pages_may_oom() is its last high-watermark attempt only. Memory
// cgroups, cpuset retries and __GFP_NOFAIL's endless loop are left out.
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

OptPfn Machine::alloc_pages_zonelist(const AllocRequest& req, const std::vector<unsigned>& zonelist,
                                     Zone** zone_out) {
  ++alloc_ticks_;
  ctx_.trace_cpu = static_cast<uint16_t>(req.cpu);
  AllocContext ac;
  ac.cpu = req.cpu;
  ac.highest_zoneidx = static_cast<unsigned>(gfp_zone(req.gfp, layout_.arch.arch));
  ac.zonelist = &zonelist;
  ac.migratetype = ctx_.mobility_disabled ? unsigned{kUnmovable} : gfp_migratetype(req.gfp);
  OptPfn page;
  if (auto pref = first_zone(zonelist, ac.highest_zoneidx)) {
    ac.preferred = *pref;
    const unsigned alloc_flags =
        alloc::kWmarkLow | alloc_flags_nofragment(zone_by_global_idx(zonelist[*pref]), req.gfp);
    page = get_page_from_freelist(req.gfp, req.order, alloc_flags, ac, zone_out);
    if (!page) page = alloc_slowpath(req.gfp, req.order, &ac, zone_out);
  }
  if (!page) warn_alloc(req);
  return page;
}

namespace {

// check_request()'s rules, inlined into alloc(): the allocation path pays for
// the comparisons and nothing more.
[[gnu::always_inline]] inline std::optional<AllocRefusal> refusal_of(const AllocRequest& req,
                                                                     int nr_cpus, int nr_nodes,
                                                                     Arch arch) {
  if (req.order > kMaxPageOrder) return AllocRefusal::kOrder;
  if (req.cpu < 0 || req.cpu >= nr_cpus) return AllocRefusal::kCpu;
  if (req.node && (*req.node < 0 || *req.node >= nr_nodes)) return AllocRefusal::kNode;
  if (gfp_zone(req.gfp, arch) < 0) return AllocRefusal::kZoneBad;
  if ((req.gfp & gfp::kMovableMask) == gfp::kMovableMask) {
    return AllocRefusal::kMovableReclaimable;
  }
  return std::nullopt;
}

}  // namespace

std::optional<AllocRefusal> Machine::check_request(const AllocRequest& req) const {
  return refusal_of(req, nr_cpus(), nr_nodes(), layout_.arch.arch);
}

// Why alloc() refuses `req`, in the core's words. Out of line and cold: the
// message building would otherwise be inlined into the allocation path.
Error Machine::alloc_refusal(const AllocRequest& req, AllocRefusal why) const {
  switch (why) {
    case AllocRefusal::kOrder:
      return make_error("order " + std::to_string(req.order) + " is above MAX_PAGE_ORDER (10)");
    case AllocRefusal::kCpu:
      return make_error("cpu " + std::to_string(req.cpu) +
                        " does not exist (the machine has CPUs 0-" + std::to_string(nr_cpus() - 1) +
                        ")");
    case AllocRefusal::kNode:
      return make_error("node " + std::to_string(*req.node) +
                        " does not exist (the machine has nodes 0-" +
                        std::to_string(nr_nodes() - 1) + ")");
    case AllocRefusal::kZoneBad:
      return make_error("GFP flags " + format_gfp(req.gfp) +
                        " combine zone modifiers the kernel rejects (GFP_ZONE_BAD)");
    case AllocRefusal::kMovableReclaimable:
      break;
  }
  return make_error("GFP flags " + format_gfp(req.gfp) +
                    " set both __GFP_MOVABLE and __GFP_RECLAIMABLE");
}

// warn_alloc(): unless __GFP_NOWARN, the rate limit, or a DMA request on a
// machine without DMA memory says otherwise, the failure line with the
// task's cpuset and allowed nodes, then __show_mem() for the zones the
// request could use. dump_stack()'s lines are left out: memd has no kernel
// stack to show.
void Machine::warn_alloc(const AllocRequest& req) {
  if (req.gfp & gfp::kNowarn) return;
  int suppressed = 0;
  const bool allowed = nopage_rs_.allow(alloc_ticks_, &suppressed);
  if (suppressed) {
    log_.printk(PrintkLevel::kWarning,
                "warn_alloc: " + std::to_string(suppressed) + " callbacks suppressed");
  }
  if (!allowed) return;
  const int dma = layout_.arch.index_of(ZoneKind::kDma);
  bool has_managed_dma = false;
  for (int nid = 0; dma >= 0 && nid < nr_nodes(); ++nid) {
    has_managed_dma |= zones_[nid][dma]->managed > 0;
  }
  if ((req.gfp & gfp::kDma) && !has_managed_dma) return;
  // mems_allowed: the root cpuset's, every node with memory (%*pbl).
  std::string mems;
  for (int nid = 0; nid < nr_nodes(); ++nid) {
    if (layout_.nodes[nid].present() == 0) continue;  // N_MEMORY
    int last = nid;
    while (last + 1 < nr_nodes() && layout_.nodes[last + 1].present() > 0) {
      ++last;
    }
    mems += (mems.empty() ? "" : ",") + std::to_string(nid) +
            (last > nid ? "-" + std::to_string(last) : "");
    nid = last;
  }
  log_.printk(PrintkLevel::kWarning, current_comm_ + ": " +
                                         alloc_failure_message(req.order, req.gfp) +
                                         ",cpuset=/,mems_allowed=" + mems);
  show_mem(stats(), static_cast<unsigned>(gfp_zone(req.gfp, layout_.arch.arch)), req.cpu,
           numa_configured(), &log_);
}

// __alloc_pages(): checks the request as the kernel's callers must (order,
// zone modifiers, mobility flags; memd also checks the CPU and node, which
// the kernel takes from the running task), prepares the alloc context, then
// the fast path with ALLOC_WMARK_LOW and the slow path. Left out: memcg
// charging, the task's cpuset and mempolicy (the preferred node is the
// request's or the CPU's), and page_owner/KASAN hooks.
Result<Allocation> Machine::alloc(const AllocRequest& req) {
  if (auto why = refusal_of(req, nr_cpus(), nr_nodes(), layout_.arch.arch)) {
    return alloc_refusal(req, *why);
  }
  ++alloc_ticks_;
  ctx_.trace_cpu = static_cast<uint16_t>(req.cpu);
  const int zone_idx = gfp_zone(req.gfp, layout_.arch.arch);
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
        alloc::kWmarkLow |
        alloc_flags_nofragment(zone_by_global_idx((*ac.zonelist)[pref]), req.gfp);
    page = get_page_from_freelist(req.gfp, req.order, alloc_flags, ac, &zone);
  }
  if (!page) page = alloc_slowpath(req.gfp, req.order, &ac, &zone);
  if (!page) {
    warn_alloc(req);
    if (ctx_.tracer) {
      [[unlikely]] trace_mm_page_alloc(kNoPagePfn, req, ac.migratetype);
    }
    return make_error(alloc_failure_message(req.order, req.gfp));
  }

  const AllocId id = next_id_++;
  ctx_.frames[*page].set_alloc_id(id);
  ids_->insert(id, *page);
  ids_->prefetch(next_id_);
  Allocation a;
  a.id = id;
  a.pfn = *page;
  a.order = req.order;
  a.nid = zone->nid;
  a.zone_idx = zone->idx;
  a.zone_name = zone->name;
  a.migratetype = ac.migratetype;
  if (ctx_.tracer) {
    [[unlikely]] trace_mm_page_alloc(*page, req, ac.migratetype);
  }
  return a;
}

// The tracepoint at the end of __alloc_pages(), for a page or a failure.
void Machine::trace_mm_page_alloc(uint64_t pfn, const AllocRequest& req, unsigned mt) const {
  KmemRecord r = page_record(KmemEvent::kMmPageAlloc, pfn, req.order, mt);
  r.gfp_flags = req.gfp;
  ctx_.trace(r);
}

}  // namespace memd
