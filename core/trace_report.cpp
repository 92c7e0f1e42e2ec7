// The report of a replay: its counters, in the order memctl and the daemon
// print them.
#include "core/trace.h"

#include <cctype>
#include <map>

namespace memd {

// --- report -------------------------------------------------------------------------------------

void ExtfragCounts::add(const ExtfragKind& kind) {
  ++events;
  if (kind.change_ownership) {
    ++claims;
  } else {
    ++steals;
  }
  if (kind.fragmenting) ++fragmenting;
  ++by_kind[kind];
}

namespace {

std::string migratetype_name(int mt) {
  if (mt >= 0 && mt < static_cast<int>(kMigrateTypes)) {
    std::string name(kMigrateTypeNames[mt]);
    for (char& ch : name) {
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    return name;
  }
  return "mt" + std::to_string(mt);
}

// PREFIX, _claims, _steals, _fragmenting, then one counter per pair of
// migrate types that occurred: PREFIX_unmovable_from_movable (what was
// allocated, from which type's free list), in the pairs' order.
void add_extfrag_counters(const std::string& prefix, const ExtfragCounts& e,
                          std::vector<std::pair<std::string, uint64_t>>* out) {
  out->emplace_back(prefix, e.events);
  out->emplace_back(prefix + "_claims", e.claims);
  out->emplace_back(prefix + "_steals", e.steals);
  out->emplace_back(prefix + "_fragmenting", e.fragmenting);
  std::map<std::pair<int, int>, uint64_t> pairs;
  for (const auto& [kind, n] : e.by_kind) {
    pairs[{kind.alloc_migratetype, kind.fallback_migratetype}] += n;
  }
  for (const auto& [pair, n] : pairs) {
    out->emplace_back(
        prefix + "_" + migratetype_name(pair.first) + "_from_" + migratetype_name(pair.second), n);
  }
}

}  // namespace

std::vector<std::pair<std::string, uint64_t>> ReplayReport::counters() const {
  std::vector<std::pair<std::string, uint64_t>> c = {
      {"lines", lines},
      {"events", events()},
      {"events_alloc", alloc_events},
      {"events_free", free_events},
      {"events_free_batched", free_batched_events},
      {"applied", applied()},
      {"applied_allocs", applied_allocs},
      {"applied_frees", applied_frees},
      {"applied_batched_frees", applied_batched_frees},
      {"failed_allocs", failed_allocs},
      {"first_failed_alloc_line", first_failed_alloc_line},
      {"skipped", skipped()},
      {"skipped_alloc_failed_in_trace", skipped_alloc_failed_in_trace},
      {"skipped_alloc_refused", skipped_alloc_refused},
      {"skipped_free_before_trace", skipped_free_before_trace},
      {"skipped_free_of_failed_alloc", skipped_free_of_failed_alloc},
      {"skipped_free_not_live", skipped_free_not_live},
      {"skipped_batched", skipped_batched},
      {"realloc_without_free", realloc_without_free},
      {"free_order_mismatch", free_order_mismatch},
      {"malformed_lines", malformed},
      {"ignored", ignored()},
      {"ignored_blank", ignored_blank},
      {"ignored_header", ignored_header},
      {"ignored_lost", ignored_lost},
      {"lost_events", lost_events},
      {"ignored_other_events", ignored_other_events},
      {"ignored_unrecognised", ignored_unrecognised},
  };
  add_extfrag_counters("trace_extfrag", trace_extfrag, &c);
  add_extfrag_counters("emulator_extfrag", emulator_extfrag, &c);
  return c;
}

}  // namespace memd
