#include "core/direct_map.h"

#include <algorithm>
#include <array>
#include <unordered_map>

namespace memd {
namespace {

// --- the boot-time direct mapping (arch/x86/mm/init.c, init_64.c) ------------------------------

constexpr Pfn kPmdPages = Pfn{1} << 9;   // PMD_SIZE in pages
constexpr Pfn kPudPages = Pfn{1} << 18;  // PUD_SIZE in pages
constexpr unsigned kMask2M = 1u << 1;    // 1 << PG_LEVEL_2M
constexpr unsigned kMask1G = 1u << 2;    // 1 << PG_LEVEL_1G

constexpr Pfn round_up(Pfn x, Pfn a) {
  return (x + a - 1) / a * a;
}
constexpr Pfn round_down(Pfn x, Pfn a) {
  return x / a * a;
}

struct MapRange {
  Pfn start = 0;
  Pfn end = 0;
  unsigned mask = 0;
};

// The page tables of the direct mapping, as far as the counts need them: a
// PUD entry is empty, a 1 GiB leaf or a table of PMD entries, each empty, a
// 2 MiB leaf or a table of PTEs. Ranges never overlap at the PTE level.
class DirectMapper {
 public:
  DirectMapper(const std::vector<std::pair<Pfn, Pfn>>& memory, Arch arch, bool gbpages, Pfn max_low)
      : memory_(memory), arch_(arch), max_low_(max_low) {
    page_size_mask_ = kMask2M | (gbpages && arch == Arch::kX86_64 ? kMask1G : 0);
  }

  // init_mem_mapping(): the ISA range, then the rest top-down.
  DirectMap run(Pfn end) {
    pud_.assign(std::max(end, kIsaEnd) / kPudPages + 1, kNone);
    init_memory_mapping(0, kIsaEnd);
    memory_map_top_down(kIsaEnd, end);
    return counts_;
  }

 private:
  enum State : uint8_t { kNone, kLeaf, kTable };
  static constexpr Pfn kIsaEnd = 0x100000 >> kPageShift;

  // memblock_is_region_memory(): inside a single memblock.memory region.
  bool is_region_memory(Pfn start, Pfn end) const {
    for (auto [s, e] : memory_) {
      if (s <= start && end <= e) {
        return true;
      }
    }
    return false;
  }

  // memblock_phys_alloc_range(PMD_SIZE, PMD_SIZE, ...), top-down. Boot
  // reservations at that point (kernel image, initrd) lie low; memd takes
  // the topmost 2 MiB block of memory as free.
  Pfn real_end(Pfn map_start, Pfn map_end) const {
    for (auto it = memory_.rbegin(); it != memory_.rend(); ++it) {
      Pfn hi = round_down(std::min(it->second, map_end), kPmdPages);
      Pfn lo = round_up(std::max(it->first, map_start), kPmdPages);
      if (hi > lo) {
        return hi;
      }
    }
    return std::max(map_start, round_down(map_end, kPmdPages));
  }

  // memory_map_top_down(): map from the top in steps that grow as memory
  // gets mapped (get_new_step_size).
  void memory_map_top_down(Pfn map_start, Pfn map_end) {
    const Pfn top = real_end(map_start, map_end);
    Pfn step = kPmdPages, last_start = top, mapped = 0;
    while (last_start > map_start) {
      Pfn start = map_start;
      if (last_start > step) {
        start = std::max(round_down(last_start - 1, step), map_start);
      }
      mapped += init_range_memory_mapping(start, last_start);
      last_start = start;
      if (mapped >= step) {
        step <<= 8;
      }
    }
    if (top < map_end) {
      init_range_memory_mapping(top, map_end);
    }
  }

  // init_range_memory_mapping(): the memory inside [r_start, r_end).
  Pfn init_range_memory_mapping(Pfn r_start, Pfn r_end) {
    Pfn mapped = 0;
    for (auto [s, e] : memory_) {
      Pfn start = std::clamp(s, r_start, r_end), end = std::clamp(e, r_start, r_end);
      if (start >= end) {
        continue;
      }
      init_memory_mapping(start, end);
      mapped += end - start;
    }
    return mapped;
  }

  void init_memory_mapping(Pfn start, Pfn end) {
    for (const MapRange& r : split_mem_range(start, end)) {
      phys_pud_init(r);
    }
  }

  static void save_mr(std::vector<MapRange>* mr, Pfn start, Pfn end, unsigned mask) {
    if (start < end) {
      mr->push_back({start, end, mask});
    }
  }

