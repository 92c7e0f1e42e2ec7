// Freeing (mm/page_alloc.c __free_frozen_pages(), __free_pages_ok()) and the
// look-ups of live allocations by pfn and by id.
#include "core/machine.h"

#include "core/format.h"
#include "core/id_index.h"

namespace memd {

Allocation Machine::describe(Pfn pfn, const Frame& f) const {
  const Zone* z = zone_by_global_idx(f.zone_global_idx());
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

// __free_frozen_pages() / __free_pages_ok(): orders the pcp lists take go
// there (Isolate blocks straight to the buddy lists, HighAtomic and CMA
// blocks as Movable); larger orders to the buddy lists. Left out:
// free_pages_prepare()'s bad-page checks, poisoning and KASAN (Machine::free_pfn
// refuses what is not a live allocation's head), and the pcp trylock failure
// path (core/ is single-threaded).
void Machine::free_block(Pfn pfn, int cpu) {
  if (ctx_.tracer) {
    [[unlikely]] trace_mm_page_free(pfn, cpu);
  }
  Frame& f = ctx_.frames[pfn];
  const unsigned order = f.order();
  Zone* zone = zone_by_global_idx(f.zone_global_idx());
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

// free_pages_prepare()'s tracepoint.
void Machine::trace_mm_page_free(Pfn pfn, int cpu) {
  ctx_.trace_cpu = static_cast<uint16_t>(cpu);
  ctx_.trace(page_record(KmemEvent::kMmPageFree, pfn, ctx_.frames[pfn].order()));
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

namespace {

bool selects(const AllocationFilter& f, const Allocation& a) {
  return a.id > f.after && (!f.nid || *f.nid == a.nid) &&
         (!f.zone_idx || *f.zone_idx == a.zone_idx) &&
         (!f.migratetype || *f.migratetype == a.migratetype) && (!f.order || *f.order == a.order);
}

}  // namespace

AllocationList Machine::allocations(const AllocationFilter& filter) const {
  AllocationList list;
  for (auto [id, pfn] : ids_->sorted()) {
    const Allocation a = describe(pfn, ctx_.frames[pfn]);
    if (!selects(filter, a)) continue;
    ++list.matched;
    if (list.allocations.size() < filter.limit) list.allocations.push_back(a);
  }
  return list;
}

// Why free_pfn() refuses (pfn, cpu), checked in order. Out of line and
// cold, like Machine::alloc_refusal().
Error Machine::free_refusal(Pfn pfn, int cpu) const {
  if (cpu < 0 || cpu >= nr_cpus()) {
    return make_error("cpu " + std::to_string(cpu) + " does not exist (the machine has CPUs 0-" +
                      std::to_string(nr_cpus() - 1) + ")");
  }
  if (pfn >= ctx_.frames.end()) {
    return make_error("pfn " + hex(pfn) + " is beyond the end of memory");
  }
  if (ctx_.frames[pfn].state() == FrameState::kNone) {
    return make_error("pfn " + hex(pfn) + " is not the first page of a live allocation");
  }
  return make_error("pfn " + hex(pfn) + " is free (double free?)");
}

Result<Allocation> Machine::free_pfn(Pfn pfn, int cpu) {
  if (cpu < 0 || cpu >= nr_cpus() || pfn >= ctx_.frames.end() ||
      ctx_.frames[pfn].state() != FrameState::kAllocated) {
    return free_refusal(pfn, cpu);
  }
  const Frame& f = ctx_.frames[pfn];
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

}  // namespace memd
