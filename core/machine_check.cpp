// The invariant checker (Machine::check): recounts every structure the
// allocator keeps and compares it with the counters, structure by structure:
// the id index, the buddy free lists, the per-cpu lists, the cover of managed
// memory, the pageblock counts, the free pages per pageblock and the global
// page counters. The kernel
// checks some of these piecemeal (VM_BUG_ON_PAGE, check_new_page); memd
// checks them all at once, for tests, fuzzing and restored state.
#include "core/machine.h"

#include "core/format.h"
#include "core/id_index.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory_resource>

namespace memd {

struct Machine::Checker {
  using Ranges = std::pmr::vector<std::pair<Pfn, Pfn>>;

  // The recounts below live in `scratch` (on the stack) while they fit: the
  // fuzz targets check after every step, and allocating them each time was a
  // good part of a check under AddressSanitizer. Larger machines spill to the heap.
  std::array<std::byte, 4096> scratch{};
  std::pmr::monotonic_buffer_resource arena{scratch.data(), scratch.size()};
  const Machine& m;
  const FrameTable& frames;
  CheckReport report;
  std::pmr::vector<Ranges> managed{&arena};  // per zone: the pfns given to the buddy allocator
  std::pmr::vector<uint64_t> allocated_pages{&arena};  // per zone
  uint64_t allocated_heads = 0;
  uint64_t buddy_and_pcp_pages = 0;
  uint64_t pgalloc_total = 0;
  std::pmr::vector<uint64_t> pageblock_free{&arena};  // per pageblock: buddy-free pages, recounted

  // Names a zone in a problem ("node 0 zone Normal"). The names are built
  // only when there is a problem: the checker runs after every step of the
  // fuzz targets, and allocates nothing per zone or block when all is well.
  static std::string zname(const Zone& z) {
    return "node " + std::to_string(z.nid) + " zone " + std::string(zone_kind_name(z.kind));
  }

  // Names a free block in a problem ("node 0 zone Normal: free block 0x... order 3 on
  // the Movable list").
  struct FreeBlockName {
    const Zone& zone;
    Pfn pfn;
    unsigned order, mt;
    std::string text() const {
      return zname(zone) + ": free block " + hex(pfn) + " order " + std::to_string(order) +
             " on the " + std::string(kMigrateTypeNames[mt]) + " list";
    }
  };

  // What one zone's free lists hold, recounted.
  struct FreeCount {
    int64_t free_pages = 0, free_blocks = 0, free_highatomic = 0, isolated = 0;
  };

  explicit Checker(const Machine& machine) : m(machine), frames(machine.ctx_.frames) {
    managed.resize(machine.ctx_.zones.size());
    allocated_pages.assign(machine.ctx_.zones.size(), 0);
    pageblock_free.assign(machine.ctx_.pageblock_free.size(), 0);
  }
  Checker(const Checker&) = delete;
  Checker& operator=(const Checker&) = delete;

  void fail(std::string msg) {
    if (report.problems.size() < 100) report.problems.push_back(std::move(msg));
  }

