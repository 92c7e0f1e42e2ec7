// A Backend for the adapter's tests: files whose text the test sets, command
// files that answer "ok: LINE" (or EINVAL for lines starting with "bad"), a
// pipe whose bytes the test pushes (one stream, taken by whichever open reads
// first, like trace_pipe), and counters of every call the adapter makes.
#pragma once

#include <cerrno>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "fusefs/backend.h"

namespace memd::fusefs::testing {

class FakeBackend final : public Backend {
 public:
  struct FakeSession final : Session {
    int number = 0;  // 1 for the first open, 2 for the next, ...
    FileId file = 0;
    Caller caller;
    bool closed = false;  // by the backend's lock
    int reading = 0;      // pipe reads running now; by the backend's lock
  };

  explicit FakeBackend(std::vector<Entry> entries) : entries_(std::move(entries)) {}

  std::vector<Entry> entries() const override { return entries_; }

  std::string render(FileId file) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++renders_[file];
    if (throw_on_render_) {
      throw std::runtime_error("no memory");
    }
    auto it = texts_.find(file);
    return it != texts_.end() ? it->second : "file " + std::to_string(file) + "\n";
  }

  CommandOpen open_command(FileId file, const Caller& caller) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto session = std::make_unique<FakeSession>();
    session->number = ++opened_sessions_;
    session->file = file;
    session->caller = caller;
    return {std::move(session), "help for " + std::to_string(file) + "\n"};
  }

  CommandReply run(Session& session, std::string_view line) override {
    auto& s = static_cast<FakeSession&>(session);
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::to_string(s.number) + ":" + std::string(line));
    if (line.substr(0, 3) == "bad") {
      return {EINVAL, "error: no such command\n", "no such command"};
    }
    return {0, "ok: " + std::string(line), ""};
  }

  void close(Session& session) override {
    auto& s = static_cast<FakeSession&>(session);
    std::lock_guard<std::mutex> lock(mu_);
    if (s.closed || s.reading != 0) {
      ++misuses_;
    }
    s.closed = true;
    closed_.push_back(s.number);
  }

  std::unique_ptr<Session> open_pipe(FileId file, const Caller& caller) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto session = std::make_unique<FakeSession>();
    session->number = ++opened_sessions_;
    session->file = file;
    session->caller = caller;
    return session;
  }

  // Counts as a misuse a read of a closed session, or two reads of one
  // session at once. The read hook, if set, runs first, without the lock.
  std::string read_pipe(Session& session, size_t max_bytes) override {
    auto& s = static_cast<FakeSession&>(session);
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      misuses_ += s.closed || s.reading != 0;
      ++s.reading;
      hook = read_hook_;
    }
    if (hook) {
      hook();
    }
    std::lock_guard<std::mutex> lock(mu_);
    --s.reading;
    ++pipe_reads_;
    if (throw_on_read_pipe_) {
      throw std::runtime_error("no memory");
    }
    std::string bytes = pipe_.substr(0, max_bytes);
    pipe_.erase(0, bytes.size());
    empty_pipe_reads_ += bytes.empty();
    return bytes;
  }

  bool pipe_ready(Session& session) override {
    std::lock_guard<std::mutex> lock(mu_);
    misuses_ += static_cast<FakeSession&>(session).closed;
    ++ready_calls_;
    return !pipe_.empty();
  }

  void set_pipe_notifier(std::function<void()> notify) override {
    std::lock_guard<std::mutex> lock(mu_);
    notify_ = std::move(notify);
    ++notifiers_set_;
  }

  // Appends to the pipe and calls the notifier with the backend's lock held,
  // as memd may with its own locks.
  void push(std::string_view bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    pipe_ += bytes;
    if (notify_) {
      notify_();
    }
  }

  // What the tests set and read, under the lock: a real mount calls the
  // backend on libfuse's threads, and the kernel's ordering is invisible to TSan.
  void set_text(FileId file, std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    texts_[file] = std::move(text);
  }
  void set_throw_on_render(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    throw_on_render_ = on;
  }
  void set_throw_on_read_pipe(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    throw_on_read_pipe_ = on;
  }
  void set_read_hook(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    read_hook_ = std::move(hook);
  }
  std::string pipe_left() {
    std::lock_guard<std::mutex> lock(mu_);
    return pipe_;
  }
  int pipe_reads() {
    std::lock_guard<std::mutex> lock(mu_);
    return pipe_reads_;
  }
  int empty_pipe_reads() {  // reads that found nothing
    std::lock_guard<std::mutex> lock(mu_);
    return empty_pipe_reads_;
  }
  int ready_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return ready_calls_;
  }
  int misuses() {  // see read_pipe() and close()
    std::lock_guard<std::mutex> lock(mu_);
    return misuses_;
  }
  int notifiers_set() {
    std::lock_guard<std::mutex> lock(mu_);
    return notifiers_set_;
  }
  int renders_of(FileId file) {
    std::lock_guard<std::mutex> lock(mu_);
    return renders_[file];
  }
  int render_count() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [file, count] : renders_) {
      n += count;
    }
    return n;
  }
  int opened_session_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return opened_sessions_;
  }
  std::vector<std::string> lines_run() {  // "SESSION:LINE", in order
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  std::vector<int> closed_sessions() {  // in order
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  std::vector<Entry> entries_;
  std::mutex mu_;
  std::map<FileId, std::string> texts_;
  bool throw_on_render_ = false;
  std::map<FileId, int> renders_;
  int opened_sessions_ = 0;
  std::vector<std::string> lines_;
  std::vector<int> closed_;
  std::string pipe_;
  std::function<void()> notify_;
  std::function<void()> read_hook_;
  bool throw_on_read_pipe_ = false;
  int pipe_reads_ = 0;
  int empty_pipe_reads_ = 0;
  int ready_calls_ = 0;
  int misuses_ = 0;
  int notifiers_set_ = 0;
};

// Like memd's root, plus a memory/ directory shaped like /sys/devices/system/memory
// and a tracing/ one with a trace_pipe.
inline std::vector<Entry> sample_entries() {
  return {
      {"control", Kind::kCommand, 0600, 100},
      {"buddyinfo", Kind::kRendered, 0444, 1},
      {"pagetypeinfo", Kind::kRendered, 0400, 2},
      {"memory/block_size_bytes", Kind::kRendered, 0444, 10},
      {"memory/memory0/state", Kind::kCommand, 0644, 200},
      {"memory/memory0/phys_index", Kind::kRendered, 0444, 11},
      {"memory/memory1/state", Kind::kCommand, 0644, 201},
      {"tracing/trace_pipe", Kind::kPipe, 0444, 300},
  };
}

}  // namespace memd::fusefs::testing
