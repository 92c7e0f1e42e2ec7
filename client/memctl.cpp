#include "client/memctl.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <ostream>
#include <utility>

#include "client/connection.h"
#include "client/output.h"
#include "client/request.h"

namespace memd::client {
namespace {

// --- exit paths -------------------------------------------------------------------------------

std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ')
    s.pop_back();
  return s;
}

int fail(std::ostream& err, int status, const std::string& message) {
  err << "memctl: " << one_line(message) << std::endl;
  return status;
}

// --- SIGINT during a replay -------------------------------------------------------------------

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_sigint(int) {
  g_interrupted = 1;
}

// Catches SIGINT for its lifetime; a second SIGINT kills memctl as usual.
// An ignored SIGINT (nohup, a background job of a script) stays ignored.
// Blocked socket calls are retried (Connection), so the flag is acted on
// between two frames.
class SigintGuard {
 public:
  SigintGuard() {
    g_interrupted = 0;
    sigaction(SIGINT, nullptr, &old_);
    if (old_.sa_handler == SIG_IGN) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, nullptr);
  }
  ~SigintGuard() { sigaction(SIGINT, &old_, nullptr); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction old_ {};
};

// --- talking to memd --------------------------------------------------------------------------

// One request and its parsed reply; on failure the exit status to return
// (the message already printed).
struct Exchange {
  int status = kExitOk;
  std::string line;  // the reply as memd sent it
  Json reply;
  bool ok() const { return status == kExitOk; }
};

Exchange ask(Connection* conn, std::string_view command, std::ostream& err) {
  Exchange x;
  auto line = conn->request(command);
  if (!line) {
    x.status = fail(err, kExitUnreachable, line.error().message);
    return x;
  }
  x.line = std::move(*line);
  x.reply = Json::parse(x.line, nullptr, /*allow_exceptions=*/false);
  if (x.reply.is_discarded() || !x.reply.is_object()) {
    x.status =
        fail(err, kExitUnreachable, "memd's reply is not a JSON object: " + x.line.substr(0, 200));
  }
  return x;
}

bool reply_ok(const Json& reply) {
  auto it = reply.find("ok");
  return it != reply.end() && it->is_boolean() && it->get<bool>();
}

using Formatter = std::string (*)(const Json&);

// Sends one command and prints its reply: as JSON with --json, else through
// `format`; a refusal prints what the reply still holds (the allocations
// made before one failed, the problems check found) and the error line.
int simple_command(Connection* conn, const std::string& command, bool json, Formatter format,
                   std::ostream& out, std::ostream& err) {
  Exchange x = ask(conn, command, err);
  if (!x.ok()) return x.status;
  const bool ok = reply_ok(x.reply);
  if (json) {
    out << x.line << '\n';
  } else if (ok || x.reply.contains("allocations") || x.reply.contains("problems")) {
    out << format(x.reply);
  }
  out.flush();
  if (!ok) return fail(err, kExitRefused, error_message(x.reply));
  return kExitOk;
}

std::string format_text(const Json& reply) {
  auto it = reply.find("text");
  return it != reply.end() && it->is_string() ? it->get<std::string>() : reply.dump() + "\n";
}

// --- replay -----------------------------------------------------------------------------------

constexpr size_t kFrameBytes = 256 << 10;  // one frame at most, cut back to the last line end
constexpr size_t kMaxCarry = 16u << 20;    // a "line" longer than this is sent as it is
constexpr auto kProgressEvery = std::chrono::milliseconds(100);

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};

std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

class ReplayClient {
 public:
  ReplayClient(Connection* conn, const std::string& path, bool json, const Environment& env,
               std::ostream& out, std::ostream& err)
      : conn_(conn), path_(path), json_(json), env_(env), out_(out), err_(err) {}

  int run();

 private:
  int send_frame(std::string_view bytes);
  int read_frame_reply();
  int drain();
  int finish(std::string_view step, bool interrupted);
  void progress(bool force);
  void clear_progress();

  Connection* conn_;
  const std::string& path_;
  bool json_;
  const Environment& env_;
  std::ostream& out_;
  std::ostream& err_;
  gzFile file_ = nullptr;
  uint64_t total_bytes_ = 0;  // the file's size on disk (compressed), 0 if unknown
  uint64_t lines_ = 0;        // lines memd has taken so far
  int in_flight_ = 0;         // frames sent whose reply is not read yet
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_progress_;
  bool progress_shown_ = false;
};

