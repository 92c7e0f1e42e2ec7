// memd's replies: one JSON object per command on the socket ("ok" first), and
// human-readable lines for the control file, built together so that the two
// say the same. The shapes are protocol/PROTOCOL.md's; memctl reads them back
// with the field names below.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace memd::protocol {

using Json = nlohmann::ordered_json;

// Why a command failed; the front ends map it to errno (control file) or
// name it in the reply's "failure" (socket: failure_name), from which memctl
// takes its exit status (kBadInput 2, the others 1).
enum class Failure : uint8_t {
  kNone,
  kBadInput,     // the command was wrong: nothing changed
  kAllocFailed,  // the allocator said no (a failed allocation may still boost a watermark)
  kBusy,         // another replay is running
  kDenied,       // this client may not do that
  kCheckFailed,  // `check` found broken invariants
  kIo,           // a trace file could not be read
  kInternal,     // an exception inside memd (out of memory, a bug)
  kNotATrace,    // a replay met no mm_page_alloc or mm_page_free event: nothing applied
  kInterrupted,  // a memory offline whose migration pass moved nothing gave up (the kernel's EINTR)
};

// The name of a failure on the wire, in an error reply's "failure": "bad_input",
// "alloc_failed", "busy", "denied", "check_failed", "io", "internal", "not_a_trace",
// "interrupted".
std::string_view failure_name(Failure failure);
// The failure a name stands for; kNone for a name this build does not know
// (a newer memd's), which a client treats as a refusal.
Failure failure_named(std::string_view name);

struct Reply {  // NOLINT(bugprone-exception-escape): json's moves do not throw
  Failure failure = Failure::kNone;
  Json json;         // the socket's reply: {"ok": ..., ...}
  std::string text;  // the control file's reply: human-readable lines
  // Raw bytes the socket sends right after the JSON line (`snapshot save`:
  // the state, as many bytes as the reply's "bytes" says). Shared: replies are copied.
  std::shared_ptr<const std::string> payload;

  bool ok() const { return failure == Failure::kNone; }
  std::string error_message() const;
  // One line of JSON, '\n'-terminated; invalid UTF-8 from clients is replaced, never thrown.
  std::string json_line() const;
  // {"ok":false,"error":message,"failure":failure_name(failure)}; text "error: message\n".
  static Reply error(Failure failure, std::string message);
  // {"ok":true, ...body}; `text` for the control file.
  static Reply success(Json body, std::string text);
};

// Appends `value` as one line of JSON exactly as value.dump(-1, ' ', false,
// replace) writes it (no blanks, UTF-8 as it is, invalid UTF-8 replaced),
// without nlohmann's UTF-8 check of the plain ASCII strings that make up most
// replies: Reply::json_line() of a pipelined allocation spent 14 % of memd's
// time in it.
void append_json(std::string* out, const Json& value);

// Reply::error(Failure::kBadInput, message): the command was wrong, nothing changed.
Reply bad_input(std::string message);

// The names of the replies' fields, for whoever writes or reads them.
namespace field {
inline constexpr const char* kOk = "ok";
inline constexpr const char* kError = "error";
inline constexpr const char* kFailure = "failure";  // an error's kind: failure_name()
inline constexpr const char* kAllocations = "allocations";
inline constexpr const char* kFreed = "freed";
inline constexpr const char* kMatched = "matched";  // allocations: how many match in all
inline constexpr const char* kCount = "count";
inline constexpr const char* kBlock = "block";        // memory: the block's number (memoryN)
inline constexpr const char* kState = "state";        // memory: the block's state now
inline constexpr const char* kPages = "pages";        // memory: the block's pages
inline constexpr const char* kMigrated = "migrated";  // memory offline: allocations migrated
inline constexpr const char* kMigratedPages = "migrated_pages";
inline constexpr const char* kMessage = "message";  // memory: the kernel's line
inline constexpr const char* kSysctl = "sysctl";
inline constexpr const char* kText = "text";
inline constexpr const char* kMachine = "machine";
inline constexpr const char* kProblems = "problems";
inline constexpr const char* kBytes = "bytes";
inline constexpr const char* kLines = "lines";
inline constexpr const char* kReport = "report";
inline constexpr const char* kMalformed = "malformed";
inline constexpr const char* kAborted = "aborted";
inline constexpr const char* kHistory = "history";  // a replay's history rows (CSV lines)
inline constexpr const char* kLine = "line";        // a malformed line's number
inline constexpr const char* kReason = "reason";    // and why
inline constexpr const char* kLiveAllocations = "live_allocations";
inline constexpr const char* kCounters = "counters";
inline constexpr const char* kReplaying = "replaying";
inline constexpr const char* kPid = "pid";
// An allocation's.
inline constexpr const char* kId = "id";
inline constexpr const char* kPfn = "pfn";
inline constexpr const char* kOrder = "order";
inline constexpr const char* kZone = "zone";
inline constexpr const char* kNode = "node";
inline constexpr const char* kMigratetype = "migratetype";
// status's "machine" and its zones.
inline constexpr const char* kShape = "shape";
inline constexpr const char* kZones = "zones";
inline constexpr const char* kCmdline = "cmdline";
inline constexpr const char* kStartPfn = "start_pfn";
inline constexpr const char* kSpanned = "spanned";
inline constexpr const char* kPresent = "present";
inline constexpr const char* kManaged = "managed";
inline constexpr const char* kFree = "free";
}  // namespace field

