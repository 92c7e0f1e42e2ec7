#include "fusefs/filesystem.h"

#include <fcntl.h>

#include <cerrno>
#include <exception>
#include <stdexcept>

#include <fmt/format.h>

namespace memd::fusefs {

Filesystem::Filesystem(Backend* backend, Owner owner, LogSink log, Limits limits)
    : backend_(backend), owner_(owner), log_(std::move(log)), limits_(limits) {
  Node root;
  root.ino = kRootIno;
  nodes_.push_back(std::move(root));
  for (const Entry& entry : backend_->entries()) {
    add(entry);
  }
}

Filesystem::~Filesystem() = default;

// Adds one entry of the backend's table, and the directories on its way.
void Filesystem::add(const Entry& entry) {
  auto refuse = [&entry](std::string_view why) {
    throw std::invalid_argument(fmt::format("mount table: '{}': {}", entry.path, why));
  };
  Ino dir = kRootIno;
  std::string_view rest = entry.path;
  for (;;) {
    const size_t slash = rest.find('/');
    const std::string_view name = rest.substr(0, slash);
    if (name.empty() || name == "." || name == "..") {
      refuse("an empty, '.' or '..' component");
    }
    const Ino found = find_child(dir, name);
    if (slash != std::string_view::npos) {  // a directory on the way
      if (found && node(found)->kind != Kind::kDirectory) {
        refuse("a file used as a directory");
      }
      dir = found ? found : make_node(dir, name, Kind::kDirectory, 0555, 0);
      rest.remove_prefix(slash + 1);
      continue;
    }
    if (!found) {
      make_node(dir, name, entry.kind, entry.mode, entry.id);
    } else if (entry.kind == Kind::kDirectory && node(found)->kind == Kind::kDirectory) {
      nodes_[found - kRootIno].mode = entry.mode & 07777;  // made on the way before: now listed
    } else {
      refuse("listed twice");
    }
    return;
  }
}

Ino Filesystem::find_child(Ino dir, std::string_view name) const {
  for (Ino child : nodes_[dir - kRootIno].children) {
    if (nodes_[child - kRootIno].name == name) {
      return child;
    }
  }
  return 0;
}

Ino Filesystem::make_node(Ino parent, std::string_view name, Kind kind, mode_t mode, FileId id) {
  Node n;
  n.ino = nodes_.size() + kRootIno;
  n.parent = parent;
  n.name = name;
  n.path = parent == kRootIno ? n.name : nodes_[parent - kRootIno].path + "/" + n.name;
  n.kind = kind;
  n.mode = mode & 07777;
  n.id = id;
  const Ino ino = n.ino;
  nodes_.push_back(std::move(n));
  Node& dir = nodes_[parent - kRootIno];
  dir.children.push_back(ino);
  if (kind == Kind::kDirectory) {
    ++dir.subdirs;
  }
  return ino;
}

void Filesystem::fill_stat(const Node& n, struct stat* st) const {
  *st = {};
  st->st_ino = n.ino;
  st->st_uid = owner_.uid;
  st->st_gid = owner_.gid;
  st->st_atim = st->st_mtim = st->st_ctim = owner_.started;
  st->st_size = 0;  // like procfs: readers read until EOF
  st->st_blksize = 4096;
  if (n.kind == Kind::kDirectory) {
    st->st_mode = S_IFDIR | n.mode;
    st->st_nlink = 2 + n.subdirs;
  } else {
    st->st_mode = S_IFREG | n.mode;
    st->st_nlink = 1;
  }
}

int Filesystem::getattr(Ino ino, struct stat* st) const {
  const Node* n = node(ino);
  if (!n) {
    return ENOENT;
  }
  fill_stat(*n, st);
  return 0;
}

int Filesystem::lookup(Ino parent, std::string_view name, struct stat* st) const {
  const Node* dir = node(parent);
  if (!dir) {
    return ENOENT;
  }
  if (dir->kind != Kind::kDirectory) {
    return ENOTDIR;
  }
  const Ino found = find_child(parent, name);
  if (!found) {
    return ENOENT;
  }
  fill_stat(*node(found), st);
  return 0;
}

int Filesystem::setattr(Ino ino, bool size_and_times_only, struct stat* st) const {
  const Node* n = node(ino);
  if (!n) {
    return ENOENT;
  }
  if (n->kind != Kind::kCommand || !size_and_times_only) {
    return EPERM;
  }
  fill_stat(*n, st);
  return 0;
}

Filesystem::Opened Filesystem::open(Ino ino, int flags, const Caller& caller) {
  const Node* n = node(ino);
  if (!n) {
    return {ENOENT};
  }
  if (n->kind == Kind::kDirectory) {
    return {EISDIR};
  }
  if (n->kind == Kind::kRendered && (flags & O_ACCMODE) != O_RDONLY) {
    return {EACCES};
  }
  auto file = std::make_unique<OpenFile>();
  if (int error = first_text(*n, caller, file.get())) {
    return {error};
  }
  return admit(std::move(file), caller);
}

// The whole file, once per open: every read of this open sees the same snapshot.
int Filesystem::first_text(const Node& n, const Caller& caller, OpenFile* file) {
  file->node = &n;
  file->command = n.kind == Kind::kCommand;
  try {
    if (file->command) {
      Backend::CommandOpen opened = backend_->open_command(n.id, caller);
      file->session = std::move(opened.session);
      file->text = std::move(opened.text);
    } else {
      file->text = backend_->render(n.id);
    }
  } catch (const std::exception& e) {  // never through libfuse's C frames
    log(LogLevel::kErr, fmt::format("open {}: {}", n.path, e.what()));
    return ENOMEM;
  }
  if (!file->command && caller.uid != 0 && caller.uid != owner_.uid) {
    file->held = std::max(file->text.size(), limits_.min_held);
  }
  return 0;
}

// Keeps the open file, unless other users' files would hold too much with it.
Filesystem::Opened Filesystem::admit(std::unique_ptr<OpenFile> file, const Caller& caller) {
  OpenFile* raw = file.get();
  size_t held = 0;
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    held = held_by_others_;
    if (held + file->held <= limits_.max_held_by_others) {
      held_by_others_ += file->held;
      open_files_.emplace(raw, std::move(file));
    }
  }
  if (!file) {
    return {0, raw};
  }
  // Refused (only rendered files count, so there is no session to close).
  if (refused_opens_.fetch_add(1, std::memory_order_relaxed) % 1000 == 0) {
    log(LogLevel::kWarning,
        fmt::format("open {} by uid {}: files open by other users hold {} MiB already (ENFILE)",
                    raw->node->path, caller.uid, held >> 20));
  }
  return {ENFILE};
}

