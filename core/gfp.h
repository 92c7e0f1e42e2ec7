// GFP flags as Linux 6.18 defines them (include/linux/gfp_types.h), their
// names as the kernel prints them in traces (include/trace/events/mmflags.h,
// show_gfp_flags) and the two decisions they drive: gfp_zone() and
// gfp_migratetype() (include/linux/gfp.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/types.h"

namespace memd {

using Gfp = uint32_t;

namespace gfp {
inline constexpr Gfp kDma = 0x1;
inline constexpr Gfp kHighmem = 0x2;
inline constexpr Gfp kDma32 = 0x4;
inline constexpr Gfp kMovable = 0x8;
inline constexpr Gfp kReclaimable = 0x10;
inline constexpr Gfp kHigh = 0x20;
inline constexpr Gfp kIo = 0x40;
inline constexpr Gfp kFs = 0x80;
inline constexpr Gfp kZero = 0x100;
// bit 9 unused since 6.4 (was __GFP_ATOMIC)
inline constexpr Gfp kDirectReclaim = 0x400;
inline constexpr Gfp kKswapdReclaim = 0x800;
inline constexpr Gfp kWrite = 0x1000;
inline constexpr Gfp kNowarn = 0x2000;
inline constexpr Gfp kRetryMayfail = 0x4000;
inline constexpr Gfp kNofail = 0x8000;
inline constexpr Gfp kNoretry = 0x10000;
inline constexpr Gfp kMemalloc = 0x20000;
inline constexpr Gfp kComp = 0x40000;
inline constexpr Gfp kNomemalloc = 0x80000;
inline constexpr Gfp kHardwall = 0x100000;
inline constexpr Gfp kThisnode = 0x200000;
inline constexpr Gfp kAccount = 0x400000;
inline constexpr Gfp kZerotags = 0x800000;
// Config-dependent bits: a distro build (CONFIG_SLAB_OBJ_EXT, no KASAN_HW_TAGS,
// no LOCKDEP) has only __GFP_NO_OBJ_EXT, at bit 24.
inline constexpr Gfp kNoObjExt = 0x1000000;

inline constexpr Gfp kReclaim = kDirectReclaim | kKswapdReclaim;
inline constexpr Gfp kZoneMask = kDma | kHighmem | kDma32 | kMovable;
inline constexpr Gfp kMovableMask = kReclaimable | kMovable;

inline constexpr Gfp kAtomic = kHigh | kKswapdReclaim;
inline constexpr Gfp kKernel = kReclaim | kIo | kFs;
inline constexpr Gfp kKernelAccount = kKernel | kAccount;
inline constexpr Gfp kNowait = kKswapdReclaim | kNowarn;
inline constexpr Gfp kNoio = kReclaim;
inline constexpr Gfp kNofs = kReclaim | kIo;
inline constexpr Gfp kUser = kReclaim | kIo | kFs | kHardwall;
inline constexpr Gfp kHighuser = kUser | kHighmem;
inline constexpr Gfp kHighuserMovable = kHighuser | kMovable;
inline constexpr Gfp kTranshugeLight =
    (kHighuserMovable | kComp | kNomemalloc | kNowarn) & ~kReclaim;
inline constexpr Gfp kTranshuge = kTranshugeLight | kDirectReclaim;
}  // namespace gfp

// Parses flags as the kernel prints them ("GFP_KERNEL|__GFP_ZERO", "none",
// a trailing "|0x4000000" of unnamed bits) or as a hex mask ("0xcc0").
// Names are accepted with or without the leading underscores of __GFP_*.
Result<Gfp> parse_gfp(std::string_view text);

// Formats like show_gfp_flags (%pGg): composites first, greedily, then the
// single bits, joined with '|'; unnamed leftover bits as a hex number; 0 as "none".
std::string format_gfp(Gfp flags);

// gfp_zone(): the highest zone index an allocation may use, or -1 when the
// zone bits are in GFP_ZONE_BAD (a VM_BUG in the kernel; memd refuses).
//
// GFP_ZONE_TABLE indexed by the four zone bits (DMA, HIGHMEM, DMA32, MOVABLE),
// with OPT_ZONE_* folded for the architecture's zones. x86_64: DMA 0, DMA32 1,
// NORMAL 2 (also OPT_ZONE_HIGHMEM), MOVABLE 3. i386: DMA 0, NORMAL 1 (also
// OPT_ZONE_DMA32), HIGHMEM 2, MOVABLE 3.
inline int gfp_zone(Gfp flags, Arch arch) {
  static constexpr int8_t kX86_64[16] = {2, 0, 2, -1, 1, -1, -1, -1, 2, 0, 3, -1, 1, -1, -1, -1};
  static constexpr int8_t kI386[16] = {1, 0, 2, -1, 1, -1, -1, -1, 1, 0, 3, -1, 1, -1, -1, -1};
  return (arch == Arch::kX86_64 ? kX86_64 : kI386)[flags & gfp::kZoneMask];
}

// gfp_migratetype(): Unmovable, Movable or Reclaimable (both bits: 3, which
// the kernel warns about and memd refuses before getting here).
inline unsigned gfp_migratetype(Gfp flags) {
  return (flags & gfp::kMovableMask) >> 3;
}

}  // namespace memd
