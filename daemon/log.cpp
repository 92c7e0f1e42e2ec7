#include "daemon/log.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>

namespace memd::log {
namespace {

std::atomic<int> g_max_level{static_cast<int>(Level::kInfo)};
std::atomic<bool> g_syslog{false};
std::atomic<bool> g_journal{false};
std::string g_ident;  // openlog() keeps the pointer

// One message, one line: control characters (from what clients sent) are escaped.
std::string one_line(std::string_view message) {
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
  return text;
}

void write_stderr(Level level, const std::string& text) {
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

bool write_journal(Level level, const std::string& text, Event event,
                   const std::optional<Peer>& peer) {
  std::vector<std::string> fields = journal_fields(level, text, event, peer);
  std::vector<iovec> iov;
  iov.reserve(fields.size());
  for (std::string& f : fields) {
    iov.push_back({f.data(), f.size()});
  }
  return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) == 0;
}

}  // namespace

std::string_view message_id(Event event) {
  switch (event) {
    case Event::kGeneral:
      return "0b2875d2da444c3cae1ce4dd1030715a";
    case Event::kCommand:
      return "6fb5ab7f013344f29cbdc60b0a52a170";
    case Event::kRead:
      return "aaf4d494fe204543869f193305442896";
    case Event::kFailed:
      return "678eee29fe814e26a940e6d2a487c720";
    case Event::kRefused:
      return "0bf25db0e4124ad49bed57e8d3e33642";
    case Event::kSuppressed:
      return "3f128e52b15344588bc6340d27318802";
  }
  return "0b2875d2da444c3cae1ce4dd1030715a";
}

std::vector<std::string> journal_fields(Level level, std::string_view message, Event event,
                                        const std::optional<Peer>& peer) {
  std::vector<std::string> fields{
      fmt::format("MESSAGE={}", message),
      fmt::format("PRIORITY={}", static_cast<int>(level)),
      fmt::format("MESSAGE_ID={}", message_id(event)),
      "SYSLOG_IDENTIFIER=memd",
  };
  if (peer) {
    fields.push_back(fmt::format("MEMD_CLIENT_UID={}", peer->uid));
    fields.push_back(fmt::format("MEMD_CLIENT_PID={}", peer->pid));
  }
  return fields;
}

void set_max_level(Level max) {
  g_max_level = static_cast<int>(max);
}

void use_syslog(std::string_view ident) {
  g_ident = ident;
  openlog(g_ident.c_str(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
  g_syslog = true;
}

void use_journal() {
  g_journal = true;
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (!stream || fstat(STDERR_FILENO, &st) != 0) return false;
  return fmt::format("{}:{}", st.st_dev, st.st_ino) == stream;
}

bool enabled(Level level) {
  return static_cast<int>(level) <= g_max_level.load();
}

void write(Level level, std::string_view message, Event event, const std::optional<Peer>& peer) {
  if (!enabled(level)) return;
  const std::string text = one_line(message);
  if (g_journal && write_journal(level, text, event, peer)) {
    return;
  }
  if (g_syslog) {
    syslog(static_cast<int>(level), "%s", text.c_str());
    return;
  }
  write_stderr(level, text);
}

}  // namespace memd::log
