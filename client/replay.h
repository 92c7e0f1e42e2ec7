// memctl replay: streams a local trace (.gz too, or stdin) to memd in frames
// (`replay begin`, `replay data bytes=N` + N bytes, ..., `replay end`), with
// a progress bar on a terminal; SIGINT aborts at a frame boundary, keeping
// what was applied.
#pragma once

#include <ostream>
#include <string>

#include "client/connection.h"
#include "client/memctl.h"

namespace memd::client {

// Replays the trace at `path` ("-": stdin); returns memctl's exit status.
int replay_trace(Connection* conn, const std::string& path, bool json, const Environment& env,
                 std::ostream& out, std::ostream& err);

}  // namespace memd::client
