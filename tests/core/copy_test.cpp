// Copying a machine (Machine::clone, Machine::copy_from): a copy is the
// machine it was copied from in every byte it shows (state, the kernel's
// files, the log, the trace buffer) and in every result it gives afterwards,
// and it shares nothing with it. The reference is an independent boot of the
// same configuration run through the same calls.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/machine.h"
#include "core/machine_files.h"
#include "core/pageblock_map.h"
#include "core/render.h"
#include "tests/core/machines.h"

namespace memd {
namespace {

std::unique_ptr<Machine> boot(const MachineConfig& cfg) {
  auto m = Machine::boot(cfg);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return std::move(*m);
}

// Everything a client can read of a machine: its state, every file memd
// serves (the trace file and dmesg included), its warnings.
std::vector<std::string> everything(const Machine& m) {
  std::vector<std::string> out{m.save_state()};
  const MachineStats stats = m.stats();
  for (ProcFile f : kProcFiles) {
    if (f == ProcFile::kPageblocksSvg) {
      out.push_back(render_pageblocks_svg(stats, m.pageblock_snapshot()));
    } else if (rendered_from_stats(f)) {
      out.push_back(render(f, stats));
    } else {
      out.push_back(render_machine_file(f, m));
    }
  }
  for (const std::string& w : m.warnings()) {
    out.push_back(w);
  }
  return out;
}

// A fixed random workload: allocations of every kind and order (some failing
// and reported in the log), frees on every CPU, a sysctl write. Returns what
// each call answered, pfns and errors, to compare two machines' answers.
std::vector<std::string> workload(Machine* m, uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  const Gfp kinds[] = {gfp::kKernel, gfp::kHighuserMovable, gfp::kAtomic,
                       gfp::kKernel | gfp::kReclaimable, gfp::kDma32 | gfp::kKernel};
  std::vector<Pfn> live;
  std::vector<std::string> answers;
  for (int i = 0; i < steps; ++i) {
    if (i == steps / 2) {
      answers.push_back(m->set_sysctl("watermark_scale_factor", "150").ok() ? "ok" : "refused");
    }
    if (live.empty() || rng() % 100 < 65) {
      const unsigned order = rng() % 100 < 80 ? 0 : rng() % 11;
      const int cpu = static_cast<int>(rng() % m->nr_cpus());
      auto a = m->alloc({order, kinds[rng() % 5], std::nullopt, cpu});
      answers.push_back(a ? std::to_string(a->pfn) + "#" + std::to_string(a->id)
                          : a.error().message);
      if (a) live.push_back(a->pfn);
    } else {
      const size_t k = rng() % live.size();
      auto f = m->free_pfn(live[k], static_cast<int>(rng() % m->nr_cpus()));
      answers.push_back(f ? "freed " + std::to_string(f->pfn) : f.error().message);
      live[k] = live.back();
      live.pop_back();
    }
  }
  return answers;
}

TEST(Copy, CloneOfABootedMachineIsAFreshBoot) {
  auto booted = boot(test::machines::two_nodes());
  auto copy = booted->clone();
  auto fresh = boot(test::machines::two_nodes());
  EXPECT_TRUE(copy->check().ok());
  EXPECT_EQ(everything(*copy), everything(*fresh));
  EXPECT_EQ(workload(copy.get(), 7, 3000), workload(fresh.get(), 7, 3000));
  EXPECT_EQ(everything(*copy), everything(*fresh));
  // The copy's calls did not reach the original.
  EXPECT_EQ(everything(*booted), everything(*boot(test::machines::two_nodes())));
}

TEST(Copy, CloneMidRunContinuesIdentically) {
  auto a = boot(test::machines::two_nodes());
  a->set_trace_events(kAllKmemEvents);
  a->set_current_comm("bash");
  workload(a.get(), 1, 2500);
  const std::vector<std::string> before = everything(*a);
  auto b = a->clone();
  EXPECT_EQ(everything(*b), before);
  EXPECT_TRUE(b->check().ok());
  // The same calls give the same answers, the same trace events (the copy
  // traces into its own buffer), the same log.
  EXPECT_EQ(workload(b.get(), 2, 2500), workload(a.get(), 2, 2500));
  EXPECT_EQ(everything(*b), everything(*a));
  EXPECT_NE(everything(*a), before);
}

TEST(Copy, CopyFromReturnsAMachineToTheOriginal) {
  auto booted = boot(test::machines::two_nodes());
  const std::vector<std::string> fresh = everything(*booted);
  auto run = booted->clone();
  std::vector<std::string> first;
  for (uint64_t round = 0; round < 3; ++round) {
    run->set_trace_events(kAllKmemEvents);
    const std::vector<std::string> answers = workload(run.get(), 11, 2000);
    if (round == 0) first = answers;
    EXPECT_EQ(answers, first) << "round " << round;
    EXPECT_NE(everything(*run), fresh);
    run->copy_from(*booted);
    EXPECT_EQ(everything(*run), fresh) << "round " << round;
    EXPECT_TRUE(run->check().ok());
  }
}

TEST(Copy, CopyFromAnotherShape) {
  auto two = boot(test::machines::two_nodes());
  auto one = boot(test::machines::pc_256m(2));
  workload(one.get(), 3, 1000);
  two->copy_from(*one);
  EXPECT_EQ(everything(*two), everything(*one));
  EXPECT_EQ(two->config().size, one->config().size);
  EXPECT_EQ(two->nr_nodes(), 1);
  EXPECT_EQ(workload(two.get(), 4, 1500), workload(one.get(), 4, 1500));
  EXPECT_EQ(everything(*two), everything(*one));
}

struct CountingListener : ExtfragListener {
  int events = 0;
  void on_extfrag(const ExtfragEvent&) override { ++events; }
};

TEST(Copy, OutsideListenersStayWithTheOriginal) {
  auto a = boot(test::machines::pc_64m());
  CountingListener listener;
  a->set_extfrag_listener(&listener);
  auto b = a->clone();
  // Movable allocations until one falls back to another type's pageblock.
  for (int i = 0; i < 20000 && b->alloc({0, gfp::kHighuserMovable, std::nullopt, 0}).ok(); ++i) {
  }
  EXPECT_EQ(listener.events, 0);
  EXPECT_GT(b->stats().extfrag_claims + b->stats().extfrag_steals, 0u);
}

}  // namespace
}  // namespace memd
