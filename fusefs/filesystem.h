// The mount's file system, without libfuse: the tree of a Backend's entries
// numbered as inodes, and what lookup, getattr, setattr, open, read, write
// and release do with them, as errno values and bytes. fusefs/fuse_mount.cpp
// drives it from libfuse's handlers; tests drive it directly.
//
// Each open of a rendered file takes the file's text once, and every read of
// that open is served from it without a lock (size 0 and direct_io, like
// procfs). A write to a command file runs one line; a read of the same open
// file returns its reply, a fresh open reads what the backend gave it.
//
// A read of a pipe file that finds nothing is parked, not answered: libfuse
// has a few worker threads, and a `cat trace_pipe` left waiting must not hold
// one. The pipe thread (serve_pipes()) retries the parked reads when the host
// says a pipe may have data, and answers them; an interrupt, the release of
// the open, or the end of the mount answers them too, each exactly once.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fusefs/backend.h"

namespace memd::fusefs {

using Ino = uint64_t;
inline constexpr Ino kRootIno = 1;  // FUSE_ROOT_ID

// One inode of the tree: built from the backend's table, never changed.
struct Node {
  Ino ino = 0;
  Ino parent = kRootIno;  // the root's parent is itself
  std::string name;       // within its parent; "" for the root
  std::string path;       // from the root, for the log
  Kind kind = Kind::kDirectory;
  mode_t mode = 0555;  // permission bits
  FileId id = 0;
  std::string target;         // symbolic links: what readlink shows
  std::vector<Ino> children;  // directories: in the table's order
  nlink_t subdirs = 0;        // directories: how many children are directories
};

// What an open file descriptor of the mount holds (libfuse's fi->fh).
//
// A rendered file's text is written once, in open, and only read afterwards:
// its reads take no lock. `refs` counts the open itself, every read still
// replying from `text`, and the pipe thread while it retries a read of the
// open; whoever drops the last reference frees the file, so a release never
// waits for a reply in flight (which would put a lock handoff between a
// read's reply and the close right behind it) and never frees the text under
// it. A command file's text changes with each write: `mu` guards it. A pipe's
// session is called by the worker threads and the pipe thread: `mu` makes
// those calls one at a time, and none comes after the release closed it.
struct OpenFile {
  std::atomic<int> refs{1};
  const Node* node = nullptr;
  bool command = false;
  bool pipe = false;
  std::mutex mu;        // command: guards text and cursor, spans each reply from text;
                        // pipe: spans each call of the backend on session, guards closed
  std::string text;     // the rendered file; command: the last reply, or the first text
  size_t held = 0;      // what it counts in held_by_others
  size_t cursor = 0;    // command only: where the next read at a nonzero offset continues
  bool closed = false;  // pipe only: the release closed the session
  std::unique_ptr<Backend::Session> session;  // command and pipe
};

// A read of a pipe that waits: libfuse's request, not yet answered.
struct PipeWaiter {
  uint64_t seq = 0;  // arrival order, and its key among the parked reads
  OpenFile* file = nullptr;
  size_t size = 0;
  void* req = nullptr;  // libfuse's fuse_req_t (tests: any token)
  uint64_t pokes = 0;   // the wake-ups counted when the read began: data may have come since
  std::atomic<bool> interrupted{false};
};

// How the pipe thread answers what waits (fusefs/fuse_mount.cpp: with libfuse;
// tests: a recorder). Called without any lock of the adapter held.
class PipeReplies {
 public:
  virtual ~PipeReplies() = default;
  // A parked read's bytes ("" is end of file), or its errno. The waiter is
  // freed right after: before replying, make sure that its interrupt callback
  // has returned and will not run again (libfuse: unregister it).
  virtual void reply(void* req, std::string_view bytes) = 0;
  virtual void fail(void* req, int error) = 0;
  // A poll handle: the pipe has data (notify the poller, then free the
  // handle), or the handle is no longer needed (free it).
  virtual void ready(void* poll_handle) = 0;
  virtual void drop(void* poll_handle) = 0;
};

struct PipeSignal;  // wakes the pipe thread

// Whose files these are, and since when.
struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
  timespec started{};
};