  void collect_managed_ranges();
  bool in_managed(unsigned zone, Pfn s, Pfn e) const;
  void check_id_index();
  void check_zone(const Zone& z);
  uint64_t check_managed_pages(const Zone& z);
  void check_free_area(const Zone& z, unsigned order, FreeCount* c);
  uint64_t check_free_list(const Zone& z, unsigned order, unsigned mt, FreeCount* c);
  void check_free_block(const Zone& z, Pfn p, unsigned order, unsigned mt,
                        const FreeBlockName& where);
  void check_free_counters(const Zone& z, const FreeCount& c);
  uint64_t check_pcp_lists(const Zone& z);
  void check_block_cover(const Zone& z);
  void check_block_counts(const Zone& z);
  void count_pageblock_free(Pfn p, unsigned order);
  void check_pageblock_free();
  void check_globals();
};

// Managed memory per zone: the boot free ranges, merged where adjacent,
// without the offline memory blocks, each piece in the zone its pfns are in
// now (an onlined block's zone may not be its boot zone).
void Machine::Checker::collect_managed_ranges() {
  const uint64_t per_block = m.memory_blocks_.pages_per_block();
  for (auto [s, e] : m.layout_.free_ranges) {
    for (Pfn p = s; p < e;) {
      auto iv = m.layout_.zone_of(p);
      Pfn stop = std::min(e, iv->end);
      if (per_block) stop = std::min(stop, (p / per_block + 1) * per_block);
      const unsigned zone = m.pfn_zone_global_idx(p);
      if (zone != ~0u) {
        auto& v = managed[zone];
        if (!v.empty() && v.back().second == p) {
          v.back().second = stop;
        } else {
          v.emplace_back(p, stop);
        }
      }
      p = stop;
    }
  }
}

bool Machine::Checker::in_managed(unsigned zone, Pfn s, Pfn e) const {
  const auto& v = managed[zone];
  auto it = std::upper_bound(v.begin(), v.end(), std::make_pair(s, ~Pfn{0}));
  if (it == v.begin()) return false;
  --it;
  return s >= it->first && e <= it->second;
}

// Allocations: every index entry is an allocated head, reachable from its id.
void Machine::Checker::check_id_index() {
  m.ids_->for_each_pfn([&](Pfn pfn) {
    const Frame& f = frames[pfn];
    if (f.state() != FrameState::kAllocated || f.zone_global_idx() >= allocated_pages.size()) {
      fail("the id index points at " + hex(pfn) + ", which is not a live allocation");
      return;
    }
    if (!m.ids_->indexed_at(f.alloc_id(), pfn)) {
      fail("allocation " + std::to_string(f.alloc_id()) + " at " + hex(pfn) +
           " is unreachable by its id");
    }
    allocated_pages[f.zone_global_idx()] += 1ULL << f.order();
  });
}

// One free block: marked free at its order in this zone, aligned, inside the
// zone and its managed memory, on its pageblock's list, merged with its buddy.
void Machine::Checker::check_free_block(const Zone& z, Pfn p, unsigned o, unsigned mt,
                                        const FreeBlockName& where) {
  const Frame& f = frames[p];
  if (f.state() != FrameState::kBuddy || f.order() != o || f.zone_global_idx() != z.global_idx) {
    fail(where.text() + ": frame is not marked free at this order in this zone");
  }
  if (p & ((1ULL << o) - 1)) fail(where.text() + ": not aligned to its order");
  if (!z.spans(p) || !z.spans(p + (1ULL << o) - 1)) fail(where.text() + ": outside the zone");
  if (!in_managed(z.global_idx, p, p + (1ULL << o))) {
    fail(where.text() + ": covers pages never given to the buddy allocator");
  }
  const PageblockTable& pageblocks = m.ctx_.pageblocks;
  for (Pfn b = p; b < p + (1ULL << o); b += kPageblockNrPages) {
    if (pageblocks.get(b) != mt) {
      fail(where.text() + ": its pageblock " + hex(b & ~(kPageblockNrPages - 1)) + " is " +
           std::string(kMigrateTypeNames[pageblocks.get(b)]));
      break;
    }
  }
  if (o >= kMaxPageOrder) return;
  const Pfn buddy = p ^ (1ULL << o);
  const Frame& bf = frames[buddy];
  if (bf.state() == FrameState::kBuddy && bf.order() == o && bf.zone_global_idx() == z.global_idx) {
    const unsigned bmt = pageblocks.get(buddy);
    const bool mergeable = o < kPageblockOrder || mt == bmt ||
                           (migratetype_is_mergeable(mt) && migratetype_is_mergeable(bmt));
    if (mergeable && p < buddy) {
      fail(where.text() + ": its buddy " + hex(buddy) + " is free and unmerged");
    }
  }
}

// One free list: its links, its length against free_area[o].nr[mt], and
// every block on it. Returns the list's length.
uint64_t Machine::Checker::check_free_list(const Zone& z, unsigned o, unsigned mt, FreeCount* c) {
  const FreeArea& area = z.free_area[o];
  uint64_t n = 0;
  Pfn prev = kNilPfn;
  for (Pfn p = area.free_list[mt].head; p != kNilPfn; p = frames[p].next) {
    ++n;
    const FreeBlockName where{z, p, o, mt};
    if (frames[p].prev != prev) fail(where.text() + ": broken list link");
    prev = static_cast<uint32_t>(p);
    if (n > area.nr[mt] + 1) {
      fail(where.text() + ": list longer than its count (cycle?)");
      break;
    }
    check_free_block(z, p, o, mt, where);
    count_pageblock_free(p, o);
    if (mt == kIsolate) {
      c->isolated += 1LL << o;
    } else {
      c->free_pages += 1LL << o;
      if (o >= kPageblockOrder) c->free_blocks += 1LL << o;
    }
    if (mt == kHighAtomic) c->free_highatomic += 1LL << o;
  }
  if (n != area.nr[mt]) {
    fail(zname(z) + ": order " + std::to_string(o) + " " + std::string(kMigrateTypeNames[mt]) +
         " list has " + std::to_string(n) + " entries, counted " + std::to_string(area.nr[mt]));
  }
  if (prev != area.free_list[mt].tail) fail(zname(z) + ": list tail pointer is wrong");
  return n;
}

// free_area[order]: every type's list, and nr_free against their sum.
void Machine::Checker::check_free_area(const Zone& z, unsigned o, FreeCount* c) {
  uint64_t total = 0;
  for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
    total += check_free_list(z, o, mt, c);
  }
  if (total != z.free_area[o].nr_free) {
    fail(zname(z) + ": order " + std::to_string(o) + " nr_free " +
         std::to_string(z.free_area[o].nr_free) + " but the lists hold " + std::to_string(total));
  }
}

