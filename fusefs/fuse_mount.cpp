#define FUSE_USE_VERSION 314
#include "fusefs/fuse_mount.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <stdexcept>

#include "fusefs/filesystem.h"
#include "fusefs/mountpoint.h"

namespace memd::fusefs {

// A directory's readdir buffer, built at its first readdir.
struct Listing {
  std::once_flag once;
  std::string buf;
};

// How the pipe thread answers with libfuse.
class LibfuseReplies final : public PipeReplies {
 public:
  void reply(void* req, std::string_view bytes) override {
    forget_interrupt(req);
    fuse_reply_buf(static_cast<fuse_req_t>(req), bytes.data(), bytes.size());
  }
  void fail(void* req, int error) override {
    forget_interrupt(req);
    fuse_reply_err(static_cast<fuse_req_t>(req), error);
  }
  void ready(void* poll_handle) override {
    auto* ph = static_cast<fuse_pollhandle*>(poll_handle);
    fuse_lowlevel_notify_poll(ph);  // fails only if the poller is gone
    fuse_pollhandle_destroy(ph);
  }
  void drop(void* poll_handle) override {
    fuse_pollhandle_destroy(static_cast<fuse_pollhandle*>(poll_handle));
  }

 private:
  // Takes the request's lock, so a callback running now has returned, and
  // none runs after it: the waiter it was given is freed next.
  static void forget_interrupt(void* req) {
    fuse_req_interrupt_func(static_cast<fuse_req_t>(req), nullptr, nullptr);
  }
};

struct FsState {
  FsState(Backend* backend, const Owner& owner, LogSink log)
      : fs(backend, owner, std::move(log), Limits{}, &replies),
        listings(std::make_unique<Listing[]>(fs.inode_count())) {}

  LibfuseReplies replies;
  Filesystem fs;
  std::unique_ptr<Listing[]> listings;  // by inode number - 1; directories only
};

namespace {

FsState* state_of(fuse_req_t req) {
  return static_cast<FsState*>(fuse_req_userdata(req));
}

OpenFile* open_file(fuse_file_info* fi) {
  return reinterpret_cast<OpenFile*>(fi->fh);  // NOLINT(performance-no-int-to-ptr): libfuse's fh
}

// --- the low-level operations (hello_ll.c style) ----------------------------------------------

void memd_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_entry_param e{};
  if (int error = state_of(req)->fs.lookup(parent, name, &e.attr)) {
    fuse_reply_err(req, error);
    return;
  }
  e.ino = e.attr.st_ino;
  e.attr_timeout = Filesystem::kAttrTimeout;
  e.entry_timeout = Filesystem::kAttrTimeout;
  fuse_reply_entry(req, &e);
}

void memd_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st {};
  if (int error = state_of(req)->fs.getattr(ino, &st)) {
    fuse_reply_err(req, error);
    return;
  }
  fuse_reply_attr(req, &st, Filesystem::kAttrTimeout);
}

void memd_setattr(fuse_req_t req, fuse_ino_t ino, struct stat*, int to_set, fuse_file_info*) {
  const int allowed = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                      FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
  struct stat st {};
  if (int error = state_of(req)->fs.setattr(ino, (to_set & ~allowed) == 0, &st)) {
    fuse_reply_err(req, error);
    return;
  }
  fuse_reply_attr(req, &st, Filesystem::kAttrTimeout);
}

// ".", ".." and the directory's entries, in the table's order, as readdir replies them.
void build_listing(fuse_req_t req, const Filesystem& fs, const Node& dir, std::string* buf) {
  auto add = [&](const char* name, const Node& n) {
    struct stat st {};
    st.st_ino = n.ino;
    st.st_mode = n.kind == Kind::kDirectory ? S_IFDIR
                 : n.kind == Kind::kSymlink ? S_IFLNK
                                            : S_IFREG;
    const size_t old = buf->size();
    const size_t len = fuse_add_direntry(req, nullptr, 0, name, nullptr, 0);
    buf->resize(old + len);
    fuse_add_direntry(req, buf->data() + old, len, name, &st, static_cast<off_t>(old + len));
  };
  add(".", dir);
  add("..", *fs.node(dir.parent));
  for (Ino child : dir.children) {
    const Node& n = *fs.node(child);
    add(n.name.c_str(), n);
  }
}

void memd_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  FsState& s = *state_of(req);
  const Node* dir = s.fs.node(ino);
  if (!dir || dir->kind != Kind::kDirectory) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  Listing& listing = s.listings[ino - kRootIno];
  std::call_once(listing.once, [&] { build_listing(req, s.fs, *dir, &listing.buf); });
  const std::string& buf = listing.buf;
  if (static_cast<size_t>(off) < buf.size()) {
    fuse_reply_buf(req, buf.data() + off, std::min(buf.size() - off, size));
  } else {
    fuse_reply_buf(req, nullptr, 0);
  }
}

void memd_readlink(fuse_req_t req, fuse_ino_t ino) {
  std::string target;
  if (int error = state_of(req)->fs.readlink(ino, &target)) {
    fuse_reply_err(req, error);
    return;
  }
  fuse_reply_readlink(req, target.c_str());
}

