// The buddy allocator, pfn by pfn: every expected pfn below is derived from
// the kernel's code (mm/page_alloc.c, 6.18) and the rules of linux-mm.md §15,
// with the derivation in a comment. Small machines keep the numbers derivable.
//
// Machines used (qemu pc layout, §15.1):
//  M64:  64 MiB, 1 CPU. Memory pfns [1, 159) and [256, 16352); x86 reserves the
//        first 1 MiB. DMA [1, 4096): managed 3840; DMA32 [4096, 16352): 12256.
//        THP is off (< 512 MiB), so min_free_kbytes is one sqrt run:
//        int_sqrt(16096 * 4 * 16) = 1014 -> pages_min 253, lowmem 16096:
//        DMA   min 253*3840/16096 = 60,   tmp max(15, 3) = 15  -> 60/75/90/105
//        DMA32 min 253*12256/16096 = 192, tmp max(48, 12) = 48 -> 192/240/288/336
//        protection DMA (0, 12256/256 = 47, 47, 47, 47).
//        batch: DMA 1, DMA32 (11/4 = 2 -> rounddown_pow_of_two(3) - 1 = 1) 1.
//        pcp (1 CPU): high_min = low, high_max = managed/8: DMA 75/480, DMA32 240/1532.
//  M256: 256 MiB, 1 CPU. DMA32 [4096, 65504): managed 61408.
//        min_free_kbytes int_sqrt(65248 * 64) = 2043 -> pages_min 510:
//        DMA32 min 510*61408/65248 = 479, tmp max(119, 61) = 119 -> 479/598/717;
//        batch (59/4 = 14 -> rounddown_pow_of_two(21) - 1) = 15; high_min 598, high_max 7676.
//  MN:   e820 with 64 MiB low and 64 MiB at 4 GiB, 1 CPU: DMA 3840, DMA32 [4096,
//        16384) 12288, Normal [1048576, 1064960) 16384 managed.
//        min_free_kbytes int_sqrt(32512 * 64) = 1442 -> pages_min 360, lowmem 32512:
//        DMA 42/52/62, DMA32 136/170/204, Normal 181/226/271;
//        protection DMA (0, 48, 112, 112, 112), DMA32 (0, 0, 64, 64, 64);
//        batch DMA 1, DMA32 3, Normal (16/4 = 4 -> rounddown(6) - 1) 3.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "core/gfp.h"
#include "core/machine.h"
#include "tests/core/machines.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

namespace machines = test::machines;
using test::alloc_ok;
using test::expect_check;
using test::expect_extfrag;
using test::ExtfragRecorder;
using test::free_list;
using test::free_ok;
using test::kGiB;
using test::kMiB;
using test::kZoneDma;
using test::kZoneDma32;
using test::kZoneMovable;
using test::kZoneNormal;
using test::pcp_list;
using test::pfn_range;
using test::pindex;
using test::try_alloc;

constexpr Gfp kDmaKernel = gfp::kKernel | gfp::kDma;                   // 0xcc1
constexpr Gfp kDmaMovable = gfp::kKernel | gfp::kDma | gfp::kMovable;  // -> ZONE_DMA, Movable
constexpr Gfp kDma32Movable = gfp::kKernel | gfp::kDma32 | gfp::kMovable;
constexpr Gfp kKernelNoKswapd = gfp::kKernel & ~gfp::kKswapdReclaim;  // 0x4c0

// ===========================================================================
// Boot
// ===========================================================================

// __free_pages_memory frees [256, 16352) in ascending, maximally aligned
// chunks; __free_pages_core uses FPI_TO_TAIL, and free_one_page splits each
// order-10 chunk into two pageblocks that merge again. So every list is in
// ascending pfn order. Block 0 starts in a hole (pfn 0 is not RAM), so
// memmap_init never typed it: it stays Unmovable and o8@256 lands on the
// Unmovable list (§6.4, §7.5). DMA32's tail: 15360 o9, 15872 o8, 16128 o7,
// 16256 o6, 16320 o5 (16352 - 15360 = 992 = 512+256+128+64+32).
TEST(BuddyBoot, FreeListsAscendingAndTyped) {
  MEMD_BOOT(m, machines::pc_64m());
  const Zone& dma = m.zone(0, kZoneDma);
  EXPECT_EQ(free_list(dma, 8, kUnmovable), (std::vector<Pfn>{256}));
  EXPECT_EQ(free_list(dma, 9, kMovable), (std::vector<Pfn>{512}));
  EXPECT_EQ(free_list(dma, 10, kMovable), (std::vector<Pfn>{1024, 2048, 3072}));
  for (unsigned o = 0; o <= kMaxPageOrder; ++o) {
    EXPECT_EQ(dma.free_area[o].nr_free, o == 8 || o == 9 ? 1u : o == 10 ? 3u : 0u) << o;
  }
  EXPECT_EQ(dma.nr_free_pages, 3840);
  EXPECT_EQ(dma.nr_free_pages_blocks, 512 + 3 * 1024);  // buddies of order >= 9

  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(free_list(d32, 10, kMovable), pfn_range(4096, 14336, 1024));
  EXPECT_EQ(free_list(d32, 9, kMovable), (std::vector<Pfn>{15360}));
  EXPECT_EQ(free_list(d32, 8, kMovable), (std::vector<Pfn>{15872}));
  EXPECT_EQ(free_list(d32, 7, kMovable), (std::vector<Pfn>{16128}));
  EXPECT_EQ(free_list(d32, 6, kMovable), (std::vector<Pfn>{16256}));
  EXPECT_EQ(free_list(d32, 5, kMovable), (std::vector<Pfn>{16320}));
  for (unsigned o = 0; o < 5; ++o)
    EXPECT_EQ(d32.free_area[o].nr_free, 0u) << o;
  for (unsigned o = 0; o <= kMaxPageOrder; ++o) {
    EXPECT_TRUE(free_list(d32, o, kUnmovable).empty()) << o;
  }
  EXPECT_EQ(d32.nr_free_pages, 12256);
  EXPECT_EQ(d32.nr_free_pages_blocks, 11 * 1024 + 512);
  // The boot frees count in PGFREE (§7.5).
  EXPECT_EQ(m.pgfree(), 3840u + 12256u);
  expect_check(m);
}

// pagetypeinfo's block count walks start_pfn, start_pfn+512, ...: DMA from
// pfn 1 sees blocks 0..7 (block 0 Unmovable), DMA32 from 4096 sees 24 blocks,
// the last (15872) starts in memory and so is Movable.
TEST(BuddyBoot, PageblockCounts) {
  MEMD_BOOT(m, machines::pc_64m());
  MachineStats st = m.stats();
  const ZoneStats& dma = st.nodes[0].zones[kZoneDma];
  EXPECT_EQ(dma.block_count[kUnmovable], 1u);
  EXPECT_EQ(dma.block_count[kMovable], 7u);
  const ZoneStats& d32 = st.nodes[0].zones[kZoneDma32];
  EXPECT_EQ(d32.block_count[kUnmovable], 0u);
  EXPECT_EQ(d32.block_count[kMovable], 24u);
  EXPECT_EQ(test::block_type(m, 0), kUnmovable);
  EXPECT_EQ(test::block_type(m, 512), kMovable);
  EXPECT_EQ(test::block_type(m, 15872), kMovable);
}

TEST(BuddyBoot, SmallMachineWatermarksAndPagesets) {
  MEMD_BOOT(m, machines::pc_64m());
  EXPECT_FALSE(m.mobility_disabled());
  EXPECT_EQ(m.min_free_kbytes(), 1014);
  const Zone& dma = m.zone(0, kZoneDma);
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(dma.watermark[kWmarkMin], 60u);
  EXPECT_EQ(dma.watermark[kWmarkLow], 75u);
  EXPECT_EQ(dma.watermark[kWmarkHigh], 90u);
  EXPECT_EQ(dma.watermark[kWmarkPromo], 105u);
  EXPECT_EQ(d32.watermark[kWmarkMin], 192u);
  EXPECT_EQ(d32.watermark[kWmarkLow], 240u);
  EXPECT_EQ(d32.watermark[kWmarkHigh], 288u);
  EXPECT_EQ(d32.watermark[kWmarkPromo], 336u);
  EXPECT_EQ(dma.lowmem_reserve[1], 47);
  EXPECT_EQ(dma.lowmem_reserve[4], 47);
  EXPECT_EQ(d32.lowmem_reserve[2], 0);
  EXPECT_EQ(dma.pageset_batch, 1);
  EXPECT_EQ(d32.pageset_batch, 1);
  EXPECT_EQ(dma.pageset_high_min, 75);
  EXPECT_EQ(dma.pageset_high_max, 480);
  EXPECT_EQ(d32.pageset_high_min, 240);
  EXPECT_EQ(d32.pageset_high_max, 1532);
}

// 8 MiB: present 1918 pages (< pageblock_nr_pages * MIGRATE_TYPES = 2560) when
// build_all_zonelists computes vm_total_pages, so mobility grouping is off
// (§4.5). build_all_zonelists runs in mm_core_init, after setup_arch's
// free_area_init -> memmap_init has already typed the blocks MOVABLE
// (init_pageblock_migratetype only forces UNMOVABLE once the flag is set), so
// the boot lists look as usual: o8@256 in Unmovable block 0, the rest
// (o9@512, o9@1024, o8@1536, o7@1792, o6@1920, o5@1984) Movable.
// gfp_migratetype() then returns UNMOVABLE for every request: a
// GFP_HIGHUSER_MOVABLE page comes from the Unmovable lists, not from the
// smallest Movable block o5@1984.
TEST(BuddyBoot, MobilityGroupingDisabledOnTinyMachine) {
  MEMD_BOOT(m, test::pc_machine(8 * kMiB, 1, true));
  EXPECT_TRUE(m.mobility_disabled());
  MachineStats st = m.stats();
  EXPECT_EQ(st.nodes[0].zones[kZoneDma].block_count[kUnmovable], 1u);
  EXPECT_EQ(st.nodes[0].zones[kZoneDma].block_count[kMovable], 3u);
  EXPECT_EQ(free_list(m.zone(0, kZoneDma), 9, kMovable), (std::vector<Pfn>{512, 1024}));
  // GFP_KERNEL: o8@256 splits -> 256; o0@257 .. o7@384 Unmovable.
  Allocation a = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.pfn, 256u);
  // Same pcp list (Unmovable), alloc_factor 1 -> a refill of 2: 257, 258.
  Allocation b = alloc_ok(m, 0, gfp::kHighuserMovable);
  EXPECT_EQ(b.pfn, 257u);
  // The kernel's trace reports gfp_migratetype(), i.e. Unmovable here.
  EXPECT_EQ(b.migratetype, unsigned{kUnmovable});
  expect_check(m);
}

// ===========================================================================
// Splits and merges (orders 4..8 bypass the pcp: rmqueue_buddy / free_one_page)
// ===========================================================================

// __rmqueue_smallest takes the smallest order that has a block, keeps the
// lowest pfns and expand()s the upper halves onto the lists of their orders.
TEST(BuddySplit, SmallestOrderFirstLowerHalfReturned) {
  MEMD_BOOT(m, machines::pc_64m());
  // GFP_HIGHUSER_MOVABLE: highest zone Movable (empty), so DMA32 is preferred.
  Allocation a = alloc_ok(m, 4, gfp::kHighuserMovable);
  EXPECT_EQ(a.pfn, 16320u);  // o5@16320 split: keep 16320, 16336 -> o4 list
  EXPECT_EQ(a.order, 4u);
  EXPECT_EQ(a.nid, 0);
  EXPECT_EQ(a.zone_idx, kZoneDma32);
  EXPECT_EQ(a.zone_name, "DMA32");
  EXPECT_EQ(a.migratetype, unsigned{kMovable});
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(free_list(d32, 4, kMovable), (std::vector<Pfn>{16336}));
  EXPECT_TRUE(free_list(d32, 5, kMovable).empty());

  EXPECT_EQ(alloc_ok(m, 4, gfp::kHighuserMovable).pfn, 16336u);
  // Next: o6@16256 -> keep 16256, o5@16288 and o4@16272 onto their lists.
  EXPECT_EQ(alloc_ok(m, 4, gfp::kHighuserMovable).pfn, 16256u);
  EXPECT_EQ(free_list(d32, 4, kMovable), (std::vector<Pfn>{16272}));
  EXPECT_EQ(free_list(d32, 5, kMovable), (std::vector<Pfn>{16288}));
  EXPECT_TRUE(free_list(d32, 6, kMovable).empty());
  // An order-8 request skips nothing smaller: o8@15872.
  EXPECT_EQ(alloc_ok(m, 8, gfp::kHighuserMovable).pfn, 15872u);
  // An order-10 request takes the list head, the lowest o10: 4096.
  EXPECT_EQ(alloc_ok(m, 10, gfp::kHighuserMovable).pfn, 4096u);
  EXPECT_EQ(d32.nr_free_pages, 12256 - 16 * 3 - 256 - 1024);
  expect_check(m);
}

// __free_one_page merges with free buddies; the merged block goes to the
// tail when buddy_merge_likely() sees the parent's buddy free at order+1,
// else to the head.
TEST(BuddyMerge, HeadOrTailByMergeLikely) {
  MEMD_BOOT(m, machines::pc_64m());
  const Zone& d32 = m.zone(0, kZoneDma32);
  Pfn a = alloc_ok(m, 4, gfp::kHighuserMovable).pfn;  // 16320 (o4@16336 free)
  Pfn b = alloc_ok(m, 4, gfp::kHighuserMovable).pfn;  // 16336
  Pfn x = alloc_ok(m, 4, gfp::kHighuserMovable).pfn;  // 16256 (o5@16288, o4@16272 free)
  Pfn y = alloc_ok(m, 4, gfp::kHighuserMovable).pfn;  // 16272
  ASSERT_EQ(a, 16320u);
  ASSERT_EQ(b, 16336u);
  ASSERT_EQ(x, 16256u);
  ASSERT_EQ(y, 16272u);
  EXPECT_TRUE(free_list(d32, 4, kMovable).empty());

  // Free A (16320): buddy 16336 is allocated. merge_likely: parent 16320's
  // order-5 buddy is 16352, not RAM -> head.
  free_ok(m, a);
  EXPECT_EQ(free_list(d32, 4, kMovable), (std::vector<Pfn>{16320}));
  // Free X (16256): buddy 16272 allocated. Parent 16256's order-5 buddy
  // 16288 is a free o5 -> tail.
  free_ok(m, x);
  EXPECT_EQ(free_list(d32, 4, kMovable), (std::vector<Pfn>{16320, 16256}));
  // Free Y (16272): merges with 16256 (o5), then with o5@16288 (o6@16256);
  // its order-6 buddy 16192 lies inside o7@16128, not a head: stop.
  free_ok(m, y);
  EXPECT_EQ(free_list(d32, 4, kMovable), (std::vector<Pfn>{16320}));
  EXPECT_TRUE(free_list(d32, 5, kMovable).empty());
  EXPECT_EQ(free_list(d32, 6, kMovable), (std::vector<Pfn>{16256}));
  // Free B (16336): merges with 16320 into o5@16320; buddy 16352 is no page
  // of the zone: stop. merge_likely: parent 16320's order-6 buddy is 16256,
  // a free o6 -> tail (the only entry either way). Back to the boot lists.
  free_ok(m, b);
  EXPECT_EQ(free_list(d32, 5, kMovable), (std::vector<Pfn>{16320}));
  EXPECT_EQ(free_list(d32, 6, kMovable), (std::vector<Pfn>{16256}));
  EXPECT_EQ(free_list(d32, 7, kMovable), (std::vector<Pfn>{16128}));
  EXPECT_TRUE(free_list(d32, 4, kMovable).empty());
  EXPECT_EQ(d32.nr_free_pages, 12256);
  EXPECT_EQ(m.nr_allocations(), 0u);
  expect_check(m);
}

// An order-10 allocation freed again is split into its two pageblocks
// (split_large_buddy), which merge back into one order-10 block. It goes to
// the head (order >= MAX_PAGE_ORDER - 1: no merge_likely, no FPI_TO_TAIL).
TEST(BuddyMerge, Order10FreeGoesToHead) {
  MEMD_BOOT(m, machines::pc_64m());
  Pfn p = alloc_ok(m, 10, gfp::kHighuserMovable).pfn;
  ASSERT_EQ(p, 4096u);
  Pfn q = alloc_ok(m, 10, gfp::kHighuserMovable).pfn;
  ASSERT_EQ(q, 5120u);
  free_ok(m, q);
  const Zone& d32 = m.zone(0, kZoneDma32);
  std::vector<Pfn> want = {5120};
  for (Pfn f = 6144; f <= 14336; f += 1024)
    want.push_back(f);
  EXPECT_EQ(free_list(d32, 10, kMovable), want);
  free_ok(m, p);
  want.insert(want.begin(), 4096);
  EXPECT_EQ(free_list(d32, 10, kMovable), want);
  // PGFREE counts the boot frees and 2 x 1024 now.
  EXPECT_EQ(m.pgfree(), 16096u + 2048u);
  expect_check(m);
}

