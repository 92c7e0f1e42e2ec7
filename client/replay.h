// memctl replay: streams a local trace (.gz too, or stdin) to memd in frames
// (`replay begin`, `replay data bytes=N` + N bytes, ..., `replay end`), with
// a progress bar on a terminal; SIGINT aborts at a frame boundary, keeping
// what was applied. With --history, each reply's "history" rows are
// appended to the file as they come (`replay begin every=N`); --continue
// sends `replay begin continue`.
#pragma once

#include <ostream>
#include <string>

#include "client/connection.h"
#include "client/memctl.h"
#include "protocol/command.h"

namespace memd::client {

// What `memctl replay` was asked.
struct ReplayOptions {
  std::string path;  // the trace; "-": stdin
  bool json = false;
  // --history FILE: the replay's history, as CSV (core/replay_history.h's
  // columns), written to FILE as memd's replies bring it; "": none.
  std::string history;
  uint64_t every = protocol::kDefaultHistoryEvery;  // --every N: a row per zone every N events
  bool continue_previous = false;                   // --continue: the previous replay goes on
};

// Replays the trace; returns memctl's exit status. The history file is
// created (truncated) before anything is sent: one that cannot be is a
// usage error and memd is not asked anything.
int replay_trace(Connection* conn, const ReplayOptions& options, const Environment& env,
                 std::ostream& out, std::ostream& err);

}  // namespace memd::client
