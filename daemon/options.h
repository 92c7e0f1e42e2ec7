// memd's command line (CLI11) and how it combines with the configuration
// file: flags override the file, the file overrides the defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/result.h"
#include "daemon/config.h"
#include "protocol/command.h"

namespace memd {

struct Options {
  std::optional<std::string> config_path;  // --config; else /etc/memd/memd.toml if it exists
  bool foreground = false;
  bool verbose = false;
  // Batch mode (daemon/batch.h): no mount, no socket, no state.
  std::optional<std::string> print;    // --print FILE[,FILE...]: print the files and exit
  std::optional<std::string> replay;   // --replay TRACE: replay it first
  std::optional<std::string> history;  // --history FILE: the replay's history, as CSV
  uint64_t every = protocol::kDefaultHistoryEvery;  // --every N: a history row every N events
  // [daemon] overrides
  std::optional<std::string> mount;
  std::optional<std::string> socket;
  std::optional<std::string> socket_group;
  std::optional<bool> allow_other;
  bool nonempty = false;  // --nonempty
  std::optional<int> fuse_threads;
  std::optional<int> socket_threads;
  std::optional<std::string> state_dir;  // --state-dir
  bool no_state = false;                 // --no-state: neither restore nor save
  // [machine] overrides
  std::optional<std::string> arch;
  std::optional<std::string> size;
  std::optional<int> cpus;
  std::optional<std::string> cmdline;
};

// The files --print names, in order ("buddyinfo,zoneinfo").
std::vector<std::string> print_list(const std::string& print);

// Parses argv. On --help, --version or a usage error it prints what CLI11
// prints and returns the exit status (0, or 2 for a usage error).
std::variant<Options, int> parse_options(int argc, const char* const* argv);

// Loads the file the options name (or the default file if it exists, or the
// built-in defaults) and applies the overrides.
Result<Config> resolve_config(const Options& options);

}  // namespace memd