// buddy_merge_likely() checks the parent's buddy against the zone of the
// *parent* page, not of the freed page (mm/page_alloc.c):
//     higher_page_pfn = buddy_pfn & pfn;
//     higher_page = page + (higher_page_pfn - pfn);
//     return find_buddy_page_pfn(higher_page, higher_page_pfn, order + 1, NULL)
// and page_is_buddy(higher_page, buddy, order + 1) compares
// page_zone_id(higher_page) with page_zone_id(buddy) (mm/internal.h).
//
// Machine: node 0 = 33 MiB, node 1 = 31 MiB; CPU 1 is on node 1. Node 1's
// DMA32 starts at pfn 8448 (not 512-aligned). Boot frees node 1's [8448,
// 16352) ascending: o8@8448, o9@8704, o10@9216..14336, o9@15360, o8@15872,
// o7, o6, o5 (8448's order-8 buddy 8192 belongs to node 0: no merge).
//  * GFP_HIGHUSER_MOVABLE order 8 on CPU 1: not a pcp order; preferred zone
//    node 1 DMA32; __rmqueue_smallest(8, MOVABLE) takes the head, 8448.
//  * free on CPU 1: __free_one_page(8448, order 8): buddy 8192 is PageBuddy
//    of order 8 but in node 0's zone -> done_merging, buddy_pfn = 8192.
//    buddy_merge_likely(8448, 8192, page, 8): higher_page_pfn = 8192 (node 0),
//    its order-9 buddy 8704 is a free order-9 block of node 1: zone ids differ
//    -> false -> list_add at the HEAD. Order-8 list: 8448, 15872.
TEST(BuddyMerge, MergeLikelyUsesTheParentsZone) {
  MEMD_BOOT(m, machines::nodes_33m_31m());
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

#if !defined(NDEBUG) || defined(MEMD_ASSERTIONS)
// MEMD_ASSERT holds __free_one_page() to the kernel's preconditions: freeing
// a block that is already on a free list aborts (VM_BUG_ON_PAGE in the
// kernel's free path), naming the condition.
TEST(BuddyMergeDeathTest, FreeingAFreeBlockAsserts) {
  MEMD_BOOT(m, machines::pc_64m());
  Zone& dma32 = const_cast<Zone&>(m.zone(0, kZoneDma32));
  const Pfn head = dma32.free_area[10].free_list[kMovable].head;
  ASSERT_NE(head, kNilPfn);
  EXPECT_DEATH(dma32.free_one_page_inner(head, 10, kMovable, false), "MEMD_ASSERT");
}
#endif

// ===========================================================================
// Per-cpu lists
// ===========================================================================

// nr_pcp_alloc: high = clamp(high, high_min, high_max) on first use, then
// grows by the scaled batch; alloc_factor doubles the order-0 batch while
// batch <= max_nr_alloc; rmqueue_bulk appends each page at the tail, so the
// list is in ascending pfn order and allocation takes its head.
// M256 DMA32: base batch 15, high_min 598, high_max 7676.
//  refill 1: high 0 -> 598 -> 613; batch 15; alloc_factor 0 -> 1. The first
//            page claims o10@4096 for Unmovable (extfrag), the rest comes
//            from its remainders: 4096..4110.
//  refill 2: batch 30, high 643, alloc_factor 2: 4111..4140.
//  refill 3: batch 60, high 703, alloc_factor 3: 4141..4200.
TEST(Pcp, RefillAppendsToTailAndBatchGrows) {
  MEMD_BOOT(m, machines::pc_256m());
  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  const Zone& d32 = m.zone(0, kZoneDma32);
  const PerCpuPages& pcp = d32.pcp[0];
  EXPECT_EQ(pcp.high, 0);
  EXPECT_EQ(d32.pageset_batch, 15);
  EXPECT_EQ(d32.pageset_high_min, 598);
  EXPECT_EQ(d32.pageset_high_max, 7676);

  Allocation first = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(first.pfn, 4096u);
  EXPECT_EQ(pcp.high, 613);
  EXPECT_EQ(pcp.alloc_factor, 1);
  EXPECT_EQ(pcp.count, 14);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 0)), pfn_range(4097, 4110));
  ASSERT_EQ(rec.events.size(), 1u);
  expect_extfrag(rec.events[0], 4096, 0, 10, kUnmovable, kMovable, true);
  EXPECT_EQ(test::block_type(m, 4096), kUnmovable);
  EXPECT_EQ(test::block_type(m, 4608), kUnmovable);
  EXPECT_EQ(test::block_type(m, 5120), kMovable);

  std::vector<Pfn> got = {first.pfn};
  for (int i = 1; i < 15; ++i)
    got.push_back(alloc_ok(m, 0, gfp::kKernel).pfn);
  EXPECT_EQ(pcp.count, 0);
  got.push_back(alloc_ok(m, 0, gfp::kKernel).pfn);  // refill 2
  EXPECT_EQ(pcp.high, 643);
  EXPECT_EQ(pcp.alloc_factor, 2);
  EXPECT_EQ(pcp.count, 29);
  for (int i = 16; i < 45; ++i)
    got.push_back(alloc_ok(m, 0, gfp::kKernel).pfn);
  EXPECT_EQ(pcp.count, 0);
  got.push_back(alloc_ok(m, 0, gfp::kKernel).pfn);  // refill 3
  EXPECT_EQ(pcp.high, 703);
  EXPECT_EQ(pcp.alloc_factor, 3);
  EXPECT_EQ(pcp.count, 59);
  EXPECT_EQ(got, pfn_range(4096, 4141));
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 0)).back(), 4200u);
  EXPECT_EQ(rec.events.size(), 1u);
  // The buddy lost 15 + 30 + 60 pages to the pcp; PGALLOC counts only what
  // was handed out.
  EXPECT_EQ(d32.nr_free_pages, 61408 - 105);
  EXPECT_EQ(d32.pgalloc, 46u);
  m.set_extfrag_listener(nullptr);
  expect_check(m);
}

// A CPU that never allocated keeps high 0 (the struct is zeroed).
TEST(Pcp, UnusedCpuKeepsHighZero) {
  MEMD_BOOT(m, test::pc_machine(256 * kMiB, 2, true));
  alloc_ok(m, 0, gfp::kKernel, /*cpu=*/1);
  const Zone& d32 = m.zone(0, kZoneDma32);
  // 2 CPUs: high_min = 598/2 = 299, high_max = 61408/8/2 = 3838;
  // cpu 1: clamp(0, 299, 3838) + 15 = 314.
  EXPECT_EQ(d32.pageset_high_min, 299);
  EXPECT_EQ(d32.pageset_high_max, 3838);
  EXPECT_EQ(d32.pcp[1].high, 314);
  EXPECT_EQ(d32.pcp[0].high, 0);
  EXPECT_EQ(d32.pcp[0].count, 0);
  EXPECT_EQ(d32.pcp[1].count, 14);
}

// percpu_pagelist_high_fraction=1000 fixes high_min = high_max =
// max(61408/1000, 4 * 15) = 61 (no auto-tuning).
// Allocation refills: 15 (alloc_factor -> 1), 30 (-> 2), then
// min(60, max(61 - 0 - 15, 15) = 46) = 46 twice: 137 pages, 4096..4232; 100
// handed out (4096..4195), 37 left on the list (4196..4232).
// Frees (free_frozen_page_commit): each goes to the list head, free_count++
// (it was 0: every allocation halves it). When count reaches 61,
// nr_pcp_free = clamp(free_count, batch 15, high - batch 46) pages leave from
// the tail (free_pcppages_bulk):
//  free #24 (4119): count 61, free_count 24 -> 24 leave: 4232..4209;
//  free #48 (4143): count 61, free_count 48 -> 46 leave: 4208..4196, then
//                   4096..4128 (the oldest frees).
TEST(Pcp, FreeDrainsFromTailByFreeCount) {
  MEMD_BOOT(m, machines::pc_256m());
  test::set_sysctl_ok(m, "percpu_pagelist_high_fraction", "1000");
  const Zone& d32 = m.zone(0, kZoneDma32);
  const PerCpuPages& pcp = d32.pcp[0];
  EXPECT_EQ(d32.pageset_high_min, 61);
  EXPECT_EQ(d32.pageset_high_max, 61);
  std::vector<Pfn> got;
  for (int i = 0; i < 100; ++i)
    got.push_back(alloc_ok(m, 0, gfp::kKernel).pfn);
  EXPECT_EQ(got, pfn_range(4096, 4195));
  EXPECT_EQ(pcp.count, 37);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 0)), pfn_range(4196, 4232));
  int64_t buddy_free = d32.nr_free_pages;
  EXPECT_EQ(buddy_free, 61408 - 137);

  for (Pfn p = 4096; p <= 4118; ++p)
    free_ok(m, p);  // 23 frees: count 60
  EXPECT_EQ(pcp.count, 60);
  EXPECT_EQ(d32.nr_free_pages, buddy_free);
  free_ok(m, 4119);  // count 61 -> drain 24
  EXPECT_EQ(pcp.count, 37);
  EXPECT_EQ(pcp.free_count, 24);
  EXPECT_EQ(d32.nr_free_pages, buddy_free + 24);
  std::vector<Pfn> want;
  for (Pfn p = 4119; p >= 4096; --p)
    want.push_back(p);
  for (Pfn p = 4196; p <= 4208; ++p)
    want.push_back(p);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 0)), want);

  for (Pfn p = 4120; p <= 4143; ++p)
    free_ok(m, p);  // 24 more: the last drains 46
  EXPECT_EQ(pcp.count, 15);
  EXPECT_EQ(d32.nr_free_pages, buddy_free + 24 + 46);
  want.clear();
  for (Pfn p = 4143; p >= 4129; --p)
    want.push_back(p);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 0)), want);
  expect_check(m);
}

// free_pcppages_bulk starts at the freed page's list, drains it completely
// (from the tail), then moves cyclically to the next non-empty list.
// high fixed at 61 as above.
//  20 GFP_KERNEL allocs: refills 15 + 30 -> U list 4116..4140 (25), count 25.
//  1 movable alloc: batch 15 << 2 = 60, max_nr_alloc = max(61 - 25 - 15, 15)
//    = 21 -> 21 pages from the smallest Movable block o5@65472: 65472..65492.
//  19 more movable allocs leave M list = [65492]; count 26.
//  Free U 4096..4115 (count 46, free_count 20), free M 65472..65485 (count
//  60, free_count 34), free M 65486: count 61, free_count 35 -> 35 pages
//  leave: all 16 of the M list (pindex 1), then 19 from the U list's tail
//  (pindex 0, after wrapping past the empty lists 2..13): 4140..4122.
TEST(Pcp, DrainRoundRobinAcrossLists) {
  MEMD_BOOT(m, machines::pc_256m());
  test::set_sysctl_ok(m, "percpu_pagelist_high_fraction", "1000");
  const Zone& d32 = m.zone(0, kZoneDma32);
  const PerCpuPages& pcp = d32.pcp[0];
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(alloc_ok(m, 0, gfp::kKernel).pfn, 4096u + i);
  EXPECT_EQ(pcp.count, 25);
  EXPECT_EQ(alloc_ok(m, 0, gfp::kHighuserMovable).pfn, 65472u);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kMovable, 0)), pfn_range(65473, 65492));
  for (int i = 1; i < 20; ++i)
    EXPECT_EQ(alloc_ok(m, 0, gfp::kHighuserMovable).pfn, 65472u + i);
  EXPECT_EQ(pcp.count, 26);
  for (Pfn p = 4096; p <= 4115; ++p)
    free_ok(m, p);
  for (Pfn p = 65472; p <= 65485; ++p)
    free_ok(m, p);
  EXPECT_EQ(pcp.count, 60);
  free_ok(m, 65486);
  EXPECT_EQ(pcp.count, 26);
  EXPECT_TRUE(pcp_list(d32, 0, pindex(kMovable, 0)).empty());
  std::vector<Pfn> want;
  for (Pfn p = 4115; p >= 4096; --p)
    want.push_back(p);
  for (Pfn p = 4116; p <= 4121; ++p)
    want.push_back(p);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 0)), want);
  expect_check(m);
}

// ===========================================================================
// Fallback: claims and steals (mm_page_alloc_extfrag)
// ===========================================================================

// GFP_KERNEL on a fresh M64: no Unmovable page in DMA32 (the preferred zone;
// DMA32 is not Normal, so no ALLOC_NOFRAGMENT). __rmqueue_claim scans from
// order 10 down and finds o10@4096 Movable; current_order >= pageblock_order:
// the whole block (both pageblocks) becomes Unmovable and expand() puts the
// remainders on the Unmovable lists. The pcp batch is 1, so only 4096 leaves.
TEST(Fallback, WholeBlockClaimForLargeOrder) {
  MEMD_BOOT(m, machines::pc_64m());
  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  Allocation a = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.pfn, 4096u);
  EXPECT_EQ(a.migratetype, unsigned{kUnmovable});
  ASSERT_EQ(rec.events.size(), 1u);
  expect_extfrag(rec.events[0], 4096, 0, 10, kUnmovable, kMovable, true);
  EXPECT_TRUE(rec.events[0].fragmenting() == false);
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(test::block_type(m, 4096), kUnmovable);
  EXPECT_EQ(test::block_type(m, 4608), kUnmovable);
  for (unsigned o = 0; o <= 9; ++o) {
    EXPECT_EQ(free_list(d32, o, kUnmovable), (std::vector<Pfn>{4096u + (1u << o)})) << o;
  }
  EXPECT_EQ(free_list(d32, 10, kMovable), pfn_range(5120, 14336, 1024));
  EXPECT_EQ(d32.watermark_boost, 0u);  // whole-block claims do not boost
  // Second request: alloc_factor 1 -> batch 2: 4097, 4098.
  EXPECT_EQ(alloc_ok(m, 0, gfp::kKernel).pfn, 4097u);
  EXPECT_EQ(d32.pcp[0].count, 1);
  EXPECT_EQ(rec.events.size(), 1u);
  MachineStats st = m.stats();
  EXPECT_EQ(st.nodes[0].zones[kZoneDma32].block_count[kUnmovable], 2u);
  m.set_extfrag_listener(nullptr);
  expect_check(m);
}

// Leaves DMA32 of a fresh M64 with one partly used pageblock:
// block 9 [4608, 5120) has 256 pages of a movable order-8 allocation (4608)
// and o8@4864 free; nothing else in DMA32 is free.
//  - the DMA32 tail: o9@15360 (via the pcp, batch 1), o8@15872, o7@16128,
//    o6@16256, o5@16320;
//  - movable order 8 twice: o10@4096 splits -> 4096, then o8@4352 (o9@4608 left);
//  - 10 movable order 10: 5120..14336 (the watermark allows: before the last,
//    1536 - 1023 = 513 > low 240);
//  - movable order 8: o9@4608 splits -> 4608, o8@4864 left.
void leave_half_block(Machine& m) {
  EXPECT_EQ(alloc_ok(m, 9, gfp::kHighuserMovable).pfn, 15360u);
  EXPECT_EQ(alloc_ok(m, 8, gfp::kHighuserMovable).pfn, 15872u);
  EXPECT_EQ(alloc_ok(m, 7, gfp::kHighuserMovable).pfn, 16128u);
  EXPECT_EQ(alloc_ok(m, 6, gfp::kHighuserMovable).pfn, 16256u);
  EXPECT_EQ(alloc_ok(m, 5, gfp::kHighuserMovable).pfn, 16320u);
  EXPECT_EQ(alloc_ok(m, 8, gfp::kHighuserMovable).pfn, 4096u);
  EXPECT_EQ(alloc_ok(m, 8, gfp::kHighuserMovable).pfn, 4352u);
  for (Pfn p = 5120; p <= 14336; p += 1024) {
    EXPECT_EQ(alloc_ok(m, 10, gfp::kHighuserMovable).pfn, p);
  }
  EXPECT_EQ(alloc_ok(m, 8, gfp::kHighuserMovable).pfn, 4608u);
  EXPECT_EQ(m.zone(0, kZoneDma32).nr_free_pages, 256);
  EXPECT_EQ(free_list(m.zone(0, kZoneDma32), 8, kMovable), (std::vector<Pfn>{4864}));
}

// try_to_claim_block below pageblock_order: boost_watermark first (DMA32
// managed 12256 >= 4 * 512; max_boost = max(512, mult_frac(high 288, 15000,
// 10000) = 432) = 512 -> boost 512). Block 9: free 256, movable 256 (§15.3),
// alike = 512 - 256 - 256 = 0; 256 + 0 >= 256: claim. The free o8@4864 moves
// to the Unmovable list and __rmqueue_smallest(Unmovable) splits it: 4864.
// GFP_KERNEL has ALLOC_KSWAPD, so ZONE_BOOSTED_WATERMARK is set and rmqueue
// wakes kswapd afterwards: memd drops the boost at once (§15.3).
TEST(Fallback, HalfBlockClaimSucceeds) {
  MEMD_BOOT(m, machines::pc_64m());
  leave_half_block(m);
  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  Allocation a = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.pfn, 4864u);
  EXPECT_EQ(a.zone_idx, kZoneDma32);
  ASSERT_EQ(rec.events.size(), 1u);
  expect_extfrag(rec.events[0], 4864, 0, 8, kUnmovable, kMovable, true);
  EXPECT_TRUE(rec.events[0].fragmenting());
  EXPECT_EQ(test::block_type(m, 4608), kUnmovable);
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(free_list(d32, 7, kUnmovable), (std::vector<Pfn>{4992}));
  EXPECT_EQ(free_list(d32, 0, kUnmovable), (std::vector<Pfn>{4865}));
  EXPECT_EQ(d32.watermark_boost, 0u);
  m.set_extfrag_listener(nullptr);
  expect_check(m);
}

// The same claim without __GFP_KSWAPD_RECLAIM: no ZONE_BOOSTED_WATERMARK, no
// kswapd wake in rmqueue, so the boost stays (and is added to every mark).
TEST(Boost, StaysWithoutKswapdFlag) {
  MEMD_BOOT(m, machines::pc_64m());
  leave_half_block(m);
  Allocation a = alloc_ok(m, 0, kKernelNoKswapd);
  EXPECT_EQ(a.pfn, 4864u);
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(d32.watermark_boost, 512u);
  EXPECT_EQ(d32.wmark(kWmarkMin), 192u + 512u);
  EXPECT_EQ(d32.wmark(kWmarkLow), 240u + 512u);
  MachineStats st = m.stats();
  EXPECT_EQ(st.nodes[0].zones[kZoneDma32].boost, 512u);
  expect_check(m);
}

// The slow path's wake_all_kswapds drops a boosted zone's boost (§15.3).
// After StaysWithoutKswapdFlag's claim DMA32 has 255 free pages and boost 512.
// DMA is first brought to 112 free pages with GFP_DMA requests (order 10 x3
// and order 9 claim whole blocks, 1024/2048/3072/512; order 7 and 4 split
// o8@256: 256, 384). A GFP_KERNEL order-0 request then fails the fast path
// everywhere: DMA32 255 <= low 240 + boost 512; DMA 112 <= low 75 + protection
// 47. The slow path wakes kswapd for node 0 (DMA32 is boosted), the boost
// drops to 0, and the MIN attempt succeeds in DMA32 (255 > 192). Had the
// boost stayed, DMA32 would fail (255 <= 704) and DMA would serve the request
// (112 > 60 + 47). DMA32's pcp: alloc_factor 1 -> 2 pages, 4865 and 4866.
TEST(Boost, DropsAtSlowPathKswapdWake) {
  MEMD_BOOT(m, machines::pc_64m());
  leave_half_block(m);
  ASSERT_EQ(alloc_ok(m, 0, kKernelNoKswapd).pfn, 4864u);
  ASSERT_EQ(m.zone(0, kZoneDma32).watermark_boost, 512u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaKernel).pfn, 1024u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaKernel).pfn, 2048u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaKernel).pfn, 3072u);
  EXPECT_EQ(alloc_ok(m, 9, kDmaKernel).pfn, 512u);
  EXPECT_EQ(alloc_ok(m, 7, kDmaKernel).pfn, 256u);
  EXPECT_EQ(alloc_ok(m, 4, kDmaKernel).pfn, 384u);
  ASSERT_EQ(m.zone(0, kZoneDma).nr_free_pages, 112);
  Allocation a = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.zone_idx, kZoneDma32);
  EXPECT_EQ(a.pfn, 4865u);
  EXPECT_EQ(m.zone(0, kZoneDma32).watermark_boost, 0u);
  expect_check(m);
}

