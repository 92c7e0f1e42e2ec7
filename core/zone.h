// A zone: its buddy free lists, counters, watermarks and per-cpu page lists,
// and the buddy allocator's steps on them, each a member function named after
// the mm/page_alloc.c function it mirrors (Zone::rmqueue_smallest is
// __rmqueue_smallest, Zone::free_one_page_inner is __free_one_page, ...).
//
// Naming rule (all of core/):
// - A function that mirrors a kernel function has the kernel's name, in
//   snake_case, without the prefix its class already says: the kernel's
//   zone_watermark_ok() is Zone::watermark_ok().
// - C++ reserves names with a double underscore, so the kernel's __name is
//   memd's `name` when memd does not also mirror the plain `name`
//   (__rmqueue_smallest is Zone::rmqueue_smallest, __del_page_from_free_list
//   is Zone::del_page_from_free_list), and `name_inner` when it does
//   (__free_one_page is Zone::free_one_page_inner beside Zone::free_one_page,
//   __rmqueue is Zone::rmqueue_inner beside Machine::rmqueue,
//   __zone_watermark_ok is Zone::watermark_ok_inner).
// - The suffix _locked is not used in core/: the kernel's zone->lock has no
//   counterpart here (core/ is single-threaded). In the daemon, _locked means
//   "the Service mutex is held".
// - A zone's position among all zones of the machine is its global_idx
//   (Frame::zone_global_idx() stores it per frame); zone_idx/idx is its
//   zone_type within its node, as in the kernel.
//
// Invariants (verified by Machine::check, asserted at the preconditions with
// MEMD_ASSERT in debug and test builds): every free block is aligned to its
// order, inside the zone, marked kBuddy with that order, and on the free list
// of its pageblock's migrate type; free_area[o].nr_free and the per-type
// counts equal the list lengths; nr_free_pages equals the free pages outside
// Isolate blocks; MemContext::pageblock_free equals the free pages the lists
// hold in each pageblock.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/kmem_trace.h"
#include "core/memmap.h"
#include "core/types.h"

namespace memd {

class Zone;

// ALLOC_* flags (mm/internal.h).
namespace alloc {
inline constexpr unsigned kWmarkMin = 0x00;
inline constexpr unsigned kWmarkLow = 0x01;
inline constexpr unsigned kWmarkHigh = 0x02;
inline constexpr unsigned kNoWatermarks = 0x04;
inline constexpr unsigned kWmarkMask = kNoWatermarks - 1;
inline constexpr unsigned kOom = 0x08;
inline constexpr unsigned kNonBlock = 0x10;
inline constexpr unsigned kMinReserve = 0x20;
inline constexpr unsigned kCpuset = 0x40;
inline constexpr unsigned kCma = 0x80;
inline constexpr unsigned kNofragment = 0x100;  // 0 without ZONE_DMA32: see Machine
inline constexpr unsigned kHighatomic = 0x200;
inline constexpr unsigned kTrylock = 0x400;
inline constexpr unsigned kKswapd = 0x800;
inline constexpr unsigned kReserves = kNonBlock | kMinReserve | kHighatomic | kOom;
}  // namespace alloc

// One mm_page_alloc_extfrag event (include/trace/events/kmem.h).
struct ExtfragEvent {
  Pfn pfn = 0;
  int alloc_order = 0;
  int fallback_order = 0;
  int alloc_migratetype = 0;
  int fallback_migratetype = 0;
  bool change_ownership = false;
  // The zone whose free lists it took from (not in the tracepoint's text).
  int nid = 0;
  unsigned zone_idx = 0;
  bool fragmenting() const { return fallback_order < static_cast<int>(kPageblockOrder); }
};

class ExtfragListener {
 public:
  virtual ~ExtfragListener() = default;
  virtual void on_extfrag(const ExtfragEvent& event) = 0;
};

// State every zone of a machine shares: the memory map, the pageblock bitmap,
// the pagetypeinfo block counts, and global switches.
struct MemContext {
  FrameTable frames;
  PageblockTable pageblocks;
  std::shared_ptr<const PageblockZones> pageblock_zones;  // set at boot, then fixed
  // Per pageblock, the buddy-free pages in it: the pages of the blocks on
  // the zones' free lists, a block above pageblock_order counting
  // pageblock_nr_pages in each of its pageblocks. Pages on per-cpu lists are
  // not free here. Kept by the free list primitives (Zone::load_free_block,
  // Zone::del_page_from_free_list) for the pageblock map; Machine::check()
  // recounts it from the free lists.
  std::vector<uint16_t> pageblock_free;
  std::vector<Zone*> zones;  // by global index
  // page_zone() of any pfn with a memmap, as a global zone index (~0u: none).
  std::function<unsigned(Pfn)> zone_global_idx_of;
  bool mobility_disabled = false;  // page_group_by_mobility_disabled
  int watermark_boost_factor = kWatermarkBoostFactor;
  bool thp_configured = true;
  unsigned movable_idx = 3;  // ZONE_MOVABLE's index in this layout
  unsigned pcp_thp_order = kHpagePmdOrder;
  uint64_t pgfree = 0;  // vm event PGFREE
  uint64_t extfrag_claims = 0;
  uint64_t extfrag_steals = 0;
  ExtfragListener* extfrag_listener = nullptr;
  // The kmem tracepoints' receiver while one is attached, the CPU the
  // current request runs on, and the pcp lock's preempt depth around the
  // zone-lock sections below a pcp list (2 by trylock, 1 by spin_lock).
  KmemTracer* tracer = nullptr;
  uint16_t trace_cpu = 0;
  uint8_t pcp_depth = 0;

