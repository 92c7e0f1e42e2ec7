// memctl's human output: text made from memd's JSON replies. Pure functions
// of the reply, so the output can be tested from canned JSON. Replies of an
// unexpected shape are printed as JSON rather than lost.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace memd::client {

using Json = nlohmann::ordered_json;

// A table of allocations ({"id","pfn","order","zone","node","migratetype"}),
// one line each, under a header line.
std::string format_allocations(const Json& list);
// `alloc`: what was allocated.
std::string format_alloc(const Json& reply);
// `free`: what was freed ("freed 3 allocations" and their table).
std::string format_free(const Json& reply);
// `allocations`: the table, then "N of M allocations" (and how to see the
// next ones when M > N).
std::string format_allocation_list(const Json& reply);
// `offline`, `online`: "memory14: offline (from Movable): Offlined Pages
// 32768; N allocations (P pages) migrated", "memory14: online in Normal".
std::string format_memory(const Json& reply);
// `sysctl`: "vm.NAME = VALUE" lines, as sysctl(8) prints them.
std::string format_sysctl(const Json& reply);
// `status`: the machine, its zones and counters.
std::string format_status(const Json& reply);
// `check`: "ok: ..." or the problems, one a line.
std::string format_check(const Json& reply);
// `reset`
std::string format_reset(const Json& reply);
// `trace`: which events are on, the buffer size and its entries.
std::string format_trace(const Json& reply);
// `replay`: the counters of a report (aligned) and the malformed lines
// (protocol::report_text: memd --replay prints the same).
std::string format_report(const Json& report);

// The error message of a refused command, on one line.
std::string error_message(const Json& reply);

// One line of replay progress (no newline), at most `width` columns:
// "replay trace.gz [#########.........] 45%  135000 lines  1.2M lines/s".
std::string progress_line(const std::string& name, uint64_t done, uint64_t total, uint64_t lines,
                          double seconds, int width);

}  // namespace memd::client