// Claim fails, then steal. As leave_half_block, then one movable order-0
// page: o8@4864 splits (4864 allocated; o7@4992 .. o0@4865 free, Movable).
// Block 9: free 255, movable 256 + 1 = 257, alike 0: 255 < 256, so every
// try_to_claim_block (orders 7 down to 0, all in block 9) fails. Then
// __rmqueue_steal from the smallest order: o0@4865, keeping the Movable type
// (change_ownership 0). The pcp batch is 2 here (alloc_factor 1) and the
// refill keeps STEAL mode: the second page is stolen from o1@4866 (4867 stays
// on the Movable list). Block 9 stays Movable.
TEST(Fallback, HalfBlockClaimFailsThenSteals) {
  MEMD_BOOT(m, machines::pc_64m());
  leave_half_block(m);
  EXPECT_EQ(alloc_ok(m, 0, gfp::kHighuserMovable).pfn, 4864u);
  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  Allocation a = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.pfn, 4865u);
  ASSERT_EQ(rec.events.size(), 2u);
  expect_extfrag(rec.events[0], 4865, 0, 0, kUnmovable, kMovable, false);
  expect_extfrag(rec.events[1], 4866, 0, 1, kUnmovable, kMovable, false);
  EXPECT_EQ(test::block_type(m, 4608), kMovable);
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(free_list(d32, 0, kMovable), (std::vector<Pfn>{4867}));
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 0)), (std::vector<Pfn>{4866}));
  m.set_extfrag_listener(nullptr);

  // §15.2: a freed page joins the pcp list of its block's current type, not
  // of the GFP it was allocated with: 4865 goes to the Movable list.
  free_ok(m, 4865);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kMovable, 0)).front(), 4865u);
  expect_check(m);
}

// Movable requests below order 4 never claim (should_try_claim_block is
// false there: find_suitable_fallback returns -2 and the claim loop stops).
// DMA after taking its Movable blocks (order 10 x3: 1024, 2048, 3072; order
// 9: 512) has only o8@256 in Unmovable block 0. A movable order-0 DMA
// request: the claim at order 8 fails (block 0 starts at pfn 0, outside the
// zone: prep_move_freepages_block), orders 7..4 are empty, order 3 stops the
// loop; __rmqueue_steal splits o8@256 keeping Unmovable: 256.
TEST(Fallback, MovableBelowOrder4StealsWithoutClaim) {
  MEMD_BOOT(m, machines::pc_64m());
  EXPECT_EQ(alloc_ok(m, 10, kDmaMovable).pfn, 1024u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaMovable).pfn, 2048u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaMovable).pfn, 3072u);
  EXPECT_EQ(alloc_ok(m, 9, kDmaMovable).pfn, 512u);
  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  Allocation a = alloc_ok(m, 0, kDmaMovable);
  EXPECT_EQ(a.pfn, 256u);
  EXPECT_EQ(a.zone_idx, kZoneDma);
  ASSERT_EQ(rec.events.size(), 1u);
  expect_extfrag(rec.events[0], 256, 0, 8, kMovable, kUnmovable, false);
  EXPECT_EQ(test::block_type(m, 0), kUnmovable);
  const Zone& dma = m.zone(0, kZoneDma);
  EXPECT_EQ(free_list(dma, 7, kUnmovable), (std::vector<Pfn>{384}));
  EXPECT_EQ(free_list(dma, 0, kUnmovable), (std::vector<Pfn>{257}));
  m.set_extfrag_listener(nullptr);
  expect_check(m);
}

// A claim of a whole free pageblock (order 9 >= pageblock_order) by a
// Reclaimable request re-types the block and keeps the remainders on the
// Reclaimable lists.
TEST(Fallback, ReclaimableClaimsWholeBlock) {
  MEMD_BOOT(m, machines::pc_64m());
  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  // GFP_KERNEL | __GFP_RECLAIMABLE order 4: nothing Reclaimable; the claim
  // scan from order 10 finds o10@4096 Movable (fallbacks[RECLAIMABLE] =
  // {UNMOVABLE, MOVABLE}; Unmovable has nothing).
  Allocation a = alloc_ok(m, 4, gfp::kKernel | gfp::kReclaimable);
  EXPECT_EQ(a.pfn, 4096u);
  EXPECT_EQ(a.migratetype, unsigned{kReclaimable});
  ASSERT_EQ(rec.events.size(), 1u);
  expect_extfrag(rec.events[0], 4096, 4, 10, kReclaimable, kMovable, true);
  EXPECT_EQ(test::block_type(m, 4096), kReclaimable);
  EXPECT_EQ(test::block_type(m, 4608), kReclaimable);
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(free_list(d32, 4, kReclaimable), (std::vector<Pfn>{4112}));
  EXPECT_EQ(free_list(d32, 9, kReclaimable), (std::vector<Pfn>{4608}));
  m.set_extfrag_listener(nullptr);
  expect_check(m);
}

// ===========================================================================
// ALLOC_NOFRAGMENT (§10.2)
// ===========================================================================

// Brings MN's Normal to 509 free Movable pages in sub-pageblock buddies:
//  - 15 movable order 10: 1048576 + k*1024 (the 16th would fail Normal's
//    watermark: 1024 - 1023 <= 271);
//  - movable order 0: Normal's pcp (batch 3) takes 1063936..1063938 from
//    o10@1063936 and hands out 1063936;
//  - movable order 9 (THP pcp list, batch max(3 >> 9, 2) = 2): o9@1064448;
//    the second page of the refill finds nothing (NOFRAGMENT: no steal).
// Normal then holds o0@1063939, o2@1063940, o3 .. o8@1064192 (all Movable).
void fragment_normal(Machine& m) {
  for (int k = 0; k < 15; ++k) {
    Allocation a = alloc_ok(m, 10, gfp::kHighuserMovable);
    EXPECT_EQ(a.pfn, 1048576u + 1024u * k);
    EXPECT_EQ(a.zone_idx, kZoneNormal);
  }
  EXPECT_EQ(alloc_ok(m, 0, gfp::kHighuserMovable).pfn, 1063936u);
  EXPECT_EQ(alloc_ok(m, 9, gfp::kHighuserMovable).pfn, 1064448u);
  EXPECT_EQ(m.zone(0, kZoneNormal).nr_free_pages, 509);
}

// The preferred zone is Normal, so the fast path carries ALLOC_NOFRAGMENT:
// Normal offers no Unmovable page and no Movable block of order >= 9, and
// stealing is off, so the walk moves on to DMA32, where o10@4096 is claimed
// whole: 4096. Normal's lists are untouched.
TEST(Nofragment, PrefersWholeBlockInLowerZone) {
  MEMD_BOOT(m, machines::normal_64m());
  EXPECT_EQ(m.min_free_kbytes(), 1442);
  EXPECT_EQ(m.zone(0, kZoneNormal).watermark[kWmarkHigh], 271u);
  EXPECT_EQ(m.zone(0, kZoneDma32).lowmem_reserve[kZoneNormal], 64);
  fragment_normal(m);
  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  Allocation a = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.pfn, 4096u);
  EXPECT_EQ(a.zone_idx, kZoneDma32);
  ASSERT_EQ(rec.events.size(), 1u);
  expect_extfrag(rec.events[0], 4096, 0, 10, kUnmovable, kMovable, true);
  EXPECT_EQ(m.zone(0, kZoneNormal).nr_free_pages, 509);
  EXPECT_EQ(test::block_type(m, 1063936), kMovable);
  m.set_extfrag_listener(nullptr);
  expect_check(m);
}

// When no zone offers a whole block, get_page_from_freelist clears
// NOFRAGMENT and walks again from Normal, where the claim of the block of
// o8@1064192 succeeds: free 509 + alike (512 - 509 - 1 movable page) >= 256
// (the two pages on the pcp are neither). __rmqueue_smallest(Unmovable) then
// takes o0@1063939.
// DMA32 is emptied first with DMA32 movable requests (order 10 x 11; then an
// order-9 pcp refill of 2 takes 15360 and 15872), DMA is brought to 160 free
// pages (order 10 x3, order 9, then GFP_DMA orders 6 and 5: 256, 320), so
// the first walk fails DMA's low mark: 160 <= 52 + protection 112.
TEST(Nofragment, RetriesWithSmallClaims) {
  MEMD_BOOT(m, machines::normal_64m());
  fragment_normal(m);
  for (int k = 0; k < 11; ++k) {
    EXPECT_EQ(alloc_ok(m, 10, kDma32Movable).pfn, 4096u + 1024u * k);
  }
  EXPECT_EQ(alloc_ok(m, 9, kDma32Movable).pfn, 15360u);
  EXPECT_EQ(m.zone(0, kZoneDma32).nr_free_pages, 0);
  EXPECT_EQ(alloc_ok(m, 10, kDmaMovable).pfn, 1024u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaMovable).pfn, 2048u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaMovable).pfn, 3072u);
  EXPECT_EQ(alloc_ok(m, 9, kDmaMovable).pfn, 512u);
  EXPECT_EQ(alloc_ok(m, 6, kDmaKernel).pfn, 256u);
  EXPECT_EQ(alloc_ok(m, 5, kDmaKernel).pfn, 320u);
  ASSERT_EQ(m.zone(0, kZoneDma).nr_free_pages, 160);

  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  Allocation a = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.pfn, 1063939u);
  EXPECT_EQ(a.zone_idx, kZoneNormal);
  ASSERT_EQ(rec.events.size(), 1u);
  expect_extfrag(rec.events[0], 1063939, 0, 8, kUnmovable, kMovable, true);
  EXPECT_EQ(test::block_type(m, 1063936), kUnmovable);
  // The boost of the small claim (512) is dropped when rmqueue wakes kswapd.
  EXPECT_EQ(m.zone(0, kZoneNormal).watermark_boost, 0u);
  // The refill (alloc_factor 3 after the first walk's attempt: 3 << 2 = 12
  // pages) continued from the Unmovable lists: 1063939..1063950.
  EXPECT_EQ(pcp_list(m.zone(0, kZoneNormal), 0, pindex(kUnmovable, 0)),
            pfn_range(1063940, 1063950));
  m.set_extfrag_listener(nullptr);
  expect_check(m);
}

// ===========================================================================
// Watermarks, reserves, failure
// ===========================================================================

TEST(Watermark, FailureMessageFormat) {
  EXPECT_EQ(alloc_failure_message(3, gfp::kHighuserMovable),
            "page allocation failure: order:3, mode:0x100cca(GFP_HIGHUSER_MOVABLE), "
            "nodemask=(null)");
  EXPECT_EQ(alloc_failure_message(0, kDmaKernel),
            "page allocation failure: order:0, mode:0xcc1(GFP_KERNEL|GFP_DMA), nodemask=(null)");
  EXPECT_EQ(alloc_failure_message(2, gfp::kAtomic | gfp::kNowarn),
            "page allocation failure: order:2, mode:0x2820(GFP_ATOMIC|__GFP_NOWARN), "
            "nodemask=(null)");
}

// DMA of M64 (min 60, low 75, high 90; a GFP_DMA request uses protection[0]
// = 0), exhausted with order-4 requests, which bypass the pcp.
//  Setup: order 10 x3 and order 9 claim whole Movable blocks (1024, 2048,
//  3072, 512), leaving o8@256 Unmovable: 256 free.
//  GFP_KERNEL|GFP_DMA order 4 passes the fast path while free - 15 > 75: at
//  free 256, 240, ..., 96 (11 requests: 256, 272, ..., 416), then the slow
//  path's MIN check at free 80 (65 > 60): 432. At free 64 (49 <= 60) it fails.
//  GFP_NOWAIT (ALLOC_NON_BLOCK, no ALLOC_MIN_RESERVE) gets no reduction: fails.
//  __GFP_HIGH (ALLOC_MIN_RESERVE): min 60 - 30 = 30: 49 > 30 -> 448;
//    order 3 at free 48: 41 > 30 -> 464 (o4@464 split, via the pcp, batch 1);
//    order 4 at free 40: 25 <= 30 fails.
//  GFP_ATOMIC (MIN_RESERVE + NON_BLOCK): 30 - 30/4 = 23: 25 > 23 -> 480;
//    at free 24: 9 <= 23 fails; order 0 at free 24: 24 > 23 -> 472.
TEST(Watermark, ReserveAccessByAllocFlags) {
  MEMD_BOOT(m, machines::pc_64m());
  EXPECT_EQ(alloc_ok(m, 10, kDmaKernel).pfn, 1024u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaKernel).pfn, 2048u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaKernel).pfn, 3072u);
  EXPECT_EQ(alloc_ok(m, 9, kDmaKernel).pfn, 512u);
  const Zone& dma = m.zone(0, kZoneDma);
  ASSERT_EQ(dma.nr_free_pages, 256);
  for (Pfn p = 256; p <= 432; p += 16)
    EXPECT_EQ(alloc_ok(m, 4, kDmaKernel).pfn, p);
  EXPECT_EQ(dma.nr_free_pages, 64);

  auto r = try_alloc(m, 4, kDmaKernel);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "page allocation failure: order:4, mode:0xcc1(GFP_KERNEL|GFP_DMA), nodemask=(null)");
  EXPECT_EQ(dma.nr_free_pages, 64);
  EXPECT_FALSE(try_alloc(m, 4, gfp::kNowait | gfp::kDma).ok());

  EXPECT_EQ(alloc_ok(m, 4, kDmaKernel | gfp::kHigh).pfn, 448u);
  EXPECT_EQ(alloc_ok(m, 3, kDmaKernel | gfp::kHigh).pfn, 464u);
  EXPECT_EQ(dma.nr_free_pages, 40);
  EXPECT_FALSE(try_alloc(m, 4, kDmaKernel | gfp::kHigh).ok());
  EXPECT_EQ(alloc_ok(m, 4, gfp::kAtomic | gfp::kDma).pfn, 480u);
  EXPECT_EQ(dma.nr_free_pages, 24);
  auto f = try_alloc(m, 4, gfp::kAtomic | gfp::kDma);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message,
            "page allocation failure: order:4, mode:0x821(GFP_ATOMIC|GFP_DMA), nodemask=(null)");
  EXPECT_EQ(alloc_ok(m, 0, gfp::kAtomic | gfp::kDma).pfn, 472u);
  // managed/100 = 38 < 512: the high-order atomic requests reserved nothing.
  EXPECT_EQ(dma.nr_reserved_highatomic, 0u);
  expect_check(m);
}

// ===========================================================================
// Highatomic reserve (§8.8)
// ===========================================================================

// M256 with min_free_kbytes = 212800: DMA32 min 50069, low 62586 > 61408
// free, so every request fails the fast path; GFP_ATOMIC's slow-path mark is
// (50069 - 25034) - 25035/4 = 18777. DMA (low 3912 + protection 239) fails too.
//  1st GFP_ATOMIC order 4: ALLOC_HIGHATOMIC; no HIGHATOMIC page; the claim
//    takes o10@4096 whole for Unmovable: 4096. Then
//    reserve_highatomic_pageblock: managed/100 = 614 >= 512, limit
//    ALIGN(614, 512) = 1024; block 8 is Unmovable (mergeable), order < 9:
//    move_freepages_block moves its free pages (o4@4112 .. o8@4352, 496
//    pages) to HIGHATOMIC and the block becomes HIGHATOMIC; reserved 512.
//  2nd GFP_ATOMIC order 4: rmqueue_buddy tries HIGHATOMIC first: 4112.
void reserve_highatomic(Machine& m) {
  test::set_sysctl_ok(m, "min_free_kbytes", "212800");
  const Zone& d32 = m.zone(0, kZoneDma32);
  ASSERT_EQ(d32.watermark[kWmarkMin], 50069u);
  ASSERT_EQ(d32.watermark[kWmarkLow], 62586u);
  Allocation a = alloc_ok(m, 4, gfp::kAtomic);
  EXPECT_EQ(a.pfn, 4096u);
  EXPECT_EQ(test::block_type(m, 4096), kHighAtomic);
  EXPECT_EQ(test::block_type(m, 4608), kUnmovable);
  EXPECT_EQ(d32.nr_reserved_highatomic, 512u);
  EXPECT_EQ(d32.nr_free_highatomic, 496);
  EXPECT_EQ(free_list(d32, 4, kHighAtomic), (std::vector<Pfn>{4112}));
  EXPECT_EQ(free_list(d32, 8, kHighAtomic), (std::vector<Pfn>{4352}));
  EXPECT_EQ(free_list(d32, 9, kUnmovable), (std::vector<Pfn>{4608}));
  Allocation b = alloc_ok(m, 4, gfp::kAtomic);
  EXPECT_EQ(b.pfn, 4112u);
  EXPECT_EQ(d32.nr_reserved_highatomic, 512u);
  EXPECT_EQ(d32.nr_free_highatomic, 480);
}

TEST(Highatomic, ReserveAndUse) {
  MEMD_BOOT(m, machines::pc_256m());
  reserve_highatomic(m);
  expect_check(m);
}

// __free_one_page does not merge across pageblocks when one side is
// HIGHATOMIC and the types differ: freeing 4112 then 4096 rebuilds o9@4096
// on the HIGHATOMIC list, next to o9@4608 (Unmovable) which stays apart.
TEST(Highatomic, NoMergeAcrossTypesAtPageblockOrder) {
  MEMD_BOOT(m, machines::pc_256m());
  reserve_highatomic(m);
  free_ok(m, 4112);
  free_ok(m, 4096);
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(free_list(d32, 9, kHighAtomic), (std::vector<Pfn>{4096}));
  EXPECT_EQ(free_list(d32, 9, kUnmovable), (std::vector<Pfn>{4608}));
  EXPECT_TRUE(free_list(d32, 10, kUnmovable).empty());
  EXPECT_EQ(d32.nr_free_highatomic, 512);
  expect_check(m);
}

// Before failing, should_reclaim_retry calls
// unreserve_highatomic_pageblock(force=true). With min_free_kbytes = 260000
// DMA32's min is 61174: GFP_KERNEL sees 61376 free minus 480 free highatomic
// = 60896 <= 61174 and fails, DMA fails (3840 <= 3825 + 239). The forced
// unreserve turns block 8 back into Unmovable (its free pages o5@4128 ..
// o8@4352 move to the Unmovable lists), and the next attempt succeeds:
// 61376 > 61174. The pcp refill takes the smallest Unmovable block first:
// o5@4128 -> 4128.
TEST(Highatomic, ForcedUnreserveBeforeFailure) {
  MEMD_BOOT(m, machines::pc_256m());
  reserve_highatomic(m);
  test::set_sysctl_ok(m, "min_free_kbytes", "260000");
  const Zone& d32 = m.zone(0, kZoneDma32);
  ASSERT_EQ(d32.watermark[kWmarkMin], 61174u);
  Allocation a = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.pfn, 4128u);
  EXPECT_EQ(d32.nr_reserved_highatomic, 0u);
  EXPECT_EQ(d32.nr_free_highatomic, 0);
  EXPECT_EQ(test::block_type(m, 4096), kUnmovable);
  EXPECT_TRUE(free_list(d32, 5, kHighAtomic).empty());
  expect_check(m);
}

