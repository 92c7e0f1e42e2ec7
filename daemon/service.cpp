// The Service's lock and its machine: life, the entry points, the snapshots
// of counters the mount renders from.
#include "daemon/service.h"

#include <thread>

#include <fmt/format.h>

#include "core/machine_files.h"
#include "daemon/command_log.h"

namespace memd {
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

// --- locking ---------------------------------------------------------------------------------

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
  const Bound bound{state_bound(**machine, (*machine)->save_state().size())};
  return std::unique_ptr<Service>(new Service(config, std::move(*machine), bound));
}

Result<std::unique_ptr<Service>> Service::restore(const MachineConfig& config,
                                                  std::string_view state) {
  auto machine = Machine::restore_state(config, state);
  if (!machine) return machine.error();
  const Bound bound{state_bound(**machine, state.size())};
  return std::unique_ptr<Service>(new Service(config, std::move(*machine), bound));
}

Service::Service(const MachineConfig& config, std::unique_ptr<Machine> machine, Bound bound)
    : config_(config),
      boot_warnings_(machine->warnings()),
      max_state_bytes_(bound.max_state_bytes),
      machine_(std::move(machine)) {}

Result<std::unique_ptr<Service>> Service::clone() const {
  Lock lock(this);
  if (replayer_ || loading_) {
    return make_error("clone: a replay or a snapshot load belongs to a client of this Service");
  }
  std::unique_ptr<Service> copy(new Service(config_, machine_->clone(), Bound{max_state_bytes_}));
  Lock copy_lock(copy.get());
  copy->next_session_ = next_session_;
  copy->trace_mask_ = trace_mask_;
  copy->trace_kb_ = trace_kb_;
  copy->tracing_ = tracing_.load();
  return copy;
}

Service::~Service() {
  Lock lock(this);
  drop_replay_locked();  // the replayer refers to the machine: it goes first
}

void Service::stop() {
  stopping_ = true;
}

std::unique_ptr<Machine> Service::replace_machine(std::unique_ptr<Machine> machine) {
  Lock lock(this);
  drop_replay_locked();
  std::swap(machine, machine_);
  if (trace_kb_) (void)machine_->trace_buffer().set_buffer_size_kb(trace_kb_);
  machine_->set_trace_events(trace_mask_);
  changed_locked();
  return machine;
}

// --- what the mount and main() read ----------------------------------------------------------

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

// pageblocks.svg: the counters and the pageblock arrays are copied under the
// lock (three bytes per pageblock, shared while the machine does not
// change); the picture is drawn outside it.
std::string Service::render_pageblocks() {
  std::shared_ptr<const MachineStats> stats;
  std::shared_ptr<const PageblockSnapshot> pageblocks;
  {
    Lock lock(this);
    stats = stats_locked();
    if (pageblocks_generation_ != generation_ || !pageblocks_) {
      pageblocks_ = std::make_shared<const PageblockSnapshot>(machine_->pageblock_snapshot());
      pageblocks_generation_ = generation_;
    }
    pageblocks = pageblocks_;
  }
  return render_pageblocks_svg(*stats, *pageblocks);
}

std::string Service::render(ProcFile file) {
  if (file == ProcFile::kPageblocksSvg) return render_pageblocks();
  if (!rendered_from_stats(file)) {
    Lock lock(this);
    return render_machine_file(file, *machine_);
  }
  return memd::render(file, *stats());
}

MemoryBlocks Service::memory_blocks() {
  Lock lock(this);
  return machine_->memory_blocks();
}

std::string Service::render_block_size_bytes() {
  Lock lock(this);
  return memd::render_block_size_bytes(machine_->memory_blocks());
}

std::string Service::render_memory_block(uint64_t block_id, MemoryBlockFile file) {
  Lock lock(this);
  return memd::render_memory_block_file(*machine_, block_id, file).value_or("");
}

std::string Service::shape() {
  return machine_shape(*stats());
}

std::string Service::save_state() {
  Lock lock(this);
  return machine_->save_state();
}

uint64_t Service::live_allocations() {
  Lock lock(this);
  return machine_->nr_allocations();
}

// --- commands --------------------------------------------------------------------------------

Reply Service::execute(std::string_view line, Client* client) {
  auto command = parse_command(line);
  if (!command) {
    log_bad_line(line, client, command.error().message);
    return Reply::error(Failure::kBadInput, command.error().message);
  }
  return run(*command, client);
}

Reply Service::run(const Command& command, Client* client) {
  // Nothing a client sends may take memd down: an exception (out of memory,
  // a bug) fails this command only.
  Reply reply;
  try {
    reply = dispatch(command, client);
  } catch (const std::exception& e) {
    reply = Reply::error(Failure::kInternal, fmt::format("internal error: {}", e.what()));
  }
  log_command(command, client, reply);
  return reply;
}

std::shared_ptr<const std::string> Service::run_into(const Command& command, Client* client,
                                                     std::string* out) {
  const auto* alloc = std::get_if<AllocCommand>(&command);
  if (!alloc) {
    Reply reply = run(command, client);
    if (out->empty()) {
      *out = reply.json_line();  // a large reply is not copied
    } else {
      *out += reply.json_line();
    }
    return std::move(reply.payload);
  }
  const size_t before = out->size();
  try {
    alloc_into(command, *alloc, client, out);
  } catch (const std::exception& e) {  // as run() does
    out->resize(before);
    const Reply reply =
        Reply::error(Failure::kInternal, fmt::format("internal error: {}", e.what()));
    log_command(command, client, reply);
    *out += reply.json_line();
  }
  return nullptr;
}

Reply Service::dispatch(const Command& command, Client* client) {
  struct Visitor {
    Service* s;
    Client* client;
    Reply operator()(const AllocCommand& c) { return s->alloc(c, *client); }
    Reply operator()(const FreeCommand& c) { return s->free(c, *client); }
    Reply operator()(const SysctlCommand& c) { return s->sysctl(c, *client); }
    Reply operator()(const ShowCommand& c) { return s->show(c, *client); }
    Reply operator()(const ReplayCommand& c) { return s->replay(c, client); }
    Reply operator()(const SnapshotCommand& c) { return s->snapshot(c, client); }
    Reply operator()(const ResetCommand&) { return s->reset(); }
    Reply operator()(const CheckCommand&) { return s->check(); }
    Reply operator()(const StatusCommand&) { return s->status(); }
    Reply operator()(const HelpCommand&) {
      return protocol::text_reply(std::string(command_help()));
    }
    Reply operator()(const TraceCommand& c) { return s->trace(c); }
    Reply operator()(const AllocationsCommand& c) { return s->allocations(c); }
    Reply operator()(const MemoryCommand& c) { return s->memory(c, *client); }
  };
  return std::visit(Visitor{this, client}, command);
}

void Service::disconnect(Client* client) {
  log_unlogged(client);
  if (client->loading_snapshot) {  // gone before all its bytes arrived: nothing was loaded
    client->loading_snapshot = false;
    loading_ = false;
  }
  if (client->replay_session == 0) return;
  Lock lock(this);
  if (replay_session_ == client->replay_session) {
    const bool back = roll_back_replay_locked();
    log::notice("replay of pid {} uid {} ({}): the client went away before replay end{}",
                client->pid, client->uid, client->comm, rollback_text(back));
  }
  client->replay_session = 0;
}

}  // namespace memd
