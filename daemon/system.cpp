#include "daemon/system.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "daemon/log.h"

namespace memd {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return make_error(
        fmt::format("{}: socket path longer than {} bytes", path, sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// The directory of memd's socket and lock must be memd's own: another user
// who could rename entries there could put a socket of their own in memd's
// place, or a link to a file memd would then write. A sticky directory
// (/tmp) is fine: there, others cannot touch what memd creates.
Status trusted_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return make_error(fmt::format("{}: {}", dir, errno_text()));
  if (st.st_uid != 0 && st.st_uid != geteuid()) {
    return make_error(fmt::format(
        "{}: owned by uid {}: another user could replace memd's socket there; use a directory "
        "of memd's own user or root",
        dir, st.st_uid));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
    return make_error(fmt::format(
        "{}: writable by other users (mode {:o}): one of them could replace memd's socket there",
        dir, st.st_mode & 07777));
  }
  return {};
}

}  // namespace

// --- ListenSocket ----------------------------------------------------------------------------

Result<std::optional<ListenSocket>> ListenSocket::from_systemd() {
  char** names = nullptr;
  // Pitfall: sd_listen_fds(1) unsets LISTEN_FDNAMES before it can be read.
  int n = sd_listen_fds_with_names(1, &names);
  if (n < 0) return make_error(fmt::format("LISTEN_FDS: {}", std::strerror(-n)));
  int chosen = -1;
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    const bool named_memd = names && names[i] && std::strcmp(names[i], "memd") == 0;
    if (sd_is_socket_unix(fd, SOCK_STREAM, 1, nullptr, 0) > 0 && (chosen < 0 || named_memd)) {
      chosen = fd;
    }
  }
  for (int i = 0; names && i < n; ++i) {
    std::free(names[i]);
  }
  std::free(names);
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    if (fd != chosen) close(fd);
  }
  if (n == 0) return std::optional<ListenSocket>{};
  if (chosen < 0) {
    return make_error(
        "systemd passed no listening Unix stream socket "
        "(memd needs ListenStream= with Accept=no)");
  }
  fcntl(chosen, F_SETFD, FD_CLOEXEC);
  sockaddr_un addr{};
  socklen_t len = sizeof(addr);
  std::string path = "(socket from systemd)";
  if (getsockname(chosen, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.sun_path[0]) {
    path = addr.sun_path;
  }
  return std::optional<ListenSocket>{ListenSocket(chosen, path, false)};
}

Result<ListenSocket> ListenSocket::create(const std::string& path, std::optional<gid_t> group) {
  auto addr = unix_address(path);
  if (!addr) return addr.error();
  if (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    if (auto s = make_dirs(path.substr(0, slash), geteuid() == 0 ? 0755 : 0700); !s) {
      return s.error();
    }
  }
  if (auto s = trusted_directory(path); !s) return s.error();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(fmt::format("socket: {}", errno_text()));
  // A socket file that refuses connections was left by a memd that is gone;
  // one that accepts belongs to a running memd.
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      close(fd);
      return make_error(fmt::format("{}: exists and is not a socket", path));
    }
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int rc = connect(probe, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
    const int err = errno;
    close(probe);
    if (rc == 0) {
      close(fd);
      return make_error(
          fmt::format("{}: another memd is listening on this socket; stop it first", path));
    }
    if (err != ECONNREFUSED) {
      close(fd);
      return make_error(
          fmt::format("{}: cannot tell whether a memd listens here: {}", path, std::strerror(err)));
    }
    log::notice("{}: removing an orphaned socket left by a memd that is gone", path);
    unlink(path.c_str());
  }
  // 0660 from the start: no window in which the socket is open to everyone.
  const mode_t old_umask = umask(0117);
  const int rc = bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr));
  const int err = errno;
  umask(old_umask);
  if (rc != 0) {
    close(fd);
    return make_error(fmt::format("{}: bind: {}", path, std::strerror(err)));
  }
  ListenSocket sock(fd, path, true);
  // lchown: should the name have been replaced by a link meanwhile, the link changes group.
  if (group && lchown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    log::warning("{}: cannot give the socket to group {}: {}", path, *group, errno_text());
  }
  if (listen(fd, SOMAXCONN) != 0) {
    return make_error(fmt::format("{}: listen: {}", path, errno_text()));
  }
  return sock;
}

ListenSocket::ListenSocket(ListenSocket&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)), owned_(other.owned_) {
  other.fd_ = -1;
  other.owned_ = false;
}

ListenSocket::~ListenSocket() {
  if (fd_ >= 0) close(fd_);
  if (owned_) unlink(path_.c_str());
}

int ListenSocket::release_fd() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

// --- InstanceLock ----------------------------------------------------------------------------

