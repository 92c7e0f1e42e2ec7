#include "daemon/batch.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "daemon/log.h"
#include "daemon/service.h"
#include "daemon/trace_reader.h"

namespace memd {
namespace {

// An error of the batch, on stderr as a command-line tool says it: "memd: ...".
template <typename... Args>
void complain(fmt::format_string<Args...> f, Args&&... args) {
  std::fputs(("memd: " + fmt::format(f, std::forward<Args>(args)...) + "\n").c_str(), stderr);
}

// A file the batch writes: stdout, or the history (created, truncated).
class Output {
 public:
  explicit Output(std::FILE* f, std::string name) : f_(f), name_(std::move(name)) {}
  ~Output() {
    if (f_ && f_ != stdout) std::fclose(f_);
  }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  // "" when it can be written, else why not.
  static std::unique_ptr<Output> create(const std::string& path, std::string* why) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) *why = "cannot write the history to " + path + ": " + std::strerror(errno);
    return f ? std::make_unique<Output>(f, path) : nullptr;
  }
  bool write(std::string_view text) {
    return std::fwrite(text.data(), 1, text.size(), f_) == text.size();
  }
  bool close() {
    const bool ok = f_ == stdout ? std::fflush(f_) == 0 : std::fclose(f_) == 0;
    f_ = nullptr;
    return ok;
  }
  const std::string& name() const { return name_; }

 private:
  std::FILE* f_;
  std::string name_;
};

// A replay streamed into the Service as the socket's `replay begin`, `replay
// data` and `replay end` run it, so that its history and report are memctl's.
class BatchReplay {
 public:
  BatchReplay(Service* service, const Options& o, Output* history)
      : service_(service), options_(o), history_(history) {
    // pid 0: memd's own commands, which the command log leaves out (the
    // replay's tracepoints carry the trace's own tasks and pids).
    client_.comm = "memd";
    client_.pid = 0;
  }

  // The report's text; nullopt (and why, in the log) when the replay failed.
  std::optional<std::string> run(TraceReader& reader);
  // The replay was refused for holding no events: nothing was applied.
  bool eventless() const { return eventless_; }

 private:
  // The reply's history rows to the file; false (logged) on a write error.
  bool keep(const Reply& reply);
  bool refused(const Reply& reply);

  Service* service_;
  const Options& options_;
  Output* history_;
  Client client_;
  bool eventless_ = false;
};

bool BatchReplay::keep(const Reply& reply) {
  if (!history_) return true;
  auto it = reply.json.find(protocol::field::kHistory);
  if (it == reply.json.end() || !it->is_string()) return true;
  if (history_->write(it->get_ref<const std::string&>())) return true;
  complain("writing the history to {}: {}", history_->name(), std::strerror(errno));
  return false;
}

bool BatchReplay::refused(const Reply& reply) {
  if (reply.ok()) return false;
  eventless_ = reply.failure == Failure::kNotATrace;
  complain("{}", reply.error_message());
  return true;
}

std::optional<std::string> BatchReplay::run(TraceReader& reader) {
  const auto start = std::chrono::steady_clock::now();
  ReplayCommand begin{ReplayCommand::Op::kBegin, {}, 0};
  begin.every = history_ ? options_.every : 0;
  Reply reply = service_->run(begin, &client_);
  if (refused(reply) || !keep(reply)) return std::nullopt;
  for (;;) {
    auto chunk = reader.next();
    if (!chunk) {
      complain("cannot read the trace: {}", chunk.error().message);
      (void)service_->run(ReplayCommand{ReplayCommand::Op::kAbort, {}, 0}, &client_);
      return std::nullopt;
    }
    if (chunk->empty()) break;
    reply = service_->replay_data(&client_, *chunk);
    if (refused(reply) || !keep(reply)) return std::nullopt;
  }
  reply = service_->run(ReplayCommand{ReplayCommand::Op::kEnd, {}, 0}, &client_);
  if (refused(reply) || !keep(reply)) return std::nullopt;
  const protocol::Json& report = reply.json[protocol::field::kReport];
  protocol::ReplayHeadline headline;
  headline.path = *options_.replay;
  headline.lines = report.value(protocol::field::kLines, uint64_t{0});
  headline.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return protocol::replay_headline(headline) + protocol::report_text(report);
}

// The --print files to stdout: one as it is; several each under "==> NAME
// <==", a blank line between them, as head(1) prints files.
bool print_files(Service* service, const std::string& list) {
  const std::vector<std::string> names = print_list(list);
  Output out(stdout, "stdout");
  bool ok = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names.size() > 1) ok = ok && out.write((i ? "\n==> " : "==> ") + names[i] + " <==\n");
    ok = ok && out.write(service->render(*proc_file_named(names[i])));
  }
  return out.close() && ok;
}

// --replay: the trace into the service, the report to stderr.
int replay(Service* service, const Options& options) {
  auto reader = TraceReader::open(*options.replay);
  if (!reader) {
    complain("--replay: {}", reader.error().message);
    return 1;
  }
  std::unique_ptr<Output> history;
  if (options.history) {
    std::string why;
    history = Output::create(*options.history, &why);
    if (!history) {
      complain("--history: {}", why);
      return 1;
    }
  }
  BatchReplay batch(service, options, history.get());
  const auto report = batch.run(**reader);
  if (!report) {
    if (history && batch.eventless()) {  // nothing was replayed: no history either, as memctl
      history.reset();
      std::remove(options.history->c_str());
    }
    return 1;
  }
  if (history && !history->close()) {
    complain("writing the history to {}: {}", history->name(), std::strerror(errno));
    return 1;
  }
  std::fwrite(report->data(), 1, report->size(), stderr);
  return 0;
}

}  // namespace

int run_batch(const Config& config, const Options& options) {
  auto service = Service::boot(config.machine);
  if (!service) {
    complain("{}: cannot boot the machine: {}", config.source, service.error().message);
    return 1;
  }
  for (const std::string& w : (*service)->boot_warnings()) {
    log::warning("{}", w);
  }
  if (options.replay) {
    if (const int rc = replay(service->get(), options); rc != 0) return rc;
  }
  if (options.print && !print_files(service->get(), *options.print)) return 1;
  return 0;
}

}  // namespace memd
