#include "daemon/config.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/layout.h"

namespace memd {
namespace {

// Thrown inside the parser only; parse_config turns it into an Error.
struct ConfigError {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  [[noreturn]] void fail(const toml::source_region& where, std::string_view key,
                         std::string_view reason) const {
    throw ConfigError{fmt::format("{}:{}:{}: {}: {}", source_, where.begin.line, where.begin.column,
                                  key, reason)};
  }

  // Every key of `table` must be one of `known`.
  void only_keys(const toml::table& table, std::string_view prefix,
                 std::initializer_list<std::string_view> known) const {
    for (const auto& [key, node] : table) {
      bool ok = false;
      for (auto k : known) {
        ok = ok || k == key.str();
      }
      if (ok) continue;
      std::string list;
      for (auto k : known) {
        list += (list.empty() ? "" : ", ") + std::string(k);
      }
      fail(key.source(), join(prefix, key.str()),
           fmt::format("unknown key (known keys: {})", list));
    }
  }

  static std::string join(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
  }

  const toml::table& table(const toml::node& node, std::string_view key) const {
    if (!node.is_table()) fail(node.source(), key, "must be a table");
    return *node.as_table();
  }

  std::string string(const toml::node& node, std::string_view key) const {
    auto v = node.value<std::string>();
    if (!node.is_string() || !v) fail(node.source(), key, "must be a string");
    return *v;
  }

  bool boolean(const toml::node& node, std::string_view key) const {
    if (!node.is_boolean()) fail(node.source(), key, "must be true or false");
    return *node.value<bool>();
  }

  int64_t integer(const toml::node& node, std::string_view key, int64_t lo, int64_t hi) const {
    if (!node.is_integer()) fail(node.source(), key, "must be an integer");
    int64_t v = *node.value<int64_t>();
    if (v < lo || v > hi) fail(node.source(), key, fmt::format("{} is not in {}..{}", v, lo, hi));
    return v;
  }

  // A size or address: "4G", "0x80000000", "512M", or an integer number of bytes.
  uint64_t memsize(const toml::node& node, std::string_view key) const {
    if (node.is_integer()) {
      int64_t v = *node.value<int64_t>();
      if (v < 0) fail(node.source(), key, "must not be negative");
      return static_cast<uint64_t>(v);
    }
    if (!node.is_string()) {
      fail(node.source(), key,
           "must be a size such as \"4G\" or an address such as \"0x80000000\"");
    }
    std::string text = *node.value<std::string>();
    auto v = parse_memsize(text);
    if (!v) {
      fail(node.source(), key,
           fmt::format("'{}' is not a size or address (like \"4G\", \"512M\" or \"0x80000000\")",
                       text));
    }
    return *v;
  }

  std::vector<int> int_array(const toml::node& node, std::string_view key, int lo, int hi) const {
    const toml::array* arr = node.as_array();
    if (!arr) fail(node.source(), key, "must be an array of integers");
    std::vector<int> out;
    for (const toml::node& el : *arr) {
      out.push_back(static_cast<int>(integer(el, key, lo, hi)));
    }
    return out;
  }

  const toml::array& table_array(const toml::node& node, std::string_view key) const {
    const toml::array* arr = node.as_array();
    if (!arr || !arr->is_array_of_tables()) {
      fail(node.source(), key, fmt::format("must be an array of tables ([[{}]])", key));
    }
    return *arr;
  }

  // [start, end) with start < end, for [[machine.reserved]] and [[machine.mirrored]].
  PhysRange range(const toml::table& t, std::string_view key) const {
    only_keys(t, key, {"start", "end"});
    return start_end(t, key);
  }

  // The start and end keys of a table, start < end.
  PhysRange start_end(const toml::table& t, std::string_view key) const {
    const toml::node* start = t.get("start");
    const toml::node* end = t.get("end");
    if (!start || !end) fail(t.source(), key, "needs both start and end");
    PhysRange r{memsize(*start, join(key, "start")), memsize(*end, join(key, "end"))};
    if (r.end <= r.start) fail(end->source(), join(key, "end"), "must be above start");
    return r;
  }

