// Replay speed from a file, the whole way: `replay file=PATH` run by memd's
// Service as the control file runs it (open, gzread in 1 MiB pieces, the
// parser, the allocator, the machine's lock taken per 64 KiB batch). The
// sample trace (../shared/traces/build-sample.trace.gz, 300,000 events) is
// read as it is shipped, gzip-compressed, and as plain text written once to
// a temporary file (in the page cache: this measures memd, not the disk).
// Each iteration boots a fresh default machine (not timed). memd reads the
// file on a thread of its own (daemon/trace_reader.h) while it replays.
#include <benchmark/benchmark.h>
#include <unistd.h>
#include <zlib.h>

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

// Rates per wall-clock second: the file is read on a second thread, whose CPU
// time the benchmark's (this thread's) would leave out.
BENCHMARK(BM_ReplayFileGz)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReplayFilePlain)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ReplayFilePlainTraced)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
