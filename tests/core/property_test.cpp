// Property tests (rapidcheck): long random sequences of allocations, frees
// and sysctl writes on several machine shapes, with Machine::check() -- every
// invariant of the allocator -- asserted after every step, plus the
// properties every allocation must have whatever the kernel's choices
// (alignment, zone eligibility for the GFP flags, __GFP_THISNODE, no overlap
// with a live allocation, refused requests change nothing); and determinism:
// two machines fed the same sequence give the same pfns and identical stats.
// Memory blocks go offline and online among the steps: no allocation is
// lost, and none without __GFP_MOVABLE ever moves.
//
// The number of cases is bounded (the whole suite runs in seconds); set
// MEMD_LONG_TESTS=1 for a longer run. RC_PARAMS, when set, wins (e.g.
// RC_PARAMS="seed=123 max_success=1000" to reproduce or extend).
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/machine.h"
#include "tests/core/test_util.h"

namespace memd {
namespace {

using test::kGiB;
using test::kMiB;

bool long_tests() {
  const char* v = std::getenv("MEMD_LONG_TESTS");
  return v != nullptr && std::string(v) == "1";
}

// rapidcheck reads RC_PARAMS once, at its first use; set bounded defaults
// unless the user gave their own. Also done before main() (below), in case
// another test file uses rapidcheck first.
void rc_defaults() {
  setenv("RC_PARAMS", long_tests() ? "max_success=500 max_size=400" : "max_success=25 max_size=120",
         /*overwrite=*/0);
}
[[maybe_unused]] const bool kRcDefaultsSet = (rc_defaults(), true);

int max_ops() {
  return long_tests() ? 3000 : 250;
}

// The GFP kinds the sequences draw from.
const std::vector<Gfp>& gfp_kinds() {
  static const std::vector<Gfp> kinds = {
      gfp::kKernel,
      gfp::kKernel,
      gfp::kHighuserMovable,
      gfp::kHighuserMovable,
      gfp::kAtomic,
      gfp::kNowait,
      gfp::kKernel | gfp::kReclaimable,
      gfp::kKernel | gfp::kDma,
      gfp::kKernel | gfp::kDma32,
      gfp::kKernel | gfp::kThisnode,
      gfp::kHighuserMovable | gfp::kThisnode,
      gfp::kTranshugeLight,
      gfp::kKernel | gfp::kNoretry | gfp::kNowarn,
      gfp::kKernel | gfp::kRetryMayfail,
      gfp::kAtomic | gfp::kDma32,
      gfp::kUser,
      gfp::kHighuser,
      gfp::kKernel & ~gfp::kKswapdReclaim,
      gfp::kKernelAccount | gfp::kZero,
  };
  return kinds;
}

struct SysctlWrite {
  std::string name, value;
};
const std::vector<SysctlWrite>& sysctl_writes() {
  static const std::vector<SysctlWrite> w = {
      {"min_free_kbytes", "128"},
      {"min_free_kbytes", "1024"},
      {"min_free_kbytes", "4096"},
      {"min_free_kbytes", "16384"},
      {"watermark_scale_factor", "1"},
      {"watermark_scale_factor", "10"},
      {"watermark_scale_factor", "300"},
      {"watermark_scale_factor", "3000"},
      {"watermark_boost_factor", "0"},
      {"watermark_boost_factor", "15000"},
      {"percpu_pagelist_high_fraction", "0"},
      {"percpu_pagelist_high_fraction", "8"},
      {"percpu_pagelist_high_fraction", "1000"},
      {"lowmem_reserve_ratio", "256 256 32 0 0"},
      {"lowmem_reserve_ratio", "32 32 4 0 0"},
      {"lowmem_reserve_ratio", "1 1 1 0 0"},
  };
  return w;
}

enum class OpKind { kAlloc, kFree, kFreeBad, kSysctl, kFreeAll, kOffline, kOnline };

struct Op {
  OpKind kind = OpKind::kAlloc;
  unsigned order = 0;
  unsigned gfp_idx = 0;
  int cpu = 0;
  int node = -1;  // -1: the CPU's node
  uint32_t pick = 0;
  unsigned sysctl_idx = 0;
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
  switch (op.kind) {
    case OpKind::kAlloc:
      os << "alloc order=" << op.order << " gfp=" << format_gfp(gfp_kinds()[op.gfp_idx])
         << " cpu=" << op.cpu << " node=" << op.node;
      break;
    case OpKind::kFree:
      os << "free #" << op.pick << " cpu=" << op.cpu;
      break;
    case OpKind::kFreeBad:
      os << "free-bad " << op.pick;
      break;
    case OpKind::kSysctl:
      os << "sysctl " << sysctl_writes()[op.sysctl_idx].name << "="
         << sysctl_writes()[op.sysctl_idx].value;
      break;
    case OpKind::kFreeAll:
      os << "free all cpu=" << op.cpu;
      break;
    case OpKind::kOffline:
      os << "offline block #" << op.pick;
      break;
    case OpKind::kOnline:
      os << "online block #" << op.pick << " type " << op.order % 3;
      break;
  }
  return os;
}

}  // namespace
}  // namespace memd

