#include "daemon/command_log.h"

#include <fmt/format.h>

#include "daemon/log.h"

namespace memd {
namespace {

constexpr size_t kMaxCommandText = 200;

std::mutex g_mu;
RateLimit g_limit(kCommandLinesPerSecond);
uint64_t g_gone_unlogged = 0;  // lines of clients gone, over the limit, not summarized yet
RefusalCount g_refusals;       // refused connections over the limit, not summarized yet

// Called with g_mu held.
void write_unlogged(Client* client) {
  if (client->unlogged == 0) return;
  log::write(
      log::Level::kNotice,
      fmt::format("{} more commands from uid {} pid {} ({}) not logged (over {} lines a "
                  "second)",
                  client->unlogged, client->uid, client->pid, client->comm, kCommandLinesPerSecond),
      log::Event::kSuppressed, log::Peer{client->uid, client->pid});
  client->unlogged = 0;
}

// The summaries owed before the next line (called with g_mu held): those of
// clients gone and of refused connections, each counted past the limit.
void write_pending_summaries() {
  if (g_gone_unlogged > 0) {
    log::write(log::Level::kNotice,
               fmt::format("{} more commands from clients now gone not logged (over {} lines a "
                           "second)",
                           g_gone_unlogged, kCommandLinesPerSecond),
               log::Event::kSuppressed);
    g_gone_unlogged = 0;
  }
  if (auto summary = g_refusals.take_summary()) {
    log::write(log::Level::kNotice, *summary, log::Event::kSuppressed);
  }
}

std::string cut(std::string_view text) {
  if (text.size() <= kMaxCommandText) return std::string(text);
  return fmt::format("{}... ({} bytes)", text.substr(0, kMaxCommandText), text.size());
}

}  // namespace

bool RateLimit::admit(std::chrono::steady_clock::time_point now) {
  if (used_ == 0 || now - window_ >= std::chrono::seconds(1)) {
    window_ = now;
    used_ = 0;
  }
  if (used_ >= per_second_) return false;
  ++used_;
  return true;
}

bool RefusalCount::admit(RateLimit* limit, std::chrono::steady_clock::time_point now) {
  if (limit->admit(now)) return true;
  ++unlogged_;
  return false;
}

std::optional<std::string> RefusalCount::take_summary() {
  if (unlogged_ == 0) return std::nullopt;
  std::string line = fmt::format("{} more refused connections not logged (over {} lines a second)",
                                 unlogged_, kCommandLinesPerSecond);
  unlogged_ = 0;
  return line;
}

bool changes_machine(const Command& command) {
  struct Visitor {
    bool operator()(const SysctlCommand& c) const { return c.value.has_value(); }
    bool operator()(const ShowCommand&) const { return false; }
    bool operator()(const SnapshotCommand& c) const { return c.op == SnapshotCommand::Op::kLoad; }
    bool operator()(const CheckCommand&) const { return false; }
    bool operator()(const StatusCommand&) const { return false; }
    bool operator()(const HelpCommand&) const { return false; }
    bool operator()(const AllocationsCommand&) const { return false; }
    bool operator()(const TraceCommand& c) const { return c.op != TraceCommand::Op::kStatus; }
    bool operator()(const AllocCommand&) const { return true; }
    bool operator()(const MemoryCommand&) const { return true; }
    bool operator()(const FreeCommand&) const { return true; }
    bool operator()(const ReplayCommand&) const { return true; }
    bool operator()(const ResetCommand&) const { return true; }
  };
  return std::visit(Visitor{}, command);
}

std::string command_line(const Command& command, const Client& client, const Reply& reply) {
  auto text = format_command(command);
  const std::string cmd = cut(text ? *text : std::string("(a command)"));
  return fmt::format("uid {} pid {} ({}): {}: {}", client.uid, client.pid, client.comm, cmd,
                     reply.ok() ? std::string("ok") : "error: " + reply.error_message());
}

namespace {

// Writes one client's line, or counts it past the rate limit; the line is
// made (make_text()) only when it is written: a flood pays nothing for lines
// it does not log. A client without a peer (pid 0: batch mode, memd's own) is
// not logged.
template <typename MakeText>
void emit(log::Level level, log::Event event, MakeText make_text, Client* client) {
  if (client->pid == 0) return;
  std::lock_guard lock(g_mu);
  if (!g_limit.admit(std::chrono::steady_clock::now())) {
    ++client->unlogged;
    return;
  }
  write_pending_summaries();
  write_unlogged(client);
  log::write(level, make_text(), event, log::Peer{client->uid, client->pid});
}

}  // namespace

void log_command(const Command& command, Client* client, const Reply& reply) {
  log::Level level = log::Level::kDebug;
  log::Event event = log::Event::kRead;
  if (!reply.ok()) {
    level = log::Level::kWarning;
    event = reply.failure == Failure::kDenied ? log::Event::kRefused : log::Event::kFailed;
  } else if (changes_machine(command)) {
    level = log::Level::kNotice;
    event = log::Event::kCommand;
  }
  if (!log::enabled(level)) return;
  emit(
      level, event, [&] { return command_line(command, *client, reply); }, client);
}

void log_bad_line(std::string_view line, Client* client, std::string_view error) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  emit(
      log::Level::kWarning, log::Event::kFailed,
      [&] {
        return fmt::format("uid {} pid {} ({}): {}: error: {}", client->uid, client->pid,
                           client->comm, cut(line), error);
      },
      client);
}

// Within the limit too: many clients over it, each going away, must not
// write a summary each; theirs are summed up until the next line written.
void log_unlogged(Client* client) {
  std::lock_guard lock(g_mu);
  if (client->unlogged == 0) return;
  if (g_limit.admit(std::chrono::steady_clock::now())) {
    write_pending_summaries();
    write_unlogged(client);
  } else {
    g_gone_unlogged += client->unlogged;
    client->unlogged = 0;
  }
}

void log_refused_connection(log::Level level, std::string_view message,
                            const std::optional<log::Peer>& peer) {
  if (!log::enabled(level)) return;
  std::lock_guard lock(g_mu);
  if (!g_refusals.admit(&g_limit, std::chrono::steady_clock::now())) return;
  write_pending_summaries();
  log::write(level, message, log::Event::kRefused, peer);
}

}  // namespace memd
