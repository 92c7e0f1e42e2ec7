// The log of what clients do: each command that changes the machine (alloc,
// free, reset, sysctl NAME=VALUE, replay, snapshot load, trace on/off/clear/
// buffer_size_kb) at notice with the peer's uid, pid and command name; every
// command, reads included, at debug (memd -v); every failure and refusal at
// warning. At most kCommandLinesPerSecond such lines a second in all: past
// it a client's lines are counted, not written, and its next line once the
// second is over (or its disconnection) is preceded by one summary,
// "N more commands from uid U pid P (comm) not logged". A summary at a
// disconnection is itself within the limit; past it, those of clients gone
// are summed into one "N more commands from clients now gone" before the
// next line written. Clients without a
// peer (pid 0: batch mode's replay) are not logged.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/log.h"
#include "daemon/service.h"

namespace memd {

inline constexpr int kCommandLinesPerSecond = 20;

// At most `per_second` admissions in each second (a window that starts at
// the first admission after the last one ended).
class RateLimit {
 public:
  explicit RateLimit(int per_second) : per_second_(per_second) {}
  bool admit(std::chrono::steady_clock::time_point now);

 private:
  int per_second_;
  std::chrono::steady_clock::time_point window_{};
  int used_ = 0;
};

// Refused connections (permission denied, too many clients), counted past
// the rate limit: the count comes out as one summary line, "N more refused
// connections not logged (over 20 lines a second)", before the next line
// written. The pure part of log_refused_connection(), with the clock given.
class RefusalCount {
 public:
  // Whether a refusal at `now` may be written under `limit` (else counted).
  bool admit(RateLimit* limit, std::chrono::steady_clock::time_point now);
  // The summary of the refusals counted since the last one, if any; the
  // count starts again from 0.
  std::optional<std::string> take_summary();

 private:
  uint64_t unlogged_ = 0;
};

// The line a command gets in the log: "uid 0 pid 42 (memctl): alloc order=0
// gfp=GFP_KERNEL cpu=0: ok" (a long command cut at 200 bytes).
std::string command_line(const Command& command, const Client& client, const Reply& reply);
// Whether `command` changes the machine (else it only reads).
bool changes_machine(const Command& command);

// Logs `command`, run for `client` with `reply`, as the header says.
void log_command(const Command& command, Client* client, const Reply& reply);
// Logs a line that is not a command (`error` says why), as a failure.
void log_bad_line(std::string_view line, Client* client, std::string_view error);
// The summary of the client's lines not logged, if any (at its disconnection).
void log_unlogged(Client* client);
// Logs a connection the socket refused: `message` (e.g. "socket: refused pid
// 42 uid 1000: permission denied: ...") at `level`, as a refusal (its
// MESSAGE_ID, and the peer's uid and pid when known), within the same limit
// of kCommandLinesPerSecond lines a second as the commands' lines: past it
// the refusals are counted (RefusalCount) and summed up in one line before
// the next line written, a refusal's or a command's.
void log_refused_connection(log::Level level, std::string_view message,
                            const std::optional<log::Peer>& peer);

}  // namespace memd
