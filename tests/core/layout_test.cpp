// Zone layout, watermarks and protection against real kernels booted under
// qemu (../shared/reference/kernel-6.1/<config>/).
//
// Each test builds the MachineConfig the captured kernel saw: the e820 map it
// logged, its command line, the node ranges qemu gave it (qemu-args, the
// "NUMA: Node ..." and "node N: [mem ...]" dmesg lines), the CPUs per node and
// the SLIT distances, and memblock reservations sized so that every zone's
// managed count equals the kernel's (memd reserves x86's first 1 MiB itself,
// which is exactly what makes DMA's managed 3840).
//
// Layout (start_pfn, spanned, present, managed) is compared with the capture.
// Watermarks and protection are compared with `zoneinfo.recomputed`, which
// re-ran the formulas on the final managed counts (memd has no late frees; see
// reference/README.md). batch and the vm stats threshold depend only on managed
// and the CPU count, identical in 6.1 and 6.18, and are compared too.
//
// Where 6.1 and 6.18 differ the test asserts 6.18 and says so:
//  * an empty ZONE_MOVABLE has min = low = high = promo = 32 in 6.18 (the
//    clamp(managed/1024, SWAP_CLUSTER_MAX, 128) in __setup_per_zone_wmarks also
//    runs for managed 0); 6.1 prints 0.
//  * with a populated ZONE_MOVABLE, 6.18 excludes Movable from lowmem_pages and
//    caps its min to clamp(managed/1024, 32, 128) (§9.2); 6.1 did neither, so
//    every watermark of such a machine differs. The 6.18 values are derived by
//    hand below from min_free_kbytes and the kernel's managed counts.
//  * 6.1's zoneinfo has no "promo" line; promo = high + (low - min) in 6.18
//    (_watermark[PROMO] = high + tmp) and is asserted from that.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "core/gfp.h"
#include "core/machine.h"
#include "tests/core/kernel61.h"
#include "tests/core/machines.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

using test::capture_config;
using test::kGiB;
using test::kMiB;
using test::node;
using test::pages_at;
using test::parse_zoneinfo;
using test::RefZone;

unsigned zone_index(const std::string& name) {
  static const std::map<std::string, unsigned> idx = {{"DMA", test::kZoneDma},
                                                      {"DMA32", test::kZoneDma32},
                                                      {"Normal", test::kZoneNormal},
                                                      {"Movable", test::kZoneMovable},
                                                      {"Device", test::kZoneDevice}};
  return idx.at(name);
}

// 6.18 watermarks for a zone, where they differ from the capture's 6.1 ones.
struct Wmarks {
  uint64_t min, low, high;
};
using Overrides = std::map<std::pair<int, std::string>, Wmarks>;

std::vector<RefZone> capture_zones(const std::string& dir) {
  return parse_zoneinfo(
      test::read_file(test::reference_path("kernel-6.1/" + dir + "/zoneinfo.recomputed")));
}

