// memctl plot (issue 12): a 100,000-row replay history (3 zones x 33,334
// samples, a deterministic random walk) parsed, and drawn as one SVG, must
// take well under a second. Run: build/bench/bench_plot
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>

#include "client/history.h"
#include "client/plot.h"

namespace memd {
namespace {

constexpr uint64_t kSamples = 33334;  // x 3 zones: 100,002 rows

// One zone's row: counts that wander, counters that grow now and then.
void append_row(std::string* out, uint64_t event, const char* zone, std::mt19937_64* rng,
                uint64_t* walk) {
  *out += std::to_string(event) + ",0," + zone + "," + std::to_string(100000 + *walk);
  for (int o = 0; o <= 10; ++o) {
    *out += "," + std::to_string((*rng)() % (1u << (12 - o)));
  }
  *out += ",12,500,7,1,0,0.123,0.456," + std::to_string(event / 700) + "," +
          std::to_string(event / 1100) + "," + std::to_string(event / 5000) + "\n";
  *walk = (*walk + (*rng)() % 200) % 50000;
}

const std::string& history_text() {
  static const std::string text = [] {
    std::string s(client::kHistoryColumns[0]);
    for (size_t i = 1; i < client::kHistoryColumns.size(); ++i) {
      s += "," + std::string(client::kHistoryColumns[i]);
    }
    s += "\n";
    std::mt19937_64 rng(12);
    uint64_t walks[3] = {0, 0, 0};
    const char* zones[3] = {"DMA", "DMA32", "Normal"};
    for (uint64_t i = 0; i < kSamples; ++i) {
      for (int z = 0; z < 3; ++z) {
        append_row(&s, i * 10, zones[z], &rng, &walks[z]);
      }
    }
    return s;
  }();
  return text;
}

void BM_ParseHistory100k(benchmark::State& state) {
  const std::string& text = history_text();
  for (auto _ : state) {
    auto h = client::parse_history(text, "bench.csv");
    if (!h) state.SkipWithError(h.error().message.c_str());
    benchmark::DoNotOptimize(h);
  }
  state.counters["MiB"] = static_cast<double>(text.size()) / (1 << 20);
}
BENCHMARK(BM_ParseHistory100k)->Unit(benchmark::kMillisecond);

void BM_RenderPlot100k(benchmark::State& state) {
  auto h = client::parse_history(history_text(), "bench.csv");
  if (!h) std::abort();
  const std::vector<client::PlotInput> in(static_cast<size_t>(state.range(0)), {*h, "bench"});
  size_t bytes = 0;
  for (auto _ : state) {
    std::string svg = client::render_plot(in);
    bytes = svg.size();
    benchmark::DoNotOptimize(svg);
  }
  state.counters["KiB"] = static_cast<double>(bytes) / 1024;
}
BENCHMARK(BM_RenderPlot100k)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace memd

BENCHMARK_MAIN();