namespace rc {
template <>
struct Arbitrary<memd::Op> {
  static Gen<memd::Op> arbitrary() {
    using memd::Op;
    using memd::OpKind;
    return gen::apply(
        [](OpKind kind, unsigned order, unsigned gfp_idx, int cpu, int node, uint32_t pick,
           unsigned sysctl_idx) {
          Op op;
          op.kind = kind;
          op.order = order;
          op.gfp_idx = gfp_idx;
          op.cpu = cpu;
          op.node = node;
          op.pick = pick;
          op.sysctl_idx = sysctl_idx;
          return op;
        },
        gen::weightedElement<OpKind>({{60, OpKind::kAlloc},
                                      {34, OpKind::kFree},
                                      {2, OpKind::kFreeBad},
                                      {3, OpKind::kSysctl},
                                      {1, OpKind::kFreeAll},
                                      {3, OpKind::kOffline},
                                      {3, OpKind::kOnline}}),
        gen::weightedElement<unsigned>({{30, 0},
                                        {10, 1},
                                        {8, 2},
                                        {8, 3},
                                        {4, 4},
                                        {3, 5},
                                        {3, 6},
                                        {3, 7},
                                        {3, 8},
                                        {8, 9},
                                        {5, 10}}),
        gen::inRange<unsigned>(0, static_cast<unsigned>(memd::gfp_kinds().size())),
        gen::inRange(0, 8), gen::inRange(-1, 4), gen::arbitrary<uint32_t>(),
        gen::inRange<unsigned>(0, static_cast<unsigned>(memd::sysctl_writes().size())));
  }
};
}  // namespace rc

