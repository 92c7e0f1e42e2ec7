#include "fusefs/filesystem.h"

#include <fcntl.h>

#include <cerrno>
#include <condition_variable>
#include <exception>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace memd::fusefs {

// What wakes the pipe thread: the host's notifier and the interrupt callback,
// both called with someone else's locks held, so they only take `mu` for a
// moment. The notifier keeps it alive past the file system.
struct PipeSignal {
  std::mutex mu;
  std::condition_variable cv;
  bool pending = false;   // by mu: a pass of the pipe thread is due
  bool stopping = false;  // by mu
  std::atomic<uint64_t> pokes{0};

  void poke() {
    {
      std::lock_guard<std::mutex> lock(mu);
      pokes.fetch_add(1);
      pending = true;
    }
    cv.notify_one();
  }
};

Filesystem::Filesystem(Backend* backend, Owner owner, LogSink log, Limits limits,
                       PipeReplies* replies)
    : backend_(backend),
      owner_(owner),
      log_(std::move(log)),
      limits_(limits),
      replies_(replies),
      signal_(std::make_shared<PipeSignal>()) {
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
  if (entry.kind == Kind::kPipe && !replies_) {
    refuse("a pipe file, and nothing to answer its waiting reads");
  }
  if (entry.kind == Kind::kSymlink && entry.target.empty()) {
    refuse("a symbolic link without a target");
  }
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
      nodes_[make_node(dir, name, entry.kind, entry.mode, entry.id) - kRootIno].target =
          entry.target;
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
  } else if (n.kind == Kind::kSymlink) {
    st->st_mode = S_IFLNK | 0777;  // a link's own mode is never checked
    st->st_nlink = 1;
    st->st_size = static_cast<off_t>(n.target.size());
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

int Filesystem::readlink(Ino ino, std::string* target) const {
  const Node* n = node(ino);
  if (!n) {
    return ENOENT;
  }
  if (n->kind != Kind::kSymlink) {
    return EINVAL;
  }
  *target = n->target;
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
  if (n->kind == Kind::kSymlink) {
    return {ELOOP};  // the kernel follows links itself and never opens one here
  }
  if ((n->kind == Kind::kRendered || n->kind == Kind::kPipe) && (flags & O_ACCMODE) != O_RDONLY) {
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
  file->pipe = n.kind == Kind::kPipe;
  try {
    if (file->command) {
      Backend::CommandOpen opened = backend_->open_command(n.id, caller);
      file->session = std::move(opened.session);
      file->text = std::move(opened.text);
    } else if (file->pipe) {
      file->session = backend_->open_pipe(n.id, caller);
    } else {
      file->text = backend_->render(n.id);
    }
  } catch (const std::exception& e) {  // never through libfuse's C frames
    log(LogLevel::kErr, fmt::format("open {}: {}", n.path, e.what()));
    return ENOMEM;
  }
  if (n.kind == Kind::kRendered && caller.uid != 0 && caller.uid != owner_.uid) {
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
  } else if (f->pipe) {
    close_pipe(f);
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

// --- pipe files -------------------------------------------------------------------------------
//
// Each parked read is answered by whoever takes it out of parked_ under
// pipes_mu_ (claim(), close_pipe(), end_pipes()): exactly once. Its waiter is
// freed only after PipeReplies unregistered the interrupt callback, which
// waits for a callback running then (libfuse runs it under the request's
// lock); so interrupt() never touches a freed waiter. None of the callbacks
// ever replies: libfuse may call one from within the registration, where a
// reply would free the request under libfuse's own hands.

std::function<void()> Filesystem::pipe_notifier() const {
  return [signal = signal_] { signal->poke(); };
}

Filesystem::PipeRead Filesystem::read_pipe(OpenFile* f, size_t size, bool nonblock, void* req) {
  // Counted before looking: data that comes after it wakes a pass, and
  // park() sees the count move and asks for one that will find this read.
  const uint64_t pokes = signal_->pokes.load();
  PipeRead r;
  r.error = take(f, size, &r.bytes);
  if (r.error != 0 || !r.bytes.empty() || size == 0) {
    return r;
  }
  if (nonblock) {
    r.error = EAGAIN;
    return r;
  }
  r.waiter = std::make_unique<PipeWaiter>();
  r.waiter->file = f;
  r.waiter->size = size;
  r.waiter->req = req;
  r.waiter->pokes = pokes;
  return r;
}

void Filesystem::park(std::unique_ptr<PipeWaiter> waiter) {
  const uint64_t pokes = waiter->pokes;  // once parked, the waiter may be gone
  {
    std::lock_guard<std::mutex> lock(pipes_mu_);
    if (!pipes_ended_) {
      const uint64_t seq = ++arrivals_;
      waiter->seq = seq;
      parked_.emplace(seq, std::move(waiter));
    }
  }
  if (waiter) {  // the mount is ending
    answer(std::move(waiter), 0, "");
  } else if (signal_->pokes.load() != pokes) {
    signal_->poke();  // data or an interrupt came while the read was on its way here
  }
}

void Filesystem::interrupt(PipeWaiter* waiter) {
  waiter->interrupted.store(true);
  signal_->poke();
}

bool Filesystem::poll_pipe(OpenFile* f, void* poll_handle) {
  if (poll_handle) {
    // Kept before looking, so that data coming in between finds it.
    void* unused = poll_handle;
    {
      std::lock_guard<std::mutex> lock(pipes_mu_);
      if (!pipes_ended_) {
        unused = std::exchange(poll_handles_[f], poll_handle);
      }
    }
    if (unused) {
      replies_->drop(unused);
    }
  }
  return ready(f);
}

int Filesystem::take(OpenFile* f, size_t size, std::string* bytes) {
  std::lock_guard<std::mutex> lock(f->mu);
  if (f->closed) {
    return 0;
  }
  try {
    *bytes = backend_->read_pipe(*f->session, size);
  } catch (const std::exception& e) {  // never through libfuse's C frames
    log(LogLevel::kErr, fmt::format("read {}: {}", f->node->path, e.what()));
    return ENOMEM;
  }
  return 0;
}

bool Filesystem::ready(OpenFile* f) {
  std::lock_guard<std::mutex> lock(f->mu);
  if (f->closed) {
    return false;
  }
  try {
    return backend_->pipe_ready(*f->session);
  } catch (const std::exception& e) {
    log(LogLevel::kErr, fmt::format("poll {}: {}", f->node->path, e.what()));
    return true;  // the read that follows reports the failure
  }
}

void Filesystem::serve_pipes() {
  PipeSignal& s = *signal_;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(s.mu);
      s.cv.wait(lock, [&s] { return s.pending || s.stopping; });
      if (s.stopping) {
        break;
      }
      s.pending = false;
    }
    retry_pipes();
  }
  end_pipes();
}

void Filesystem::stop_pipes() {
  {
    std::lock_guard<std::mutex> lock(signal_->mu);
    signal_->stopping = true;
  }
  signal_->cv.notify_all();
}

void Filesystem::retry_pipes() {
  Parked p;
  while (next_parked(p.seq, &p)) {
    retry(p);
  }
  notify_polls();
}

// The first read parked after `after`. Reads parked meanwhile come later in
// arrival order, so a pass never misses one nor retries one twice.
bool Filesystem::next_parked(uint64_t after, Parked* p) {
  std::lock_guard<std::mutex> lock(pipes_mu_);
  auto it = parked_.upper_bound(after);
  if (it == parked_.end()) {
    return false;
  }
  const PipeWaiter& w = *it->second;
  *p = {w.seq, w.file, w.size, w.interrupted.load()};
  // Alive: a release takes the open's parked reads out, under the lock, before its unref.
  p->file->refs.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Filesystem::retry(const Parked& p) {
  std::string bytes;
  const int error = p.interrupted ? EINTR : take(p.file, p.size, &bytes);
  if (error != 0 || !bytes.empty()) {
    // Gone if the release took it meanwhile: these bytes end with the open.
    if (std::unique_ptr<PipeWaiter> waiter = claim(p.seq)) {
      answer(std::move(waiter), error, bytes);
    }
  }
  unref(p.file);
}

std::unique_ptr<PipeWaiter> Filesystem::claim(uint64_t seq) {
  std::lock_guard<std::mutex> lock(pipes_mu_);
  auto node = parked_.extract(seq);
  return node ? std::move(node.mapped()) : nullptr;
}

void Filesystem::answer(std::unique_ptr<PipeWaiter> waiter, int error, std::string_view bytes) {
  if (error != 0) {
    replies_->fail(waiter->req, error);
  } else {
    replies_->reply(waiter->req, bytes);
  }
}

// Notifies each poll whose pipe now has data, and forgets its handle: the
// poller polls again, with a new handle, if it still waits.
void Filesystem::notify_polls() {
  std::vector<OpenFile*> polled;
  {
    std::lock_guard<std::mutex> lock(pipes_mu_);
    for (const auto& [f, handle] : poll_handles_) {
      f->refs.fetch_add(1, std::memory_order_relaxed);
      polled.push_back(f);
    }
  }
  for (OpenFile* f : polled) {
    if (ready(f)) {
      void* handle = nullptr;
      {
        std::lock_guard<std::mutex> lock(pipes_mu_);
        if (auto node = poll_handles_.extract(f)) {
          handle = node.mapped();
        }
      }
      if (handle) {
        replies_->ready(handle);
      }
    }
    unref(f);
  }
}

void Filesystem::end_pipes() {
  std::map<uint64_t, std::unique_ptr<PipeWaiter>> parked;
  std::unordered_map<OpenFile*, void*> handles;
  {
    std::lock_guard<std::mutex> lock(pipes_mu_);
    pipes_ended_ = true;
    parked.swap(parked_);
    handles.swap(poll_handles_);
  }
  if (!parked.empty()) {
    log(LogLevel::kInfo,
        fmt::format("the mount ends: {} waiting pipe read(s) get end of file", parked.size()));
  }
  for (auto& [seq, waiter] : parked) {
    answer(std::move(waiter), 0, "");
  }
  for (const auto& [f, handle] : handles) {
    replies_->drop(handle);
  }
}

// The kernel releases an open once no read of it is running, so reads parked
// here are unusual; they end like those of an ending mount.
void Filesystem::close_pipe(OpenFile* f) {
  std::vector<std::unique_ptr<PipeWaiter>> waiting;
  void* handle = nullptr;
  {
    std::lock_guard<std::mutex> lock(pipes_mu_);
    for (auto it = parked_.begin(); it != parked_.end();) {
      if (it->second->file == f) {
        waiting.push_back(std::move(it->second));
        it = parked_.erase(it);
      } else {
        ++it;
      }
    }
    if (auto node = poll_handles_.extract(f)) {
      handle = node.mapped();
    }
  }
  for (std::unique_ptr<PipeWaiter>& waiter : waiting) {
    answer(std::move(waiter), 0, "");
  }
  if (handle) {
    replies_->drop(handle);
  }
  {
    std::lock_guard<std::mutex> lock(f->mu);  // a call of the pipe thread on the session is over
    f->closed = true;
  }
  backend_->close(*f->session);
}

size_t Filesystem::parked_reads() const {
  std::lock_guard<std::mutex> lock(pipes_mu_);
  return parked_.size();
}

void Filesystem::log(LogLevel level, std::string_view line) const {
  if (log_) {
    log_(level, line);
  }
}

}  // namespace memd::fusefs
