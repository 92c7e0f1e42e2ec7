// jc (the Debian package) parses memd's buddyinfo, pagetypeinfo and zoneinfo
// and reports the numbers of the machine's snapshot: every free count, block
// count, watermark, size, protection entry and pageset field, compared with
// the MachineStats the files were rendered from.
//
// jc's pagetypeinfo parser keeps only the last node's section of a multi-node
// file; it does the same with the real kernel's file (checked below on
// kernel-6.1/c-8G-4nodes-dist), so that is what memd's file must give too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/render/render_test_util.h"

namespace memd {
namespace {

using nlohmann::json;
using test::kGiB;
using test::kMiB;

bool have_jc() {
  return std::system("jc --version > /dev/null 2>&1") == 0;
}

// Runs `jc --<parser>` on text and parses its JSON output.
json run_jc(const std::string& parser, const std::string& text) {
  char path[] = "/tmp/memd-render-jc-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path, std::ios::binary) << text;
  std::string cmd = "jc --" + parser + " < " + path;
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
      out.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << cmd;
  }
  std::remove(path);
  return json::parse(out, nullptr, /*allow_exceptions=*/false);
}

#define MEMD_REQUIRE_JC() \
  if (!have_jc()) GTEST_SKIP() << "jc is not installed (Debian package jc): nothing to parse with"

std::vector<const ZoneStats*> populated(const MachineStats& s, bool with_memory_only) {
  std::vector<const ZoneStats*> out;
  for (const NodeStats& n : s.nodes) {
    if (with_memory_only && !n.has_memory) continue;
    for (const ZoneStats& z : n.zones) {
      if (z.populated) out.push_back(&z);
    }
  }
  return out;
}

template <typename A>
std::vector<uint64_t> vec(const A& a) {
  return std::vector<uint64_t>(a.begin(), a.end());
}

void expect_buddyinfo(const MachineStats& s) {
  json j = run_jc("proc-buddyinfo", render_buddyinfo(s));
  auto zones = populated(s, false);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), zones.size());
  for (size_t i = 0; i < zones.size(); ++i) {
    EXPECT_EQ(j[i]["node"], zones[i]->nid);
    EXPECT_EQ(j[i]["zone"], zones[i]->name);
    EXPECT_EQ(j[i]["free_chunks"].get<std::vector<uint64_t>>(), vec(zones[i]->nr_free));
  }
}

// The last node with memory: what jc keeps of a pagetypeinfo file.
void expect_pagetypeinfo(const MachineStats& s) {
  json j = run_jc("proc-pagetypeinfo", render_pagetypeinfo(s));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["page_block_order"], 9);
  EXPECT_EQ(j["pages_per_block"], 512);
  int last = -1;
  for (const NodeStats& n : s.nodes)
    last = n.has_memory ? n.nid : last;
  std::vector<const ZoneStats*> zones;
  for (const ZoneStats* z : populated(s, true)) {
    if (z->nid == last) zones.push_back(z);
  }
  ASSERT_EQ(j["free_pages"].size(), zones.size() * kMigrateTypes);
  ASSERT_EQ(j["num_blocks_type"].size(), zones.size());
  const char* keys[] = {"unmovable", "movable", "reclaimable", "high_atomic", "isolate"};
  for (size_t i = 0; i < zones.size(); ++i) {
    for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
      const json& row = j["free_pages"][i * kMigrateTypes + mt];
      EXPECT_EQ(row["node"], zones[i]->nid);
      EXPECT_EQ(row["zone"], zones[i]->name);
      EXPECT_EQ(row["type"], std::string(kMigrateTypeNames[mt]));
      for (unsigned o = 0; o < kNrPageOrders; ++o) {
        EXPECT_EQ(row["free"][o].get<uint64_t>(), zones[i]->nr_free_by_type[o][mt]);
      }
    }
    const json& blocks = j["num_blocks_type"][i];
    EXPECT_EQ(blocks["zone"], zones[i]->name);
    for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
      EXPECT_EQ(blocks[keys[mt]].get<uint64_t>(), zones[i]->block_count[mt]);
    }
  }
}