// Compares every zone of every node with the capture's recomputed snapshot.
void expect_matches_capture(const Machine& m, const std::string& dir, const Overrides& overrides) {
  auto zones = capture_zones(dir);
  ASSERT_FALSE(zones.empty()) << dir;
  MachineStats st = m.stats();
  for (const RefZone& ref : zones) {
    SCOPED_TRACE(dir + " node " + std::to_string(ref.nid) + " zone " + ref.name);
    ASSERT_LT(ref.nid, m.nr_nodes());
    unsigned idx = zone_index(ref.name);
    const Zone& z = m.zone(ref.nid, idx);
    EXPECT_EQ(z.spanned, ref.spanned);
    EXPECT_EQ(z.present, ref.present);
    EXPECT_EQ(z.managed, ref.managed);
    if (ref.present != 0) {
      ASSERT_TRUE(ref.start_pfn.has_value());
      EXPECT_EQ(z.start_pfn, *ref.start_pfn);
    }

    Wmarks want{ref.min, ref.low, ref.high};
    if (auto it = overrides.find({ref.nid, ref.name}); it != overrides.end()) {
      want = it->second;
    } else if (ref.name == "Movable" && ref.managed == 0) {
      // 6.18 differs from 6.1: clamp(0/1024, SWAP_CLUSTER_MAX, 128) = 32 and
      // tmp = max(0 >> 2, 0) = 0, so min = low = high = promo = 32 (6.1: 0).
      want = {32, 32, 32};
    }
    EXPECT_EQ(z.watermark[kWmarkMin], want.min);
    EXPECT_EQ(z.watermark[kWmarkLow], want.low);
    EXPECT_EQ(z.watermark[kWmarkHigh], want.high);
    // _watermark[PROMO] = high + tmp, tmp = low - min (not printed by 6.1).
    EXPECT_EQ(z.watermark[kWmarkPromo], want.high + (want.low - want.min));
    EXPECT_EQ(z.watermark_boost, 0u);

    ASSERT_EQ(ref.protection.size(), size_t{kMaxNrZones});
    for (unsigned j = 0; j < kMaxNrZones; ++j) {
      EXPECT_EQ(z.lowmem_reserve[j], ref.protection[j]) << "protection[" << j << "]";
    }
    if (ref.present != 0) {
      ASSERT_TRUE(ref.batch.has_value());
      EXPECT_EQ(z.pageset_batch, *ref.batch);
      ASSERT_TRUE(ref.threshold.has_value());
      EXPECT_EQ(z.stat_threshold, *ref.threshold);
    }
    // The stats snapshot the renderers use says the same.
    const ZoneStats& zs = st.nodes[ref.nid].zones[idx];
    EXPECT_EQ(zs.managed, ref.managed);
    EXPECT_EQ(zs.watermark[kWmarkMin], want.min);
    EXPECT_EQ(zs.watermark[kWmarkHigh], want.high);
  }
  test::expect_check(m);
}

int capture_min_free_kbytes(const std::string& dir) {
  std::string text =
      test::read_file(test::reference_path("kernel-6.1/" + dir + "/sysctl-vm.recomputed"));
  std::smatch m;
  static const std::regex re(R"(min_free_kbytes = (\d+))");
  if (!std::regex_search(text, m, re)) return -1;
  return std::stoi(m[1]);
}

// ---------------------------------------------------------------------------

TEST(LayoutKernel61, A2G1Node) {
  // qemu -m 2G: one node, all RAM below 4 GiB: [0, 2 GiB).
  MachineConfig cfg = capture_config("a-2G-1node", {node(0, 2 * kGiB, {0, 1})}, 2);
  MEMD_BOOT(m, cfg);
  // THP on: 512 * nr_zones(DMA, DMA32 = 2) * 11 pages = 11264 pages = 45056 KiB.
  EXPECT_EQ(m.min_free_kbytes(), 45056);
  EXPECT_EQ(m.min_free_kbytes(), capture_min_free_kbytes("a-2G-1node"));
  expect_matches_capture(m, "a-2G-1node", {});
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 0u);  // "Movable zone start": none
  EXPECT_EQ(m.node_order(0), (std::vector<int>{0}));
}

TEST(LayoutKernel61, B4G2Nodes) {
  // -numa node,memdev=2G,cpus=0 / 2G,cpus=1. SRAT: node 0 [0, 2G),
  // node 1 [2G, 3G) + [4G, 5G) (qemu's 3 GiB low split steps over the hole).
  MachineConfig cfg = capture_config(
      "b-4G-2nodes", {node(0, 2 * kGiB, {0}, {10, 20}), node(2 * kGiB, 5 * kGiB, {1}, {20, 10})},
      2);
  MEMD_BOOT(m, cfg);
  // 4 populated zones <= Normal (n0 DMA, DMA32; n1 DMA32, Normal): 512*4*11*4 KiB.
  EXPECT_EQ(m.min_free_kbytes(), 90112);
  EXPECT_EQ(m.min_free_kbytes(), capture_min_free_kbytes("b-4G-2nodes"));
  expect_matches_capture(m, "b-4G-2nodes", {});
  // dmesg: "Fallback order for Node 0: 0 1", "Node 1: 1 0".
  EXPECT_EQ(m.node_order(0), (std::vector<int>{0, 1}));
  EXPECT_EQ(m.node_order(1), (std::vector<int>{1, 0}));
}

