#include "daemon/service.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>

#include "daemon/trace_reader.h"

namespace memd {
namespace {

using Json = nlohmann::ordered_json;

std::string hex(uint64_t v) {
  return fmt::format("{:#x}", v);
}

Json allocation_json(const Allocation& a) {
  return Json{{"id", a.id},       {"pfn", hex(a.pfn)},
              {"order", a.order}, {"zone", a.zone_name},
              {"node", a.nid},    {"migratetype", kMigrateTypeNames[a.migratetype]}};
}

std::string allocation_text(const Allocation& a) {
  return fmt::format("id={} pfn={} order={} zone={} node={} migratetype={}\n", a.id, hex(a.pfn),
                     a.order, a.zone_name, a.nid, kMigrateTypeNames[a.migratetype]);
}

Reply success(Json body, std::string text) {
  Reply r;
  r.json = Json{{"ok", true}};
  for (auto& [k, v] : body.items()) {
    r.json[k] = std::move(v);
  }
  r.text = std::move(text);
  return r;
}

Reply bad_input(std::string message) {
  return Reply::error(Failure::kBadInput, std::move(message));
}

// A sysctl value as JSON: a number, an array of numbers (lowmem_reserve_ratio),
// or the text itself if it is neither.
Json sysctl_json(std::string_view value) {
  Json numbers = Json::array();
  size_t i = 0;
  while (i < value.size()) {
    const size_t j = std::min(value.find_first_of(" \t", i), value.size());
    if (j > i) {
      int64_t n = 0;
      auto [end, ec] = std::from_chars(value.data() + i, value.data() + j, n);
      if (ec != std::errc() || end != value.data() + j) return std::string(value);
      numbers.push_back(n);
    }
    i = j + 1;
  }
  if (numbers.size() == 1 && value.find_first_of(" \t") == std::string_view::npos) {
    return numbers[0];
  }
  return numbers;
}

std::string describe_shape(const MachineStats& s) {
  uint64_t present = 0;
  for (const NodeStats& n : s.nodes) {
    for (const ZoneStats& z : n.zones) {
      present += z.present;
    }
  }
  return fmt::format("{}, {} MiB in {} node{}, {} CPU{}",
                     s.arch == Arch::kX86_64 ? "x86_64" : "i386", present * kPageSize >> 20,
                     s.nodes.size(), s.nodes.size() == 1 ? "" : "s", s.nr_cpus,
                     s.nr_cpus == 1 ? "" : "s");
}

// {"ok":true,"report":{<counter>: n, ..., "malformed":[{"line":N,"reason":"..."}]}}
Reply report_reply(const ReplayReport& report) {
  Json counters = Json::object();
  std::string text;
  for (const auto& [name, n] : report.counters()) {
    counters[name] = n;
    text += fmt::format("{}: {}\n", name, n);
  }
  Json malformed = Json::array();
  for (const auto& [line, reason] : report.malformed_samples) {
    malformed.push_back(Json{{"line", line}, {"reason", reason}});
    text += fmt::format("malformed line {}: {}\n", line, reason);
  }
  counters["malformed"] = std::move(malformed);
  return success(Json{{"report", std::move(counters)}}, std::move(text));
}

}  // namespace

// --- Reply -----------------------------------------------------------------------------------

std::string Reply::error_message() const {
  auto it = json.find("error");
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string Reply::json_line() const {
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Reply Reply::error(Failure failure, std::string message) {
  Reply r;
  r.failure = failure;
  r.text = "error: " + message + "\n";
  r.json = Json{{"ok", false}, {"error", std::move(message)}};
  return r;
}

// --- locking ---------------------------------------------------------------------------------

// Takes mu_, counting the threads that wait for it so that long operations
// can step aside between batches (let_others_in).
class SCOPED_CAPABILITY Service::Lock {
 public:
  explicit Lock(const Service* s) ACQUIRE(s->mu_) : s_(s) {
    s_->waiters_.fetch_add(1, std::memory_order_relaxed);
    s_->mu_.lock();
    s_->waiters_.fetch_sub(1, std::memory_order_relaxed);
  }
  ~Lock() RELEASE() { s_->mu_.unlock(); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  const Service* s_;
};

void Service::let_others_in() const {
  // std::mutex is not fair: a thread that unlocks and locks again at once
  // usually wins. Give the waiters a chance to run first.
  for (int i = 0; i < 100 && waiters_.load(std::memory_order_relaxed) > 0; ++i) {
    std::this_thread::yield();
  }
}

// --- life ------------------------------------------------------------------------------------

Result<std::unique_ptr<Service>> Service::boot(const MachineConfig& config) {
  auto machine = Machine::boot(config);
  if (!machine) return machine.error();
  const uint64_t state_bytes = (*machine)->save_state().size();
  return std::unique_ptr<Service>(new Service(config, std::move(*machine), state_bytes));
}

Result<std::unique_ptr<Service>> Service::restore(const MachineConfig& config,
                                                  std::string_view state) {
  auto machine = Machine::restore_state(config, state);
  if (!machine) return machine.error();
  return std::unique_ptr<Service>(new Service(config, std::move(*machine), state.size()));
}

namespace {

// The most bytes a state of `m` can take, from the size of one of its states
// (`state_bytes`). Each page is the head of at most one free block, per-cpu
// block or allocation: 4, 4 or 16 bytes of state. The rest (counters,
// tunables, pageblock types, list lengths) is the same in every state.
uint64_t state_bound(const Machine& m, uint64_t state_bytes) {
  const MachineStats stats = m.stats();
  uint64_t pages = 0;
  for (const NodeStats& n : stats.nodes) {
    for (const ZoneStats& z : n.zones) {
      pages += z.spanned;
    }
  }
  return state_bytes + 16 * pages;
}

}  // namespace

Service::Service(const MachineConfig& config, std::unique_ptr<Machine> machine,
                 uint64_t state_bytes)
    : config_(config),
      boot_warnings_(machine->warnings()),
      max_state_bytes_(state_bound(*machine, state_bytes)),
      machine_(std::move(machine)) {}

Service::~Service() {
  Lock lock(this);
  end_replay_locked();  // the replayer refers to the machine: it goes first
}

std::shared_ptr<const MachineStats> Service::stats() {
  Lock lock(this);
  return stats_locked();
}

std::shared_ptr<const MachineStats> Service::stats_locked() {
  if (stats_generation_ != generation_ || !stats_) {
    stats_ = std::make_shared<const MachineStats>(machine_->stats());
    stats_generation_ = generation_;
  }
  return stats_;
}

void Service::stop() {
  stopping_ = true;
}

std::string Service::render(ProcFile file) {
  return memd::render(file, *stats());
}

std::string Service::shape() {
  return describe_shape(*stats());
}

// --- commands --------------------------------------------------------------------------------

Reply Service::execute(std::string_view line, Client* client) {
  auto command = parse_command(line);
  if (!command) return bad_input(command.error().message);
  return run(*command, client);
}

Reply Service::run(const Command& command, Client* client) {
  // Nothing a client sends may take memd down: an exception (out of memory,
  // a bug) fails this command only.
  try {
    return dispatch(command, client);
  } catch (const std::exception& e) {
    return Reply::error(Failure::kInternal, fmt::format("internal error: {}", e.what()));
  }
}

Reply Service::dispatch(const Command& command, Client* client) {
  struct Visitor {
    Service* s;
    Client* client;
    Reply operator()(const AllocCommand& c) { return s->alloc(c); }
    Reply operator()(const FreeCommand& c) { return s->free(c); }
    Reply operator()(const SysctlCommand& c) { return s->sysctl(c); }
    Reply operator()(const ShowCommand& c) { return s->show(c); }
    Reply operator()(const ReplayCommand& c) { return s->replay(c, client); }
    Reply operator()(const SnapshotCommand& c) { return s->snapshot(c, client); }
    Reply operator()(const ResetCommand&) { return s->reset(); }
    Reply operator()(const CheckCommand&) { return s->check(); }
    Reply operator()(const StatusCommand&) { return s->status(); }
    Reply operator()(const HelpCommand&) {
      return success(Json{{"text", command_help()}}, std::string(command_help()));
    }
  };
  return std::visit(Visitor{this, client}, command);
}

Reply Service::alloc(const AllocCommand& c) {
  std::vector<Allocation> made;
  std::optional<Error> failure;
  {
    Lock lock(this);
    const Machine& m = *machine_;
    if (c.cpu >= m.nr_cpus()) {
      return bad_input(
          fmt::format("alloc: cpu={}: the machine has CPUs 0-{}", c.cpu, m.nr_cpus() - 1));
    }
    if (c.node && *c.node >= m.nr_nodes()) {
      return bad_input(
          fmt::format("alloc: node={}: the machine has nodes 0-{}", *c.node, m.nr_nodes() - 1));
    }
    if (gfp_zone(c.gfp, m.config().arch) < 0) {
      return bad_input(
          fmt::format("alloc: gfp={}: combines zone modifiers the kernel rejects (GFP_ZONE_BAD)",
                      format_gfp(c.gfp)));
    }
    if ((c.gfp & gfp::kMovableMask) == gfp::kMovableMask) {
      return bad_input(fmt::format("alloc: gfp={}: sets both __GFP_MOVABLE and __GFP_RECLAIMABLE",
                                   format_gfp(c.gfp)));
    }
    made.reserve(c.count);
    const AllocRequest request{c.order, c.gfp, c.node, c.cpu};
    for (uint64_t i = 0; i < c.count; ++i) {
      auto a = machine_->alloc(request);
      if (!a) {
        failure = a.error();
        break;
      }
      made.push_back(*a);
    }
    changed_locked();  // even a failed allocation may boost a watermark or reserve a block
  }
  Json list = Json::array();
  std::string text;
  for (const Allocation& a : made) {
    list.push_back(allocation_json(a));
    text += allocation_text(a);
  }
  if (failure) {
    Reply r = Reply::error(Failure::kAllocFailed, failure->message);
    if (c.count > 1) {
      r.json["allocations"] = std::move(list);
      r.text += text;
    }
    return r;
  }
  return success(Json{{"allocations", std::move(list)}}, std::move(text));
}

Reply Service::free(const FreeCommand& c) {
  std::vector<Allocation> freed;
  uint64_t freed_all = 0;
  {
    Lock lock(this);
    Machine& m = *machine_;
    if (c.cpu >= m.nr_cpus()) {
      return bad_input(
          fmt::format("free: cpu={}: the machine has CPUs 0-{}", c.cpu, m.nr_cpus() - 1));
    }
    if (c.all) {
      freed_all = m.free_all(c.cpu);
      changed_locked();
      return success(Json{{"count", freed_all}}, fmt::format("freed {} allocations\n", freed_all));
    }
    // Every target must name a live allocation, each one once, before anything is freed.
    std::unordered_set<Pfn> seen;
    for (const FreeTarget& t : c.targets) {
      std::optional<Allocation> a =
          t.kind == FreeTarget::Kind::kPfn ? m.find_pfn(t.value) : m.find_id(t.value);
      if (!a) {
        return bad_input(
            t.kind == FreeTarget::Kind::kPfn
                ? fmt::format("free: pfn={}: not the first page of a live allocation", hex(t.value))
                : fmt::format("free: id={}: no live allocation has this id", t.value));
      }
      if (!seen.insert(a->pfn).second) {
        return bad_input(
            fmt::format("free: allocation id={} pfn={} named twice", a->id, hex(a->pfn)));
      }
      freed.push_back(*a);
    }
    for (const Allocation& a : freed) {
      auto r = m.free_pfn(a.pfn, c.cpu);
      assert(r.ok());
      (void)r;
    }
    changed_locked();
  }
  Json list = Json::array();
  std::string text;
  for (const Allocation& a : freed) {
    list.push_back(allocation_json(a));
    text += "freed " + allocation_text(a);
  }
  return success(Json{{"freed", std::move(list)}, {"count", freed.size()}}, std::move(text));
}

Reply Service::sysctl(const SysctlCommand& c) {
  std::vector<std::pair<std::string, std::string>> values;
  {
    Lock lock(this);
    Machine& m = *machine_;
    if (c.value) {
      if (auto st = m.set_sysctl(c.name, *c.value); !st) {
        return bad_input("sysctl: " + st.error().message);
      }
      changed_locked();
    }
    if (c.name.empty()) {
      for (std::string_view name : Machine::sysctl_names()) {
        values.emplace_back(name, *m.get_sysctl(name));
      }
    } else {
      auto v = m.get_sysctl(c.name);
      if (!v) return bad_input("sysctl: " + v.error().message);
      values.emplace_back(c.name, *v);
    }
  }
  Json obj = Json::object();
  std::string text;
  for (const auto& [name, value] : values) {
    obj[name] = sysctl_json(value);
    text += fmt::format("vm.{} = {}\n", name, value);
  }
  return success(Json{{"sysctl", std::move(obj)}}, std::move(text));
}

Reply Service::show(const ShowCommand& c) {
  auto file = proc_file_from_name(c.file);
  if (!file) {
    std::string names;
    for (ProcFile f : kProcFiles) {
      names += (names.empty() ? "" : ", ") + std::string(proc_file_name(f));
    }
    return bad_input(fmt::format("show: unknown file '{}' (files: {})", c.file, names));
  }
  std::string text = render(*file);
  return success(Json{{"text", text}}, text);
}

std::unique_ptr<Machine> Service::replace_machine(std::unique_ptr<Machine> machine) {
  Lock lock(this);
  end_replay_locked();
  std::swap(machine, machine_);
  changed_locked();
  return machine;
}

Reply Service::reset() {
  auto fresh = Machine::boot(config_);
  if (!fresh) return bad_input("reset: " + fresh.error().message);
  // Freed outside the lock: freeing a big machine's metadata takes a while.
  replace_machine(std::move(*fresh)).reset();
  const std::string shape = this->shape();
  return success(Json{{"machine", shape}}, "machine reset: " + shape + "\n");
}

// --- snapshots -------------------------------------------------------------------------------

Reply Service::snapshot(const SnapshotCommand& c, Client* client) {
  if (client->origin != Client::Origin::kSocket) {
    return bad_input(
        "snapshot: the control file carries text only; save and load state through the "
        "socket (memctl snapshot save FILE, memctl snapshot load FILE)");
  }
  if (c.op == SnapshotCommand::Op::kLoad) {
    return bad_input("snapshot load: the socket server reads the bytes that follow");
  }
  auto state = std::make_shared<std::string>();
  uint64_t live = 0;
  {
    Lock lock(this);
    *state = machine_->save_state();
    live = machine_->nr_allocations();
  }
  Reply r = success(Json{{"bytes", state->size()}, {"allocations", live}},
                    fmt::format("{} bytes of state, {} allocations\n", state->size(), live));
  r.payload = std::move(state);
  return r;
}

Reply Service::begin_snapshot_load(Client* client, uint64_t bytes) {
  if (client->origin != Client::Origin::kSocket) {
    return bad_input("snapshot load: the control file carries text only; use the socket");
  }
  if (bytes > max_state_bytes_) {
    return bad_input(
        fmt::format("snapshot load: bytes={} is more than a state of this machine can take ({})",
                    bytes, max_state_bytes_));
  }
  if (stopping_) return Reply::error(Failure::kBusy, "snapshot load: memd is stopping");
  bool expected = false;
  if (!loading_.compare_exchange_strong(expected, true)) {
    return Reply::error(Failure::kBusy, "snapshot load: another load is in progress");
  }
  client->loading_snapshot = true;
  return success(Json::object(), "");
}

Reply Service::snapshot_load(Client* client, std::string_view bytes) {
  if (!client->loading_snapshot) {
    return bad_input("snapshot load: this connection was not admitted to load");
  }
  struct Release {
    Service* s;
    Client* c;
    ~Release() {
      c->loading_snapshot = false;
      s->loading_ = false;
    }
  } release{this, client};
  auto restored = Machine::restore_state(config_, bytes);
  if (!restored) return bad_input("snapshot load: " + restored.error().message);
  replace_machine(std::move(*restored)).reset();
  const uint64_t live = live_allocations();
  const std::string shape = this->shape();
  return success(Json{{"machine", shape}, {"allocations", live}},
                 fmt::format("state loaded: {}, {} allocations\n", shape, live));
}

std::string Service::save_state() {
  Lock lock(this);
  return machine_->save_state();
}

uint64_t Service::live_allocations() {
  Lock lock(this);
  return machine_->nr_allocations();
}

Reply Service::check() {
  CheckReport report;
  {
    Lock lock(this);
    report = machine_->check();
  }
  Json problems = Json::array();
  std::string text;
  for (const std::string& p : report.problems) {
    problems.push_back(p);
    text += p + "\n";
  }
  if (report.ok()) return success(Json{{"problems", problems}}, "ok: every invariant holds\n");
  Reply r =
      Reply::error(Failure::kCheckFailed,
                   fmt::format("check: {} problem{}: {}", report.problems.size(),
                               report.problems.size() == 1 ? "" : "s", report.problems.front()));
  r.json["problems"] = std::move(problems);
  r.text += text;
  return r;
}

Reply Service::status() {
  uint64_t live = 0;
  bool replaying = false;
  std::string cmdline;
  std::shared_ptr<const MachineStats> s;
  {
    Lock lock(this);  // one snapshot: the counters and the live allocations agree
    s = stats_locked();
    live = machine_->nr_allocations();
    replaying = replay_session_ != 0;
    cmdline = machine_->config().cmdline;
  }
  Json zones = Json::array();
  std::string zone_text;
  uint64_t pgalloc = 0, free_pages = 0;
  for (const NodeStats& n : s->nodes) {
    for (const ZoneStats& z : n.zones) {
      pgalloc += z.pgalloc;
      free_pages += z.free_pages;
      zones.push_back(Json{{"node", n.nid},
                           {"zone", z.name},
                           {"start_pfn", z.start_pfn},
                           {"spanned", z.spanned},
                           {"present", z.present},
                           {"managed", z.managed},
                           {"free", z.free_pages}});
      zone_text +=
          fmt::format("  node {} {:<8} start_pfn {:#x} spanned {} present {} managed {} free {}\n",
                      n.nid, z.name, z.start_pfn, z.spanned, z.present, z.managed, z.free_pages);
    }
  }
  const std::string shape = describe_shape(*s);
  Json body{{"machine", Json{{"shape", shape},
                             {"arch", s->arch == Arch::kX86_64 ? "x86_64" : "i386"},
                             {"nodes", s->nodes.size()},
                             {"cpus", s->nr_cpus},
                             {"cmdline", cmdline},
                             {"zones", std::move(zones)}}},
            {"live_allocations", live},
            {"counters", Json{{"pgalloc", pgalloc},
                              {"pgfree", s->pgfree},
                              {"free_pages", free_pages},
                              {"extfrag_claims", s->extfrag_claims},
                              {"extfrag_steals", s->extfrag_steals}}},
            {"replaying", replaying},
            {"pid", getpid()}};
  std::string text = fmt::format(
      "machine: {}\ncmdline: {}\nzones:\n{}live allocations: {}\n"
      "pgalloc {} pgfree {} free pages {} extfrag claims {} steals {}\nreplay running: {}\n",
      shape, cmdline, zone_text, live, pgalloc, s->pgfree, free_pages, s->extfrag_claims,
      s->extfrag_steals, replaying ? "yes" : "no");
  return success(std::move(body), std::move(text));
}

// --- replay ----------------------------------------------------------------------------------

uint64_t Service::begin_replay_locked() {
  if (replay_session_ != 0) return 0;
  replayer_ = std::make_unique<Replayer>(machine_.get());
  replay_session_ = next_session_++;
  replay_lines_ = 0;
  return replay_session_;
}

void Service::end_replay_locked() {
  replayer_.reset();
  replay_session_ = 0;
}

bool Service::feed_in_batches(uint64_t session, std::string_view text) {
  for (;;) {  // at least once: an empty frame of an ended replay is refused too
    const size_t n = std::min(text.size(), kReplayBatchBytes);
    {
      Lock lock(this);
      if (stopping_ && replay_session_ == session) end_replay_locked();
      if (replay_session_ != session) return false;
      if (n == 0) return true;
      replay_lines_ += replayer_->feed(text.substr(0, n));
      changed_locked();
    }
    text.remove_prefix(n);
    if (text.empty()) return true;
    let_others_in();
  }
}

ReplayReport Service::finish_replay_locked() {
  replayer_->finish();
  changed_locked();
  ReplayReport report = replayer_->report();
  end_replay_locked();
  return report;
}

Reply Service::replay(const ReplayCommand& c, Client* client) {
  using Op = ReplayCommand::Op;
  if (c.op == Op::kFile) return replay_file(c.path, client);
  if (client->origin != Client::Origin::kSocket) {
    return bad_input(
        "replay: streaming (begin, data, end, abort) is for the socket; "
        "here use replay file=PATH");
  }
  if (c.op == Op::kData) {
    return bad_input("replay data: the socket server reads the bytes that follow");
  }
  Lock lock(this);
  const bool mine = client->replay_session != 0 && client->replay_session == replay_session_;
  if (c.op == Op::kBegin) {
    if (mine) return bad_input("replay begin: this connection's replay is still running");
    client->replay_session = begin_replay_locked();
    if (client->replay_session == 0) {
      return Reply::error(Failure::kBusy, "replay begin: another replay is running");
    }
    return success(Json::object(), "replay started\n");
  }
  if (!mine) {
    const bool reset = client->replay_session != 0;
    client->replay_session = 0;
    return bad_input(reset ? "replay: the replay ended when the machine was reset"
                           : "replay: no replay running on this connection (replay begin first)");
  }
  client->replay_session = 0;
  if (c.op == Op::kAbort) {
    // What was applied stays applied; a trailing partial line is dropped.
    const uint64_t lines = replay_lines_;
    Reply reply = report_reply(replayer_->report());
    end_replay_locked();
    reply.json["lines"] = lines;
    reply.json["aborted"] = true;
    reply.text = fmt::format("replay aborted after {} lines\n", lines) + reply.text;
    return reply;
  }
  return report_reply(finish_replay_locked());
}

bool Service::owns_replay(const Client* client) {
  if (client->replay_session == 0) return false;
  Lock lock(this);
  return client->replay_session == replay_session_;
}

Reply Service::replay_data(Client* client, std::string_view bytes) {
  const uint64_t session = client->replay_session;
  if (session == 0) return bad_input("replay data: no replay running on this connection");
  if (!feed_in_batches(session, bytes)) {
    client->replay_session = 0;
    return bad_input(stopping_ ? "replay data: memd is stopping; the replay ended"
                               : "replay data: the replay ended when the machine was reset");
  }
  Lock lock(this);
  return success(Json{{"lines", replay_lines_}}, "");
}

Reply Service::replay_file(const std::string& path, Client* client) {
  if (client->origin == Client::Origin::kSocket && client->uid != 0) {
    return Reply::error(Failure::kDenied,
                        "replay file=: only root may make the daemon read a file; "
                        "stream the trace instead (replay begin / data / end)");
  }
  // The file is read (and inflated) on a thread of its own, a few MiB ahead.
  auto reader = TraceReader::open(path);
  if (!reader) return Reply::error(Failure::kIo, "replay: " + reader.error().message);
  uint64_t session = 0;
  {
    Lock lock(this);
    session = begin_replay_locked();
  }
  if (session == 0) return Reply::error(Failure::kBusy, "replay: another replay is running");
  // The session belongs to no client: whatever way this returns (an
  // exception included), a session still open is ended, keeping what was
  // applied, so that the next replay is not refused as "another is running".
  struct EndUnfinished {
    Service* s;
    uint64_t session;
    ~EndUnfinished() {
      Lock lock(s);
      if (s->replay_session_ == session) s->end_replay_locked();
    }
  } end_unfinished{this, session};
  for (;;) {
    auto chunk = (*reader)->next();
    if (!chunk) return Reply::error(Failure::kIo, "replay: " + chunk.error().message);
    if (chunk->empty()) break;
    if (!feed_in_batches(session, *chunk)) {
      return bad_input(stopping_ ? "replay: memd is stopping; the replay ended"
                                 : "replay: the replay ended when the machine was reset");
    }
  }
  Lock lock(this);
  if (replay_session_ != session) {
    return bad_input("replay: the replay ended when the machine was reset");
  }
  return report_reply(finish_replay_locked());
}

void Service::disconnect(Client* client) {
  if (client->loading_snapshot) {  // gone before all its bytes arrived: nothing was loaded
    client->loading_snapshot = false;
    loading_ = false;
  }
  if (client->replay_session == 0) return;
  Lock lock(this);
  if (replay_session_ == client->replay_session) end_replay_locked();
  client->replay_session = 0;
}

}  // namespace memd