  NodeConfig node(const toml::table& t, std::string_view key) const {
    only_keys(t, key, {"start", "end", "size", "cpus", "distance"});
    NodeConfig n;
    const toml::node* start = t.get("start");
    const toml::node* end = t.get("end");
    const toml::node* size = t.get("size");
    if (size && (start || end)) {
      fail(t.source(), key, "give either size or start and end, not both");
    }
    const toml::node* cpus = t.get("cpus");
    if (size) {
      n.size = memsize(*size, join(key, "size"));  // 0: a memoryless node
    } else if (start || end) {
      n.range = start_end(t, key);
    } else if (cpus) {
      n.size = 0;  // CPUs and no memory
    } else {
      fail(t.source(), key,
           "needs size, or start and end (a node without memory gives size = 0, or leaves "
           "them out, and lists its cpus)");
    }
    if (cpus) n.cpus = int_array(*cpus, join(key, "cpus"), 0, 8191);
    if (const toml::node* d = t.get("distance")) {
      n.distance = int_array(*d, join(key, "distance"), 0, 255);  // SLIT entries are bytes
    }
    return n;
  }

 private:
  std::string source_;
};

void read_machine(const Reader& r, const toml::table& t, MachineConfig* m) {
  r.only_keys(t, "machine",
              {"arch", "size", "e820", "cmdline", "cpus", "thp", "gbpages", "node", "reserved",
               "mirrored"});
  if (const toml::node* n = t.get("arch")) {
    std::string arch = r.string(*n, "machine.arch");
    if (arch == "x86_64") {
      m->arch = Arch::kX86_64;
    } else if (arch == "i386") {
      m->arch = Arch::kI386;
    } else {
      r.fail(n->source(), "machine.arch",
             fmt::format("'{}': must be \"x86_64\" or \"i386\"", arch));
    }
  }
  if (const toml::node* n = t.get("size")) {
    m->size = r.memsize(*n, "machine.size");
    if (*m->size == 0) r.fail(n->source(), "machine.size", "must not be 0");
    if (*m->size < kSmallestMachineSize) {
      r.fail(n->source(), "machine.size",
             fmt::format(
                 "{}: {}",
                 n->is_string() ? "\"" + *n->value<std::string>() + "\"" : std::to_string(*m->size),
                 smallest_machine_error()));
    }
  }
  if (const toml::node* n = t.get("e820")) {
    std::string e820 = r.string(*n, "machine.e820");
    if (auto parsed = parse_e820(e820); !parsed) {
      r.fail(n->source(), "machine.e820", parsed.error().message);
    }
    m->e820 = std::move(e820);
  }
  if (const toml::node* n = t.get("cmdline")) {
    m->cmdline = r.string(*n, "machine.cmdline");
    if (auto parsed = parse_kernel_cmdline(m->cmdline); !parsed) {
      r.fail(n->source(), "machine.cmdline", parsed.error().message);
    }
  }
  if (const toml::node* n = t.get("cpus")) {
    m->cpus = static_cast<int>(r.integer(*n, "machine.cpus", 1, 8192));
  }
  if (const toml::node* n = t.get("thp")) m->thp = r.boolean(*n, "machine.thp");
  if (const toml::node* n = t.get("gbpages")) m->gbpages = r.boolean(*n, "machine.gbpages");
  if (const toml::node* n = t.get("node")) {
    for (const toml::node& el : r.table_array(*n, "machine.node")) {
      m->nodes.push_back(r.node(*el.as_table(), "machine.node"));
    }
  }
  if (const toml::node* n = t.get("reserved")) {
    for (const toml::node& el : r.table_array(*n, "machine.reserved")) {
      m->reserved.push_back(r.range(*el.as_table(), "machine.reserved"));
    }
  }
  if (const toml::node* n = t.get("mirrored")) {
    for (const toml::node& el : r.table_array(*n, "machine.mirrored")) {
      m->mirrored.push_back(r.range(*el.as_table(), "machine.mirrored"));
    }
  }
}

void read_daemon(const Reader& r, const toml::table& t, DaemonSettings* d) {
  r.only_keys(t, "daemon",
              {"mount", "socket", "socket_group", "state_dir", "allow_other", "nonempty",
               "fuse_threads", "socket_threads", "max_clients"});
  auto path = [&](std::string_view key, std::string* out) {
    if (const toml::node* n = t.get(key)) {
      std::string full = Reader::join("daemon", key);
      *out = r.string(*n, full);
      if (out->empty() || (*out)[0] != '/') r.fail(n->source(), full, "must be an absolute path");
    }
  };
  path("mount", &d->mount);
  path("socket", &d->socket);
  if (const toml::node* n = t.get("state_dir"); n && r.string(*n, "daemon.state_dir").empty()) {
    d->state_dir.clear();  // "": keep no state
  } else {
    path("state_dir", &d->state_dir);
  }
  if (const toml::node* n = t.get("socket_group")) {
    d->socket_group = r.string(*n, "daemon.socket_group");
  }
  if (const toml::node* n = t.get("allow_other")) {
    d->allow_other = r.boolean(*n, "daemon.allow_other");
  }
  if (const toml::node* n = t.get("nonempty")) {
    d->nonempty = r.boolean(*n, "daemon.nonempty");
  }
  if (const toml::node* n = t.get("fuse_threads")) {
    d->fuse_threads = static_cast<int>(r.integer(*n, "daemon.fuse_threads", 1, 64));
  }
  if (const toml::node* n = t.get("socket_threads")) {
    d->socket_threads = static_cast<int>(r.integer(*n, "daemon.socket_threads", 1, 64));
  }
  if (const toml::node* n = t.get("max_clients")) {
    d->max_clients = static_cast<int>(r.integer(*n, "daemon.max_clients", 1, 1000000));
  }
}

std::string runtime_dir() {
  if (geteuid() == 0) return "/run/memd";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && xdg[0] == '/') {
    return std::string(xdg) + "/memd";
  }
  return fmt::format("/tmp/memd-{}", geteuid());
}

// $XDG_STATE_HOME/memd, else ~/.local/state/memd (XDG Base Directory).
std::string user_state_dir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && xdg[0] == '/') {
    return std::string(xdg) + "/memd";
  }
  std::string home;
  if (const char* h = std::getenv("HOME"); h && h[0] == '/') {
    home = h;
  } else {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_dir &&
        found->pw_dir[0] == '/') {
      home = found->pw_dir;
    }
  }
  if (home.empty()) return runtime_dir() + "/state";
  return home + "/.local/state/memd";
}

}  // namespace

