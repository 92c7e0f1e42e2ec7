#include "daemon/state_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "daemon/log.h"
#include "daemon/system.h"

namespace memd {
namespace {

constexpr std::string_view kStateName = "memd.state";
constexpr std::string_view kTempSuffix = ".new";
constexpr std::string_view kRejectedSuffix = ".rejected";

Error errno_error(const std::string& file, std::string_view step, int err) {
  return make_error(fmt::format("{}: {}: {}", file, step, std::strerror(err)));
}

// Closes a descriptor on the way out of a function.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::variant<StateDir, StateDir::Refusal> StateDir::open(const std::string& dir) {
  if (auto made = make_dirs(dir, 0700); !made) {
    return Refusal{OpenError::kOther, made.error().message};
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Refusal{OpenError::kOther, errno_error(dir, "open", errno).message};
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Refusal{OpenError::kBusy,
                     fmt::format("{}: another memd uses this state directory", dir)};
    }
    return Refusal{OpenError::kOther, errno_error(dir, "flock", err).message};
  }
  StateDir state(fd, dir);
  // A temporary file left by a memd killed while it saved: never complete.
  ::unlink((state.path_ + std::string(kTempSuffix)).c_str());
  return state;
}

StateDir::StateDir(int fd, std::string dir)
    : fd_(fd), dir_(std::move(dir)), path_(dir_ + "/" + std::string(kStateName)) {}

StateDir::StateDir(StateDir&& other) noexcept
    : fd_(other.fd_), dir_(std::move(other.dir_)), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

StateDir::~StateDir() {
  if (fd_ >= 0) ::close(fd_);  // and with it the lock
}

Result<std::optional<std::string>> StateDir::read() const {
  Fd in{::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (in.fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return errno_error(path_, "open", errno);
  }
  struct stat st {};
  if (fstat(in.fd, &st) != 0) return errno_error(path_, "stat", errno);
  if (!S_ISREG(st.st_mode)) return make_error(fmt::format("{}: not a regular file", path_));
  std::string data;
  data.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(in.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error(path_, "read", errno);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return std::optional<std::string>{std::move(data)};
}

Result<std::string> StateDir::reject() const {
  const std::string aside = path_ + std::string(kRejectedSuffix);
  if (::rename(path_.c_str(), aside.c_str()) != 0) return errno_error(path_, "rename", errno);
  return aside;
}

Status StateDir::write(std::string_view state) const {
  const std::string temp = path_ + std::string(kTempSuffix);
  auto fail = [&temp](std::string_view step, int err) {
    ::unlink(temp.c_str());
    return errno_error(temp, step, err);
  };
  Fd out{::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (out.fd < 0) return errno_error(temp, "create", errno);
  while (!state.empty()) {
    const ssize_t n = ::write(out.fd, state.data(), state.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write", errno);
    if (n == 0) return fail("write", ENOSPC);
    state.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(out.fd) != 0) return fail("fsync", errno);
  const int fd = std::exchange(out.fd, -1);
  if (::close(fd) != 0) return fail("close", errno);
  if (::rename(temp.c_str(), path_.c_str()) != 0) return fail("rename", errno);
  // The rename is durable once the directory is. If that fails, the new
  // state is in place all the same (only a crash could lose the rename).
  if (::fsync(fd_) != 0) {
    log::warning("{}: fsync: {}: the new state is in place but may not survive a crash", dir_,
                 std::strerror(errno));
  }
  return {};
}

}  // namespace memd
