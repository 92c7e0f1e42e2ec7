// The pageblock map (core/pageblock_map.h) and the per-pageblock count of
// buddy-free pages it is drawn from (MemContext::pageblock_free).
//
// Expected cells come from the free lists as the kernel's code leaves them
// (the 64 MiB sequence is the one tests/render/golden_test.cpp checks by
// hand in pc64m-allocs.*), and the counts and spans from the machine's own
// pagetypeinfo and zoneinfo text, parsed here.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "core/machine_files.h"
#include "core/pageblock_map.h"
#include "core/render.h"
#include "test_util.h"

namespace memd {
namespace {

using test::kGiB;
using test::kMiB;

using Attrs = std::map<std::string, std::string>;

// Every element of the map with a data-pfn (a cell), its attributes by name.
std::vector<Attrs> cells(const std::string& svg) {
  std::vector<Attrs> out;
  for (size_t at = svg.find(" data-pfn="); at != std::string::npos;
       at = svg.find(" data-pfn=", at + 1)) {
    const size_t open = svg.rfind('<', at);
    const size_t close = svg.find('>', at);
    Attrs a;
    // name="value" pairs, split by hand (std::regex is slow on a few MiB).
    for (size_t p = svg.find(' ', open); p < close;) {
      const size_t eq = svg.find("=\"", p);
      const size_t end = svg.find('"', eq + 2);
      if (eq > close || end > close) break;
      a[svg.substr(p + 1, eq - p - 1)] = svg.substr(eq + 2, end - eq - 2);
      p = end + 1;
    }
    out.push_back(std::move(a));
  }
  return out;
}

// pagetypeinfo's "Number of blocks type" rows: "Node 0, zone DMA32" -> counts.
std::map<std::string, std::vector<uint64_t>> block_counts(const std::string& pagetypeinfo) {
  static const std::regex row(R"(^Node (\d+), zone +(\w+) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+) $)");
  std::map<std::string, std::vector<uint64_t>> out;
  bool in_table = false;
  for (const std::string& line : test::split_lines(pagetypeinfo)) {
    if (line.rfind("Number of blocks type", 0) == 0) in_table = true;
    std::smatch m;
    if (!in_table || !std::regex_match(line, m, row)) continue;
    auto& counts = out["Node " + m[1].str() + ", zone " + m[2].str()];
    counts.clear();
    for (int i = 3; i <= 7; ++i)
      counts.push_back(std::stoull(m[i]));
  }
  return out;
}

// zoneinfo's populated zones: "Node 0, zone DMA32" -> {start_pfn, spanned}.
std::map<std::string, std::pair<uint64_t, uint64_t>> zone_spans(const std::string& zoneinfo) {
  static const std::regex header(R"(^Node (\d+), zone +(\w+)$)");
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  std::string zone;
  uint64_t spanned = 0;
  for (const std::string& line : test::split_lines(zoneinfo)) {
    std::smatch m;
    if (std::regex_match(line, m, header)) zone = "Node " + m[1].str() + ", zone " + m[2].str();
    if (line.rfind("        spanned  ", 0) == 0) spanned = std::stoull(line.substr(17));
    if (line.rfind("  start_pfn:", 0) == 0) out[zone] = {std::stoull(line.substr(12)), spanned};
  }
  return out;
}

// The zone sections' data attributes: "Node 0, zone DMA32" -> {start_pfn, spanned}.
std::map<std::string, std::pair<uint64_t, uint64_t>> map_spans(const std::string& svg) {
  static const std::regex zone(
      R"re(<g data-nid="(\d+)" data-zone="(\w+)" data-start-pfn="0x([0-9a-f]+)" data-spanned="0x([0-9a-f]+)")re");
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), zone); it != std::sregex_iterator();
       ++it) {
    out["Node " + (*it)[1].str() + ", zone " + (*it)[2].str()] = {
        std::stoull((*it)[3], nullptr, 16), std::stoull((*it)[4], nullptr, 16)};
  }
  return out;
}

// Blocks per migrate type over the whole map: single-block cells by their
// data-mt, aggregated cells by their data-n.
std::vector<uint64_t> cells_per_type(const std::vector<Attrs>& cs) {
  std::vector<uint64_t> out(kMigrateTypes, 0);
  for (const Attrs& a : cs) {
    if (a.count("data-mt")) {
      for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
        if (a.at("data-mt") == kMigrateTypeNames[mt]) out[mt]++;
      }
      continue;
    }
    std::stringstream n(a.at("data-n"));
    std::string v;
    for (unsigned mt = 0; mt < kMigrateTypes && std::getline(n, v, ','); ++mt)
      out[mt] += std::stoull(v);
  }
  return out;
}

