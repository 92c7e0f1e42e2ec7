// Rendering the kernel's files (issue 3): each file of a 16-node, 4 TiB
// machine with 64 CPUs, from a counters snapshot (Machine::stats, also timed),
// must render in well under a millisecond. Run: build/bench/bench_render
#include <benchmark/benchmark.h>

#include "core/machine.h"
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

}  // namespace
}  // namespace memd

BENCHMARK_MAIN();
