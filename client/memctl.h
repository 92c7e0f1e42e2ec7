// memctl: a thin client of memd's Unix socket (product.md "memctl"). Parses
// its command line, sends one command per subcommand (a replay streams the
// local trace file in frames), prints the reply for humans or as JSON, and
// exits with one of the statuses below and, on failure, ONE line on stderr.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace memd::client {

enum ExitStatus : int {
  kExitOk = 0,
  kExitRefused = 1,      // memd refused the command for the machine's state (an allocation
                         // failed, another replay runs, check found problems: any "failure"
                         // but "bad_input"), or memctl plot an input that is not a replay history
  kExitUsage = 2,        // memctl was used wrongly, whichever side noticed: a value out of range
                         // or malformed (memd's "failure":"bad_input" too), a local file that
                         // cannot be read or written
  kExitUnreachable = 3,  // no memd at the socket, or it went away
  kExitInterrupted = 130,
};

// What memctl takes from its environment; injected for tests.
struct Environment {
  std::optional<std::string> memd_socket;      // $MEMD_SOCKET
  std::optional<std::string> xdg_runtime_dir;  // $XDG_RUNTIME_DIR
  bool user_socket_exists = false;             // $XDG_RUNTIME_DIR/memd/memd.sock is there
  bool root = false;                           // euid 0
  bool stderr_is_tty = false;                  // draw a progress bar
  int columns = 80;                            // terminal width for the progress bar

  static Environment from_process();
};

// /run/memd/memd.sock as root; otherwise the user's own memd at
// $XDG_RUNTIME_DIR/memd/memd.sock if that socket exists, else the system's
// /run/memd/memd.sock (members of group memd may use it). $MEMD_SOCKET
// overrides both.
std::string default_socket_path(const Environment& env);

// Runs memctl with `args` (args[0] is the program name); returns the exit status.
int run(const std::vector<std::string>& args, const Environment& env, std::ostream& out,
        std::ostream& err);

}  // namespace memd::client