TEST(LayoutKernel61, C8G4NodesDistances) {
  // 4 x 2G, -smp 4, one CPU per node, SLIT 0-1=20 0-2=30 0-3=40 1-2=20 1-3=30 2-3=20.
  MachineConfig cfg = capture_config(
      "c-8G-4nodes-dist",
      {node(0, 2 * kGiB, {0}, {10, 20, 30, 40}), node(2 * kGiB, 5 * kGiB, {1}, {20, 10, 20, 30}),
       node(5 * kGiB, 7 * kGiB, {2}, {30, 20, 10, 20}),
       node(7 * kGiB, 9 * kGiB, {3}, {40, 30, 20, 10})},
      4);
  MEMD_BOOT(m, cfg);
  // 6 populated zones <= Normal: 512*6*11*4 KiB.
  EXPECT_EQ(m.min_free_kbytes(), 135168);
  EXPECT_EQ(m.min_free_kbytes(), capture_min_free_kbytes("c-8G-4nodes-dist"));
  expect_matches_capture(m, "c-8G-4nodes-dist", {});
  // dmesg "Fallback order for Node N": a distance tie goes to the higher node
  // id because find_next_best_node adds 1 for n < local.
  EXPECT_EQ(m.node_order(0), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(m.node_order(1), (std::vector<int>{1, 2, 0, 3}));
  EXPECT_EQ(m.node_order(2), (std::vector<int>{2, 3, 1, 0}));
  EXPECT_EQ(m.node_order(3), (std::vector<int>{3, 2, 1, 0}));
}

TEST(LayoutKernel61, D4GKernelcore1G) {
  MachineConfig cfg = capture_config("d-4G-kernelcore1G", {node(0, 5 * kGiB, {0, 1})}, 2);
  MEMD_BOOT(m, cfg);
  // dmesg: "Movable zone start for each node / Node 0: 0x0000000100000000".
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 0x100000000ULL >> kPageShift);
  EXPECT_EQ(m.zone(0, test::kZoneMovable).start_pfn, 0x100000000ULL >> kPageShift);
  // nr_zones counts DMA and DMA32 (Normal is empty, Movable is not counted).
  EXPECT_EQ(m.min_free_kbytes(), 45056);
  // 6.18 differs from 6.1 here (Movable excluded from lowmem, Movable min capped):
  //   pages_min = 45056/4 = 11264; lowmem = 3840 + 754602 = 758442.
  //   DMA:   11264*3840/758442 = 57;  tmp = max(57>>2, 3840*10/10000) = 14
  //          -> 57 / 71 / 85.
  //   DMA32: 11264*754602/758442 = 11206; tmp = max(2801, 754) = 2801
  //          -> 11206 / 14007 / 16808.
  //   Movable: min = clamp(243845/1024 = 238, 32, 128) = 128;
  //          tmp = max((11264*243845/758442 = 3621)>>2 = 905, 243) = 905
  //          -> 128 / 1033 / 1938.
  // (6.1: 43/53/63, 8480/10600/12720, 2740/3425/4110.)
  expect_matches_capture(m, "d-4G-kernelcore1G",
                         {{{0, "DMA"}, {57, 71, 85}},
                          {{0, "DMA32"}, {11206, 14007, 16808}},
                          {{0, "Movable"}, {128, 1033, 1938}}});
}

TEST(LayoutKernel61, E2_8GMovablecore1G) {
  MachineConfig cfg = capture_config("e2-8G-movablecore1G", {node(0, 9 * kGiB, {0, 1})}, 2);
  MEMD_BOOT(m, cfg);
  // dmesg: "Node 0: 0x0000000200000000".
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 0x200000000ULL >> kPageShift);
  EXPECT_EQ(m.zone(0, test::kZoneMovable).start_pfn, 0x200000000ULL >> kPageShift);
  EXPECT_EQ(m.min_free_kbytes(), 67584);  // DMA, DMA32, Normal: 512*3*11*4 KiB
  // 6.18 differs from 6.1 (§9.2):
  //   pages_min = 67584/4 = 16896; lowmem = 3840 + 754602 + 1048576 = 1807018.
  //   DMA:    16896*3840/1807018 = 35;   tmp = max(8, 3) = 8         -> 35 / 43 / 51
  //   DMA32:  16896*754602/1807018 = 7055; tmp = max(1763, 754)=1763 -> 7055 / 8818 / 10581
  //   Normal: 16896*1048576/1807018 = 9804; tmp = max(2451, 1048)   -> 9804 / 12255 / 14706
  //   Movable: min = clamp(225925/1024 = 220, 32, 128) = 128;
  //           tmp = max((16896*225925/1807018 = 2112)>>2 = 528, 225) -> 128 / 656 / 1184
  // (6.1: 31/38/45, 6271/7838/9405, 8714/10892/13070, 1877/2346/2815.)
  expect_matches_capture(m, "e2-8G-movablecore1G",
                         {{{0, "DMA"}, {35, 43, 51}},
                          {{0, "DMA32"}, {7055, 8818, 10581}},
                          {{0, "Normal"}, {9804, 12255, 14706}},
                          {{0, "Movable"}, {128, 656, 1184}}});
}

