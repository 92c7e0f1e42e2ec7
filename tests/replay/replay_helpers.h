// Helpers for the replay tests: trace lines as a 6.18 kernel prints them, a
// booted machine with a Replayer, and reading a gzipped trace.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "core/machine.h"
#include "core/trace.h"

namespace memd::testing {

inline std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

inline std::string head(int cpu, std::string_view task = "cc1plus-4451") {
  char buf[64];
  std::snprintf(buf, sizeof buf, " [%03d] .....   222.995046: ", cpu);
  return "   " + std::string(task) + buf;
}

// "mm_page_alloc: page=%p pfn=0x%lx order=%d migratetype=%d gfp_flags=%s"
inline std::string alloc_line(int cpu, uint64_t pfn, unsigned order,
                              std::string_view gfp = "GFP_KERNEL", int mt = 0) {
  return head(cpu) + "mm_page_alloc: page=00000000d075e96b pfn=" + hex(pfn) +
         " order=" + std::to_string(order) + " migratetype=" + std::to_string(mt) +
         " gfp_flags=" + std::string(gfp) + "\n";
}

// "mm_page_free: page=%p pfn=0x%lx order=%d"
inline std::string free_line(int cpu, uint64_t pfn, unsigned order) {
  return head(cpu) + "mm_page_free: page=0000000028add1bf pfn=" + hex(pfn) +
         " order=" + std::to_string(order) + "\n";
}

// "mm_page_free_batched: page=%p pfn=0x%lx order=0"
inline std::string batched_line(int cpu, uint64_t pfn) {
  return head(cpu) + "mm_page_free_batched: page=0000000028add1bf pfn=" + hex(pfn) + " order=0\n";
}

inline std::string extfrag_line(int cpu, uint64_t pfn, int alloc_order, int fallback_order,
                                int alloc_mt, int fallback_mt, bool change_ownership) {
  return head(cpu) + "mm_page_alloc_extfrag: page=00000000d075e96b pfn=" + hex(pfn) +
         " alloc_order=" + std::to_string(alloc_order) +
         " fallback_order=" + std::to_string(fallback_order) + " pageblock_order=9" +
         " alloc_migratetype=" + std::to_string(alloc_mt) +
         " fallback_migratetype=" + std::to_string(fallback_mt) +
         " fragmenting=" + (fallback_order < 9 ? "1" : "0") +
         " change_ownership=" + (change_ownership ? "1" : "0") + "\n";
}

inline std::unique_ptr<Machine> boot(const MachineConfig& cfg = {}) {
  auto m = Machine::boot(cfg);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return std::move(*m);
}

// The whole of a gzipped file, or "" when it cannot be read.
inline std::string read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return {};
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return out;
}

// Every line is accounted for exactly once, every event exactly once.
inline void expect_consistent(const ReplayReport& r) {
  EXPECT_EQ(r.lines, r.events() + r.malformed + r.ignored());
  EXPECT_EQ(r.events(), r.applied() + r.failed_allocs + r.skipped());
  EXPECT_EQ(r.trace_extfrag.events, r.trace_extfrag.claims + r.trace_extfrag.steals);
  EXPECT_EQ(r.emulator_extfrag.events, r.emulator_extfrag.claims + r.emulator_extfrag.steals);
}

// A default machine (one node, 4 GiB, 2 CPUs) and a replayer on it.
class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override { reboot({}); }
  void reboot(const MachineConfig& cfg) {
    replayer.reset();
    machine = boot(cfg);
    replayer = std::make_unique<Replayer>(machine.get());
  }
  const ReplayReport& replay(std::string_view text) {
    replayer->feed(text);
    replayer->finish();
    const ReplayReport& r = replayer->report();
    expect_consistent(r);
    auto check = machine->check();
    EXPECT_TRUE(check.ok()) << check.problems.front();
    return r;
  }
  const PcpStats& pcp(int cpu) {
    stats = machine->stats();
    return stats.nodes[0].zones[2].pcp[cpu];  // Normal
  }

  std::unique_ptr<Machine> machine;
  std::unique_ptr<Replayer> replayer;
  MachineStats stats;
};

}  // namespace memd::testing