int ReplayClient::run() {
  std::unique_ptr<gzFile_s, GzCloser> in(path_ == "-" ? gzdopen(dup(STDIN_FILENO), "rb")
                                                      : gzopen(path_.c_str(), "rb"));
  if (!in) return fail(err_, kExitUsage, "cannot open " + path_ + ": " + std::strerror(errno));
  file_ = in.get();
  gzbuffer(file_, 256 << 10);
  struct stat st {};
  if (path_ != "-" && stat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    total_bytes_ = static_cast<uint64_t>(st.st_size);
  }

  Exchange begin = ask(conn_, "replay begin", err_);
  if (!begin.ok()) return begin.status;
  if (!reply_ok(begin.reply)) {
    if (json_) out_ << begin.line << '\n';
    return fail(err_, kExitRefused, error_message(begin.reply));
  }

  SigintGuard sigint;
  start_ = last_progress_ = std::chrono::steady_clock::now();
  std::string pending;
  std::string buf(kFrameBytes, '\0');
  for (;;) {
    if (g_interrupted) return finish("abort", true);
    // Frames stay within kFrameBytes unless a single line is longer.
    const size_t want = pending.size() < kFrameBytes ? kFrameBytes - pending.size() : kFrameBytes;
    const int n = gzread(file_, buf.data(), static_cast<unsigned>(want));
    int errnum = Z_OK;
    std::string why;
    if (n <= 0) {
      why = gzerror(file_, &errnum);
      if (errnum == Z_ERRNO) why = std::strerror(errno);
      // The end of the file in the middle of a gzip stream: a trace cut short.
      if (n == 0 && errnum == Z_BUF_ERROR) why = "the file ends in the middle of its gzip stream";
    }
    if (n < 0 || errnum == Z_BUF_ERROR) {
      if (g_interrupted) return finish("abort", true);
      if (int rc = drain(); rc != kExitOk) return rc;
      clear_progress();
      Exchange x = ask(conn_, "replay abort", err_);
      if (!x.ok()) return x.status;
      return fail(err_, kExitUsage,
                  "reading " + path_ + ": " + why + " (replay aborted after " +
                      std::to_string(lines_) + " lines)");
    }
    if (n == 0) break;
    pending.append(buf.data(), static_cast<size_t>(n));
    size_t cut = pending.rfind('\n');
    if (cut == std::string::npos) {
      if (pending.size() < kMaxCarry) continue;
      cut = pending.size() - 1;
    }
    if (int rc = send_frame(std::string_view(pending).substr(0, cut + 1)); rc != kExitOk) {
      return rc;
    }
    pending.erase(0, cut + 1);
    progress(false);
  }
  if (!pending.empty()) {
    if (int rc = send_frame(pending); rc != kExitOk) return rc;
  }
  return finish("end", false);
}

// Frames sent before the reply to the first is read: memd replays one while
// memctl reads and inflates the next, instead of each waiting for the other.
constexpr int kFramesInFlight = 2;

// "replay data bytes=N\n" and the N bytes; the reply of the frame before.
int ReplayClient::send_frame(std::string_view bytes) {
  const std::string header = "replay data bytes=" + std::to_string(bytes.size()) + "\n";
  if (auto st = conn_->send(header); !st) {
    clear_progress();
    return fail(err_, kExitUnreachable, st.error().message);
  }
  if (auto st = conn_->send(bytes); !st) {
    clear_progress();
    return fail(err_, kExitUnreachable, st.error().message);
  }
  ++in_flight_;
  return in_flight_ < kFramesInFlight ? kExitOk : read_frame_reply();
}

// The reply to the oldest frame in flight.
int ReplayClient::read_frame_reply() {
  --in_flight_;
  auto line = conn_->read_line();
  if (!line) {
    clear_progress();
    return fail(err_, kExitUnreachable, line.error().message);
  }
  Json reply = Json::parse(*line, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    clear_progress();
    return fail(err_, kExitUnreachable,
                "memd's reply is not a JSON object: " + line->substr(0, 200));
  }
  if (!reply_ok(reply)) {
    clear_progress();
    if (json_) out_ << *line << '\n';
    return fail(err_, kExitRefused, error_message(reply));
  }
  if (auto it = reply.find("lines"); it != reply.end() && it->is_number_unsigned()) {
    lines_ = it->get<uint64_t>();
  }
  return kExitOk;
}

