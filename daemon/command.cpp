#include "daemon/command.h"

#include "core/types.h"
#include "protocol/files.h"

namespace memd {

// The grammar's limits are the kernel's, as the core has them.
static_assert(protocol::kMaxOrder == kMaxPageOrder);
static_assert(protocol::kMaxNode == kMaxNumNodes - 1);
static_assert(protocol::kFileNames.size() == kProcFiles.size());
// protocol/ names the memory blocks' files, core/ renders them: the same files, in the same order.
constexpr bool memory_block_files_agree() {
  if (protocol::kMemoryBlockFileNames.size() != std::size(kMemoryBlockFiles)) return false;
  for (size_t i = 0; i < std::size(kMemoryBlockFiles); ++i) {
    if (protocol::kMemoryBlockFileNames[i] != memory_block_file_name(kMemoryBlockFiles[i])) {
      return false;
    }
  }
  return true;
}
static_assert(memory_block_files_agree());

namespace {

std::optional<std::string> check_gfp(std::string_view text) {
  auto flags = parse_gfp(text);
  if (!flags) return flags.error().message;
  return std::nullopt;
}

}  // namespace

protocol::Result<Command> parse_command(std::string_view line) {
  return protocol::parse_command(line, check_gfp);
}

Result<Gfp> gfp_of(const AllocCommand& c) {
  auto flags = parse_gfp(c.gfp);
  if (!flags) {
    return make_error(
        protocol::usage_error("alloc", "gfp=" + c.gfp + ": " + flags.error().message).message);
  }
  return flags;
}

std::optional<ProcFile> proc_file_named(std::string_view name) {
  // protocol::kFileNames lists the files in ProcFile's order (checked by
  // tests/daemon/command_test.cpp against the core's own names).
  auto i = protocol::file_index(name);
  if (!i) return std::nullopt;
  return kProcFiles[*i];
}

protocol::AllocationEntry allocation_entry(const Allocation& a) {
  return protocol::AllocationEntry{a.id,        a.pfn, a.order,
                                   a.zone_name, a.nid, kMigrateTypeNames[a.migratetype]};
}

std::string_view arch_name(Arch arch) {
  return arch == Arch::kX86_64 ? "x86_64" : "i386";
}

std::string machine_shape(const MachineStats& s) {
  uint64_t present = 0;
  for (const NodeStats& n : s.nodes) {
    for (const ZoneStats& z : n.zones) {
      present += z.present;
    }
  }
  return protocol::machine_shape(arch_name(s.arch), present * kPageSize >> 20, s.nodes.size(),
                                 s.nr_cpus);
}

}  // namespace memd
