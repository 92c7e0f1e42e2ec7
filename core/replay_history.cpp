// The rows of a replay's history, from a MachineStats snapshot.
#include "core/replay_history.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <iterator>

#include "core/render.h"

namespace memd {

// The header names 11 orders and 5 migrate types; a CMA column would be
// appended at the end of the header, never inserted.
static_assert(kNrPageOrders == 11, "kHistoryHeader names free_0..free_10");
static_assert(kMigrateTypes == 5, "kHistoryHeader names unmovable..isolate");

void append_history_rows(std::string* out, const HistorySample& sample) {
  auto to = std::back_inserter(*out);
  for (const ZoneStats* z : populated_zones(*sample.stats)) {
    fmt::format_to(to, FMT_COMPILE("{},{},{},{}"), sample.event, z->nid, z->name, z->free_pages);
    for (uint64_t n : z->nr_free) {
      fmt::format_to(to, FMT_COMPILE(",{}"), n);
    }
    for (uint64_t n : z->block_count) {
      fmt::format_to(to, FMT_COMPILE(",{}"), n);
    }
    ZoneExtfrag fallbacks;
    const ExtfragByZone& by_zone = *sample.extfrag;
    if (static_cast<size_t>(z->nid) < by_zone.size() && z->idx < by_zone[z->nid].size()) {
      fallbacks = by_zone[z->nid][z->idx];
    }
    fmt::format_to(to, FMT_COMPILE(",{},{},{},{},{}\n"), unusable_index_text(*z, 9),
                   unusable_index_text(*z, 10), fallbacks.claims, fallbacks.steals,
                   sample.alloc_failures);
  }
}

}  // namespace memd
