// memd's command language, shared by the control file and the socket: one
// command per line, `verb key=value ...` (protocol/PROTOCOL.md).
//
// parse_command() checks everything that does not depend on the machine's
// shape; whoever runs a command checks the rest (CPU and node numbers, GFP
// zone bits) before touching the machine. The GFP vocabulary is the core's:
// the caller may pass a check for it, so that a bad gfp= is refused with the
// rest of the grammar's errors. format_command() writes a command back as a
// line that parses to it (memctl builds its requests with it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/result.h"

namespace memd::protocol {

inline constexpr size_t kMaxCommandBytes = 64 * 1024;       // one line, newline included
inline constexpr uint64_t kMaxAllocCount = 100'000;         // alloc count=N
inline constexpr uint64_t kMaxReplayFrameBytes = 64 << 20;  // replay data bytes=N
// snapshot load bytes=N: what the parser takes; the daemon refuses more than a
// state of its machine can take.
inline constexpr uint64_t kMaxSnapshotBytes = 1ULL << 40;
// The largest numbers the grammar takes, whatever the machine: the kernel's
// MAX_PAGE_ORDER, MAX_NUMNODES - 1 and NR_CPUS - 1 (the daemon checks that
// the core agrees).
inline constexpr unsigned kMaxOrder = 10;
inline constexpr int kMaxNode = 1023;
inline constexpr int kMaxCpu = 8191;
// What an absent cpu= and count= mean.
inline constexpr int kDefaultCpu = 0;
inline constexpr uint64_t kDefaultCount = 1;
// `allocations limit=N`: the default and the most one reply lists.
inline constexpr uint64_t kDefaultAllocationsLimit = 1000;
inline constexpr uint64_t kMaxAllocationsLimit = 100'000;

struct AllocCommand {
  unsigned order = 0;
  std::string gfp;  // as given: the kernel's spelling (GFP_KERNEL|__GFP_ZERO) or a hex mask
  std::optional<int> node;
  std::optional<int> cpu;
  std::optional<uint64_t> count;

  int cpu_or_default() const { return cpu.value_or(kDefaultCpu); }
  uint64_t count_or_default() const { return count.value_or(kDefaultCount); }
  friend bool operator==(const AllocCommand&, const AllocCommand&) = default;
};

struct FreeTarget {
  enum class Kind : uint8_t { kPfn, kId } kind;
  uint64_t value;
  friend bool operator==(const FreeTarget&, const FreeTarget&) = default;
};

struct FreeCommand {
  std::vector<FreeTarget> targets;  // in the order given; empty when `all`
  bool all = false;
  std::optional<int> cpu;

  int cpu_or_default() const { return cpu.value_or(kDefaultCpu); }
  friend bool operator==(const FreeCommand&, const FreeCommand&) = default;
};

// `allocations [zone=NAME] [node=N] [migratetype=NAME] [order=N] [after=ID]
// [limit=N]`: the live allocations, in id order, where they are now; each
// key given narrows the list (names as the kernel prints them: Normal,
// Movable; whoever runs it checks them against the machine).
struct AllocationsCommand {
  std::string zone;         // empty: any zone
  std::optional<int> node;  // absent: any node
  std::string migratetype;  // empty: any
  std::optional<unsigned> order;
  std::optional<uint64_t> after;  // ids above this one only (the next page of a long list)
  std::optional<uint64_t> limit;  // at most this many (kDefaultAllocationsLimit)

