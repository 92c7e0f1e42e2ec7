// The machines of ../shared/reference/kernel-6.1/<config>/ (real 6.1 kernels
// booted under qemu) as memd configurations, and a reader for their zoneinfo.
//
// kernel61_config() builds the MachineConfig the captured kernel saw: the e820
// map it logged, its command line, the node ranges qemu gave it (qemu-args,
// the "NUMA: Node ..." and "node N: [mem ...]" dmesg lines), the CPUs per node
// and the SLIT distances, and memblock reservations sized so that every
// zone's managed count equals the kernel's.
#pragma once

#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "tests/core/test_util.h"

namespace memd::test {

// A file of a capture: ../shared/reference/kernel-6.1/<dir>/<name>, or, for
// the captures this project made with the same tool (j-*, k-*, and hp*-* with
// tests/reference/tools/capture-hotplug.sh; see tests/reference/kernel-6.1/README.md),
// tests/reference/kernel-6.1/<dir>/.
// zoneinfo.recomputed falls back to zoneinfo where a capture has only that.
inline std::string capture_file(const std::string& dir, const std::string& name) {
  const bool ours = dir.rfind("j-", 0) == 0 || dir.rfind("k-", 0) == 0 || dir.rfind("hp", 0) == 0;
  const std::string root = ours ? std::string(MEMD_PROJECT_REFERENCE_DIR) + "/kernel-6.1/"
                                : reference_path("kernel-6.1/");
  if (ours && name == "zoneinfo.recomputed") return root + dir + "/zoneinfo";
  return root + dir + "/" + name;
}

struct RefZone {
  int nid = 0;
  std::string name;
  uint64_t min = 0, low = 0, high = 0;
  uint64_t spanned = 0, present = 0, managed = 0;
  std::optional<uint64_t> start_pfn;
  std::vector<int64_t> protection;
  std::optional<int> batch;      // cpu 0's pageset batch
  std::optional<int> threshold;  // vm stats threshold
};

// Reads the fields of /proc/zoneinfo the test compares (any kernel version).
inline std::vector<RefZone> parse_zoneinfo(const std::string& text) {
  std::vector<RefZone> zones;
  std::istringstream in(text);
  std::string line;
  static const std::regex header(R"(^Node (\d+), zone +(\w+))");
  static const std::regex field(R"(^\s+(min|low|high|spanned|present|managed)\s+(\d+)\s*$)");
  static const std::regex prot(R"(^\s+protection: \((.*)\))");
  static const std::regex start(R"(^\s+start_pfn:\s+(\d+))");
  static const std::regex batch(R"(^\s+batch:\s+(\d+))");
  static const std::regex thr(R"(^\s+vm stats threshold:\s+(\d+))");
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_search(line, m, header)) {
      zones.push_back({});
      zones.back().nid = std::stoi(m[1]);
      zones.back().name = m[2];
      continue;
    }
    if (zones.empty()) continue;
    RefZone& z = zones.back();
    if (std::regex_search(line, m, field)) {
      uint64_t v = std::stoull(m[2]);
      std::string k = m[1];
      // "high" also names a pageset field ("high:"), which the regex excludes.
      if (k == "min") z.min = v;
      if (k == "low") z.low = v;
      if (k == "high") z.high = v;
      if (k == "spanned") z.spanned = v;
      if (k == "present") z.present = v;
      if (k == "managed") z.managed = v;
    } else if (std::regex_search(line, m, prot)) {
      std::stringstream ps(m[1].str());
      std::string item;
      while (std::getline(ps, item, ','))
        z.protection.push_back(std::stoll(item));
    } else if (std::regex_search(line, m, start)) {
      z.start_pfn = std::stoull(m[1]);
    } else if (std::regex_search(line, m, batch)) {
      if (!z.batch) z.batch = std::stoi(m[1]);
    } else if (std::regex_search(line, m, thr)) {
      if (!z.threshold) z.threshold = std::stoi(m[1]);
    }
  }
  return zones;
}

inline PhysRange pages_at(uint64_t pfn, uint64_t nr) {
  return {pfn << kPageShift, (pfn + nr) << kPageShift};
}

inline NodeConfig node(uint64_t start, uint64_t end, std::vector<int> cpus,
                       std::vector<int> distance = {}) {
  NodeConfig n;
  n.range = PhysRange{start, end};
  n.cpus = std::move(cpus);
  n.distance = std::move(distance);
  return n;
}

