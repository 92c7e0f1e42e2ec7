// show_mem() (core/show_mem.h): the kernel's __show_mem() report, byte for
// byte. Every line's format is mm/show_mem.c's (6.18), the hugetlb lines
// mm/hugetlb.c hugetlb_show_meminfo_node(), the swap lines mm/swap_state.c
// show_swap_cache_info(); every number is derived in the comments from the
// kernel's formulas and matches memd's zoneinfo and buddyinfo of the same
// state (tests/golden/, tests/core/buddy_test.cpp's machine notes).
#include "core/show_mem.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "core/gfp.h"
#include "core/machine.h"
#include "tests/core/machines.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

namespace machines = test::machines;

// The lines as dmesg prints them: each after the zero timestamp.
std::string stamped(std::string_view lines) {
  std::string out;
  while (!lines.empty()) {
    const size_t nl = lines.find('\n');
    out += "[    0.000000] ";
    out += lines.substr(0, nl);
    out += '\n';
    if (nl == std::string_view::npos) break;
    lines.remove_prefix(nl + 1);
  }
  return out;
}

unsigned zone_of(const char* gfp, Arch arch = Arch::kX86_64) {
  return static_cast<unsigned>(gfp_zone(*parse_gfp(gfp), arch));
}

std::string show(const MachineStats& s, unsigned max_zone_idx, int cpu, bool numa) {
  KernelLog log;
  show_mem(s, max_zone_idx, cpu, numa, &log);
  return log.dmesg();
}

// 64 MiB qemu pc, 1 CPU (DMA [1, 4096) present 3998 managed 3840, DMA32
// [4096, 16352) 12256; min/low/high DMA 60/75/90, DMA32 192/240/288;
// protection DMA (0, 47, 47, 47, 47)), in tests/golden/pc64m-allocs.*'s
// state: DMA free 3839 (o0..o7 one each Unmovable, o9 1 and o10 3 Movable),
// DMA32 free 12241 with 12 pages on CPU 0's pcp and ten Movable o10 blocks.
// Then GFP_HIGHUSER_MOVABLE order-10 requests until one fails: the ten
// DMA32 blocks (free 12241 - 1023 stays above low 240), then DMA's three
// (3839 - 2048 - 1023 = 768 > low 75 + protection 47), then none is left.
void pc64m_until_order10_fails(Machine& m) {
  const Gfp kernel = *parse_gfp("GFP_KERNEL");
  const Gfp movable = *parse_gfp("GFP_HIGHUSER_MOVABLE");
  EXPECT_EQ(test::alloc_ok(m, 0, kernel).pfn, 4096u);
  EXPECT_EQ(test::alloc_ok(m, 0, kernel).pfn, 4097u);
  EXPECT_EQ(test::alloc_ok(m, 3, kernel).pfn, 4104u);
  EXPECT_EQ(test::alloc_ok(m, 0, movable).pfn, 16320u);
  EXPECT_EQ(test::alloc_ok(m, 0, *parse_gfp("GFP_KERNEL|__GFP_DMA")).pfn, 256u);
  test::free_ok(m, 4104);
  for (int i = 0; i < 13; ++i) {
    EXPECT_EQ(test::alloc_ok(m, 10, movable).zone_idx, i < 10 ? test::kZoneDma32 : test::kZoneDma);
  }
  EXPECT_FALSE(test::try_alloc(m, 10, movable).ok());
}