  // set_pageblock_migratetype(): honours mobility grouping, clears the isolate
  // bit, keeps the block counts right.
  void set_pageblock_migratetype(Pfn pfn, unsigned mt);
  // Writes a block's raw bits and moves the block between count columns.
  void write_pageblock(Pfn pfn, uint8_t raw);
  // A buddy-free block of `order` at `pfn` enters (+) or leaves (-) the free lists.
  void pageblock_free_add(Pfn pfn, unsigned order) { pageblock_free_change(pfn, order, 1); }
  void pageblock_free_sub(Pfn pfn, unsigned order) { pageblock_free_change(pfn, order, -1); }
  void emit_extfrag(const ExtfragEvent& e);
  // A tracepoint, called only while `tracer` is set: the record gets the
  // CPU and the kernel's context for its event, and goes to the tracer if
  // the event is on.
  [[gnu::cold, gnu::noinline]] void trace(KmemRecord r) const;

 private:
  void pageblock_free_change(Pfn pfn, unsigned order, int sign) {
    const uint64_t block = pfn >> kPageblockOrder;
    if (order <= kPageblockOrder) {
      pageblock_free[block] = static_cast<uint16_t>(pageblock_free[block] + (sign << order));
      return;
    }
    // Aligned to the order (a damaged saved state may list an unaligned
    // block; the checker refuses it afterwards), so the blocks stay in range.
    const uint64_t nr = 1ULL << (order - kPageblockOrder);
    const uint64_t first = block & ~(nr - 1);
    const int pages = sign * static_cast<int>(kPageblockNrPages);
    for (uint64_t b = first; b < first + nr; ++b) {
      pageblock_free[b] = static_cast<uint16_t>(pageblock_free[b] + pages);
    }
  }
};

struct FreeArea {
  std::array<PageList, kMigrateTypes> free_list;
  std::array<uint64_t, kMigrateTypes> nr{};  // entries per list, for pagetypeinfo
  uint64_t nr_free = 0;                      // blocks on all lists
};

// struct per_cpu_pages
struct PerCpuPages {
  int count = 0;
  int high = 0;
  int high_min = 0;
  int high_max = 0;
  int batch = 1;
  bool prev_free_high_order = false;  // PCPF_PREV_FREE_HIGH_ORDER
  int alloc_factor = 0;
  int free_count = 0;
  std::array<PageList, kNrPcpLists> lists;
};

// enum rmqueue_mode
enum class RmqueueMode : uint8_t { kNormal, kCma, kClaim, kSteal };

class Zone {
 public:
  // Identity and size.
  MemContext* ctx = nullptr;
  unsigned global_idx = 0;  // index among all zones of the machine (MemContext::zones)
  int nid = 0;
  unsigned idx = 0;  // zone_idx
  ZoneKind kind = ZoneKind::kNormal;
  std::string_view name;  // zone_names[]
  Pfn start_pfn = 0;
  uint64_t spanned = 0;
  uint64_t present = 0;
  uint64_t managed = 0;

  // Free lists and their counters.
  std::array<FreeArea, kNrPageOrders> free_area;
  int64_t nr_free_pages = 0;         // NR_FREE_PAGES
  int64_t nr_free_pages_blocks = 0;  // NR_FREE_PAGES_BLOCKS
  int64_t nr_free_highatomic = 0;
  uint64_t nr_reserved_highatomic = 0;
  std::array<uint64_t, kMigrateTypes> block_count{};  // pagetypeinfo "Number of blocks"

  // Watermarks and reserves.
  std::array<uint64_t, kNrWmark> watermark{};
  uint64_t watermark_boost = 0;
  std::array<int64_t, kMaxNrZones> lowmem_reserve{};
  bool below_high = false;         // ZONE_BELOW_HIGH
  bool boosted_watermark = false;  // ZONE_BOOSTED_WATERMARK

  // Per-cpu pagesets.
  int pageset_batch = 1;
  int pageset_high_min = 0;
  int pageset_high_max = 0;
  std::vector<PerCpuPages> pcp;
  int stat_threshold = 0;

  // Statistics.
  uint64_t pgalloc = 0;
  std::array<uint64_t, kNrNumaStats> numa{};

  bool populated() const { return present != 0; }
  Pfn end_pfn() const { return start_pfn + spanned; }
  bool spans(Pfn pfn) const { return pfn >= start_pfn && pfn < end_pfn(); }
  uint64_t wmark(Wmark w) const { return watermark[w] + watermark_boost; }

