// memd's batch mode: `memd --print FILE[,FILE...]` and `memd --replay TRACE
// [--history FILE [--every N]] [--print ...]`. Boots the configured machine
// (never the saved one: the state directory is not touched), replays the
// trace through the Service as a socket client streams it, writes the
// history, prints the replay's report to stderr as `memctl replay` does and
// the files to stdout, and exits. Nothing is mounted, no socket is opened.
#pragma once

#include "daemon/config.h"
#include "daemon/options.h"

namespace memd {

// memd's exit status: 0, or 1 when the machine cannot boot, the trace cannot
// be read, the history cannot be written or stdout fails.
int run_batch(const Config& config, const Options& options);

}  // namespace memd