// After the failure: DMA free 3839 - 3 x 1024 = 767 (o0..o7 U, o9 M) =
// 3068 kB; DMA32 free 12241 - 10 x 1024 = 2001 = 8004 kB, its lists (from
// pagetypeinfo): o0 U, o2 U+M, o3 M, o4 U+M, o5 U, o6..o9 U+M. free 767 +
// 2001 = 2768; free_pcp 12 (DMA32, CPU 0). Watermarks and sizes x 4 kB.
// The x86_64 CPU has GBPAGES, so two hstates, 1 GiB first. RAM 3998 + 12256
// = 16254 pages, reserved 3998 - 3840 = 158, no HighMem on x86_64.
TEST(ShowMem, Pc64mAfterOrder10Failure) {
  MEMD_BOOT(m, machines::pc_64m());
  pc64m_until_order10_fails(m);
  EXPECT_EQ(show(m.stats(), zone_of("GFP_HIGHUSER_MOVABLE"), 0, true), stamped(R"(Mem-Info:
active_anon:0 inactive_anon:0 isolated_anon:0
 active_file:0 inactive_file:0 isolated_file:0
 unevictable:0 dirty:0 writeback:0
 slab_reclaimable:0 slab_unreclaimable:0
 mapped:0 shmem:0 pagetables:0
 sec_pagetables:0 bounce:0
 kernel_misc_reclaimable:0
 free:2768 free_pcp:12 free_cma:0
Node 0 active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB writeback:0kB shmem:0kB shmem_thp:0kB shmem_pmdmapped:0kB anon_thp:0kB kernel_stack:0kB pagetables:0kB sec_pagetables:0kB all_unreclaimable? no Balloon:0kB
Node 0 DMA free:3068kB boost:0kB min:240kB low:300kB high:360kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 47 47 47 47
Node 0 DMA32 free:8004kB boost:0kB min:768kB low:960kB high:1152kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:49024kB managed:49024kB mlocked:0kB bounce:0kB free_pcp:48kB local_pcp:48kB free_cma:0kB
lowmem_reserve[]: 0 0 0 0 0
Node 0 DMA: 1*4kB (U) 1*8kB (U) 1*16kB (U) 1*32kB (U) 1*64kB (U) 1*128kB (U) 1*256kB (U) 1*512kB (U) 0*1024kB 1*2048kB (M) 0*4096kB = 3068kB
Node 0 DMA32: 1*4kB (U) 0*8kB 2*16kB (UM) 1*32kB (M) 2*64kB (UM) 1*128kB (U) 2*256kB (UM) 2*512kB (UM) 2*1024kB (UM) 2*2048kB (UM) 0*4096kB = 8004kB
Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=1048576kB
Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB
0 total pagecache pages
0 pages in swap cache
Free swap  = 0kB
Total swap = 0kB
16254 pages RAM
0 pages HighMem/MovableOnly
158 pages reserved
0 pages hwpoisoned)"));
}

// GFP_DMA (gfp_zone 0): only DMA's zone and free-list lines; free_pcp
// counts DMA's pcp alone (0), free stays global; the totals are all zones'.
TEST(ShowMem, Pc64mGfpDmaShowsDmaOnly) {
  MEMD_BOOT(m, machines::pc_64m());
  pc64m_until_order10_fails(m);
  EXPECT_EQ(show(m.stats(), zone_of("GFP_DMA"), 0, true), stamped(R"(Mem-Info:
active_anon:0 inactive_anon:0 isolated_anon:0
 active_file:0 inactive_file:0 isolated_file:0
 unevictable:0 dirty:0 writeback:0
 slab_reclaimable:0 slab_unreclaimable:0
 mapped:0 shmem:0 pagetables:0
 sec_pagetables:0 bounce:0
 kernel_misc_reclaimable:0
 free:2768 free_pcp:0 free_cma:0
Node 0 active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB writeback:0kB shmem:0kB shmem_thp:0kB shmem_pmdmapped:0kB anon_thp:0kB kernel_stack:0kB pagetables:0kB sec_pagetables:0kB all_unreclaimable? no Balloon:0kB
Node 0 DMA free:3068kB boost:0kB min:240kB low:300kB high:360kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 47 47 47 47
Node 0 DMA: 1*4kB (U) 1*8kB (U) 1*16kB (U) 1*32kB (U) 1*64kB (U) 1*128kB (U) 1*256kB (U) 1*512kB (U) 0*1024kB 1*2048kB (M) 0*4096kB = 3068kB
Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=1048576kB
Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB
0 total pagecache pages
0 pages in swap cache
Free swap  = 0kB
Total swap = 0kB
16254 pages RAM
0 pages HighMem/MovableOnly
158 pages reserved
0 pages hwpoisoned)"));
}

// 64 MiB low and 64 MiB above 4 GiB, at boot (buddy_test.cpp's MN): DMA
// 3840 managed (o8 U, o9 M, 3 x o10 M), DMA32 12288 (12 x o10), Normal
// 16384 (16 x o10); min/low/high DMA 42/52/62, DMA32 136/170/204, Normal
// 181/226/271; protection DMA (0, 48, 112, 112, 112), DMA32 (0, 0, 64, 64,
// 64). GFP_DMA32 (gfp_zone 1) leaves Normal's lines out, GFP_HIGHUSER_MOVABLE
// (3) shows them. free 32512 and RAM 32670 in both.
constexpr std::string_view kNormal64mHead = R"(Mem-Info:
active_anon:0 inactive_anon:0 isolated_anon:0
 active_file:0 inactive_file:0 isolated_file:0
 unevictable:0 dirty:0 writeback:0
 slab_reclaimable:0 slab_unreclaimable:0
 mapped:0 shmem:0 pagetables:0
 sec_pagetables:0 bounce:0
 kernel_misc_reclaimable:0
 free:32512 free_pcp:0 free_cma:0
Node 0 active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB writeback:0kB shmem:0kB shmem_thp:0kB shmem_pmdmapped:0kB anon_thp:0kB kernel_stack:0kB pagetables:0kB sec_pagetables:0kB all_unreclaimable? no Balloon:0kB
Node 0 DMA free:15360kB boost:0kB min:168kB low:208kB high:248kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 48 112 112 112
Node 0 DMA32 free:49152kB boost:0kB min:544kB low:680kB high:816kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:49152kB managed:49152kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 0 64 64 64
)";
constexpr std::string_view kNormal64mNormalZone =
    R"(Node 0 Normal free:65536kB boost:0kB min:724kB low:904kB high:1084kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:65536kB managed:65536kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 0 0 0 0
)";
constexpr std::string_view kNormal64mLowLists =
    R"(Node 0 DMA: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 1*1024kB (U) 1*2048kB (M) 3*4096kB (M) = 15360kB
