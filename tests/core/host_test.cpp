// The watermark, protection and pageset numbers of a real 6.18 machine
// (../shared/reference/host-6.18/zoneinfo) recomputed by memd from the same
// managed counts.
//
// The host: Linux 6.18.44, x86_64, one node, 2 CPUs, THP madvise, e820 as in
// host-6.18/dmesg-mm. Its Normal zone spans and presents 5505024 pages but
// manages only 393216 (hot-plugged memory not onlined; linux-mm.md §14); memd
// models that with a memblock reservation over the rest of Normal. DMA32's
// 782336 present pages manage 772915: 9421 reserved pages (kernel image and
// boot allocations), placed at 16 MiB.
#include <gtest/gtest.h>

#include "core/machine.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

using test::kZoneDevice;
using test::kZoneDma;
using test::kZoneDma32;
using test::kZoneMovable;
using test::kZoneNormal;

MachineConfig host_config() {
  MachineConfig cfg;
  // host-6.18/dmesg-mm, the BIOS-e820 lines.
  cfg.e820 =
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
      "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved\n"
      "BIOS-e820: [mem 0x0000000000100000-0x00000000bfffffff] usable\n"
      "BIOS-e820: [mem 0x00000000eec00000-0x00000000febfffff] reserved\n"
      "BIOS-e820: [mem 0x0000000100000000-0x000000063fffffff] usable\n";
  cfg.cpus = 2;
  cfg.thp = true;
  cfg.cmdline = "transparent_hugepage=madvise";
  // DMA32: 782336 - 772915 = 9421 pages at pfn 4096.
  cfg.reserved.push_back({4096ULL << kPageShift, (4096ULL + 9421) << kPageShift});
  // Normal: [4 GiB, 4 GiB + 393216 pages) managed, the rest up to 0x640000000 reserved.
  cfg.reserved.push_back({(1048576ULL + 393216) << kPageShift, 0x640000000ULL});
  return cfg;
}

struct Expected {
  unsigned idx;
  uint64_t spanned, present, managed, start_pfn;
  uint64_t min, low, high, promo;
  std::array<int64_t, 5> protection;
  int batch, high_min, high_max, threshold;
};

// Every number below is host-6.18/zoneinfo's. How 6.18 derives them from
// managed = 3840 / 772915 / 393216, 2 CPUs, THP on (§9.6):
//   min_free_kbytes = 512 * 3 zones * 11 * 4 = 67584 -> pages_min = 16896;
//   lowmem = 3840 + 772915 + 393216 = 1169971 (Movable, Device empty).
//   min:  16896*3840/1169971 = 55; 16896*772915/1169971 = 11161; 16896*393216/1169971 = 5678.
//   tmp:  max(55>>2 = 13, 3) = 13; max(2790, 772) = 2790; max(1419, 393) = 1419.
//   low/high/promo = min + tmp, + 2 tmp, + 3 tmp.
//   Movable (empty): min = clamp(0/1024, 32, 128) = 32, tmp = 0 -> 32/32/32/32.
//   protection: DMA (0, 772915/256 = 3019, (772915+393216)/256 = 4555, 4555, 4555);
//               DMA32 (0, 0, 393216/256 = 1536, 1536, 1536).
//   batch: min(managed>>10, 256)/4 -> rounddown_pow_of_two(b + b/2) - 1, at least 1:
//          DMA 3/4 = 0 -> 1 -> 0 -> 1; DMA32 256/4 = 64 -> 96 -> 64 - 1 = 63; Normal 63.
//   high_min = low / 2 CPUs: 68/2 = 34, 13951/2 = 6975, 7097/2 = 3548.
//   high_max = managed / 8 / 2 CPUs: 240, 48307, 24576.
//   threshold = 2 * fls(2) * (1 + fls(managed >> 15)): 2*2*1 = 4, 2*2*(1+5) = 24, 2*2*(1+4) = 20.
const Expected kExpected[] = {
    {kZoneDma, 4095, 3998, 3840, 1, 55, 68, 81, 94, {0, 3019, 4555, 4555, 4555}, 1, 34, 240, 4},
    {kZoneDma32,
     1044480,
     782336,
     772915,
     4096,
     11161,
     13951,
     16741,
     19531,
     {0, 0, 1536, 1536, 1536},
     63,
     6975,
     48307,
     24},
    {kZoneNormal,
     5505024,
     5505024,
     393216,
     1048576,
     5678,
     7097,
     8516,
     9935,
     {0, 0, 0, 0, 0},
     63,
     3548,
     24576,
     20},
};

