// What the FUSE adapter asks of its host: the tree of files the mount serves,
// each file's text for one open, and the lines written to command files. The
// adapter defines it and the host implements it (memd: daemon/mount_backend.h),
// so the adapter knows nothing of the machine and is tested with a fake.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace memd::fusefs {

using FileId = uint32_t;  // the host's own number for one of its files

enum class Kind : uint8_t {
  kDirectory,
  // Read-only: each open takes the file's whole text once (render()), and
  // every read of that open is served from it: a snapshot, like procfs.
  kRendered,
  // A write runs a line (run()); a read shows that open's last reply, or
  // what a fresh open shows before any write (open_command()): `control`,
  // a memory block's `state`.
  kCommand,
  // Read-only and consuming, like the kernel's trace_pipe: a read takes what
  // the host has now (read_pipe()); with nothing there it waits, without
  // holding a FUSE worker thread, until the host calls the notifier it was
  // given (set_pipe_notifier()) and a retry finds data. O_NONBLOCK reads fail
  // with EAGAIN instead of waiting; an interrupted wait (a signal to the
  // reader) fails with EINTR; poll() reports POLLIN when there is data.
  kPipe,
  // A symbolic link: readlink shows `target` (Entry::target), which the
  // kernel resolves itself, as sysfs's memory/memoryN/nodeK -> ../../node/nodeK.
  kSymlink,
};

// One entry of the mount's tree, below its root.
struct Entry {
  // '/'-separated, without a leading '/': "buddyinfo", "memory/memory8/state".
  // Directories on the way that the table does not list are made 0555.
  std::string path;
  Kind kind = Kind::kRendered;
  mode_t mode = 0444;    // permission bits only; the kernel checks them (default_permissions)
  FileId id = 0;         // what the host is handed back for this file (not for directories)
  std::string target{};  // kSymlink: what readlink shows (not empty)
};

// Who opened a file, as the kernel tells the adapter.
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

// The result of a line written to a command file.
struct CommandReply {
  int error = 0;        // 0, or the errno the write fails with (EINVAL: a bad command)
  std::string text;     // what the next read of the same open shows (the reason, on failure)
  std::string message;  // on failure: why, for the adapter's log line
};

class Backend {
 public:
  // The host's state for one open of a command file (memd: its Client).
  class Session {
   public:
    virtual ~Session() = default;
  };
  struct CommandOpen {
    std::unique_ptr<Session> session;  // never null
    std::string text;                  // what a read shows before any write (control: the help)
  };

  virtual ~Backend() = default;

  // The mount's entries, read once when the mount is made; their order is
  // the order of readdir and of inode numbers (root 1, then 2, 3, ...).
  virtual std::vector<Entry> entries() const = 0;
  // A rendered file's whole text, for one open. Called without any lock of
  // the adapter held; may throw std::exception (the open fails with ENOMEM).
  virtual std::string render(FileId file) = 0;
  // An open of a command file by `caller`: its session and its first text.
  virtual CommandOpen open_command(FileId file, const Caller& caller) = 0;
  // A line written to an open command file. Writes of one open come one at
  // a time; those of different opens may run concurrently.
  virtual CommandReply run(Session& session, std::string_view line) = 0;
  // The last close of an open command or pipe file: the host ends what the
  // session had going (memd: a streaming replay). After it, `session` is
  // destroyed.
  virtual void close(Session& session) = 0;

  // An open of a pipe file by `caller`: its session (never null).
  virtual std::unique_ptr<Session> open_pipe(FileId file, const Caller& caller) = 0;
  // At most `max_bytes` of what the pipe has now, taken from it (whole lines
  // where the host has lines); "" when it has nothing. Never waits. Reads of
  // one open come one at a time; may throw std::exception (the read fails
  // with ENOMEM).
  virtual std::string read_pipe(Session& session, size_t max_bytes) = 0;
  // Whether read_pipe() would return something now; for poll(). Never waits.
  virtual bool pipe_ready(Session& session) = 0;
  // Called once, before the mount serves requests: `notify` is what the host
  // calls, from any thread and with any of its locks held, when a pipe may
  // have data. It only wakes the adapter, which retries its waiting reads on
  // its own thread; the host must not call it after the mount is gone.
  virtual void set_pipe_notifier(std::function<void()> notify) = 0;
};

enum class LogLevel : uint8_t { kErr, kWarning, kNotice, kInfo, kDebug };
// Where the adapter's log lines go (memd: its log); lines have no '\n'.
using LogSink = std::function<void(LogLevel level, std::string_view line)>;
// Creates a directory and its missing parents with `mode`; returns "" or why not.
using MakeDirs = std::function<std::string(const std::string& path, mode_t mode)>;

}  // namespace memd::fusefs
