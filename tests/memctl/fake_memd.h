// A stand-in for memd's socket in memctl's unit tests: accepts connections
// one after another, reads command lines (and the raw bytes after `replay
// data bytes=N` and `snapshot load bytes=N`), records them and answers each
// with what a handler returns.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace memd::testing {

class FakeMemd {
 public:
  // Returns the reply line (without newline) for a command line and its
  // payload (replay data, snapshot load); an empty reply closes the
  // connection instead. Raw bytes after the line (snapshot save) may follow
  // the reply's own newline.
  using Handler = std::function<std::string(const std::string& line, const std::string& payload)>;

  explicit FakeMemd(Handler handler) : handler_(std::move(handler)) {
    char tmpl[] = "/tmp/memctl-fake.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/memd.sock";
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd_, 8) != 0) {
      std::abort();
    }
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeMemd() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }

  FakeMemd(const FakeMemd&) = delete;
  FakeMemd& operator=(const FakeMemd&) = delete;

  const std::string& path() const { return path_; }
  // Closes each connection right after its first reply: a daemon that went
  // away in the middle of sending something.
  void close_after_reply() { close_after_reply_ = true; }

  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  std::vector<std::string> payloads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return payloads_;
  }

 private:
  bool wait_readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) return true;
    }
    return false;
  }

  void serve() {
    while (wait_readable(fd_)) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      talk(c);
      ::close(c);
    }
  }

  // Reads exactly n bytes into out (from buf first); false at EOF.
  bool read_exact(int c, std::string* buf, size_t n, std::string* out) {
    while (buf->size() < n) {
      if (!wait_readable(c)) return false;
      char chunk[65536];
      ssize_t got = ::recv(c, chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      buf->append(chunk, static_cast<size_t>(got));
    }
    *out = buf->substr(0, n);
    buf->erase(0, n);
    return true;
  }

  void talk(int c) {
    std::string buf;
    for (;;) {
      size_t nl;
      while ((nl = buf.find('\n')) == std::string::npos) {
        if (!wait_readable(c)) return;
        char chunk[65536];
        ssize_t got = ::recv(c, chunk, sizeof chunk, 0);
        if (got <= 0) return;
        buf.append(chunk, static_cast<size_t>(got));
      }
      std::string line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      std::string payload;
      for (const std::string data : {"replay data bytes=", "snapshot load bytes="}) {
        if (line.compare(0, data.size(), data) == 0) {
          if (!read_exact(c, &buf, std::stoull(line.substr(data.size())), &payload)) return;
        }
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.push_back(line);
        if (!payload.empty()) payloads_.push_back(payload);
      }
      std::string reply = handler_(line, payload);
      if (reply.empty()) return;
      reply += '\n';
      if (::send(c, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) return;
      if (close_after_reply_) return;
    }
  }

  Handler handler_;
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> close_after_reply_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  std::vector<std::string> payloads_;
};

}  // namespace memd::testing