void Filesystem::abandon(OpenFile* f) {
  std::unique_ptr<OpenFile> owned;
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    auto it = open_files_.find(f);
    if (it == open_files_.end()) {
      return;
    }
    held_by_others_ -= f->held;
    owned = std::move(it->second);
    open_files_.erase(it);
  }
  if (owned->session) {
    backend_->close(*owned->session);
  }
}

int Filesystem::write(OpenFile* f, std::string_view line) {
  if (!f->command) {
    return EBADF;
  }
  std::lock_guard<std::mutex> lock(f->mu);
  CommandReply reply;
  try {
    reply = backend_->run(*f->session, line);
  } catch (const std::exception& e) {  // never through libfuse's C frames
    reply = {EIO, fmt::format("error: {}\n", e.what()), e.what()};
  }
  f->text = std::move(reply.text);
  f->cursor = 0;
  if (reply.error != 0) {
    std::string_view shown = line.substr(0, std::min<size_t>(line.size(), 200));
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) {
      shown.remove_suffix(1);
    }
    log(LogLevel::kWarning, fmt::format("{}: '{}': {}", f->node->path, shown, reply.message));
  }
  return reply.error;
}

void Filesystem::release(OpenFile* f) {
  if (f->command) {
    { std::lock_guard<std::mutex> lock(f->mu); }  // the last reply from f->text is out
    backend_->close(*f->session);
  }
  unref(f);
}

void Filesystem::free_file(OpenFile* f) {
  std::unique_ptr<OpenFile> owned;  // freed outside the lock
  std::lock_guard<std::mutex> lock(open_mu_);
  if (auto it = open_files_.find(f); it != open_files_.end()) {
    held_by_others_ -= f->held;
    owned = std::move(it->second);
    open_files_.erase(it);
  }
}

size_t Filesystem::held_by_others() const {
  std::lock_guard<std::mutex> lock(open_mu_);
  return held_by_others_;
}

void Filesystem::log(LogLevel level, std::string_view line) const {
  if (log_) {
    log_(level, line);
  }
}

}  // namespace memd::fusefs
