// Replaying a kernel allocation trace (the text ftrace writes for
// kmem:mm_page_alloc, mm_page_free, mm_page_free_batched) on an emulated
// machine, with the rules of ../shared/spec/product.md "Trace replay".
//
// Pure: the caller reads the file (and gunzips it) and feeds the text in
// chunks of any size; each complete line is one event, applied whole. The
// result does not depend on how the text is cut into chunks.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/machine.h"

namespace memd {

// The fields of one mm_page_alloc_extfrag event that say what kind of
// fallback it was (the pfn left out), for a histogram.
struct ExtfragKind {
  int alloc_order = 0;
  int fallback_order = 0;
  int alloc_migratetype = 0;
  int fallback_migratetype = 0;
  bool fragmenting = false;
  bool change_ownership = false;
  friend bool operator==(const ExtfragKind&, const ExtfragKind&) = default;
  auto tie() const {
    return std::tie(alloc_order, fallback_order, alloc_migratetype, fallback_migratetype,
                    fragmenting, change_ownership);
  }
  friend bool operator<(const ExtfragKind& a, const ExtfragKind& b) { return a.tie() < b.tie(); }
};

// Fallback events: mm_page_alloc_extfrag lines of a trace, or the emulator's
// own fallbacks during the replay. A claim takes the whole pageblock
// (change_ownership=1); a steal takes pages and leaves the block's type.
struct ExtfragCounts {
  uint64_t events = 0;
  uint64_t claims = 0;
  uint64_t steals = 0;
  uint64_t fragmenting = 0;  // fallback_order < pageblock_order
  std::map<ExtfragKind, uint64_t> by_kind;
  void add(const ExtfragKind& kind);
};

// What a replay did. Every line is exactly one of: an event (applied, failed
// or skipped), malformed, or ignored; every event line of the three replayed
// kinds is exactly one of applied, failed or skipped.
struct ReplayReport {
  // Named counters in a fixed order, for JSON and for humans: lines, events
  // applied, skipped by reason, allocations failed, malformed and ignored
  // lines, trace and emulator extfrag events (totals, then one counter per
  // pair of migrate types seen: emulator_extfrag_unmovable_from_movable).
  // No counter is named "malformed": the socket's report uses that key for
  // malformed_samples.
  std::vector<std::pair<std::string, uint64_t>> counters() const;

  uint64_t lines = 0;

  // Well-formed lines of the three replayed events.
  uint64_t alloc_events = 0;         // mm_page_alloc
  uint64_t free_events = 0;          // mm_page_free
  uint64_t free_batched_events = 0;  // mm_page_free_batched

  uint64_t applied_allocs = 0;
  uint64_t applied_frees = 0;            // at mm_page_free
  uint64_t applied_batched_frees = 0;    // at mm_page_free_batched, the mm_page_free lost
  uint64_t failed_allocs = 0;            // the emulated machine could not allocate
  uint64_t first_failed_alloc_line = 0;  // the line of the first of them (0: none)

  uint64_t skipped_alloc_failed_in_trace = 0;  // pfn=0x0: the kernel's allocation failed
  uint64_t skipped_alloc_refused = 0;          // GFP_ZONE_BAD, MOVABLE|RECLAIMABLE, order > 10
  uint64_t skipped_free_before_trace = 0;      // the pfn was not allocated in the trace
  uint64_t skipped_free_of_failed_alloc = 0;   // its allocation failed on the emulated machine
  uint64_t skipped_free_not_live = 0;          // its block was freed by someone else meanwhile
  uint64_t skipped_batched = 0;                // mm_page_free_batched after its mm_page_free

  // Not dispositions; remarks on applied events.
  uint64_t realloc_without_free = 0;  // a live mapped pfn allocated again: old block leaked
  uint64_t free_order_mismatch = 0;   // mm_page_free order differs from the allocation's

  uint64_t malformed = 0;

