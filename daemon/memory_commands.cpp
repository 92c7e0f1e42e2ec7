// Memory blocks going offline and online: the `memory` command (socket and
// control file) and writes to the mount's memory/memoryN/state and online,
// which the kernel's state_store() and online_store() take.
#include <cerrno>

#include <fmt/format.h>

#include "daemon/service.h"

namespace memd {

using protocol::bad_input;

namespace {

// The failure a front end reports for the kernel's errno: EINVAL (the block
// is already in that state, has holes, spans zones; no such block) is bad
// input, EBUSY busy, EINTR interrupted.
Failure failure_for(int error) {
  switch (error) {
    case EBUSY:
      return Failure::kBusy;
    case EINTR:
      return Failure::kInterrupted;
    default:
      return Failure::kBadInput;
  }
}

// What the kernel would print when offline_pages()'s pr_debug lines are on:
// "Offlined Pages 32768", "memory offlining [mem ...] failed due to ...";
// an EINVAL without a kernel line (already offline, several zones) says why.
std::string kernel_line(const HotplugResult& r, bool offline) {
  if (r.ok() || r.reason == "memory holes" || r.error == EBUSY || r.error == EINTR) {
    return r.message(offline);
  }
  return r.reason;
}

OnlineType online_type(MemoryCommand::Zone zone) {
  switch (zone) {
    case MemoryCommand::Zone::kKernel:
      return OnlineType::kOnlineKernel;
    case MemoryCommand::Zone::kMovable:
      return OnlineType::kOnlineMovable;
    case MemoryCommand::Zone::kDefault:
      break;
  }
  return OnlineType::kOnline;
}

Reply memory_reply_for(const MemoryCommand& c, const HotplugResult& r) {
  const bool offline = c.op == MemoryCommand::Op::kOffline;
  if (!r.ok()) {
    std::string message = fmt::format("memory {} block={}: {}", offline ? "offline" : "online",
                                      c.block, kernel_line(r, offline));
    if (r.migrated_allocations > 0) {
      message += fmt::format(" ({} allocations, {} pages, migrated before it gave up)",
                             r.migrated_allocations, r.migrated_pages);
    }
    return protocol::memory_failure_reply(failure_for(r.error), std::move(message));
  }
  protocol::MemoryBlockChange change;
  change.block = c.block;
  change.offline = offline;
  change.zone = r.zone_name;
  change.pages = r.nr_pages;
  change.migrated = r.migrated_allocations;
  change.migrated_pages = r.migrated_pages;
  change.message = r.message(offline);
  return protocol::memory_reply(change);
}

// mhp_online_type_from_str() with sysfs_streq(): the four words, a
// trailing newline allowed.
std::optional<MemoryCommand> state_command(std::string_view value, uint64_t block) {
  if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
  MemoryCommand c;
  c.block = block;
  c.op = MemoryCommand::Op::kOnline;
  if (value == "offline") {
    c.op = MemoryCommand::Op::kOffline;
  } else if (value == "online_kernel") {
    c.zone = MemoryCommand::Zone::kKernel;
  } else if (value == "online_movable") {
    c.zone = MemoryCommand::Zone::kMovable;
  } else if (value != "online") {
    return std::nullopt;
  }
  return c;
}

// kstrtobool(): y/Y/1 true, n/N/0 false, on/off; nullopt otherwise.
std::optional<bool> kstrtobool(std::string_view s) {
  if (s.empty()) return std::nullopt;
  switch (s[0]) {
    case 'y':
    case 'Y':
    case '1':
      return true;
    case 'n':
    case 'N':
    case '0':
      return false;
    case 'o':
    case 'O':
      if (s.size() > 1 && (s[1] == 'n' || s[1] == 'N')) return true;
      if (s.size() > 1 && (s[1] == 'f' || s[1] == 'F')) return false;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

HotplugResult Service::memory_locked(const MemoryCommand& c, const Client& client) {
  act_for_locked(client);
  HotplugResult r = c.op == MemoryCommand::Op::kOffline
                        ? machine_->offline_block(c.block)
                        : machine_->online_block(c.block, online_type(c.zone));
  changed_locked();  // a failed offline still drains the zone's pcp lists
  return r;
}

Reply Service::memory(const MemoryCommand& c, const Client& client) {
  HotplugResult r;
  {
    Lock lock(this);
    r = memory_locked(c, client);
  }
  wake_trace_readers();
  return memory_reply_for(c, r);
}

// state_store(): the word decides; a block already in the asked state is
// EINVAL. online_store() (device_online/device_offline): 1 brings an
// offline block online with the default type, 0 takes an online one
// offline, and either is a quiet success when the block is already so.
Reply Service::write_memory_block(uint64_t block, MemoryBlockFile file, std::string_view value,
                                  const Client& client) {
  std::optional<MemoryCommand> c;
  if (file == MemoryBlockFile::kState) {
    c = state_command(value, block);
    if (!c) {
      return bad_input(
          fmt::format("memory{}/state: '{}': not offline, online, online_kernel or "
                      "online_movable",
                      block, value.substr(0, value.find('\n'))));
    }
    return memory(*c, client);
  }
  const std::optional<bool> on = kstrtobool(value);
  if (!on) {
    return bad_input(
        fmt::format("memory{}/online: '{}': not 0 or 1", block, value.substr(0, value.find('\n'))));
  }
  MemoryCommand cmd;
  cmd.block = block;
  cmd.op = *on ? MemoryCommand::Op::kOnline : MemoryCommand::Op::kOffline;
  HotplugResult r;
  {
    Lock lock(this);
    const MemoryBlock* b = machine_->memory_blocks().find(block);
    if (b && (b->state == MemoryBlockState::kOnline) == *on) return protocol::text_reply("");
    r = memory_locked(cmd, client);
  }
  wake_trace_readers();
  return memory_reply_for(cmd, r);
}

}  // namespace memd
