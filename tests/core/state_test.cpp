// Saving and restoring a machine's state (core/state.cpp): a restored machine
// is indistinguishable from the original (same counters, same next pfns);
// foreign, truncated and damaged state is refused without a half-loaded machine.
#include <gtest/gtest.h>

#include <random>

#include "core/machine.h"

namespace memd {
namespace {

MachineConfig small_config() {
  MachineConfig cfg;
  cfg.size = 256ULL << 20;
  cfg.cpus = 2;
  return cfg;
}

// Drives a machine through a fixed random workload that leaves free lists,
// per-cpu lists, allocations, boosted watermarks and retyped pageblocks.
std::vector<Pfn> workload(Machine* m, uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  const Gfp kinds[] = {gfp::kKernel, gfp::kHighuserMovable, gfp::kAtomic,
                       gfp::kKernel | gfp::kReclaimable, gfp::kDma32 | gfp::kKernel};
  std::vector<Pfn> live;
  for (int i = 0; i < steps; ++i) {
    if (live.empty() || rng() % 100 < 60) {
      unsigned order = rng() % 100 < 80 ? 0 : rng() % 11;
      auto a = m->alloc(
          {order, kinds[rng() % 5] | gfp::kNowarn, std::nullopt, static_cast<int>(rng() % 2)});
      if (a) live.push_back(a->pfn);
    } else {
      size_t k = rng() % live.size();
      EXPECT_TRUE(m->free_pfn(live[k], static_cast<int>(rng() % 2)).ok());
      live[k] = live.back();
      live.pop_back();
    }
  }
  return live;
}

void expect_same_stats(const MachineStats& a, const MachineStats& b) {
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  EXPECT_EQ(a.pgfree, b.pgfree);
  EXPECT_EQ(a.extfrag_claims, b.extfrag_claims);
  EXPECT_EQ(a.min_free_kbytes, b.min_free_kbytes);
  for (size_t n = 0; n < a.nodes.size(); ++n) {
    for (size_t z = 0; z < a.nodes[n].zones.size(); ++z) {
      const ZoneStats& x = a.nodes[n].zones[z];
      const ZoneStats& y = b.nodes[n].zones[z];
      EXPECT_EQ(x.free_pages, y.free_pages);
      EXPECT_EQ(x.nr_free_by_type, y.nr_free_by_type);
      EXPECT_EQ(x.block_count, y.block_count);
      EXPECT_EQ(x.watermark, y.watermark);
      EXPECT_EQ(x.boost, y.boost);
      EXPECT_EQ(x.numa, y.numa);
      EXPECT_EQ(x.pgalloc, y.pgalloc);
      ASSERT_EQ(x.pcp.size(), y.pcp.size());
      for (size_t c = 0; c < x.pcp.size(); ++c) {
        EXPECT_EQ(x.pcp[c].count, y.pcp[c].count);
        EXPECT_EQ(x.pcp[c].high, y.pcp[c].high);
      }
    }
  }
}

TEST(State, RoundTripContinuesIdentically) {
  auto a = Machine::boot(small_config());
  ASSERT_TRUE(a.ok());
  workload(a->get(), 1, 4000);
  ASSERT_TRUE(a.value()->set_sysctl("watermark_scale_factor", "200").ok());
  const std::string saved = a.value()->save_state();

  auto b = Machine::restore_state(small_config(), saved);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_TRUE(b.value()->check().ok());
  expect_same_stats(a.value()->stats(), b.value()->stats());
  EXPECT_EQ(a.value()->nr_allocations(), b.value()->nr_allocations());
  EXPECT_EQ(*a.value()->get_sysctl("watermark_scale_factor"), "200");
  EXPECT_EQ(*b.value()->get_sysctl("watermark_scale_factor"), "200");

  // The same further operations give the same pfns and ids on both.
  auto live_a = workload(a->get(), 2, 2000);
  auto live_b = workload(b->get(), 2, 2000);
  EXPECT_EQ(live_a, live_b);
  expect_same_stats(a.value()->stats(), b.value()->stats());
  auto next_a = a.value()->alloc({0, gfp::kKernel, std::nullopt, 0});
  auto next_b = b.value()->alloc({0, gfp::kKernel, std::nullopt, 0});
  ASSERT_TRUE(next_a.ok() && next_b.ok());
  EXPECT_EQ(next_a->id, next_b->id);
  EXPECT_EQ(next_a->pfn, next_b->pfn);
  // And saving again gives the same bytes.
  EXPECT_EQ(a.value()->save_state(), b.value()->save_state());
}

// totalreserve_pages is derived (calculate_totalreserve_pages) from the
// watermarks and reserves; a restore must leave it as the saved machine had it.
TEST(State, DerivedReservesFollowTheRestoredWatermarks) {
  auto a = Machine::boot(small_config());
  ASSERT_TRUE(a.ok());
  const uint64_t fresh = a.value()->totalreserve_pages();
  ASSERT_TRUE(a.value()->set_sysctl("min_free_kbytes", "8192").ok());
  ASSERT_TRUE(a.value()->set_sysctl("lowmem_reserve_ratio", "32 32 8").ok());
  ASSERT_NE(a.value()->totalreserve_pages(), fresh);
  auto b = Machine::restore_state(small_config(), a.value()->save_state());
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b.value()->totalreserve_pages(), a.value()->totalreserve_pages());
  EXPECT_EQ(b.value()->stats().totalreserve_pages, a.value()->stats().totalreserve_pages);
}

TEST(State, ForeignConfigurationIsRefused) {
  auto a = Machine::boot(small_config());
  ASSERT_TRUE(a.ok());
  MachineConfig other = small_config();
  other.cpus = 4;
  auto b = Machine::restore_state(other, a.value()->save_state());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message,
            "state refused: it was saved from a machine with a different configuration");
}