// NR_FREE_PAGES, NR_FREE_PAGES_BLOCKS and the free highatomic pages.
void Machine::Checker::check_free_counters(const Zone& z, const FreeCount& c) {
  if (c.free_pages != z.nr_free_pages) {
    fail(zname(z) + ": nr_free_pages " + std::to_string(z.nr_free_pages) + " but the lists hold " +
         std::to_string(c.free_pages));
  }
  if (c.free_blocks != z.nr_free_pages_blocks) {
    fail(zname(z) + ": nr_free_pages_blocks " + std::to_string(z.nr_free_pages_blocks) +
         ", recount " + std::to_string(c.free_blocks));
  }
  if (c.free_highatomic != z.nr_free_highatomic) {
    fail(zname(z) + ": nr_free_highatomic " + std::to_string(z.nr_free_highatomic) + ", recount " +
         std::to_string(c.free_highatomic));
  }
}

// Per-cpu lists: every entry a pcp block of its list's order in this zone,
// pcp->count the pages they hold. Returns the pages on the zone's pcp lists.
uint64_t Machine::Checker::check_pcp_lists(const Zone& z) {
  uint64_t pcp_pages = 0;
  for (size_t cpu = 0; cpu < z.pcp.size(); ++cpu) {
    const PerCpuPages& pcp = z.pcp[cpu];
    int count = 0;
    for (unsigned pi = 0; pi < kNrPcpLists; ++pi) {
      const unsigned o = z.pindex_to_order(pi);
      for (Pfn p = pcp.lists[pi].head; p != kNilPfn; p = frames[p].next) {
        const Frame& f = frames[p];
        if (f.state() != FrameState::kPcp || f.order() != o ||
            f.zone_global_idx() != z.global_idx) {
          fail(zname(z) + ": cpu " + std::to_string(cpu) + " pcp list " + std::to_string(pi) +
               " holds " + hex(p) + " which is not a pcp block of order " + std::to_string(o));
          break;
        }
        count += 1 << o;
        if (count > 1 << 30) break;
      }
    }
    if (count != pcp.count) {
      fail(zname(z) + ": cpu " + std::to_string(cpu) + " pcp count " + std::to_string(pcp.count) +
           " but its lists hold " + std::to_string(count));
    }
    pcp_pages += static_cast<uint64_t>(count);
  }
  return pcp_pages;
}

// Every managed page is in exactly one block: walking block by block from
// each managed range's start lands on block heads only.
void Machine::Checker::check_block_cover(const Zone& z) {
  for (auto [s, e] : managed[z.global_idx]) {
    for (Pfn p = s; p < e;) {
      const Frame& f = frames[p];
      if (f.state() == FrameState::kNone) {
        fail(zname(z) + ": managed page " + hex(p) + " belongs to no free, pcp or allocated block");
        break;
      }
      const uint64_t n = 1ULL << f.order();
      if (p & (n - 1)) {
        fail(zname(z) + ": block " + hex(p) + " is not aligned to its order " +
             std::to_string(f.order()));
        break;
      }
      if (f.zone_global_idx() != z.global_idx) {
        fail(zname(z) + ": block " + hex(p) + " is marked as another zone's");
      }
      if (f.state() == FrameState::kAllocated) ++allocated_heads;
      p += n;
    }
  }
}