TEST(Host618, MinFreeKbytes) {
  MEMD_BOOT(m, host_config());
  EXPECT_EQ(m.min_free_kbytes(), 67584);  // host-6.18/sysctl-vm
  MachineStats st = m.stats();
  EXPECT_EQ(st.watermark_scale_factor, 10);
  EXPECT_EQ(st.lowmem_reserve_ratio, (std::vector<int>{256, 256, 32, 0, 0}));
  // calculate_totalreserve_pages: per zone min(managed, max(protection) + high):
  // DMA min(3840, 4555 + 81) = 3840; DMA32 1536 + 16741 = 18277; Normal 8516;
  // empty Movable min(0, 32) = 0.
  EXPECT_EQ(m.totalreserve_pages(), 30633u);
  EXPECT_EQ(st.totalreserve_pages, 30633u);
  EXPECT_EQ(st.nodes[0].totalreserve_pages, 30633u);
}

TEST(Host618, ZonesWatermarksProtectionPagesets) {
  MEMD_BOOT(m, host_config());
  ASSERT_EQ(m.nr_nodes(), 1);
  ASSERT_EQ(m.nr_cpus(), 2);
  MachineStats st = m.stats();
  for (const Expected& e : kExpected) {
    SCOPED_TRACE("zone " + std::to_string(e.idx));
    const Zone& z = m.zone(0, e.idx);
    EXPECT_EQ(z.spanned, e.spanned);
    EXPECT_EQ(z.present, e.present);
    EXPECT_EQ(z.managed, e.managed);
    EXPECT_EQ(z.start_pfn, e.start_pfn);
    EXPECT_EQ(z.watermark_boost, 0u);
    EXPECT_EQ(z.watermark[kWmarkMin], e.min);
    EXPECT_EQ(z.watermark[kWmarkLow], e.low);
    EXPECT_EQ(z.watermark[kWmarkHigh], e.high);
    EXPECT_EQ(z.watermark[kWmarkPromo], e.promo);
    for (unsigned j = 0; j < 5; ++j)
      EXPECT_EQ(z.lowmem_reserve[j], e.protection[j]) << j;
    EXPECT_EQ(z.pageset_batch, e.batch);
    EXPECT_EQ(z.pageset_high_min, e.high_min);
    EXPECT_EQ(z.pageset_high_max, e.high_max);
    EXPECT_EQ(z.stat_threshold, e.threshold);
    const ZoneStats& zs = st.nodes[0].zones[e.idx];
    ASSERT_EQ(zs.pcp.size(), 2u);
    for (int cpu = 0; cpu < 2; ++cpu) {
      // Every CPU's pageset gets the zone's values; high is 0 until the CPU
      // first uses the pcp (the kernel's DMA, never used, prints high: 0).
      EXPECT_EQ(zs.pcp[cpu].batch, e.batch);
      EXPECT_EQ(zs.pcp[cpu].high_min, e.high_min);
      EXPECT_EQ(zs.pcp[cpu].high_max, e.high_max);
      EXPECT_EQ(zs.pcp[cpu].high, 0);
      EXPECT_EQ(zs.pcp[cpu].count, 0);
    }
    EXPECT_EQ(zs.stat_threshold, e.threshold);
    EXPECT_EQ(zs.watermark[kWmarkPromo], e.promo);
  }
  // Empty Movable: 32 / 32 / 32 / 32, protection all 0; Device: all 0.
  const Zone& mov = m.zone(0, kZoneMovable);
  EXPECT_EQ(mov.watermark[kWmarkMin], 32u);
  EXPECT_EQ(mov.watermark[kWmarkLow], 32u);
  EXPECT_EQ(mov.watermark[kWmarkHigh], 32u);
  EXPECT_EQ(mov.watermark[kWmarkPromo], 32u);
  const Zone& dev = m.zone(0, kZoneDevice);
  EXPECT_EQ(dev.watermark[kWmarkMin], 0u);
  EXPECT_EQ(dev.watermark[kWmarkPromo], 0u);
  for (unsigned j = 0; j < 5; ++j) {
    EXPECT_EQ(mov.lowmem_reserve[j], 0);
    EXPECT_EQ(dev.lowmem_reserve[j], 0);
  }
  test::expect_check(m);
}

// pcp high is clamped into [high_min, high_max] on first use and then grows by
// the batch (nr_pcp_alloc): the host's Normal shows cpu0 high 3611 = 3548 + 63,
// exactly one refill after first use.
TEST(Host618, FirstPcpUseClampsHighThenGrowsByBatch) {
  MEMD_BOOT(m, host_config());
  // A GFP_HIGHUSER_MOVABLE order-0 page comes from Normal (preferred zone).
  Allocation a = test::alloc_ok(m, 0, gfp::kHighuserMovable, 0);
  EXPECT_EQ(a.zone_idx, kZoneNormal);
  const PerCpuPages& pcp = m.zone(0, kZoneNormal).pcp[0];
  // nr_pcp_alloc: high = clamp(0, 3548, 24576) = 3548; batch = 63 << 0;
  // high = min(3548 + 63, 24576) = 3611.
  EXPECT_EQ(pcp.high, 3611);
  EXPECT_EQ(m.zone(0, kZoneNormal).pcp[1].high, 0);
}

}  // namespace
}  // namespace memd
