#include "daemon/options.h"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "core/layout.h"
#include "daemon/command.h"
#include "protocol/command.h"
#include "protocol/files.h"

namespace memd {
namespace {

std::string absolute(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

}  // namespace

std::vector<std::string> print_list(const std::string& print) {
  std::vector<std::string> names;
  size_t start = 0;
  for (;;) {
    const size_t comma = print.find(',', start);
    names.push_back(print.substr(start, comma - start));
    if (comma == std::string::npos) return names;
    start = comma + 1;
  }
}

std::variant<Options, int> parse_options(int argc, const char* const* argv) {
  Options o;
  CLI::App app{
      "memd: emulates a machine's physical memory the way Linux 6.18 manages it, and shows it\n"
      "through the kernel's files (buddyinfo, pagetypeinfo, zoneinfo, ...) on a FUSE mount,\n"
      "with a control file and a Unix socket that take commands (see `help` there).",
      "memd"};
  app.set_version_flag("--version", std::string(MEMD_VERSION));
  app.add_option(
         "-c,--config", o.config_path,
         fmt::format("configuration file (TOML; default {} if it exists)", kDefaultConfigPath))
      ->check(CLI::ExistingFile);
  app.add_flag("-f,--foreground", o.foreground, "stay in the foreground and log to stderr");
  app.add_flag("-v,--verbose", o.verbose, "log debug messages too");
  app.add_option("--print", o.print,
                 "boot the machine (and replay --replay's trace), print these files to stdout "
                 "and exit without mounting: FILE[,FILE...] (" +
                     protocol::file_names() +
                     "); several are headed '==> NAME <==' as head(1) does")
      ->check([](const std::string& list) {
        for (const std::string& name : print_list(list)) {
          if (!proc_file_named(name)) return "unknown file '" + name + "'";
        }
        return std::string();
      });
  auto* replay = app.add_option("--replay", o.replay,
                                "batch mode: boot the machine, replay this trace (any form: text, "
                                "trace.dat; gzip, zstd, xz), "
                                "print its report to stderr (and the --print files) and exit")
                     ->check(CLI::ExistingFile);
  auto* history =
      app.add_option("--history", o.history,
                     "with --replay: write the replay's history to this file, as memctl replay "
                     "--history does")
          ->needs(replay);
  app.add_option("--every", o.every,
                 "with --history: a row every N trace events (default " +
                     std::to_string(protocol::kDefaultHistoryEvery) + ")")
      ->check(CLI::Range(uint64_t{1}, protocol::kMaxHistoryEvery))
      ->needs(history);
  auto* daemon = app.add_option_group("daemon", "override [daemon] of the configuration");
  daemon->add_option("-m,--mount", o.mount, "where to mount the files");
  daemon->add_option("-s,--socket", o.socket, "the Unix socket to listen on");
  daemon->add_option("--socket-group", o.socket_group,
                     "group allowed on the socket (\"\" for none)");
  // Two callbacks, not one std::optional<bool> flag: CLI11 2.1 sets such an
  // optional to false when neither flag is given, which hid the config's value.
  daemon->add_flag_callback(
      "--allow-other", [&o] { o.allow_other = true; },
      "let other users read the mount (FUSE allow_other)");
  daemon->add_flag_callback(
      "--no-allow-other", [&o] { o.allow_other = false; }, "only memd's user reads the mount");
  daemon->add_flag("--nonempty", o.nonempty,
                   "mount over a directory that holds files (FUSE nonempty)");
  daemon->add_option("--fuse-threads", o.fuse_threads, "FUSE worker threads at most")
      ->check(CLI::Range(1, 64));
  daemon->add_option("--socket-threads", o.socket_threads, "threads serving socket clients")
      ->check(CLI::Range(1, 64));
  auto* state_dir =
      daemon->add_option("--state-dir", o.state_dir,
                         "where the machine is saved at a clean stop and restored from at start");
  daemon
      ->add_flag("--no-state", o.no_state,
                 "neither restore a saved machine nor save it: every start is a fresh machine")
      ->excludes(state_dir);
  auto* machine = app.add_option_group("machine", "override [machine] of the configuration");
  machine->add_option("--arch", o.arch, "x86_64 or i386")->check(CLI::IsMember({"x86_64", "i386"}));
  machine->add_option("--size", o.size, "RAM, laid out as qemu's pc machine (\"4G\"); drops e820");
  machine->add_option("--cpus", o.cpus, "number of CPUs")->check(CLI::Range(1, 8192));
  machine->add_option("--cmdline", o.cmdline, "the kernel command line (kernelcore=1G ...)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return o;
}

Result<Config> resolve_config(const Options& o) {
  Result<Config> loaded = default_config();
  if (o.config_path) {
    loaded = load_config_file(*o.config_path);
  } else if (access(std::string(kDefaultConfigPath).c_str(), F_OK) == 0) {
    loaded = load_config_file(std::string(kDefaultConfigPath));
  }
  if (!loaded) return loaded;
  Config& c = *loaded;
  if (o.mount) c.daemon.mount = absolute(*o.mount);
  if (o.socket) c.daemon.socket = absolute(*o.socket);
  if (o.socket_group) c.daemon.socket_group = *o.socket_group;
  if (o.allow_other) c.daemon.allow_other = *o.allow_other;
  if (o.nonempty) c.daemon.nonempty = true;
  if (o.fuse_threads) c.daemon.fuse_threads = *o.fuse_threads;
  if (o.socket_threads) c.daemon.socket_threads = *o.socket_threads;
  if (o.state_dir) c.daemon.state_dir = o.state_dir->empty() ? "" : absolute(*o.state_dir);
  if (o.no_state) c.daemon.state_dir.clear();
  if (o.arch) c.machine.arch = *o.arch == "i386" ? Arch::kI386 : Arch::kX86_64;
  if (o.size) {
    auto bytes = parse_memsize(*o.size);
    if (!bytes || *bytes == 0) {
      return make_error(fmt::format("--size: '{}' is not a size (like 4G or 0x80000000)", *o.size));
    }
    if (*bytes < kSmallestMachineSize) {
      return make_error(fmt::format("--size {}: {}", *o.size, smallest_machine_error()));
    }
    c.machine.size = *bytes;
    c.machine.e820.reset();
  }
  if (o.cpus) c.machine.cpus = *o.cpus;
  if (o.cmdline) {
    if (auto parsed = parse_kernel_cmdline(*o.cmdline); !parsed) {
      return make_error("--cmdline: " + parsed.error().message);
    }
    c.machine.cmdline = *o.cmdline;
  }
  return loaded;
}

}  // namespace memd
