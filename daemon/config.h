// memd's configuration: the emulated machine (core's MachineConfig) and the
// daemon's own settings, read from TOML (/etc/memd/memd.toml or --config) with
// the keys of ../shared/spec/product.md. Unknown keys are errors; every error
// names the file, line, column, key and reason.
#pragma once

#include <string>
#include <string_view>

#include "core/config.h"
#include "core/result.h"

namespace memd {

inline constexpr std::string_view kDefaultConfigPath = "/etc/memd/memd.toml";

struct DaemonSettings {
  std::string mount;         // where the files are mounted
  std::string socket;        // the Unix socket of the command language
  std::string socket_group;  // group allowed on the socket (if it exists); "" for none
  std::string state_dir;     // the machine saved at a clean stop, restored at start; "" for none
  bool allow_other = true;   // let other users read the mount (FUSE allow_other), as /proc
  bool nonempty = false;     // mount over a directory that holds files (FUSE nonempty)
  int fuse_threads = 8;      // FUSE worker threads at most
  // Threads serving socket clients (the pool); 0: the CPUs memd may run on, at most 4
  // (default_socket_threads()).
  int socket_threads = 0;
  int max_clients = 8192;  // socket connections at once; more are refused
};

struct Config {
  MachineConfig machine;
  DaemonSettings daemon;
  std::string source;  // the file it came from, or "(built-in defaults)"
};

// The defaults: the default machine (one node, 4 GiB, 2 CPUs); paths under
// /run/memd as root, under $XDG_RUNTIME_DIR/memd (or /tmp/memd-UID) otherwise;
// the state in /var/lib/memd as root, $XDG_STATE_HOME/memd (or
// ~/.local/state/memd) otherwise.
Config default_config();

// Parses TOML text; `source_name` prefixes error messages ("FILE:LINE:COL: key: reason").
Result<Config> parse_config(std::string_view toml_text, std::string_view source_name);
// Reads and parses a file.
Result<Config> load_config_file(const std::string& path);

}  // namespace memd
