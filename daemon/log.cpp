#include "daemon/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

namespace memd::log {
namespace {

std::atomic<int> g_max_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_syslog{false};
std::string g_ident;  // openlog() keeps the pointer

}  // namespace

void set_max_level(Level max) {
  g_max_level = static_cast<int>(max);
}

void use_syslog(std::string_view ident) {
  g_ident = ident;
  openlog(g_ident.c_str(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
  g_syslog = true;
}

bool enabled(Level level) {
  return static_cast<int>(level) <= g_max_level.load();
}

void write(Level level, std::string_view message) {
  if (!enabled(level)) return;
  // One message, one line: control characters (from what clients sent) are escaped.
  std::string text;
  text.reserve(message.size());
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      text += fmt::format("\\x{:02x}", u);
    } else {
      text += c;
    }
  }
  if (g_syslog) {
    syslog(static_cast<int>(level), "%s", text.c_str());
    return;
  }
  std::string line = fmt::format("<{}>{}\n", static_cast<int>(level), text);
  // One write(2) per line, so that lines from different threads never interleave.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace memd::log