// With min 63527 (min_free_kbytes 270000) even 61376 free pages are not
// enough: the forced unreserve still happens, then the request fails.
TEST(Highatomic, UnreserveNotEnoughStillFails) {
  MEMD_BOOT(m, machines::pc_256m());
  reserve_highatomic(m);
  test::set_sysctl_ok(m, "min_free_kbytes", "270000");
  auto r = try_alloc(m, 0, gfp::kKernel);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "page allocation failure: order:0, mode:0xcc0(GFP_KERNEL), nodemask=(null)");
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(d32.nr_reserved_highatomic, 0u);
  EXPECT_EQ(test::block_type(m, 4096), kUnmovable);
  expect_check(m);
}

// ===========================================================================
// Zonelists and NUMA
// ===========================================================================

std::vector<std::pair<int, unsigned>> zonelist_pairs(const Machine& m, int nid) {
  std::vector<std::pair<int, unsigned>> out;
  for (unsigned gid : m.zonelist(nid)) {
    for (int n = 0; n < m.nr_nodes(); ++n) {
      for (unsigned i = 0; i < m.layout().arch.nr_zones(); ++i) {
        if (m.zone(n, i).global_idx == gid) out.push_back({n, i});
      }
    }
  }
  return out;
}

// The kernel-6.1 c-8G-4nodes-dist SLIT: "Fallback order for Node 1: 1 2 0 3"
// (README): the tie 0/2 at distance 20 goes to 2 because n < local adds 1.
TEST(Zonelist, DistanceOrderLikeKernel) {
  MEMD_BOOT(m, machines::four_nodes_16m(
                   {{10, 20, 30, 40}, {20, 10, 20, 30}, {30, 20, 10, 20}, {40, 30, 20, 10}}));
  EXPECT_EQ(m.node_order(0), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(m.node_order(1), (std::vector<int>{1, 2, 0, 3}));
  EXPECT_EQ(m.node_order(2), (std::vector<int>{2, 3, 1, 0}));
  EXPECT_EQ(m.node_order(3), (std::vector<int>{3, 2, 1, 0}));
  // Zones high to low within each node (build_zonerefs_node), populated only.
  EXPECT_EQ(zonelist_pairs(m, 1),
            (std::vector<std::pair<int, unsigned>>{
                {1, kZoneDma32}, {2, kZoneDma32}, {0, kZoneDma}, {3, kZoneDma32}}));
}

// All remote distances 20: node_load[] (not reset between nodes) makes the
// first node of each distance group round-robin:
//  node 0: 0, then 1 (val 21*1024; load[1]++), 2, 3
//  node 1: 1, then 2 (21*1024 < 22*1024 for 0; load[2]++), 3, 0
//  node 2: 2, then 3 (load[3]++), then 0 (22*1024 + 0 < 22*1024 + 1), 1
//  node 3: 3, then 0 (load[0]++), 1, 2
TEST(Zonelist, DefaultDistancesRoundRobin) {
  MEMD_BOOT(m, machines::four_nodes_16m({}));
  EXPECT_EQ(m.node_order(0), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(m.node_order(1), (std::vector<int>{1, 2, 3, 0}));
  EXPECT_EQ(m.node_order(2), (std::vector<int>{2, 3, 0, 1}));
  EXPECT_EQ(m.node_order(3), (std::vector<int>{3, 0, 1, 2}));
}

// zone_statistics, once per allocation: numa_hit on the serving zone when it
// is on the preferred zone's node, else numa_miss there and numa_foreign on
// the preferred zone; numa_local/numa_other by the allocating CPU's node.
TEST(Numa, HitMissForeignLocalOther) {
  MEMD_BOOT(m, machines::two_nodes());
  ASSERT_EQ(m.nr_nodes(), 2);
  EXPECT_EQ(m.zone(1, kZoneDma32).start_pfn, 8192u);
  // cpu 0, default node 0: served by node 0 DMA32 (preferred).
  Allocation a = alloc_ok(m, 0, gfp::kKernel, 0);
  EXPECT_EQ(a.nid, 0);
  EXPECT_EQ(a.zone_idx, kZoneDma32);
  // cpu 0, node 1 preferred: node 1 serves; the CPU is on node 0 -> other.
  Allocation b = alloc_ok(m, 0, gfp::kKernel, 0, 1);
  EXPECT_EQ(b.nid, 1);
  // cpu 1 on node 1: local.
  Allocation c = alloc_ok(m, 4, gfp::kKernel, 1);
  EXPECT_EQ(c.nid, 1);
  MachineStats st = m.stats();
  const auto& n0 = st.nodes[0].zones[kZoneDma32].numa;
  const auto& n1 = st.nodes[1].zones[kZoneDma32].numa;
  EXPECT_EQ(n0[kNumaHit], 1u);
  EXPECT_EQ(n0[kNumaLocal], 1u);
  EXPECT_EQ(n0[kNumaOther], 0u);
  EXPECT_EQ(n1[kNumaHit], 2u);
  EXPECT_EQ(n1[kNumaLocal], 1u);
  EXPECT_EQ(n1[kNumaOther], 1u);
  EXPECT_EQ(n1[kNumaMiss], 0u);
  EXPECT_EQ(n0[kNumaForeign], 0u);

  // Exhaust node 1 with order-10 requests preferring node 1 (cpu 0) until one
  // is served by node 0: that one counts numa_miss on node 0's zone and
  // numa_foreign on node 1's DMA32 (the preferred zone), local (cpu 0).
  Allocation last;
  int n1_allocs = 0;
  for (int i = 0; i < 20; ++i) {
    last = alloc_ok(m, 10, gfp::kHighuserMovable, 0, 1);
    if (last.nid != 1) break;
    ++n1_allocs;
  }
  ASSERT_EQ(last.nid, 0);
  st = m.stats();
  const auto& s0 = st.nodes[0].zones[last.zone_idx].numa;
  const auto& s1 = st.nodes[1].zones[kZoneDma32].numa;
  EXPECT_EQ(s1[kNumaHit], 2u + n1_allocs);
  EXPECT_EQ(s1[kNumaOther], 1u + n1_allocs);
  EXPECT_EQ(s1[kNumaForeign], 1u);
  EXPECT_EQ(s0[kNumaMiss], 1u);
  EXPECT_EQ(s0[kNumaLocal], last.zone_idx == kZoneDma32 ? 2u : 1u);
  EXPECT_EQ(s0[kNumaInterleave], 0u);
  expect_check(m);
}

// __GFP_THISNODE uses the NOFALLBACK zonelist: node 1's zones only, so once
// node 1 is exhausted the request fails instead of going to node 0.
TEST(Numa, ThisnodeNeverLeavesTheNode) {
  MEMD_BOOT(m, machines::two_nodes());
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    auto r = try_alloc(m, 10, gfp::kHighuserMovable | gfp::kThisnode, 0, 1);
    if (!r.ok()) break;
    EXPECT_EQ(r->nid, 1);
    ++ok;
  }
  // Node 1 DMA32: 8160 pages, seven o10 blocks (8192..14336); order 10 needs
  // free - 1023 > low, so at most 7 succeed and the loop ends in a failure.
  EXPECT_GE(ok, 1);
  EXPECT_LE(ok, 7);
  EXPECT_LT(ok, 20);
  expect_check(m);
}

// ===========================================================================
// GFP
// ===========================================================================

// GFP_ZONE_BAD (a VM_BUG in the kernel) and MOVABLE|RECLAIMABLE are refused
// and change nothing; so is order > MAX_PAGE_ORDER.
TEST(Gfp, BadCombinationsRefused) {
  MEMD_BOOT(m, machines::pc_64m());
  MachineStats before = m.stats();
  const Gfp bad[] = {
      gfp::kKernel | gfp::kDma | gfp::kHighmem,
      gfp::kKernel | gfp::kDma | gfp::kDma32,
      gfp::kKernel | gfp::kDma32 | gfp::kHighmem,
      gfp::kKernel | gfp::kDma | gfp::kDma32 | gfp::kHighmem,
      gfp::kKernel | gfp::kDma | gfp::kHighmem | gfp::kMovable,
      gfp::kKernel | gfp::kDma32 | gfp::kHighmem | gfp::kMovable,
      gfp::kKernel | gfp::kMovable | gfp::kReclaimable,
  };
  for (Gfp g : bad) {
    auto r = try_alloc(m, 0, g);
    EXPECT_FALSE(r.ok()) << std::hex << g;
  }
  EXPECT_FALSE(try_alloc(m, 11, gfp::kKernel).ok());
  EXPECT_EQ(m.nr_allocations(), 0u);
  MachineStats after = m.stats();
  for (unsigned z = 0; z < 2; ++z) {
    EXPECT_EQ(after.nodes[0].zones[z].free_pages, before.nodes[0].zones[z].free_pages);
    EXPECT_EQ(after.nodes[0].zones[z].pgalloc, 0u);
  }
  EXPECT_EQ(m.zone(0, kZoneDma32).pcp[0].high, 0);
  expect_check(m);
}

// check_request() names the first rule a request breaks, in alloc()'s
// order, and alloc() refuses exactly those; a request that breaks none is tried.
TEST(Gfp, CheckRequestNamesTheFirstRuleBroken) {
  MEMD_BOOT(m, machines::two_nodes());
  auto why = [&](unsigned order, Gfp g, int cpu, std::optional<int> node = std::nullopt) {
    return m.check_request(AllocRequest{order, g, node, cpu});
  };
  EXPECT_EQ(why(0, gfp::kKernel, 0), std::nullopt);
  EXPECT_EQ(why(10, gfp::kKernel, m.nr_cpus() - 1, 1), std::nullopt);
  EXPECT_EQ(why(11, gfp::kKernel | gfp::kDma | gfp::kHighmem, 99, 7), AllocRefusal::kOrder);
  EXPECT_EQ(why(0, gfp::kKernel, m.nr_cpus(), 7), AllocRefusal::kCpu);
  EXPECT_EQ(why(0, gfp::kKernel, -1), AllocRefusal::kCpu);
  EXPECT_EQ(why(0, gfp::kKernel | gfp::kDma | gfp::kDma32, 0, 2), AllocRefusal::kNode);
  EXPECT_EQ(why(0, gfp::kKernel | gfp::kDma | gfp::kDma32, 0, 1), AllocRefusal::kZoneBad);
  EXPECT_EQ(why(0, gfp::kKernel | gfp::kMovable | gfp::kReclaimable, 0),
            AllocRefusal::kMovableReclaimable);
  const Gfp both = gfp::kKernel | gfp::kMovable | gfp::kReclaimable;
  auto r = try_alloc(m, 0, both);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "GFP flags " + format_gfp(both) + " set both __GFP_MOVABLE and __GFP_RECLAIMABLE");
  EXPECT_EQ(m.nr_allocations(), 0u);
  expect_check(m);
}

TEST(Gfp, ZoneTable) {
  const Arch x = Arch::kX86_64;
  EXPECT_EQ(gfp_zone(0, x), int(kZoneNormal));
  EXPECT_EQ(gfp_zone(gfp::kDma, x), int(kZoneDma));
  EXPECT_EQ(gfp_zone(gfp::kHighmem, x), int(kZoneNormal));
  EXPECT_EQ(gfp_zone(gfp::kDma32, x), int(kZoneDma32));
  EXPECT_EQ(gfp_zone(gfp::kMovable, x), int(kZoneNormal));
  EXPECT_EQ(gfp_zone(gfp::kMovable | gfp::kDma, x), int(kZoneDma));
  EXPECT_EQ(gfp_zone(gfp::kMovable | gfp::kHighmem, x), int(kZoneMovable));
  EXPECT_EQ(gfp_zone(gfp::kMovable | gfp::kDma32, x), int(kZoneDma32));
  EXPECT_EQ(gfp_zone(gfp::kDma | gfp::kHighmem, x), -1);
  EXPECT_EQ(gfp_zone(gfp::kDma | gfp::kDma32, x), -1);
  EXPECT_EQ(gfp_zone(gfp::kDma32 | gfp::kHighmem, x), -1);
  EXPECT_EQ(gfp_zone(gfp::kDma | gfp::kDma32 | gfp::kHighmem | gfp::kMovable, x), -1);
  // i386 (DMA 0, Normal 1, HighMem 2, Movable 3): HIGHMEM -> HighMem; DMA32
  // is not configured, OPT_ZONE_DMA32 = Normal.
  const Arch i = Arch::kI386;
  EXPECT_EQ(gfp_zone(gfp::kHighmem, i), int(2u));
  EXPECT_EQ(gfp_zone(gfp::kDma32, i), int(1u));
  EXPECT_EQ(gfp_zone(gfp::kHighuserMovable, i), int(3u));
  EXPECT_EQ(gfp_zone(gfp::kKernel, i), int(1u));
  EXPECT_EQ(gfp_migratetype(gfp::kKernel), unsigned{kUnmovable});
  EXPECT_EQ(gfp_migratetype(gfp::kHighuserMovable), unsigned{kMovable});
  EXPECT_EQ(gfp_migratetype(gfp::kKernel | gfp::kReclaimable), unsigned{kReclaimable});
}

// show_gfp_flags (%pGg): composites first in __def_gfpflag_names order,
// consumed greedily, then single bits in bit order; leftovers as hex.
TEST(Gfp, FormatLikeShowGfpFlags) {
  EXPECT_EQ(format_gfp(0xcc0), "GFP_KERNEL");
  EXPECT_EQ(format_gfp(0x100cca), "GFP_HIGHUSER_MOVABLE");
  EXPECT_EQ(format_gfp(0x100cc2), "GFP_HIGHUSER");
  EXPECT_EQ(format_gfp(0x100cc0), "GFP_USER");
  EXPECT_EQ(format_gfp(0x400cc0), "GFP_KERNEL_ACCOUNT");
  EXPECT_EQ(format_gfp(0x1c24ca), "GFP_TRANSHUGE");
  EXPECT_EQ(format_gfp(0x1c20ca), "GFP_TRANSHUGE_LIGHT");
  EXPECT_EQ(format_gfp(0xc40), "GFP_NOFS");
  EXPECT_EQ(format_gfp(0x820), "GFP_ATOMIC");
  EXPECT_EQ(format_gfp(0xc00), "GFP_NOIO");
  EXPECT_EQ(format_gfp(0x2800), "GFP_NOWAIT");
  EXPECT_EQ(format_gfp(0x1), "GFP_DMA");
  EXPECT_EQ(format_gfp(0x4), "GFP_DMA32");
  EXPECT_EQ(format_gfp(0x400), "__GFP_DIRECT_RECLAIM");
  EXPECT_EQ(format_gfp(0x800), "__GFP_KSWAPD_RECLAIM");
  EXPECT_EQ(format_gfp(0xcc1), "GFP_KERNEL|GFP_DMA");
  EXPECT_EQ(format_gfp(0xcc4), "GFP_KERNEL|GFP_DMA32");
  EXPECT_EQ(format_gfp(0xdc0), "GFP_KERNEL|__GFP_ZERO");
  EXPECT_EQ(format_gfp(0x2cc0), "GFP_KERNEL|__GFP_NOWARN");
  EXPECT_EQ(format_gfp(0x40dc0), "GFP_KERNEL|__GFP_ZERO|__GFP_COMP");
  EXPECT_EQ(format_gfp(0x10cc0 | 0x2000), "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY");
  EXPECT_EQ(format_gfp(0x2820), "GFP_ATOMIC|__GFP_NOWARN");
  EXPECT_EQ(format_gfp(0x8), "__GFP_MOVABLE");
  EXPECT_EQ(format_gfp(0x18), "__GFP_MOVABLE|__GFP_RECLAIMABLE");
  EXPECT_EQ(format_gfp(0x4cc0), "GFP_KERNEL|__GFP_RETRY_MAYFAIL");
  EXPECT_EQ(format_gfp(0x200000), "__GFP_THISNODE");
  EXPECT_EQ(format_gfp(0x1000000), "__GFP_NO_OBJ_EXT");
  EXPECT_EQ(format_gfp(0x4000000), "0x4000000");
  EXPECT_EQ(format_gfp(0xcc0 | 0x4000000), "GFP_KERNEL|0x4000000");
  EXPECT_EQ(format_gfp(0), "none");
}

TEST(Gfp, ParseNamesAndMasks) {
  auto p = [](std::string_view s) -> std::optional<Gfp> {
    auto r = parse_gfp(s);
    if (!r.ok()) return std::nullopt;
    return *r;
  };
  EXPECT_EQ(p("GFP_KERNEL"), std::optional<Gfp>(0xcc0));
  EXPECT_EQ(p("GFP_KERNEL|__GFP_ZERO"), std::optional<Gfp>(0xdc0));
  EXPECT_EQ(p("GFP_HIGHUSER_MOVABLE"), std::optional<Gfp>(0x100cca));
  EXPECT_EQ(p("GFP_ATOMIC|__GFP_NOWARN"), std::optional<Gfp>(0x2820));
  EXPECT_EQ(p("GFP_TRANSHUGE"), std::optional<Gfp>(0x1c24ca));
  EXPECT_EQ(p("none"), std::optional<Gfp>(0));
  EXPECT_EQ(p("0xcc0"), std::optional<Gfp>(0xcc0));
  EXPECT_EQ(p("GFP_KERNEL|0x4000000"), std::optional<Gfp>(0x4000cc0));
  EXPECT_EQ(p("__GFP_RECLAIM"), std::optional<Gfp>(0xc00));
  EXPECT_EQ(p("GFP_NOWAIT"), std::optional<Gfp>(0x2800));
  EXPECT_EQ(p("GFP_ZERO"), std::optional<Gfp>(0x100));  // __ optional
  EXPECT_EQ(p("GFP_BOGUS"), std::nullopt);
  EXPECT_EQ(p("GFP_KERNEL|"), std::nullopt);
  EXPECT_EQ(p(""), std::nullopt);
  // Every printed form parses back to its mask.
  for (Gfp g : {0xcc0u, 0x100ccau, 0x2820u, 0x40dc0u, 0x1c24cau, 0x4000cc0u, 0x18u, 0x3u}) {
    EXPECT_EQ(p(format_gfp(g)), std::optional<Gfp>(g)) << format_gfp(g);
  }
}

// ===========================================================================
// kernelcore= / movablecore= on a 64 MiB machine
// ===========================================================================
// No RAM above 4 GiB: ZONE_MOVABLE is cut from DMA32 (find_usable_zone_for_movable).
// totalpages = 158 + (16352 - 256) = 16254; usable_startpfn = 4096.

