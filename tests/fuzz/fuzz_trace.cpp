// libFuzzer target: kernel trace lines (core/trace, what `replay` streams and
// `replay file=` reads) fed to memd::Replayer on a small two-node machine
// (three copies of one booted machine, tests/fuzz/two_node_machine.h).
//
// The input's first 4 bytes seed how the rest is cut into chunks. Checked:
// - the same text fed whole and fed in random chunks (empty, one byte, cut
//   anywhere) gives the same report and the same machine, byte for byte
//   (save_state), as core/trace.h promises;
// - the invariant checker passes after every chunk, also when another client
//   allocates and frees between chunks, as socket clients do during a replay;
// - the report's dispositions add up: every line is one of event, malformed
//   or ignored.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "core/machine.h"
#include "core/trace.h"
#include "tests/fuzz/two_node_machine.h"

namespace {

// xorshift32: the chunk sizes, from the input's seed.
struct Cuts {
  uint32_t x;
  size_t next(size_t left) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    switch (x % 4) {
      case 0:
        return 0;
      case 1:
        return std::min<size_t>(left, 1);
      case 2:
        return std::min<size_t>(left, (x >> 8) % 97);
      default:
        return std::min<size_t>(left, (x >> 8) % 70000);  // beyond a 64 KiB line too
    }
  }
};

void check_sums(const memd::ReplayReport& r) {
  if (r.events() + r.malformed + r.ignored() != r.lines) std::abort();
  if (r.applied() + r.skipped() + r.failed_allocs != r.events()) std::abort();
  if (r.malformed_samples.size() > memd::ReplayReport::kMaxSamples) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static memd::fuzz::BootedMachines machines(3);
  uint32_t seed = 0x9e3779b9;
  for (size_t i = 0; i < 4 && i < size; ++i) {
    seed = (seed << 8) ^ data[i] ^ (seed >> 24);
  }
  const size_t skip = std::min<size_t>(size, 4);
  const std::string_view text(reinterpret_cast<const char*>(data) + skip, size - skip);

  // Whole.
  memd::Machine* whole = machines.fresh(0);
  std::vector<std::pair<std::string, uint64_t>> whole_counters;
  std::vector<std::pair<uint64_t, std::string>> whole_samples;
  {
    memd::Replayer r(whole);
    r.feed(text);
    r.finish();
    check_sums(r.report());
    whole_counters = r.report().counters();
    whole_samples = r.report().malformed_samples;
  }
  if (!whole->check().ok()) std::abort();

  // In chunks: the same result.
  memd::Machine* chunked = machines.fresh(1);
  {
    memd::Replayer r(chunked);
    Cuts cuts{seed | 1};
    std::string_view rest = text;
    while (!rest.empty()) {
      const size_t n = cuts.next(rest.size());
      r.feed(rest.substr(0, n));
      rest.remove_prefix(n);
    }
    r.finish();
    if (r.report().counters() != whole_counters) std::abort();
    if (r.report().malformed_samples != whole_samples) std::abort();
  }
  if (!chunked->check().ok()) std::abort();
  if (chunked->save_state() != whole->save_state()) std::abort();

  // In chunks, with another client allocating and freeing in between.
  memd::Machine* shared = machines.fresh(2);
  {
    memd::Replayer r(shared);
    Cuts cuts{seed ^ 0x5bd1e995};
    std::vector<memd::Pfn> mine;
    std::string_view rest = text;
    while (!rest.empty()) {
      const size_t n = cuts.next(rest.size());
      r.feed(rest.substr(0, n));
      rest.remove_prefix(n);
      if (cuts.x & 1) {
        auto a = shared->alloc(memd::AllocRequest{(cuts.x >> 1) % 4, memd::gfp::kKernel,
                                                  std::nullopt, static_cast<int>(cuts.x % 3)});
        if (a) mine.push_back(a->pfn);
      } else if (!mine.empty()) {
        if (!shared->free_pfn(mine.back(), 1)) std::abort();  // the replay never frees ours
        mine.pop_back();
      }
      if (!shared->check().ok()) std::abort();
    }
    r.finish();
    check_sums(r.report());
  }
  if (!shared->check().ok()) std::abort();
  return 0;
}
