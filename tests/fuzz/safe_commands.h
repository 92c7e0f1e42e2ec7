// Which commands the daemon's fuzz targets may run.
#pragma once

#include <type_traits>
#include <variant>

#include "daemon/command.h"

namespace memd::fuzz {

// True for the commands known to touch no file: a fuzzer must not make memd
// read or write files. `replay file=` names a path; a verb added later that
// this list does not know is not run until someone looks at it. `snapshot`
// moves bytes over the connection only; a target runs it if `with_snapshot`.
inline bool safe_to_run(const Command& command, bool with_snapshot) {
  return std::visit(
      [with_snapshot](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ReplayCommand>) {
          return c.op != ReplayCommand::Op::kFile;
        } else if constexpr (std::is_same_v<T, SnapshotCommand>) {
          return with_snapshot;
        } else {
          return std::is_same_v<T, AllocCommand> || std::is_same_v<T, FreeCommand> ||
                 std::is_same_v<T, SysctlCommand> || std::is_same_v<T, ShowCommand> ||
                 std::is_same_v<T, ResetCommand> || std::is_same_v<T, CheckCommand> ||
                 std::is_same_v<T, StatusCommand> || std::is_same_v<T, HelpCommand> ||
                 std::is_same_v<T, TraceCommand> || std::is_same_v<T, AllocationsCommand> ||
                 std::is_same_v<T, MemoryCommand>;
        }
      },
      command);
}

}  // namespace memd::fuzz