std::vector<uint64_t> sum_of_rows(const std::map<std::string, std::vector<uint64_t>>& rows) {
  std::vector<uint64_t> out(kMigrateTypes, 0);
  for (const auto& [zone, counts] : rows) {
    for (unsigned mt = 0; mt < kMigrateTypes; ++mt)
      out[mt] += counts[mt];
  }
  return out;
}

std::string svg_of(const Machine& m) {
  return render_machine_file(ProcFile::kPageblocksSvg, m);
}

// The 64 MiB machine of tests/render/golden_test.cpp after its allocations
// (pc64m-allocs): GFP_KERNEL o0, o0, o3, GFP_HIGHUSER_MOVABLE o0,
// GFP_KERNEL|__GFP_DMA o0, then the o3 freed to the pcp list.
void pc64m_allocations(Machine& m) {
  const Gfp kernel = *parse_gfp("GFP_KERNEL");
  EXPECT_EQ(test::alloc_ok(m, 0, kernel).pfn, 4096u);
  EXPECT_EQ(test::alloc_ok(m, 0, kernel).pfn, 4097u);
  EXPECT_EQ(test::alloc_ok(m, 3, kernel).pfn, 4104u);
  EXPECT_EQ(test::alloc_ok(m, 0, *parse_gfp("GFP_HIGHUSER_MOVABLE")).pfn, 16320u);
  EXPECT_EQ(test::alloc_ok(m, 0, *parse_gfp("GFP_KERNEL|__GFP_DMA")).pfn, 256u);
  test::free_ok(m, 4104);
}

// --- the per-pageblock free counter ----------------------------------------------------------

const std::vector<uint16_t>& pageblock_free(const Machine& m) {
  return m.zone(0, 0).ctx->pageblock_free;
}

// At boot (pc64m-boot): DMA o8@256 o9@512 o10@1024,2048,3072; DMA32 11 x o10
// from 4096, o9@15360, then o8 o7 o6 o5 up to 16352.
TEST(PageblockFree, BootFreeing) {
  MEMD_BOOT(m, test::pc_machine(64 * kMiB));
  const auto& free = pageblock_free(m);
  ASSERT_EQ(free.size(), 64u);  // frames for the one memory section, 128 MiB
  EXPECT_EQ(free[0], 256);
  for (size_t b = 1; b < 31; ++b)
    EXPECT_EQ(free[b], 512) << "block " << b;
  EXPECT_EQ(free[31], 256 + 128 + 64 + 32);
  for (size_t b = 32; b < 64; ++b)
    EXPECT_EQ(free[b], 0) << "block " << b;
}

// An order-10 page spans two pageblocks: both empty while it is allocated,
// both full again once it is freed (order 10 bypasses the pcp lists).
TEST(PageblockFree, OrderTenCountsInBothBlocks) {
  MEMD_BOOT(m, test::pc_machine(64 * kMiB));
  const Allocation a = test::alloc_ok(m, 10, *parse_gfp("GFP_HIGHUSER_MOVABLE"));
  ASSERT_EQ(a.pfn % 1024, 0u);
  const uint64_t b = a.pfn >> kPageblockOrder;
  EXPECT_EQ(pageblock_free(m)[b], 0);
  EXPECT_EQ(pageblock_free(m)[b + 1], 0);
  test::expect_check(m);
  test::free_ok(m, a.pfn);
  EXPECT_EQ(pageblock_free(m)[b], 512);
  EXPECT_EQ(pageblock_free(m)[b + 1], 512);
  test::expect_check(m);
}

// Pages on per-cpu lists are not free: block 8 (pfn 4096) holds 2 allocated
// pages, 4098 and the freed o3 at 4104 on the pcp list: 512 - 2 - 1 - 8.
TEST(PageblockFree, PcpPagesAreNotFree) {
  MEMD_BOOT(m, test::pc_machine(64 * kMiB));
  pc64m_allocations(m);
  EXPECT_EQ(pageblock_free(m)[8], 501);
  EXPECT_EQ(pageblock_free(m)[0], 255);   // 256 allocated from the DMA o8
  EXPECT_EQ(pageblock_free(m)[31], 476);  // 16320 allocated, 16321-16323 on the pcp list
  test::expect_check(m);
}

// The checker recounts the counter from the free lists.
TEST(PageblockFree, CheckerFindsAWrongCount) {
  MEMD_BOOT(m, test::pc_machine(64 * kMiB));
  std::vector<uint16_t>& free = m.zone(0, 1).ctx->pageblock_free;
  free[9]--;
  const CheckReport r = m.check();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems.front(),
            "pageblock 0x1200: 511 free pages counted, the free lists hold 512");
  free[9]++;
  test::expect_check(m);
}

// Restoring a saved state rebuilds the counter from the saved free lists.
TEST(PageblockFree, RestoredState) {
  MEMD_BOOT(m, test::pc_machine(64 * kMiB));
  pc64m_allocations(m);
  auto restored = Machine::restore_state(m.config(), m.save_state());
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ(pageblock_free(**restored), pageblock_free(m));
}

