// The index of live allocations, id -> pfn, for Machine. Internal to core/.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/memmap.h"
#include "core/types.h"

namespace memd {

// --- live allocations: id -> pfn ----------------------------------------------------------
//
// Open addressing with linear probing and backward-shift deletion. A slot holds
// only the pfn (4 bytes): the id is in the allocation's head frame, read when a
// probe needs it. At most 3/4 full, so about 5 bytes per live allocation: a
// 4 TiB machine filled with order-0 allocations needs 12 GiB of frames and
// 5.3 GiB here.
class IdIndex {
 public:
  explicit IdIndex(const FrameTable* frames) : frames_(frames) { resize(1024); }

  // The entries of `other`, which indexes a copy of this index's frame table
  // (Machine::copy_from): the slots are pfns, so they carry over as they are.
  void copy_from(const IdIndex& other) {
    slots_ = other.slots_;
    mask_ = other.mask_;
    shift_ = other.shift_;
    size_ = other.size_;
  }

  void insert(AllocId id, Pfn pfn) {
    if ((size_ + 1) * 4 > slots_.size() * 3) resize(slots_.size() * 2);
    place(id, static_cast<uint32_t>(pfn));
    ++size_;
  }

  // Asks the CPU to fetch the home slot of `id` (the next allocation's: ids
  // are handed out in order) ahead of its insert(). The hash scatters
  // consecutive ids, so on a large table each insert otherwise waits for a
  // cache miss (13 % of a pipelined allocation's time on a 64 GiB machine).
  // A hint only: no effect on what the index holds.
  void prefetch(AllocId id) const { __builtin_prefetch(&slots_[slot(id)], 1); }

  OptPfn find(AllocId id) const {
    for (size_t i = slot(id);; i = (i + 1) & mask_) {
      if (slots_[i] == kNilPfn) return std::nullopt;
      if ((*frames_)[slots_[i]].alloc_id() == id) return Pfn{slots_[i]};
    }
  }

  // Removes the allocation `id` whose block is at `pfn`.
  void erase(AllocId id, Pfn pfn) {
    size_t i = slot(id);
    while (slots_[i] != pfn) {
      if (slots_[i] == kNilPfn) return;
      i = (i + 1) & mask_;
    }
    // Backward shift: pull later entries of the probe run into the hole.
    size_t hole = i;
    for (size_t j = (i + 1) & mask_; slots_[j] != kNilPfn; j = (j + 1) & mask_) {
      const size_t home = slot((*frames_)[slots_[j]].alloc_id());
      const bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = kNilPfn;
    --size_;
    if (slots_.size() > 1024 && size_ * 16 < slots_.size()) resize(slots_.size() / 2);
  }

  size_t size() const { return size_; }

  // Calls fn(pfn) for every indexed allocation, in table order.
  template <typename Fn>
  void for_each_pfn(Fn&& fn) const {
    for (uint32_t pfn : slots_) {
      if (pfn != kNilPfn) fn(Pfn{pfn});
    }
  }

  // Whether `pfn` is found by probing from `id`'s home slot.
  bool indexed_at(AllocId id, Pfn pfn) const {
    for (size_t i = slot(id);; i = (i + 1) & mask_) {
      if (slots_[i] == pfn) return true;
      if (slots_[i] == kNilPfn) return false;
    }
  }

  std::vector<std::pair<AllocId, Pfn>> sorted() const {
    std::vector<std::pair<AllocId, Pfn>> v;
    v.reserve(size_);
    for (uint32_t pfn : slots_) {
      if (pfn != kNilPfn) v.emplace_back((*frames_)[pfn].alloc_id(), pfn);
    }
    std::sort(v.begin(), v.end());
    return v;
  }

 private:
  size_t slot(AllocId id) const { return (id * 0x9E3779B97F4A7C15ULL) >> shift_; }
  void place(AllocId id, uint32_t pfn) {
    size_t i = slot(id);
    while (slots_[i] != kNilPfn) {
      i = (i + 1) & mask_;
    }
    slots_[i] = pfn;
  }
  // Out of line: it runs once per doubling or halving, and inlined into the
  // allocation and free paths (its only callers in their files) it bloats them.
  [[gnu::noinline]] void resize(size_t n) {
    std::vector<uint32_t> old = std::move(slots_);
    slots_.assign(n, kNilPfn);
    mask_ = n - 1;
    shift_ = 64 - std::countr_zero(n);
    for (uint32_t pfn : old) {
      if (pfn != kNilPfn) place((*frames_)[pfn].alloc_id(), pfn);
    }
  }
  const FrameTable* frames_;
  std::vector<uint32_t> slots_;
  size_t mask_ = 0;
  int shift_ = 0;
  size_t size_ = 0;
};

}  // namespace memd
