// Kernel-fidelity review of the core allocator: each test asserts what Linux
// 6.18.35 does (derivation from the kernel source in the comment) in a case
// where memd was found to differ. A failing test here is a memd bug.
#include <gtest/gtest.h>

#include <vector>

#include "core/gfp.h"
#include "core/machine.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

using test::alloc_ok;
using test::free_list;
using test::free_ok;
using test::kGiB;
using test::kMiB;
using test::kZoneDma32;
using test::kZoneNormal;

// ---------------------------------------------------------------------------
// Finding (fixed by narrowing memd's limit): pfn 0xffffffff, the last page
// below 16 TiB, is an ordinary page in the kernel but memd's list and index
// sentinel (kNilPfn, core/memmap.h: pfns are 32 bits in a 12-byte frame).
// memd now emulates physical memory up to 16 TiB minus one page and refuses a
// map that reaches that page, with a message saying so; the page below it is
// an ordinary page.
//
// Machine: e820 RAM [4K, 0x9f000), [1M, 64M) and one page near 16 TiB. 1 CPU.
//  * __free_pages_memory frees the lone page at order 0 (ffs of an odd pfn);
//    its block starts in a hole, so memmap_init_range never typed it:
//    MIGRATE_UNMOVABLE. It is the only entry of Normal's order-0 Unmovable list.
//  * GFP_KERNEL order 0 from CPU 0: preferred zone Normal (managed 1, all
//    watermarks 0): zone_watermark_fast(order 0, high 0) passes; the pcp
//    refill (batch 1) takes the page.
MachineConfig one_page_at(const char* page) {
  MachineConfig cfg;
  cfg.e820 = std::string(
                 "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
                 "BIOS-e820: [mem 0x0000000000100000-0x0000000003ffffff] usable\n") +
             page;
  cfg.cpus = 1;
  return cfg;
}