// --- the map ---------------------------------------------------------------------------------

// Every cell of pc64m-allocs, by its pageblock: type, shade, dot. The shades
// are the type's colour mixed with white by free/1024, each channel rounded:
// Unmovable #d62728 at 255/512 free: 0xd6 + 41 x 255/1024 = 224.2 -> 0xe0,
// 0x27 + 216 x 255/1024 = 92.8 -> 0x5d, 0x28 + 215 x 255/1024 = 93.5 -> 0x5e.
TEST(PageblockMap, Pc64MAfterAllocations) {
  MEMD_BOOT(m, test::pc_machine(64 * kMiB));
  pc64m_allocations(m);
  const std::vector<Attrs> cs = cells(svg_of(m));
  ASSERT_EQ(cs.size(), 32u);
  struct Want {
    std::string pfn, mt, free, fill;
    bool dot;
  };
  std::vector<Want> want = {{"0x0", "Unmovable", "255", "#e05d5e", false}};
  for (int b = 1; b < 8; ++b)
    want.push_back({fmt::format("0x{:x}", b * 512), "Movable", "512", "#96d096", true});
  want.push_back({"0x1000", "Unmovable", "501", "#ea9191", false});
  want.push_back({"0x1200", "Unmovable", "512", "#eb9394", true});
  for (int b = 10; b < 31; ++b)
    want.push_back({fmt::format("0x{:x}", b * 512), "Movable", "512", "#96d096", true});
  want.push_back({"0x3e00", "Movable", "476", "#8ecc8e", false});
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(cs[i].at("data-pfn"), want[i].pfn) << i;
    EXPECT_EQ(cs[i].at("data-mt"), want[i].mt) << want[i].pfn;
    EXPECT_EQ(cs[i].at("data-free"), want[i].free) << want[i].pfn;
    EXPECT_EQ(cs[i].at("fill"), want[i].fill) << want[i].pfn;
    EXPECT_EQ(cs[i].count("data-dot"), want[i].dot ? 1u : 0u) << want[i].pfn;
    EXPECT_EQ(cs[i].at("width"), "11");
  }
}

// The dots are exactly the pageblocks inside a free page of order >= 9, as
// the free lists hold them.
TEST(PageblockMap, DotsAreTheFreeHighOrderPages) {
  MEMD_BOOT(m, test::pc_machine(64 * kMiB));
  pc64m_allocations(m);
  std::vector<std::string> want;
  for (unsigned idx : {test::kZoneDma, test::kZoneDma32}) {
    for (unsigned order = kPageblockOrder; order <= kMaxPageOrder; ++order) {
      for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
        for (Pfn p : test::free_list(m.zone(0, idx), order, mt)) {
          for (Pfn b = p; b < p + (1ULL << order); b += kPageblockNrPages)
            want.push_back(fmt::format("0x{:x}", b));
        }
      }
    }
  }
  std::vector<std::string> dotted;
  for (const Attrs& a : cells(svg_of(m))) {
    if (a.count("data-dot")) dotted.push_back(a.at("data-pfn"));
  }
  std::sort(want.begin(), want.end(), [](auto& a, auto& b) {
    return std::stoull(a, nullptr, 16) < std::stoull(b, nullptr, 16);
  });
  EXPECT_EQ(dotted, want);
  EXPECT_EQ(dotted.size(), 29u);
}

// Cells per type equal pagetypeinfo's "Number of blocks type" counts, and
// the zone sections the spans zoneinfo prints.
void expect_map_agrees_with_files(const Machine& m, const std::string& svg) {
  const MachineStats stats = m.stats();
  EXPECT_EQ(cells_per_type(cells(svg)), sum_of_rows(block_counts(render_pagetypeinfo(stats))));
  const auto spans = zone_spans(render_zoneinfo(stats));
  const auto drawn = map_spans(svg);
  EXPECT_FALSE(drawn.empty());
  for (const auto& [zone, span] : drawn) {
    ASSERT_TRUE(spans.count(zone)) << zone;
    EXPECT_EQ(span, spans.at(zone)) << zone;
  }
  // Every populated zone has its section, with its counts in the legend table.
  for (const auto& [zone, counts] : block_counts(render_pagetypeinfo(stats))) {
    EXPECT_TRUE(drawn.count(zone)) << zone;
    EXPECT_NE(svg.find(">" + zone + "</text>"), std::string::npos) << zone;
  }
}

