// Multi-node zoneinfo against real kernels booted under qemu
// (shared/reference/kernel-6.1/): the 4-node c-8G-4nodes-dist and the 2-node
// g-8G-2nodes-kernelcore2G, whose node 1 is all ZONE_MOVABLE.
//
// Each machine is built from the capture's e820 file, its cmdline, and the
// node ranges, CPUs and SLIT distances of its qemu-args / SRAT lines, plus
// memblock reservations that give every zone the kernel's managed count
// ((present - managed) pages at the top of the zone's memory; memd reserves
// the first MiB itself, which gives DMA its 3840). memd has no late frees, so
// it is compared with zoneinfo.recomputed.
//
// Compared line by line: the same zones of every node in the same order, the
// per-node stats block under the same (first populated) zone, the same short
// form for empty zones, and spanned/present/managed/protection/start_pfn,
// pageset batch and vm stats threshold, the CPUs of the pagesets; where 6.1
// computes them as 6.18 does, the watermarks and pcp high too.
// Masked, because they depend on runtime activity: pages free and every
// counter line (per-node stats, zone stats, numa), pcp count.
//
// 6.1 prints a different zoneinfo than 6.18; each difference is handled here:
//  D1 6.18 has a "promo" watermark line, 6.1 none: dropped from memd's file.
//  D2 zone stats: 6.18 has nr_free_pages_blocks (new in 6.15), 6.1 has
//     nr_bounce (removed later): each dropped from its own file.
//  D3 node stats: 6.1 has nr_writeback_temp; 6.18 has nr_iommu_pages,
//     pgpromote_candidate_nrl, pgdemote_*, nr_hugetlb, nr_balloon_pages,
//     nr_kernel_file_pages: each dropped from its own file.
//  D4 pagesets: 6.1 prints "count: ", "high:  ", "batch: " and no
//     high_min/high_max; 6.18 "count:    ", "high:     ", "batch:    ",
//     "high_min: ", "high_max: ". 6.1's high is the static zone_highsize()
//     (low watermark / CPUs of the node), which is 6.18's high_min; 6.18's
//     high is 0 until the list is used. So 6.1 "high" is compared with memd's
//     "high_min", and memd's "high" and "high_max" are dropped.
//  D5 an empty Movable zone: 6.18 min/low/high = 32 (clamp(0/1024, 32, 128)),
//     6.1 0: masked.
//  D6 (g only) with a populated Movable zone 6.18 excludes it from
//     lowmem_pages and caps its min, 6.1 did neither, so every watermark and
//     every pcp high of g differs: masked here (tests/core/layout_test.cpp
//     checks the 6.18 values, derived by hand).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/render/render_test_util.h"

namespace memd {
namespace {

using test::kGiB;
using test::range_node;
using test::read_file;
using test::reference_path;
using test::reserve_below;
using test::split_lines;

std::string first_word(const std::string& line) {
  size_t b = line.find_first_not_of(' ');
  size_t e = line.find(' ', b);
  return line.substr(b, e - b);
}

struct Masks {
  bool watermarks = false;  // D6
};

// Brings a zoneinfo of either version to the common form. `kernel61` selects
// which version's extra lines are dropped.
std::vector<std::string> normalize(const std::string& text, bool kernel61, const Masks& masks) {
  static const std::set<std::string> only61 = {"nr_writeback_temp", "nr_bounce"};
  static const std::set<std::string> only618 = {
      "promo",           "nr_free_pages_blocks", "nr_iommu_pages",       "pgpromote_candidate_nrl",
      "pgdemote_kswapd", "pgdemote_direct",      "pgdemote_khugepaged",  "pgdemote_proactive",
      "nr_hugetlb",      "nr_balloon_pages",     "nr_kernel_file_pages", "high_max:"};
  std::vector<std::string> out;
  size_t pcp_high_at = 0;
  for (const std::string& line : split_lines(text)) {
    const std::string word = first_word(line);
    if ((kernel61 ? only61 : only618).count(word)) continue;  // D1, D2, D3, D4
    if (line.rfind("Node ", 0) == 0) {
      out.push_back(line);
      continue;
    }
    if (line.rfind("      ", 0) == 0 && line[6] != ' ') {  // a counter line
      out.push_back("      " + word + " #");
      continue;
    }
    if (word == "pages") {
      out.push_back("  pages free #");
      continue;
    }
    if (word == "count:") {
      out.push_back("count #");
      continue;
    }
    if (word == "high:" || word == "high_min:") {
      // D4: 6.1's high, or 6.18's high_min in the place of 6.18's runtime high.
      std::string v = masks.watermarks ? "#" : line.substr(line.rfind(' ') + 1);
      if (word == "high:" && !kernel61) {
        pcp_high_at = out.size();
        out.push_back("pcp high");
      } else if (word == "high:") {
        out.push_back("pcp high " + v);
      } else {
        out[pcp_high_at] = "pcp high " + v;
      }
      continue;
    }
    if (word == "batch:") {
      out.push_back("batch " + line.substr(line.rfind(' ') + 1));
      continue;
    }
    if (masks.watermarks && (word == "min" || word == "low" || word == "high")) {
      out.push_back("        " + word + " #");
      continue;
    }
    out.push_back(line);
  }
  // D5: an empty Movable zone's min/low/high (header, pages free, boost,
  // min, low, high, spanned 0).
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].find("zone  Movable") == std::string::npos) continue;
    if (i + 8 < out.size() && out[i + 6] == "        spanned  0") {
      for (size_t k = i + 3; k <= i + 5; ++k)
        out[k] = "        " + first_word(out[k]) + " #";
    }
  }
  return out;
}

