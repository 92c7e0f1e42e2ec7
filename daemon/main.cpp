// memd: the daemon. Set-up is a straight line of RAII objects; teardown is
// their destruction in reverse order (socket server, mount, socket, lock),
// with the machine saved to the state directory once nothing can change it.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <optional>

#include "daemon/batch.h"
#include "daemon/log.h"
#include "daemon/mount_backend.h"
#include "daemon/options.h"
#include "daemon/service.h"
#include "daemon/socket_server.h"
#include "daemon/state_file.h"
#include "daemon/system.h"
#include "fusefs/fuse_mount.h"

namespace memd {
namespace {

// Whether the mount answers, asked from a child process: memd stat()ing its
// own mount would wait on itself, and a SIGKILL arriving then leaves a process
// that can never exit (the kernel waits for a reply only memd could send).
// The child instead sees the connection end with memd and exits.
bool mount_answers(const std::string& path) {
  const pid_t pid = fork();
  if (pid == 0) {
    // Nothing of memd's may stay open here: holding /dev/fuse, this child
    // would keep the mount alive after a killed memd and wait on it forever,
    // and with it the lock and the listening socket (found by fault_test.sh).
    if (close_range(3, ~0U, 0) != 0) {
      for (long fd = 3, n = sysconf(_SC_OPEN_MAX); fd < n; ++fd) {
        close(static_cast<int>(fd));
      }
    }
    struct stat st {};
    _exit(stat(path.c_str(), &st) == 0 ? 0 : 1);
  }
  if (pid < 0) {
    return false;
  }
  // 10 s at most: a mount that takes longer does not answer.
  int status = 0;
  for (int i = 0; i < 1000; ++i) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (r < 0 && errno != EINTR) {
      return false;
    }
    usleep(10'000);
  }
  kill(pid, SIGKILL);  // a FUSE wait gives way to SIGKILL
  for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; ++i) {
    usleep(10'000);
  }
  return false;
}

// The state directory, locked; nullopt (and why, in the log) when memd keeps
// no state this time.
std::optional<StateDir> open_state_dir(const std::string& dir) {
  if (dir.empty()) {
    log::info("no state directory: the machine starts fresh and is not saved");
    return std::nullopt;
  }
  auto opened = StateDir::open(dir);
  if (auto* refusal = std::get_if<StateDir::Refusal>(&opened)) {
    log::warning("{}; this memd neither restores nor saves the machine{}", refusal->message,
                 refusal->kind == StateDir::OpenError::kBusy ? " (give it --state-dir DIR)" : "");
    return std::nullopt;
  }
  return std::move(std::get<StateDir>(opened));
}

// The machine memd starts with: the one saved in the state directory if it
// fits this configuration, else a fresh boot. A state file that cannot be
// used is moved aside with a warning that says why: never half loaded, and
// never overwritten at the next stop. `restored` says what came back.
Result<std::unique_ptr<Service>> start_machine(const Config& config, const StateDir* state,
                                               std::string* restored) {
  if (state) {
    auto data = state->read();
    std::string why;
    if (!data) {
      why = data.error().message;
    } else if (!*data) {
      log::info("{}: no saved machine yet; starting a fresh one", state->path());
    } else {
      auto service = Service::restore(config.machine, **data);
      if (service) {
        *restored = fmt::format("restored {} allocations from {}", (*service)->live_allocations(),
                                state->path());
        return service;
      }
      why = fmt::format("{}: {}", state->path(), service.error().message);
    }
    if (!why.empty()) {
      auto aside = state->reject();
      log::warning(
          "{}; {}; starting a fresh machine", why,
          aside ? "moved it to " + *aside : "cannot move it aside: " + aside.error().message);
    }
  }
  auto service = Service::boot(config.machine);
  if (!service) {
    return make_error(
        fmt::format("{}: cannot boot the machine: {}", config.source, service.error().message));
  }
  return service;
}

// Writes the machine to the state directory; false (and why, in the log) if
// it could not, the previous state file then being left as it was.
bool save_machine(Service* service, const StateDir& state) {
  notify::status("Saving the machine to " + state.path());
  const std::string bytes = service->save_state();
  if (auto written = state.write(bytes); !written) {
    const bool previous = access(state.path().c_str(), F_OK) == 0;
    log::err("cannot save the machine's state: {}; {}", written.error().message,
             previous ? "the state saved before stays in " + state.path() : "no state is saved");
    return false;
  }
  log::info("saved the machine ({} allocations, {} bytes) to {}", service->live_allocations(),
            bytes.size(), state.path());
  return true;
}

// Runs `f` when it leaves scope: a step of the teardown, in its place among the guards.
template <typename F>
class OnExit {
 public:
  explicit OnExit(F f) : f_(std::move(f)) {}
  ~OnExit() { f_(); }
  OnExit(const OnExit&) = delete;
  OnExit& operator=(const OnExit&) = delete;

 private:
  F f_;
};

// Tells whoever started memd (the terminal it detached from, or systemd) how it went.
struct Startup {
  Detach detach;

