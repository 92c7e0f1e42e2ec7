#include "client/replay.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>

#include "client/exchange.h"
#include "client/output.h"
#include "client/request.h"
#include "protocol/reply.h"
#include "traceio/trace_input.h"

namespace memd::client {
namespace {

namespace field = protocol::field;
using protocol::Failure;
using protocol::ReplayCommand;

// "replay data bytes=N", "replay end", "replay abort".
std::string replay_line(ReplayCommand::Op op, uint64_t bytes = 0) {
  return command_line(ReplayCommand{op, {}, bytes});
}

// "replay begin [every=N] [continue]"
std::string begin_line(const ReplayOptions& o) {
  ReplayCommand c{ReplayCommand::Op::kBegin, {}, 0};
  c.every = o.history.empty() ? 0 : o.every;
  c.continue_previous = o.continue_previous;
  return command_line(c);
}

// The history file: created (truncated) at the start, each reply's rows
// appended as they come, so no more than one reply's rows are ever held.
class HistoryFile {
 public:
  HistoryFile() = default;
  ~HistoryFile() {
    if (f_) std::fclose(f_);
  }
  HistoryFile(const HistoryFile&) = delete;
  HistoryFile& operator=(const HistoryFile&) = delete;

  // "" when it could be created, else why not.
  std::string open(const std::string& path) {
    path_ = path;
    f_ = std::fopen(path.c_str(), "w");
    return f_ ? "" : "cannot write the history to " + path + ": " + std::strerror(errno);
  }
  // Appends the reply's "history" rows, if any.
  void append(const Json& reply) {
    if (!f_ || !error_.empty()) return;
    auto it = reply.find(field::kHistory);
    if (it == reply.end() || !it->is_string()) return;
    const auto& rows = it->get_ref<const std::string&>();
    if (std::fwrite(rows.data(), 1, rows.size(), f_) != rows.size()) {
      error_ = "writing the history to " + path_ + ": " + std::strerror(errno);
    }
  }
  // Closes and removes the file (a refused replay has no history).
  void discard() {
    if (!f_) return;
    std::fclose(f_);
    f_ = nullptr;
    std::remove(path_.c_str());
  }
  // Closes the file; "" when everything was written, else why not.
  std::string close() {
    if (!f_) return error_;
    const bool ok = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!ok && error_.empty()) {
      error_ = "writing the history to " + path_ + ": " + std::strerror(errno);
    }
    return error_;
  }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  std::string error_;
};

// --- SIGINT during a replay -------------------------------------------------------------------

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_sigint(int) {
  g_interrupted = 1;
}

// Catches SIGINT for its lifetime; a second SIGINT kills memctl as usual.
// An ignored SIGINT (nohup, a background job of a script) stays ignored.
// Blocked socket calls are retried (Connection), so the flag is acted on
// between two frames.
class SigintGuard {
 public:
  SigintGuard() {
    g_interrupted = 0;
    sigaction(SIGINT, nullptr, &old_);
    if (old_.sa_handler == SIG_IGN) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, nullptr);
  }
  ~SigintGuard() { sigaction(SIGINT, &old_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction old_ {};
};

constexpr size_t kFrameBytes = 256 << 10;  // one frame at most, cut back to the last line end
constexpr size_t kMaxCarry = 16u << 20;    // a "line" longer than this is sent as it is
constexpr auto kProgressEvery = std::chrono::milliseconds(100);

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

class ReplayClient {
 public:
  ReplayClient(Connection* conn, const ReplayOptions& options, const Environment& env,
               std::ostream& out, std::ostream& err)
      : conn_(conn),
        options_(options),
        path_(options.path),
        json_(options.json),
        env_(env),
        out_(out),
        err_(err) {}

  int run();

 private:
  int begin();
  int stream();
  int send_frame(std::string_view bytes);
  int read_frame_reply();
  int drain();
  int finish(ReplayCommand::Op step, bool interrupted);
  void progress(bool force);
  void clear_progress();

  Connection* conn_;
  const ReplayOptions& options_;
  const std::string& path_;
  bool json_;
  const Environment& env_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<traceio::TraceInput> file_;
  uint64_t total_bytes_ = 0;  // the file's size on disk (compressed), 0 if unknown
  uint64_t lines_ = 0;        // lines memd has taken so far
  int in_flight_ = 0;         // frames sent whose reply is not read yet
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_progress_;
  bool progress_shown_ = false;
  HistoryFile history_;
};

int ReplayClient::run() {
  const int fd = path_ == "-" ? dup(STDIN_FILENO) : ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(err_, kExitUsage, "cannot open " + path_ + ": " + std::strerror(errno));
  struct stat st {};
  if (path_ != "-" && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    total_bytes_ = static_cast<uint64_t>(st.st_size);
  }
  // The form (text, trace.dat; gzip, zstd, xz) is recognised here, from the content.
  std::string why;
  file_ = traceio::TraceInput::open(fd, path_, &why);
  if (!file_) return fail(err_, kExitUsage, why);

  if (!options_.history.empty()) {
    if (std::string why = history_.open(options_.history); !why.empty()) {
      return fail(err_, kExitUsage, why);
    }
  }
  if (int rc = begin(); rc != kExitOk) return rc;
  return stream();
}

// `replay begin`; the history's header and first rows.
int ReplayClient::begin() {
  Exchange begin = ask(conn_, begin_line(options_), err_);
  if (!begin.ok()) return begin.status;
  if (!reply_ok(begin.reply)) {
    if (json_) out_ << begin.line << '\n';
    return fail(err_, refusal_status(begin.reply), error_message(begin.reply));
  }
  history_.append(begin.reply);
  return kExitOk;
}

// The trace in frames, then `replay end` (or `replay abort`).
int ReplayClient::stream() {
  SigintGuard sigint;
  start_ = last_progress_ = std::chrono::steady_clock::now();
  std::string pending;
  std::string buf(kFrameBytes, '\0');
  for (;;) {
    if (g_interrupted) return finish(ReplayCommand::Op::kAbort, true);
    // Frames stay within kFrameBytes unless a single line is longer.
    const size_t want = pending.size() < kFrameBytes ? kFrameBytes - pending.size() : kFrameBytes;
    const long n = file_->read(buf.data(), want);
    if (n < 0) {
      if (g_interrupted) return finish(ReplayCommand::Op::kAbort, true);
      if (int rc = drain(); rc != kExitOk) return rc;
      clear_progress();
      Exchange x = ask(conn_, replay_line(ReplayCommand::Op::kAbort), err_);
      if (!x.ok()) return x.status;
      history_.append(x.reply);
      return fail(err_, kExitUsage,
                  "reading " + path_ + ": " + file_->error() + " (replay aborted after " +
                      std::to_string(lines_) + " lines)");
    }
    if (n == 0) break;
    pending.append(buf.data(), static_cast<size_t>(n));
    size_t cut = pending.rfind('\n');
    if (cut == std::string::npos) {
      if (pending.size() < kMaxCarry) continue;
      cut = pending.size() - 1;
    }
    if (int rc = send_frame(std::string_view(pending).substr(0, cut + 1)); rc != kExitOk) {
      return rc;
    }
    pending.erase(0, cut + 1);
    progress(false);
  }
  if (!pending.empty()) {
    if (int rc = send_frame(pending); rc != kExitOk) return rc;
  }
  return finish(ReplayCommand::Op::kEnd, false);
}

// Frames sent before the reply to the first is read: memd replays one while
// memctl reads and inflates the next, instead of each waiting for the other.
constexpr int kFramesInFlight = 2;

// "replay data bytes=N\n" and the N bytes; the reply of the frame before.
int ReplayClient::send_frame(std::string_view bytes) {
  const std::string header = replay_line(ReplayCommand::Op::kData, bytes.size()) + "\n";
  if (auto st = conn_->send(header); !st) {
    clear_progress();
    return fail(err_, kExitUnreachable, st.error().message);
  }
  if (auto st = conn_->send(bytes); !st) {
    clear_progress();
    return fail(err_, kExitUnreachable, st.error().message);
  }
  ++in_flight_;
  return in_flight_ < kFramesInFlight ? kExitOk : read_frame_reply();
}

// The reply to the oldest frame in flight.
int ReplayClient::read_frame_reply() {
  --in_flight_;
  auto line = conn_->read_line();
  if (!line) {
    clear_progress();
    return fail(err_, kExitUnreachable, line.error().message);
  }
  const Json reply = Json::parse(*line, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    clear_progress();
    return fail(err_, kExitUnreachable,
                "memd's reply is not a JSON object: " + line->substr(0, 200));
  }
  if (!reply_ok(reply)) {
    clear_progress();
    if (json_) out_ << *line << '\n';
    return fail(err_, refusal_status(reply), error_message(reply));
  }
  if (auto it = reply.find(field::kLines); it != reply.end() && it->is_number_unsigned()) {
    lines_ = it->get<uint64_t>();
  }
  history_.append(reply);
  return kExitOk;
}

// The replies to every frame in flight.
int ReplayClient::drain() {
  while (in_flight_ > 0) {
    if (int rc = read_frame_reply(); rc != kExitOk) return rc;
  }
  return kExitOk;
}

// Ends the replay with `replay end` or `replay abort` and prints the report.
int ReplayClient::finish(ReplayCommand::Op step, bool interrupted) {
  if (int rc = drain(); rc != kExitOk) return rc;
  clear_progress();
  Exchange x = ask(conn_, replay_line(step), err_);
  if (!x.ok()) return x.status;
  if (json_) out_ << x.line << '\n';
  if (!reply_ok(x.reply)) {
    // No events, nothing applied: memd is as it was, and no history is left either.
    if (x.reply.value(field::kFailure, "") == protocol::failure_name(Failure::kNotATrace)) {
      history_.discard();
    }
    return fail(err_, refusal_status(x.reply), error_message(x.reply));
  }
  history_.append(x.reply);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  auto report = x.reply.find(field::kReport);
  if (!json_) {
    uint64_t lines = lines_;
    if (report != x.reply.end() && report->is_object()) {
      lines = report->value(field::kLines, lines);
    } else if (auto it = x.reply.find(field::kLines);
               it != x.reply.end() && it->is_number_unsigned()) {
      lines = it->get<uint64_t>();
    }
    out_ << protocol::replay_headline(
        {path_, lines, seconds, interrupted, options_.continue_previous && !interrupted});
    if (report != x.reply.end()) out_ << format_report(*report);
  }
  out_.flush();
  if (std::string why = history_.close(); !why.empty()) return fail(err_, kExitUsage, why);
  if (interrupted) {
    return fail(err_, kExitInterrupted,
                "interrupted: the replay stopped at a line boundary; what was applied stays");
  }
  return kExitOk;
}

void ReplayClient::progress(bool force) {
  if (!env_.stderr_is_tty) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < kProgressEvery) return;
  last_progress_ = now;
  const uint64_t done = file_->file_offset();
  const double seconds = std::chrono::duration<double>(now - start_).count();
  err_ << '\r'
       << progress_line(base_name(path_), done, total_bytes_, lines_, seconds, env_.columns - 1)
       << "\033[K" << std::flush;
  progress_shown_ = true;
}

void ReplayClient::clear_progress() {
  if (!progress_shown_) return;
  err_ << "\r\033[K" << std::flush;
  progress_shown_ = false;
}

}  // namespace

int replay_trace(Connection* conn, const ReplayOptions& options, const Environment& env,
                 std::ostream& out, std::ostream& err) {
  return ReplayClient(conn, options, env, out, err).run();
}

}  // namespace memd::client