// kernelcore=32M = 8192 pages: [1, 159) counts 158 (below usable_startpfn;
// zone_movable_pfn = 159), [256, 16352) counts 3840 below 4096, then
// 8192 - 158 - 3840 = 4194 pages from 4096: 8290, rounded up to 1024: 9216.
TEST(MovableZone, Kernelcore32M) {
  MachineConfig cfg = machines::pc_64m();
  cfg.cmdline = "kernelcore=32M";
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 9216u);
  const Zone& d32 = m.zone(0, kZoneDma32);
  const Zone& mov = m.zone(0, kZoneMovable);
  EXPECT_EQ(d32.start_pfn, 4096u);
  EXPECT_EQ(d32.spanned, 5120u);
  EXPECT_EQ(d32.managed, 5120u);
  EXPECT_EQ(mov.start_pfn, 9216u);
  EXPECT_EQ(mov.spanned, 7136u);
  EXPECT_EQ(mov.present, 7136u);
  EXPECT_EQ(mov.managed, 7136u);
  // Boot free lists of Movable: 6 x o10 from 9216, then 15360 o9 .. 16320 o5.
  EXPECT_EQ(free_list(mov, 10, kMovable), pfn_range(9216, 14336, 1024));
  EXPECT_EQ(free_list(mov, 5, kMovable), (std::vector<Pfn>{16320}));
  // min_free_kbytes: nr_free_buffer_pages counts zones <= Normal only:
  // int_sqrt((3840 + 5120) * 64) = 757 -> pages_min 189, lowmem 8960 (6.18:
  // Movable excluded).
  //  DMA:   189*3840/8960 = 81, tmp max(20, 3) = 20     -> 81/101/121
  //  DMA32: 189*5120/8960 = 108, tmp max(27, 5) = 27    -> 108/135/162
  //  Movable: min clamp(7136/1024 = 6, 32, 128) = 32; tmp = max((189*7136/8960
  //           = 150)>>2 = 37, 7) = 37                   -> 32/69/106
  EXPECT_EQ(m.min_free_kbytes(), 757);
  EXPECT_EQ(m.zone(0, kZoneDma).watermark[kWmarkMin], 81u);
  EXPECT_EQ(m.zone(0, kZoneDma).watermark[kWmarkHigh], 121u);
  EXPECT_EQ(d32.watermark[kWmarkMin], 108u);
  EXPECT_EQ(d32.watermark[kWmarkHigh], 162u);
  EXPECT_EQ(mov.watermark[kWmarkMin], 32u);
  EXPECT_EQ(mov.watermark[kWmarkLow], 69u);
  EXPECT_EQ(mov.watermark[kWmarkHigh], 106u);
  EXPECT_EQ(mov.watermark[kWmarkPromo], 143u);
  // Protection: DMA (0, 5120/256 = 20, 20, (5120+7136)/256 = 47, 47);
  // DMA32 (0, 0, 0, 7136/256 = 27, 27).
  EXPECT_EQ(m.zone(0, kZoneDma).lowmem_reserve[1], 20);
  EXPECT_EQ(m.zone(0, kZoneDma).lowmem_reserve[2], 20);
  EXPECT_EQ(m.zone(0, kZoneDma).lowmem_reserve[3], 47);
  EXPECT_EQ(d32.lowmem_reserve[2], 0);
  EXPECT_EQ(d32.lowmem_reserve[3], 27);
  // GFP_HIGHUSER_MOVABLE prefers ZONE_MOVABLE (smallest Movable block there:
  // o5@16320; batch max(1, 0) = 1); GFP_KERNEL can't use it.
  Allocation a = alloc_ok(m, 0, gfp::kHighuserMovable);
  EXPECT_EQ(a.zone_idx, kZoneMovable);
  EXPECT_EQ(a.pfn, 16320u);
  EXPECT_EQ(mov.pageset_batch, 1);
  Allocation b = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(b.zone_idx, kZoneDma32);
  EXPECT_EQ(b.pfn, 4096u);
  expect_check(m);
}

// kernelcore=50%: 16254 * 100 * 50 / 10000 = 8127: 8127 - 158 - 3840 = 4129
// -> 8225 -> 9216, the same as 32M.
TEST(MovableZone, KernelcorePercent) {
  MachineConfig cfg = machines::pc_64m();
  cfg.cmdline = "kernelcore=50%";
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 9216u);
}

// movablecore=16M = 4096 pages (already a multiple of 1024): corepages =
// 16254 - 4096 = 12158 = required_kernelcore: 12158 - 158 - 3840 = 8160 ->
// 12256 -> 12288. Movable [12288, 16352): 4064 pages.
TEST(MovableZone, Movablecore16M) {
  MachineConfig cfg = machines::pc_64m();
  cfg.cmdline = "movablecore=16M";
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 12288u);
  EXPECT_EQ(m.zone(0, kZoneMovable).spanned, 4064u);
  EXPECT_EQ(m.zone(0, kZoneDma32).spanned, 12288u - 4096u);
}

// Both given: required_kernelcore = max(kernelcore, totalpages - movablecore).
// kernelcore=48M (12288) beats 16254 - 4096 = 12158: 12288 - 3998 = 8290 more
// from 4096 -> 12386 -> 13312.
TEST(MovableZone, BothGivenLargerKernelShareWins) {
  MachineConfig cfg = machines::pc_64m();
  cfg.cmdline = "kernelcore=48M movablecore=16M";
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 13312u);
}

// movablecore rounds up to 1024 pages: movablecore=1001K = 250 pages -> 1024;
// corepages 15230: 15230 - 3998 = 11232 -> 15328 -> 15360.
TEST(MovableZone, MovablecoreRoundsUp) {
  MachineConfig cfg = machines::pc_64m();
  cfg.cmdline = "movablecore=1001K";
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 15360u);
  EXPECT_EQ(m.zone(0, kZoneMovable).spanned, 16352u - 15360u);
}

// kernelcore at or above totalpages: no ZONE_MOVABLE.
TEST(MovableZone, KernelcoreAllMemoryMeansNone) {
  MachineConfig cfg = machines::pc_64m();
  cfg.cmdline = "kernelcore=64M";
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 0u);
  EXPECT_EQ(m.zone(0, kZoneMovable).spanned, 0u);
}

// cmdline_parse_core() (mm/mm_init.c) stores a percentage with
//     *percent = coremem;          /* *core is left alone */
// and find_zone_movable_pfns_for_nodes() recomputes required_kernelcore only
// "if (required_kernelcore_percent)". So "kernelcore=32M kernelcore=0%"
// keeps required_kernelcore = 8192 pages: exactly kernelcore=32M, whose
// zone_movable_pfn on this 64 MiB machine is 9216 (Kernelcore32M above).
TEST(MovableZone, KernelcoreZeroPercentKeepsEarlierSize) {
  MachineConfig cfg = machines::pc_64m();
  cfg.cmdline = "kernelcore=32M kernelcore=0%";
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 9216u);
}

// movablecore=256M on 1 GiB: totalpages = 158 + 261856 = 262014;
// required_kernelcore = 262014 - 65536 = 196478: 158 below usable_startpfn in
// [1, 159), 3840 in [256, 4096), then 192480 from 4096 -> 196576, aligned up
// to MAX_ORDER_NR_PAGES: 196608. ZONE_MOVABLE = [196608, 262112).
TEST(MovableZone, Movablecore256MOn1GiB) {
  MEMD_BOOT(m, machines::movablecore_256m());
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 196608u);
  EXPECT_EQ(m.zone(0, kZoneDma32).end_pfn(), 196608u);
  EXPECT_EQ(m.zone(0, kZoneMovable).start_pfn, 196608u);
  EXPECT_EQ(m.zone(0, kZoneMovable).spanned, 65504u);
  EXPECT_EQ(m.zone(0, kZoneMovable).present, 65504u);
  expect_check(m);
}

// ===========================================================================
// i386: DMA, Normal up to 896 MiB, HighMem, Movable
// ===========================================================================
// 1 GiB, 1 CPU, THP off: memory [1, 159) and [256, 262112).
// DMA [1, 4096) managed 3840; Normal [4096, 229376) 225280; HighMem
// [229376, 262112) 32736.
// min_free_kbytes: nr_free_buffer_pages covers zones <= Normal:
// int_sqrt(229120 * 64) = 3829 -> pages_min 957, lowmem 229120 (no HighMem):
//  DMA    957*3840/229120 = 16, tmp max(4, 3) = 4          -> 16/20/24/28
//  Normal 957*225280/229120 = 940, tmp max(235, 225) = 235 -> 940/1175/1410/1645
//  HighMem min clamp(31, 32, 128) = 32; tmp max((957*32736/229120 = 136)>>2 = 34,
//          mult_frac(32736, 10, 10000) = 32) = 34          -> 32/66/100/134
// Protection (ratios DMA 256, Normal 32, HighMem 0, Movable 0):
//  DMA (0, 225280/256 = 880, (225280+32736)/256 = 1007, 1007), Normal (0, 0, 32736/32 = 1023,
//  1023).

TEST(I386, Layout) {
  MEMD_BOOT(m, machines::i386_1g());
  const ArchLayout& arch = m.layout().arch;
  ASSERT_EQ(arch.index_of(ZoneKind::kDma), 0);
  ASSERT_EQ(arch.index_of(ZoneKind::kNormal), 1);
  ASSERT_EQ(arch.index_of(ZoneKind::kHighMem), 2);
  ASSERT_EQ(arch.index_of(ZoneKind::kMovable), 3);
  EXPECT_EQ(arch.index_of(ZoneKind::kDma32), -1);
  const Zone& dma = m.zone(0, 0);
  const Zone& normal = m.zone(0, 1);
  const Zone& high = m.zone(0, 2);
  EXPECT_EQ(dma.start_pfn, 1u);
  EXPECT_EQ(dma.managed, 3840u);
  EXPECT_EQ(normal.start_pfn, 4096u);
  EXPECT_EQ(normal.spanned, 225280u);
  EXPECT_EQ(normal.managed, 225280u);
  EXPECT_EQ(high.start_pfn, 229376u);
  EXPECT_EQ(high.spanned, 32736u);
  EXPECT_EQ(high.managed, 32736u);
  EXPECT_EQ(m.zone(0, 3).spanned, 0u);
  EXPECT_EQ(m.min_free_kbytes(), 3829);
  EXPECT_EQ(dma.watermark[kWmarkMin], 16u);
  EXPECT_EQ(dma.watermark[kWmarkHigh], 24u);
  EXPECT_EQ(normal.watermark[kWmarkMin], 940u);
  EXPECT_EQ(normal.watermark[kWmarkLow], 1175u);
  EXPECT_EQ(normal.watermark[kWmarkHigh], 1410u);
  EXPECT_EQ(high.watermark[kWmarkMin], 32u);
  EXPECT_EQ(high.watermark[kWmarkLow], 66u);
  EXPECT_EQ(high.watermark[kWmarkHigh], 100u);
  EXPECT_EQ(high.watermark[kWmarkPromo], 134u);
  EXPECT_EQ(dma.lowmem_reserve[1], 880);
  EXPECT_EQ(dma.lowmem_reserve[2], 1007);
  EXPECT_EQ(dma.lowmem_reserve[3], 1007);
  EXPECT_EQ(normal.lowmem_reserve[2], 1023);
  EXPECT_EQ(normal.lowmem_reserve[3], 1023);
  EXPECT_EQ(high.lowmem_reserve[3], 0);
  // batch: HighMem 31/4 = 7 -> rounddown_pow_of_two(10) - 1 = 7; Normal 63.
  EXPECT_EQ(high.pageset_batch, 7);
  EXPECT_EQ(normal.pageset_batch, 63);
  EXPECT_EQ(free_list(high, 10, kMovable).front(), 229376u);
  EXPECT_EQ(free_list(high, 10, kMovable).size(), 31u);
  EXPECT_EQ(free_list(high, 5, kMovable), (std::vector<Pfn>{262080}));
  expect_check(m);
}

// GFP_HIGHUSER_MOVABLE: highest zone Movable (empty) -> HighMem preferred;
// the smallest Movable block there is o5@262080. GFP_HIGHUSER (Unmovable,
// highest HighMem) claims HighMem's o10@229376. GFP_KERNEL stays in Normal
// (claims o10@4096); no NOFRAGMENT without ZONE_DMA32. GFP_DMA32 means Normal.
TEST(I386, ZonesForGfp) {
  MEMD_BOOT(m, machines::i386_1g());
  Allocation a = alloc_ok(m, 0, gfp::kHighuserMovable);
  EXPECT_EQ(a.zone_idx, 2u);
  EXPECT_EQ(a.zone_name, "HighMem");
  EXPECT_EQ(a.pfn, 262080u);
  Allocation b = alloc_ok(m, 0, gfp::kHighuser);
  EXPECT_EQ(b.zone_idx, 2u);
  EXPECT_EQ(b.pfn, 229376u);
  Allocation c = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(c.zone_idx, 1u);
  EXPECT_EQ(c.pfn, 4096u);
  Allocation d = alloc_ok(m, 4, gfp::kKernel | gfp::kDma32);
  EXPECT_EQ(d.zone_idx, 1u);
  Allocation e = alloc_ok(m, 4, kDmaKernel);
  EXPECT_EQ(e.zone_idx, 0u);
  expect_check(m);
}

// kernelcore=512M on i386: movable_zone = HighMem; the 158 + 229120 pages
// below HighMem already exceed 131072, so zone_movable_pfn = 229376 + 0 and
// HighMem becomes entirely ZONE_MOVABLE (like finding 5 for DMA32).
TEST(I386, KernelcoreTakesHighMem) {
  MachineConfig cfg = machines::i386_1g();
  cfg.cmdline = "kernelcore=512M";
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 229376u);
  EXPECT_EQ(m.zone(0, 2).spanned, 0u);
  EXPECT_EQ(m.zone(0, 3).start_pfn, 229376u);
  EXPECT_EQ(m.zone(0, 3).spanned, 32736u);
  EXPECT_EQ(m.zone(0, 1).spanned, 225280u);
  Allocation a = alloc_ok(m, 0, gfp::kHighuserMovable);
  EXPECT_EQ(a.zone_idx, 3u);
  expect_check(m);
}

// i386 drops RAM above 4 GiB: 6.18 removed CONFIG_HIGHMEM64G, and
// arch/x86/mm/init_32.c highmem_pfn_init() ends with
//     if (max_pfn > MAX_NONPAE_PFN) { max_pfn = MAX_NONPAE_PFN;
//         printk(MSG_HIGHMEM_TRIMMED); }   /* "only 4GB will be used" */
// (MAX_NONPAE_PFN = 1 << 20, asm/setup.h), then e820__memblock_setup() does
// memblock_remove(PFN_PHYS(max_pfn), -1) on 32-bit.
//
// Machine: i386, 6 GiB, qemu pc layout: RAM [4K, 0x9f000), [1M, 3G - 128K),
// [4G, 7G). After the trim only [1M, 3G - 128K) remains above 1 MiB, so
// HighMem = [896 MiB, 3G - 128K) = pfns [229376, 786400): spanned = present
// = managed = 557024. (896 MiB is memd's documented lowmem limit.)
TEST(I386, DropsRamAbove4GiB) {
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

// ===========================================================================
// More per-cpu list rules
// ===========================================================================

// free_frozen_page_commit's free_high for orders 1..3: when the previous
// free was also high-order and free_count >= batch + high_min/2 (15 + 299 =
// 314 on M256), nr_pcp_high lowers high by batch << 5 (not below high_min)
// and returns 0, and nr_pcp_free drains min(count, batch << 5 = 480).
// 200 GFP_KERNEL order-1 allocations: each refill takes max(15 >> 1, 2) = 7
// blocks and grows high by 15: 29 refills, high 598 + 29 * 15 = 1033, 3
// blocks (6 pages) left on the list. The frees then add 2 to free_count
// each (computed after free_high): free #158 sees free_count 314.
TEST(Pcp, FreeHighForHighOrderFrees) {
  MEMD_BOOT(m, machines::pc_256m());
  const Zone& d32 = m.zone(0, kZoneDma32);
  const PerCpuPages& pcp = d32.pcp[0];
  std::vector<Pfn> got;
  for (int i = 0; i < 200; ++i)
    got.push_back(alloc_ok(m, 1, gfp::kKernel).pfn);
  EXPECT_EQ(got, pfn_range(4096, 4096 + 2 * 199, 2));
  EXPECT_EQ(pcp.high, 1033);
  EXPECT_EQ(pcp.count, 6);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 1)), (std::vector<Pfn>{4496, 4498, 4500}));
  for (int i = 0; i < 157; ++i)
    free_ok(m, got[i]);
  EXPECT_EQ(pcp.count, 6 + 314);
  EXPECT_EQ(pcp.high, 1033);
  free_ok(m, got[157]);  // free_high: everything (322 pages) leaves
  EXPECT_EQ(pcp.count, 0);
  EXPECT_EQ(pcp.high, 598);
  EXPECT_EQ(d32.nr_free_pages, 61408 - 2 * 42);
  free_ok(m, got[158]);
  EXPECT_EQ(pcp.count, 0);
  expect_check(m);
}

// ZONE_BELOW_HIGH (§15.2): set by get_page_from_freelist when the zone fails
// the high-watermark check; cleared only after a free_pcppages_bulk in the pcp
// free path while zone_watermark_ok(high, ZONE_MOVABLE) holds (DMA32 of M64
// has protection[Movable] 0). high fixed at 4 (percpu_pagelist_high_fraction
// 10000: max(12256/10000, 4 * batch 1)).
//  11 movable order 10 and one order 9 leave 480 free in DMA32; 200 movable
//  order-0 requests pull 1, 2, then 3 pages per refill (min(4, max(4 - 0 -
//  1, 1)) = 3): 201 pages, free 279 <= high 288: BELOW_HIGH. One page stays
//  on the list. Freeing the order-10 blocks (straight to the buddy) does not
//  clear the flag; the pcp free that makes count reach 4 drains and clears it.
TEST(Pcp, BelowHighClearedByPcpDrainAboveHigh) {
  MEMD_BOOT(m, machines::pc_64m());
  test::set_sysctl_ok(m, "percpu_pagelist_high_fraction", "10000");
  const Zone& d32 = m.zone(0, kZoneDma32);
  ASSERT_EQ(d32.pageset_high_min, 4);
  ASSERT_EQ(d32.pageset_high_max, 4);
  std::vector<Pfn> big;
  for (int i = 0; i < 11; ++i)
    big.push_back(alloc_ok(m, 10, gfp::kHighuserMovable).pfn);
  EXPECT_EQ(alloc_ok(m, 9, gfp::kHighuserMovable).pfn, 15360u);
  EXPECT_FALSE(d32.below_high);
  std::vector<Pfn> small;
  for (int i = 0; i < 200; ++i) {
    Allocation a = alloc_ok(m, 0, gfp::kHighuserMovable);
    EXPECT_EQ(a.zone_idx, kZoneDma32);
    small.push_back(a.pfn);
  }
  EXPECT_EQ(d32.nr_free_pages, 480 - 201);
  EXPECT_EQ(d32.pcp[0].count, 1);
  EXPECT_TRUE(d32.below_high);
  for (Pfn p : big)
    free_ok(m, p);
  EXPECT_TRUE(d32.below_high);
  free_ok(m, small[0]);
  free_ok(m, small[1]);
  EXPECT_EQ(d32.pcp[0].count, 3);
  EXPECT_TRUE(d32.below_high);
  free_ok(m, small[2]);  // count 4 >= high 4: drain clamp(3, 1, 3) = 3
  EXPECT_EQ(d32.pcp[0].count, 1);
  EXPECT_FALSE(d32.below_high);
  expect_check(m);
}