TEST(Review, LastPfnBelow16TiBIsRefusedClearly) {
  auto m =
      Machine::boot(one_page_at("BIOS-e820: [mem 0x00000ffffffff000-0x00000fffffffffff] usable\n"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(
      m.error().message,
      "memory above 0xfffffffefff is not supported: memd emulates up to 16 TiB minus one page");
}

TEST(Review, PfnBelowTheLimitIsAnOrdinaryPage) {
  MEMD_BOOT(m, one_page_at("BIOS-e820: [mem 0x00000fffffffe000-0x00000fffffffefff] usable\n"));
  const Zone& normal = m.zone(0, kZoneNormal);
  ASSERT_EQ(normal.managed, 1u);
  EXPECT_EQ(free_list(normal, 0, kUnmovable), (std::vector<Pfn>{0xfffffffeULL}));
  Allocation a = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.pfn, 0xfffffffeULL);
  EXPECT_EQ(a.zone_idx, kZoneNormal);
  EXPECT_TRUE(m.find_id(a.id).has_value());
  test::expect_check(m);
}

// ---------------------------------------------------------------------------
// Finding: i386 keeps RAM above 4 GiB. 6.18 removed CONFIG_HIGHMEM64G:
// arch/x86/mm/init_32.c highmem_pfn_init() ends with
//     if (max_pfn > MAX_NONPAE_PFN) { max_pfn = MAX_NONPAE_PFN;
//         printk(MSG_HIGHMEM_TRIMMED); }   /* "only 4GB will be used" */
// (MAX_NONPAE_PFN = 1 << 20, asm/setup.h), and e820__memblock_setup() then
// does memblock_remove(PFN_PHYS(max_pfn), -1) on 32-bit. zone_sizes_init()
// passes max_zone_pfns[ZONE_HIGHMEM] = max_pfn = 1 << 20.
//
// Machine: i386, 6 GiB, qemu pc layout: RAM [4K, 0x9f000), [1M, 3G - 128K),
// [4G, 7G). After the trim only [1M, 3G - 128K) remains above 1 MiB, so
// HighMem = [896 MiB, 3G - 128K) = pfns [229376, 786400): spanned = present
// = managed = 557024. (896 MiB is memd's documented lowmem limit.)
// memd keeps [4G, 7G): HighMem spans to pfn 1835008.
TEST(Review, I386DropsRamAbove4GiB) {
  MachineConfig cfg = test::pc_machine(6 * kGiB, 1, false);
  cfg.arch = Arch::kI386;
  MEMD_BOOT(m, cfg);
  const Zone& high = m.zone(0, 2);
  ASSERT_EQ(high.kind, ZoneKind::kHighMem);
  EXPECT_EQ(high.start_pfn, 229376u);
  EXPECT_EQ(high.end_pfn(), 786400u);
  EXPECT_EQ(high.present, 557024u);
  EXPECT_EQ(high.managed, 557024u);
  EXPECT_EQ(m.layout().memory.back().end, 786400u);
}

// ---------------------------------------------------------------------------
// Finding: buddy_merge_likely() checks the parent's buddy against the zone of
// the *parent* page, not of the freed page. mm/page_alloc.c:
//     higher_page_pfn = buddy_pfn & pfn;
//     higher_page = page + (higher_page_pfn - pfn);
//     return find_buddy_page_pfn(higher_page, higher_page_pfn, order + 1, NULL)
// and find_buddy_page_pfn -> page_is_buddy(higher_page, buddy, order + 1)
// compares page_zone_id(higher_page) with page_zone_id(buddy) (mm/internal.h).
// memd (zone.cpp, free_one_page_locked) compares the buddy's zone with the
// zone doing the free.
//
// Machine: 64 MiB, 2 CPUs, node 0 = 33 MiB, node 1 = 31 MiB (§15.1: node 0
// [0, 33M), node 1 [33M, 64M)); CPU 1 is on node 1. Node 1's DMA32 starts at
// pfn 8448 (not 512-aligned). Boot frees node 1's [8448, 16352) ascending:
// o8@8448, o9@8704, o10@9216..14336, o9@15360, o8@15872, o7, o6, o5
// (8448's order-8 buddy 8192 belongs to node 0: no merge).
//  * GFP_HIGHUSER_MOVABLE order 8 on CPU 1: not a pcp order; preferred zone
//    node 1 DMA32; __rmqueue_smallest(8, MOVABLE) takes the head, 8448.
//  * free on CPU 1: __free_one_page(8448, order 8): buddy 8192 is PageBuddy
//    of order 8 but in node 0's zone -> done_merging, buddy_pfn = 8192.
//    buddy_merge_likely(8448, 8192, page, 8): higher_page_pfn = 8192 (node 0),
//    its order-9 buddy 8704 is a free order-9 block of node 1: zone ids differ
//    -> false -> list_add at the HEAD. Order-8 list: 8448, 15872.
// memd compares 8704's zone with node 1's zone (equal) and adds at the tail.
TEST(Review, MergeLikelyUsesTheParentsZone) {
  MachineConfig cfg = test::pc_machine(64 * kMiB, 2, true);
  NodeConfig n0;
  n0.size = 33 * kMiB;
  NodeConfig n1;
  n1.size = 31 * kMiB;
  cfg.nodes = {n0, n1};
  MEMD_BOOT(m, cfg);
  const Zone& b = m.zone(1, kZoneDma32);
  ASSERT_EQ(b.start_pfn, 8448u);
  ASSERT_EQ(free_list(b, 8, kMovable), (std::vector<Pfn>{8448, 15872}));
  ASSERT_EQ(free_list(b, 9, kMovable), (std::vector<Pfn>{8704, 15360}));
  Allocation x = alloc_ok(m, 8, gfp::kHighuserMovable, 1);
  ASSERT_EQ(x.pfn, 8448u);
  ASSERT_EQ(x.nid, 1);
  free_ok(m, x.pfn, 1);
  EXPECT_EQ(free_list(b, 8, kMovable), (std::vector<Pfn>{8448, 15872}));
  // Observable: the next order-8 request gets 8448 back, not 15872.
  EXPECT_EQ(alloc_ok(m, 8, gfp::kHighuserMovable, 1).pfn, 8448u);
}

// ---------------------------------------------------------------------------
// Finding (low): cmdline_parse_core() (mm/mm_init.c) stores a percentage with
//     *percent = coremem;          /* *core is left alone */
// and find_zone_movable_pfns_for_nodes() recomputes required_kernelcore only
// "if (required_kernelcore_percent)". So "kernelcore=32M kernelcore=0%"
// keeps required_kernelcore = 8192 pages: exactly kernelcore=32M, whose
// zone_movable_pfn on this 64 MiB machine is 9216 (MovableZone.Kernelcore32M:
// 158 + 3840 pages below 4096, 4194 more from 4096 -> 8290 -> 9216).
// memd's parse_core() (config.cpp) zeroes the size when it sees a percentage.
TEST(Review, KernelcoreZeroPercentKeepsEarlierSize) {
  MachineConfig cfg = test::pc_machine(64 * kMiB, 1, true);
  cfg.cmdline = "kernelcore=32M kernelcore=0%";
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 9216u);
}