// What rendered files held open by users other than root and the owner may
// keep in all (allow_other): past it their opens fail with ENFILE, so that
// opening thousands of files cannot make the host hold gigabytes. Each open
// counts at least min_held.
struct Limits {
  size_t max_held_by_others = size_t{128} << 20;
  size_t min_held = 4096;
};

class Filesystem {
 public:
  static constexpr double kAttrTimeout = 60.0;  // names, modes and sizes never change

  // Reads the backend's table; throws std::invalid_argument on a bad one (an
  // empty or "."/".." component, a path listed twice, a file used as a
  // directory, a pipe file without `replies`, a symbolic link without a target).
  Filesystem(Backend* backend, Owner owner, LogSink log, Limits limits = {},
             PipeReplies* replies = nullptr);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // The inode, or nullptr if there is none.
  const Node* node(Ino ino) const {
    return ino >= kRootIno && ino <= nodes_.size() ? &nodes_[ino - kRootIno] : nullptr;
  }
  size_t inode_count() const { return nodes_.size(); }

  // 0 and the attributes, or ENOENT.
  int getattr(Ino ino, struct stat* st) const;
  // 0 and the child's attributes, ENOENT, or ENOTDIR if `parent` is a file.
  int lookup(Ino parent, std::string_view name, struct stat* st) const;
  // 0 and a symbolic link's target, ENOENT, or EINVAL if it is not a link.
  int readlink(Ino ino, std::string* target) const;
  // `echo line > file` truncates before writing: a command file accepts a
  // truncation and new times (`size_and_times_only`), nothing else does (EPERM).
  int setattr(Ino ino, bool size_and_times_only, struct stat* st) const;

  struct Opened {
    int error = 0;  // 0, ENOENT, EISDIR, EACCES, ENOMEM or ENFILE
    OpenFile* file = nullptr;
  };
  // `flags`: open(2)'s. The file is freed by release(), or by abandon() if
  // the open cannot be answered (then no release comes).
  Opened open(Ino ino, int flags, const Caller& caller);
  void abandon(OpenFile* f);

  // Calls reply(data, n) with the bytes of a read of `size` at `off`, while
  // they stay valid; returns what reply returns. The hot path: no lock for a
  // rendered file, and no allocation.
  template <typename Reply>
  auto read(OpenFile* f, size_t size, off_t off, Reply&& reply);
  // Runs `line` for an open command file: 0 or the backend's errno (EBADF
  // if the file is not a command file). The next read shows the reply.
  int write(OpenFile* f, std::string_view line);
  // A command file: closes its session. A pipe: first answers its parked
  // reads (end of file), then closes the session once no call of the pipe
  // thread on it is running.
  void release(OpenFile* f);

  // What the host calls when a pipe may have data (Backend::set_pipe_notifier):
  // it only wakes the pipe thread. Harmless if called after the file system is gone.
  std::function<void()> pipe_notifier() const;

  struct PipeRead {
    int error = 0;                       // 0, EAGAIN (O_NONBLOCK, nothing there) or ENOMEM
    std::string bytes;                   // what to reply now, when there is no waiter
    std::unique_ptr<PipeWaiter> waiter;  // the read waits: hand it to park()
  };
  // A read of an open pipe: what the host has now, else EAGAIN or a waiter.
  // Whoever gets a waiter registers its interrupt callback (which calls
  // interrupt()) before park(): once parked, it may be answered at any time.
  PipeRead read_pipe(OpenFile* f, size_t size, bool nonblock, void* req);
  void park(std::unique_ptr<PipeWaiter> waiter);
  // The waiting read's request was interrupted (also before park()): the pipe
  // thread answers it with EINTR. Only sets a flag and wakes the thread, since
  // libfuse calls it with its own locks held.
  void interrupt(PipeWaiter* waiter);
  // poll(): whether the open pipe has data now. `poll_handle`, if not null,
  // replaces the one kept before; the pipe thread passes it to
  // PipeReplies::ready() once the pipe has data.
  bool poll_pipe(OpenFile* f, void* poll_handle);

