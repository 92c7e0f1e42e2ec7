// A replay history as `memctl replay --history FILE` writes it: a CSV whose
// first line is exactly kHistoryHeader, then one row per populated zone per
// sample (every N trace events, and the end). Parsed into one series of rows
// per zone, each row checked: the right number of columns, numbers where
// numbers go, a known zone name, events that never go back.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/connection.h"

namespace memd::client {

inline constexpr size_t kHistoryOrders = 11;  // free_0 .. free_10
inline constexpr size_t kHistoryTypes = 5;    // unmovable .. isolate

// The columns, in order; the header line is them joined by commas.
inline constexpr std::array<std::string_view, 25> kHistoryColumns = {
    "event",      "node",        "zone",           "free_pages",     "free_0",
    "free_1",     "free_2",      "free_3",         "free_4",         "free_5",
    "free_6",     "free_7",      "free_8",         "free_9",         "free_10",
    "unmovable",  "movable",     "reclaimable",    "highatomic",     "isolate",
    "unusable_9", "unusable_10", "extfrag_claims", "extfrag_steals", "alloc_failures"};

// pagetypeinfo's names of the migrate types, in the order of the columns.
inline constexpr std::array<std::string_view, kHistoryTypes> kHistoryTypeNames = {
    "Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"};

// One zone at one sample.
struct HistoryRow {
  uint64_t event = 0;  // trace events replayed before the sample
  uint64_t free_pages = 0;
  std::array<uint64_t, kHistoryOrders> free_blocks{};  // buddyinfo: free blocks per order
  std::array<uint64_t, kHistoryTypes> pageblocks{};    // pagetypeinfo: blocks per type
  double unusable_9 = 0;
  double unusable_10 = 0;
  uint64_t extfrag_claims = 0;  // cumulative, this zone's
  uint64_t extfrag_steals = 0;
  uint64_t alloc_failures = 0;  // cumulative, the whole machine's
};

// A zone's rows in the file's order (events never decrease).
struct ZoneHistory {
  int node = 0;
  std::string zone;  // "DMA", "DMA32", "Normal", "HighMem", "Movable", "Device"
  std::vector<HistoryRow> rows;
};

// A whole file: its zones in the order of their first row.
struct History {
  std::string name;  // the path it was read from, for messages
  std::vector<ZoneHistory> zones;
  uint64_t first_event = 0;
  uint64_t last_event = 0;
};

// The kernel's order of the zone types (DMA < DMA32 < Normal < HighMem <
// Movable < Device), or -1 for a name that is not a zone's.
int zone_rank(std::string_view zone);

// Parses a history read from `name`. An error names the file and the line
// ("h.csv:7: free_3 is 'x', not a number").
Result<History> parse_history(std::string_view text, const std::string& name);

}  // namespace memd::client