TEST(PageblockMap, DefaultMachineAgreesWithPagetypeinfoAndZoneinfo) {
  MEMD_BOOT(m, MachineConfig{});
  const std::string svg = svg_of(m);
  expect_map_agrees_with_files(m, svg);
  EXPECT_NE(
      svg.find(">1 cell = 1 pageblock (2 MiB); a row = 64 cells = 128 MiB; pageblock_order 9<"),
      std::string::npos);
  EXPECT_NE(svg.find(">pfn 0x1000-0xfffff (start_pfn 0x1000, spanned 0xff000)<"),
            std::string::npos);
  EXPECT_NE(svg.find(">1528 pageblocks: 1528 Movable<"), std::string::npos);
  EXPECT_EQ(cells(svg).size(), 8u + 1528 + 512);
}

TEST(PageblockMap, AfterAllocationsAgreesWithPagetypeinfo) {
  MEMD_BOOT(m, MachineConfig{});
  const Gfp kinds[] = {gfp::kKernel, gfp::kKernel | gfp::kReclaimable, gfp::kHighuserMovable,
                       gfp::kAtomic};
  for (int i = 0; i < 4000; ++i) {
    (void)test::try_alloc(m, static_cast<unsigned>(i % 5), kinds[i % 4] | gfp::kNowarn, i % 2);
  }
  const std::string svg = svg_of(m);
  expect_map_agrees_with_files(m, svg);
  const std::vector<uint64_t> per_type = cells_per_type(cells(svg));
  EXPECT_GT(per_type[kUnmovable], 0u);
  EXPECT_GT(per_type[kReclaimable], 0u);
  test::expect_check(m);
}

// Same state, same bytes: two machines through the same steps.
TEST(PageblockMap, Deterministic) {
  MEMD_BOOT(a, test::pc_machine(64 * kMiB));
  MEMD_BOOT(b, test::pc_machine(64 * kMiB));
  pc64m_allocations(a);
  pc64m_allocations(b);
  EXPECT_EQ(svg_of(a), svg_of(b));
  EXPECT_EQ(svg_of(a), svg_of(a));
  EXPECT_NE(svg_of(a), svg_of(*test::boot(test::pc_machine(64 * kMiB))));
}

// A 4 TiB machine of 16 nodes: 2^21 pageblocks in cells of 512 (1 GiB), at
// most kMaxMapCells plus a partial cell or two at zone edges, a few hundred KiB.
TEST(PageblockMap, FourTebibytesAggregate) {
  MachineConfig cfg;
  for (int nid = 0; nid < 16; ++nid) {
    NodeConfig n;
    n.size = 256 * kGiB;
    n.cpus = {nid};
    cfg.nodes.push_back(n);
  }
  MEMD_BOOT(m, cfg);
  EXPECT_EQ(pageblock_map_shift(m.stats(), m.pageblock_snapshot()), 9u);
  const std::string svg = svg_of(m);
  EXPECT_NE(svg.find(">1 cell = 512 pageblocks (1 GiB); a row = 64 cells = 64 GiB;"),
            std::string::npos);
  EXPECT_NE(svg.find("data-pageblocks-per-cell=\"512\""), std::string::npos);
  const std::vector<Attrs> cs = cells(svg);
  EXPECT_LE(cs.size(), kMaxMapCells + 2 * 18);
  EXPECT_GE(cs.size(), kMaxMapCells);
  EXPECT_LT(svg.size(), 2u << 20);
  expect_map_agrees_with_files(m, svg);
  // A node's Normal zone of 256 GiB: 256 whole cells of 512 Movable blocks, all free.
  const Attrs& c = cs.back();
  EXPECT_EQ(c.at("data-blocks"), "512");
  EXPECT_EQ(c.at("data-n"), "0,512,0,0,0");
  EXPECT_EQ(c.at("data-free"), std::to_string(512 * 512));
  EXPECT_EQ(c.count("data-dot"), 1u);
}

TEST(PageblockMap, CellSizeGrowsWithTheMachine) {
  MEMD_BOOT(small, MachineConfig{});
  EXPECT_EQ(pageblock_map_shift(small.stats(), small.pageblock_snapshot()), 0u);
  MEMD_BOOT(big, test::pc_machine(64 * kGiB));
  // 8 + 1528 + 31232 = 32768 blocks: 8 to a cell.
  EXPECT_EQ(pageblock_map_shift(big.stats(), big.pageblock_snapshot()), 3u);
  EXPECT_NE(svg_of(big).find(">1 cell = 8 pageblocks (16 MiB);"), std::string::npos);
}

TEST(PageblockMap, ShadeColour) {
  EXPECT_EQ(shade_colour(0x2ca02c, 0, 512), 0x2ca02cu);
  EXPECT_EQ(shade_colour(0x2ca02c, 512, 512), 0x96d096u);  // 44 + 105.5 -> 150
  EXPECT_EQ(shade_colour(0xd62728, 255, 512), 0xe05d5eu);
  EXPECT_EQ(shade_colour(0xffffff, 512, 512), 0xffffffu);
}

}  // namespace
}  // namespace memd
