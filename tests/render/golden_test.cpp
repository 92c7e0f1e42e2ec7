// Exact bytes of every file for small machines in known states, against the
// files in tests/golden/. Each golden file was generated once and then read
// line by line against the kernel's format strings (mm/vmstat.c,
// fs/proc/meminfo.c, mm/hugetlb.c, arch/x86/mm/pat/set_memory.c) and the
// values derived by hand in the comments below; a change in them is a change
// in behaviour that needs the same review.
//
// MEMD_UPDATE_GOLDEN=1 rewrites the files instead of comparing (then review
// the diff by hand before committing it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/core/machines.h"
#include "tests/render/render_test_util.h"

namespace memd {
namespace {

using test::kMiB;
using test::split_lines;

std::string golden_path(const std::string& name) {
  return std::string(MEMD_GOLDEN_DIR) + "/" + name;
}

void expect_golden(const std::string& name, const std::string& text) {
  const std::string path = golden_path(name);
  if (const char* u = std::getenv("MEMD_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::ofstream(path, std::ios::binary) << text;
    GTEST_SKIP() << "rewrote " << path;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in.good()) << "missing golden file " << path;
  const std::string want = test::read_file(path);
  if (text == want) return;
  auto a = split_lines(text), b = split_lines(want);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    std::string x = i < a.size() ? a[i] : "<end>", y = i < b.size() ? b[i] : "<end>";
    if (x != y) {
      ADD_FAILURE() << name << " line " << i + 1 << "\n  memd:   '" << x << "'\n  golden: '" << y
                    << "'";
      return;
    }
  }
  ADD_FAILURE() << name << ": differs in its final newline";
}

void expect_all_golden(const std::string& prefix, const MachineStats& s) {
  for (ProcFile f : kStatsFiles)
    expect_golden(prefix + "." + std::string(proc_file_name(f)), render(f, s));
}

// 64 MiB laid out as qemu's pc machine (linux-mm.md §15.1), one CPU: memory
// pfns [1, 0x9f) and [0x100, 0x3fe0); DMA pfn 1..4095 (spanned 4095, present
// 3998, managed 3840: the first MiB is reserved), DMA32 4096..16351 (12256).
MachineConfig pc64m(int cpus) {
  MachineConfig cfg;
  cfg.size = 64 * kMiB;
  cfg.cpus = cpus;
  return cfg;
}

// Checked by hand in pc64m-boot.*:
//  * buddyinfo: "Node %d, zone %8s " + 11 x "%6lu " + '\n', trailing space.
//    DMA: o8@256 o9@512 o10@1024,2048,3072. DMA32 boot-freed from 4096 in
//    ascending aligned chunks: 11 x o10 up to 15360, then o9 o8 o7 o6 o5 up
//    to 16352.
//  * pagetypeinfo: the two header lines, blank, "%-43s " header and "%6d "
//    orders; "Node %4d, zone %8s, type %12s " rows; "\n%-23s" + "%12s "
//    block header and "Node %d, zone %8s " + "%12lu " rows. DMA's block 0
//    starts at pfn 0, a hole, so stays Unmovable and holds the o8 (§6.4);
//    1 + 7 DMA blocks, 24 DMA32 blocks (4096 + 23 x 512 < 16352).
//  * zoneinfo: all 5 zones; per-node stats (51 items, "%-12s %lu") under DMA.
//    RAM < 512 MiB turns THP off before khugepaged starts, so
//    min_free_kbytes is the first int_sqrt(16096 x 4 x 16) = 1014 (pages_min
//    253): DMA min 253x3840/16096 = 60, tmp max(15, 3) -> 60/75/90/105;
//    DMA32 253x12256/16096 = 192, tmp max(48, 12) -> 192/240/288/336;
//    Movable empty: 32 x 4; Normal, Device 0. Protection DMA 12256/256 = 47.
//    batch: min(managed>>10, 256)/4 < 1 -> 1 -> rounddown_pow2(1)-1 = 0 ->
//    max(1, 0) = 1 (DMA 3, DMA32 11>>2 = 2 -> rounddown_pow2(3)-1 = 1);
//    high_min = low / 1 CPU; high_max = managed/8: 480, 1532; high 0 (never
//    used). Threshold 2*fls(1)*(1+fls(managed>>15 = 0)) = 2.
//  * vmstat: the 6.18 list; nr_free_pages 16096, blocks 3584 + 11776,
//    pgfree 16096 (boot frees); totalreserve min(3840, 47+90) + 288 = 425;
//    dirtyable 16096-425+1 = 15672: 819x15672/4096 = 3133, 409x.../4096 =
//    1564; nr_memmap_boot_pages 512 (one section).
//  * meminfo: "%8lu kB" columns; 64384 kB; MemAvailable (16096-425) x 4 =
//    62684; CommitLimit 16096/2 x 4 = 32192; DirectMap: ISA 256 x 4k; top-down
//    from 15872 (the top 2 MiB-aligned block): [15360, 15872) 2M, then
//    [256, 512) 4k and [512, 15360) 29 x 2M, then [15872, 16352) 480 x 4k ->
//    3968 kB 4k, 61440 kB 2M, 0 kB 1G; then the boot's 8 + 2 x 1 node
//    splits (direct_map.h): 10 x 2048 kB move to 4k, 24448 and 40960 kB.
//  * extfrag_index "%2d.%03d ": every order has a suitable block -> -1.000.
//    unusable_index "%d.%03d ": DMA o9 (3840-7x512)x1000/3840 = 66, o10 200;
//    DMA32 o6 (12256-191x64)x1000/12256 = 2 ... o10 (12256-11264)x1000/12256 = 80.
TEST(RenderGolden, Pc64MAfterBoot) {
  MEMD_BOOT(m, pc64m(1));
  expect_all_golden("pc64m-boot", m.stats());
}

// Checked by hand in pc64m-allocs.*, from the boot state above, all on CPU 0:
//  (a) GFP_KERNEL o0: DMA32 is the preferred zone (Normal is empty), no
//      Unmovable pages: claim of the o10 at 4096 (both blocks -> Unmovable,
//      remainders 4097 o0 ... 4608 o9 on Unmovable lists); pcp high 0 ->
//      clamp 240 -> +1 = 241, alloc_factor 1, batch 1: pfn 4096.
//  (b) GFP_KERNEL o0: batch 1<<1 = 2 (high 243): 4097, then 4098 (o1, split:
//      4099 back as o0); 4097 handed out, 4098 stays on the pcp.
//  (c) GFP_KERNEL o3: batch 1 (high 244): 4104.
//  (d) GFP_HIGHUSER_MOVABLE o0: batch 1<<2 = 4 (high 248): the o5 at 16320
//      split -> 16320, 16321, 16322 (o1, 16323 back), 16323; 16320 handed out.
//  (e) GFP_KERNEL|__GFP_DMA o0: DMA's o8 at 256 (Unmovable block 0) split;
//      DMA pcp high 75+1 = 76.
//  (f) free of 4104 (o3) on CPU 0: onto the pcp (count 1 + 3 + 8 = 12,
//      below high), pgfree += 8.
//  Result: DMA free 3839 (o0..o7 one each on Unmovable, o9 1, o10 3); DMA32
//  free 12241 = 12256 - 3 - 8 - 4: o0 4099; o2 4100, 16324; o3 16328; o4
//  4112, 16336; o5 4128; o6 4160, 16256; o7 4224, 16128; o8 4352, 15872; o9
//  4608, 15360; o10 x 10. Blocks DMA32 2 Unmovable + 22 Movable.
//  pgalloc_dma 1, pgalloc_dma32 1+1+8+1 = 11, numa_hit/local 1 + 4,
//  pgfree 16104, nr_free_pages_blocks 3584 + 11264; dirtyable 16080-425+1 =
//  15656 -> 3130 / 1563; MemFree 64320, MemAvailable 62620.
//  unusable_index DMA o3: (3839 - 479x8)x1000/3839 = 1, o10 767000/3839 = 199.
TEST(RenderGolden, Pc64MAfterAllocations) {
  MEMD_BOOT(m, pc64m(1));
  const Gfp kernel = *parse_gfp("GFP_KERNEL");
  EXPECT_EQ(test::alloc_ok(m, 0, kernel).pfn, 4096u);
  EXPECT_EQ(test::alloc_ok(m, 0, kernel).pfn, 4097u);
  EXPECT_EQ(test::alloc_ok(m, 3, kernel).pfn, 4104u);
  EXPECT_EQ(test::alloc_ok(m, 0, *parse_gfp("GFP_HIGHUSER_MOVABLE")).pfn, 16320u);
  EXPECT_EQ(test::alloc_ok(m, 0, *parse_gfp("GFP_KERNEL|__GFP_DMA")).pfn, 256u);
  test::free_ok(m, 4104);
  expect_all_golden("pc64m-allocs", m.stats());
}

// Checked by hand in memoryless.*: node 0 has the 64 MiB and CPU 0; node 1
// has CPU 1 and no memory (x86 brings a CPU's node online,
// init_cpu_to_node, so zoneinfo_show walks it).
//  * zoneinfo: node 1 prints its 5 zones in the short form (header, pages
//    free .. protection, '\n'), no per-node stats (is_zone_first_populated
//    finds no populated zone), Movable min/low/high/promo 32 (the clamp runs
//    for managed 0) and 0 elsewhere, protection all 0 (managed 0 clears).
//    Node 0's zones list pagesets for both online CPUs; high_min divides low
//    by the 1 CPU of node 0; the threshold is 2*fls(2)*1 = 4.
//  * buddyinfo, extfrag_index: node 1 has no populated zone: no lines.
//    pagetypeinfo, unusable_index: node 1 is not N_MEMORY: nothing at all.
//  * the GFP_KERNEL o0 allocation on CPU 1: the zonelist of node 1 starts
//    at node 0's DMA32; numa_hit (same node as the preferred zone) and
//    numa_other (CPU 1's node is not the zone's node); CPU 1's pcp high 241.
TEST(RenderGolden, MemorylessNode) {
  MEMD_BOOT(m, test::machines::memoryless_64m());
  Allocation a = test::alloc_ok(m, 0, *parse_gfp("GFP_KERNEL"), /*cpu=*/1);
  EXPECT_EQ(a.pfn, 4096u);
  EXPECT_EQ(a.nid, 0);
  expect_all_golden("memoryless", m.stats());
}

}  // namespace
}  // namespace memd