// nr_pcp_high with ZONE_BELOW_HIGH and auto-tuning (high_min 240, high_max
// 1532 on M64 DMA32): each free lowers pcp->high by max(free_count, batch)
// (not below high_min) and returns max(count, high_min).
//  After 11 movable order 10 and order 9 (high 241), order-0 refills take
//  1, 2, 4, 8, 16, 32, 32, ... pages (alloc_factor) and grow high by the
//  same: 242, 244, 248, 256, 272, 304, 336, 368, 400, 432, 464. After the
//  11th refill (223 pages) the zone has 257 free pages <= high 288:
//  BELOW_HIGH, and the 12th refill (32 pages) no longer grows high.
//  The 224th allocation makes that refill (free 257 > low 240) and leaves
//  31 pages on the list (free 225: later requests would fail DMA32's low mark
//  and go to DMA). Frees then give free_count 1, 2, 3 and high 463, 461, 458.
TEST(Pcp, BelowHighShrinksHighOnFree) {
  MEMD_BOOT(m, machines::pc_64m());
  const Zone& d32 = m.zone(0, kZoneDma32);
  const PerCpuPages& pcp = d32.pcp[0];
  for (int i = 0; i < 11; ++i)
    alloc_ok(m, 10, gfp::kHighuserMovable);
  alloc_ok(m, 9, gfp::kHighuserMovable);
  EXPECT_EQ(pcp.high, 241);
  std::vector<Pfn> small;
  for (int i = 0; i < 224; ++i) {
    Allocation a = alloc_ok(m, 0, gfp::kHighuserMovable);
    EXPECT_EQ(a.zone_idx, kZoneDma32);
    small.push_back(a.pfn);
  }
  EXPECT_EQ(pcp.high, 464);
  EXPECT_EQ(pcp.count, 31);
  EXPECT_TRUE(d32.below_high);
  EXPECT_EQ(d32.nr_free_pages, 480 - 255);
  free_ok(m, small[0]);
  EXPECT_EQ(pcp.high, 463);
  free_ok(m, small[1]);
  EXPECT_EQ(pcp.high, 461);
  free_ok(m, small[2]);
  EXPECT_EQ(pcp.high, 458);
  EXPECT_EQ(pcp.count, 34);
  expect_check(m);
}

// Order 9 (HPAGE_PMD_ORDER) uses the pcp when THP is built in (even when THP
// is off at run time, as below 512 MiB): a refill takes max(15 >> 9, 2) = 2
// blocks. Without CONFIG_TRANSPARENT_HUGEPAGE order 9 goes to the buddy.
TEST(Pcp, ThpOrderOnPcpOnlyWhenConfigured) {
  {
    MEMD_BOOT(m, machines::pc_256m());
    EXPECT_EQ(alloc_ok(m, 9, gfp::kHighuserMovable).pfn, 64512u);  // smallest o9
    EXPECT_EQ(m.zone(0, kZoneDma32).pcp[0].count, 512);
    EXPECT_EQ(pcp_list(m.zone(0, kZoneDma32), 0, pindex(kMovable, 9)),
              (std::vector<Pfn>{4096}));  // o10@4096 split: its upper half
  }
  {
    MEMD_BOOT(m, test::pc_machine(256 * kMiB, 1, false));
    EXPECT_EQ(alloc_ok(m, 9, gfp::kHighuserMovable).pfn, 64512u);
    EXPECT_EQ(m.zone(0, kZoneDma32).pcp[0].count, 0);
  }
}

// ===========================================================================
// More watermark boost rules
// ===========================================================================

// boost_watermark: max_boost = max(512, mult_frac(high, factor, 10000)); each
// boost adds 512 up to it. With watermark_boost_factor 30000 on M64 DMA32
// (high 288): mult_frac(288, 30000, 10000) = 864. The steal scenario of
// HalfBlockClaimFailsThenSteals makes 8 failed claims (orders 7..0), each
// boosting: 512, 864, 864, ... Without ALLOC_KSWAPD the boost stays.
// watermark_boost_factor 0 disables boosting.
TEST(Boost, CapAndFactor) {
  for (const char* factor : {"30000", "0"}) {
    SCOPED_TRACE(factor);
    MEMD_BOOT(m, machines::pc_64m());
    leave_half_block(m);
    EXPECT_EQ(alloc_ok(m, 0, gfp::kHighuserMovable).pfn, 4864u);
    test::set_sysctl_ok(m, "watermark_boost_factor", factor);
    EXPECT_EQ(alloc_ok(m, 0, kKernelNoKswapd).pfn, 4865u);
    EXPECT_EQ(m.zone(0, kZoneDma32).watermark_boost, std::string(factor) == "0" ? 0u : 864u);
    // The write does not recompute the watermarks themselves.
    EXPECT_EQ(m.zone(0, kZoneDma32).watermark[kWmarkMin], 192u);
  }
}

// __setup_per_zone_wmarks resets watermark_boost to 0: any write that
// recomputes the watermarks (here watermark_scale_factor) drops the boost.
TEST(Boost, WatermarkRecomputeResetsBoost) {
  MEMD_BOOT(m, machines::pc_64m());
  leave_half_block(m);
  ASSERT_EQ(alloc_ok(m, 0, kKernelNoKswapd).pfn, 4864u);
  ASSERT_EQ(m.zone(0, kZoneDma32).watermark_boost, 512u);
  test::set_sysctl_ok(m, "watermark_scale_factor", "10");
  EXPECT_EQ(m.zone(0, kZoneDma32).watermark_boost, 0u);
  expect_check(m);
}

// zone_watermark_fast: an order-0 ALLOC_MIN_RESERVE request checked against
// the MIN mark retries against the unboosted _watermark[MIN]. Setup as
// DropsAtSlowPathKswapdWake (DMA32: 255 free, boost 512; DMA: 112 free).
// __GFP_HIGH without __GFP_KSWAPD_RECLAIM: no kswapd wake, the boost stays.
// Slow path, MIN: DMA32 mark 192 + 512 = 704, halved 352 -> fails; retried
// with 192 -> 96: 255 > 96 passes: DMA32 serves (pcp refill of 2: 4865).
// Without the retry DMA would serve (112 > 30 + 47).
TEST(Boost, MinReserveIgnoresBoostAtMin) {
  MEMD_BOOT(m, machines::pc_64m());
  leave_half_block(m);
  ASSERT_EQ(alloc_ok(m, 0, kKernelNoKswapd).pfn, 4864u);
  alloc_ok(m, 10, kDmaKernel);
  alloc_ok(m, 10, kDmaKernel);
  alloc_ok(m, 10, kDmaKernel);
  alloc_ok(m, 9, kDmaKernel);
  alloc_ok(m, 7, kDmaKernel);
  alloc_ok(m, 4, kDmaKernel);
  ASSERT_EQ(m.zone(0, kZoneDma).nr_free_pages, 112);
  Allocation a = alloc_ok(m, 0, kKernelNoKswapd | gfp::kHigh);
  EXPECT_EQ(a.zone_idx, kZoneDma32);
  EXPECT_EQ(a.pfn, 4865u);
  EXPECT_EQ(m.zone(0, kZoneDma32).watermark_boost, 512u);
  expect_check(m);
}

// ===========================================================================
// More slow-path rules
// ===========================================================================

// __GFP_MEMALLOC gives ALLOC_NO_WATERMARKS in the retry loop
// (__gfp_pfmemalloc_flags), unless __GFP_NOMEMALLOC. In the DMA state of
// ReserveAccessByAllocFlags's end (24 free: o3@472 taken, o4@496 and
// o0..o2 of 472's split), an order-4 GFP_KERNEL|GFP_DMA|__GFP_MEMALLOC
// request gets o4@496 although 24 - 15 <= any mark.
TEST(Watermark, MemallocIgnoresWatermarks) {
  MEMD_BOOT(m, machines::pc_64m());
  alloc_ok(m, 10, kDmaKernel);
  alloc_ok(m, 10, kDmaKernel);
  alloc_ok(m, 10, kDmaKernel);
  alloc_ok(m, 9, kDmaKernel);
  for (int i = 0; i < 12; ++i)
    alloc_ok(m, 4, kDmaKernel);
  alloc_ok(m, 4, kDmaKernel | gfp::kHigh);   // 448
  alloc_ok(m, 3, kDmaKernel | gfp::kHigh);   // 464
  alloc_ok(m, 4, gfp::kAtomic | gfp::kDma);  // 480
  ASSERT_EQ(m.zone(0, kZoneDma).nr_free_pages, 24);
  EXPECT_FALSE(try_alloc(m, 4, kDmaKernel | gfp::kMemalloc | gfp::kNomemalloc).ok());
  Allocation a = alloc_ok(m, 4, kDmaKernel | gfp::kMemalloc);
  EXPECT_EQ(a.pfn, 496u);
  EXPECT_EQ(m.zone(0, kZoneDma).nr_free_pages, 8);
  expect_check(m);
}

// A high-order atomic request of order 9 goes through the pcp (a refill of
// 2 blocks: the claim of o10@4096 gives 4096 and 4608); the reservation for
// order >= pageblock_order re-types the allocated block itself
// (change_pageblock_range) and adds 1 << 9. When freed, the HIGHATOMIC page
// joins the pcp's Movable THP list (§15.2).
TEST(Highatomic, Order9ReservesItsOwnBlock) {
  MEMD_BOOT(m, machines::pc_256m());
  test::set_sysctl_ok(m, "min_free_kbytes", "212800");
  Allocation a = alloc_ok(m, 9, gfp::kAtomic);
  EXPECT_EQ(a.pfn, 4096u);
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(test::block_type(m, 4096), kHighAtomic);
  EXPECT_EQ(test::block_type(m, 4608), kUnmovable);
  EXPECT_EQ(d32.nr_reserved_highatomic, 512u);
  EXPECT_EQ(d32.nr_free_highatomic, 0);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 9)), (std::vector<Pfn>{4608}));
  free_ok(m, 4096);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kMovable, 9)), (std::vector<Pfn>{4096}));
  expect_check(m);
}

// ALLOC_NOFRAGMENT on two nodes (§10.2 step 3): when the walk reaches a zone
// of another node, NOFRAGMENT is cleared and the walk restarts: locality
// beats fragmentation avoidance. Node 0 = DMA, DMA32 and Normal [1048576,
// 1064960); node 1 = Normal [1064960, 1081344). THP off (48896 pages):
// min_free_kbytes int_sqrt(48896 * 64) = 1768, pages_min 442:
// DMA 34/42/50, DMA32 111/138/165, Normal 148/185/222 on each node.
// Node 0's Normal is fragmented as in fragment_normal, its DMA32 emptied,
// its DMA brought to 144 free pages (<= 42 + protection 112). A GFP_KERNEL
// request from cpu 0 walks n0 Normal, n0 DMA32, n0 DMA, then meets node 1's
// Normal: restart without NOFRAGMENT, and n0 Normal's small claim gives
// 1063939 (not a whole block of node 1's Normal).
TEST(Nofragment, RemoteNodeClearsNofragment) {
  MachineConfig cfg;
  cfg.e820 =
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
      "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\n"
      "BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved\n"
      "BIOS-e820: [mem 0x0000000000100000-0x0000000003ffffff] usable\n"
      "BIOS-e820: [mem 0x0000000100000000-0x0000000107ffffff] usable\n";
  cfg.cpus = 2;
  NodeConfig n0;
  n0.range = PhysRange{0, 0x104000000ULL};
  n0.cpus = {0};
  NodeConfig n1;
  n1.range = PhysRange{0x104000000ULL, 0x108000000ULL};
  n1.cpus = {1};
  cfg.nodes = {n0, n1};
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.min_free_kbytes(), 1768);
  EXPECT_EQ(m.zone(0, kZoneNormal).watermark[kWmarkHigh], 222u);
  EXPECT_EQ(m.zone(1, kZoneNormal).start_pfn, 1064960u);
  for (int k = 0; k < 15; ++k)
    EXPECT_EQ(alloc_ok(m, 10, gfp::kHighuserMovable).pfn, 1048576u + 1024u * k);
  EXPECT_EQ(alloc_ok(m, 0, gfp::kHighuserMovable).pfn, 1063936u);
  EXPECT_EQ(alloc_ok(m, 9, gfp::kHighuserMovable).pfn, 1064448u);
  for (int k = 0; k < 11; ++k)
    EXPECT_EQ(alloc_ok(m, 10, kDma32Movable).pfn, 4096u + 1024u * k);
  EXPECT_EQ(alloc_ok(m, 9, kDma32Movable).pfn, 15360u);
  ASSERT_EQ(m.zone(0, kZoneDma32).nr_free_pages, 0);
  alloc_ok(m, 10, kDmaMovable);
  alloc_ok(m, 10, kDmaMovable);
  alloc_ok(m, 10, kDmaMovable);
  alloc_ok(m, 9, kDmaMovable);
  EXPECT_EQ(alloc_ok(m, 6, kDmaKernel).pfn, 256u);
  EXPECT_EQ(alloc_ok(m, 5, kDmaKernel).pfn, 320u);
  EXPECT_EQ(alloc_ok(m, 4, kDmaKernel).pfn, 352u);
  ASSERT_EQ(m.zone(0, kZoneDma).nr_free_pages, 144);
  Allocation a = alloc_ok(m, 0, gfp::kKernel, 0);
  EXPECT_EQ(a.nid, 0);
  EXPECT_EQ(a.pfn, 1063939u);
  EXPECT_EQ(m.zone(1, kZoneNormal).nr_free_pages, 16384);
  expect_check(m);
}

// ===========================================================================
// Sysctls
// ===========================================================================

// watermark_scale_factor=100 on M256: DMA32 tmp = max(479 >> 2, mult_frac(
// 61408, 100, 10000) = 614) -> 479/1093/1707/2321; DMA max(7, 38) -> 30/68/
// 106/144; zone_pcp_update follows: high_min = low = 1093.
TEST(Sysctl, WatermarkScaleFactor) {
  MEMD_BOOT(m, machines::pc_256m());
  test::set_sysctl_ok(m, "watermark_scale_factor", "100");
  const Zone& d32 = m.zone(0, kZoneDma32);
  const Zone& dma = m.zone(0, kZoneDma);
  EXPECT_EQ(d32.watermark[kWmarkMin], 479u);
  EXPECT_EQ(d32.watermark[kWmarkLow], 1093u);
  EXPECT_EQ(d32.watermark[kWmarkHigh], 1707u);
  EXPECT_EQ(d32.watermark[kWmarkPromo], 2321u);
  EXPECT_EQ(dma.watermark[kWmarkMin], 30u);
  EXPECT_EQ(dma.watermark[kWmarkLow], 68u);
  EXPECT_EQ(dma.watermark[kWmarkHigh], 106u);
  EXPECT_EQ(d32.pageset_high_min, 1093);
  EXPECT_EQ(d32.pageset_high_max, 7676);
  EXPECT_EQ(m.stats().watermark_scale_factor, 100);
  // proc_dointvec_minmax range 1..3000: out of range is refused, nothing changes.
  EXPECT_FALSE(m.set_sysctl("watermark_scale_factor", "0").ok());
  EXPECT_FALSE(m.set_sysctl("watermark_scale_factor", "3001").ok());
  EXPECT_FALSE(m.set_sysctl("watermark_scale_factor", "ten").ok());
  EXPECT_EQ(d32.watermark[kWmarkLow], 1093u);
  // The command line form applies at the end of boot.
  MachineConfig cfg = machines::pc_256m();
  cfg.cmdline = "sysctl.vm.watermark_scale_factor=100";
  MEMD_BOOT(m2, cfg);
  EXPECT_EQ(m2.zone(0, kZoneDma32).watermark[kWmarkLow], 1093u);
}

// min_free_kbytes writes set user_min_free_kbytes and recompute the
// watermarks (not lowmem_reserve); the minimum is 0.
TEST(Sysctl, MinFreeKbytes) {
  MEMD_BOOT(m, machines::pc_256m());
  EXPECT_EQ(m.min_free_kbytes(), 2043);
  test::set_sysctl_ok(m, "min_free_kbytes", "4096");
  // pages_min 1024: DMA32 1024*61408/65248 = 963, tmp max(240, 61) -> 963/1203/1443.
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(d32.watermark[kWmarkMin], 963u);
  EXPECT_EQ(d32.watermark[kWmarkLow], 1203u);
  EXPECT_EQ(d32.watermark[kWmarkHigh], 1443u);
  EXPECT_EQ(m.zone(0, kZoneDma).lowmem_reserve[1], 239);
  EXPECT_FALSE(m.set_sysctl("min_free_kbytes", "-1").ok());
  EXPECT_EQ(m.min_free_kbytes(), 4096);
  test::set_sysctl_ok(m, "min_free_kbytes", "0");
  EXPECT_EQ(d32.watermark[kWmarkMin], 0u);
  EXPECT_EQ(d32.watermark[kWmarkLow], 61u);  // max(0, 61)
}