// One allocation as replies show it:
// {"id":7,"pfn":"0x1f400","order":3,"zone":"Normal","node":0,"migratetype":"Movable"}.
struct AllocationEntry {
  uint64_t id = 0;
  uint64_t pfn = 0;
  unsigned order = 0;
  std::string_view zone;  // the kernel's zone name
  int node = 0;
  std::string_view migratetype;  // the kernel's migratetype name
};
Json allocation_json(const AllocationEntry& a);
// "id=7 pfn=0x1f400 order=3 zone=Normal node=0 migratetype=Movable\n"
std::string allocation_text(const AllocationEntry& a);

// `alloc`: the allocations made. When the allocator failed (`failure`), an
// error, with the ones made before it when the command asked for several.
Reply alloc_reply(const std::vector<AllocationEntry>& made, const std::string* failure,
                  bool asked_for_several);
// alloc_reply(made, nullptr, ...).json_line() appended to `out`, written
// directly: the socket's answer to a successful `alloc`, its commonest line,
// without building the reply's JSON tree and control-file text (they were a
// third of a pipelined allocation's time). The names in `made` are the
// kernel's (plain ASCII, nothing to escape).
void append_alloc_line(std::string* out, const std::vector<AllocationEntry>& made);
// `allocations`: {"allocations":[...],"count":N,"matched":M}, the N listed
// of the M that match; text: a line each, then "N of M allocations" (and
// the command for the next ones when M > N).
Reply allocations_reply(const std::vector<AllocationEntry>& listed, uint64_t matched);
// `free pfn=.../id=...`: {"freed":[...],"count":N}; `free all`: {"count":N}.
Reply free_reply(const std::vector<AllocationEntry>& freed);
Reply free_all_reply(uint64_t count);

// What `memory offline` or `memory online` did to a block.
struct MemoryBlockChange {
  uint64_t block = 0;
  bool offline = true;    // the block went offline (else online)
  std::string_view zone;  // the zone it left or joined
  uint64_t pages = 0;     // the block's pages
  uint64_t migrated = 0;  // offline: allocations migrated out of it (their ids kept)
  uint64_t migrated_pages = 0;
  std::string message;  // the kernel's line: "Offlined Pages 32768"
};
// {"block":14,"state":"offline","zone":"Movable","pages":32768,"migrated":N,
// "migrated_pages":P,"message":"Offlined Pages 32768"}; text: one line,
// "memory14: offline (from Movable): Offlined Pages 32768; N allocations (P pages) migrated".
Reply memory_reply(const MemoryBlockChange& change);
// A block that would not go offline or online: the failure, and the
// message "memory offline block=14: <the kernel's line>" (plus the pages
// migrated before an interrupted offline gave up).
Reply memory_failure_reply(Failure failure, std::string message);
// `sysctl`: {"sysctl":{name: value, ...}}; values as the kernel prints them
// become a number, an array of numbers or, failing both, the text.
Reply sysctl_reply(const std::vector<std::pair<std::string, std::string>>& values);
// `trace`: {"trace":{"events":[names on],"buffer_size_kb":N,"entries":N,"overrun":N}}.
struct TraceState {
  std::vector<std::string> events;  // on, in the kernel's order
  uint64_t buffer_size_kb = 0;      // per CPU, as the kernel's file reads it
  uint64_t entries = 0;             // events in the buffers
  uint64_t overrun = 0;             // events the full buffers dropped
};
Reply trace_reply(const TraceState& t);
// `show`, `help`: {"text": text}.
Reply text_reply(std::string text);
// `reset`: {"machine": shape}.
Reply reset_reply(const std::string& shape);
// `check`: {"problems":[]}, or an error naming the first problem, with all of them.
Reply check_reply(const std::vector<std::string>& problems);