void memd_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Filesystem& fs = state_of(req)->fs;
  const fuse_ctx* ctx = fuse_req_ctx(req);
  const Filesystem::Opened opened = fs.open(ino, fi->flags, Caller{ctx->uid, ctx->gid, ctx->pid});
  if (opened.error) {
    fuse_reply_err(req, opened.error);
    return;
  }
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->nonseekable = opened.file->pipe;
  fi->fh = reinterpret_cast<uint64_t>(opened.file);  // freed in memd_release
  if (fuse_reply_open(req, fi) != 0) {
    fs.abandon(opened.file);  // interrupted: no release will come
  }
}

// libfuse's interrupt callback of a waiting pipe read; see Filesystem::interrupt().
void pipe_read_interrupted(fuse_req_t req, void* waiter) {
  state_of(req)->fs.interrupt(static_cast<PipeWaiter*>(waiter));
}

// fi->flags are the file's flags now: fcntl(F_SETFL, O_NONBLOCK) counts.
void read_pipe(fuse_req_t req, Filesystem& fs, OpenFile* f, size_t size, int flags) {
  Filesystem::PipeRead r = fs.read_pipe(f, size, (flags & O_NONBLOCK) != 0, req);
  if (r.error != 0) {
    fuse_reply_err(req, r.error);
  } else if (!r.waiter) {
    fuse_reply_buf(req, r.bytes.data(), r.bytes.size());
  } else {
    // Registered while req is still this thread's: once parked, the pipe
    // thread may answer it, and libfuse free it, at any moment.
    fuse_req_interrupt_func(req, pipe_read_interrupted, r.waiter.get());
    fs.park(std::move(r.waiter));
  }
}

void memd_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Filesystem& fs = state_of(req)->fs;  // before the reply: it frees req
  OpenFile* f = open_file(fi);
  if (f->pipe) {
    read_pipe(req, fs, f, size, fi->flags);
    return;
  }
  fs.read(f, size, off, [req](const char* data, size_t n) { return fuse_reply_buf(req, data, n); });
}

void memd_write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t,
                fuse_file_info* fi) {
  if (int error = state_of(req)->fs.write(open_file(fi), std::string_view(buf, size))) {
    fuse_reply_err(req, error);
    return;
  }
  fuse_reply_write(req, size);
}

void memd_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  state_of(req)->fs.release(open_file(fi));
  fuse_reply_err(req, 0);
}

// Pipes are readable when the host has data, and the pipe thread notifies
// `ph` when that comes. Other files answer what the kernel assumes of a file
// system without poll (its DEFAULT_POLLMASK): answering ENOSYS instead would
// make the kernel stop asking for every file of the mount, pipes included.
void memd_poll(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, fuse_pollhandle* ph) {
  OpenFile* f = open_file(fi);
  if (!f->pipe) {
    if (ph) {
      fuse_pollhandle_destroy(ph);
    }
    fuse_reply_poll(req, POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
    return;
  }
  const bool ready = state_of(req)->fs.poll_pipe(f, ph);
  fuse_reply_poll(req, ready ? POLLIN | POLLRDNORM : 0);
}

// libfuse's log goes to one sink per process: the last mount's.
LogSink& fuse_log_sink() {
  static auto* sink = new LogSink;  // never destroyed: libfuse may log until exit
  return *sink;
}

void memd_log(fuse_log_level level, const char* fmt, va_list ap) {
  const LogSink& sink = fuse_log_sink();
  if (!sink) {
    return;
  }
  char buf[1024];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string_view msg(buf);
  while (!msg.empty() && msg.back() == '\n') {
    msg.remove_suffix(1);
  }
  sink(level <= FUSE_LOG_ERR       ? LogLevel::kErr
       : level == FUSE_LOG_WARNING ? LogLevel::kWarning
       : level <= FUSE_LOG_INFO    ? LogLevel::kInfo
                                   : LogLevel::kDebug,
       "fuse: " + std::string(msg));
}

constexpr fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.lookup = memd_lookup;
  ops.getattr = memd_getattr;
  ops.setattr = memd_setattr;
  ops.readdir = memd_readdir;
  ops.readlink = memd_readlink;
  ops.open = memd_open;
  ops.read = memd_read;
  ops.write = memd_write;
  ops.release = memd_release;
  ops.poll = memd_poll;
  return ops;
}
constexpr fuse_lowlevel_ops kOps = make_ops();

void ignore_signal(int) {}

// fusermount3 lets a user other than root mount with allow_other only if
// /etc/fuse.conf says user_allow_other; without it memd mounts for its own user
// and says so, rather than failing to mount at all.
bool may_allow_other(const LogSink& log) {
  if (geteuid() == 0) {
    return true;
  }
  std::ifstream conf("/etc/fuse.conf");
  std::string line;
  while (std::getline(conf, line)) {
    if (line.rfind("user_allow_other", 0) == 0) {
      return true;
    }
  }
  if (log) {
    log(LogLevel::kWarning,
        "allow_other: /etc/fuse.conf has no user_allow_other, so only memd's own user reads "
        "the mount");
  }
  return false;
}

}  // namespace

