// Rendering the kernel's files (issue 3): each file of a 16-node, 4 TiB
// machine with 64 CPUs, from a counters snapshot (Machine::stats, also timed),
// must render in well under a millisecond. The pageblock map (issue 12): the
// snapshot taken under the lock and the SVG drawn outside it, for a 64 GiB
// machine fresh and fragmented (target: under 20 ms), against pagetypeinfo's.
// Run: build/bench/bench_render
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "core/machine.h"
#include "core/pageblock_map.h"
#include "core/render.h"

namespace memd {
namespace {

const Machine& big_machine() {
  static std::unique_ptr<Machine> m = [] {
    MachineConfig cfg;
    for (int nid = 0; nid < 16; ++nid) {
      NodeConfig n;
      n.size = 256ULL << 30;
      for (int c = 0; c < 4; ++c)
        n.cpus.push_back(nid * 4 + c);
      cfg.nodes.push_back(n);
    }
    auto booted = Machine::boot(cfg);
    if (!booted) std::abort();
    // Some activity, so every pageset and counter is non-trivial.
    for (int cpu = 0; cpu < 64; ++cpu) {
      for (unsigned order = 0; order < 4; ++order) {
        (void)(*booted)->alloc({order, gfp::kHighuserMovable, std::nullopt, cpu});
      }
    }
    return std::move(*booted);
  }();
  return *m;
}

void BM_Stats(benchmark::State& state) {
  const Machine& m = big_machine();
  for (auto _ : state)
    benchmark::DoNotOptimize(m.stats());
}
BENCHMARK(BM_Stats)->Unit(benchmark::kMicrosecond);

void BM_Render(benchmark::State& state) {
  const ProcFile file = kProcFiles[static_cast<size_t>(state.range(0))];
  const MachineStats stats = big_machine().stats();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = render(file, stats);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.SetLabel(std::string(proc_file_name(file)));
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render)
    ->DenseRange(0, static_cast<int>(kProcFiles.size()) - 1)
    ->Unit(benchmark::kMicrosecond);

// --- the pageblock map (issue 12) ------------------------------------------------------------
// A 64 GiB machine (one node, 2 CPUs), fresh and fragmented: under the
// daemon's lock pageblocks.svg takes Machine::stats() (shared with the other
// files) and Machine::pageblock_snapshot(); pagetypeinfo takes
// Machine::stats(). The pictures are drawn outside the lock.

// 64 GiB after a random mixed workload: 6 M allocations of orders 0-4, of
// every mobility, then every other one freed, in random order.
std::unique_ptr<Machine> machine_64g(bool fragmented) {
  MachineConfig cfg;
  cfg.size = 64ULL << 30;
  auto booted = Machine::boot(cfg);
  if (!booted) std::abort();
  std::unique_ptr<Machine> m = std::move(*booted);
  if (!fragmented) return m;
  std::mt19937_64 rng(12);
  const Gfp kinds[] = {gfp::kKernel, gfp::kHighuserMovable, gfp::kKernel | gfp::kReclaimable,
                       gfp::kHighuserMovable};
  std::vector<Pfn> live;
  for (int i = 0; i < 6'000'000; ++i) {
    const uint64_t r = rng();
    auto a = m->alloc({static_cast<unsigned>(r % 5), kinds[(r >> 8) % 4] | gfp::kNowarn,
                       std::nullopt, static_cast<int>((r >> 16) & 1)});
    if (a) live.push_back(a->pfn);
  }
  std::shuffle(live.begin(), live.end(), rng);
  for (size_t i = 0; i < live.size(); i += 2) {
    (void)m->free_pfn(live[i], 0);
  }
  return m;
}

const Machine& machine_64g_cached(bool fragmented) {
  if (fragmented) {
    static std::unique_ptr<Machine> frag = machine_64g(true);
    return *frag;
  }
  static std::unique_ptr<Machine> fresh = machine_64g(false);
  return *fresh;
}

const char* state_label(int64_t fragmented) {
  return fragmented ? "64 GiB fragmented" : "64 GiB fresh";
}

// What pagetypeinfo holds the lock for.
void BM_Stats64G(benchmark::State& state) {
  const Machine& m = machine_64g_cached(state.range(0) != 0);
  for (auto _ : state)
    benchmark::DoNotOptimize(m.stats());
  state.SetLabel(state_label(state.range(0)));
}
BENCHMARK(BM_Stats64G)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// What pageblocks.svg holds it for, besides the stats.
void BM_PageblockSnapshot64G(benchmark::State& state) {
  const Machine& m = machine_64g_cached(state.range(0) != 0);
  for (auto _ : state)
    benchmark::DoNotOptimize(m.pageblock_snapshot());
  state.SetLabel(state_label(state.range(0)));
}
BENCHMARK(BM_PageblockSnapshot64G)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_RenderPagetypeinfo64G(benchmark::State& state) {
  const MachineStats stats = machine_64g_cached(state.range(0) != 0).stats();
  for (auto _ : state)
    benchmark::DoNotOptimize(render_pagetypeinfo(stats));
  state.SetLabel(state_label(state.range(0)));
}
BENCHMARK(BM_RenderPagetypeinfo64G)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_RenderPageblocks64G(benchmark::State& state) {
  const Machine& m = machine_64g_cached(state.range(0) != 0);
  const MachineStats stats = m.stats();
  const PageblockSnapshot snap = m.pageblock_snapshot();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string svg = render_pageblocks_svg(stats, snap);
    bytes = svg.size();
    benchmark::DoNotOptimize(svg);
  }
  state.SetLabel(state_label(state.range(0)));
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderPageblocks64G)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The 16-node 4 TiB machine above: the largest map.
void BM_PageblockSnapshot4T(benchmark::State& state) {
  const Machine& m = big_machine();
  for (auto _ : state)
    benchmark::DoNotOptimize(m.pageblock_snapshot());
}
BENCHMARK(BM_PageblockSnapshot4T)->Unit(benchmark::kMicrosecond);

void BM_RenderPageblocks4T(benchmark::State& state) {
  const Machine& m = big_machine();
  const MachineStats stats = m.stats();
  const PageblockSnapshot snap = m.pageblock_snapshot();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string svg = render_pageblocks_svg(stats, snap);
    bytes = svg.size();
    benchmark::DoNotOptimize(svg);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderPageblocks4T)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace memd

BENCHMARK_MAIN();
