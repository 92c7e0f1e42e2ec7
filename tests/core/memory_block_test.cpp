// The memory blocks (core/memory_block.h) against real kernels: the hp*
// captures of tests/reference/kernel-6.1/ (tests/reference/tools/
// capture-hotplug.sh), whose memory-blocks file lists block_size_bytes and
// every memoryN's state, online, phys_index, removable, valid_zones and node
// links as a 6.1 kernel printed them; memd boots the same e820 map, command
// line and nodes and must print the same. The captures' hotplug-steps give
// valid_zones of offline blocks with the zone spans of that moment (from the
// step's zoneinfo), which checks the offline branch of valid_zones_show().
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/machine.h"
#include "core/machine_files.h"
#include "core/memory_block.h"
#include "tests/core/kernel61.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

using test::kGiB;
using test::kMiB;

const std::vector<std::string>& block_captures() {
  static const std::vector<std::string> dirs = {"hp1-2G-movablecore512M", "hp2-4G-kernelcore1G",
                                                "hp3-4G-2nodes",          "hp4-67G-1node-blocks",
                                                "hp5-66G-1node-blocks",   "hp6-67G-2nodes-blocks"};
  return dirs;
}

std::string chomp(std::string s) {
  while (!s.empty() && s.back() == '\n')
    s.pop_back();
  return s;
}

// The line capture-hotplug.sh's blkline() prints, from memd's files; the
// node links in the order of the shell's glob (by name).
std::string block_line(const Machine& m, const MemoryBlock& b) {
  auto file = [&](MemoryBlockFile f) { return chomp(*render_memory_block_file(m, b.id, f)); };
  std::vector<std::string> links;
  for (int nid : b.nodes)
    links.push_back("node" + std::to_string(nid));
  std::sort(links.begin(), links.end());
  std::string nodes;
  for (const std::string& l : links)
    nodes += (nodes.empty() ? "" : ",") + l.substr(4);
  return "memory" + std::to_string(b.id) + " state=" + file(MemoryBlockFile::kState) +
         " online=" + file(MemoryBlockFile::kOnline) +
         " phys_index=" + file(MemoryBlockFile::kPhysIndex) +
         " removable=" + file(MemoryBlockFile::kRemovable) +
         " valid_zones=" + file(MemoryBlockFile::kValidZones) + " node=" + nodes;
}

// memd's memory-blocks file, in capture-hotplug.sh's shape, without the
// auto_online_blocks line (memd does not serve that file).
std::string memd_memory_blocks(const Machine& m) {
  const MemoryBlocks& blocks = m.memory_blocks();
  std::string out = "block_size_bytes: " + chomp(render_block_size_bytes(blocks)) + "\n";
  out += "nr_blocks: " + std::to_string(blocks.blocks().size()) + "\n";
  for (const MemoryBlock& b : blocks.blocks())
    out += block_line(m, b) + "\n";
  return out;
}

std::string capture_memory_blocks(const std::string& dir) {
  std::istringstream in(test::read_file(test::capture_file(dir, "memory-blocks")));
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.rfind("auto_online_blocks:", 0) != 0) out += line + "\n";
  }
  return out;
}

class MemoryBlockCapture : public ::testing::TestWithParam<std::string> {};

TEST_P(MemoryBlockCapture, EveryBlockFileMatchesTheKernel) {
  const std::string dir = GetParam();
  const std::string want = capture_memory_blocks(dir);
  ASSERT_NE(want.find("nr_blocks: "), std::string::npos) << dir << ": no memory-blocks capture";
  auto m = Machine::boot(test::kernel61_config(dir));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(memd_memory_blocks(**m), want) << dir;
}

INSTANTIATE_TEST_SUITE_P(Kernel61, MemoryBlockCapture, ::testing::ValuesIn(block_captures()),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// --- offline blocks: valid_zones with the zones of the moment ------------------------------

struct OfflineLine {
  int nid = 0;
  uint64_t id = 0;
  std::string valid_zones;
};

// The zones of node `nid` in a zoneinfo text, by memd's zone index.
std::vector<ZoneSpan> node_zones(const std::string& zoneinfo, int nid, const ArchLayout& arch) {
  std::vector<ZoneSpan> spans(arch.nr_zones());
  for (const test::RefZone& z : test::parse_zoneinfo(zoneinfo)) {
    if (z.nid != nid) continue;
    for (unsigned i = 0; i < arch.nr_zones(); ++i) {
      if (zone_kind_name(arch.zones[i]) == z.name) {
        spans[i] = {z.start_pfn.value_or(0), z.spanned, z.present};
      }
    }
  }
  return spans;
}

// Every step of hotplug-steps with an offline block in its block lines:
// the block, the kernel's valid_zones, and the step's zoneinfo.
std::vector<std::pair<OfflineLine, std::string>> offline_lines(const std::string& dir) {
  std::istringstream in(test::read_file(test::capture_file(dir, "hotplug-steps")));
  static const std::regex offline(
      R"(^memory(\d+) state=offline online=0 phys_index=\w+ removable=1 valid_zones=(.*) node=(\d+)$)");
  std::vector<std::pair<OfflineLine, std::string>> out;
  std::vector<OfflineLine> pending;
  std::string line, section, zoneinfo;
  auto flush = [&] {
    for (const OfflineLine& l : pending)
      out.emplace_back(l, zoneinfo);
    pending.clear();
    zoneinfo.clear();
  };
  std::smatch mt;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0 || line.rfind("######## ", 0) == 0) {
      if (section == "zoneinfo") flush();
      section = line.rfind("## ", 0) == 0 ? line.substr(3) : "";
      continue;
    }
    if (section == "blocks" && std::regex_match(line, mt, offline)) {
      pending.push_back({std::stoi(mt[3]), std::stoull(mt[1]), mt[2]});
    } else if (section == "zoneinfo") {
      zoneinfo += line + "\n";
    }
  }
  return out;
}

