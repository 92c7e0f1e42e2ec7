// Allocator benchmarks (issue 2): order-0 alloc+free through the full path,
// a random mixed workload, and boot time and resident memory for large
// machines. Run:  build/bench/bench_alloc --benchmark_filter=.
// Never part of the test run.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/machine.h"

namespace memd {
namespace {

// Current resident set of this process, in bytes (VmRSS).
uint64_t rss_bytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  uint64_t kb = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) kb = std::strtoull(line + 6, nullptr, 10);
  }
  std::fclose(f);
  return kb << 10;
}

std::unique_ptr<Machine> boot(uint64_t bytes) {
  MachineConfig cfg;
  cfg.size = bytes;
  auto m = Machine::boot(cfg);
  if (!m) std::abort();
  return std::move(*m);
}

// One order-0 GFP_KERNEL allocation and its free, through the zonelist walk,
// the watermark check, the per-cpu list and (on refill/drain) the buddy lists.
void BM_AllocFreeOrder0(benchmark::State& state) {
  auto m = boot(4ULL << 30);
  const AllocRequest req{0, gfp::kKernel, std::nullopt, 0};
  for (auto _ : state) {
    auto a = m->alloc(req);
    benchmark::DoNotOptimize(a);
    (void)m->free_pfn(a->pfn, 0);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AllocFreeOrder0)->Repetitions(10)->DisplayAggregatesOnly(true);

// A random mixed workload: mostly small orders of every GFP kind, some high
// orders, on two CPUs, keeping about 50,000 blocks live.
void BM_MixedWorkload(benchmark::State& state) {
  auto m = boot(4ULL << 30);
  std::mt19937_64 rng(42);
  const Gfp kinds[] = {gfp::kKernel,
                       gfp::kHighuserMovable,
                       gfp::kHighuserMovable | gfp::kComp,
                       gfp::kAtomic,
                       gfp::kNowait,
                       gfp::kKernel | gfp::kReclaimable,
                       gfp::kKernelAccount | gfp::kZero,
                       gfp::kDma32 | gfp::kKernel};
  std::vector<Pfn> live;
  live.reserve(60000);
  for (auto _ : state) {
    const bool alloc = live.size() < 50000 ? (rng() % 100) < 60 : (rng() % 100) < 40;
    if (alloc || live.empty()) {
      const uint64_t r = rng();
      unsigned order = r % 100 < 85 ? 0 : (r % 100 < 97 ? 1 + (r >> 8) % 3 : 4 + (r >> 8) % 7);
      auto a = m->alloc({order, kinds[(r >> 16) % 8] | gfp::kNowarn, std::nullopt,
                         static_cast<int>((r >> 24) & 1)});
      if (a) live.push_back(a->pfn);
    } else {
      const size_t k = rng() % live.size();
      (void)m->free_pfn(live[k], static_cast<int>(rng() & 1));
      live[k] = live.back();
      live.pop_back();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["live"] = static_cast<double>(live.size());
}
BENCHMARK(BM_MixedWorkload);

// Boot time and resident memory of a fresh machine of state.range(0) GiB.
void BM_Boot(benchmark::State& state) {
  const uint64_t bytes = static_cast<uint64_t>(state.range(0)) << 30;
  double rss = 0;
  for (auto _ : state) {
    const uint64_t before = rss_bytes();
    auto m = boot(bytes);
    state.PauseTiming();
    rss = static_cast<double>(rss_bytes() - before);
    m.reset();
    state.ResumeTiming();
  }
  state.counters["rss_MiB"] = rss / (1 << 20);
  state.counters["frames"] = static_cast<double>(bytes >> kPageShift);
}
BENCHMARK(BM_Boot)->Arg(64)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->Iterations(3);

// A machine filled with allocations of state.range(1) order until the
// allocator fails: resident memory per emulated frame when fully used.
void BM_Fill(benchmark::State& state) {
  const uint64_t bytes = static_cast<uint64_t>(state.range(0)) << 30;
  const unsigned order = static_cast<unsigned>(state.range(1));
  double per_frame = 0, rss = 0, allocs = 0;
  for (auto _ : state) {
    const uint64_t before = rss_bytes();
    auto m = boot(bytes);
    uint64_t n = 0;
    while (m->alloc({order, gfp::kHighuserMovable | gfp::kNowarn, std::nullopt, 0}))
      ++n;
    state.PauseTiming();
    rss = static_cast<double>(rss_bytes() - before);
    per_frame = rss / static_cast<double>(bytes >> kPageShift);
    allocs = static_cast<double>(n);
    m.reset();
    state.ResumeTiming();
  }
  state.counters["rss_MiB"] = rss / (1 << 20);
  state.counters["bytes_per_frame"] = per_frame;
  state.counters["allocations"] = allocs;
}
BENCHMARK(BM_Fill)->Args({64, 0})->Args({4096, 10})->Unit(benchmark::kSecond)->Iterations(1);

// Memory offline (issue 14): 4 GiB with movablecore=512M, 120000 order-0
// movable allocations filling memory36-38; the timed step takes memory37
// offline, migrating its 32768 allocations. Setup and the online that
// undoes it are not timed.
void BM_OfflineFullMovableBlock(benchmark::State& state) {
  MachineConfig cfg;
  cfg.size = 4ULL << 30;
  cfg.cpus = 2;
  cfg.cmdline = "movablecore=512M";
  auto booted = Machine::boot(cfg);
  if (!booted) return state.SkipWithError("boot");
  std::unique_ptr<Machine> m = std::move(booted.value());
  for (int i = 0; i < 120000; ++i) {
    if (!m->alloc({0, gfp::kHighuserMovable, std::nullopt, 0})) state.SkipWithError("fill");
  }
  double migrated = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto copy = m->clone();
    state.ResumeTiming();
    const HotplugResult r = copy->offline_block(37);
    if (!r.ok()) state.SkipWithError(r.reason.c_str());
    migrated = static_cast<double>(r.migrated_allocations);
  }
  state.counters["migrated"] = migrated;
}
BENCHMARK(BM_OfflineFullMovableBlock)->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace memd

BENCHMARK_MAIN();
