// Replay speed from a file, the whole way: `replay file=PATH` run by memd's
// Service as the control file runs it (open, gzread in 1 MiB pieces, the
// parser, the allocator, the machine's lock taken per 64 KiB batch). The
// sample trace (../shared/traces/build-sample.trace.gz, 300,000 events) is
// read as it is shipped, gzip-compressed, and as plain text written once to
// a temporary file (in the page cache: this measures memd, not the disk).
// Each iteration boots a fresh default machine (not timed). memd reads the
// file on a thread of its own (daemon/trace_reader.h) while it replays.
// The Streamed benchmarks run the sample as memctl streams it, with and
// without the replay's history (memctl replay --history --every N).
#include <benchmark/benchmark.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "daemon/command.h"
#include "daemon/service.h"

namespace {

const std::string kSample = MEMD_TRACES_DIR "/build-sample.trace.gz";

// The sample, decompressed into a temporary file once; "" if it cannot be.
const std::string& plain_copy() {
  static const std::string path = [] {
    std::string tmp = "/tmp/memd-bench-trace.XXXXXX";
    const int fd = mkstemp(tmp.data());
    if (fd < 0) return std::string();
    gzFile in = gzopen(kSample.c_str(), "rb");
    char buf[1 << 16];
    int n = 0;
    bool ok = in != nullptr;
    while (ok && (n = gzread(in, buf, sizeof buf)) > 0) {
      ok = write(fd, buf, static_cast<size_t>(n)) == n;
    }
    if (in) gzclose(in);
    close(fd);
    if (!ok || n < 0) {
      unlink(tmp.c_str());
      return std::string();
    }
    std::atexit([] { unlink(plain_copy().c_str()); });
    return tmp;
  }();
  return path;
}

// With mm_page_alloc and mm_page_free on, a reader drains the buffer as
// trace_pipe's reads do (Service::consume_trace, 128 KiB per read, the size
// of a FUSE read), on a thread of its own, for the whole replay.
struct TraceReader {
  memd::Service* service;
  std::atomic<bool> done{false};
  uint64_t bytes = 0;
  std::thread thread{[this] {
    while (!done.load()) {
      const std::string got = service->consume_trace(128 << 10);
      bytes += got.size();
      if (got.empty()) std::this_thread::yield();
    }
  }};
  explicit TraceReader(memd::Service* s) : service(s) {}
  ~TraceReader() {
    done = true;
    thread.join();
  }
};

void replay_file(benchmark::State& state, const std::string& path, bool traced = false) {
  if (path.empty() || access(path.c_str(), R_OK) != 0) {
    state.SkipWithError(("cannot read " + (path.empty() ? kSample : path)).c_str());
    return;
  }
  auto command = memd::parse_command("replay file=" + path);
  if (!command) {
    state.SkipWithError(command.error().message.c_str());
    return;
  }
  memd::Client client;
  client.origin = memd::Client::Origin::kControlFile;
  double events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto service = memd::Service::boot(memd::MachineConfig{});
    if (!service) {
      state.SkipWithError(service.error().message.c_str());
      return;
    }
    if (traced) (*service)->execute("trace on mm_page_alloc,mm_page_free", &client);
    std::unique_ptr<TraceReader> reader;
    if (traced) reader = std::make_unique<TraceReader>(service->get());
    state.ResumeTiming();
    memd::Reply reply = (*service)->run(*command, &client);
    state.PauseTiming();
    if (reader) {
      const uint64_t lost = (*service)->execute("trace", &client).json["trace"]["overrun"];
      reader.reset();
      state.counters["lost"] = static_cast<double>(lost);
    }
    if (!reply.ok()) {
      state.SkipWithError(reply.error_message().c_str());
      return;
    }
    events = reply.json["report"]["events"].get<double>();
    service->reset();
    state.ResumeTiming();
  }
  state.counters["events"] = events;
  state.counters["events/s"] =
      benchmark::Counter(events, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ReplayFileGz(benchmark::State& state) {
  replay_file(state, kSample);
}
void BM_ReplayFilePlain(benchmark::State& state) {
  replay_file(state, plain_copy());
}
void BM_ReplayFilePlainTraced(benchmark::State& state) {
  replay_file(state, plain_copy(), true);
}

// The sample's text, decompressed once ("" if it cannot be read).
const std::string& sample_text() {
  static const std::string text = [] {
    std::string out;
    gzFile f = gzopen(kSample.c_str(), "rb");
    if (!f) return out;
    char buf[1 << 16];
    int n = 0;
    while ((n = gzread(f, buf, sizeof buf)) > 0) {
      out.append(buf, static_cast<size_t>(n));
    }
    gzclose(f);
    return out;
  }();
  return text;
}

// The sample streamed as memctl streams it (`replay begin [every=N]`, `replay
// data` frames of 256 KiB cut at line ends, `replay end`), with the history
// every `every` events (0: none): its rows travel in each reply's JSON.
void replay_streamed(benchmark::State& state, uint64_t every) {
  const std::string& text = sample_text();
  if (text.empty()) {
    state.SkipWithError(("cannot read " + kSample).c_str());
    return;
  }
  const std::string begin = every ? "replay begin every=" + std::to_string(every) : "replay begin";
  double events = 0, history = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto service = memd::Service::boot(memd::MachineConfig{});
    if (!service) {
      state.SkipWithError(service.error().message.c_str());
      return;
    }
    memd::Client client;  // a socket client, root
    state.ResumeTiming();
    memd::Reply reply = (*service)->execute(begin, &client);
    history = static_cast<double>(reply.json_line().size());
    for (size_t at = 0; at < text.size();) {
      size_t end = std::min(text.size(), at + (256 << 10));
      if (end < text.size()) end = text.rfind('\n', end - 1) + 1;
      reply = (*service)->replay_data(&client, std::string_view(text).substr(at, end - at));
      history += static_cast<double>(reply.json_line().size());
      at = end;
    }
    reply = (*service)->execute("replay end", &client);
    state.PauseTiming();
    if (!reply.ok()) {
      state.SkipWithError(reply.error_message().c_str());
      return;
    }
    events = reply.json["report"]["events"].get<double>();
    service->reset();
    state.ResumeTiming();
  }
  state.counters["events"] = events;
  state.counters["reply_bytes"] = history;
  state.counters["events/s"] =
      benchmark::Counter(events, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ReplayStreamed(benchmark::State& state) {
  replay_streamed(state, 0);
}
void BM_ReplayStreamedHistory10000(benchmark::State& state) {
  replay_streamed(state, 10000);
}
void BM_ReplayStreamedHistory1000(benchmark::State& state) {
  replay_streamed(state, 1000);
}

// Rates per wall-clock second: the file is read on a second thread, whose CPU
// time the benchmark's (this thread's) would leave out.
BENCHMARK(BM_ReplayFileGz)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReplayFilePlain)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReplayFilePlainTraced)->Unit(benchmark::kMillisecond)->UseRealTime();
// One thread: CPU time, which stays meaningful on a machine shared with builds.
BENCHMARK(BM_ReplayStreamed)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReplayStreamedHistory10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReplayStreamedHistory1000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