// ---------------------------------------------------------------------------
// Finding (low): overlapping e820 entries. The kernel sanitises the firmware
// table before using (and logging) it: e820__update_table() gives every
// change point the highest overlapping type ("if (overlap_list[i]->type >
// current_type) current_type = ..."), and E820_TYPE_RAM (1) is the lowest,
// so reserved wins. RAM here is [4K, 0x9f000) and [1M, 48M): the last memory
// pfn is 0x3000 = 12288. memd takes every "usable" line as RAM (64 MiB).
TEST(Review, E820OverlapReservedWins) {
  MachineConfig cfg;
  cfg.e820 =
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
      "BIOS-e820: [mem 0x0000000000100000-0x0000000003ffffff] usable\n"
      "BIOS-e820: [mem 0x0000000003000000-0x0000000003ffffff] reserved\n";
  cfg.cpus = 1;
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().memory.back().end, 12288u);
  EXPECT_EQ(m.zone(0, kZoneDma32).end_pfn(), 12288u);
}

// ---------------------------------------------------------------------------
// Finding (cosmetic): alloc_failure_message() for gfp 0. warn_alloc() prints
//     pr_warn("%s: %pV, mode:%#x(%pGg), nodemask=%*pbl", ...)
// with the kernel's vsprintf: number() with SPECIAL and base 16 always emits
// the "0x" prefix (need_pfx; "if (spec.base == 16 || !is_zero)"), so 0 prints
// "0x0"; %pGg is format_flags(), which prints nothing for 0 ("none" is only
// show_gfp_flags() in tracepoints). Expected: "mode:0x0()". memd uses C's
// "%#x" (no prefix for 0) and format_gfp(0) == "none": "mode:0(none)".
// A 3 MiB machine has no order-10 block, so the order-10 request fails.
TEST(Review, WarnAllocFormatsZeroGfpLikeTheKernel) {
  MEMD_BOOT(m, test::pc_machine(3 * kMiB, 1, false));
  AllocRequest req;
  req.order = 10;
  req.gfp = 0;
  auto r = m.alloc(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "page allocation failure: order:10, mode:0x0(), nodemask=(null)");
}

// ---------------------------------------------------------------------------
// Finding (low): runtime writes of vm.lowmem_reserve_ratio with commas.
// lowmem_reserve_ratio_sysctl_handler() calls proc_dointvec_minmax() and
// ignores its result; __do_proc_dointvec() -> proc_get_long() parses "128"
// and then finds ',' which is not in proc_wspace_sep {' ', '\t', '\n'}:
// -EINVAL before the first value is stored. The handler then clamps and
// recomputes the *old* ratios. So the ratios stay 256 256 32 0 0 and DMA's
// protection[1] stays 61408 / 256 = 239 (256 MiB pc machine: DMA32 managed
// 61408). memd's set_sysctl (machine.cpp) splits on ',' and applies 128...
// (docs/kernel-fidelity.md only covers the boot command line form.)
TEST(Review, LowmemReserveRatioCommaWriteChangesNothing) {
  MEMD_BOOT(m, test::pc_machine(256 * kMiB, 1, true));
  (void)m.set_sysctl("lowmem_reserve_ratio", "128,128,16,0,0");
  EXPECT_EQ(m.stats().lowmem_reserve_ratio, (std::vector<int>{256, 256, 32, 0, 0}));
  EXPECT_EQ(m.zone(0, test::kZoneDma).lowmem_reserve[1], 61408 / 256);
}

// ---------------------------------------------------------------------------
// Finding (cosmetic): sysctl integers are parsed with base 0. proc_get_long()
// uses strtoul_lenient(p, &p, 0, val) (kernel/sysctl.c), so "010" is octal 8
// and "0x1000" is 4096. memd's parse_int() is base 10 ("010" -> 10, "0x1000"
// refused).
TEST(Review, SysctlIntegersAreParsedWithBaseZero) {
  MEMD_BOOT(m, test::pc_machine(256 * kMiB, 1, true));
  (void)m.set_sysctl("min_free_kbytes", "0x1000");
  EXPECT_EQ(m.min_free_kbytes(), 4096);
  (void)m.set_sysctl("min_free_kbytes", "010");
  EXPECT_EQ(m.min_free_kbytes(), 8);
}

}  // namespace
}  // namespace memd
