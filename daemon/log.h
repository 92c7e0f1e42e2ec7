// The daemon's log: one line per message, to stderr with sd-daemon level
// prefixes ("<3>", "<4>", "<6>", "<7>": journald reads them) or to syslog once
// memd has detached from its terminal. Thread-safe: each line is one write(2).
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace memd::log {

enum class Level : int { kErr = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// Messages above `max` are dropped (default kInfo).
void set_max_level(Level max);
// Sends every later message to syslog(3) instead of stderr.
void use_syslog(std::string_view ident);
bool enabled(Level level);
void write(Level level, std::string_view message);

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
