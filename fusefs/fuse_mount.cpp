#define FUSE_USE_VERSION 314
#include "fusefs/fuse_mount.h"

#include <fuse_lowlevel.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>

#include "daemon/log.h"
#include "daemon/system.h"

namespace memd {
namespace {

constexpr fuse_ino_t kRootIno = FUSE_ROOT_ID;  // 1
constexpr fuse_ino_t kControlIno = 2;
constexpr fuse_ino_t kFirstFileIno = 3;  // then kProcFiles in order
constexpr double kAttrTimeout = 60.0;    // names, modes and sizes never change
// What files held open by users other than root and memd's own may keep
// rendered in all (allow_other): past it their opens fail with ENFILE, so that
// opening thousands of files cannot make memd hold gigabytes. Each open counts
// at least a page.
constexpr size_t kMaxHeldByOthers = 128 << 20;
constexpr size_t kMinHeld = 4096;

}  // namespace

// What an open file descriptor of the mount holds (fi->fh).
//
// A kernel file's text is written once, in open, and only read afterwards:
// its reads take no lock. `refs` counts the open itself and every read still
// replying from `text`; whoever drops the last reference frees the file, so a
// release never waits for a reply in flight (which would put a lock handoff
// between a read's reply and the close right behind it) and never frees the
// text under it. control's text changes with each write: `mu` guards it.
struct OpenFile {
  std::atomic<int> refs{1};
  bool control = false;
  std::mutex mu;      // control only: guards text and cursor, spans each reply from text
  std::string text;   // the rendered file; for control: the last result, or the help
  size_t held = 0;    // what it counts in FsState::held_by_others
  Client client;      // control only
  size_t cursor = 0;  // control only: where the next read at a nonzero offset continues
};

struct FsState {
  Service* service = nullptr;
  uid_t uid = 0;
  gid_t gid = 0;
  timespec started{};
  std::string dir_listing;  // readdir's buffer, built at first use
  std::once_flag listing_once;
  // Every open file, owned here until its release: files still open when
  // memd unmounts never get one, and are freed with the state.
  Mutex open_mu;
  std::unordered_map<const OpenFile*, std::unique_ptr<OpenFile>> open_files GUARDED_BY(open_mu);
  size_t held_by_others GUARDED_BY(open_mu) = 0;  // see kMaxHeldByOthers
  std::atomic<uint64_t> refused_opens{0};
};

namespace {

FsState* state_of(fuse_req_t req) {
  return static_cast<FsState*>(fuse_req_userdata(req));
}

OpenFile* open_file(fuse_file_info* fi) {
  return reinterpret_cast<OpenFile*>(fi->fh);  // NOLINT(performance-no-int-to-ptr): libfuse's fh
}

bool is_file_ino(fuse_ino_t ino) {
  return ino >= kFirstFileIno && ino < kFirstFileIno + kProcFiles.size();
}
ProcFile file_of(fuse_ino_t ino) {
  return kProcFiles[ino - kFirstFileIno];
}

// The attributes of an inode, or nullopt if there is none.
std::optional<struct stat> stat_of(const FsState& s, fuse_ino_t ino) {
  struct stat st {};
  st.st_ino = ino;
  st.st_uid = s.uid;
  st.st_gid = s.gid;
  st.st_atim = st.st_mtim = st.st_ctim = s.started;
  st.st_size = 0;  // like procfs: readers read until EOF
  st.st_blksize = 4096;
  if (ino == kRootIno) {
    st.st_mode = S_IFDIR | 0555;
    st.st_nlink = 2;
  } else if (ino == kControlIno) {
    st.st_mode = S_IFREG | 0600;
    st.st_nlink = 1;
  } else if (is_file_ino(ino)) {
    st.st_mode = S_IFREG | proc_file_mode(file_of(ino));
    st.st_nlink = 1;
  } else {
    return std::nullopt;
  }
  return st;
}

int errno_for(Failure f) {
  switch (f) {
    case Failure::kNone:
      return 0;
    case Failure::kBadInput:
      return EINVAL;
    case Failure::kAllocFailed:
      return ENOMEM;
    case Failure::kBusy:
      return EBUSY;
    case Failure::kDenied:
      return EPERM;
    case Failure::kCheckFailed:
    case Failure::kIo:
    case Failure::kInternal:
      return EIO;
  }
  return EINVAL;
}

// --- the low-level operations (hello_ll.c style) ----------------------------------------------

void memd_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  const FsState& s = *state_of(req);
  fuse_ino_t ino = 0;
  if (parent == kRootIno) {
    if (std::strcmp(name, "control") == 0) ino = kControlIno;
    for (size_t i = 0; i < kProcFiles.size() && !ino; ++i) {
      if (proc_file_name(kProcFiles[i]) == name) ino = kFirstFileIno + i;
    }
  }
  if (!ino) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e{};
  e.ino = ino;
  e.attr = *stat_of(s, ino);
  e.attr_timeout = kAttrTimeout;
  e.entry_timeout = kAttrTimeout;
  fuse_reply_entry(req, &e);
}

void memd_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  auto st = stat_of(*state_of(req), ino);
  if (!st) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_reply_attr(req, &*st, kAttrTimeout);
}