  uint64_t limit_or_default() const { return limit.value_or(kDefaultAllocationsLimit); }
  friend bool operator==(const AllocationsCommand&, const AllocationsCommand&) = default;
};

// `memory offline block=N` and `memory online block=N [zone=kernel|movable]`:
// memory block N (memory/memoryN) goes offline, or comes online as the
// kernel's `online`, `online_kernel` or `online_movable` would bring it.
struct MemoryCommand {
  enum class Op : uint8_t { kOffline, kOnline } op = Op::kOffline;
  enum class Zone : uint8_t { kDefault, kKernel, kMovable } zone = Zone::kDefault;  // kOnline
  uint64_t block = 0;
  friend bool operator==(const MemoryCommand&, const MemoryCommand&) = default;
};
// The largest block number the grammar takes (memory blocks of 128 MiB up
// to the 2^52-byte physical address space).
inline constexpr uint64_t kMaxMemoryBlock = (uint64_t{1} << 25) - 1;

struct SysctlCommand {
  std::string name;                  // without "vm."; empty: list them all
  std::optional<std::string> value;  // set when NAME=VALUE; commas become blanks
  friend bool operator==(const SysctlCommand&, const SysctlCommand&) = default;
};

struct ShowCommand {
  std::string file;  // a file the mount serves (checked by whoever runs it)
  friend bool operator==(const ShowCommand&, const ShowCommand&) = default;
};

struct ReplayCommand {
  enum class Op : uint8_t { kFile, kBegin, kData, kEnd, kAbort } op;
  std::string path;    // kFile
  uint64_t bytes = 0;  // kData: the raw bytes that follow the line
  // kBegin: `every=N`, the replay's history every N events (0: no history);
  // `continue`, the previous replay goes on (its pfn mapping and counts).
  uint64_t every = 0;
  bool continue_previous = false;
  friend bool operator==(const ReplayCommand&, const ReplayCommand&) = default;
};
// The most events between two samples of a replay's history (replay begin
// every=N), and the front ends' default (memctl replay --every, memd --every).
inline constexpr uint64_t kMaxHistoryEvery = uint64_t{1} << 48;
inline constexpr uint64_t kDefaultHistoryEvery = 1000;

// `snapshot save`: the machine's state as bytes, sent after the JSON reply;
// `snapshot load bytes=N`: N raw bytes of state follow the line (socket only).
struct SnapshotCommand {
  enum class Op : uint8_t { kSave, kLoad } op;
  uint64_t bytes = 0;  // kLoad
  friend bool operator==(const SnapshotCommand&, const SnapshotCommand&) = default;
};

struct ResetCommand {
  friend bool operator==(const ResetCommand&, const ResetCommand&) = default;
};
struct CheckCommand {
  friend bool operator==(const CheckCommand&, const CheckCommand&) = default;
};
struct StatusCommand {
  friend bool operator==(const StatusCommand&, const StatusCommand&) = default;
};
struct HelpCommand {
  friend bool operator==(const HelpCommand&, const HelpCommand&) = default;
};

// The kmem tracepoints: `trace` (what is on, the buffer), `trace on LIST`,
// `trace off [LIST]` (no list: every event), `trace buffer_size_kb=N`,
// `trace clear`. LIST: event names separated by commas or blanks
// ("mm_page_alloc,mm_page_free", "kmem:mm_page_alloc", "all"); whoever runs
// the command checks the names.
struct TraceCommand {
  enum class Op : uint8_t { kStatus, kOn, kOff, kBufferSize, kClear } op = Op::kStatus;
  std::vector<std::string> events;  // kOn, kOff
  uint64_t buffer_size_kb = 0;      // kBufferSize
  friend bool operator==(const TraceCommand&, const TraceCommand&) = default;
};
// What `trace buffer_size_kb=` takes at most before the daemon's own limit:
// the value is KiB per CPU.
inline constexpr uint64_t kMaxTraceBufferKb = uint64_t{1} << 40;

using Command = std::variant<AllocCommand, FreeCommand, SysctlCommand, ShowCommand, ReplayCommand,
                             SnapshotCommand, ResetCommand, CheckCommand, StatusCommand,
                             HelpCommand, TraceCommand, AllocationsCommand, MemoryCommand>;

// Checks the text of a gfp= value: nullopt if good, else why not ("unknown
// flag '__GFP_BOGUS'"). A plain function: the core's parse_gfp, wrapped.
using GfpCheck = std::optional<std::string> (*)(std::string_view gfp);

// Whether a line, well-formed or not, announces raw bytes after it
// (`replay data ...`, `snapshot load ...`), judged by its first two words as
// parse_command splits them. A socket reply to a bad such line must close
// the connection: the bytes that follow cannot be told from commands.
bool announces_raw_bytes(std::string_view line);

// Parses one line (a trailing "\n" or "\r\n" is fine). Errors name the verb,
// the key and the value, and say what was expected. Without `check_gfp` any
// gfp= text is taken.
Result<Command> parse_command(std::string_view line, GfpCheck check_gfp = nullptr);

// The line for `command`, without newline; parse_command() of it gives the
// command back. Keys come in a fixed order (alloc: order gfp count cpu node)
// and only when set; pfns are written in hex. Fails on a value no line can
// carry (a control character).
Result<std::string> format_command(const Command& command);

// An error about `verb`'s arguments, as parse_command words it:
// "alloc: gfp=X: why (usage: alloc order=N gfp=FLAGS ...)".
Error usage_error(std::string_view verb, std::string_view what);

// The text `help` prints.
std::string_view command_help();

}  // namespace memd::protocol