namespace memd {
namespace {

// Machine shapes the properties run on.
MachineConfig shape(int which) {
  MachineConfig cfg;
  switch (which) {
    case 0:  // 64 MiB, one node, one CPU
      cfg = test::pc_machine(64 * kMiB, 1, true);
      break;
    case 1: {  // 2 nodes of 32 MiB, 2 CPUs
      cfg = test::pc_machine(64 * kMiB, 2, true);
      for (int n = 0; n < 2; ++n) {
        NodeConfig nc;
        nc.size = 32 * kMiB;
        cfg.nodes.push_back(nc);
      }
      break;
    }
    case 2:  // DMA, DMA32 and Normal (64 MiB at 4 GiB), 2 CPUs
      cfg.e820 =
          "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
          "BIOS-e820: [mem 0x0000000000100000-0x0000000003ffffff] usable\n"
          "BIOS-e820: [mem 0x0000000100000000-0x0000000103ffffff] usable\n";
      cfg.cpus = 2;
      break;
    case 3: {  // 4 nodes with the kernel-6.1 c SLIT, 4 CPUs
      cfg = test::pc_machine(64 * kMiB, 4, true);
      std::vector<std::vector<int>> d = {
          {10, 20, 30, 40}, {20, 10, 20, 30}, {30, 20, 10, 20}, {40, 30, 20, 10}};
      for (int n = 0; n < 4; ++n) {
        NodeConfig nc;
        nc.size = 16 * kMiB;
        nc.distance = d[n];
        cfg.nodes.push_back(nc);
      }
      break;
    }
    case 4:  // ZONE_MOVABLE cut from DMA32, with a reservation in the middle
      cfg = test::pc_machine(64 * kMiB, 2, true);
      cfg.cmdline = "kernelcore=32M";
      cfg.reserved.push_back({20 * kMiB, 20 * kMiB + 300 * 4096});
      break;
    case 5:  // i386 with HighMem
      cfg = test::pc_machine(960 * kMiB, 2, false);
      cfg.arch = Arch::kI386;
      break;
    case 6:  // Normal split by movablecore across 2 nodes
      cfg.e820 =
          "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
          "BIOS-e820: [mem 0x0000000000100000-0x0000000001ffffff] usable\n"
          "BIOS-e820: [mem 0x0000000100000000-0x0000000105ffffff] usable\n";
      cfg.cpus = 2;
      cfg.cmdline = "movablecore=32M";
      {
        NodeConfig n0;
        n0.range = PhysRange{0, 0x100000000ULL + 48 * kMiB};
        NodeConfig n1;
        n1.range = PhysRange{0x100000000ULL + 48 * kMiB, 0x106000000ULL};
        cfg.nodes = {n0, n1};
      }
      break;
    case 7:  // 512 MiB without holes above 1 MiB, movablecore=256M: memory1 DMA32,
             // memory2 and memory3 Movable
      cfg.e820 =
          "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\n"
          "BIOS-e820: [mem 0x0000000000100000-0x000000001fffffff] usable\n";
      cfg.cpus = 2;
      cfg.cmdline = "movablecore=256M";
      break;
    case 8:  // the same 512 MiB as two nodes of 256 MiB: migration targets on the other node
      cfg = shape(7);
      cfg.cmdline.clear();
      {
        NodeConfig n0;
        n0.range = PhysRange{0, 256 * kMiB};
        n0.cpus = {0};
        NodeConfig n1;
        n1.range = PhysRange{256 * kMiB, 512 * kMiB};
        n1.cpus = {1};
        cfg.nodes = {n0, n1};
      }
      break;
    default:
      break;
  }
  return cfg;
}

struct Live {
  Pfn pfn;
  unsigned order;
  AllocId id;
  bool movable;  // __GFP_MOVABLE: only these may migrate (linux-mm.md §12.5)
};

// A memory block of the machine, picked by `pick`.
uint64_t pick_block(const Machine& m, uint32_t pick) {
  const auto& blocks = m.memory_blocks().blocks();
  return blocks.empty() ? 0 : blocks[pick % blocks.size()].id;
}

// offline_block(): whatever the outcome, every allocation keeps its id and
// order, an allocation without __GFP_MOVABLE never moves, and a successful
// offline leaves no allocation in the block. `live` follows the moves.
std::string apply_offline(Machine& m, std::vector<Live>& live, const Op& op) {
  const uint64_t block = pick_block(m, op.pick);
  const HotplugResult r = m.offline_block(block);
  const uint64_t per_block = m.memory_blocks().pages_per_block();
  for (Live& l : live) {
    auto now = m.find_id(l.id);
    RC_ASSERT(now.has_value());
    RC_ASSERT(now->order == l.order);
    if (!l.movable) RC_ASSERT(now->pfn == l.pfn);
    if (r.ok()) RC_ASSERT(per_block == 0 || now->pfn / per_block != block);
    l.pfn = now->pfn;
  }
  RC_ASSERT(r.ok() || r.migrated_pages == 0 || r.error == EINTR);
  return "offline " + std::to_string(r.error) + " " + std::to_string(r.migrated_pages);
}

std::string apply_online(Machine& m, const Op& op) {
  const uint64_t block = pick_block(m, op.pick);
  const OnlineType types[] = {OnlineType::kOnline, OnlineType::kOnlineKernel,
                              OnlineType::kOnlineMovable};
  const HotplugResult r = m.online_block(block, types[op.order % 3]);
  if (r.ok()) {
    const MemoryBlock* b = m.memory_blocks().find(block);
    RC_ASSERT(b->state == MemoryBlockState::kOnline && b->zone.has_value());
  }
  return "online " + std::to_string(r.error) + " " + r.zone_name;
}

// Zone index limit for a GFP mask (gfp_zone), for eligibility checks.
int highest_zone(const Machine& m, Gfp g) {
  return gfp_zone(g, m.layout().arch.arch);
}

// Applies one op, asserting what every outcome must satisfy. Returns a short
// record of the outcome, for determinism comparisons.
std::string apply(Machine& m, std::vector<Live>& live, const Op& op) {
  const int cpu = op.cpu % m.nr_cpus();
  std::ostringstream out;
  switch (op.kind) {
    case OpKind::kAlloc: {
      AllocRequest req;
      req.order = op.order;
      req.gfp = gfp_kinds()[op.gfp_idx];
      req.cpu = cpu;
      if (op.node >= 0) req.node = op.node % m.nr_nodes();
      auto r = m.alloc(req);
      if (!r.ok()) {
        RC_ASSERT(r.error().message.find("page allocation failure: order:" +
                                         std::to_string(op.order)) == 0);
        out << "fail";
        break;
      }
      const Allocation& a = *r;
      RC_ASSERT(a.order == op.order);
      RC_ASSERT(a.pfn % (Pfn{1} << a.order) == 0);
      const Zone& z = m.zone(a.nid, a.zone_idx);
      RC_ASSERT(z.spans(a.pfn));
      RC_ASSERT(z.spans(a.pfn + (Pfn{1} << a.order) - 1));
      RC_ASSERT(static_cast<int>(a.zone_idx) <= highest_zone(m, req.gfp));
      if ((req.gfp & gfp::kThisnode) != 0) {
        int want = req.node ? *req.node : m.layout().cpu_node[cpu];
        RC_ASSERT(a.nid == want);
      }
      for (const Live& l : live) {
        bool disjoint =
            a.pfn + (Pfn{1} << a.order) <= l.pfn || l.pfn + (Pfn{1} << l.order) <= a.pfn;
        RC_ASSERT(disjoint);
      }
      live.push_back({a.pfn, a.order, a.id, (req.gfp & gfp::kMovable) != 0});
      out << a.pfn << "@" << a.nid << "/" << a.zone_idx;
      break;
    }
    case OpKind::kFree: {
      if (live.empty()) {
        out << "none";
        break;
      }
      size_t i = op.pick % live.size();
      auto r = m.free_pfn(live[i].pfn, cpu);
      RC_ASSERT(r.ok());
      RC_ASSERT(r->pfn == live[i].pfn);
      RC_ASSERT(r->order == live[i].order);
      live.erase(live.begin() + static_cast<long>(i));
      out << "freed";
      break;
    }
    case OpKind::kFreeBad: {
      // A pfn that is not the head of a live allocation: refused.
      Pfn p = 1 + op.pick % 20000;
      bool is_head = false;
      for (const Live& l : live)
        is_head |= l.pfn == p;
      if (is_head) break;
      uint64_t before = m.nr_allocations();
      auto r = m.free_pfn(p, cpu);
      RC_ASSERT(!r.ok());
      RC_ASSERT(m.nr_allocations() == before);
      out << "refused";
      break;
    }
    case OpKind::kSysctl: {
      const SysctlWrite& w = sysctl_writes()[op.sysctl_idx];
      std::string value = w.value;
      if (w.name == "lowmem_reserve_ratio") {
        // One value per zone of the layout (i386 has no DMA32 and no Device).
        std::istringstream in(w.value);
        std::vector<std::string> v;
        for (std::string t; in >> t;)
          v.push_back(t);
        value.clear();
        for (unsigned i = 0; i < m.layout().arch.nr_zones(); ++i) {
          value += (i ? " " : "") + (i < v.size() ? v[i] : std::string("0"));
        }
      }
      Status s = m.set_sysctl(w.name, value);
      RC_ASSERT(s.ok());
      out << "ok";
      break;
    }
    case OpKind::kFreeAll: {
      uint64_t n = m.free_all(cpu);
      RC_ASSERT(n == live.size());
      live.clear();
      RC_ASSERT(m.nr_allocations() == 0u);
      out << "all";
      break;
    }
    case OpKind::kOffline:
      out << apply_offline(m, live, op);
      break;
    case OpKind::kOnline:
      out << apply_online(m, op);
      break;
  }
  RC_ASSERT(m.nr_allocations() == live.size());
  return out.str();
}

std::string first_problem(const CheckReport& r) {
  return r.ok() ? "" : r.problems.front();
}

void run_sequence_property(int which) {
  rc_defaults();
  bool ok =
      rc::check("every step keeps every invariant (shape " + std::to_string(which) + ")", [which] {
        auto ops = *rc::gen::resize(max_ops(), rc::gen::arbitrary<std::vector<Op>>());
        auto booted = Machine::boot(shape(which));
        RC_ASSERT(booted.ok());
        Machine& m = **booted;
        const uint64_t total_free = [&] {
          uint64_t f = 0;
          for (const NodeStats& n : m.stats().nodes)
            for (const ZoneStats& z : n.zones)
              f += z.free_pages;
          return f;
        }();
        std::vector<Live> live;
        for (size_t i = 0; i < ops.size(); ++i) {
          apply(m, live, ops[i]);
          CheckReport rep = m.check();
          if (!rep.ok()) {
            RC_FAIL("after step " + std::to_string(i) + ": " + first_problem(rep));
          }
        }
        // Every block back online, then freeing everything and draining
        // nothing: buddy + pcp pages + live = managed, as at boot.
        for (const MemoryBlock& b : std::vector<MemoryBlock>(m.memory_blocks().blocks())) {
          if (b.state == MemoryBlockState::kOffline) {
            RC_ASSERT(m.online_block(b.id, OnlineType::kOnline).ok());
          }
        }
        m.free_all(0);
        RC_ASSERT(m.check().ok());
        MachineStats st = m.stats();
        uint64_t free = 0, pcp = 0, managed = 0;
        for (const NodeStats& n : st.nodes) {
          for (const ZoneStats& z : n.zones) {
            free += z.free_pages;
            managed += z.managed;
            for (const PcpStats& p : z.pcp)
              pcp += static_cast<uint64_t>(p.count);
          }
        }
        RC_ASSERT(free + pcp == managed);
        RC_ASSERT(total_free == managed);
      });
  EXPECT_TRUE(ok);
}

TEST(Property, InvariantsOneNode64M) {
  run_sequence_property(0);
}
TEST(Property, InvariantsTwoNodes) {
  run_sequence_property(1);
}
TEST(Property, InvariantsWithNormal) {
  run_sequence_property(2);
}
TEST(Property, InvariantsFourNodesDistances) {
  run_sequence_property(3);
}
TEST(Property, InvariantsKernelcoreAndReservation) {
  run_sequence_property(4);
}
TEST(Property, InvariantsI386HighMem) {
  run_sequence_property(5);
}
TEST(Property, InvariantsMovablecoreTwoNodes) {
  run_sequence_property(6);
}
TEST(Property, InvariantsHotplugMovablecore) {
  run_sequence_property(7);
}
TEST(Property, InvariantsHotplugTwoNodes) {
  run_sequence_property(8);
}

// Everything the files print, as one string.
std::string digest(const MachineStats& st) {
  std::ostringstream os;
  os << st.min_free_kbytes << ' ' << st.watermark_scale_factor << ' ' << st.watermark_boost_factor
     << ' ' << st.percpu_pagelist_high_fraction << ' ' << st.totalreserve_pages << ' ' << st.pgfree
     << ' ' << st.extfrag_claims << ' ' << st.extfrag_steals << '\n';
  for (const NodeStats& n : st.nodes) {
    os << "node " << n.nid << ' ' << n.totalreserve_pages << '\n';
    for (const ZoneStats& z : n.zones) {
      os << z.name << ' ' << z.free_pages << ' ' << z.free_pages_blocks << ' ' << z.boost << ' '
         << z.pgalloc << ' ' << z.nr_reserved_highatomic << ' ' << z.nr_free_highatomic << ' '
         << z.stat_threshold << " |";
      for (uint64_t w : z.watermark)
        os << ' ' << w;
      os << " |";
      for (int64_t r : z.lowmem_reserve)
        os << ' ' << r;
      os << " |";
      for (unsigned o = 0; o < kNrPageOrders; ++o) {
        os << ' ' << z.nr_free[o];
        for (uint64_t c : z.nr_free_by_type[o])
          os << ':' << c;
      }
      os << " |";
      for (uint64_t b : z.block_count)
        os << ' ' << b;
      os << " |";
      for (uint64_t s : z.numa)
        os << ' ' << s;
      os << " |";
      for (const PcpStats& p : z.pcp) {
        os << ' ' << p.count << '/' << p.high << '/' << p.batch << '/' << p.high_min << '/'
           << p.high_max;
      }
      os << '\n';
    }
  }
  return os.str();
}

void run_determinism_property(int which) {
  rc_defaults();
  bool ok = rc::check(
      "same sequence, same pfns and stats (shape " + std::to_string(which) + ")", [which] {
        auto ops = *rc::gen::resize(max_ops(), rc::gen::arbitrary<std::vector<Op>>());
        auto a = Machine::boot(shape(which));
        auto b = Machine::boot(shape(which));
        RC_ASSERT(a.ok());
        RC_ASSERT(b.ok());
        std::vector<Live> la, lb;
        for (size_t i = 0; i < ops.size(); ++i) {
          std::string ra = apply(**a, la, ops[i]);
          std::string rb = apply(**b, lb, ops[i]);
          if (ra != rb) RC_FAIL("step " + std::to_string(i) + ": " + ra + " vs " + rb);
        }
        RC_ASSERT(digest((*a)->stats()) == digest((*b)->stats()));
      });
  EXPECT_TRUE(ok);
}

TEST(Property, DeterminismOneNode) {
  run_determinism_property(0);
}
TEST(Property, DeterminismTwoNodes) {
  run_determinism_property(1);
}
TEST(Property, DeterminismWithNormal) {
  run_determinism_property(2);
}
TEST(Property, DeterminismI386) {
  run_determinism_property(5);
}
TEST(Property, DeterminismHotplug) {
  run_determinism_property(7);
}

// A failed or refused request leaves the machine exactly as it was.
TEST(Property, RefusedAndFailedRequestsChangeNothing) {
  rc_defaults();
  bool ok = rc::check("refused requests change nothing", [] {
    auto booted = Machine::boot(shape(0));
    RC_ASSERT(booted.ok());
    Machine& m = **booted;
    const unsigned order = *rc::gen::inRange(11u, 40u);
    const Gfp bad = *rc::gen::element<Gfp>(0x3, 0x5, 0x6, 0x7, 0xb, 0xd, 0xe, 0xf, 0x18, 0xcd8);
    std::string before = digest(m.stats());
    RC_ASSERT(!m.alloc({order, gfp::kKernel, std::nullopt, 0}).ok());
    RC_ASSERT(!m.alloc({0, bad, std::nullopt, 0}).ok());
    RC_ASSERT(!m.alloc({0, gfp::kKernel, std::nullopt, 7}).ok());  // no such CPU
    RC_ASSERT(!m.alloc({0, gfp::kKernel, 5, 0}).ok());             // no such node
    RC_ASSERT(digest(m.stats()) == before);
    RC_ASSERT(m.check().ok());
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace memd
