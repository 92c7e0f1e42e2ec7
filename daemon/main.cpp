// memd: the daemon. Set-up is a straight line of RAII objects; teardown is
// their destruction in reverse order (socket server, mount, socket, lock).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "daemon/log.h"
#include "daemon/options.h"
#include "daemon/service.h"
#include "daemon/socket_server.h"
#include "daemon/system.h"
#include "fusefs/fuse_mount.h"

namespace memd {
namespace {

// --print FILE: the file as the mount would serve it, without mounting anything.
int print_file(Service* service, const std::string& name) {
  const std::string text = service->render(*proc_file_from_name(name));
  return fwrite(text.data(), 1, text.size(), stdout) == text.size() && fflush(stdout) == 0 ? 0 : 1;
}

int run(const Options& options) {
  log::set_max_level(options.verbose ? log::Level::kDebug : log::Level::kInfo);
  auto config = resolve_config(options);
  if (!config) {
    log::err("{}", config.error().message);
    return 1;
  }
  auto service = Service::boot(config->machine);
  if (!service) {
    log::err("{}: cannot boot the machine: {}", config->source, service.error().message);
    return 1;
  }
  for (const std::string& w : (*service)->boot_warnings()) {
    log::warning("{}", w);
  }
  if (options.print) return print_file(service->get(), *options.print);

  const DaemonSettings& d = config->daemon;
  const std::string shape = (*service)->shape();
  Detach detach = options.foreground || notify::under_systemd() ? Detach() : Detach::start();
  auto fail = [&detach](const std::string& why) {
    log::err("{}", why);
    detach.failed(why);
    return 1;
  };
  Signals signals;  // before any thread: only signals.wait() receives them
  raise_fd_limit();

  auto activated = ListenSocket::from_systemd();
  if (!activated) return fail(activated.error().message);
  const std::string socket_path = *activated ? (*activated)->path() : d.socket;
  auto lock = InstanceLock::acquire(socket_path);
  if (!lock) return fail(lock.error().message);
  const std::optional<gid_t> group = find_group(d.socket_group);
  if (!d.socket_group.empty() && !group) {
    log::info("socket group '{}' does not exist: only root may use the socket", d.socket_group);
  }
  auto listener = *activated ? std::move(**activated) : ListenSocket::create(socket_path, group);
  if (!listener) return fail(listener.error().message);

  auto mount =
      FuseMount::mount(service->get(), MountOptions{d.mount, d.allow_other, d.fuse_threads});
  if (!mount) return fail(mount.error().message);
  (*mount)->start([] { kill(getpid(), SIGUSR2); });
  struct stat st {};
  if (stat((d.mount + "/control").c_str(), &st) != 0) {
    return fail(d.mount + ": the mount does not answer");
  }

  SocketServer server(service->get(), listener->release_fd(),
                      SocketServerOptions{d.socket_threads, d.max_clients, group, d.socket_group});
  server.start();

  const std::string status =
      fmt::format("Emulating {}; files at {}, socket {}", shape, d.mount, socket_path);
  log::info("{}{}", status, listener->activated() ? " (socket activation)" : "");
  notify::ready(status);
  detach.ready();

  const auto watchdog = notify::watchdog_interval();
  int sig;
  while ((sig = signals.wait(watchdog)) == 0 || sig == SIGHUP) {
    if (sig == SIGHUP) log::info("SIGHUP ignored: restart memd to read its configuration again");
    if (sig == 0) {
      (*service)->stats();  // the machine's lock can be taken: memd is not stuck
      notify::watchdog();
    }
  }
  const bool clean = sig == SIGTERM || sig == SIGINT;
  if (clean) {
    log::info("{}: unmounting {} and exiting", strsignal(sig), d.mount);
  } else {
    log::err("the FUSE mount at {} went away (unmounted from outside?); exiting", d.mount);
  }
  notify::stopping();
  (*service)->stop();  // a replay in progress ends at its next batch
  return clean ? 0 : 1;
}

}  // namespace
}  // namespace memd

int main(int argc, char** argv) {
  try {
    auto parsed = memd::parse_options(argc, argv);
    if (const int* rc = std::get_if<int>(&parsed)) return *rc;
    return memd::run(std::get<memd::Options>(parsed));
  } catch (const std::exception& e) {
    memd::log::err("memd: {}", e.what());
    return 1;
  }
}