  // Lines that are not events of the three kinds.
  uint64_t ignored_blank = 0;
  uint64_t ignored_header = 0;        // lines starting with '#'
  uint64_t ignored_lost = 0;          // "CPU:N [LOST M EVENTS]"
  uint64_t lost_events = 0;           // the sum of their M
  uint64_t ignored_other_events = 0;  // events of other kinds (mm_page_alloc_extfrag too)
  uint64_t ignored_unrecognised = 0;  // anything else

  ExtfragCounts trace_extfrag;     // mm_page_alloc_extfrag lines of the trace
  ExtfragCounts emulator_extfrag;  // the emulated machine's fallbacks during the replay

  // The first kMaxSamples malformed lines and refused allocations (their
  // reason starts with "refused: "): line number (from 1) and what was wrong.
  // Reasons are printable ASCII (other bytes of the line escaped as \xNN).
  static constexpr size_t kMaxSamples = 100;
  std::vector<std::pair<uint64_t, std::string>> malformed_samples;

  uint64_t events() const { return alloc_events + free_events + free_batched_events; }
  uint64_t applied() const { return applied_allocs + applied_frees + applied_batched_frees; }
  uint64_t skipped() const {
    return skipped_alloc_failed_in_trace + skipped_alloc_refused + skipped_free_before_trace +
           skipped_free_of_failed_alloc + skipped_free_not_live + skipped_batched;
  }
  uint64_t ignored() const {
    return ignored_blank + ignored_header + ignored_lost + ignored_other_events +
           ignored_unrecognised;
  }
};

// Applies a trace to a machine. Maps each trace pfn to the emulated block its
// allocation got (by allocation id, so blocks freed or reused by other
// clients between feeds are never freed by mistake). Installs itself as the
// machine's extfrag listener for the duration of each feed() and finish(),
// counting the machine's fallbacks per zone for the history.
class Replayer {
 public:
  // Lines longer than this are malformed (and never buffered whole).
  static constexpr size_t kMaxLineBytes = 64 * 1024;

  explicit Replayer(Machine* machine);
  ~Replayer();
  Replayer(const Replayer&) = delete;
  // An exact copy (its pfn mapping, report, history, kept partial line), on
  // the same machine: what a replay's part began from, to go back to.
  std::unique_ptr<Replayer> clone() const;
  Replayer& operator=(const Replayer&) = delete;

  // Applies every complete line of `text`; keeps a trailing partial line for
  // the next call. Returns the number of lines consumed.
  uint64_t feed(std::string_view text);
  // Applies the kept partial line, if any (end of input without a newline).
  void finish();
  // Forgets the kept partial line, if any (`replay abort`: the rest of it
  // never comes), so that feeding more starts at a line boundary.
  void drop_partial();
  // What was replayed so far: every feed() since the Replayer was made, so a
  // trace fed in parts (a replay continued) counts as one.
  const ReplayReport& report() const;
  // Puts back a report taken with report() before a part that applied no
  // event (memd refuses a continued part without mm_page_alloc or
  // mm_page_free events as a whole: its lines leave no trace).
  void restore_report(const ReplayReport& report);

  // --- the history (core/replay_history.h) ---
  // From now on records one row per zone every `every` events (>= 1):
  // first the rows at the events so far (0 on a new Replayer), then at each
  // multiple of `every`, each row the state right after that event.
  // Rows not taken yet are bounded by `max_pending_bytes` (see below).
  void start_history(uint64_t every, size_t max_pending_bytes = kMaxPendingHistoryBytes);
  // Records the rows at the events so far unless the last rows are there,
  // then stops recording.
  void end_history();
  bool history_on() const;
  // The rows recorded since the last call: complete CSV lines, no header.
  std::string take_history();
  // Rows not taken yet are bounded (a client's every=1 over a 64 MiB frame
  // of a many-zone machine would be gigabytes): once they pass the bound the
  // Replayer records no more rows and says so here; the caller ends the
  // replay, as a history with rows missing would not be exact.
  static constexpr size_t kMaxPendingHistoryBytes = size_t{64} << 20;
  bool history_overflowed() const;

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace memd