// The capture's e820 and command line, plus the given nodes. Reservations are
// added per zone so that managed matches the capture: (present - managed)
// pages, at the start of DMA32 zones (where the kernel image sits with
// nokaslr) and at the top of Normal and Movable zones (memblock allocates top
// down). DMA needs none: memd's own reservation of the first 1 MiB leaves
// exactly the kernel's 3840 managed pages.
inline MachineConfig capture_config(const std::string& dir, std::vector<NodeConfig> nodes,
                                    int cpus) {
  MachineConfig cfg;
  cfg.e820 = test::read_file(capture_file(dir, "e820"));
  std::string cmdline = test::read_file(capture_file(dir, "cmdline"));
  while (!cmdline.empty() && (cmdline.back() == '\n' || cmdline.back() == ' '))
    cmdline.pop_back();
  cfg.cmdline = cmdline;
  cfg.cpus = cpus;
  cfg.thp = true;
  cfg.nodes = std::move(nodes);
  auto zones = parse_zoneinfo(test::read_file(capture_file(dir, "zoneinfo.recomputed")));
  for (const RefZone& z : zones) {
    if (z.present == 0 || z.name == "DMA" || z.present == z.managed) continue;
    uint64_t nr = z.present - z.managed;
    if (z.name == "DMA32") {
      cfg.reserved.push_back(pages_at(*z.start_pfn, nr));
    } else {
      cfg.reserved.push_back(pages_at(*z.start_pfn + z.spanned - nr, nr));
    }
  }
  return cfg;
}

// The configuration of each capture: its directory name, its nodes as qemu
// gave them (qemu-args: -m, -numa node/dist, -smp) and its CPUs.
inline MachineConfig kernel61_config(const std::string& dir) {
  if (dir == "b-4G-2nodes") {
    return capture_config(
        dir, {node(0, 2 * kGiB, {0}, {10, 20}), node(2 * kGiB, 5 * kGiB, {1}, {20, 10})}, 2);
  }
  if (dir == "c-8G-4nodes-dist") {
    return capture_config(
        dir,
        {node(0, 2 * kGiB, {0}, {10, 20, 30, 40}), node(2 * kGiB, 5 * kGiB, {1}, {20, 10, 20, 30}),
         node(5 * kGiB, 7 * kGiB, {2}, {30, 20, 10, 20}),
         node(7 * kGiB, 9 * kGiB, {3}, {40, 30, 20, 10})},
        4);
  }
  if (dir == "j-4G-4nodes-equal") {  // qemu's default distances: 10 and 20
    return capture_config(dir,
                          {node(0, 1 * kGiB, {0}), node(1 * kGiB, 2 * kGiB, {1}),
                           node(2 * kGiB, 3 * kGiB, {2}), node(4 * kGiB, 5 * kGiB, {3})},
                          4);
  }
  if (dir == "g-8G-2nodes-kernelcore2G") {
    return capture_config(
        dir, {node(0, 5 * kGiB, {0}, {10, 20}), node(5 * kGiB, 9 * kGiB, {1}, {20, 10})}, 2);
  }
  if (dir == "hp3-4G-2nodes") {
    return capture_config(
        dir, {node(0, 2 * kGiB, {0}, {10, 20}), node(2 * kGiB, 5 * kGiB, {1}, {20, 10})}, 2);
  }
  if (dir == "hp6-67G-2nodes-blocks") {  // -n 32G,35G: node 0 ends at 33 GiB, inside a 2 GiB block
    return capture_config(
        dir, {node(0, 33 * kGiB, {0}, {10, 20}), node(33 * kGiB, 68 * kGiB, {1}, {20, 10})}, 2);
  }
  const std::map<std::string, uint64_t> one_node = {{"a-2G-1node", 2 * kGiB},
                                                    {"d-4G-kernelcore1G", 5 * kGiB},
                                                    {"e2-8G-movablecore1G", 9 * kGiB},
                                                    {"i4-4G-thp-never", 5 * kGiB},
                                                    {"k-2G-unknown-params", 2 * kGiB},
                                                    {"o-512M-1node", 512 * kMiB},
                                                    {"hp1-2G-movablecore512M", 2 * kGiB},
                                                    {"hp2-4G-kernelcore1G", 5 * kGiB},
                                                    {"hp4-67G-1node-blocks", 68 * kGiB},
                                                    {"hp5-66G-1node-blocks", 67 * kGiB}};
  return capture_config(dir, {node(0, one_node.at(dir), {0, 1})}, 2);
}

// Every capture directory: the shared ones, then this project's own.
inline const std::vector<std::string>& kernel61_dirs() {
  static const std::vector<std::string> dirs = {"a-2G-1node",          "b-4G-2nodes",
                                                "c-8G-4nodes-dist",    "d-4G-kernelcore1G",
                                                "e2-8G-movablecore1G", "g-8G-2nodes-kernelcore2G",
                                                "i4-4G-thp-never",     "o-512M-1node",
                                                "j-4G-4nodes-equal",   "k-2G-unknown-params"};
  return dirs;
}

}  // namespace memd::test