// `echo cmd > control` truncates before writing: accept a truncation of control, refuse the rest.
void memd_setattr(fuse_req_t req, fuse_ino_t ino, struct stat*, int to_set, fuse_file_info*) {
  auto st = stat_of(*state_of(req), ino);
  if (!st) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  const int allowed = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                      FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
  if (ino != kControlIno || (to_set & ~allowed)) {
    fuse_reply_err(req, EPERM);
    return;
  }
  fuse_reply_attr(req, &*st, kAttrTimeout);
}

void memd_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  FsState& s = *state_of(req);
  if (ino != kRootIno) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  std::call_once(s.listing_once, [&s, req] {
    auto add = [&](const char* name, fuse_ino_t entry_ino) {
      struct stat st {};
      st.st_ino = entry_ino;
      st.st_mode = entry_ino == kRootIno ? S_IFDIR : S_IFREG;
      size_t old = s.dir_listing.size();
      size_t len = fuse_add_direntry(req, nullptr, 0, name, nullptr, 0);
      s.dir_listing.resize(old + len);
      fuse_add_direntry(req, s.dir_listing.data() + old, len, name, &st,
                        static_cast<off_t>(old + len));
    };
    add(".", kRootIno);
    add("..", kRootIno);
    add("control", kControlIno);
    for (size_t i = 0; i < kProcFiles.size(); ++i) {
      add(std::string(proc_file_name(kProcFiles[i])).c_str(), kFirstFileIno + i);
    }
  });
  const std::string& buf = s.dir_listing;
  if (static_cast<size_t>(off) < buf.size()) {
    fuse_reply_buf(req, buf.data() + off, std::min(buf.size() - off, size));
  } else {
    fuse_reply_buf(req, nullptr, 0);
  }
}

void memd_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  FsState& s = *state_of(req);
  if (ino == kRootIno) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  auto file = std::make_unique<OpenFile>();
  if (ino == kControlIno) {
    file->control = true;
    file->text = command_help();
    file->client.origin = Client::Origin::kControlFile;
    file->client.uid = fuse_req_ctx(req)->uid;
  } else if (is_file_ino(ino)) {
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
      fuse_reply_err(req, EACCES);
      return;
    }
    // The whole file, once per open: every read of this open sees the same snapshot.
    try {
      file->text = s.service->render(file_of(ino));
    } catch (const std::exception& e) {  // never through libfuse's C frames
      log::err("open {}: {}", proc_file_name(file_of(ino)), e.what());
      fuse_reply_err(req, ENOMEM);
      return;
    }
  } else {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->fh = reinterpret_cast<uint64_t>(file.get());  // freed in memd_release
  OpenFile* raw = file.get();
  const uid_t uid = fuse_req_ctx(req)->uid;
  if (!file->control && uid != 0 && uid != s.uid) {
    file->held = std::max(file->text.size(), kMinHeld);
  }
  size_t held = 0;
  {
    MutexLock lock(&s.open_mu);
    held = s.held_by_others;
    if (held + file->held <= kMaxHeldByOthers) {
      s.held_by_others += file->held;
      s.open_files.emplace(raw, std::move(file));
    }
  }
  if (file) {  // refused: still ours
    if (s.refused_opens++ % 1000 == 0) {
      log::warning("open {} by uid {}: files open by other users hold {} MiB already (ENFILE)",
                   proc_file_name(file_of(ino)), uid, held >> 20);
    }
    fuse_reply_err(req, ENFILE);
    return;
  }
  if (fuse_reply_open(req, fi) != 0) {  // interrupted: no release will come
    MutexLock lock(&s.open_mu);
    s.held_by_others -= raw->held;
    s.open_files.erase(raw);
  }
}