// lowmem_reserve_ratio: protection[j] of zone i = managed(i+1..j) / ratio[i];
// values below 1 become 0 (lowmem_reserve_ratio_sysctl_handler).
TEST(Sysctl, LowmemReserveRatio) {
  MEMD_BOOT(m, machines::pc_256m());
  const Zone& dma = m.zone(0, kZoneDma);
  EXPECT_EQ(dma.lowmem_reserve[1], 61408 / 256);
  test::set_sysctl_ok(m, "lowmem_reserve_ratio", "128 128 16 0 0");
  for (unsigned j = 1; j < 5; ++j)
    EXPECT_EQ(dma.lowmem_reserve[j], 61408 / 128) << j;
  EXPECT_EQ(m.stats().lowmem_reserve_ratio, (std::vector<int>{128, 128, 16, 0, 0}));
  test::set_sysctl_ok(m, "lowmem_reserve_ratio", "-5 256 32 0 0");
  EXPECT_EQ(m.stats().lowmem_reserve_ratio, (std::vector<int>{0, 256, 32, 0, 0}));
  for (unsigned j = 0; j < 5; ++j)
    EXPECT_EQ(dma.lowmem_reserve[j], 0) << j;
  // proc_dointvec separates values by white space only: a comma stops the
  // parse before anything is stored, so the kernel keeps the old ratios
  // (kernel-6.1 README finding 8; lowmem_reserve_ratio_sysctl_handler ignores
  // the error and just recomputes). Refusing is fine; applying is not.
  test::set_sysctl_ok(m, "lowmem_reserve_ratio", "256 256 32 0 0");
  (void)m.set_sysctl("lowmem_reserve_ratio", "128,128,16,0,0");
  EXPECT_EQ(m.stats().lowmem_reserve_ratio, (std::vector<int>{256, 256, 32, 0, 0}));
  EXPECT_EQ(dma.lowmem_reserve[1], 61408 / 256);
  // The quoted command-line form works (finding 8 of the kernel-6.1 README).
  MachineConfig cfg = machines::pc_256m();
  cfg.cmdline = "sysctl.vm.lowmem_reserve_ratio=\"128 128 16 0 0\"";
  MEMD_BOOT(m2, cfg);
  EXPECT_EQ(m2.zone(0, kZoneDma).lowmem_reserve[1], 479);
}

// percpu_pagelist_high_fraction: 0 or >= 8; a value fixes high_min = high_max
// = max(managed / fraction / cpus, 4 * batch); 0 restores auto-tuning.
TEST(Sysctl, PercpuPagelistHighFraction) {
  MEMD_BOOT(m, machines::pc_256m());
  const Zone& d32 = m.zone(0, kZoneDma32);
  test::set_sysctl_ok(m, "percpu_pagelist_high_fraction", "8");
  EXPECT_EQ(d32.pageset_high_min, 7676);
  EXPECT_EQ(d32.pageset_high_max, 7676);
  EXPECT_EQ(m.zone(0, kZoneDma).pageset_high_min, 480);
  EXPECT_FALSE(m.set_sysctl("percpu_pagelist_high_fraction", "7").ok());
  EXPECT_FALSE(m.set_sysctl("percpu_pagelist_high_fraction", "1").ok());
  EXPECT_FALSE(m.set_sysctl("percpu_pagelist_high_fraction", "-1").ok());
  EXPECT_EQ(d32.pageset_high_min, 7676);
  test::set_sysctl_ok(m, "percpu_pagelist_high_fraction", "0");
  EXPECT_EQ(d32.pageset_high_min, 598);
  EXPECT_EQ(d32.pageset_high_max, 7676);
  EXPECT_EQ(d32.pageset_batch, 15);
}

// A runtime write of vm.lowmem_reserve_ratio with commas changes nothing.
// lowmem_reserve_ratio_sysctl_handler() calls proc_dointvec_minmax() and
// ignores its result; __do_proc_dointvec() -> proc_get_long() parses "128"
// and then finds ',' which is not in proc_wspace_sep {' ', '\t', '\n'}:
// -EINVAL before the first value is stored. The handler then clamps and
// recomputes the *old* ratios. So the ratios stay 256 256 32 0 0 and DMA's
// protection[1] stays 61408 / 256 = 239 (256 MiB pc machine: DMA32 managed
// 61408).
TEST(Sysctl, LowmemReserveRatioCommaWriteChangesNothing) {
  MEMD_BOOT(m, machines::pc_256m());
  (void)m.set_sysctl("lowmem_reserve_ratio", "128,128,16,0,0");
  EXPECT_EQ(m.stats().lowmem_reserve_ratio, (std::vector<int>{256, 256, 32, 0, 0}));
  EXPECT_EQ(m.zone(0, test::kZoneDma).lowmem_reserve[1], 61408 / 256);
}

// Sysctl integers are parsed with base 0: proc_get_long() uses
// strtoul_lenient(p, &p, 0, val) (kernel/sysctl.c), so "010" is octal 8 and
// "0x1000" is 4096.
TEST(Sysctl, IntegersAreParsedWithBaseZero) {
  MEMD_BOOT(m, machines::pc_256m());
  (void)m.set_sysctl("min_free_kbytes", "0x1000");
  EXPECT_EQ(m.min_free_kbytes(), 4096);
  (void)m.set_sysctl("min_free_kbytes", "010");
  EXPECT_EQ(m.min_free_kbytes(), 8);
}

// ===========================================================================
// Boot details
// ===========================================================================

// A reservation of part of a page makes the whole page unavailable: free
// ranges are [PFN_UP(start), PFN_DOWN(end)). With 16 MiB + [100, 200) bytes
// reserved, DMA32's free memory starts at 4097, in maximal aligned chunks:
// o0@4097, o1@4098, o2@4100, ..., o9@4608, then o10 from 5120.
TEST(BuddyBoot, PartialPageReservation) {
  MachineConfig cfg = machines::pc_64m();
  cfg.reserved.push_back({16 * kMiB + 100, 16 * kMiB + 200});
  MEMD_BOOT(m, cfg);
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(d32.present, 12256u);
  EXPECT_EQ(d32.managed, 12255u);
  // Ascending within each list: the head chunks, then DMA32's tail chunks.
  for (unsigned o = 0; o <= 4; ++o) {
    EXPECT_EQ(free_list(d32, o, kMovable), (std::vector<Pfn>{4096u + (1u << o)})) << o;
  }
  EXPECT_EQ(free_list(d32, 6, kMovable), (std::vector<Pfn>{4160, 16256}));
  EXPECT_EQ(free_list(d32, 7, kMovable), (std::vector<Pfn>{4224, 16128}));
  EXPECT_EQ(free_list(d32, 8, kMovable), (std::vector<Pfn>{4352, 15872}));
  EXPECT_EQ(free_list(d32, 9, kMovable), (std::vector<Pfn>{4608, 15360}));
  EXPECT_EQ(free_list(d32, 5, kMovable), (std::vector<Pfn>{4128, 16320}));
  EXPECT_EQ(free_list(d32, 10, kMovable), pfn_range(5120, 14336, 1024));
  expect_check(m);
}

// e820 ranges are rounded inward to whole pages: a usable range starting at
// 0x100800 starts at pfn 257. DMA: present 158 + 3839, managed 3839; its free
// memory [257, 4096) is o0@257 .. o7@384 (Unmovable block 0), o9@512, o10 x3.
TEST(BuddyBoot, UnalignedE820Range) {
  MachineConfig cfg;
  cfg.e820 =
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
      "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\n"
      "BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved\n"
      "BIOS-e820: [mem 0x0000000000100800-0x0000000003fdffff] usable\n";
  cfg.cpus = 1;
  MEMD_BOOT(m, cfg);
  const Zone& dma = m.zone(0, kZoneDma);
  EXPECT_EQ(dma.present, 3997u);
  EXPECT_EQ(dma.managed, 3839u);
  for (unsigned o = 0; o <= 7; ++o) {
    EXPECT_EQ(free_list(dma, o, kUnmovable), (std::vector<Pfn>{256u + (1u << o)})) << o;
  }
  EXPECT_EQ(free_list(dma, 9, kMovable), (std::vector<Pfn>{512}));
  EXPECT_EQ(free_list(dma, 10, kMovable), (std::vector<Pfn>{1024, 2048, 3072}));
  expect_check(m);
}

// ===========================================================================
// The allocation API
// ===========================================================================

// Machine::allocations: every live allocation once, in id order, where
// alloc() put it; each filter field narrows; `after` and `limit` page; the
// count of matches covers what the limit leaves out.
TEST(Api, AllocationsListsAndFilters) {
  MEMD_BOOT(m, machines::movablecore_256m());
  const Allocation movable = alloc_ok(m, 2, gfp::kHighuserMovable);
  const Allocation kernel = alloc_ok(m, 0, gfp::kKernel);
  const Allocation reclaimable = alloc_ok(m, 1, gfp::kKernel | gfp::kReclaimable);
  const Allocation dma = alloc_ok(m, 3, gfp::kKernel | gfp::kDma);
  ASSERT_TRUE(m.free_id(kernel.id).ok());
  const Allocation movable2 = alloc_ok(m, 2, gfp::kHighuserMovable);
  EXPECT_EQ(movable.zone_idx, kZoneMovable);
  EXPECT_EQ(reclaimable.zone_idx, kZoneDma32);  // 1 GiB: no Normal memory
  EXPECT_EQ(dma.zone_idx, kZoneDma);
  auto ids = [](const AllocationList& l) {
    std::vector<AllocId> v;
    for (const Allocation& a : l.allocations)
      v.push_back(a.id);
    return v;
  };
  const AllocationList all = m.allocations({});
  EXPECT_EQ(ids(all), (std::vector<AllocId>{movable.id, reclaimable.id, dma.id, movable2.id}));
  EXPECT_EQ(all.matched, 4u);
  const Allocation& listed = all.allocations[2];
  EXPECT_EQ(listed.pfn, dma.pfn);
  EXPECT_EQ(listed.order, 3u);
  EXPECT_EQ(listed.zone_name, "DMA");
  EXPECT_EQ(listed.nid, 0);
  EXPECT_EQ(listed.migratetype, unsigned{kUnmovable});
  EXPECT_EQ(all.allocations[1].migratetype, unsigned{kReclaimable});

  AllocationFilter f;
  f.zone_idx = kZoneMovable;
  EXPECT_EQ(ids(m.allocations(f)), (std::vector<AllocId>{movable.id, movable2.id}));
  f = {};
  f.migratetype = kReclaimable;
  EXPECT_EQ(ids(m.allocations(f)), (std::vector<AllocId>{reclaimable.id}));
  f = {};
  f.order = 2;
  f.after = movable.id;
  EXPECT_EQ(ids(m.allocations(f)), (std::vector<AllocId>{movable2.id}));
  f = {};
  f.nid = 1;
  EXPECT_EQ(m.allocations(f).matched, 0u);
  f = {};
  f.limit = 2;
  const AllocationList page = m.allocations(f);
  EXPECT_EQ(ids(page), (std::vector<AllocId>{movable.id, reclaimable.id}));
  EXPECT_EQ(page.matched, 4u);
  f.after = reclaimable.id;
  EXPECT_EQ(ids(m.allocations(f)), (std::vector<AllocId>{dma.id, movable2.id}));
}

TEST(Api, IdsFreesAndErrors) {
  MEMD_BOOT(m, machines::pc_64m());
  Allocation a = alloc_ok(m, 4, gfp::kHighuserMovable);
  Allocation b = alloc_ok(m, 0, gfp::kKernel);
  EXPECT_NE(a.id, b.id);
  ASSERT_TRUE(m.find_pfn(a.pfn).has_value());
  EXPECT_EQ(m.find_pfn(a.pfn)->id, a.id);
  ASSERT_TRUE(m.find_id(b.id).has_value());
  EXPECT_EQ(m.find_id(b.id)->pfn, b.pfn);
  EXPECT_FALSE(m.find_pfn(a.pfn + 1).has_value());
  // Not the head of a block: refused, nothing changes.
  EXPECT_FALSE(m.free_pfn(a.pfn + 1).ok());
  EXPECT_FALSE(m.free_pfn(100).ok());       // reserved memory
  EXPECT_FALSE(m.free_pfn(1u << 30).ok());  // beyond the machine
  EXPECT_FALSE(m.free_id(9999).ok());
  EXPECT_FALSE(m.free_pfn(a.pfn, 5).ok());  // no such CPU
  EXPECT_EQ(m.nr_allocations(), 2u);
  auto r = m.free_id(a.id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->pfn, a.pfn);
  EXPECT_EQ(r->order, 4u);
  EXPECT_FALSE(m.free_id(a.id).ok());    // double free
  EXPECT_FALSE(m.free_pfn(a.pfn).ok());  // double free
  EXPECT_EQ(m.nr_allocations(), 1u);
  expect_check(m);
}

// free_all frees in id order on the given CPU: order-0 pages land on that
// CPU's pcp list.
TEST(Api, FreeAllUsesTheGivenCpu) {
  MEMD_BOOT(m, test::pc_machine(64 * kMiB, 2, true));
  for (int i = 0; i < 5; ++i)
    alloc_ok(m, 0, gfp::kKernel, 0);
  const Zone& d32 = m.zone(0, kZoneDma32);
  int before0 = d32.pcp[0].count;
  EXPECT_EQ(m.free_all(1), 5u);
  EXPECT_EQ(m.nr_allocations(), 0u);
  EXPECT_EQ(d32.pcp[0].count, before0);
  EXPECT_EQ(d32.pcp[1].count, 5);
  expect_check(m);
}

// warn_alloc() prints "mode:%#x(%pGg)" with the kernel's vsprintf: number()
// with SPECIAL and base 16 always emits the "0x" prefix ("if (spec.base ==
// 16 || !is_zero)"), so 0 prints "0x0"; %pGg is format_flags(), which prints
// nothing for 0 ("none" is only show_gfp_flags() in tracepoints). A 3 MiB
// machine has no order-10 block, so the order-10 request fails.
TEST(Api, WarnAllocFormatsZeroGfpLikeTheKernel) {
  MEMD_BOOT(m, test::pc_machine(3 * kMiB, 1, false));
  AllocRequest req;
  req.order = 10;
  req.gfp = 0;
  auto r = m.alloc(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "page allocation failure: order:10, mode:0x0(), nodemask=(null)");
}

// ===========================================================================
// More merge and boot rules
// ===========================================================================

// __free_one_page at order >= pageblock_order merges buddies of different
// but mergeable types and re-types the buddy's pageblock to the freed page's
// type (change_pageblock_range). In DMA of M64 (pcp batch 1, high 75..480):
//  GFP_DMA order 9: claims o10@1024 whole (blocks 2, 3 Unmovable): 1024;
//  movable order 10 x2: 2048, 3072; movable order 9: o9@512;
//  movable order 9 again: no Movable block left; the claim takes o9@1536
//    (Unmovable) whole: block 3 becomes Movable: 1536.
//  Free 1536: to the pcp (count 512 >= high 78) and drained at once: o9@1536
//    Movable, its buddy 1024 is allocated.
//  Free 1024 (block 2, Unmovable): drained too (512 >= 480); merges with
//    o9@1536 (Movable), whose block becomes Unmovable: o10@1024 Unmovable.
TEST(BuddyMerge, AcrossMergeableTypesRetypesBuddy) {
  MEMD_BOOT(m, machines::pc_64m());
  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  EXPECT_EQ(alloc_ok(m, 9, kDmaKernel).pfn, 1024u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaMovable).pfn, 2048u);
  EXPECT_EQ(alloc_ok(m, 10, kDmaMovable).pfn, 3072u);
  EXPECT_EQ(alloc_ok(m, 9, kDmaMovable).pfn, 512u);
  EXPECT_EQ(alloc_ok(m, 9, kDmaMovable).pfn, 1536u);
  ASSERT_EQ(rec.events.size(), 2u);
  expect_extfrag(rec.events[0], 1024, 9, 10, kUnmovable, kMovable, true);
  expect_extfrag(rec.events[1], 1536, 9, 9, kMovable, kUnmovable, true);
  EXPECT_EQ(test::block_type(m, 1024), kUnmovable);
  EXPECT_EQ(test::block_type(m, 1536), kMovable);
  m.set_extfrag_listener(nullptr);
  const Zone& dma = m.zone(0, kZoneDma);
  free_ok(m, 1536);
  EXPECT_EQ(dma.pcp[0].count, 0);
  EXPECT_EQ(free_list(dma, 9, kMovable), (std::vector<Pfn>{1536}));
  free_ok(m, 1024);
  EXPECT_EQ(dma.pcp[0].count, 0);
  EXPECT_TRUE(free_list(dma, 9, kMovable).empty());
  EXPECT_EQ(free_list(dma, 10, kUnmovable), (std::vector<Pfn>{1024}));
  EXPECT_EQ(test::block_type(m, 1536), kUnmovable);
  MachineStats st = m.stats();
  EXPECT_EQ(st.extfrag_claims, 2u);
  EXPECT_EQ(st.extfrag_steals, 0u);
  expect_check(m);
}

// PGFREE counts a pcp free once, when it reaches the pcp; the later drain to
// the buddy does not count again. PGALLOC counts what is handed out.
TEST(Stats, PgfreeCountsPcpFreesOnce) {
  MEMD_BOOT(m, machines::pc_256m());
  test::set_sysctl_ok(m, "percpu_pagelist_high_fraction", "1000");
  const uint64_t boot = m.pgfree();
  EXPECT_EQ(boot, 3840u + 61408u);
  std::vector<Pfn> got;
  for (int i = 0; i < 100; ++i)
    got.push_back(alloc_ok(m, 0, gfp::kKernel).pfn);
  for (int i = 0; i < 48; ++i)
    free_ok(m, got[i]);  // two drains (24 + 46 pages)
  EXPECT_EQ(m.pgfree(), boot + 48);
  EXPECT_EQ(m.stats().pgfree, boot + 48);
  EXPECT_EQ(m.zone(0, kZoneDma32).pgalloc, 100u);
  free_ok(m, alloc_ok(m, 4, gfp::kKernel).pfn);  // buddy path: 16 more
  EXPECT_EQ(m.pgfree(), boot + 48 + 16);
}

// THP's recommended min_free_kbytes is capped at nr_free_buffer_pages()/20,
// computed with the sqrt step's high watermarks (§9.1, finding 2).
//  768 MiB: DMA 3840, DMA32 192480 managed. Step 1: int_sqrt(196320 * 64) =
//  3544 -> highs 25 and 1302 -> nr_free_buffer_pages = 194993; cap 9749 <
//  11264 -> 9749 * 4 = 38996.
//  1 GiB, THP not built in: one sqrt run: int_sqrt(261856 * 64) = 4093.
//  1 GiB, transparent_hugepage=never: two runs: highs 21 and 1523 ->
//  int_sqrt(260312 * 64) = 4081.
//  1 GiB, THP madvise (default): 512 * 2 * 11 = 11264 (cap 13015) -> 45056.
TEST(BuddyBoot, MinFreeKbytesByThpSetting) {
  {
    MEMD_BOOT(m, test::pc_machine(768 * kMiB, 2, true));
    EXPECT_EQ(m.min_free_kbytes(), 38996);
  }
  {
    MEMD_BOOT(m, test::pc_machine(1 * kGiB, 2, false));
    EXPECT_EQ(m.min_free_kbytes(), 4093);
  }
  {
    MachineConfig cfg = machines::one_node_1g(2);
    cfg.cmdline = "transparent_hugepage=never";
    MEMD_BOOT(m, cfg);
    EXPECT_EQ(m.min_free_kbytes(), 4081);
  }
  {
    MEMD_BOOT(m, machines::one_node_1g(2));
    EXPECT_EQ(m.min_free_kbytes(), 45056);
    EXPECT_TRUE(m.stats().thp_enabled);
  }
  {
    MachineConfig cfg = machines::one_node_1g(2);
    cfg.cmdline = "transparent_hugepage=always";
    MEMD_BOOT(m, cfg);
    EXPECT_EQ(m.min_free_kbytes(), 45056);
  }
  {
    // A user value from the command line wins and is applied last.
    MachineConfig cfg = machines::one_node_1g(2);
    cfg.cmdline = "sysctl.vm.min_free_kbytes=5000";
    MEMD_BOOT(m, cfg);
    EXPECT_EQ(m.min_free_kbytes(), 5000);
  }
}

