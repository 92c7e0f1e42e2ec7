// The daemon's log: one line per message, to stderr with sd-daemon level
// prefixes ("<3>", "<4>", "<6>", "<7>"), to the journal with structured
// fields under systemd (use_journal), or to syslog once memd has detached
// from its terminal. Thread-safe: each line is one write(2) or one send.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace memd::log {

enum class Level : int { kErr = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// What a line is about; each kind has its own journal MESSAGE_ID (fixed,
// listed in docs/architecture.md, "The log").
enum class Event : uint8_t {
  kGeneral,     // start, stop, configuration, the mount
  kCommand,     // a command that changes the machine, run
  kRead,        // a command that only reads (logged with -v)
  kFailed,      // a command that failed
  kRefused,     // a command or peer refused (permission)
  kSuppressed,  // "N more commands from uid U pid P": over the rate limit
};
std::string_view message_id(Event event);

// The socket peer or control file opener a line is about.
struct Peer {
  uid_t uid = 0;
  pid_t pid = 0;
};

// Messages above `max` are dropped (default kInfo).
void set_max_level(Level max);
// Sends every later message to syslog(3) instead of stderr.
void use_syslog(std::string_view ident);
// Sends every later message to the journal (sd_journal_sendv), with the
// fields journal_fields() makes; a message the journal refuses goes to stderr.
void use_journal();
// Whether stderr is the journal's stream (JOURNAL_STREAM names its device
// and inode, as systemd sets it for a service whose output goes to the journal).
bool stderr_is_journal();
bool enabled(Level level);
void write(Level level, std::string_view message, Event event = Event::kGeneral,
           const std::optional<Peer>& peer = std::nullopt);

// The journal fields of one message: MESSAGE=, PRIORITY=, MESSAGE_ID=,
// SYSLOG_IDENTIFIER=memd, and MEMD_CLIENT_UID=, MEMD_CLIENT_PID= with a peer.
std::vector<std::string> journal_fields(Level level, std::string_view message, Event event,
                                        const std::optional<Peer>& peer);

template <typename... Args>
void err(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kErr, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kWarning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void notice(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kNotice, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::kDebug)) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace memd::log
