// What memd needs from the operating system and from systemd: the listening
// socket (created, or passed by socket activation), the lock that keeps a
// second memd away, sd_notify, detaching from the terminal, and signals.
// Each is an RAII object so that main() sets up and tears down in a straight line.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "core/result.h"

namespace memd {

// The socket memd listens on. Created sockets are removed on destruction;
// a socket passed by systemd is left alone (systemd owns it).
class ListenSocket {
 public:
  // The first listening Unix stream socket passed with LISTEN_FDS (named
  // "memd" if names are given), or nullopt when memd was not socket-activated.
  static Result<std::optional<ListenSocket>> from_systemd();
  // Creates `path` (0660, group `group` if given) after removing an orphaned
  // socket file (connect refused). A socket that answers means another memd.
  static Result<ListenSocket> create(const std::string& path, std::optional<gid_t> group);

  ListenSocket(ListenSocket&& other) noexcept;
  ListenSocket& operator=(ListenSocket&&) = delete;
  ~ListenSocket();

  // Hands the descriptor over (to the SocketServer); the path stays ours to remove.
  int release_fd();
  const std::string& path() const { return path_; }
  bool activated() const { return !owned_; }

 private:
  ListenSocket(int fd, std::string path, bool owned)
      : fd_(fd), path_(std::move(path)), owned_(owned) {}
  int fd_ = -1;
  std::string path_;
  bool owned_ = false;  // created by memd: unlink on the way out
};

// An flock()ed "<socket>.lock" holding memd's pid: one memd per socket.
class InstanceLock {
 public:
  static Result<InstanceLock> acquire(const std::string& socket_path);
  InstanceLock(InstanceLock&& other) noexcept;
  InstanceLock& operator=(InstanceLock&&) = delete;
  ~InstanceLock();  // removes the file

 private:
  InstanceLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// Creates a directory and its parents.
Status make_dirs(const std::string& path, mode_t mode);
// The group's id, if it exists.
std::optional<gid_t> find_group(const std::string& name);

// The command name of process `pid` (/proc/PID/comm, as the kernel's
// task->comm); "pid N" when it cannot be read (the process is gone).
std::string process_comm(pid_t pid);
// Raises the soft limit of open files to the hard limit (thousands of clients).
void raise_fd_limit();
// The socket pool's threads when the configuration names none: the CPUs
// memd may run on (its affinity mask), at most 4. More threads than CPUs
// only preempt each other while one holds the Service's lock, and every
// other waits.
int default_socket_threads();

// sd_notify(): READY=1, STATUS=, STOPPING=1, WATCHDOG=1 (no-ops without NOTIFY_SOCKET).
namespace notify {
void ready(const std::string& status);
void status(const std::string& status);
void stopping();
void watchdog();
// The interval at which to ping: half of WATCHDOG_USEC when it is set for us.
std::optional<std::chrono::microseconds> watchdog_interval();
bool under_systemd();
}  // namespace notify

// Classic daemonising for `memd` run by hand without --foreground: fork, the
// parent waits until the child says it is ready (exit 0) or failed (prints
// why, exit 1). Logging moves to syslog in the child.
class Detach {
 public:
  // Forks (in the parent this never returns). Call before any thread starts.
  static Detach start();
  Detach() = default;  // not detaching: ready() and failed() do nothing
  Detach(Detach&& other) noexcept;
  Detach& operator=(Detach&&) = delete;
  ~Detach();     // failed("exited before it was ready") if neither was called
  void ready();  // the parent exits 0; stdio goes to /dev/null
  void failed(const std::string& why);

 private:
  int fd_ = -1;
};

// Blocks the signals memd handles in every thread started after it, so that
// only wait() receives them: SIGTERM, SIGINT, SIGHUP (and SIGUSR2, which memd
// sends itself when a front end stops). SIGPIPE is ignored. They stay blocked
// until memd exits: a second SIGTERM during teardown must not kill memd
// half-way with a non-zero status.
class Signals {
 public:
  Signals();
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;
  // The next signal, or 0 when `timeout` passed first.
  int wait(std::optional<std::chrono::microseconds> timeout) const;

 private:
  sigset_t set_{};
};

}  // namespace memd