// `status`: the machine's shape, zones and counters.
struct ZoneStatus {
  int node = 0;
  std::string_view zone;
  uint64_t start_pfn = 0, spanned = 0, present = 0, managed = 0, free = 0;
};
struct MachineStatus {
  std::string shape;  // "x86_64, 4095 MiB in 1 node, 2 CPUs"
  std::string_view arch;
  uint64_t nodes = 0;
  int cpus = 0;
  std::string cmdline;
  std::vector<ZoneStatus> zones;
  uint64_t live_allocations = 0;
  uint64_t pgalloc = 0, pgfree = 0, free_pages = 0, extfrag_claims = 0, extfrag_steals = 0;
  bool replaying = false;
  // Who runs the replay: the client that sent `replay begin`, or the one that
  // sent `replay file=`; "replay_holder":{"uid":U,"pid":P,"comm":"memctl"}.
  struct Holder {
    uint64_t uid = 0;
    int64_t pid = 0;
    std::string comm;
  };
  std::optional<Holder> replay_holder;
  int64_t pid = 0;
};
Reply status_reply(const MachineStatus& s);
// "x86_64, 4096 MiB in 1 node, 2 CPUs"
std::string machine_shape(std::string_view arch, uint64_t mib, uint64_t nodes, int cpus);

// A replay's report: {"report":{counter: n, ..., "malformed":[{"line":N,"reason":"..."}]}}.
struct ReplaySummary {
  std::vector<std::pair<std::string, uint64_t>> counters;   // in order; none named "malformed"
  std::vector<std::pair<uint64_t, std::string>> malformed;  // line number, why
};
Reply report_reply(const ReplaySummary& report);
// `replay abort`: the report so far, with "lines" and "aborted":true.
Reply replay_aborted_reply(const ReplaySummary& report, uint64_t lines);
// `replay begin`: {}, "replay started".
Reply replay_started_reply();
// One `replay data` frame applied: {"lines": lines applied so far}.
Reply replay_frame_reply(uint64_t lines);
// A replay that records its history (`replay begin every=N`): each of its
// replies carries "history", the CSV lines recorded since the previous one.
void add_history(Reply* reply, std::string rows);

// A replay's report for humans, as `memctl replay` and `memd --replay` print
// it: each counter of the reply's "report" object on a line, aligned, then
// the malformed lines. Anything but an object is printed as JSON.
std::string report_text(const Json& report);
// The line before it: "replayed PATH: N lines in 0.42 s"; "replay of PATH
// interrupted after N lines in 0.42 s"; for a continued replay, whose report
// counts all its parts, "replayed PATH, continuing the previous replay: N
// lines in all, this part in 0.42 s".
struct ReplayHeadline {
  std::string_view path;
  uint64_t lines = 0;
  double seconds = 0;
  bool interrupted = false;
  bool continued = false;
};
std::string replay_headline(const ReplayHeadline& h);

// A reply's field as text, whatever its JSON type: a string as it is, a
// number or other value as JSON writes it, "" when absent or null.
std::string text_of(const Json& obj, const char* key);

// `snapshot save`: {"bytes":N,"allocations":A}, the N bytes as the payload.
Reply snapshot_saved_reply(std::shared_ptr<const std::string> state, uint64_t allocations);
// A `snapshot load bytes=N` admitted: {} (the bytes may come).
Reply snapshot_admitted_reply();
// `snapshot load` done: {"machine": shape, "allocations": A}.
Reply snapshot_loaded_reply(const std::string& shape, uint64_t allocations);

}  // namespace memd::protocol