// Drops a reference to an open file; the last one frees it.
void unref(FsState* s, OpenFile* f) {
  if (f->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  std::unique_ptr<OpenFile> owned;
  {
    MutexLock lock(&s->open_mu);
    if (auto it = s->open_files.find(f); it != s->open_files.end()) {
      s->held_by_others -= f->held;
      owned = std::move(it->second);
      s->open_files.erase(it);
    }
  }
}

void memd_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  OpenFile* f = open_file(fi);
  if (ino != kControlIno) {
    FsState* s = state_of(req);                       // before the reply: it frees req
    f->refs.fetch_add(1, std::memory_order_relaxed);  // the open's reference keeps f alive here
    const std::string& t = f->text;
    const size_t start = std::min(static_cast<size_t>(off), t.size());
    fuse_reply_buf(req, t.data() + start, std::min(size, t.size() - start));
    unref(s, f);
    return;
  }
  // Held while the reply is written from f->text, which the next write replaces.
  std::lock_guard<std::mutex> lock(f->mu);
  // control: reads follow the last write, whatever the file offset after it
  // (`exec 3<>control; echo cmd >&3; cat <&3`); offset 0 starts over.
  if (off == 0) f->cursor = 0;
  const size_t start = std::min(f->cursor, f->text.size());
  const size_t n = std::min(size, f->text.size() - start);
  f->cursor = start + n;
  fuse_reply_buf(req, f->text.data() + start, n);
}

void memd_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t,
                fuse_file_info* fi) {
  FsState& s = *state_of(req);
  if (ino != kControlIno) {
    fuse_reply_err(req, EBADF);
    return;
  }
  OpenFile* f = open_file(fi);
  std::lock_guard<std::mutex> lock(f->mu);
  const std::string_view line(buf, size);
  Reply reply = s.service->execute(line, &f->client);
  f->text = std::move(reply.text);
  f->cursor = 0;
  if (!reply.ok()) {
    std::string_view shown = line.substr(0, std::min<size_t>(line.size(), 200));
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) {
      shown.remove_suffix(1);
    }
    log::warning("control: '{}': {}", shown, reply.error_message());
    fuse_reply_err(req, errno_for(reply.failure));
    return;
  }
  fuse_reply_write(req, size);
}

void memd_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  FsState& s = *state_of(req);
  OpenFile* f = open_file(fi);
  if (f->control) {
    { std::lock_guard<std::mutex> lock(f->mu); }  // the last reply from f->text is out
    s.service->disconnect(&f->client);
  }
  unref(&s, f);
  fuse_reply_err(req, 0);
}

void memd_log(fuse_log_level level, const char* fmt, va_list ap) {
  char buf[1024];
  vsnprintf(buf, sizeof(buf), fmt, ap);
  std::string_view msg(buf);
  while (!msg.empty() && msg.back() == '\n') {
    msg.remove_suffix(1);
  }
  log::write(level <= FUSE_LOG_ERR       ? log::Level::kErr
             : level == FUSE_LOG_WARNING ? log::Level::kWarning
             : level <= FUSE_LOG_INFO    ? log::Level::kInfo
                                         : log::Level::kDebug,
             fmt::format("fuse: {}", msg));
}

constexpr fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.lookup = memd_lookup;
  ops.getattr = memd_getattr;
  ops.setattr = memd_setattr;
  ops.readdir = memd_readdir;
  ops.open = memd_open;
  ops.read = memd_read;
  ops.write = memd_write;
  ops.release = memd_release;
  return ops;
}
constexpr fuse_lowlevel_ops kOps = make_ops();

// `path` without links, "." or "..", as /proc/self/mountinfo spells mount points.
// Only before memd mounts there: resolving a path may ask the file system on it.
std::string resolved_path(const std::string& given) {
  char resolved[PATH_MAX];
  return realpath(given.c_str(), resolved) ? resolved : given;
}

// The mount on top at `path` (resolved), as /proc/self/mountinfo lists it, if
// any. Touches nothing under `path`: safe while memd's own mount is not served.
struct MountInfo {
  uint64_t id = 0;   // the mount's unique id
  std::string type;  // "fuse.memd", "tmpfs", ...
};
std::optional<MountInfo> mount_at(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::optional<MountInfo> top;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    std::string unescaped;  // mountinfo escapes blanks as \040
    for (size_t i = 0; i < point.size(); ++i) {
      if (point[i] == '\\' && i + 3 < point.size()) {
        unescaped += static_cast<char>((point[i + 1] - '0') * 64 + (point[i + 2] - '0') * 8 +
                                       (point[i + 3] - '0'));
        i += 3;
      } else {
        unescaped += point[i];
      }
    }
    if (unescaped != path) continue;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string fstype;
    rest >> fstype;
    top = MountInfo{std::strtoull(id.c_str(), nullptr, 10), fstype};  // the last listed is on top
  }
  return top;
}