Config default_config() {
  Config c;
  const std::string run = runtime_dir();
  c.daemon.mount = run + "/proc";
  c.daemon.socket = run + "/memd.sock";
  c.daemon.socket_group = "memd";
  c.daemon.state_dir = geteuid() == 0 ? "/var/lib/memd" : user_state_dir();
  c.source = "(built-in defaults)";
  return c;
}

Result<Config> parse_config(std::string_view toml_text, std::string_view source_name) {
  Config config = default_config();
  config.source = source_name;
  const Reader r(source_name);
  try {
    toml::table root = toml::parse(toml_text, std::string(source_name));
    r.only_keys(root, "", {"machine", "daemon"});
    if (const toml::node* m = root.get("machine")) {
      read_machine(r, r.table(*m, "machine"), &config.machine);
    }
    if (const toml::node* d = root.get("daemon")) {
      read_daemon(r, r.table(*d, "daemon"), &config.daemon);
    }
  } catch (const toml::parse_error& e) {
    return make_error(fmt::format("{}:{}:{}: {}", source_name, e.source().begin.line,
                                  e.source().begin.column, e.description()));
  } catch (const ConfigError& e) {
    return make_error(e.message);
  }
  return config;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(fmt::format("{}: read error", path));
  return parse_config(text.str(), path);
}

}  // namespace memd