void expect_zone(const json& jz, const ZoneStats& z, int nr_cpus) {
  const json& p = jz["pages"];
  EXPECT_EQ(p["free"].get<uint64_t>(), z.free_pages);
  EXPECT_EQ(p["boost"].get<uint64_t>(), z.boost);
  EXPECT_EQ(p["min"].get<uint64_t>(), z.watermark[kWmarkMin] + z.boost);
  EXPECT_EQ(p["low"].get<uint64_t>(), z.watermark[kWmarkLow] + z.boost);
  EXPECT_EQ(p["high"].get<uint64_t>(), z.watermark[kWmarkHigh] + z.boost);
  EXPECT_EQ(p["promo"].get<uint64_t>(), z.watermark[kWmarkPromo] + z.boost);
  EXPECT_EQ(p["spanned"].get<uint64_t>(), z.spanned);
  EXPECT_EQ(p["present"].get<uint64_t>(), z.present);
  EXPECT_EQ(p["managed"].get<uint64_t>(), z.managed);
  EXPECT_EQ(p["protection"].get<std::vector<int64_t>>(), z.lowmem_reserve);
  if (!z.populated) {
    EXPECT_FALSE(jz.contains("pagesets"));
    return;
  }
  EXPECT_EQ(p["nr_free_pages"].get<uint64_t>(), z.free_pages);
  EXPECT_EQ(p["nr_free_pages_blocks"].get<uint64_t>(), z.free_pages_blocks);
  EXPECT_EQ(p["numa_hit"].get<uint64_t>(), z.numa[kNumaHit]);
  EXPECT_EQ(p["numa_other"].get<uint64_t>(), z.numa[kNumaOther]);
  const json& sets = jz["pagesets"];
  ASSERT_EQ(static_cast<int>(sets.size()), nr_cpus);
  for (int cpu = 0; cpu < nr_cpus; ++cpu) {
    const json& c = sets[cpu];
    const PcpStats& pcp = z.pcp[cpu];
    EXPECT_EQ(c["cpu"], cpu);
    EXPECT_EQ(c["count"], pcp.count);
    EXPECT_EQ(c["high"], pcp.high);
    EXPECT_EQ(c["batch"], pcp.batch);
    EXPECT_EQ(c["high_min"], pcp.high_min);
    EXPECT_EQ(c["high_max"], pcp.high_max);
    EXPECT_EQ(c["vm stats threshold"], z.stat_threshold);
  }
  // jc files the zone's last two lines under its last pageset.
  EXPECT_EQ(sets.back()["node_unreclaimable"], 0);
  EXPECT_EQ(sets.back()["start_pfn"].get<uint64_t>(), z.start_pfn);
}

void expect_zoneinfo(const MachineStats& s) {
  json j = run_jc("proc-zoneinfo", render_zoneinfo(s));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), s.nodes.size());
  for (size_t n = 0; n < s.nodes.size(); ++n) {
    EXPECT_EQ(j[n]["node"], s.nodes[n].nid);
    // Per-node stats land at the node level, only for nodes with memory.
    EXPECT_EQ(j[n].contains("nr_inactive_anon"), s.nodes[n].has_memory);
    for (const ZoneStats& z : s.nodes[n].zones) {
      SCOPED_TRACE("node " + std::to_string(n) + " zone " + z.name);
      ASSERT_TRUE(j[n].contains(z.name));
      expect_zone(j[n][z.name], z, s.nr_cpus);
    }
  }
}

MachineStats small_machine_after_allocations() {
  MachineConfig cfg;
  cfg.size = 64 * kMiB;
  cfg.cpus = 2;
  auto m = Machine::boot(cfg);
  EXPECT_TRUE(m.ok());
  const Gfp kernel = *parse_gfp("GFP_KERNEL");
  for (int i = 0; i < 40; ++i)
    test::alloc_ok(**m, i % 4, kernel, i % 2);
  test::alloc_ok(**m, 0, *parse_gfp("GFP_KERNEL|__GFP_DMA"), 1);
  return (*m)->stats();
}

TEST(RenderJc, ParsesASmallMachineAfterAllocations) {
  MEMD_REQUIRE_JC();
  const MachineStats s = small_machine_after_allocations();
  expect_buddyinfo(s);
  expect_pagetypeinfo(s);
  expect_zoneinfo(s);
}

TEST(RenderJc, ParsesTheHost618Machine) {
  MEMD_REQUIRE_JC();
  MEMD_BOOT(m, test::host_618_config());
  for (int i = 0; i < 100; ++i)
    test::alloc_ok(m, 0, *parse_gfp("GFP_HIGHUSER_MOVABLE"), i % 2);
  const MachineStats s = m.stats();
  expect_buddyinfo(s);
  expect_pagetypeinfo(s);
  expect_zoneinfo(s);
}

TEST(RenderJc, ParsesFourNodesAndAMemorylessNode) {
  MEMD_REQUIRE_JC();
  MachineConfig cfg;
  cfg.e820 = test::read_file(test::reference_path("kernel-6.1/c-8G-4nodes-dist/e820"));
  cfg.nodes = {test::range_node(0, 2 * kGiB, {0}, {}),
               test::range_node(2 * kGiB, 5 * kGiB, {1}, {}),
               test::range_node(5 * kGiB, 9 * kGiB, {2}, {}),
               test::range_node(9 * kGiB, 9 * kGiB, {3}, {})};  // CPU 3, no memory
  MEMD_BOOT(m, cfg);
  test::alloc_ok(m, 2, *parse_gfp("GFP_KERNEL"), 3);
  const MachineStats s = m.stats();
  ASSERT_FALSE(s.nodes[3].has_memory);
  expect_buddyinfo(s);
  expect_pagetypeinfo(s);
  expect_zoneinfo(s);
}

// What jc makes of the real kernel's multi-node pagetypeinfo: only node 3.
TEST(RenderJc, KeepsOnlyTheLastNodeOfARealPagetypeinfoToo) {
  MEMD_REQUIRE_JC();
  json j =
      run_jc("proc-pagetypeinfo",
             test::read_file(test::reference_path("kernel-6.1/c-8G-4nodes-dist/pagetypeinfo")));
  ASSERT_EQ(j["num_blocks_type"].size(), 1u);
  EXPECT_EQ(j["num_blocks_type"][0]["node"], 3);
  EXPECT_EQ(j["free_pages"].size(), 5u);
}

}  // namespace
}  // namespace memd
