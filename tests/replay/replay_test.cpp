// The replay rules of product.md "Trace replay", one small trace each, with
// the exact counts each rule gives.
#include <gtest/gtest.h>

#include <optional>
#include <set>

#include "tests/replay/replay_helpers.h"

namespace memd::testing {
namespace {

constexpr uint64_t kPfn = 0x112db0;
constexpr uint64_t kPfn2 = 0x130b3c;

TEST_F(ReplayTest, AllocThenFreeIsApplied) {
  const auto& r = replay(alloc_line(0, kPfn, 0) + free_line(0, kPfn, 0));
  EXPECT_EQ(r.lines, 2u);
  EXPECT_EQ(r.alloc_events, 1u);
  EXPECT_EQ(r.free_events, 1u);
  EXPECT_EQ(r.applied_allocs, 1u);
  EXPECT_EQ(r.applied_frees, 1u);
  EXPECT_EQ(r.skipped(), 0u);
  EXPECT_EQ(machine->nr_allocations(), 0u);
}

TEST_F(ReplayTest, AllocationKeepsOrderAndGfp) {
  replay(alloc_line(0, kPfn, 3, "GFP_HIGHUSER_MOVABLE|__GFP_COMP"));
  auto a = machine->find_id(1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->order, 3u);
  EXPECT_EQ(a->migratetype, unsigned{kMovable});
}

TEST_F(ReplayTest, MigratetypeFieldIsNotUsed) {
  replay(alloc_line(0, kPfn, 0, "GFP_KERNEL", /*mt=*/1));
  auto a = machine->find_id(1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->migratetype, unsigned{kUnmovable});
}

TEST_F(ReplayTest, GfpNoneIsZero) {
  const auto& r = replay(alloc_line(0, kPfn, 0, "none"));
  EXPECT_EQ(r.applied_allocs, 1u);
  auto a = machine->find_id(1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->migratetype, unsigned{kUnmovable});
  EXPECT_EQ(a->zone_name, "Normal");
}

TEST_F(ReplayTest, TrailingHexBitsAreOredIn) {
  // 0x8 is __GFP_MOVABLE, printed as a number: the allocation is movable.
  const auto& r = replay(alloc_line(0, kPfn, 0, "GFP_KERNEL|0x8"));
  EXPECT_EQ(r.applied_allocs, 1u);
  EXPECT_EQ(r.malformed, 0u);
  auto a = machine->find_id(1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->migratetype, unsigned{kMovable});
}

TEST_F(ReplayTest, AllocationRunsOnTraceCpuModuloMachineCpus) {
  // The trace's CPU 3 is the machine's CPU 1: its per-cpu list is refilled.
  EXPECT_EQ(pcp(0).count, 0);
  EXPECT_EQ(pcp(1).count, 0);
  replay(alloc_line(3, kPfn, 0));
  EXPECT_EQ(pcp(0).count, 0);
  EXPECT_GT(pcp(1).count, 0);
}

TEST_F(ReplayTest, FreeRunsOnTheFreeLinesCpu) {
  replay(alloc_line(0, kPfn, 0));
  const int before0 = pcp(0).count;
  const int before1 = pcp(1).count;
  replay(free_line(5, kPfn, 0));  // CPU 5 is CPU 1
  EXPECT_EQ(pcp(0).count, before0);
  EXPECT_EQ(pcp(1).count, before1 + 1);
}

TEST_F(ReplayTest, AllocationUsesTheCpusNode) {
  MachineConfig cfg;
  cfg.nodes.resize(2);
  cfg.nodes[0].size = 2ULL << 30;
  cfg.nodes[0].cpus = {0};
  cfg.nodes[1].size = 2ULL << 30;
  cfg.nodes[1].cpus = {1};
  reboot(cfg);
  replay(alloc_line(1, kPfn, 0) + alloc_line(2, kPfn2, 0));
  auto a = machine->find_id(1);
  auto b = machine->find_id(2);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->nid, 1);
  EXPECT_EQ(b->nid, 0);
}

TEST_F(ReplayTest, FailedKernelAllocationIsNotReplayed) {
  const auto& r = replay(alloc_line(0, 0, 0) + free_line(0, 0, 0));
  EXPECT_EQ(r.alloc_events, 1u);
  EXPECT_EQ(r.skipped_alloc_failed_in_trace, 1u);
  EXPECT_EQ(r.skipped_free_before_trace, 1u);
  EXPECT_EQ(r.applied(), 0u);
  EXPECT_EQ(machine->nr_allocations(), 0u);
}

TEST_F(ReplayTest, RefusedAllocationsAreSkipped) {
  const auto& r = replay(alloc_line(0, kPfn, 0, "GFP_KERNEL|__GFP_DMA|__GFP_HIGHMEM") +
                         alloc_line(0, kPfn + 1, 0, "GFP_KERNEL|__GFP_MOVABLE|__GFP_RECLAIMABLE") +
                         alloc_line(0, kPfn + 2, 11, "GFP_KERNEL") + free_line(0, kPfn, 0) +
                         free_line(0, kPfn + 2, 0));
  EXPECT_EQ(r.alloc_events, 3u);
  EXPECT_EQ(r.skipped_alloc_refused, 3u);
  EXPECT_EQ(r.skipped_free_before_trace, 2u);  // never mapped
  EXPECT_EQ(r.malformed, 0u);
  ASSERT_EQ(r.malformed_samples.size(), 3u);
  EXPECT_EQ(r.malformed_samples[0].first, 1u);
  EXPECT_EQ(r.malformed_samples[0].second,
            "refused: GFP flags GFP_KERNEL|__GFP_DMA|__GFP_HIGHMEM combine zone modifiers the "
            "kernel rejects (GFP_ZONE_BAD)");
  EXPECT_EQ(r.malformed_samples[1].first, 2u);
  EXPECT_EQ(r.malformed_samples[2].first, 3u);
  EXPECT_EQ(r.malformed_samples[2].second, "refused: order 11 is above MAX_PAGE_ORDER (10)");
  EXPECT_EQ(machine->nr_allocations(), 0u);
}

TEST_F(ReplayTest, AllocationFailingOnTheMachineIsCountedAndItsFreeSkipped) {
  // 64 MiB: DMA and DMA32 only; order-10 GFP_KERNEL blocks run out long before 64.
  MachineConfig cfg;
  cfg.size = 64ULL << 20;
  reboot(cfg);
  std::string trace;
  for (uint64_t i = 0; i < 64; ++i)
    trace += alloc_line(0, 0x100000 + (i << 10), 10);
  const auto& r = replay(trace);
  ASSERT_GT(r.failed_allocs, 0u);
  EXPECT_EQ(r.applied_allocs + r.failed_allocs, 64u);
  EXPECT_EQ(machine->nr_allocations(), r.applied_allocs);
  // Nothing is freed: once one fails, every later one fails; line N is the Nth allocation.
  EXPECT_EQ(r.first_failed_alloc_line, r.applied_allocs + 1);
  // The last allocation failed: its free, then its batched free, are skipped.
  const uint64_t last = 0x100000 + (63 << 10);
  const auto& r2 = replay(free_line(0, last, 10) + batched_line(0, last));
  EXPECT_EQ(r2.skipped_free_of_failed_alloc, 1u);
  EXPECT_EQ(r2.skipped_batched, 1u);
  EXPECT_EQ(r2.applied_frees, 0u);
  EXPECT_EQ(machine->nr_allocations(), r.applied_allocs);
}

TEST_F(ReplayTest, LostFreeOfFailedAllocationSkipsAtBatched) {
  MachineConfig cfg;
  cfg.size = 64ULL << 20;
  reboot(cfg);
  std::string trace;
  for (uint64_t i = 0; i < 64; ++i)
    trace += alloc_line(0, 0x100000 + (i << 10), 10);
  trace += batched_line(0, 0x100000 + (63 << 10));
  const auto& r = replay(trace);
  EXPECT_EQ(r.skipped_free_of_failed_alloc, 1u);
  EXPECT_EQ(r.skipped_batched, 0u);
}

TEST_F(ReplayTest, PfnAllocatedAgainMapsToTheNewBlock) {
  const auto& r = replay(alloc_line(0, kPfn, 0) + alloc_line(0, kPfn, 0) + free_line(0, kPfn, 0));
  EXPECT_EQ(r.applied_allocs, 2u);
  EXPECT_EQ(r.realloc_without_free, 1u);
  EXPECT_EQ(r.applied_frees, 1u);
  EXPECT_TRUE(machine->find_id(1));   // the older block stays allocated
  EXPECT_FALSE(machine->find_id(2));  // the free freed the newer one
  EXPECT_EQ(machine->nr_allocations(), 1u);
}

TEST_F(ReplayTest, FreeUsesTheAllocationsOrder) {
  const auto& r = replay(alloc_line(0, kPfn, 2) + free_line(0, kPfn, 0));
  EXPECT_EQ(r.applied_frees, 1u);
  EXPECT_EQ(r.free_order_mismatch, 1u);
  EXPECT_EQ(machine->nr_allocations(), 0u);
}

TEST_F(ReplayTest, FreeOfPageAllocatedBeforeTheTraceIsSkipped) {
  const auto& r = replay(free_line(1, kPfn, 0) + batched_line(1, kPfn));
  EXPECT_EQ(r.skipped_free_before_trace, 1u);
  EXPECT_EQ(r.skipped_batched, 1u);
  EXPECT_EQ(r.applied(), 0u);
}

TEST_F(ReplayTest, BatchedAfterItsFreeIsCountedNotApplied) {
  const auto& r = replay(alloc_line(0, kPfn, 0) + free_line(1, kPfn, 0) + batched_line(1, kPfn));
  EXPECT_EQ(r.applied_frees, 1u);
  EXPECT_EQ(r.free_batched_events, 1u);
  EXPECT_EQ(r.skipped_batched, 1u);
  EXPECT_EQ(r.applied_batched_frees, 0u);
}

TEST_F(ReplayTest, BatchedFreesAPageWhoseFreeWasLost) {
  // Batched lines print order=0 whatever the order: no mismatch is counted.
  const auto& r = replay(alloc_line(0, kPfn, 3) + batched_line(1, kPfn));
  EXPECT_EQ(r.applied_batched_frees, 1u);
  EXPECT_EQ(r.free_order_mismatch, 0u);
  EXPECT_EQ(machine->nr_allocations(), 0u);
}

TEST_F(ReplayTest, FreeOfABlockFreedByAnotherClientIsSkipped) {
  replay(alloc_line(0, kPfn, 0));
  EXPECT_EQ(machine->free_all(), 1u);
  // The emulated pfn is reused by someone else: the trace's free must not touch it.
  auto other = machine->alloc(AllocRequest{});
  ASSERT_TRUE(other.ok());
  const auto& r = replay(free_line(0, kPfn, 0));
  EXPECT_EQ(r.skipped_free_not_live, 1u);
  EXPECT_TRUE(machine->find_id(other->id));
}

TEST_F(ReplayTest, NonEventLinesAreCountedAndIgnored) {
  const std::string trace =
      "# tracer: nop\n"
      "#\n"
      "# entries-in-buffer/entries-written: 3/3   #P:2\n"
      "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
      "\n"
      "   \t \n"
      "CPU:1 [LOST 25 EVENTS]\n"
      "CPU:0 [LOST 7 EVENTS]\n"
      "          <idle>-0       [001] d..2.   222.995300: sched_switch: prev_comm=swapper/1 "
      "prev_pid=0 ==> next_comm=bash next_pid=4433\n" +
      extfrag_line(0, kPfn, 0, 3, 0, 1, true) + extfrag_line(0, kPfn, 0, 0, 1, 0, false) +
      "hello world\n"
      "CPU:1 [LOST many EVENTS]\n";
  const auto& r = replay(trace);
  EXPECT_EQ(r.lines, 13u);
  EXPECT_EQ(r.ignored_header, 4u);
  EXPECT_EQ(r.ignored_blank, 2u);
  EXPECT_EQ(r.ignored_lost, 2u);
  EXPECT_EQ(r.lost_events, 32u);
  EXPECT_EQ(r.ignored_other_events, 3u);
  EXPECT_EQ(r.ignored_unrecognised, 2u);
  EXPECT_EQ(r.events(), 0u);
  EXPECT_EQ(r.malformed, 0u);
  EXPECT_EQ(r.trace_extfrag.events, 2u);
  EXPECT_EQ(r.trace_extfrag.claims, 1u);
  EXPECT_EQ(r.trace_extfrag.steals, 1u);
  EXPECT_EQ(r.trace_extfrag.fragmenting, 2u);
  EXPECT_EQ(r.trace_extfrag.by_kind.size(), 2u);
  EXPECT_EQ((r.trace_extfrag.by_kind.at({0, 3, 0, 1, true, true})), 1u);
  // Beside the totals, one counter per pair of migrate types that occurred.
  const auto c = r.counters();
  auto counter = [&](std::string_view name) -> std::optional<uint64_t> {
    for (const auto& [n, v] : c) {
      if (n == name) return v;
    }
    return std::nullopt;
  };
  EXPECT_EQ(counter("trace_extfrag_claims"), 1u);
  EXPECT_EQ(counter("trace_extfrag_unmovable_from_movable"), 1u);
  EXPECT_EQ(counter("trace_extfrag_movable_from_unmovable"), 1u);
  EXPECT_EQ(counter("trace_extfrag_reclaimable_from_movable"), std::nullopt);
}

TEST_F(ReplayTest, TaskNamesMayHoldSpacesAndBrackets) {
  const std::string fields =
      "mm_page_alloc: page=0000000000000000 pfn=0x112db0 order=0 "
      "migratetype=0 gfp_flags=GFP_KERNEL\n";
  const auto& r = replay("  Web Content [2] x-4711 [001] d..2.   1.5: " + fields +  // CPU 1
                         "[7]-12 [000] 1.5: " + fields +                            // no flags
                         "kworker/u8:2-123 [001] ....   99: " + fields);            // counter clock
  EXPECT_EQ(r.applied_allocs, 3u);
  EXPECT_EQ(r.realloc_without_free, 2u);
  EXPECT_EQ(r.ignored(), 0u);
  EXPECT_EQ(pcp(0).count > 0, true);
  EXPECT_EQ(pcp(1).count > 0, true);
}

TEST_F(ReplayTest, CpuIsTheBracketBeforeTheEvent) {
  // "[1]" inside the task name is not the CPU field: "[000]" is.
  replay(
      "a [1] b-7 [000] ..... 1.0: mm_page_alloc: page=0 pfn=0x10 order=0 migratetype=0 "
      "gfp_flags=GFP_KERNEL\n");
  EXPECT_GT(pcp(0).count, 0);
  EXPECT_EQ(pcp(1).count, 0);
}

TEST_F(ReplayTest, CarriageReturnsAndTrailingBlanksAreAccepted) {
  std::string a = alloc_line(0, kPfn, 0);
  a.insert(a.size() - 1, "  \r");
  const auto& r = replay(a);
  EXPECT_EQ(r.applied_allocs, 1u);
  EXPECT_EQ(r.malformed, 0u);
}

TEST_F(ReplayTest, LastLineWithoutNewlineIsAppliedAtFinish) {
  std::string a = alloc_line(0, kPfn, 0);
  a.pop_back();
  EXPECT_EQ(replayer->feed(a), 0u);
  EXPECT_EQ(replayer->report().lines, 0u);
  replayer->finish();
  EXPECT_EQ(replayer->report().lines, 1u);
  EXPECT_EQ(replayer->report().applied_allocs, 1u);
}

TEST_F(ReplayTest, FeedReturnsCompleteLines) {
  const std::string t = alloc_line(0, kPfn, 0) + free_line(0, kPfn, 0);
  EXPECT_EQ(replayer->feed(t.substr(0, 10)), 0u);
  EXPECT_EQ(replayer->feed(t.substr(10, t.size() - 20)), 1u);
  EXPECT_EQ(replayer->feed(t.substr(t.size() - 10)), 1u);
  replayer->finish();
  EXPECT_EQ(replayer->report().lines, 2u);
  EXPECT_EQ(machine->nr_allocations(), 0u);
}

TEST_F(ReplayTest, EmulatorFallbacksAreReported) {
  // A fresh machine has only Movable pageblocks: unmovable allocations fall back.
  std::string trace;
  for (int i = 0; i < 2000; ++i)
    trace += alloc_line(i % 2, 0x100000 + i, 0, "GFP_KERNEL");
  const auto& r = replay(trace);
  const MachineStats s = machine->stats();
  EXPECT_GT(r.emulator_extfrag.events, 0u);
  EXPECT_EQ(r.emulator_extfrag.claims, s.extfrag_claims);
  EXPECT_EQ(r.emulator_extfrag.steals, s.extfrag_steals);
  uint64_t by_kind = 0;
  for (const auto& [kind, n] : r.emulator_extfrag.by_kind) {
    EXPECT_EQ(kind.alloc_migratetype, int{kUnmovable});
    by_kind += n;
  }
  EXPECT_EQ(by_kind, r.emulator_extfrag.events);
}

TEST_F(ReplayTest, OnlyTheReplaysFallbacksAreReported) {
  replay(alloc_line(0, kPfn, 0, "GFP_KERNEL"));
  const uint64_t seen = replayer->report().emulator_extfrag.events;
  // Other clients' allocations between feeds are not the replay's.
  for (int i = 0; i < 3000; ++i)
    ASSERT_TRUE(machine->alloc(AllocRequest{}).ok());
  const MachineStats s = machine->stats();
  ASSERT_GT(s.extfrag_claims + s.extfrag_steals, seen);
  EXPECT_EQ(replayer->report().emulator_extfrag.events, seen);
}

TEST_F(ReplayTest, CountersAreNamedInAFixedOrder) {
  const auto& r = replay(alloc_line(0, kPfn, 0) + "\n");
  const auto c = r.counters();
  ASSERT_GE(c.size(), 10u);
  EXPECT_EQ(c[0], (std::pair<std::string, uint64_t>{"lines", 2}));
  EXPECT_EQ(c[1], (std::pair<std::string, uint64_t>{"events", 1}));
  std::set<std::string> names;
  for (const auto& [name, v] : c)
    EXPECT_TRUE(names.insert(name).second) << name;
  EXPECT_TRUE(names.count("applied") && names.count("skipped") && names.count("failed_allocs") &&
              names.count("trace_extfrag") && names.count("emulator_extfrag_claims") &&
              names.count("emulator_extfrag_steals") && names.count("malformed_lines") &&
              !names.count("malformed"));
}

}  // namespace
}  // namespace memd::testing
