// The command language shared by the control file and the socket: one command
// per line, `verb key=value ...` (docs in daemon/PROTOCOL.md). parse_command()
// checks everything that does not depend on the machine's shape; the Service
// checks the rest (CPU and node numbers, GFP zone bits) before touching it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/gfp.h"
#include "core/result.h"
#include "core/types.h"

namespace memd {

inline constexpr size_t kMaxCommandBytes = 64 * 1024;       // one line, newline included
inline constexpr uint64_t kMaxAllocCount = 100'000;         // alloc count=N
inline constexpr uint64_t kMaxReplayFrameBytes = 64 << 20;  // replay data bytes=N
// snapshot load bytes=N: what the parser takes; the Service refuses more than a
// state of its machine can take (Service::max_state_bytes()).
inline constexpr uint64_t kMaxSnapshotBytes = 1ULL << 40;

struct AllocCommand {
  unsigned order = 0;
  Gfp gfp = 0;
  std::optional<int> node;
  int cpu = 0;
  uint64_t count = 1;
};

struct FreeTarget {
  enum class Kind : uint8_t { kPfn, kId } kind;
  uint64_t value;
  friend bool operator==(const FreeTarget&, const FreeTarget&) = default;
};

struct FreeCommand {
  std::vector<FreeTarget> targets;  // in the order given; empty when `all`
  bool all = false;
  int cpu = 0;
};

struct SysctlCommand {
  std::string name;                  // without "vm."; empty: list them all
  std::optional<std::string> value;  // set when NAME=VALUE; commas become blanks
};

struct ShowCommand {
  std::string file;  // a file the mount serves (checked by the Service)
};

struct ReplayCommand {
  enum class Op : uint8_t { kFile, kBegin, kData, kEnd, kAbort } op;
  std::string path;    // kFile
  uint64_t bytes = 0;  // kData: the raw bytes that follow the line
};

// `snapshot save`: the machine's state as bytes, sent after the JSON reply;
// `snapshot load bytes=N`: N raw bytes of state follow the line (socket only).
struct SnapshotCommand {
  enum class Op : uint8_t { kSave, kLoad } op;
  uint64_t bytes = 0;  // kLoad
};

struct ResetCommand {};
struct CheckCommand {};
struct StatusCommand {};
struct HelpCommand {};

using Command =
    std::variant<AllocCommand, FreeCommand, SysctlCommand, ShowCommand, ReplayCommand,
                 SnapshotCommand, ResetCommand, CheckCommand, StatusCommand, HelpCommand>;

// Whether a line, well-formed or not, announces raw bytes after it
// (`replay data ...`, `snapshot load ...`), judged by its first two words as
// parse_command splits them. A socket reply to a bad such line must close
// the connection: the bytes that follow cannot be told from commands.
bool announces_raw_bytes(std::string_view line);

// Parses one line (a trailing "\n" or "\r\n" is fine). Errors name the verb,
// the key and the value, and say what was expected.
Result<Command> parse_command(std::string_view line);

// The text `help` prints.
std::string_view command_help();

}  // namespace memd
