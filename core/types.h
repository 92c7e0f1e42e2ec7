// Vocabulary of the emulated machine: page frame numbers, orders, migrate
// types and zone kinds, with the constants of Linux 6.18 on x86 (4 KiB pages).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace memd {

using Pfn = uint64_t;
using AllocId = uint64_t;

// An optional pfn. Like std::optional<Pfn>, but "no page" is stored as ~0
// instead of in a separate flag: GCC returns std::optional<uint64_t> through a
// byte store and a wider reload, a store-forwarding stall on every call of
// the allocation path.
class OptPfn {
 public:
  constexpr OptPfn() = default;
  constexpr OptPfn(std::nullopt_t) {}     // NOLINT(google-explicit-constructor)
  constexpr OptPfn(Pfn pfn) : v_(pfn) {}  // NOLINT(google-explicit-constructor)
  constexpr explicit operator bool() const { return v_ != kNone; }
  constexpr bool has_value() const { return v_ != kNone; }
  constexpr Pfn operator*() const { return v_; }

 private:
  static constexpr Pfn kNone = ~Pfn{0};
  Pfn v_ = kNone;
};

inline constexpr unsigned kPageShift = 12;
inline constexpr uint64_t kPageSize = 1ULL << kPageShift;

// include/linux/mmzone.h
inline constexpr unsigned kMaxPageOrder = 10;  // MAX_PAGE_ORDER (inclusive)
inline constexpr unsigned kNrPageOrders = kMaxPageOrder + 1;
inline constexpr uint64_t kMaxOrderNrPages = 1ULL << kMaxPageOrder;
inline constexpr unsigned kPageAllocCostlyOrder = 3;
inline constexpr unsigned kPageblockOrder = 9;  // HUGETLB_PAGE_ORDER on x86 with THP/HugeTLB
inline constexpr uint64_t kPageblockNrPages = 1ULL << kPageblockOrder;
inline constexpr unsigned kHpagePmdOrder = 9;
inline constexpr unsigned kSectionShift = 15;  // PAGES_PER_SECTION = 32768 (128 MiB)
inline constexpr uint64_t kPagesPerSection = 1ULL << kSectionShift;
inline constexpr int kPcpBatchScaleMax = 5;  // CONFIG_PCP_BATCH_SCALE_MAX
inline constexpr int kMinPercpuPagelistHighFraction = 8;
inline constexpr int kMaxReclaimRetries = 16;
inline constexpr uint64_t kSwapClusterMax = 32;
inline constexpr int kLocalDistance = 10;
inline constexpr int kRemoteDistance = 20;
inline constexpr int kMaxNumNodes = 1024;  // NODES_SHIFT=10, used by find_next_best_node
inline constexpr int kWatermarkBoostFactor = 15000;

// enum migratetype (CONFIG_CMA=n, CONFIG_MEMORY_ISOLATION=y).
enum MigrateType : uint8_t {
  kUnmovable = 0,
  kMovable = 1,
  kReclaimable = 2,
  kHighAtomic = 3,
  kIsolate = 4,
};
inline constexpr unsigned kMigratePcpTypes = 3;
inline constexpr unsigned kMigrateTypes = 5;

inline constexpr std::array<std::string_view, kMigrateTypes> kMigrateTypeNames = {
    "Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"};

inline constexpr bool migratetype_is_mergeable(unsigned mt) {
  return mt < kMigratePcpTypes;
}

// The architecture layouts memd emulates (arch/x86 zone_sizes_init).
enum class Arch : uint8_t { kX86_64, kI386 };

// The kinds of zone Linux knows. Which of them exist, and their index
// (zone_idx), depend on the architecture layout: see ArchLayout.
enum class ZoneKind : uint8_t { kDma, kDma32, kNormal, kHighMem, kMovable, kDevice };

std::string_view zone_kind_name(ZoneKind kind);

// Maximum zones in any layout (x86_64: DMA, DMA32, Normal, Movable, Device).
inline constexpr unsigned kMaxNrZones = 5;

// Watermark indices (enum zone_watermarks).
enum Wmark : uint8_t { kWmarkMin = 0, kWmarkLow = 1, kWmarkHigh = 2, kWmarkPromo = 3 };
inline constexpr unsigned kNrWmark = 4;

// NUMA event counters, in the order zoneinfo and vmstat print them.
enum NumaStat : uint8_t {
  kNumaHit,
  kNumaMiss,
  kNumaForeign,
  kNumaInterleave,
  kNumaLocal,
  kNumaOther,
};
inline constexpr unsigned kNrNumaStats = 6;

// Per-cpu list count: 3 types x orders 0..3, plus 2 THP lists (CONFIG_TRANSPARENT_HUGEPAGE).
inline constexpr unsigned kNrLowOrderPcpLists = kMigratePcpTypes * (kPageAllocCostlyOrder + 1);
inline constexpr unsigned kNrPcpLists = kNrLowOrderPcpLists + 2;

// The kernel's clamp() (include/linux/minmax.h __clamp): unlike std::clamp it
// is defined when lo > hi, and then yields hi for val >= hi, else lo.
template <typename T>
constexpr T kclamp(T val, T lo, T hi) {
  return val >= hi ? hi : (val <= lo ? lo : val);
}

}  // namespace memd