// Detaches a mount whose daemon is gone.
Status unmount_stale(const std::string& path) {
  if (geteuid() == 0) {
    if (umount2(path.c_str(), MNT_DETACH) != 0) {
      return make_error(
          fmt::format("{}: cannot unmount the stale mount: {}", path, std::strerror(errno)));
    }
    return {};
  }
  pid_t pid = fork();
  if (pid == 0) {
    execlp("fusermount3", "fusermount3", "-u", "-z", "-q", path.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return make_error(fmt::format("{}: fusermount3 -u -z could not unmount the stale mount", path));
  }
  return {};
}

// Makes `path` ready to be mounted on: created if missing; a stale memd mount
// (its daemon killed: ENOTCONN) detached; a live mount refused. statfs()
// always asks the daemon, where stat() may answer from the kernel's cache.
Status prepare_mountpoint(const std::string& path) {
  // Another user's link would let them choose where memd mounts (over /usr/bin, say).
  struct stat link {};
  if (lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode) && link.st_uid != 0 &&
      link.st_uid != geteuid()) {
    return make_error(fmt::format(
        "{}: a symbolic link of uid {}: memd mounts only through links of root or its own user",
        path, link.st_uid));
  }
  struct statfs fs {};
  if (statfs(path.c_str(), &fs) != 0) {
    if (errno == ENOTCONN || errno == ECONNABORTED) {
      log::notice("{}: cleaning up a stale mount left by a memd that is gone", path);
      if (auto s = unmount_stale(path); !s) return s;
      return prepare_mountpoint(path);
    }
    if (errno != ENOENT) return make_error(fmt::format("{}: {}", path, std::strerror(errno)));
    return make_dirs(path, 0755);
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(fmt::format("{}: not a directory", path));
  }
  if (auto top = mount_at(resolved_path(path))) {
    const std::string& type = top->type;
    if (type == "fuse.memd") {
      return make_error(
          fmt::format("{}: another memd is already mounted here and running; stop it first", path));
    }
    return make_error(fmt::format("{}: something else is mounted here (type {})", path, type));
  }
  return {};
}

void ignore_signal(int) {}

}  // namespace

FuseMount::FuseMount(MountOptions options, std::unique_ptr<FsState> state, fuse_session* session)
    : options_(std::move(options)), state_(std::move(state)), session_(session) {}

Result<std::unique_ptr<FuseMount>> FuseMount::mount(Service* service, const MountOptions& options) {
  fuse_set_log_func(memd_log);
  if (auto s = prepare_mountpoint(options.mountpoint); !s) return s.error();
  const std::string resolved = resolved_path(options.mountpoint);
  auto state = std::make_unique<FsState>();
  state->service = service;
  state->uid = geteuid();
  state->gid = getegid();
  clock_gettime(CLOCK_REALTIME, &state->started);

  std::string opts = "fsname=memd,subtype=memd,default_permissions";
  if (options.allow_other) opts += ",allow_other";
  const char* argv[] = {"memd", "-o", opts.c_str()};
  fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
  fuse_session* se = fuse_session_new(&args, &kOps, sizeof(kOps), state.get());
  fuse_opt_free_args(&args);
  if (!se) return make_error(fmt::format("{}: cannot create the FUSE session", options.mountpoint));
  if (fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
    fuse_session_destroy(se);
    return make_error(
        fmt::format("{}: cannot mount (is /dev/fuse there? as a user: is "
                    "fusermount3 installed, and user_allow_other set for allow_other?)",
                    options.mountpoint));
  }
  auto mount = std::unique_ptr<FuseMount>(new FuseMount(options, std::move(state), se));
  mount->resolved_mountpoint_ = resolved;
  if (auto top = mount_at(resolved); top && top->type == "fuse.memd") mount->mount_id_ = top->id;
  return mount;
}

void FuseMount::start(std::function<void()> on_exit) {
  // stop() interrupts the loop's wait with SIGUSR1: a handler without SA_RESTART.
  struct sigaction sa {};
  sa.sa_handler = ignore_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, nullptr);
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
    if (rc != 0) log::debug("fuse: the loop ended with {}", rc);
    loop_done_ = true;
    if (on_exit) on_exit();
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
  if (session_) {
    // Unmounting by path takes whatever is on top there: if someone mounted
    // over memd, leave both (memd's, dead once memd is gone, is cleaned up
    // by the next memd) rather than take their mount away.
    const auto top = mount_at(resolved_mountpoint_);
    if (mount_id_ && top && top->id != mount_id_) {
      log::warning("{}: a {} file system is mounted over memd's files; leaving it mounted",
                   options_.mountpoint, top->type);
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

}  // namespace memd