// pagetypeinfo's "Number of blocks" against a recount of the bitmap.
void Machine::Checker::check_block_counts(const Zone& z) {
  std::array<uint64_t, kMigrateTypes> counts{};
  for (Pfn pfn = z.start_pfn; z.populated() && pfn < z.end_pfn(); pfn += kPageblockNrPages) {
    if (m.pfn_zone_global_idx(pfn) != z.global_idx) continue;
    counts[m.ctx_.pageblocks.get(pfn)]++;
  }
  if (counts != z.block_count) fail(zname(z) + ": pageblock counts per type differ from a recount");
}

// A free block's pages, in the pageblocks it covers (a block above
// pageblock_order fills each of them).
void Machine::Checker::count_pageblock_free(Pfn p, unsigned o) {
  const uint64_t block = p >> kPageblockOrder;
  if (o <= kPageblockOrder) {
    if (block < pageblock_free.size()) pageblock_free[block] += 1ULL << o;
    return;
  }
  const uint64_t nr = 1ULL << (o - kPageblockOrder);
  for (uint64_t b = block & ~(nr - 1); b < (block & ~(nr - 1)) + nr; ++b) {
    if (b < pageblock_free.size()) pageblock_free[b] += kPageblockNrPages;
  }
}

// MemContext::pageblock_free against the recount of every zone's free lists.
void Machine::Checker::check_pageblock_free() {
  const std::vector<uint16_t>& kept = m.ctx_.pageblock_free;
  int reported = 0;
  for (size_t b = 0; b < kept.size() && reported < 5; ++b) {
    if (kept[b] == pageblock_free[b]) continue;
    fail("pageblock " + hex(b << kPageblockOrder) + ": " + std::to_string(kept[b]) +
         " free pages counted, the free lists hold " + std::to_string(pageblock_free[b]));
    ++reported;
  }
}

// managed against the boot free ranges.
uint64_t Machine::Checker::check_managed_pages(const Zone& z) {
  uint64_t managed_pages = 0;
  for (auto [s, e] : managed[z.global_idx]) {
    managed_pages += e - s;
  }
  if (managed_pages != z.managed) {
    fail(zname(z) + ": managed " + std::to_string(z.managed) + " but " +
         std::to_string(managed_pages) + " pages were given to the buddy allocator");
  }
  return managed_pages;
}

void Machine::Checker::check_zone(const Zone& z) {
  const uint64_t managed_pages = check_managed_pages(z);
  FreeCount c;
  for (unsigned o = 0; o < kNrPageOrders; ++o) {
    check_free_area(z, o, &c);
  }
  check_free_counters(z, c);
  const auto buddy_pages = static_cast<uint64_t>(c.free_pages + c.isolated);
  pgalloc_total += z.pgalloc;
  const uint64_t pcp_pages = check_pcp_lists(z);
  buddy_and_pcp_pages += buddy_pages + pcp_pages;

  // Every managed page belongs to exactly one block: free, on a pcp list or allocated.
  const uint64_t held = buddy_pages + pcp_pages + allocated_pages[z.global_idx];
  if (held != managed_pages) {
    fail(zname(z) + ": free + pcp + allocated pages = " + std::to_string(held) + ", managed " +
         std::to_string(managed_pages) + " (overlapping or lost blocks)");
  }
  check_block_cover(z);
  check_block_counts(z);
}

void Machine::Checker::check_globals() {
  // Every allocated block is in the index (ids are unique by construction).
  if (allocated_heads != m.ids_->size()) {
    fail(std::to_string(allocated_heads) + " allocated blocks but " +
         std::to_string(m.ids_->size()) + " entries in the id index");
  }
  // Every page freed minus every page allocated is free or on a pcp list.
  // Pages offlined left the buddy lists without an allocation.
  const uint64_t freed = m.ctx_.pgfree - pgalloc_total - static_cast<uint64_t>(m.offlined_pages_);
  if (freed != buddy_and_pcp_pages) {
    fail("pgfree - pgalloc - offlined = " + std::to_string(freed) + " but " +
         std::to_string(buddy_and_pcp_pages) + " pages are free or on pcp lists");
  }
}

CheckReport Machine::check() const {
  Checker c(*this);
  c.collect_managed_ranges();
  c.check_id_index();
  for (const Zone* z : ctx_.zones) {
    c.check_zone(*z);
  }
  c.check_pageblock_free();
  c.check_globals();
  return std::move(c.report);
}

}  // namespace memd