FuseMount::FuseMount(MountOptions options, std::unique_ptr<FsState> state, fuse_session* session)
    : options_(std::move(options)), state_(std::move(state)), session_(session) {}

std::unique_ptr<FuseMount> FuseMount::mount(Backend* backend, MountOptions options,
                                            std::string* error) {
  fuse_log_sink() = options.log;
  fuse_set_log_func(memd_log);
  Owner owner{geteuid(), getegid(), {}};
  clock_gettime(CLOCK_REALTIME, &owner.started);
  std::unique_ptr<FsState> state;
  try {
    state = std::make_unique<FsState>(backend, owner, options.log);
  } catch (const std::invalid_argument& e) {  // the backend's table is wrong
    *error = e.what();
    return nullptr;
  }
  *error = prepare_mountpoint(options.mountpoint, options.make_dirs, options.log, options.nonempty);
  if (!error->empty()) {
    return nullptr;
  }
  const std::string resolved = resolved_path(options.mountpoint);

  // default_permissions: the kernel checks each file's mode (0444, 0400, 0600)
  // for every user, as on /proc.
  std::string opts = "fsname=memd,subtype=memd,default_permissions";
  if (options.allow_other && !may_allow_other(options.log)) {
    options.allow_other = false;
  }
  if (options.allow_other) {
    opts += ",allow_other";
  }
  const char* argv[] = {"memd", "-o", opts.c_str()};
  fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
  fuse_session* se = fuse_session_new(&args, &kOps, sizeof(kOps), state.get());
  fuse_opt_free_args(&args);
  if (!se) {
    *error = options.mountpoint + ": cannot create the FUSE session";
    return nullptr;
  }
  if (fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
    fuse_session_destroy(se);
    *error = options.mountpoint +
             ": cannot mount (is /dev/fuse there? as a user: is "
             "fusermount3 installed, and user_allow_other set for allow_other?)";
    return nullptr;
  }
  backend->set_pipe_notifier(state->fs.pipe_notifier());  // only once the mount is made
  auto mount = std::unique_ptr<FuseMount>(new FuseMount(std::move(options), std::move(state), se));
  mount->resolved_mountpoint_ = resolved;
  if (auto top = mount_at(resolved); top && top->type == "fuse.memd") {
    mount->mount_id_ = top->id;
  }
  return mount;
}

void FuseMount::start(std::function<void()> on_exit) {
  // stop() interrupts the loop's wait with SIGUSR1: a handler without SA_RESTART.
  struct sigaction sa {};
  sa.sa_handler = ignore_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, nullptr);
  pipes_ = std::thread([this] { state_->fs.serve_pipes(); });
  loop_ = std::thread([this, on_exit = std::move(on_exit)] {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);
    fuse_loop_config* config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, static_cast<unsigned>(options_.max_threads));
    fuse_loop_cfg_set_clone_fd(config, 0);
    int rc = fuse_session_loop_mt(session_, config);
    fuse_loop_cfg_destroy(config);
    if (rc != 0) {
      log(LogLevel::kDebug, "fuse: the loop ended with " + std::to_string(rc));
    }
    loop_done_ = true;
    if (on_exit) {
      on_exit();
    }
  });
}

void FuseMount::stop() {
  if (loop_.joinable()) {
    fuse_session_exit(session_);
    // The loop waits in sem_wait(); each SIGUSR1 interrupts it until it sees the exit flag.
    while (!loop_done_) {
      pthread_kill(loop_.native_handle(), SIGUSR1);
      for (int i = 0; i < 20 && !loop_done_; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    loop_.join();
  }
  if (pipes_.joinable()) {
    // Only now that no request can park any more; the waiting reads get end
    // of file before the unmount, so that readers end and it does not wait.
    state_->fs.stop_pipes();
    pipes_.join();
  }
  if (session_) {
    // Unmounting by path takes whatever is on top there: if someone mounted
    // over memd, leave both (memd's, dead once memd is gone, is cleaned up
    // by the next memd) rather than take their mount away.
    const auto top = mount_at(resolved_mountpoint_);
    if (mount_id_ && top && top->id != mount_id_) {
      log(LogLevel::kWarning, options_.mountpoint + ": a " + top->type +
                                  " file system is mounted over memd's files; leaving it mounted");
    } else {
      fuse_session_unmount(session_);
    }
    fuse_session_destroy(session_);
    session_ = nullptr;
  }
}

FuseMount::~FuseMount() {
  stop();
}

void FuseMount::log(LogLevel level, const std::string& line) const {
  if (options_.log) {
    options_.log(level, line);
  }
}

}  // namespace memd::fusefs

// libfuse keeps its own copy of the mount point from fuse_session_mount() and
// frees it only in fuse_session_unmount(). When another file system covers
// memd's mount, stop() leaves the mount alone on purpose and so never calls
// it: those few bytes are libfuse's, held until exit, not a leak of memd's.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() {
  return "leak:fuse_session_mount\n";
}
#endif