void expect_zoneinfo_matches(Machine& m, const std::string& dir, const Masks& masks) {
  const std::string ours = render_zoneinfo(m.stats());
  const std::string ref = read_file(reference_path("kernel-6.1/" + dir + "/zoneinfo.recomputed"));
  auto a = normalize(ours, false, masks), b = normalize(ref, true, masks);
  ASSERT_EQ(a.size(), b.size()) << "memd:\n" << ours;
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i], b[i]) << dir << " normalized line " << i + 1;
}

// Where the "per-node stats" block is: the header line printed just before it.
std::vector<std::string> per_node_stats_zones(const std::string& text) {
  std::vector<std::string> out;
  auto lines = split_lines(text);
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i] == "  per-node stats") out.push_back(lines[i - 1]);
  }
  return out;
}

TEST(RenderKernel61, FourNodesWithDistances) {
  // qemu -m 8G -smp 4, 4 x 2G: node 0 [0, 2G), node 1 [2G, 3G) + [4G, 5G),
  // node 2 [5G, 7G), node 3 [7G, 9G); cpu i on node i; SLIT from qemu-args.
  MachineConfig cfg = test::kernel61_config(
      "c-8G-4nodes-dist", {range_node(0, 2 * kGiB, {0}, {10, 20, 30, 40}),
                           range_node(2 * kGiB, 5 * kGiB, {1}, {20, 10, 20, 30}),
                           range_node(5 * kGiB, 7 * kGiB, {2}, {30, 20, 10, 20}),
                           range_node(7 * kGiB, 9 * kGiB, {3}, {40, 30, 20, 10})});
  // managed from zoneinfo.recomputed: n0 DMA32 500573 of 520192, n1 DMA32
  // 245728 of 262112 (memory ends at 0xbffe0000), n1 Normal 253846 of 262144,
  // n2 Normal 515990 of 524288, n3 Normal 515782 of 524288.
  cfg.reserved = {
      reserve_below(2 * kGiB, 520192 - 500573), reserve_below(0xbffe0000, 262112 - 245728),
      reserve_below(5 * kGiB, 262144 - 253846), reserve_below(7 * kGiB, 524288 - 515990),
      reserve_below(9 * kGiB, 524288 - 515782)};
  MEMD_BOOT(m, cfg);
  expect_zoneinfo_matches(m, "c-8G-4nodes-dist", {});
  const std::string ours = render_zoneinfo(m.stats());
  // Node 0: DMA; node 1: DMA32 (its DMA is empty); nodes 2, 3: Normal.
  EXPECT_EQ(per_node_stats_zones(ours),
            (std::vector<std::string>{"Node 0, zone      DMA", "Node 1, zone    DMA32",
                                      "Node 2, zone   Normal", "Node 3, zone   Normal"}));
  EXPECT_EQ(per_node_stats_zones(ours), per_node_stats_zones(read_file(reference_path(
                                            "kernel-6.1/c-8G-4nodes-dist/zoneinfo.recomputed"))));
}

TEST(RenderKernel61, NodeEntirelyMovable) {
  // qemu -m 8G -smp 2, 2 x 4G, kernelcore=2G: node 0 [0, 3G) + [4G, 5G) with
  // cpu 0, node 1 [5G, 9G) with cpu 1; node 1 becomes all ZONE_MOVABLE.
  MachineConfig cfg = test::kernel61_config(
      "g-8G-2nodes-kernelcore2G",
      {range_node(0, 5 * kGiB, {0}, {10, 20}), range_node(5 * kGiB, 9 * kGiB, {1}, {20, 10})});
  // n0 DMA32 754602 of 782304 (memory ends at 0xbffe0000), n0 Movable 245651
  // of 262144, n1 Movable 1031878 of 1048576.
  cfg.reserved = {reserve_below(0xbffe0000, 782304 - 754602),
                  reserve_below(5 * kGiB, 262144 - 245651),
                  reserve_below(9 * kGiB, 1048576 - 1031878)};
  MEMD_BOOT(m, cfg);
  expect_zoneinfo_matches(m, "g-8G-2nodes-kernelcore2G", {.watermarks = true});
  const std::string ours = render_zoneinfo(m.stats());
  // Node 1's per-node stats sit under its Movable zone, after three empty zones.
  EXPECT_EQ(per_node_stats_zones(ours),
            (std::vector<std::string>{"Node 0, zone      DMA", "Node 1, zone  Movable"}));
  // Node 0's empty Normal zone, in the short form (D5 does not apply: Normal).
  EXPECT_NE(ours.find("Node 0, zone   Normal\n  pages free     0\n        boost    0\n"
                      "        min      0\n        low      0\n        high     0\n"
                      "        promo    0\n        spanned  0\n        present  0\n"
                      "        managed  0\n        cma      0\n"
                      "        protection: (0, 0, 0, 0, 0)\nNode 0, zone  Movable\n"),
            std::string::npos);
}

}  // namespace
}  // namespace memd