TEST(State, DamagedDataIsRefused) {
  auto a = Machine::boot(small_config());
  ASSERT_TRUE(a.ok());
  workload(a->get(), 3, 500);
  const std::string saved = a.value()->save_state();

  auto bad_magic = Machine::restore_state(small_config(), "not a state file at all, sorry");
  ASSERT_FALSE(bad_magic.ok());
  EXPECT_EQ(bad_magic.error().message, "state refused: not a memd state file (bad magic)");

  auto truncated = Machine::restore_state(small_config(), saved.substr(0, saved.size() - 7));
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().message.find("truncated"), std::string::npos);

  std::string flipped = saved;
  flipped[flipped.size() / 2] ^= 0x40;
  auto damaged = Machine::restore_state(small_config(), flipped);
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.error().message, "state refused: checksum mismatch (damaged)");
}

// Restoring on a copy of a booted machine gives what restoring on a new boot
// gives: the same machine for a good state, the same refusal for a bad one.
TEST(State, RestoringOnABootedCopyIsRestoringOnABoot) {
  auto booted = Machine::boot(small_config());
  ASSERT_TRUE(booted.ok());
  auto a = Machine::boot(small_config());
  ASSERT_TRUE(a.ok());
  workload(a->get(), 5, 3000);
  const std::string saved = a.value()->save_state();

  auto on_copy = Machine::restore_state(**booted, saved);
  auto on_boot = Machine::restore_state(small_config(), saved);
  ASSERT_TRUE(on_copy.ok()) << on_copy.error().message;
  ASSERT_TRUE(on_boot.ok()) << on_boot.error().message;
  EXPECT_EQ(on_copy.value()->save_state(), saved);
  EXPECT_EQ(on_copy.value()->save_state(), on_boot.value()->save_state());
  expect_same_stats(on_copy.value()->stats(), on_boot.value()->stats());
  EXPECT_EQ(workload(on_copy->get(), 6, 2000), workload(on_boot->get(), 6, 2000));
  EXPECT_EQ(on_copy.value()->save_state(), on_boot.value()->save_state());
  // The booted machine is untouched.
  EXPECT_EQ(booted.value()->save_state(), Machine::boot(small_config()).value()->save_state());

  std::string flipped = saved;
  flipped[flipped.size() / 2] ^= 0x40;
  auto damaged = Machine::restore_state(**booted, flipped);
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.error().message, "state refused: checksum mismatch (damaged)");

  MachineConfig other = small_config();
  other.cpus = 4;
  auto four = Machine::boot(other);
  ASSERT_TRUE(four.ok());
  auto foreign = Machine::restore_state(**four, saved);
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().message,
            "state refused: it was saved from a machine with a different configuration");
}

}  // namespace
}  // namespace memd
