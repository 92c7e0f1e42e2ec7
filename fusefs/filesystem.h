// The mount's file system, without libfuse: the tree of a Backend's entries
// numbered as inodes, and what lookup, getattr, setattr, open, read, write
// and release do with them, as errno values and bytes. fusefs/fuse_mount.cpp
// drives it from libfuse's handlers; tests drive it directly.
//
// Each open of a rendered file takes the file's text once, and every read of
// that open is served from it without a lock (size 0 and direct_io, like
// procfs). A write to a command file runs one line; a read of the same open
// file returns its reply, a fresh open reads what the backend gave it.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
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
  std::vector<Ino> children;  // directories: in the table's order
  nlink_t subdirs = 0;        // directories: how many children are directories
};

// What an open file descriptor of the mount holds (libfuse's fi->fh).
//
// A rendered file's text is written once, in open, and only read afterwards:
// its reads take no lock. `refs` counts the open itself and every read still
// replying from `text`; whoever drops the last reference frees the file, so a
// release never waits for a reply in flight (which would put a lock handoff
// between a read's reply and the close right behind it) and never frees the
// text under it. A command file's text changes with each write: `mu` guards it.
struct OpenFile {
  std::atomic<int> refs{1};
  const Node* node = nullptr;
  bool command = false;
  std::mutex mu;      // command only: guards text and cursor, spans each reply from text
  std::string text;   // the rendered file; command: the last reply, or the first text
  size_t held = 0;    // what it counts in held_by_others
  size_t cursor = 0;  // command only: where the next read at a nonzero offset continues
  std::unique_ptr<Backend::Session> session;  // command only
};

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
  // empty or "."/".." component, a path listed twice, a file used as a directory).
  Filesystem(Backend* backend, Owner owner, LogSink log, Limits limits = {});
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
  void release(OpenFile* f);

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
