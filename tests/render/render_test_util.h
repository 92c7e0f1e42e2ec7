// Helpers for the render tests: the machines of the reference captures,
// splitting files into lines, and comparing the shape of two files (labels,
// order, column widths, trailing spaces) when their numbers differ.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/machine.h"
#include "core/render.h"
#include "tests/core/test_util.h"

namespace memd::test {

inline std::string host_reference(const std::string& file) {
  return read_file(reference_path("host-6.18/" + file));
}

// The machine of shared/reference/host-6.18: its e820 (dmesg-mm), one node,
// 2 CPUs, THP madvise ("always [madvise] never"), and reservations that give
// the zones the managed counts of its zoneinfo: DMA32 772915 of 782336
// present (9421 pages reserved at 16 MiB, where the kernel image lies), Normal
// 393216 of 5505024 (the rest reserved: that kernel has most of Normal
// offline, linux-mm.md §14). DMA's 3840 come from x86's reserved first MiB.
inline MachineConfig host_618_config() {
  MachineConfig cfg;
  cfg.e820 =
      "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
      "BIOS-e820: [mem 0x000000000009fc00-0x00000000000fffff] reserved\n"
      "BIOS-e820: [mem 0x0000000000100000-0x00000000bfffffff] usable\n"
      "BIOS-e820: [mem 0x00000000eec00000-0x00000000febfffff] reserved\n"
      "BIOS-e820: [mem 0x0000000100000000-0x000000063fffffff] usable\n";
  cfg.cpus = 2;
  cfg.thp = true;
  cfg.reserved.push_back({16 * kMiB, 16 * kMiB + 9421 * kPageSize});
  cfg.reserved.push_back({4 * kGiB + 393216 * kPageSize, 0x640000000ULL});
  return cfg;
}

inline NodeConfig range_node(uint64_t start, uint64_t end, std::vector<int> cpus,
                             std::vector<int> distance) {
  NodeConfig n;
  n.range = PhysRange{start, end};
  n.cpus = std::move(cpus);
  n.distance = std::move(distance);
  return n;
}

// (present - managed) pages at the top of a zone's last memory, [end - nr, end).
inline PhysRange reserve_below(uint64_t end_addr, uint64_t pages) {
  return {end_addr - pages * kPageSize, end_addr};
}

// A kernel-6.1 capture's machine: its e820 file and command line, and the
// given nodes (from its qemu-args, SRAT lines, nodes file).
inline MachineConfig kernel61_config(const std::string& dir, std::vector<NodeConfig> nodes) {
  MachineConfig cfg;
  cfg.e820 = read_file(reference_path("kernel-6.1/" + dir + "/e820"));
  std::string cmdline = read_file(reference_path("kernel-6.1/" + dir + "/cmdline"));
  while (!cmdline.empty() && std::isspace(static_cast<unsigned char>(cmdline.back()))) {
    cmdline.pop_back();
  }
  cfg.cmdline = cmdline;
  cfg.thp = true;
  cfg.nodes = std::move(nodes);
  return cfg;
}

// --- shape comparison ----------------------------------------------------------------------

// A number in a line: a run of digits that is not part of a word ("DMA32",
// "DirectMap4k" and "pgalloc_dma32" hold no numbers).
struct NumberField {
  size_t start = 0;
  size_t end = 0;
};

inline std::vector<NumberField> number_fields(const std::string& line) {
  std::vector<NumberField> out;
  for (size_t i = 0; i < line.size();) {
    bool word_before =
        i > 0 && (std::isalpha(static_cast<unsigned char>(line[i - 1])) || line[i - 1] == '_');
    if (!std::isdigit(static_cast<unsigned char>(line[i])) || word_before) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j])))
      ++j;
    bool word_after = j < line.size() && std::isalpha(static_cast<unsigned char>(line[j]));
    if (!word_after) out.push_back({i, j});
    i = j;
  }
  return out;
}

// The line without its numbers and without spaces: the labels.
inline std::string labels(const std::string& line) {
  std::string out;
  size_t next = 0;
  for (const NumberField& f : number_fields(line)) {
    for (size_t i = next; i < f.start; ++i) {
      if (line[i] != ' ') out.push_back(line[i]);
    }
    out.push_back('#');
    next = f.end;
  }
  for (size_t i = next; i < line.size(); ++i) {
    if (line[i] != ' ') out.push_back(line[i]);
  }
  return out;
}

enum class Align { kLeft, kRight };

// Empty when `ours` has the shape of `ref`: the same labels, the same numbers
// of fields, each field starting (kLeft: "%-12s %lu" and "label %lu" lines)
// or ending (kRight: "%6lu ", "%8lu kB" columns) in the same column as long
// as the fields before it have the same width in both lines, and the same
// trailing space.
inline std::string shape_mismatch(const std::string& ours, const std::string& ref, Align align) {
  if (labels(ours) != labels(ref)) return "labels differ";
  auto a = number_fields(ours), b = number_fields(ref);
  for (size_t i = 0; i < a.size(); ++i) {
    size_t ca = align == Align::kLeft ? a[i].start : a[i].end;
    size_t cb = align == Align::kLeft ? b[i].start : b[i].end;
    if (ca != cb) return "field " + std::to_string(i) + " is in another column";
    if (a[i].end - a[i].start != b[i].end - b[i].start) break;  // later columns may shift
  }
  bool ta = !ours.empty() && ours.back() == ' ', tb = !ref.empty() && ref.back() == ' ';
  if (ta != tb) return "trailing space differs";
  return {};
}

// Compares two files line by line with shape_mismatch().
inline void expect_same_shape(const std::string& ours, const std::string& ref, Align align,
                              const std::string& what) {
  auto a = split_lines(ours), b = split_lines(ref);
  ASSERT_EQ(a.size(), b.size()) << what << ": line count";
  for (size_t i = 0; i < a.size(); ++i) {
    std::string why = shape_mismatch(a[i], b[i], align);
    EXPECT_TRUE(why.empty()) << what << " line " << i + 1 << ": " << why << "\n  memd:   '" << a[i]
                             << "'\n  kernel: '" << b[i] << "'";
  }
  EXPECT_EQ(ours.empty() || ours.back() == '\n', ref.empty() || ref.back() == '\n')
      << what << ": final newline";
}

}  // namespace memd::test
