// Replaying a kernel allocation trace (the text ftrace writes for
// kmem:mm_page_alloc, mm_page_free, mm_page_free_batched) on an emulated
// machine, with the rules of ../shared/spec/product.md "Trace replay".
//
// Pure: the caller reads the file (and gunzips it) and feeds the text in
// chunks of any size; each complete line is one event, applied whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/machine.h"

namespace memd {

struct ReplayReport {
  // Named counters in a fixed order, for JSON and for humans: events applied,
  // skipped by reason, allocations failed, trace and emulator extfrag events.
  std::vector<std::pair<std::string, uint64_t>> counters() const;

  uint64_t lines = 0;
  // The first malformed lines: line number and what was wrong.
  std::vector<std::pair<uint64_t, std::string>> malformed_samples;
  // (further fields: see core/trace.cpp)
};

class Replayer {
 public:
  explicit Replayer(Machine* machine);
  ~Replayer();
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;

  // Applies every complete line of `text`; keeps a trailing partial line for
  // the next call. Returns the number of lines consumed.
  uint64_t feed(std::string_view text);
  // Applies the kept partial line, if any (end of input without a newline).
  void finish();
  const ReplayReport& report() const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace memd