// ===========================================================================
// More layouts
// ===========================================================================

// kernel-6.1 README finding 6, configuration k: 1G/4G/4G nodes (qemu -m 9G:
// node 0 [0, 1G), node 1 [1G, 3G) + [4G, 6G), node 2 [6G, 10G)),
// kernelcore=6G = 1572864 pages over 3 nodes.
//  Pass 1 (524288 per node): node 0 has only memory below 4 GiB (262046
//  pages, zone_movable_pfn pushed to 262144); node 1 counts 524256 below
//  4 GiB, then 32 pages from 4 GiB (1048608); node 2 takes 524288 (2097152).
//  262242 still required, 2 usable nodes: restart with 131121 per node:
//  node 1 -> 1048608 + 131121 = 1179729, node 2 -> 2097152 + 131121 =
//  2228273. Rounded up to 1024: node 0 262144 >= its end -> none; node 1
//  0x120400000; node 2 0x220400000 (as the kernel printed).
TEST(MovableZone, KernelcoreRestartPass) {
  MachineConfig cfg;
  cfg.e820 =
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
      "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\n"
      "BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved\n"
      "BIOS-e820: [mem 0x0000000000100000-0x00000000bffdffff] usable\n"
      "BIOS-e820: [mem 0x00000000bffe0000-0x00000000bfffffff] reserved\n"
      "BIOS-e820: [mem 0x0000000100000000-0x000000027fffffff] usable\n";
  cfg.cmdline = "kernelcore=6G";
  cfg.cpus = 3;
  for (auto [start, end] :
       {std::pair<uint64_t, uint64_t>{0, 1 * kGiB}, {1 * kGiB, 6 * kGiB}, {6 * kGiB, 10 * kGiB}}) {
    NodeConfig n;
    n.range = PhysRange{start, end};
    cfg.nodes.push_back(n);
  }
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 0u);
  EXPECT_EQ(m.layout().zone_movable_pfn[1], 0x120400000ULL >> kPageShift);
  EXPECT_EQ(m.layout().zone_movable_pfn[2], 0x220400000ULL >> kPageShift);
  EXPECT_EQ(m.zone(1, kZoneMovable).start_pfn, 1180672u);
  EXPECT_EQ(m.zone(1, kZoneNormal).spanned, 1180672u - 1048576u);
  EXPECT_EQ(m.zone(2, kZoneNormal).spanned, 2229248u - 1572864u);
  EXPECT_EQ(m.zone(2, kZoneMovable).spanned, 2621440u - 2229248u);
  EXPECT_EQ(m.zone(0, kZoneMovable).spanned, 0u);
  expect_check(m);
}

// kernelcore=mirror: non-mirrored memory at or above 4 GiB becomes
// ZONE_MOVABLE from its lowest start (find_zone_movable_pfns_for_nodes);
// zones may then overlap: Normal keeps its span, and
// zone_absent_pages_in_node counts non-mirrored memory as absent for Normal
// (and mirrored memory as absent for Movable). 4 GiB pc machine, mirrored
// [0, 3G) and [4G, 4.5G): Movable from 4.5 GiB (pfn 1179648); Normal spans
// [4G, 5G) with 131072 present; Movable 131072.
TEST(MovableZone, KernelcoreMirror) {
  MachineConfig cfg = test::pc_machine(4 * kGiB, 1, true);
  cfg.cmdline = "kernelcore=mirror";
  cfg.mirrored.push_back({0, 3 * kGiB});
  cfg.mirrored.push_back({4 * kGiB, 4 * kGiB + 512 * kMiB});
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 1179648u);
  const Zone& normal = m.zone(0, kZoneNormal);
  const Zone& mov = m.zone(0, kZoneMovable);
  EXPECT_EQ(normal.start_pfn, 1048576u);
  EXPECT_EQ(normal.spanned, 262144u);
  EXPECT_EQ(normal.present, 131072u);
  EXPECT_EQ(normal.managed, 131072u);
  EXPECT_EQ(mov.start_pfn, 1179648u);
  EXPECT_EQ(mov.spanned, 131072u);
  EXPECT_EQ(mov.present, 131072u);
  EXPECT_EQ(mov.managed, 131072u);
  EXPECT_EQ(free_list(normal, 10, kMovable).size(), 128u);
  EXPECT_EQ(free_list(normal, 10, kMovable).back(), 1179648u - 1024u);
  EXPECT_EQ(free_list(mov, 10, kMovable).front(), 1179648u);
  EXPECT_EQ(free_list(mov, 10, kMovable).size(), 128u);
  expect_check(m);
}

// A node without CPUs (3 nodes, 2 CPUs dealt round-robin: node 2 has none).
// find_next_best_node prefers it (no PENALTY_FOR_NODE_WITH_CPUS), and its
// pagesets split high over all online CPUs (zone_highsize).
//  node 0: 0, then 2 (20*1024 < 21*1024; load[2]++), 1
//  node 1: 1, then 2 (20*1024 + 1 < 22*1024), 0
//  node 2: 2, then 0 (22*1024 + 0, first of the tie), 1
// THP off: min_free_kbytes int_sqrt(24288 * 64) = 1246, pages_min 311.
// Node 2 DMA32 (8160 managed): min 311*8160/24288 = 104, tmp 26, low 130:
// high_min 130/2 = 65, high_max 8160/8/2 = 510. Node 1 DMA32 (8192, one CPU):
// low 130, high_min 130, high_max 1024.
TEST(Zonelist, CpulessNode) {
  MachineConfig cfg = test::pc_machine(96 * kMiB, 2, true);
  for (int n = 0; n < 3; ++n) {
    NodeConfig nc;
    nc.size = 32 * kMiB;
    cfg.nodes.push_back(nc);
  }
  MEMD_BOOT(m, cfg);
  ASSERT_EQ(m.nr_nodes(), 3);
  EXPECT_EQ(m.layout().cpu_node, (std::vector<int>{0, 1}));
  EXPECT_EQ(m.node_order(0), (std::vector<int>{0, 2, 1}));
  EXPECT_EQ(m.node_order(1), (std::vector<int>{1, 2, 0}));
  EXPECT_EQ(m.node_order(2), (std::vector<int>{2, 0, 1}));
  EXPECT_EQ(m.min_free_kbytes(), 1246);
  const Zone& z2 = m.zone(2, kZoneDma32);
  EXPECT_EQ(z2.managed, 8160u);
  EXPECT_EQ(z2.watermark[kWmarkLow], 130u);
  EXPECT_EQ(z2.pageset_high_min, 65);
  EXPECT_EQ(z2.pageset_high_max, 510);
  const Zone& z1 = m.zone(1, kZoneDma32);
  EXPECT_EQ(z1.pageset_high_min, 130);
  EXPECT_EQ(z1.pageset_high_max, 1024);
  // Allocating "on" node 2 from cpu 0: numa_hit on node 2, numa_other.
  Allocation a = alloc_ok(m, 0, gfp::kKernel, 0, 2);
  EXPECT_EQ(a.nid, 2);
  EXPECT_EQ(m.stats().nodes[2].zones[kZoneDma32].numa[kNumaOther], 1u);
  expect_check(m);
}

// A node boundary inside a pageblock: node 0 = [0, 33 MiB), node 1 = [33 MiB,
// 64 MiB), so pageblock 16 [8192, 8704) holds the end of node 0's DMA32 and
// the start of node 1's. memblock memory is split at the node boundary, so
// the boot frees give node 0 o8@8192 and node 1 o8@8448, o9@8704, o10 from
// 9216. They never merge: page_is_buddy requires the same zone. Each zone's
// block count walks from its own start_pfn, so both count block 16.
TEST(BuddyBoot, NodeBoundaryInsidePageblock) {
  MEMD_BOOT(m, machines::nodes_33m_31m());
  const Zone& a = m.zone(0, kZoneDma32);
  const Zone& b = m.zone(1, kZoneDma32);
  EXPECT_EQ(a.start_pfn, 4096u);
  EXPECT_EQ(a.spanned, 8448u - 4096u);
  EXPECT_EQ(b.start_pfn, 8448u);
  EXPECT_EQ(b.spanned, 16352u - 8448u);
  EXPECT_EQ(free_list(a, 10, kMovable), pfn_range(4096, 7168, 1024));
  EXPECT_EQ(free_list(a, 8, kMovable), (std::vector<Pfn>{8192}));
  EXPECT_EQ(free_list(b, 8, kMovable), (std::vector<Pfn>{8448, 15872}));
  EXPECT_EQ(free_list(b, 9, kMovable), (std::vector<Pfn>{8704, 15360}));
  EXPECT_EQ(free_list(b, 10, kMovable), pfn_range(9216, 14336, 1024));
  MachineStats st = m.stats();
  EXPECT_EQ(st.nodes[0].zones[kZoneDma32].block_count[kMovable], 9u);
  EXPECT_EQ(st.nodes[1].zones[kZoneDma32].block_count[kMovable], 16u);
  // Allocate and free o8@8448 on node 1: its buddy 8192 is free but in
  // another zone: no merge; merge_likely looks at 8192's order-9 buddy 8704,
  // also in another zone than 8192 -> not a buddy -> head.
  Allocation x = alloc_ok(m, 8, gfp::kHighuserMovable, 1);
  EXPECT_EQ(x.pfn, 8448u);
  EXPECT_EQ(x.nid, 1);
  free_ok(m, x.pfn, 1);
  EXPECT_EQ(free_list(b, 8, kMovable), (std::vector<Pfn>{8448, 15872}));
  EXPECT_EQ(free_list(a, 8, kMovable), (std::vector<Pfn>{8192}));
  // An Unmovable request on node 1 that finds only o8@8448 cannot claim its
  // block (it starts in node 0's zone: prep_move_freepages_block), so it
  // steals. Take node 1's other Movable memory first.
  for (Pfn p = 9216; p <= 14336; p += 1024) {
    EXPECT_EQ(alloc_ok(m, 10, gfp::kHighuserMovable, 1, 1).pfn, p);
  }
  EXPECT_EQ(alloc_ok(m, 9, gfp::kHighuserMovable, 1, 1).pfn, 8704u);
  EXPECT_EQ(alloc_ok(m, 9, gfp::kHighuserMovable, 1, 1).pfn, 15360u);
  // 8448 is back at the head of the order-8 list, 15872 behind it: take
  // both, and return 8448 (no merge, head again) so that it is the last
  // order-8 block.
  Allocation again = alloc_ok(m, 8, gfp::kHighuserMovable, 1, 1);
  EXPECT_EQ(again.pfn, 8448u);
  EXPECT_EQ(alloc_ok(m, 8, gfp::kHighuserMovable, 1, 1).pfn, 15872u);
  free_ok(m, again.pfn, 1);
  EXPECT_EQ(alloc_ok(m, 7, gfp::kHighuserMovable, 1, 1).pfn, 16128u);
  EXPECT_EQ(alloc_ok(m, 6, gfp::kHighuserMovable, 1, 1).pfn, 16256u);
  EXPECT_EQ(alloc_ok(m, 5, gfp::kHighuserMovable, 1, 1).pfn, 16320u);
  ASSERT_EQ(b.nr_free_pages, 256);
  ExtfragRecorder rec;
  m.set_extfrag_listener(&rec);
  // GFP_KERNEL order 4 (buddy path) from cpu 1 on node 1: the claim of
  // o8@8448 fails at the zone boundary; the steal splits it: 8448.
  Allocation y = alloc_ok(m, 4, gfp::kKernel, 1, 1);
  EXPECT_EQ(y.nid, 1);
  EXPECT_EQ(y.pfn, 8448u);
  ASSERT_EQ(rec.events.size(), 1u);
  expect_extfrag(rec.events[0], 8448, 4, 8, kUnmovable, kMovable, false);
  EXPECT_EQ(test::block_type(m, 8192), kMovable);
  m.set_extfrag_listener(nullptr);
  expect_check(m);
}

// rmqueue() tries the pcp first for orders <= 3: the HIGHATOMIC reserve is
// used first only in rmqueue_buddy, so a pcp-sized atomic request takes what
// the pcp list or its refill (__rmqueue) gives, and only then reserves the
// block of the page it got. M256, min_free_kbytes 212800 (every request in
// the slow path; ZONE_BELOW_HIGH set, no pcp high growth); pcp high =
// clamp(0, high_min 62586, high_max 7676) = 62586 (the kernel's clamp with
// lo > hi); order-2 refills take max(15 >> 2, 2) = 3 blocks.
//  #1: claim of o10@4096 (whole block) -> 4096, 4100, 4104 on the list; the
//      reservation moves block 8's free pages (o2@4108 .. o8@4352) to
//      HIGHATOMIC: reserved 512.
//  #2, #3: from the list: 4100, 4104 (not o2@4108 from the reserve).
//  #4: refill from Unmovable o9@4608: 4608, 4612, 4616 -> 4608; block 9 is
//      reserved too (1024 = ALIGN(614, 512), the limit).
TEST(Highatomic, PcpOrdersTakeThePcpFirst) {
  MEMD_BOOT(m, machines::pc_256m());
  test::set_sysctl_ok(m, "min_free_kbytes", "212800");
  const Zone& d32 = m.zone(0, kZoneDma32);
  EXPECT_EQ(alloc_ok(m, 2, gfp::kAtomic).pfn, 4096u);
  EXPECT_EQ(d32.pcp[0].high, 62586);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kUnmovable, 2)), (std::vector<Pfn>{4100, 4104}));
  EXPECT_EQ(test::block_type(m, 4096), kHighAtomic);
  EXPECT_EQ(d32.nr_reserved_highatomic, 512u);
  EXPECT_EQ(free_list(d32, 2, kHighAtomic), (std::vector<Pfn>{4108}));
  EXPECT_EQ(d32.nr_free_highatomic, 4 + 16 + 32 + 64 + 128 + 256);
  EXPECT_EQ(alloc_ok(m, 2, gfp::kAtomic).pfn, 4100u);
  EXPECT_EQ(alloc_ok(m, 2, gfp::kAtomic).pfn, 4104u);
  EXPECT_EQ(alloc_ok(m, 2, gfp::kAtomic).pfn, 4608u);
  EXPECT_EQ(test::block_type(m, 4608), kHighAtomic);
  EXPECT_EQ(d32.nr_reserved_highatomic, 1024u);
  // A third block is not reserved: the limit is reached.
  EXPECT_EQ(free_list(d32, 2, kHighAtomic), (std::vector<Pfn>{4108, 4620}));
  // Freed, a page of a HIGHATOMIC block joins the Movable pcp list.
  free_ok(m, 4100);
  EXPECT_EQ(pcp_list(d32, 0, pindex(kMovable, 2)), (std::vector<Pfn>{4100}));
  expect_check(m);
}

// A node that is all ZONE_MOVABLE (like node 1 of kernel-6.1's g config):
// node 0 = DMA + DMA32 (64 MiB), node 1 = 64 MiB at 4 GiB, kernelcore=32M.
// totalpages 32670, 2 nodes: node 0's 16286 pages below 4 GiB already
// exceed the 8192 required, so node 1's zone_movable_pfn stays at its start
// (1048576) and node 0's rounds to its end (none).
// A GFP_KERNEL request from cpu 1 (node 1) has no eligible zone on node 1:
// its preferred zone is node 0's DMA32, so it counts numa_hit there (the
// zone is on the preferred zone's node) and numa_other (cpu 1 is on node 1).
// min_free_kbytes: zones <= Normal (DMA 3840 + DMA32 12288):
// int_sqrt(16128 * 64) = 1015; pages_min 253, lowmem 16128 (Movable
// excluded): node 1 Movable min clamp(16, 32, 128) = 32, tmp max((253*16384/
// 16128 = 257)>>2 = 64, 16) = 64 -> 32/96/160.
TEST(Numa, AllMovableNodePrefersRemoteZoneForKernelRequests) {
  MachineConfig cfg;
  cfg.e820 =
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
      "BIOS-e820: [mem 0x0000000000100000-0x0000000003ffffff] usable\n"
      "BIOS-e820: [mem 0x0000000100000000-0x0000000103ffffff] usable\n";
  cfg.cmdline = "kernelcore=32M";
  NodeConfig n0;
  n0.range = PhysRange{0, 0x100000000ULL};
  n0.cpus = {0};
  NodeConfig n1;
  n1.range = PhysRange{0x100000000ULL, 0x104000000ULL};
  n1.cpus = {1};
  cfg.nodes = {n0, n1};
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 0u);
  EXPECT_EQ(m.layout().zone_movable_pfn[1], 1048576u);
  EXPECT_EQ(m.zone(1, kZoneNormal).spanned, 0u);
  EXPECT_EQ(m.zone(1, kZoneMovable).spanned, 16384u);
  EXPECT_EQ(m.min_free_kbytes(), 1015);
  const Zone& mov = m.zone(1, kZoneMovable);
  EXPECT_EQ(mov.watermark[kWmarkMin], 32u);
  EXPECT_EQ(mov.watermark[kWmarkLow], 96u);
  EXPECT_EQ(mov.watermark[kWmarkHigh], 160u);
  EXPECT_EQ(m.node_order(1), (std::vector<int>{1, 0}));
  Allocation a = alloc_ok(m, 0, gfp::kKernel, 1);
  EXPECT_EQ(a.nid, 0);
  EXPECT_EQ(a.zone_idx, kZoneDma32);
  Allocation b = alloc_ok(m, 0, gfp::kHighuserMovable, 1);
  EXPECT_EQ(b.nid, 1);
  EXPECT_EQ(b.zone_idx, kZoneMovable);
  MachineStats st = m.stats();
  const auto& d32 = st.nodes[0].zones[kZoneDma32].numa;
  EXPECT_EQ(d32[kNumaHit], 1u);
  EXPECT_EQ(d32[kNumaMiss], 0u);
  EXPECT_EQ(d32[kNumaOther], 1u);
  EXPECT_EQ(st.nodes[1].zones[kZoneMovable].numa[kNumaForeign], 0u);
  EXPECT_EQ(st.nodes[1].zones[kZoneMovable].numa[kNumaLocal], 1u);
  expect_check(m);
}

}  // namespace
}  // namespace memd
