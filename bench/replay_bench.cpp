// Replay speed: the sample trace (../shared/traces/build-sample.trace.gz, 300,000
// events from a 6.18 kernel) replayed from memory on the default machine. The
// file is decompressed once; each iteration boots a fresh machine (not timed)
// and replays the whole text. Reports events/s (product.md: at least 5 million).
// The History benchmarks record the replay's history (Replayer::start_history)
// every N events, taking the rows after each 256 KiB piece as memd does
// after each batch; compare them with BM_ReplaySample256KiB.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "core/machine.h"
#include "core/trace.h"

namespace {

const std::string& sample_trace() {
  static const std::string text = [] {
    std::string out;
    gzFile f = gzopen(MEMD_TRACES_DIR "/build-sample.trace.gz", "rb");
    if (!f) return out;
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0)
      out.append(buf, static_cast<size_t>(n));
    gzclose(f);
    return out;
  }();
  return text;
}

// Replays the sample in pieces of `chunk` bytes (the whole text for 0), with
// a history every `every` events (0: none).
void replay(benchmark::State& state, size_t chunk, uint64_t every = 0) {
  const std::string& text = sample_trace();
  if (text.empty()) {
    state.SkipWithError("cannot read " MEMD_TRACES_DIR "/build-sample.trace.gz");
    return;
  }
  if (chunk == 0) chunk = text.size();
  uint64_t events = 0;
  uint64_t lines = 0;
  uint64_t history_bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto machine = memd::Machine::boot(memd::MachineConfig{});
    if (!machine.ok()) {
      state.SkipWithError(machine.error().message.c_str());
      return;
    }
    auto replayer = std::make_unique<memd::Replayer>(machine->get());
    state.ResumeTiming();
    if (every) replayer->start_history(every);
    history_bytes = 0;
    for (size_t i = 0; i < text.size(); i += chunk) {
      replayer->feed(std::string_view(text).substr(i, chunk));
      if (every) history_bytes += replayer->take_history().size();
    }
    replayer->finish();
    if (every) {
      replayer->end_history();
      history_bytes += replayer->take_history().size();
    }
    state.PauseTiming();
    events = replayer->report().events();
    lines = replayer->report().lines;
    replayer.reset();
    machine->reset();
    state.ResumeTiming();
  }
  state.counters["events"] = static_cast<double>(events);
  if (every) state.counters["history_bytes"] = static_cast<double>(history_bytes);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events),
                                                  benchmark::Counter::kIsIterationInvariantRate);
  state.counters["lines/s"] =
      benchmark::Counter(static_cast<double>(lines), benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_ReplaySample(benchmark::State& state) {
  replay(state, 0);
}
// As the daemon receives it from memctl: frames of 256 KiB cut anywhere.
void BM_ReplaySample256KiB(benchmark::State& state) {
  replay(state, 256 << 10);
}

void BM_ReplaySampleHistory10000(benchmark::State& state) {
  replay(state, 256 << 10, 10000);
}
void BM_ReplaySampleHistory1000(benchmark::State& state) {
  replay(state, 256 << 10, 1000);
}

// Rates are per CPU second: the replay is single-threaded, and CPU time stays
// meaningful on a machine shared with builds (wall time is the same when idle).
BENCHMARK(BM_ReplaySample)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReplaySample256KiB)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReplaySampleHistory10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReplaySampleHistory1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