Node 0 DMA32: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 0*1024kB 0*2048kB 12*4096kB (M) = 49152kB
)";
constexpr std::string_view kNormal64mNormalList =
    R"(Node 0 Normal: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 0*1024kB 0*2048kB 16*4096kB (M) = 65536kB
)";
constexpr std::string_view kNormal64mTail =
    R"(Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=1048576kB
Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB
0 total pagecache pages
0 pages in swap cache
Free swap  = 0kB
Total swap = 0kB
32670 pages RAM
0 pages HighMem/MovableOnly
158 pages reserved
0 pages hwpoisoned)";

TEST(ShowMem, ZonesAboveGfpZoneLeftOut) {
  MEMD_BOOT(m, machines::normal_64m());
  const MachineStats s = m.stats();
  EXPECT_EQ(show(s, zone_of("GFP_DMA32"), 0, true),
            stamped(std::string(kNormal64mHead) + std::string(kNormal64mLowLists) +
                    std::string(kNormal64mTail)));
  EXPECT_EQ(show(s, zone_of("GFP_HIGHUSER_MOVABLE"), 0, true),
            stamped(std::string(kNormal64mHead) + std::string(kNormal64mNormalZone) +
                    std::string(kNormal64mLowLists) + std::string(kNormal64mNormalList) +
                    std::string(kNormal64mTail)));
}

