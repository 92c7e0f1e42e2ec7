#include "client/connection.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace memd::client {
namespace {

// Replies longer than this are refused (the largest is `show zoneinfo` of a
// big machine: a few MiB).
constexpr size_t kMaxReplyBytes = 256u << 20;

}  // namespace

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

Connection::Connection(Connection&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)) {}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    buf_ = std::move(o.buf_);
  }
  return *this;
}

Result<Connection> Connection::open(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return make_error("cannot connect to memd at '" + path + "': the socket path " +
                      (path.empty() ? "is empty" : "is too long"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(std::string("cannot create a socket: ") + std::strerror(errno));
  Connection c(fd);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    const int err = errno;
    std::string hint;
    if (err == ENOENT || err == ECONNREFUSED) hint = " (is memd running? --socket or MEMD_SOCKET)";
    if (err == EACCES) hint = " (are you in memd's socket group?)";
    return make_error("cannot connect to memd at " + path + ": " + std::strerror(err) + hint);
  }
  return c;
}

Status Connection::send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(std::string("lost the connection to memd: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<std::string> Connection::read_line() {
  size_t scanned = 0;
  for (;;) {
    size_t nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    scanned = buf_.size();
    if (buf_.size() > kMaxReplyBytes) return make_error("memd's reply is too long");
    char chunk[64 * 1024];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(std::string("lost the connection to memd: ") + std::strerror(errno));
    }
    if (n == 0) return make_error("memd closed the connection without replying");
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

Status Connection::read_bytes(uint64_t n, const std::function<Status(std::string_view)>& sink) {
  const size_t buffered = static_cast<size_t>(std::min<uint64_t>(n, buf_.size()));
  if (buffered > 0) {
    if (auto st = sink(std::string_view(buf_).substr(0, buffered)); !st) return st;
    buf_.erase(0, buffered);
    n -= buffered;
  }
  std::string chunk(1 << 20, '\0');
  while (n > 0) {
    ssize_t got =
        ::recv(fd_, chunk.data(), static_cast<size_t>(std::min<uint64_t>(n, chunk.size())), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return make_error(std::string("lost the connection to memd: ") + std::strerror(errno));
    }
    if (got == 0) {
      return make_error("memd closed the connection " + std::to_string(n) + " bytes short");
    }
    if (auto st = sink(std::string_view(chunk.data(), static_cast<size_t>(got))); !st) return st;
    n -= static_cast<uint64_t>(got);
  }
  return {};
}

Result<std::string> Connection::request(std::string_view line) {
  std::string out(line);
  out += '\n';
  if (auto st = send(out); !st) return st.error();
  return read_line();
}

}  // namespace memd::client
