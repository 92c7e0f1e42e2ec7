// The commands that act on the machine or read it: alloc, free, sysctl, show,
// reset, check, status. Each takes the lock once, checks everything the
// grammar could not (what depends on the machine's shape) before changing
// anything, and builds its reply outside the lock.
#include <unistd.h>

#include <cassert>
#include <optional>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/machine_files.h"
#include "daemon/command_log.h"
#include "daemon/service.h"
#include "protocol/files.h"
#include "protocol/text.h"

namespace memd {

using protocol::bad_input;

namespace {

// Why `m` refuses an allocation the grammar took, in the command's terms
// (naming the key); nullopt if it may go ahead. The core decides
// (Machine::check_request); a refusal here is bad input, and nothing is touched.
std::optional<std::string> alloc_refusal(const Machine& m, const AllocRequest& r) {
  auto why = m.check_request(r);
  if (!why) return std::nullopt;
  switch (*why) {
    case AllocRefusal::kOrder:  // the grammar refuses it first
      return fmt::format("alloc: order={}: must be in 0..{}", r.order, protocol::kMaxOrder);
    case AllocRefusal::kCpu:
      return fmt::format("alloc: cpu={}: the machine has CPUs 0-{}", r.cpu, m.nr_cpus() - 1);
    case AllocRefusal::kNode:
      return fmt::format("alloc: node={}: the machine has nodes 0-{}", *r.node, m.nr_nodes() - 1);
    case AllocRefusal::kZoneBad:
      return fmt::format("alloc: gfp={}: combines zone modifiers the kernel rejects (GFP_ZONE_BAD)",
                         format_gfp(r.gfp));
    case AllocRefusal::kMovableReclaimable:
      break;
  }
  return fmt::format("alloc: gfp={}: sets both __GFP_MOVABLE and __GFP_RECLAIMABLE",
                     format_gfp(r.gfp));
}

std::vector<protocol::AllocationEntry> entries(const std::vector<Allocation>& list) {
  std::vector<protocol::AllocationEntry> out;
  out.reserve(list.size());
  for (const Allocation& a : list) {
    out.push_back(allocation_entry(a));
  }
  return out;
}

}  // namespace

std::optional<Reply> Service::make_allocations(const AllocCommand& c, const Client& client,
                                               std::vector<Allocation>* made,
                                               std::optional<Error>* failure) {
  auto gfp = gfp_of(c);
  if (!gfp) return bad_input(gfp.error().message);
  {
    Lock lock(this);
    const AllocRequest request{c.order, *gfp, c.node, c.cpu_or_default()};
    if (auto refusal = alloc_refusal(*machine_, request)) return bad_input(*refusal);
    act_for_locked(client);
    changed_by_locked(client);
    made->reserve(c.count_or_default());
    for (uint64_t i = 0; i < c.count_or_default(); ++i) {
      auto a = machine_->alloc(request);
      if (!a) {
        *failure = a.error();
        break;
      }
      made->push_back(*a);
    }
    changed_locked();  // even a failed allocation may boost a watermark or reserve a block
  }
  wake_trace_readers();
  return std::nullopt;
}

Reply Service::alloc(const AllocCommand& c, const Client& client) {
  std::vector<Allocation> made;
  std::optional<Error> failure;
  if (auto refused = make_allocations(c, client, &made, &failure)) return std::move(*refused);
  return protocol::alloc_reply(entries(made), failure ? &failure->message : nullptr,
                               c.count_or_default() > 1);
}

void Service::alloc_into(const Command& command, const AllocCommand& c, Client* client,
                         std::string* out) {
  std::vector<Allocation> made;
  std::optional<Error> failure;
  std::optional<Reply> reply = make_allocations(c, *client, &made, &failure);
  if (!reply && !failure) {
    protocol::append_alloc_line(out, entries(made));
    log_command(command, client, Reply{});  // a default Reply: ok
    return;
  }
  if (!reply) {
    reply = protocol::alloc_reply(entries(made), &failure->message, c.count_or_default() > 1);
  }
  log_command(command, client, *reply);
  *out += reply->json_line();
}

// Every target must name a live allocation, each one once, before anything
// is freed: the allocations the targets name, or why not.
Result<std::vector<Allocation>> Service::free_targets_locked(const FreeCommand& c) {
  std::vector<Allocation> found;
  std::unordered_set<Pfn> seen;
  for (const FreeTarget& t : c.targets) {
    const bool by_pfn = t.kind == FreeTarget::Kind::kPfn;
    std::optional<Allocation> a = by_pfn ? machine_->find_pfn(t.value) : machine_->find_id(t.value);
    if (!a) {
      return make_error(by_pfn
                            ? fmt::format("free: pfn={}: not the first page of a live allocation",
                                          protocol::pfn_text(t.value))
                            : fmt::format("free: id={}: no live allocation has this id", t.value));
    }
    if (!seen.insert(a->pfn).second) {
      return make_error(fmt::format("free: allocation id={} pfn={} named twice", a->id,
                                    protocol::pfn_text(a->pfn)));
    }
    found.push_back(*a);
  }
  return found;
}

Reply Service::free(const FreeCommand& c, const Client& client) {
  Reply reply = free_pages(c, client);
  wake_trace_readers();
  return reply;
}

Reply Service::free_pages(const FreeCommand& c, const Client& client) {
  const int cpu = c.cpu_or_default();
  std::vector<Allocation> freed;
  {
    Lock lock(this);
    Machine& m = *machine_;
    if (cpu >= m.nr_cpus()) {
      return bad_input(
          fmt::format("free: cpu={}: the machine has CPUs 0-{}", cpu, m.nr_cpus() - 1));
    }
    act_for_locked(client);
    changed_by_locked(client);
    if (c.all) {
      const uint64_t count = m.free_all(cpu);
      changed_locked();
      return protocol::free_all_reply(count);
    }
    auto targets = free_targets_locked(c);
    if (!targets) return bad_input(targets.error().message);
    freed = std::move(*targets);
    for (const Allocation& a : freed) {
      auto r = m.free_pfn(a.pfn, cpu);
      assert(r.ok());
      (void)r;
    }
    changed_locked();
  }
  return protocol::free_reply(entries(freed));
}

Reply Service::sysctl(const SysctlCommand& c, const Client& client) {
  std::vector<std::pair<std::string, std::string>> values;
  {
    Lock lock(this);
    Machine& m = *machine_;
    if (c.value) {
      if (auto st = m.set_sysctl(c.name, *c.value); !st) {
        return bad_input("sysctl: " + st.error().message);
      }
      changed_by_locked(client);
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
  return protocol::sysctl_reply(values);
}

Reply Service::show(const ShowCommand& c, const Client& client) {
  if (auto path = protocol::parse_memory_file_path(c.file)) {
    return show_memory_file(c.file, *path);
  }
  auto file = proc_file_named(c.file);
  if (!file) {
    return bad_input(fmt::format(
        "show: unknown file '{}' (files: {}, memory/block_size_bytes, memory/memoryN/{{{}}})",
        c.file, protocol::file_names(), fmt::join(protocol::kMemoryBlockFileNames, ",")));
  }
  const bool others_read = (proc_file_mode(*file) & 0004) != 0;
  if (!others_read && client.uid != 0 && client.uid != geteuid()) {
    return Reply::error(
        Failure::kDenied,
        fmt::format("show {}: permission denied: the file is {:04o} (root and memd's own user "
                    "only, as on the mount); uid {} is neither",
                    c.file, proc_file_mode(*file), client.uid));
  }
  return protocol::text_reply(render(*file));
}

// memory/block_size_bytes and memory/memoryN/<file>: 0444, like the kernel's.
Reply Service::show_memory_file(std::string_view name, const protocol::MemoryFilePath& path) {
  std::optional<std::string> text;
  {
    Lock lock(this);
    const MemoryBlocks& blocks = machine_->memory_blocks();
    if (blocks.blocks().empty()) {
      return bad_input(fmt::format(
          "show {}: this machine has no memory blocks (the i386 kernel has no memory hotplug)",
          name));
    }
    text = path.block
               ? render_memory_block_file(*machine_, *path.block, kMemoryBlockFiles[path.file])
               : memd::render_block_size_bytes(blocks);
  }
  if (!text) {
    return bad_input(
        fmt::format("show {}: no memory block {} (blocks exist where there is RAM: "
                    "see the mount's memory/)",
                    name, *path.block));
  }
  return protocol::text_reply(*text);
}

Reply Service::reset() {
  auto fresh = Machine::boot(config_);
  if (!fresh) return bad_input("reset: " + fresh.error().message);
  // Freed outside the lock: freeing a big machine's metadata takes a while.
  replace_machine(std::move(*fresh)).reset();
  return protocol::reset_reply(shape());
}

namespace {

// The core's filter for `c` on machine `m`, or why a name is wrong: the zone
// must be one of the machine's (ZoneKind's names, as zoneinfo prints them),
// the migrate type one of the kernel's names.
Result<AllocationFilter> allocation_filter(const Machine& m, const AllocationsCommand& c) {
  AllocationFilter f;
  f.nid = c.node;
  f.order = c.order;
  f.after = c.after.value_or(0);
  f.limit = c.limit_or_default();
  if (c.node && *c.node >= m.nr_nodes()) {
    return make_error(
        fmt::format("allocations: node={}: the machine has nodes 0-{}", *c.node, m.nr_nodes() - 1));
  }
  if (!c.zone.empty()) {
    std::string names;
    for (unsigned idx = 0; idx < m.layout().arch.nr_zones(); ++idx) {
      const std::string_view name = m.zone(0, idx).name;
      if (name == c.zone) f.zone_idx = idx;
      names += fmt::format("{}{}", names.empty() ? "" : ", ", name);
    }
    if (!f.zone_idx) {
      return make_error(
          fmt::format("allocations: zone={}: the machine's zones are {}", c.zone, names));
    }
  }
  if (!c.migratetype.empty()) {
    for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
      if (kMigrateTypeNames[mt] == c.migratetype) f.migratetype = mt;
    }
    if (!f.migratetype) {
      return make_error(fmt::format(
          "allocations: migratetype={}: one of Unmovable, Movable, Reclaimable, HighAtomic",
          c.migratetype));
    }
  }
  return f;
}

}  // namespace

Reply Service::allocations(const AllocationsCommand& c) {
  AllocationList list;
  {
    Lock lock(this);
    auto filter = allocation_filter(*machine_, c);
    if (!filter) return bad_input(filter.error().message);
    list = machine_->allocations(*filter);
  }
  return protocol::allocations_reply(entries(list.allocations), list.matched);
}

Reply Service::check() {
  CheckReport report;
  {
    Lock lock(this);
    report = machine_->check();
  }
  return protocol::check_reply(report.problems);
}

Reply Service::status() {
  protocol::MachineStatus st;
  std::shared_ptr<const MachineStats> s;
  {
    Lock lock(this);  // one snapshot: the counters and the live allocations agree
    s = stats_locked();
    st.live_allocations = machine_->nr_allocations();
    st.replaying = replay_session_ != 0;
    if (st.replaying) st.replay_holder = replay_holder_;
    st.cmdline = machine_->config().cmdline;
  }
  st.shape = machine_shape(*s);
  st.arch = arch_name(s->arch);
  st.nodes = s->nodes.size();
  st.cpus = s->nr_cpus;
  for (const NodeStats& n : s->nodes) {
    for (const ZoneStats& z : n.zones) {
      st.pgalloc += z.pgalloc;
      st.free_pages += z.free_pages;
      st.zones.push_back(
          {n.nid, z.name, z.start_pfn, z.spanned, z.present, z.managed, z.free_pages});
    }
  }
  st.pgfree = s->pgfree;
  st.extfrag_claims = s->extfrag_claims;
  st.extfrag_steals = s->extfrag_steals;
  st.pid = getpid();
  return protocol::status_reply(st);
}

}  // namespace memd