Result<InstanceLock> InstanceLock::acquire(const std::string& socket_path) {
  const std::string path = socket_path + ".lock";
  if (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    if (auto s = make_dirs(path.substr(0, slash), geteuid() == 0 ? 0755 : 0700); !s) {
      return s.error();
    }
  }
  if (auto s = trusted_directory(path); !s) return s.error();
  // Never through a link, and only a file of memd's own: memd truncates it.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) {
    const int err = errno;
    struct stat link {};
    const bool is_link = lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode);
    return make_error(fmt::format(
        "{}: {}", path, is_link ? "a symbolic link: refusing to follow it" : std::strerror(err)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
    close(fd);
    return make_error(fmt::format(
        "{}: not a lock file of memd's (a regular file of uid {} with one link); remove it", path,
        geteuid()));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) {
      pid.pop_back();
    }
    if (err == EWOULDBLOCK) {
      return make_error(fmt::format("another memd (pid {}) is running on socket {}; stop it first",
                                    pid, socket_path));
    }
    return make_error(fmt::format("{}: flock: {}", path, std::strerror(err)));
  }
  const std::string pid = fmt::format("{}\n", getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    log::warning("{}: cannot record the pid: {}", path, errno_text());
  }
  return InstanceLock(fd, path);
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

InstanceLock::~InstanceLock() {
  if (fd_ < 0) return;
  unlink(path_.c_str());  // still holding the lock: nobody else owns this file
  close(fd_);
}

// --- helpers ---------------------------------------------------------------------------------

Status make_dirs(const std::string& path, mode_t mode) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i != path.size() && path[i] != '/') continue;
    const std::string dir = path.substr(0, i);
    if (mkdir(dir.c_str(), mode) == 0) {
      log::notice("created the missing directory {} (mode {:04o})", dir, mode);
    } else if (errno != EEXIST) {
      return make_error(fmt::format("cannot create {}: {}", dir, errno_text()));
    }
  }
  return {};
}

std::optional<gid_t> find_group(const std::string& name) {
  if (name.empty()) return std::nullopt;
  std::vector<char> buf(16384);
  group grp{};
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found) != 0 || !found) {
    return std::nullopt;
  }
  return found->gr_gid;
}

std::string process_comm(pid_t pid) {
  std::string comm;
  if (pid > 0) {
    std::FILE* f = std::fopen(fmt::format("/proc/{}/comm", pid).c_str(), "re");
    if (f) {
      char buf[64] = {};
      if (std::fgets(buf, sizeof buf, f)) comm = buf;
      std::fclose(f);
    }
  }
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm.empty() ? fmt::format("pid {}", pid) : comm;
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

int default_socket_threads() {
  constexpr int kMost = 4;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return kMost;
  return std::clamp(CPU_COUNT(&set), 1, kMost);
}

// --- sd_notify -------------------------------------------------------------------------------

namespace notify {

void ready(const std::string& status) {
  sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%d", status.c_str(), static_cast<int>(getpid()));
}
void status(const std::string& status) {
  sd_notifyf(0, "STATUS=%s", status.c_str());
}
void stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=Stopping");
}
void watchdog() {
  sd_notify(0, "WATCHDOG=1");
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

bool under_systemd() {
  for (const char* var : {"NOTIFY_SOCKET", "LISTEN_FDS", "INVOCATION_ID", "JOURNAL_STREAM"}) {
    if (std::getenv(var)) return true;
  }
  return false;
}

}  // namespace notify

// --- Detach ----------------------------------------------------------------------------------

Detach Detach::start() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    log::err("cannot detach: pipe: {}", errno_text());
    std::exit(1);
  }
  const pid_t pid = fork();
  if (pid < 0) {
    log::err("cannot detach: fork: {}", errno_text());
    std::exit(1);
  }
  if (pid > 0) {
    // The parent: wait for "ok" or an error message from the child.
    close(fds[1]);
    std::string msg;
    char buf[512];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0) msg.append(buf, static_cast<size_t>(n));
    }
    if (msg == "ok") std::_Exit(0);
    log::err("{}", msg.empty() ? "memd exited before it was ready" : msg);
    std::_Exit(1);
  }
  close(fds[0]);
  setsid();
  if (chdir("/") != 0) log::warning("chdir /: {}", errno_text());
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    close(null);
  }
  log::use_syslog("memd");
  Detach d;
  d.fd_ = fds[1];
  return d;
}

Detach::Detach(Detach&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

Detach::~Detach() {
  if (fd_ >= 0) failed("");
}

void Detach::ready() {
  if (fd_ < 0) return;
  (void)!write(fd_, "ok", 2);
  close(fd_);
  fd_ = -1;
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDERR_FILENO);
    close(null);
  }
}

void Detach::failed(const std::string& why) {
  if (fd_ < 0) return;
  (void)!write(fd_, why.data(), why.size());
  close(fd_);
  fd_ = -1;
}

// --- Signals ---------------------------------------------------------------------------------

Signals::Signals() {
  sigemptyset(&set_);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) {
    sigaddset(&set_, sig);
  }
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int Signals::wait(std::optional<std::chrono::microseconds> timeout) const {
  sigset_t waited = set_;
  sigdelset(&waited, SIGUSR1);  // SIGUSR1 is the FUSE loop's wake-up call
  for (;;) {
    int sig;
    if (timeout) {
      timespec ts{static_cast<time_t>(timeout->count() / 1000000),
                  static_cast<long>(timeout->count() % 1000000) * 1000};
      sig = sigtimedwait(&waited, nullptr, &ts);
    } else {
      sig = sigwaitinfo(&waited, nullptr);
    }
    if (sig > 0) return sig;
    if (errno == EAGAIN) return 0;
    if (errno != EINTR) return SIGTERM;
  }
}

}  // namespace memd