  // split_mem_range(): a 4k head up to 2 MiB alignment, 2 MiB pages up to
  // 1 GiB alignment, 1 GiB pages, a 2 MiB tail, a 4k tail.
  std::vector<MapRange> split_mem_range(Pfn start, Pfn limit) const {
    std::vector<MapRange> mr;
    const bool x86_64 = arch_ == Arch::kX86_64;
    Pfn pfn = start;
    Pfn end = std::min(x86_64 || pfn != 0 ? round_up(pfn, kPmdPages) : kPmdPages, limit);
    if (start < end) {
      save_mr(&mr, start, end, 0);
      pfn = end;
    }
    Pfn s = round_up(pfn, kPmdPages);
    end = x86_64 ? std::min(round_up(pfn, kPudPages), round_down(limit, kPmdPages))
                 : round_down(limit, kPmdPages);
    if (s < end) {
      save_mr(&mr, s, end, page_size_mask_ & kMask2M);
      pfn = end;
    }
    if (x86_64) {
      s = round_up(pfn, kPudPages);
      end = round_down(limit, kPudPages);
      if (s < end) {
        save_mr(&mr, s, end, page_size_mask_ & (kMask2M | kMask1G));
        pfn = end;
      }
      s = round_up(pfn, kPmdPages);
      end = round_down(limit, kPmdPages);
      if (s < end) {
        save_mr(&mr, s, end, page_size_mask_ & kMask2M);
        pfn = end;
      }
    }
    save_mr(&mr, pfn, limit, 0);
    adjust_range_page_size_mask(&mr);
    return mr;
  }

  // adjust_range_page_size_mask(): a range gets the larger page when the
  // whole larger page around it is memory.
  void adjust_range_page_size_mask(std::vector<MapRange>* mr) const {
    for (MapRange& r : *mr) {
      if ((page_size_mask_ & kMask2M) && !(r.mask & kMask2M)) {
        Pfn s = round_down(r.start, kPmdPages), e = round_up(r.end, kPmdPages);
        bool lowmem_ok = arch_ == Arch::kX86_64 || e <= max_low_;
        if (lowmem_ok && is_region_memory(s, e)) {
          r.mask |= kMask2M;
        }
      }
      if ((page_size_mask_ & kMask1G) && !(r.mask & kMask1G)) {
        if (is_region_memory(round_down(r.start, kPudPages), round_up(r.end, kPudPages))) {
          r.mask |= kMask1G;
        }
      }
    }
  }

  // phys_pud_init(): a 1 GiB page where allowed (counted again if one is
  // there already), else the PMD level; a 1 GiB page the range may not use
  // is replaced by a fresh PMD table.
  void phys_pud_init(const MapRange& r) {
    for (Pfn pud = r.start / kPudPages; pud * kPudPages < r.end; ++pud) {
      const Pfn s = std::max(r.start, pud * kPudPages);
      const Pfn e = std::min(r.end, (pud + 1) * kPudPages);
      uint8_t& state = pud_[pud];
      if (state != kTable && (r.mask & kMask1G)) {
        state = kLeaf;
        counts_.pages_1g++;
        continue;
      }
      if (state != kTable) {
        state = kTable;
        pmd_[pud].fill(kNone);
      }
      phys_pmd_init(&pmd_[pud], s, e, r.mask);
    }
  }

  // phys_pmd_init(), with phys_pte_init() reduced to a count.
  void phys_pmd_init(std::array<uint8_t, 512>* pmds, Pfn start, Pfn end, unsigned mask) {
    for (Pfn pmd = start / kPmdPages; pmd * kPmdPages < end; ++pmd) {
      const Pfn s = std::max(start, pmd * kPmdPages);
      const Pfn e = std::min(end, (pmd + 1) * kPmdPages);
      uint8_t& state = (*pmds)[pmd % 512];
      if (state != kTable && (mask & kMask2M)) {
        state = kLeaf;
        counts_.pages_2m++;
        continue;
      }
      state = kTable;
      counts_.pages_4k += e - s;
    }
  }

  const std::vector<std::pair<Pfn, Pfn>>& memory_;
  Arch arch_;
  Pfn max_low_;
  unsigned page_size_mask_ = 0;
  std::vector<uint8_t> pud_;  // by PUD index, up to the end of the mapping
  std::unordered_map<Pfn, std::array<uint8_t, 512>> pmd_;
  DirectMap counts_;
};

}  // namespace

DirectMap direct_map_at_boot(const std::vector<std::pair<Pfn, Pfn>>& memory, Pfn end_pfn, Arch arch,
                             bool gbpages) {
  if (memory.empty()) {
    return {};
  }
  return DirectMapper(memory, arch, gbpages, end_pfn).run(end_pfn);
}

uint64_t boot_splits(Arch arch, size_t nodes) {
  if (arch != Arch::kX86_64) {
    return 0;
  }
  return kKernelImageSplits + kBpfPackSplitsPerNode * nodes;
}

DirectMap direct_map_after_boot(DirectMap boot, uint64_t splits) {
  const uint64_t n = std::min(splits, boot.pages_2m);
  boot.pages_2m -= n;
  boot.pages_4k += n * kPmdPages;
  return boot;
}

}  // namespace memd