  int fail(const std::string& why) {
    log::err("{}", why);
    detach.failed(why);
    return 1;
  }
};

// Waits for SIGTERM or SIGINT (a clean stop) or SIGUSR2 (the mount went
// away), feeding systemd's watchdog meanwhile; returns the signal.
int wait_for_stop(const Signals& signals, Service* service) {
  const auto watchdog = notify::watchdog_interval();
  int sig;
  while ((sig = signals.wait(watchdog)) == 0 || sig == SIGHUP) {
    if (sig == SIGHUP) {
      log::info("SIGHUP ignored: restart memd to read its configuration again");
    }
    if (sig == 0) {
      service->stats();  // the machine's lock can be taken: memd is not stuck
      notify::watchdog();
    }
  }
  return sig;
}

// The front ends over `service`, from the mount to the socket server, until a
// signal stops memd; nullopt (and why, told to `startup`) if they could not
// start. Teardown is the guards' destruction in reverse order: the replay in
// progress stopped, the socket server, the mount. So once this returns,
// nothing can change the machine any more.
std::optional<int> serve(Service* service, ListenSocket* listener, std::optional<gid_t> group,
                         const DaemonSettings& d, Startup* startup, const Signals& signals,
                         const std::string& status) {
  MountBackend backend(service);
  std::string why;
  auto mount = fusefs::FuseMount::mount(&backend, mount_options(d), &why);
  if (!mount) {
    startup->fail(why);
    return std::nullopt;
  }
  // Torn down before the mount: no command wakes trace_pipe readers of a mount that is gone.
  const OnExit unhook([service] { service->set_trace_notifier(nullptr); });
  mount->start([] { kill(getpid(), SIGUSR2); });
  if (!mount_answers(d.mount + "/control")) {
    startup->fail(d.mount + ": the mount does not answer");
    return std::nullopt;
  }
  SocketServer server(
      service, listener->release_fd(),
      SocketServerOptions{d.socket_threads > 0 ? d.socket_threads : default_socket_threads(),
                          d.max_clients, group, d.socket_group});
  server.start();
  const OnExit stop_service([service] { service->stop(); });  // a replay ends at its next batch

  log::info("{}{}", status, listener->activated() ? " (socket activation)" : "");
  notify::ready(status);
  startup->detach.ready();
  const int sig = wait_for_stop(signals, service);
  if (sig == SIGTERM || sig == SIGINT) {
    log::info("{}: unmounting {} and exiting", strsignal(sig), d.mount);
  } else {
    log::err("the FUSE mount at {} went away (unmounted from outside?); exiting", d.mount);
  }
  notify::stopping();
  return sig;
}

// The journal when stderr is its stream (a service); else stderr, or syslog
// once detached, said on stderr before detaching if there is no syslog to hear.
void choose_log(bool detach) {
  if (log::stderr_is_journal()) {
    log::use_journal();  // structured fields: the client's uid and pid, a message id per event
  } else if (detach && access("/dev/log", F_OK) != 0) {
    log::warning(
        "no syslog socket (/dev/log): once detached, memd's log is lost; run it with "
        "--foreground to keep its log on stderr");
  }
}

// memd as a daemon: a straight line of set-up, each step an RAII guard (the
// instance lock, the state directory, the machine, the listening socket, then
// serve()'s front ends), torn down in reverse order; the machine is saved in
// between, once no front end is left to change it.
int run_daemon(const Config& config, const Options& options) {
  const DaemonSettings& d = config.daemon;
  const bool detach = !options.foreground && !notify::under_systemd();
  choose_log(detach);
  Startup startup{detach ? Detach::start() : Detach()};
  Signals signals;  // before any thread: only signals.wait() receives them
  raise_fd_limit();

  auto activated = ListenSocket::from_systemd();
  if (!activated) {
    return startup.fail(activated.error().message);
  }
  const std::string socket_path = *activated ? (*activated)->path() : d.socket;
  auto lock = InstanceLock::acquire(socket_path);
  if (!lock) {
    return startup.fail(lock.error().message);
  }
  // After the instance lock: a memd refused there never touches the state.
  const std::optional<StateDir> state = open_state_dir(d.state_dir);
  std::string restored;
  auto service = start_machine(config, state ? &*state : nullptr, &restored);
  if (!service) {
    return startup.fail(service.error().message);
  }
  for (const std::string& w : (*service)->boot_warnings()) {
    log::warning("{}", w);
  }
  const std::optional<gid_t> group = find_group(d.socket_group);
  if (!d.socket_group.empty() && !group) {
    log::info("socket group '{}' does not exist: only root may use the socket", d.socket_group);
  }
  auto listener = *activated ? std::move(**activated) : ListenSocket::create(socket_path, group);
  if (!listener) {
    return startup.fail(listener.error().message);
  }

  const std::string status =
      fmt::format("Emulating {}; files at {}, socket {}{}", (*service)->shape(), d.mount,
                  socket_path, restored.empty() ? "" : "; " + restored);
  const std::optional<int> sig =
      serve(service->get(), &*listener, group, d, &startup, signals, status);
  if (!sig) {
    return 1;
  }
  // Saved also when the mount was taken away: the machine itself is whole.
  const bool saved = !state || save_machine(service->get(), *state);
  return (*sig == SIGTERM || *sig == SIGINT) && saved ? 0 : 1;
}

int run(const Options& options) {
  log::set_max_level(options.verbose ? log::Level::kDebug : log::Level::kInfo);
  auto config = resolve_config(options);
  if (!config) {
    log::err("{}", config.error().message);
    return 1;
  }
  if (options.print || options.replay) return run_batch(*config, options);
  return run_daemon(*config, options);
}

}  // namespace
}  // namespace memd

int main(int argc, char** argv) {
  try {
    auto parsed = memd::parse_options(argc, argv);
    if (const int* rc = std::get_if<int>(&parsed)) {
      return *rc;
    }
    return memd::run(std::get<memd::Options>(parsed));
  } catch (const std::exception& e) {
    memd::log::err("memd: {}", e.what());
    return 1;
  }
}
