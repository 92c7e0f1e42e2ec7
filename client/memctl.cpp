// memctl's command line: one CLI11 subcommand per entry of kSubcommands, each
// with the options it adds and the function that runs it.
#include "client/memctl.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <ostream>
#include <utility>

#include "client/connection.h"
#include "client/exchange.h"
#include "client/free.h"
#include "client/output.h"
#include "client/plot.h"
#include "client/replay.h"
#include "client/request.h"
#include "client/snapshot.h"
#include "protocol/command.h"
#include "protocol/files.h"
#include "protocol/reply.h"

namespace memd::client {
namespace {

// What the command line said: the global options and every subcommand's.
struct Invocation {
  std::string socket;
  bool json = false;
  // alloc
  AllocRequest alloc;
  bool movable = false, reclaimable = false;
  std::string gfp;
  int node = 0, cpu = 0;
  uint64_t count = 1;
  CLI::Option *o_gfp = nullptr, *o_node = nullptr, *o_cpu = nullptr, *o_count = nullptr;
  // free
  FreeRequest free;
  int free_cpu = 0;
  CLI::Option* o_free_cpu = nullptr;
  // allocations
  protocol::AllocationsCommand listing;
  int listing_node = 0;
  unsigned listing_order = 0;
  uint64_t listing_after = 0, listing_limit = 0;
  CLI::Option *o_listing_node = nullptr, *o_listing_order = nullptr, *o_listing_after = nullptr,
              *o_listing_limit = nullptr;
  // offline, online
  uint64_t block = 0;
  bool online_movable = false, online_kernel = false;
  // show, sysctl, replay, snapshot
  std::string file;
  std::string setting;
  std::string trace;
  std::string history;       // replay --history FILE
  std::string replay_plot;   // replay --plot OUT.svg
  bool every_given = false;  // replay --every N (with --history or --plot only)
  uint64_t every = protocol::kDefaultHistoryEvery;
  bool continue_replay = false;
  std::vector<std::string> trace_words;  // memctl trace's arguments
  std::string snapshot_file;
  CLI::App* snapshot_save = nullptr;
  CLI::App* snapshot_load = nullptr;
  // plot
  std::vector<std::string> plot_files;
  std::vector<std::string> plot_labels;
  std::string plot_out;
};

// Where memctl's output goes and what it runs in.
struct Io {
  const Environment& env;
  std::ostream& out;
  std::ostream& err;
};

Result<Connection> connect(const Invocation& in, const Environment& env) {
  Environment effective = env;
  if (!in.socket.empty()) effective.memd_socket = in.socket;
  return Connection::open(default_socket_path(effective));
}

using Formatter = std::string (*)(const Json&);

std::string format_text(const Json& reply) {
  auto it = reply.find(protocol::field::kText);
  return it != reply.end() && it->is_string() ? it->get<std::string>() : reply.dump() + "\n";
}

// Prints a reply: as JSON with --json, else through `format`; a refusal
// prints what the reply still holds (the allocations made before one failed,
// the problems check found, what the parts of a long `free` freed before one
// was refused) and the error line, and returns `refused` (refusal_status()).
int print_reply(const Invocation& in, const Exchange& x, Formatter format, int refused,
                const Io& io) {
  const bool ok = reply_ok(x.reply);
  if (in.json) {
    io.out << x.line << '\n';
  } else if (ok || x.reply.contains(protocol::field::kAllocations) ||
             x.reply.contains(protocol::field::kProblems) ||
             x.reply.contains(protocol::field::kFreed)) {
    io.out << format(x.reply);
  }
  io.out.flush();
  if (!ok) return fail(io.err, refused, error_message(x.reply));
  return kExitOk;
}

// A command line memd takes: one line of at most kMaxCommandBytes, newline
// included (a longer one is a usage error, as memd would find it).
Status fits_a_line(const std::string& line) {
  if (line.size() < protocol::kMaxCommandBytes) return {};
  return make_error(fmt::format(
      "the command is {} bytes long; memd takes lines of at most {} bytes, newline included",
      line.size() + 1, protocol::kMaxCommandBytes));
}

// Sends one command and prints its reply (print_reply).
int simple_command(const Invocation& in, const Result<std::string>& command, std::string_view verb,
                   Formatter format, const Io& io) {
  if (!command) return fail(io.err, kExitUsage, std::string(verb) + ": " + command.error().message);
  if (Status st = fits_a_line(*command); !st) {
    return fail(io.err, kExitUsage, std::string(verb) + ": " + st.error().message);
  }
  auto conn = connect(in, io.env);
  if (!conn) return fail(io.err, kExitUnreachable, conn.error().message);
  Exchange x = ask(&*conn, *command, io.err);
  if (!x.ok()) return x.status;
  return print_reply(in, x, format, refusal_status(x.reply), io);
}

// --- the subcommands -------------------------------------------------------------------------

void add_alloc(CLI::App* cmd, Invocation* in) {
  cmd->add_option("--order", in->alloc.order, "allocate 2^ORDER pages (0-10, default 0)");
  auto* movable = cmd->add_flag("--movable", in->movable, "GFP_HIGHUSER_MOVABLE (user memory)");
  auto* reclaimable = cmd->add_flag("--reclaimable", in->reclaimable,
                                    "GFP_KERNEL|__GFP_RECLAIMABLE (like a slab cache)");
  in->o_gfp =
      cmd->add_option("--gfp", in->gfp,
                      "GFP flags as the kernel prints them (GFP_KERNEL|__GFP_ZERO) or a hex mask "
                      "(default GFP_KERNEL)");
  movable->excludes(reclaimable)->excludes(in->o_gfp);
  reclaimable->excludes(in->o_gfp);
  in->o_node = cmd->add_option("--node", in->node, "preferred node (default: the CPU's node)");
  in->o_cpu = cmd->add_option("--cpu", in->cpu, "the CPU that allocates (default 0)");
  in->o_count = cmd->add_option("--count", in->count, "how many allocations (default 1)");
}

int run_alloc(Invocation& in, const Io& io) {
  if (in.movable) in.alloc.gfp = kGfpMovable;
  if (in.reclaimable) in.alloc.gfp = kGfpReclaimable;
  if (in.o_gfp->count()) in.alloc.gfp = in.gfp;
  if (in.o_node->count()) in.alloc.node = in.node;
  if (in.o_cpu->count()) in.alloc.cpu = in.cpu;
  if (in.o_count->count()) in.alloc.count = in.count;
  return simple_command(in, alloc_command(in.alloc), "alloc", format_alloc, io);
}

void add_free(CLI::App* cmd, Invocation* in) {
  cmd->add_option("PFN", in->free.pfns, "first pfn of an allocation (0x hex or decimal)");
  cmd->add_option("--id", in->free.ids, "allocation id (as alloc printed it)");
  cmd->add_flag("--all", in->free.all, "free every live allocation");
  in->o_free_cpu =
      cmd->add_option("--cpu", in->free_cpu, "the CPU whose per-cpu lists take the pages");
}

// One command, or several when the targets make a line longer than memd
// takes (free_commands), their replies combined as one (free_in_parts).
int run_free(Invocation& in, const Io& io) {
  if (in.o_free_cpu->count()) in.free.cpu = in.free_cpu;
  auto parts = free_commands(in.free);
  if (!parts) return fail(io.err, kExitUsage, "free: " + parts.error().message);
  if (parts->size() == 1) return simple_command(in, parts->front().line, "free", format_free, io);
  auto conn = connect(in, io.env);
  if (!conn) return fail(io.err, kExitUnreachable, conn.error().message);
  const Exchange x = free_in_parts(&*conn, *parts, parts->back().first + parts->back().count);
  return print_reply(in, x, format_free, x.status, io);
}

void add_allocations(CLI::App* cmd, Invocation* in) {
  cmd->add_option("--zone", in->listing.zone, "only this zone's (DMA, DMA32, Normal, Movable)");
  in->o_listing_node = cmd->add_option("--node", in->listing_node, "only this node's")
                           ->check(CLI::Range(0, protocol::kMaxNode));
  cmd->add_option("--migratetype", in->listing.migratetype,
                  "only those of this migrate type (Unmovable, Movable, Reclaimable)");
  in->o_listing_order = cmd->add_option("--order", in->listing_order, "only those of this order")
                            ->check(CLI::Range(0U, protocol::kMaxOrder));
  in->o_listing_after =
      cmd->add_option("--after", in->listing_after, "only ids above this one (the next page)");
  in->o_listing_limit =
      cmd->add_option("--limit", in->listing_limit,
                      "list at most N (default " +
                          std::to_string(protocol::kDefaultAllocationsLimit) + ", at most " +
                          std::to_string(protocol::kMaxAllocationsLimit) + ")")
          ->check(CLI::Range(uint64_t{1}, protocol::kMaxAllocationsLimit));
}

int run_allocations(Invocation& in, const Io& io) {
  if (in.o_listing_node->count()) in.listing.node = in.listing_node;
  if (in.o_listing_order->count()) in.listing.order = in.listing_order;
  if (in.o_listing_after->count()) in.listing.after = in.listing_after;
  if (in.o_listing_limit->count()) in.listing.limit = in.listing_limit;
  return simple_command(in, protocol::format_command(in.listing), "allocations",
                        format_allocation_list, io);
}

void add_offline(CLI::App* cmd, Invocation* in) {
  cmd->add_option("BLOCK", in->block, "the memory block (memory/memoryN's N)")
      ->required()
      ->check(CLI::Range(uint64_t{0}, protocol::kMaxMemoryBlock));
}

int run_offline(Invocation& in, const Io& io) {
  protocol::MemoryCommand c;
  c.op = protocol::MemoryCommand::Op::kOffline;
  c.block = in.block;
  return simple_command(in, protocol::format_command(c), "offline", format_memory, io);
}

void add_online(CLI::App* cmd, Invocation* in) {
  add_offline(cmd, in);
  auto* movable =
      cmd->add_flag("--movable", in->online_movable, "into ZONE_MOVABLE (online_movable)");
  auto* kernel = cmd->add_flag("--kernel", in->online_kernel,
                               "into the kernel zone, Normal or DMA32 (online_kernel)");
  movable->excludes(kernel);
}

int run_online(Invocation& in, const Io& io) {
  protocol::MemoryCommand c;
  c.op = protocol::MemoryCommand::Op::kOnline;
  c.block = in.block;
  if (in.online_movable) c.zone = protocol::MemoryCommand::Zone::kMovable;
  if (in.online_kernel) c.zone = protocol::MemoryCommand::Zone::kKernel;
  return simple_command(in, protocol::format_command(c), "online", format_memory, io);
}

void add_show(CLI::App* cmd, Invocation* in) {
  const CLI::Validator memory_file(
      [](const std::string& name) {
        return protocol::parse_memory_file_path(name) ? std::string() : "not a memory/ file";
      },
      "", "memory/");
  cmd->add_option("FILE", in->file,
                  protocol::file_names(", ") + ", memory/block_size_bytes or memory/memoryN/" +
                      "{phys_index,state,phys_device,removable,valid_zones,online}")
      ->required()
      ->check(CLI::IsMember(std::vector<std::string>(protocol::kFileNames.begin(),
                                                     protocol::kFileNames.end())) |
              memory_file);
}

int run_show(Invocation& in, const Io& io) {
  return simple_command(in, protocol::format_command(protocol::ShowCommand{in.file}), "show",
                        format_text, io);
}

void add_sysctl(CLI::App* cmd, Invocation* in) {
  cmd->add_option("SETTING", in->setting,
                  "NAME to read one, NAME=VALUE to set it (min_free_kbytes=65536)");
}

int run_sysctl(Invocation& in, const Io& io) {
  return simple_command(in, sysctl_command(in.setting), "sysctl", format_sysctl, io);
}

void add_replay(CLI::App* cmd, Invocation* in) {
  cmd->add_option("TRACE", in->trace,
                  "the trace: ftrace text, trace-cmd report, perf script or trace.dat, plain, "
                  "gzip, zstd or xz; - for stdin")
      ->required();
  cmd->add_option(
      "--history", in->history,
      "write the replay's history to FILE as CSV: a row per zone (free blocks per order, blocks "
      "per migrate type, free pages, unusable index at orders 9 and 10, extfrag claims and "
      "steals, failed allocations) at event 0, every N events and at the end");
  cmd->add_option("--every", in->every,
                  "with --history: a row every N trace events (default " +
                      std::to_string(protocol::kDefaultHistoryEvery) + ")")
      ->check(CLI::Range(uint64_t{1}, protocol::kMaxHistoryEvery))
      ->each([in](const std::string&) { in->every_given = true; });
  cmd->add_option("--plot", in->replay_plot,
                  "after the replay, draw its history as `memctl plot` does into this SVG (with "
                  "--history, that file's; without, a temporary one)");
  cmd->add_flag("--continue", in->continue_replay,
                "go on from the previous replay: its pfn mapping, event count and report (a trace "
                "replayed in parts, cut at line boundaries, ends where the whole would)");
}

// A history file that lives as long as it: `memctl replay --plot` without
// --history records the history here, draws it and removes it.
class TemporaryHistory {
 public:
  TemporaryHistory() {
    const char* dir = std::getenv("TMPDIR");
    std::string templ =
        std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/memctl-history.XXXXXX";
    const int fd = mkstemp(templ.data());
    if (fd < 0) return;
    close(fd);
    path_ = templ;
  }
  ~TemporaryHistory() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  TemporaryHistory(const TemporaryHistory&) = delete;
  TemporaryHistory& operator=(const TemporaryHistory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

int run_replay(Invocation& in, const Io& io) {
  if (in.trace != "-" && access(in.trace.c_str(), R_OK) != 0) {
    return fail(io.err, kExitUsage, "cannot read " + in.trace + ": " + std::strerror(errno));
  }
  if (in.every_given && in.history.empty() && in.replay_plot.empty()) {
    return fail(io.err, kExitUsage, "replay: --every requires --history or --plot");
  }
  std::optional<TemporaryHistory> temporary;
  std::string history = in.history;
  if (!in.replay_plot.empty() && history.empty()) {
    temporary.emplace();
    if (temporary->path().empty()) {
      return fail(io.err, kExitUsage,
                  std::string("replay --plot: cannot create a temporary history file: ") +
                      std::strerror(errno));
    }
    history = temporary->path();
  }
  auto conn = connect(in, io.env);
  if (!conn) return fail(io.err, kExitUnreachable, conn.error().message);
  const ReplayOptions options{in.trace, in.json, history, in.every, in.continue_replay};
  const int rc = replay_trace(&*conn, options, io.env, io.out, io.err);
  if (rc != kExitOk || in.replay_plot.empty()) return rc;
  // The column is titled by the trace's name, not the (maybe temporary) CSV's.
  const size_t slash = in.trace.find_last_of('/');
  const std::string label = slash == std::string::npos ? in.trace : in.trace.substr(slash + 1);
  return plot_histories({history}, {label}, in.replay_plot, io.err);
}

void add_snapshot(CLI::App* cmd, Invocation* in) {
  cmd->require_subcommand(1, 1);
  in->snapshot_save =
      cmd->add_subcommand("save", "write the machine's state to FILE (replaced atomically)");
  in->snapshot_save->add_option("FILE", in->snapshot_file, "where to write it; - for stdout")
      ->required();
  in->snapshot_load = cmd->add_subcommand(
      "load",
      "replace the machine with the state in FILE (saved by memctl snapshot save from a memd "
      "configured the same way); a refused file changes nothing");
  in->snapshot_load->add_option("FILE", in->snapshot_file, "the state file; - for stdin")
      ->required();
}

// Local files first: a snapshot that cannot be written or read is a usage error.
int run_snapshot_save(Invocation& in, const Io& io) {
  if (in.snapshot_file == "-" && in.json) {
    return fail(io.err, kExitUsage,
                "snapshot save -: the state goes to stdout, so --json cannot (see memctl snapshot "
                "save --help)");
  }
  std::optional<AtomicFile> save_to;
  if (in.snapshot_file != "-") {
    auto file = AtomicFile::create(in.snapshot_file);
    if (!file) return fail(io.err, kExitUsage, file.error().message);
    save_to.emplace(std::move(*file));
  }
  auto conn = connect(in, io.env);
  if (!conn) return fail(io.err, kExitUnreachable, conn.error().message);
  return snapshot_save(&*conn, in.snapshot_file, save_to ? &*save_to : nullptr, in.json, io.out,
                       io.err);
}

int run_snapshot_load(Invocation& in, const Io& io) {
  auto state = read_all(in.snapshot_file);
  if (!state) return fail(io.err, kExitUsage, state.error().message);
  if (state->empty()) {
    return fail(io.err, kExitUsage, "cannot load " + in.snapshot_file + ": it is empty");
  }
  auto conn = connect(in, io.env);
  if (!conn) return fail(io.err, kExitUnreachable, conn.error().message);
  return snapshot_load(&*conn, in.snapshot_file, *state, in.json, io.out, io.err);
}

int run_snapshot(Invocation& in, const Io& io) {
  return in.snapshot_save->parsed() ? run_snapshot_save(in, io) : run_snapshot_load(in, io);
}

void add_plot(CLI::App* cmd, Invocation* in) {
  cmd->add_option("FILE", in->plot_files,
                  "replay histories (CSV, as memctl replay --history writes them), one column "
                  "each; - for stdin")
      ->required();
  cmd->add_option("-o,--output", in->plot_out, "the SVG picture to write (replaced atomically)")
      ->required();
  cmd->add_option("--label", in->plot_labels,
                  "a column's title, once per FILE in order (default: the file's name)")
      ->allow_extra_args(false);
}

// Needs no memd: reads local files, writes one.
int run_plot(Invocation& in, const Io& io) {
  return plot_histories(in.plot_files, in.plot_labels, in.plot_out, io.err);
}

void add_trace(CLI::App* cmd, Invocation* in) {
  cmd->add_option("ARGS", in->trace_words,
                  "nothing (what is on), on EVENT[,EVENT...], off [EVENT...], buffer_size_kb=N "
                  "or clear; the events: mm_page_alloc, mm_page_free, mm_page_free_batched, "
                  "mm_page_alloc_zone_locked, mm_page_pcpu_drain, mm_page_alloc_extfrag, all");
}

int run_trace(Invocation& in, const Io& io) {
  return simple_command(in, trace_command(in.trace_words), "trace", format_trace, io);
}

int run_check(Invocation& in, const Io& io) {
  return simple_command(in, command_line(protocol::CheckCommand{}), "check", format_check, io);
}

int run_reset(Invocation& in, const Io& io) {
  return simple_command(in, command_line(protocol::ResetCommand{}), "reset", format_reset, io);
}

int run_status(Invocation& in, const Io& io) {
  return simple_command(in, command_line(protocol::StatusCommand{}), "status", format_status, io);
}

struct Subcommand {
  const char* name;
  const char* description;
  void (*add)(CLI::App* cmd, Invocation* in);  // its arguments; nullptr: none
  int (*run)(Invocation& in, const Io& io);
};

constexpr Subcommand kSubcommands[] = {
    {"alloc", "allocate pages, as alloc_pages() would", add_alloc, run_alloc},
    {"free", "free allocations by first pfn, by id, or all", add_free, run_free},
    {"allocations", "list the live allocations (id, pfn, order, zone, node, migrate type)",
     add_allocations, run_allocations},
    {"offline", "take a memory block offline (its movable allocations migrate)", add_offline,
     run_offline},
    {"online", "bring a memory block online (the kernel's zone, or --movable/--kernel)", add_online,
     run_online},
    {"show", "print a file as the mount serves it", add_show, run_show},
    {"sysctl", "list, read or set the vm sysctls memd models", add_sysctl, run_sysctl},
    {"replay", "replay a kernel trace (kmem:mm_page_alloc/mm_page_free)", add_replay, run_replay},
    {"snapshot", "save the machine's whole state to a file, or replace the machine with one",
     add_snapshot, run_snapshot},
    {"plot", "draw replay histories (CSV) as one SVG picture, side by side; needs no memd",
     add_plot, run_plot},
    {"trace", "turn the kmem tracepoints on or off (read them from the mount's trace_pipe)",
     add_trace, run_trace},
    {"check", "verify every invariant of the allocator", nullptr, run_check},
    {"reset", "reboot the emulated machine from its configuration", nullptr, run_reset},
    {"status", "the machine's shape, zones and counters", nullptr, run_status},
};

// --- the command line ------------------------------------------------------------------------

void add_options(CLI::App* app, Invocation* in) {
  app->require_subcommand(1, 1);
  app->fallthrough();
  // The same version as `memd --version`: both are built from one project version.
  app->set_version_flag("--version", std::string(MEMD_VERSION), "print memctl's version and exit");
  app->add_option("--socket", in->socket,
                  "memd's socket (default: $MEMD_SOCKET, else $XDG_RUNTIME_DIR/memd/memd.sock "
                  "for a user whose own memd runs, else /run/memd/memd.sock)");
  app->add_flag("--json", in->json, "print memd's JSON reply as it is");
  for (const Subcommand& s : kSubcommands) {
    CLI::App* cmd = app->add_subcommand(s.name, s.description);
    if (s.add) s.add(cmd, in);
  }
}

// A usage error: unknown subcommand, or what CLI11 said, naming the
// subcommand whose --help to see.
int usage_error(const CLI::App& app, const std::vector<std::string>& args, const CLI::ParseError& e,
                std::ostream& err) {
  if (app.get_subcommands().empty()) {
    // The first word that is not an option (or --socket's value) names the command.
    for (size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "--socket") {
        ++i;
      } else if (!args[i].empty() && args[i][0] != '-') {
        std::string names;
        for (const Subcommand& s : kSubcommands) {
          names += (names.empty() ? "" : ", ") + std::string(s.name);
        }
        return fail(err, kExitUsage, "unknown command '" + args[i] + "' (commands: " + names + ")");
      }
    }
  }
  std::string where = "memctl";
  for (const CLI::App* sub : app.get_subcommands()) {
    where += " " + sub->get_name();
    for (const CLI::App* inner : sub->get_subcommands()) {
      where += " " + inner->get_name();
    }
  }
  return fail(err, kExitUsage, std::string(e.what()) + " (see " + where + " --help)");
}

// Parses `args`; an exit status when memctl is done (help, a usage error).
std::optional<int> parse(CLI::App* app, const std::vector<std::string>& args, std::ostream& out,
                         std::ostream& err) {
  std::vector<const char*> argv;
  argv.reserve(args.size() + 1);
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
  }
  if (argv.empty()) argv.push_back("memctl");
  try {
    app->parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    out << app->help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app->help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << '\n';
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    return usage_error(*app, args, e, err);
  }
  return std::nullopt;
}

}  // namespace

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
  Invocation in;
  add_options(&app, &in);
  if (auto done = parse(&app, args, out, err)) return *done;
  const std::string verb = app.get_subcommands().front()->get_name();
  const Io io{env, out, err};
  for (const Subcommand& s : kSubcommands) {
    if (verb == s.name) return s.run(in, io);
  }
  return fail(err, kExitUsage, "unknown command '" + verb + "'");
}

}  // namespace memd::client