  // The pipe thread: waits for the notifier or an interrupt, then retries the
  // parked reads (retry_pipes()); at stop_pipes(), answers what is left
  // (end_pipes()) and returns. Stop it once no request can come any more.
  void serve_pipes();
  void stop_pipes();
  // Retries every parked read, in arrival order, answering those that got
  // data, failed or were interrupted; then notifies the polls whose pipe has data.
  void retry_pipes();
  // Answers every parked read with end of file (so that `cat` ends cleanly)
  // and drops the poll handles; reads parked afterwards get end of file at once.
  void end_pipes();
  size_t parked_reads() const;

  // What rendered files opened by other users hold now, and opens refused for it.
  size_t held_by_others() const;
  uint64_t refused_opens() const { return refused_opens_.load(std::memory_order_relaxed); }

 private:
  void add(const Entry& entry);
  Ino find_child(Ino dir, std::string_view name) const;
  Ino make_node(Ino parent, std::string_view name, Kind kind, mode_t mode, FileId id);
  void fill_stat(const Node& n, struct stat* st) const;
  // Takes what an open reads first: the rendered text, or a command file's session.
  int first_text(const Node& n, const Caller& caller, OpenFile* file);
  Opened admit(std::unique_ptr<OpenFile> file, const Caller& caller);
  // Drops a reference to an open file; the last one frees it.
  void unref(OpenFile* f) {
    if (f->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      free_file(f);
    }
  }
  void free_file(OpenFile* f);
  void log(LogLevel level, std::string_view line) const;

  struct Parked {  // what the pipe thread copies of a parked read to retry it
    uint64_t seq = 0;
    OpenFile* file = nullptr;  // with a reference of the pipe thread's
    size_t size = 0;
    bool interrupted = false;
  };
  // The backend's read_pipe() and pipe_ready() on an open pipe's session.
  int take(OpenFile* f, size_t size, std::string* bytes);
  bool ready(OpenFile* f);
  bool next_parked(uint64_t after, Parked* p);
  void retry(const Parked& p);
  std::unique_ptr<PipeWaiter> claim(uint64_t seq);
  void answer(std::unique_ptr<PipeWaiter> waiter, int error, std::string_view bytes);
  void notify_polls();
  void close_pipe(OpenFile* f);

  Backend* const backend_;
  const Owner owner_;
  const LogSink log_;
  const Limits limits_;
  std::vector<Node> nodes_;  // by inode number: nodes_[0] is the root
  // Every open file, owned here until its release: files still open when the
  // mount ends never get one, and are freed with the file system.
  mutable std::mutex open_mu_;
  std::unordered_map<const OpenFile*, std::unique_ptr<OpenFile>> open_files_;  // by open_mu_
  size_t held_by_others_ = 0;  // guarded by open_mu_; see Limits
  std::atomic<uint64_t> refused_opens_{0};

  PipeReplies* const replies_;
  const std::shared_ptr<PipeSignal> signal_;  // shared with the host's notifier
  // Held for moments only, never across a call of the backend or of libfuse:
  // no read waits behind another's call of the host, and no order arises
  // between this lock and theirs.
  mutable std::mutex pipes_mu_;
  std::map<uint64_t, std::unique_ptr<PipeWaiter>> parked_;  // by arrival; by pipes_mu_
  std::unordered_map<OpenFile*, void*> poll_handles_;       // by pipes_mu_
  uint64_t arrivals_ = 0;                                   // by pipes_mu_
  bool pipes_ended_ = false;                                // by pipes_mu_
};

template <typename Reply>
auto Filesystem::read(OpenFile* f, size_t size, off_t off, Reply&& reply) {
  if (!f->command) {
    f->refs.fetch_add(1, std::memory_order_relaxed);  // the open's reference keeps f alive here
    const std::string& t = f->text;
    const size_t start = std::min(static_cast<size_t>(off), t.size());
    auto result = reply(t.data() + start, std::min(size, t.size() - start));
    unref(f);
    return result;
  }
  // Held while the reply is written from f->text, which the next write replaces.
  std::lock_guard<std::mutex> lock(f->mu);
  // Reads follow the last write, whatever the file offset after it
  // (`exec 3<>control; echo cmd >&3; cat <&3`); offset 0 starts over.
  if (off == 0) {
    f->cursor = 0;
  }
  const size_t start = std::min(f->cursor, f->text.size());
  const size_t n = std::min(size, f->text.size() - start);
  f->cursor = start + n;
  return reply(f->text.data() + start, n);
}

}  // namespace memd::fusefs
