// The history of a replay (memctl replay --history): the state of every zone
// as CSV rows, one per zone buddyinfo lists, taken every N trace events by
// the Replayer (core/trace.h). The numbers come from the MachineStats
// snapshot the files are rendered from, through the same helpers
// (core/render.h), so a row never disagrees with the files at that moment.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/stats.h"

namespace memd {

// The emulated machine's fallbacks in one zone since the replay began
// (mm_page_alloc_extfrag: change_ownership=1 is a claim, 0 a steal).
struct ZoneExtfrag {
  uint64_t claims = 0;
  uint64_t steals = 0;
};
// Per node id, per zone_idx.
using ExtfragByZone = std::vector<std::vector<ZoneExtfrag>>;

// The first line of a history, with its newline. Fixed: readers (memctl
// plot) find the columns by these names, in this order.
inline constexpr std::string_view kHistoryHeader =
    "event,node,zone,free_pages,free_0,free_1,free_2,free_3,free_4,free_5,free_6,free_7,"
    "free_8,free_9,free_10,unmovable,movable,reclaimable,highatomic,isolate,unusable_9,"
    "unusable_10,extfrag_claims,extfrag_steals,alloc_failures\n";

// The state a row is made of: `event` events replayed so far, the machine's
// counters, the fallbacks per zone and the failed allocations (machine-wide).
struct HistorySample {
  uint64_t event = 0;
  const MachineStats* stats = nullptr;
  const ExtfragByZone* extfrag = nullptr;
  uint64_t alloc_failures = 0;
};

// Appends one row per zone buddyinfo lists, in buddyinfo's order:
//   event, node, zone (buddyinfo's name), free_pages (zoneinfo's "pages
//   free"), free_0..free_10 (buddyinfo's counts), unmovable..isolate
//   (pagetypeinfo's "Number of blocks type"), unusable_9, unusable_10 (as
//   unusable_index prints them), extfrag_claims, extfrag_steals (this zone's),
//   alloc_failures (the machine's: the same in every row of a sample).
void append_history_rows(std::string* out, const HistorySample& sample);

}  // namespace memd