  // --- free list primitives (__add_to_free_list and friends) ---
  void account_freepages(int64_t nr_pages, unsigned mt);
  void add_to_free_list(Pfn pfn, unsigned order, unsigned mt, bool tail);
  void load_free_block(Pfn pfn, unsigned order, unsigned mt, bool tail);  // restore_state
  void del_page_from_free_list(Pfn pfn, unsigned order, unsigned mt);  // __del_page_from_free_list
  void move_to_free_list(Pfn pfn, unsigned order, unsigned old_mt, unsigned new_mt);
  uint64_t expand(Pfn pfn, unsigned low, unsigned high, unsigned mt);
  void page_del_and_expand(Pfn pfn, unsigned low, unsigned high, unsigned mt);

  // --- allocation from the buddy lists ---
  OptPfn rmqueue_smallest(unsigned order, unsigned mt);
  OptPfn rmqueue_inner(unsigned order, unsigned mt, unsigned alloc_flags, RmqueueMode* mode);
  OptPfn rmqueue_claim(unsigned order, unsigned start_mt, unsigned alloc_flags);
  OptPfn rmqueue_steal(unsigned order, unsigned start_mt);
  OptPfn try_to_claim_block(Pfn pfn, unsigned current_order, unsigned order, unsigned start_type,
                            unsigned block_type, unsigned alloc_flags);
  int find_suitable_fallback(unsigned order, unsigned mt, bool claimable) const;
  bool boost_watermark();
  // Takes up to `count` blocks with one rmqueue mode, appending them to `list`.
  int rmqueue_bulk(unsigned order, int count, PageList* list, unsigned mt, unsigned alloc_flags);

  // --- moving free pages between types ---
  bool prep_move_freepages_block(Pfn pfn, Pfn* start, int* num_free, int* num_movable) const;
  int move_freepages_block_range(Pfn start, unsigned old_mt, unsigned new_mt);
  int move_freepages_block(Pfn pfn, unsigned old_mt, unsigned new_mt);
  void change_pageblock_range(Pfn pfn, unsigned order, unsigned mt);
  void reserve_highatomic_pageblock(Pfn pfn, unsigned order);

  // --- freeing into the buddy lists ---
  // __free_one_page(): merges with free buddies; FPI_TO_TAIL when to_tail.
  void free_one_page_inner(Pfn pfn, unsigned order, unsigned mt, bool to_tail);
  // free_one_page() / split_large_buddy(): frees pageblock by pageblock with
  // each block's own type. Counts PGFREE.
  void free_one_page(Pfn pfn, unsigned order, bool to_tail);

  // --- per-cpu lists ---
  int nr_pcp_alloc(PerCpuPages* pcp, unsigned order);
  int nr_pcp_high(PerCpuPages* pcp, int batch, bool free_high);
  static int nr_pcp_free(const PerCpuPages& pcp, int batch, int high, bool free_high);
  void free_pcppages_bulk(PerCpuPages* pcp, int count, unsigned pindex);
  // free_frozen_page_commit(): puts a page on `pcp` and trims the list.
  void free_pcp_commit(PerCpuPages* pcp, Pfn pfn, unsigned mt, unsigned order);
  void drain_pages(PerCpuPages* pcp);  // drain_pages_zone()

  // --- watermarks ---
  int64_t watermark_unusable_free(unsigned order, unsigned alloc_flags) const;
  bool watermark_ok_inner(unsigned order, uint64_t mark, unsigned highest_zoneidx,
                          unsigned alloc_flags, int64_t free_pages) const;  // __zone_watermark_ok
  bool watermark_ok(unsigned order, uint64_t mark, unsigned highest_zoneidx,
                    unsigned alloc_flags) const {
    return watermark_ok_inner(order, mark, highest_zoneidx, alloc_flags, nr_free_pages);
  }
  bool watermark_fast(unsigned order, uint64_t mark, unsigned highest_zoneidx,
                      unsigned alloc_flags) const;

  // Which pcp list a block of this order and type goes on (order_to_pindex).
  unsigned order_to_pindex(unsigned mt, unsigned order) const;
  unsigned pindex_to_order(unsigned pindex) const;
  bool pcp_allowed_order(unsigned order) const;

 private:
  FrameTable& frames() { return ctx->frames; }
  const FrameTable& frames() const { return ctx->frames; }
  unsigned block_mt(Pfn pfn) const { return ctx->pageblocks.get(pfn); }
  bool area_nr_positive(unsigned order, unsigned mt) const { return free_area[order].nr[mt] > 0; }
  // page_is_buddy(): `buddy` is a free block of `order` in the zone `zone_global_idx`.
  bool page_is_buddy(Pfn buddy, unsigned order, unsigned zone_global_idx) const;
  bool page_is_buddy(Pfn buddy, unsigned order) const {
    return page_is_buddy(buddy, order, global_idx);
  }
};

}  // namespace memd