TEST(LayoutKernel61, G8G2NodesKernelcore2G) {
  // SRAT: node 0 [0, 3G) + [4G, 5G), node 1 [5G, 9G).
  MachineConfig cfg = capture_config(
      "g-8G-2nodes-kernelcore2G",
      {node(0, 5 * kGiB, {0}, {10, 20}), node(5 * kGiB, 9 * kGiB, {1}, {20, 10})}, 2);
  MEMD_BOOT(m, cfg);
  // dmesg: "Node 0: 0x0000000100000000", "Node 1: 0x0000000140000000":
  // node 1 is entirely ZONE_MOVABLE.
  EXPECT_EQ(m.layout().zone_movable_pfn[0], 0x100000000ULL >> kPageShift);
  EXPECT_EQ(m.layout().zone_movable_pfn[1], 0x140000000ULL >> kPageShift);
  EXPECT_EQ(m.zone(0, test::kZoneMovable).start_pfn, 0x100000000ULL >> kPageShift);
  EXPECT_EQ(m.zone(1, test::kZoneMovable).start_pfn, 0x140000000ULL >> kPageShift);
  EXPECT_EQ(m.min_free_kbytes(), 45056);  // DMA, DMA32
  // 6.18 differs from 6.1 (§9.2):
  //   pages_min = 11264; lowmem = 3840 + 754602 = 758442 (both Movable zones excluded).
  //   n0 DMA:   57 / 71 / 85 and n0 DMA32: 11206 / 14007 / 16808 (as in d above).
  //   n0 Movable: min = clamp(245651/1024 = 239, 32, 128) = 128;
  //              tmp = max((11264*245651/758442 = 3648)>>2 = 912, 245) -> 128 / 1040 / 1952
  //   n1 Movable: min = clamp(1031878/1024 = 1007, 32, 128) = 128;
  //              tmp = max((11264*1031878/758442 = 15324)>>2 = 3831, 1031) -> 128 / 3959 / 7790
  // (6.1: 21/26/31, 4174/5217/6260, 1359/1698/2037, 5708/7135/8562.)
  expect_matches_capture(m, "g-8G-2nodes-kernelcore2G",
                         {{{0, "DMA"}, {57, 71, 85}},
                          {{0, "DMA32"}, {11206, 14007, 16808}},
                          {{0, "Movable"}, {128, 1040, 1952}},
                          {{1, "Movable"}, {128, 3959, 7790}}});
  EXPECT_EQ(m.node_order(0), (std::vector<int>{0, 1}));
  EXPECT_EQ(m.node_order(1), (std::vector<int>{1, 0}));
}

TEST(LayoutKernel61, I4_4GThpNever) {
  MachineConfig cfg = capture_config("i4-4G-thp-never", {node(0, 5 * kGiB, {0, 1})}, 2);
  MEMD_BOOT(m, cfg);
  // THP off (transparent_hugepage=never), >= 512 MiB: calculate_min_free_kbytes
  // runs twice (init_per_zone_wmark_min, then set_recommended_min_free_kbytes
  // from start_stop_khugepaged). On memd's final managed counts:
  //   run 1: int_sqrt((3840 + 754602 + 243845) * 4 * 16) = int_sqrt(64146368) = 8009,
  //          giving high watermarks 13 / 3015 / 973;
  //   run 2: int_sqrt((1002287 - 13 - 3015 - 973) * 4 * 16) = int_sqrt(63890304) = 7993.
  // The kernel printed 7984 because it ran both before freeing its initrd and
  // init sections (2254 pages fewer in DMA32: 8000, then 7984); §15.1 makes memd
  // use its own final counts. The same formulas on 752348 reproduce 7984.
  EXPECT_EQ(m.min_free_kbytes(), 7993);
  // To compare the watermarks with the capture, pin min_free_kbytes to the
  // kernel's value, as the capture's recompute step did implicitly.
  test::set_sysctl_ok(m, "min_free_kbytes", "7984");
  EXPECT_EQ(m.min_free_kbytes(), 7984);
  expect_matches_capture(m, "i4-4G-thp-never", {});
}

