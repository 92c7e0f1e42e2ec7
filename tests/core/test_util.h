// Helpers shared by the core tests: booting small machines, reading the free
// lists and per-cpu lists of a zone in list order, recording extfrag events.
// Expected values in the tests are derived from the kernel's code (mm/), never
// from memd's implementation.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/machine.h"

namespace memd::test {

// x86_64 zone indices (enum zone_type with DMA, DMA32, NORMAL, MOVABLE, DEVICE).
inline constexpr unsigned kZoneDma = 0;
inline constexpr unsigned kZoneDma32 = 1;
inline constexpr unsigned kZoneNormal = 2;
inline constexpr unsigned kZoneMovable = 3;
inline constexpr unsigned kZoneDevice = 4;

inline constexpr uint64_t kMiB = 1ULL << 20;
inline constexpr uint64_t kGiB = 1ULL << 30;

// The lines of `text`, without their newlines.
inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string reference_path(const std::string& rel) {
  return std::string(MEMD_REFERENCE_DIR) + "/" + rel;
}

// A machine laid out like qemu's pc machine with `bytes` of RAM (§15.1).
inline MachineConfig pc_machine(uint64_t bytes, int cpus = 1, bool thp = true) {
  MachineConfig cfg;
  cfg.size = bytes;
  cfg.cpus = cpus;
  cfg.thp = thp;
  return cfg;
}

inline std::unique_ptr<Machine> boot(const MachineConfig& cfg) {
  auto r = Machine::boot(cfg);
  if (!r.ok()) {
    ADD_FAILURE() << "boot failed: " << r.error().message;
    return nullptr;
  }
  return std::move(*r);
}

// Boots or fails the current test (ASSERT-style, so only in void contexts).
#define MEMD_BOOT(var, cfg)                   \
  auto var##_owner = ::memd::test::boot(cfg); \
  ASSERT_NE(var##_owner, nullptr);            \
  ::memd::Machine& var = *var##_owner

// Frees blocks on a zone's buddy free list, head to tail.
inline std::vector<Pfn> free_list(const Zone& z, unsigned order, unsigned mt) {
  std::vector<Pfn> out;
  uint32_t p = z.free_area[order].free_list[mt].head;
  while (p != kNilPfn && out.size() < 100000) {
    out.push_back(p);
    p = z.ctx->frames[p].next;
  }
  return out;
}

// Blocks on a per-cpu list, head to tail.
inline std::vector<Pfn> pcp_list(const Zone& z, int cpu, unsigned pindex) {
  std::vector<Pfn> out;
  uint32_t p = z.pcp[cpu].lists[pindex].head;
  while (p != kNilPfn && out.size() < 100000) {
    out.push_back(p);
    p = z.ctx->frames[p].next;
  }
  return out;
}

// order_to_pindex() with THP configured.
inline unsigned pindex(unsigned mt, unsigned order) {
  if (order > kPageAllocCostlyOrder) return kNrLowOrderPcpLists + (mt == kMovable ? 1 : 0);
  return kMigratePcpTypes * order + mt;
}

// first, first+step, ..., up to and including last.
inline std::vector<Pfn> pfn_range(Pfn first, Pfn last, uint64_t step = 1) {
  std::vector<Pfn> out;
  for (Pfn p = first; p <= last; p += step)
    out.push_back(p);
  return out;
}

inline unsigned block_type(const Machine& m, Pfn pfn) {
  return m.zone(0, 0).ctx->pageblocks.get(pfn);
}

// Allocates or records a test failure; a failed allocation returns pfn ~0.
inline Allocation alloc_ok(Machine& m, unsigned order, Gfp gfp, int cpu = 0,
                           std::optional<int> node = std::nullopt) {
  AllocRequest req;
  req.order = order;
  req.gfp = gfp;
  req.cpu = cpu;
  req.node = node;
  auto r = m.alloc(req);
  if (!r.ok()) {
    ADD_FAILURE() << "allocation failed: " << r.error().message;
    Allocation bad;
    bad.pfn = ~0ULL;
    return bad;
  }
  return *r;
}

inline Result<Allocation> try_alloc(Machine& m, unsigned order, Gfp gfp, int cpu = 0,
                                    std::optional<int> node = std::nullopt) {
  AllocRequest req;
  req.order = order;
  req.gfp = gfp;
  req.cpu = cpu;
  req.node = node;
  return m.alloc(req);
}

inline void free_ok(Machine& m, Pfn pfn, int cpu = 0) {
  auto r = m.free_pfn(pfn, cpu);
  if (!r.ok()) ADD_FAILURE() << "free of " << pfn << " failed: " << r.error().message;
}

inline void set_sysctl_ok(Machine& m, std::string_view name, std::string_view value) {
  auto s = m.set_sysctl(name, value);
  if (!s.ok()) ADD_FAILURE() << "sysctl " << name << "=" << value << ": " << s.error().message;
}

class ExtfragRecorder : public ExtfragListener {
 public:
  void on_extfrag(const ExtfragEvent& e) override { events.push_back(e); }
  std::vector<ExtfragEvent> events;
};

inline std::string describe(const ExtfragEvent& e) {
  std::ostringstream os;
  os << "pfn=" << e.pfn << " alloc_order=" << e.alloc_order
     << " fallback_order=" << e.fallback_order << " alloc_mt=" << e.alloc_migratetype
     << " fallback_mt=" << e.fallback_migratetype << " change_ownership=" << e.change_ownership;
  return os.str();
}

inline void expect_extfrag(const ExtfragEvent& e, Pfn pfn, int alloc_order, int fallback_order,
                           int alloc_mt, int fallback_mt, bool change_ownership) {
  EXPECT_EQ(e.pfn, pfn) << describe(e);
  EXPECT_EQ(e.alloc_order, alloc_order) << describe(e);
  EXPECT_EQ(e.fallback_order, fallback_order) << describe(e);
  EXPECT_EQ(e.alloc_migratetype, alloc_mt) << describe(e);
  EXPECT_EQ(e.fallback_migratetype, fallback_mt) << describe(e);
  EXPECT_EQ(e.change_ownership, change_ownership) << describe(e);
}

inline void expect_check(const Machine& m) {
  CheckReport r = m.check();
  EXPECT_TRUE(r.ok()) << (r.ok() ? std::string() : r.problems.front());
}

}  // namespace memd::test
