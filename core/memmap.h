// Per-frame metadata (memd's struct page), the pageblock bitmap and the
// intrusive page lists built on them.
//
// Memory: a Frame is 12 bytes. The frame table is one anonymous mapping made
// with MAP_NORESERVE, so the host commits memory only for the frames memd has
// written. Frames are interleaved by their offset inside a MAX_ORDER block
// (index = offset * nr_blocks + block), so that the heads of all order-10
// blocks -- the only frames a fresh machine touches -- sit side by side: a
// fresh 1 TiB machine commits about 6 MiB of frames instead of 1 GiB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "core/types.h"

namespace memd {

inline constexpr uint32_t kNilPfn = 0xffffffffu;

// A zero-filled array in an anonymous MAP_NORESERVE mapping: pages are
// committed by the host when first written. Non-copyable, movable.
template <typename T>
class LazyArray {
 public:
  LazyArray() = default;
  explicit LazyArray(size_t n);
  ~LazyArray();
  LazyArray(const LazyArray&) = delete;
  LazyArray& operator=(const LazyArray&) = delete;
  LazyArray(LazyArray&& o) noexcept { swap(o); }
  LazyArray& operator=(LazyArray&& o) noexcept {
    LazyArray tmp(std::move(o));
    swap(tmp);
    return *this;
  }

  // Makes this array an exact copy of `other`, 4 KiB at a time, writing only
  // the chunks that differ: a chunk zero in both (never written) stays
  // uncommitted, and a chunk already equal is not dirtied again. Keeps this
  // array's mapping when the sizes match.
  void copy_from(const LazyArray& other);

  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return n_; }
  T* data() { return data_; }
  const T* data() const { return data_; }

 private:
  void swap(LazyArray& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
  }
  T* data_ = nullptr;
  size_t n_ = 0;
};

// What a frame is, from the allocator's point of view.
enum class FrameState : uint8_t {
  kNone = 0,       // a tail of a block, a hole, or reserved memory
  kBuddy = 1,      // head of a free block on a buddy free list (PageBuddy)
  kAllocated = 2,  // head of a live allocation
  kPcp = 3,        // head of a block on a per-cpu list
};

// memd's struct page. For kBuddy and kPcp frames, next/prev link the frame into
// its list (pfns, kNilPfn at the ends). For kAllocated frames they hold the
// allocation id. info packs the state, the order, the allocation's migrate
// type (from its GFP flags) and, for kAllocated and kPcp, the zone's global
// index (so a free needs no lookup).
struct Frame {
  uint32_t next;
  uint32_t prev;
  uint32_t info;

  static constexpr uint32_t kOrderMask = 0xf;
  static constexpr unsigned kStateShift = 4;
  static constexpr uint32_t kStateMask = 0x3u << kStateShift;
  static constexpr unsigned kMtShift = 6;
  static constexpr uint32_t kMtMask = 0x3u << kMtShift;
  static constexpr unsigned kZoneShift = 8;

  FrameState state() const { return static_cast<FrameState>((info & kStateMask) >> kStateShift); }
  unsigned order() const { return info & kOrderMask; }
  unsigned alloc_mt() const { return (info & kMtMask) >> kMtShift; }
  unsigned zone_global_idx() const { return info >> kZoneShift; }
  // The id is stored and loaded as one 8-byte access (no split store to forward).
  AllocId alloc_id() const {
    AllocId id;
    std::memcpy(&id, this, sizeof id);  // next and prev
    return id;
  }

  void set(FrameState s, unsigned order, unsigned mt = 0, unsigned zone_global_idx = 0) {
    info = order | (static_cast<uint32_t>(s) << kStateShift) | (mt << kMtShift) |
           (zone_global_idx << kZoneShift);
  }
  void clear() { next = prev = info = 0; }
  void set_alloc_id(AllocId id) { std::memcpy(this, &id, sizeof id); }
};
static_assert(sizeof(Frame) == 12, "per-frame metadata is frozen at 12 bytes");
static_assert(offsetof(Frame, next) == 0 && offsetof(Frame, prev) == 4,
              "alloc id spans next, prev");

// A doubly linked list of frames, by pfn.
struct PageList {
  uint32_t head = kNilPfn;
  uint32_t tail = kNilPfn;
  bool empty() const { return head == kNilPfn; }
};

// All frames of the machine, indexed by pfn.
class FrameTable {
 public:
  FrameTable() = default;
  // Frames for pfns [0, end); end is rounded up to MAX_ORDER_NR_PAGES.
  explicit FrameTable(Pfn end);

  Frame& operator[](Pfn pfn) { return frames_[index(pfn)]; }
  const Frame& operator[](Pfn pfn) const { return frames_[index(pfn)]; }
  Pfn end() const { return nr_blocks_ * kMaxOrderNrPages; }
  // Makes this table an exact copy of `other` (LazyArray::copy_from).
  void copy_from(const FrameTable& other) {
    frames_.copy_from(other.frames_);
    nr_blocks_ = other.nr_blocks_;
  }

  void push_front(PageList* list, Pfn pfn);
  void push_back(PageList* list, Pfn pfn);
  void remove(PageList* list, Pfn pfn);
  Pfn pop_front(PageList* list);
  // Moves pfn (on `from`) to the tail of `to`.
  void move_tail(PageList* from, PageList* to, Pfn pfn) {
    remove(from, pfn);
    push_back(to, pfn);
  }

 private:
  size_t index(Pfn pfn) const {
    return (pfn & (kMaxOrderNrPages - 1)) * nr_blocks_ + (pfn >> kMaxPageOrder);
  }
  LazyArray<Frame> frames_;
  size_t nr_blocks_ = 0;
};

// The pageblock bitmap (include/linux/pageblock-flags.h, 6.17+ layout): bits
// 0-2 hold the migrate type, bit 3 the compaction skip hint, bit 4 isolation.
class PageblockTable {
 public:
  static constexpr uint8_t kMigrateMask = 0x7;
  static constexpr uint8_t kIsolateBit = 0x10;

  PageblockTable() = default;
  explicit PageblockTable(Pfn end) : bits_((end + kPageblockNrPages - 1) >> kPageblockOrder, 0) {}

  // get_pfnblock_migratetype(): Isolate when the isolate bit is set.
  unsigned get(Pfn pfn) const {
    uint8_t b = bits_[pfn >> kPageblockOrder];
    return (b & kIsolateBit) ? kIsolate : (b & kMigrateMask);
  }
  uint8_t raw(Pfn pfn) const { return bits_[pfn >> kPageblockOrder]; }
  void set_raw(Pfn pfn, uint8_t v) { bits_[pfn >> kPageblockOrder] = v; }
  size_t size() const { return bits_.size(); }
  const std::vector<uint8_t>& bits() const { return bits_; }  // raw, per pageblock

 private:
  std::vector<uint8_t> bits_;
};

// Which zones' pagetypeinfo "Number of blocks" rows count each pageblock
// (pagetypeinfo_showblockcount_print): every pageblock_nr_pages-th pfn from
// a zone's start_pfn whose page is in the zone. Fixed at boot; shared by the
// machine and the pageblock snapshots taken from it.
struct PageblockZones {
  // Per pageblock, global_idx + 1 of the zone whose row counts the block (0: none).
  std::vector<uint16_t> first;
  // (pageblock, global_idx + 1) of a second zone that also counts a block
  // straddling a zone boundary (the kernel counts such blocks in both rows).
  std::vector<std::pair<uint64_t, uint16_t>> second;
};

}  // namespace memd
