// A trace file read ahead on a thread of its own: `replay file=` inflates
// the file and turns a trace.dat into text (traceio/) on this thread while the caller's thread
// replays what came before, so that a compressed trace replays as fast as a
// plain one on a machine with a second core.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"

namespace memd {
namespace traceio {
class TraceInput;
}

class TraceReader {
 public:
  // Opens `path`, a regular file in any form traceio/ reads, and
  // starts reading it. The error names the path and the reason.
  static Result<std::unique_ptr<TraceReader>> open(const std::string& path);
  ~TraceReader();  // stops the reading thread, wherever it is
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // The next piece of the file, in order; empty at the end. The error names
  // the path and the reason; after it, nothing more is read.
  Result<std::string> next();

  static constexpr size_t kChunkBytes = 1 << 20;
  // Chunks queued for the consumer; with the one being read and the one the
  // consumer holds, about 6 MiB in all.
  static constexpr size_t kChunksAhead = 4;

 private:
  TraceReader(std::string path, std::unique_ptr<traceio::TraceInput> input);
  void run();
  void read_all();

  const std::string path_;
  const std::unique_ptr<traceio::TraceInput> input_;  // used by the reading thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> ready_;  // guarded by mu_
  bool done_ = false;              // guarded by mu_: the reader has finished
  bool stop_ = false;              // guarded by mu_: the consumer has gone
  std::string error_;              // guarded by mu_: why the reader finished early
  std::thread thread_;
};

}  // namespace memd