TEST(MemoryBlockOffline, ValidZonesOfOfflineBlocksMatchTheKernel) {
  int checked = 0;
  for (const std::string dir : {"hp1-2G-movablecore512M", "hp2-4G-kernelcore1G", "hp3-4G-2nodes"}) {
    auto m = Machine::boot(test::kernel61_config(dir));
    ASSERT_TRUE(m) << m.error().message;
    const ArchLayout& arch = (*m)->layout().arch;
    MemoryBlocks blocks = (*m)->memory_blocks();
    for (const auto& [l, zoneinfo] : offline_lines(dir)) {
      MemoryBlock* b = blocks.find(l.id);
      ASSERT_NE(b, nullptr) << dir << " memory" << l.id;
      b->state = MemoryBlockState::kOffline;
      b->zone = std::nullopt;
      const std::string got = render_memory_block_file(MemoryBlockFile::kValidZones, blocks, *b,
                                                       arch, node_zones(zoneinfo, l.nid, arch));
      EXPECT_EQ(got, l.valid_zones + "\n") << dir << " memory" << l.id;
      ++checked;
    }
  }
  // hp1: memory14 (Movable Normal), memory11 and memory13 (Normal Movable);
  // hp2: memory38 (Movable Normal), memory22 (DMA32 Movable), memory35
  // (Movable Normal); hp3: memory38 of node 1 (Normal Movable).
  EXPECT_EQ(checked, 7);
}

// --- the x86 rule, from arch/x86/mm/init_64.c, by hand ------------------------------------

TEST(MemoryBlockSize, X86RuleInAGuest) {
  auto size_for_end = [](uint64_t end) { return probe_memory_block_size(end >> kPageShift); };
  EXPECT_EQ(size_for_end(2 * kGiB), 128 * kMiB);
  EXPECT_EQ(size_for_end(64 * kGiB - 128 * kMiB), 128 * kMiB);  // below 64 GiB
  EXPECT_EQ(size_for_end(64 * kGiB), 2 * kGiB);
  EXPECT_EQ(size_for_end(65 * kGiB), 1 * kGiB);
  EXPECT_EQ(size_for_end(67 * kGiB), 1 * kGiB);
  EXPECT_EQ(size_for_end(68 * kGiB), 2 * kGiB);
  EXPECT_EQ(size_for_end(64 * kGiB + 512 * kMiB), 512 * kMiB);
  EXPECT_EQ(size_for_end(64 * kGiB + 128 * kMiB), 128 * kMiB);
  EXPECT_EQ(size_for_end(64 * kGiB + 4096), 128 * kMiB);  // not even section-aligned
  EXPECT_EQ(size_for_end(1024 * kGiB), 2 * kGiB);
}

TEST(MemoryBlockFiles, TextsOfOneBlock) {
  auto m = Machine::boot(test::pc_machine(2 * kGiB));
  ASSERT_TRUE(m) << m.error().message;
  auto file = [&](uint64_t id, MemoryBlockFile f) { return render_memory_block_file(**m, id, f); };
  EXPECT_EQ(render_block_size_bytes((*m)->memory_blocks()), "8000000\n");
  EXPECT_EQ(file(10, MemoryBlockFile::kPhysIndex), "0000000a\n");
  EXPECT_EQ(file(10, MemoryBlockFile::kState), "online\n");
  EXPECT_EQ(file(10, MemoryBlockFile::kOnline), "1\n");
  EXPECT_EQ(file(10, MemoryBlockFile::kRemovable), "1\n");
  EXPECT_EQ(file(10, MemoryBlockFile::kPhysDevice), "0\n");
  EXPECT_EQ(file(10, MemoryBlockFile::kValidZones), "DMA32\n");
  EXPECT_EQ(file(0, MemoryBlockFile::kValidZones), "none\n");  // DMA and DMA32
  EXPECT_EQ(file(16, MemoryBlockFile::kState), std::nullopt);  // past the end of RAM
  EXPECT_EQ(memory_block_node_link_target(1), "../../node/node1");
}

TEST(MemoryBlockFiles, NoBlocksOnI386) {
  MachineConfig cfg = test::pc_machine(512 * kMiB);
  cfg.arch = Arch::kI386;
  auto m = Machine::boot(cfg);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE((*m)->memory_blocks().blocks().empty());
}

}  // namespace
}  // namespace memd