// The replies to every frame in flight.
int ReplayClient::drain() {
  while (in_flight_ > 0) {
    if (int rc = read_frame_reply(); rc != kExitOk) return rc;
  }
  return kExitOk;
}

// Ends the replay with `replay end` or `replay abort` and prints the report.
int ReplayClient::finish(std::string_view step, bool interrupted) {
  if (int rc = drain(); rc != kExitOk) return rc;
  clear_progress();
  Exchange x = ask(conn_, "replay " + std::string(step), err_);
  if (!x.ok()) return x.status;
  if (json_) out_ << x.line << '\n';
  if (!reply_ok(x.reply)) return fail(err_, kExitRefused, error_message(x.reply));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  auto report = x.reply.find("report");
  if (!json_) {
    uint64_t lines = lines_;
    if (report != x.reply.end() && report->is_object()) {
      lines = report->value("lines", lines);
    } else if (auto it = x.reply.find("lines"); it != x.reply.end() && it->is_number_unsigned()) {
      lines = it->get<uint64_t>();
    }
    out_ << (interrupted ? "replay of " + path_ + " interrupted after "
                         : "replayed " + path_ + ": ")
         << lines << " lines in " << fmt_seconds(seconds) << "\n";
    if (report != x.reply.end()) out_ << format_report(*report);
  }
  out_.flush();
  if (interrupted) {
    return fail(err_, kExitInterrupted,
                "interrupted: the replay stopped at a line boundary; what was applied stays");
  }
  return kExitOk;
}

void ReplayClient::progress(bool force) {
  if (!env_.stderr_is_tty) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < kProgressEvery) return;
  last_progress_ = now;
  const uint64_t done = static_cast<uint64_t>(std::max<z_off_t>(0, gzoffset(file_)));
  const double seconds = std::chrono::duration<double>(now - start_).count();
  err_ << '\r'
       << progress_line(base_name(path_), done, total_bytes_, lines_, seconds, env_.columns - 1)
       << "\033[K" << std::flush;
  progress_shown_ = true;
}

void ReplayClient::clear_progress() {
  if (!progress_shown_) return;
  err_ << "\r\033[K" << std::flush;
  progress_shown_ = false;
}

// --- snapshot ---------------------------------------------------------------------------------

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// A file replaced atomically: written to a temporary file beside it, which
// is fsync()ed and renamed over it on commit(), and removed otherwise. An
// interrupted memctl leaves the old file as it was.
class AtomicFile {
 public:
  static Result<AtomicFile> create(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return make_error("cannot write " + path + ": it is a directory");
    }
    std::string temp = path + ".XXXXXX";
    const int fd = mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0) return make_error("cannot write " + errno_text(path));
    const mode_t mask = umask(0);  // the mode a plain create would give
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    return AtomicFile(path, std::move(temp), fd);
  }
  AtomicFile(AtomicFile&& o) noexcept
      : path_(std::move(o.path_)), temp_(std::move(o.temp_)), fd_(std::exchange(o.fd_, -1)) {}
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_.empty()) unlink(temp_.c_str());
  }

  Status write(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return make_error("cannot write " + errno_text(path_));
      data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }

  Status commit() {
    if (fsync(fd_) != 0) return make_error("cannot write " + errno_text(path_));
    if (::close(std::exchange(fd_, -1)) != 0)
      return make_error("cannot write " + errno_text(path_));
    if (rename(temp_.c_str(), path_.c_str()) != 0) {
      return make_error("cannot write " + errno_text(path_));
    }
    temp_.clear();
    const size_t slash = path_.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);  // the rename, durable
      ::close(dfd);
    }
    return {};
  }

 private:
  AtomicFile(std::string path, std::string temp, int fd)
      : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}
  std::string path_;
  std::string temp_;  // "" once renamed
  int fd_ = -1;
};