// tests/golden/memoryless.*'s machine: node 0 has the 64 MiB and CPU 0,
// node 1 CPU 1 and no memory. Two GFP_KERNEL o0 on CPU 1 (the first claims
// DMA32's o10 at 4096 for Unmovable and takes 4096; the second, batch 2,
// takes 4097 and splits 4098's o1, keeping 4098 on CPU 1's pcp, 4099 back).
// Node 1 is not in N_MEMORY, so show_mem_node_skip() drops its node and
// hugetlb lines. Reported from CPU 0: local_pcp 0 while free_pcp counts CPU
// 1's page. DMA free 3840 (o8 U, o9 M, 3 x o10 M); DMA32 12256 - 3 = 12253
// = 49012 kB: o0 4099 U, o2..o4 U (4100, 4104, 4112), o5..o9 U (4128 ...
// 4608) and M (16320 ... 15360, boot's tail), 10 x o10 M.
TEST(ShowMem, MemorylessNodeLeftOut) {
  MEMD_BOOT(m, machines::memoryless_64m());
  const Gfp kernel = *parse_gfp("GFP_KERNEL");
  EXPECT_EQ(test::alloc_ok(m, 0, kernel, /*cpu=*/1).pfn, 4096u);
  EXPECT_EQ(test::alloc_ok(m, 0, kernel, /*cpu=*/1).pfn, 4097u);
  EXPECT_EQ(show(m.stats(), zone_of("GFP_KERNEL"), 0, true), stamped(R"(Mem-Info:
active_anon:0 inactive_anon:0 isolated_anon:0
 active_file:0 inactive_file:0 isolated_file:0
 unevictable:0 dirty:0 writeback:0
 slab_reclaimable:0 slab_unreclaimable:0
 mapped:0 shmem:0 pagetables:0
 sec_pagetables:0 bounce:0
 kernel_misc_reclaimable:0
 free:16093 free_pcp:1 free_cma:0
Node 0 active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB writeback:0kB shmem:0kB shmem_thp:0kB shmem_pmdmapped:0kB anon_thp:0kB kernel_stack:0kB pagetables:0kB sec_pagetables:0kB all_unreclaimable? no Balloon:0kB
Node 0 DMA free:15360kB boost:0kB min:240kB low:300kB high:360kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 47 47 47 47
Node 0 DMA32 free:49012kB boost:0kB min:768kB low:960kB high:1152kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:49024kB managed:49024kB mlocked:0kB bounce:0kB free_pcp:4kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 0 0 0 0
Node 0 DMA: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 1*1024kB (U) 1*2048kB (M) 3*4096kB (M) = 15360kB
Node 0 DMA32: 1*4kB (U) 0*8kB 1*16kB (U) 1*32kB (U) 1*64kB (U) 2*128kB (UM) 2*256kB (UM) 2*512kB (UM) 2*1024kB (UM) 2*2048kB (UM) 10*4096kB (M) = 49012kB
Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=1048576kB
Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB
0 total pagecache pages
0 pages in swap cache
Free swap  = 0kB
Total swap = 0kB
16254 pages RAM
0 pages HighMem/MovableOnly
158 pages reserved
0 pages hwpoisoned)"));
}

// i386, 1 GiB, at boot: no CONFIG_NUMA, so no "Node 0 " before the zone and
// free-list lines (the node and hugetlb lines print it themselves); no THP
// fields; four zone types in lowmem_reserve[]; one 2 MiB hstate (PAE).
// DMA [1, 4096) 3998/3840; Normal [4096, 229376) 225280 (220 x o10);
// HighMem [229376, 262112) 32736 (o5..o9 and 31 x o10, boot's aligned
// chunks); min/low/high DMA 16/20/24, Normal 940/1175/1410, HighMem
// 32/66/100; protection DMA (0, 880, 1007, 1007), Normal (0, 0, 1023, 1023).
// RAM 3998 + 225280 + 32736 = 262014; HighMem 32736; reserved 158.
TEST(ShowMem, I386WithoutNodePrefix) {
  MEMD_BOOT(m, machines::i386_1g());
  EXPECT_EQ(show(m.stats(), zone_of("GFP_HIGHUSER_MOVABLE", Arch::kI386), 0, false),
            stamped(R"(Mem-Info:
active_anon:0 inactive_anon:0 isolated_anon:0
 active_file:0 inactive_file:0 isolated_file:0
 unevictable:0 dirty:0 writeback:0
 slab_reclaimable:0 slab_unreclaimable:0
 mapped:0 shmem:0 pagetables:0
 sec_pagetables:0 bounce:0
 kernel_misc_reclaimable:0
 free:261856 free_pcp:0 free_cma:0
Node 0 active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB isolated(anon):0kB isolated(file):0kB mapped:0kB dirty:0kB writeback:0kB shmem:0kB kernel_stack:0kB pagetables:0kB sec_pagetables:0kB all_unreclaimable? no Balloon:0kB
DMA free:15360kB boost:0kB min:64kB low:80kB high:96kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:15992kB managed:15360kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 880 1007 1007
Normal free:901120kB boost:0kB min:3760kB low:4700kB high:5640kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:901120kB managed:901120kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 0 1023 1023
HighMem free:130944kB boost:0kB min:128kB low:264kB high:400kB reserved_highatomic:0KB free_highatomic:0KB active_anon:0kB inactive_anon:0kB active_file:0kB inactive_file:0kB unevictable:0kB writepending:0kB zspages:0kB present:130944kB managed:130944kB mlocked:0kB bounce:0kB free_pcp:0kB local_pcp:0kB free_cma:0kB
lowmem_reserve[]: 0 0 0 0
DMA: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 1*1024kB (U) 1*2048kB (M) 3*4096kB (M) = 15360kB
Normal: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 0*128kB 0*256kB 0*512kB 0*1024kB 0*2048kB 220*4096kB (M) = 901120kB
HighMem: 0*4kB 0*8kB 0*16kB 0*32kB 0*64kB 1*128kB (M) 1*256kB (M) 1*512kB (M) 1*1024kB (M) 1*2048kB (M) 31*4096kB (M) = 130944kB
Node 0 hugepages_total=0 hugepages_free=0 hugepages_surp=0 hugepages_size=2048kB
0 total pagecache pages
0 pages in swap cache
Free swap  = 0kB
Total swap = 0kB
262014 pages RAM
32736 pages HighMem/MovableOnly
158 pages reserved
0 pages hwpoisoned)"));
}

// The record of `log` that ends with `suffix`, or "" when none does.
std::string record_ending(const KernelLog& log, std::string_view suffix) {
  for (const KernelLog::Record& r : log.records()) {
    if (r.text.ends_with(suffix)) return r.text;
  }
  return "";
}

// is_highmem() counts ZONE_MOVABLE only when movable_zone is ZONE_HIGHMEM
// (include/linux/mmzone.h is_highmem_idx, CONFIG_HIGHMEM). i386 with
// movablecore=64M: ZONE_MOVABLE is carved from HighMem's top (HighMem 16384
// + Movable 16352 pages), and both count: 32736. x86_64 has no
// CONFIG_HIGHMEM: its 65504-page Movable zone counts nothing.
TEST(ShowMem, MovableCountsAsHighMemOnlyOnI386) {
  MachineConfig i386 = machines::i386_1g();
  i386.cmdline = "movablecore=64M";
  MEMD_BOOT(m32, i386);
  KernelLog log32;
  show_mem(m32.stats(), zone_of("GFP_HIGHUSER_MOVABLE", Arch::kI386), 0, false, &log32);
  EXPECT_EQ(record_ending(log32, " pages HighMem/MovableOnly"), "32736 pages HighMem/MovableOnly");
  EXPECT_EQ(record_ending(log32, " pages RAM"), "262014 pages RAM");

  MEMD_BOOT(m64, machines::movablecore_256m());
  KernelLog log64;
  show_mem(m64.stats(), zone_of("GFP_HIGHUSER_MOVABLE"), 0, true, &log64);
  EXPECT_EQ(record_ending(log64, " pages HighMem/MovableOnly"), "0 pages HighMem/MovableOnly");
  EXPECT_EQ(record_ending(log64, " pages RAM"), "262014 pages RAM");
}

// One record per line of the kernel's printks, each at the default level
// (printk() without KERN_<level>: KERN_WARNING), none holding a newline.
TEST(ShowMem, OneRecordPerLineAtDefaultLevel) {
  MEMD_BOOT(m, machines::pc_64m());
  KernelLog log;
  show_mem(m.stats(), zone_of("GFP_KERNEL"), 0, true, &log);
  // Mem-Info, 8 counter lines, 1 node, 2 x (zone + lowmem_reserve), 2 free
  // lists, 2 hstates, pagecache, 3 swap, 4 totals.
  EXPECT_EQ(log.records().size(), 1u + 8 + 1 + 4 + 2 + 2 + 1 + 3 + 4);
  for (const KernelLog::Record& r : log.records()) {
    EXPECT_EQ(r.level, PrintkLevel::kWarning) << r.text;
    EXPECT_EQ(r.text.find('\n'), std::string::npos) << r.text;
  }
}

}  // namespace
}  // namespace memd