TEST(LayoutKernel61, O512M1Node) {
  MachineConfig cfg = capture_config("o-512M-1node", {node(0, 512 * kMiB, {0, 1})}, 2);
  MEMD_BOOT(m, cfg);
  // totalram < 512 MiB: hugepage_init() returns before start_stop_khugepaged(),
  // so calculate_min_free_kbytes runs once, in init_per_zone_wmark_min. On
  // memd's final managed counts: int_sqrt((3840 + 113202) * 4 * 16) =
  // int_sqrt(7490688) = 2736. The kernel's 2710 is the same single run on the
  // boot-time counts (DMA32 113202 - 2254 = 110948: int_sqrt(7346432) = 2710),
  // which confirms one run. §15.1: memd uses its final counts.
  EXPECT_EQ(m.min_free_kbytes(), 2736);
  test::set_sysctl_ok(m, "min_free_kbytes", "2710");
  expect_matches_capture(m, "o-512M-1node", {});
}

// memd emulates physical memory up to 16 TiB minus one page: pfns are 32
// bits in a 12-byte frame, and pfn 0xffffffff is the end-of-list sentinel
// (kNilPfn, core/memmap.h). A map that reaches that page is refused with a
// message saying so; in the kernel it would be an ordinary page.
TEST(Layout, LastPfnBelow16TiBIsRefusedClearly) {
  auto m = Machine::boot(test::machines::low_64m_plus(
      "BIOS-e820: [mem 0x00000ffffffff000-0x00000fffffffffff] usable\n"));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(
      m.error().message,
      "memory above 0xfffffffefff is not supported: memd emulates up to 16 TiB minus one page");
}

// The page below the limit is an ordinary page. __free_pages_memory frees
// the lone page at order 0 (ffs of an odd pfn); its block starts in a hole,
// so memmap_init_range never typed it: MIGRATE_UNMOVABLE, the only entry of
// Normal's order-0 Unmovable list. GFP_KERNEL order 0 from CPU 0: preferred
// zone Normal (managed 1, all watermarks 0): zone_watermark_fast(order 0,
// high 0) passes; the pcp refill (batch 1) takes the page.
TEST(Layout, PfnBelowTheLimitIsAnOrdinaryPage) {
  MEMD_BOOT(m, test::machines::low_64m_plus(
                   "BIOS-e820: [mem 0x00000fffffffe000-0x00000fffffffefff] usable\n"));
  const Zone& normal = m.zone(0, test::kZoneNormal);
  ASSERT_EQ(normal.managed, 1u);
  EXPECT_EQ(test::free_list(normal, 0, kUnmovable), (std::vector<Pfn>{0xfffffffeULL}));
  Allocation a = test::alloc_ok(m, 0, gfp::kKernel);
  EXPECT_EQ(a.pfn, 0xfffffffeULL);
  EXPECT_EQ(a.zone_idx, test::kZoneNormal);
  EXPECT_TRUE(m.find_id(a.id).has_value());
  test::expect_check(m);
}

// Overlapping e820 entries: e820__update_table() gives every change point the
// highest overlapping type ("if (overlap_list[i]->type > current_type)
// current_type = ..."), and E820_TYPE_RAM (1) is the lowest, so reserved
// wins. RAM here is [4K, 0x9f000) and [1M, 48M): the last memory pfn is
// 0x3000 = 12288.
TEST(Layout, E820OverlapReservedWins) {
  MEMD_BOOT(m, test::machines::low_64m_plus(
                   "BIOS-e820: [mem 0x0000000003000000-0x0000000003ffffff] reserved\n"));
  EXPECT_EQ(m.layout().memory.back().end, 12288u);
  EXPECT_EQ(m.zone(0, test::kZoneDma32).end_pfn(), 12288u);
}

}  // namespace
}  // namespace memd