// The whole of a file, or of stdin for "-".
Result<std::string> read_all(const std::string& path) {
  const int fd = path == "-" ? dup(STDIN_FILENO) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot read " + errno_text(path));
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = make_error("cannot read " + errno_text(path));
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

uint64_t reply_number(const Json& reply, const char* key) {
  auto it = reply.find(key);
  return it != reply.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// `snapshot save`: memd replies {"ok":true,"bytes":N,...} and then sends N raw
// bytes, written to `file` (stdout when there is none).
int snapshot_save(Connection* conn, const std::string& path, AtomicFile* file, bool json,
                  std::ostream& out, std::ostream& err) {
  Exchange x = ask(conn, "snapshot save", err);
  if (!x.ok()) return x.status;
  if (!reply_ok(x.reply)) {
    if (json) out << x.line << '\n';
    return fail(err, kExitRefused, error_message(x.reply));
  }
  auto bytes = x.reply.find("bytes");
  if (bytes == x.reply.end() || !bytes->is_number_unsigned()) {
    return fail(err, kExitUnreachable, "memd's reply has no byte count: " + x.line.substr(0, 200));
  }
  bool local = false;  // the file (or stdout) failed, not the connection
  Status received = conn->read_bytes(bytes->get<uint64_t>(), [&](std::string_view piece) -> Status {
    if (file) {
      Status st = file->write(piece);
      local = !st.ok();
      return st;
    }
    out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    local = !out.good();
    if (local) return make_error("cannot write the state to stdout");
    return {};
  });
  if (!received) return fail(err, local ? kExitUsage : kExitUnreachable, received.error().message);
  if (file) {
    if (Status st = file->commit(); !st) return fail(err, kExitUsage, st.error().message);
    if (json) {
      out << x.line << '\n';
    } else {
      out << "saved " << reply_number(x.reply, "allocations") << " allocations ("
          << bytes->get<uint64_t>() << " bytes) to " << path << "\n";
    }
  }
  out.flush();
  return kExitOk;
}

// `snapshot load bytes=N` and the N bytes of `state`; then memd's reply.
int snapshot_load(Connection* conn, const std::string& path, const std::string& state, bool json,
                  std::ostream& out, std::ostream& err) {
  Status sent = conn->send("snapshot load bytes=" + std::to_string(state.size()) + "\n");
  if (sent) sent = conn->send(state);
  // Read the reply even when sending failed: memd refuses a load it will not
  // take (too large, another load running) at once and closes the connection.
  auto line = conn->read_line();
  if (!line) return fail(err, kExitUnreachable, (sent ? line.error() : sent.error()).message);
  Json reply = Json::parse(*line, nullptr, /*allow_exceptions=*/false);
  if (reply.is_discarded() || !reply.is_object()) {
    return fail(err, kExitUnreachable,
                "memd's reply is not a JSON object: " + line->substr(0, 200));
  }
  if (json) out << *line << '\n';
  if (!reply_ok(reply)) {
    out.flush();
    return fail(err, kExitRefused, error_message(reply));
  }
  if (!json) {
    out << "loaded " << path << ": " << reply.value("machine", std::string("?")) << ", "
        << reply_number(reply, "allocations") << " allocations\n";
  }
  out.flush();
  return kExitOk;
}

}  // namespace

// --- the command line ----------------------------------------------------------------------------

Environment Environment::from_process() {
  Environment env;
  if (const char* s = std::getenv("MEMD_SOCKET"); s && *s) env.memd_socket = s;
  if (const char* s = std::getenv("XDG_RUNTIME_DIR"); s && *s) {
    env.xdg_runtime_dir = s;
    env.user_socket_exists = access((std::string(s) + "/memd/memd.sock").c_str(), F_OK) == 0;
  }
  env.root = geteuid() == 0;
  env.stderr_is_tty = isatty(STDERR_FILENO) == 1;
  winsize ws{};
  if (env.stderr_is_tty && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) {
    env.columns = ws.ws_col;
  }
  return env;
}

std::string default_socket_path(const Environment& env) {
  if (env.memd_socket) return *env.memd_socket;
  if (!env.root && env.xdg_runtime_dir && env.user_socket_exists) {
    return *env.xdg_runtime_dir + "/memd/memd.sock";
  }
  return "/run/memd/memd.sock";
}

int run(const std::vector<std::string>& args, const Environment& env, std::ostream& out,
        std::ostream& err) {
  CLI::App app{"memctl: drive memd, a machine's physical memory emulated as Linux 6.18 manages it",
               "memctl"};
  app.require_subcommand(1, 1);
  app.fallthrough();
  std::string socket;
  bool json = false;
  app.add_option("--socket", socket,
                 "memd's socket (default: $MEMD_SOCKET, else $XDG_RUNTIME_DIR/memd/memd.sock "
                 "for a user whose own memd runs, else /run/memd/memd.sock)");
  app.add_flag("--json", json, "print memd's JSON reply as it is");

  AllocRequest alloc;
  bool movable = false, reclaimable = false;
  std::string gfp;
  int node = 0, cpu = 0;
  uint64_t count = 1;
  CLI::App* alloc_cmd = app.add_subcommand("alloc", "allocate pages, as alloc_pages() would");
  alloc_cmd->add_option("--order", alloc.order, "allocate 2^ORDER pages (0-10, default 0)");
  auto* o_movable = alloc_cmd->add_flag("--movable", movable, "GFP_HIGHUSER_MOVABLE (user memory)");
  auto* o_reclaimable = alloc_cmd->add_flag("--reclaimable", reclaimable,
                                            "GFP_KERNEL|__GFP_RECLAIMABLE (like a slab cache)");
  auto* o_gfp = alloc_cmd->add_option(
      "--gfp", gfp,
      "GFP flags as the kernel prints them (GFP_KERNEL|__GFP_ZERO) or a hex mask "
      "(default GFP_KERNEL)");
  o_movable->excludes(o_reclaimable)->excludes(o_gfp);
  o_reclaimable->excludes(o_gfp);
  auto* o_node = alloc_cmd->add_option("--node", node, "preferred node (default: the CPU's node)");
  auto* o_alloc_cpu = alloc_cmd->add_option("--cpu", cpu, "the CPU that allocates (default 0)");
  auto* o_count = alloc_cmd->add_option("--count", count, "how many allocations (default 1)");

  FreeRequest free_req;
  int free_cpu = 0;
  CLI::App* free_cmd = app.add_subcommand("free", "free allocations by first pfn, by id, or all");
  free_cmd->add_option("PFN", free_req.pfns, "first pfn of an allocation (0x hex or decimal)");
  free_cmd->add_option("--id", free_req.ids, "allocation id (as alloc printed it)");
  free_cmd->add_flag("--all", free_req.all, "free every live allocation");
  auto* o_free_cpu =
      free_cmd->add_option("--cpu", free_cpu, "the CPU whose per-cpu lists take the pages");

  std::string file;
  CLI::App* show_cmd = app.add_subcommand("show", "print a file as the mount serves it");
  show_cmd
      ->add_option("FILE", file,
                   "buddyinfo, pagetypeinfo, zoneinfo, vmstat, meminfo, extfrag_index or "
                   "unusable_index")
      ->required()
      ->check(CLI::IsMember({"buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat", "meminfo",
                             "extfrag_index", "unusable_index"}));

  std::string setting;
  CLI::App* sysctl_cmd =
      app.add_subcommand("sysctl", "list, read or set the vm sysctls memd models");
  sysctl_cmd->add_option("SETTING", setting,
                         "NAME to read one, NAME=VALUE to set it (min_free_kbytes=65536)");

  std::string trace;
  CLI::App* replay_cmd =
      app.add_subcommand("replay", "replay a kernel trace (kmem:mm_page_alloc/mm_page_free)");
  replay_cmd->add_option("TRACE", trace, "the trace as ftrace writes it, .gz too; - for stdin")
      ->required();

  std::string snapshot_file;
  CLI::App* snapshot_cmd = app.add_subcommand(
      "snapshot", "save the machine's whole state to a file, or replace the machine with one");
  snapshot_cmd->require_subcommand(1, 1);
  CLI::App* snapshot_save_cmd = snapshot_cmd->add_subcommand(
      "save", "write the machine's state to FILE (replaced atomically)");
  snapshot_save_cmd->add_option("FILE", snapshot_file, "where to write it; - for stdout")
      ->required();
  CLI::App* snapshot_load_cmd = snapshot_cmd->add_subcommand(
      "load",
      "replace the machine with the state in FILE (saved by memctl snapshot save from a memd "
      "configured the same way); a refused file changes nothing");
  snapshot_load_cmd->add_option("FILE", snapshot_file, "the state file; - for stdin")->required();

  app.add_subcommand("check", "verify every invariant of the allocator");
  app.add_subcommand("reset", "reboot the emulated machine from its configuration");
  app.add_subcommand("status", "the machine's shape, zones and counters");

  std::vector<const char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& a : args)
    argv.push_back(a.c_str());
  if (argv.empty()) argv.push_back("memctl");
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    if (app.get_subcommands().empty()) {
      // The first word that is not an option (or --socket's value) names the command.
      for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--socket") {
          ++i;
        } else if (!args[i].empty() && args[i][0] != '-') {
          return fail(err, kExitUsage,
                      "unknown command '" + args[i] +
                          "' (commands: alloc, free, show, sysctl, replay, snapshot, check, "
                          "reset, status)");
        }
      }
    }
    std::string where = "memctl";
    for (const CLI::App* sub : app.get_subcommands()) {
      where += " " + sub->get_name();
      for (const CLI::App* inner : sub->get_subcommands())
        where += " " + inner->get_name();
    }
    return fail(err, kExitUsage, std::string(e.what()) + " (see " + where + " --help)");
  }

  // The command line to send.
  std::string command;
  Formatter format = format_text;
  const CLI::App* sub = app.get_subcommands().front();
  const std::string verb = sub->get_name();
  if (verb == "alloc") {
    if (movable) alloc.gfp = kGfpMovable;
    if (reclaimable) alloc.gfp = kGfpReclaimable;
    if (o_gfp->count()) alloc.gfp = gfp;
    if (o_node->count()) alloc.node = node;
    if (o_alloc_cpu->count()) alloc.cpu = cpu;
    if (o_count->count()) alloc.count = count;
    auto line = alloc_command(alloc);
    if (!line) return fail(err, kExitUsage, "alloc: " + line.error().message);
    command = *line;
    format = format_alloc;
  } else if (verb == "free") {
    if (o_free_cpu->count()) free_req.cpu = free_cpu;
    auto line = free_command(free_req);
    if (!line) return fail(err, kExitUsage, "free: " + line.error().message);
    command = *line;
    format = format_free;
  } else if (verb == "show") {
    command = "show " + file;
  } else if (verb == "sysctl") {
    auto line = sysctl_command(setting);
    if (!line) return fail(err, kExitUsage, "sysctl: " + line.error().message);
    command = *line;
    format = format_sysctl;
  } else if (verb == "check") {
    command = "check";
    format = format_check;
  } else if (verb == "reset") {
    command = "reset";
    format = format_reset;
  } else if (verb == "status") {
    command = "status";
    format = format_status;
  }

  if (verb == "replay" && trace != "-" && access(trace.c_str(), R_OK) != 0) {
    return fail(err, kExitUsage, "cannot read " + trace + ": " + std::strerror(errno));
  }
  // Local files first: a snapshot that cannot be written or read is a usage error.
  const bool saving = verb == "snapshot" && snapshot_save_cmd->parsed();
  const bool loading = verb == "snapshot" && snapshot_load_cmd->parsed();
  std::optional<AtomicFile> save_to;
  std::string state;
  if (saving && snapshot_file == "-" && json) {
    return fail(err, kExitUsage,
                "snapshot save -: the state goes to stdout, so --json cannot (see memctl snapshot "
                "save --help)");
  }
  if (saving && snapshot_file != "-") {
    auto file = AtomicFile::create(snapshot_file);
    if (!file) return fail(err, kExitUsage, file.error().message);
    save_to.emplace(std::move(*file));
  }
  if (loading) {
    auto data = read_all(snapshot_file);
    if (!data) return fail(err, kExitUsage, data.error().message);
    if (data->empty()) {
      return fail(err, kExitUsage, "cannot load " + snapshot_file + ": it is empty");
    }
    state = std::move(*data);
  }
  Environment effective = env;
  if (!socket.empty()) effective.memd_socket = socket;
  auto conn = Connection::open(default_socket_path(effective));
  if (!conn) return fail(err, kExitUnreachable, conn.error().message);

  if (verb == "replay") {
    return ReplayClient(&*conn, trace, json, env, out, err).run();
  }
  if (saving) {
    return snapshot_save(&*conn, snapshot_file, save_to ? &*save_to : nullptr, json, out, err);
  }
  if (loading) return snapshot_load(&*conn, snapshot_file, state, json, out, err);
  return simple_command(&*conn, command, json, format, out, err);
}

}  // namespace memd::client
