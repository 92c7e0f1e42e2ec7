// The command language (protocol/) bound to the core: the GFP vocabulary the
// grammar checks gfp= with, the files by name, the core's allocations in the
// replies' shape. The daemon names the language's types as it always has
// (Command, Reply, Failure, ...): they are protocol/'s.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/gfp.h"
#include "core/machine.h"
#include "core/render.h"
#include "core/result.h"
#include "core/stats.h"
#include "protocol/command.h"
#include "protocol/reply.h"

namespace memd {

using protocol::AllocationsCommand;
using protocol::AllocCommand;
using protocol::announces_raw_bytes;
using protocol::CheckCommand;
using protocol::Command;
using protocol::command_help;
using protocol::Failure;
using protocol::FreeCommand;
using protocol::FreeTarget;
using protocol::HelpCommand;
using protocol::kMaxAllocCount;
using protocol::kMaxCommandBytes;
using protocol::kMaxReplayFrameBytes;
using protocol::kMaxSnapshotBytes;
using protocol::MemoryCommand;
using protocol::ReplayCommand;
using protocol::Reply;
using protocol::ResetCommand;
using protocol::ShowCommand;
using protocol::SnapshotCommand;
using protocol::StatusCommand;
using protocol::SysctlCommand;
using protocol::TraceCommand;

// Parses one line of the command language, gfp= checked with the core's
// parse_gfp (protocol::parse_command with the core's vocabulary).
protocol::Result<Command> parse_command(std::string_view line);

// The flags of an alloc command; the error is parse_command's for a bad gfp=
// (a Command built by other means than parse_command may have one).
Result<Gfp> gfp_of(const AllocCommand& c);

// The file the mount serves under `name` (protocol::kFileNames); nullopt if none.
std::optional<ProcFile> proc_file_named(std::string_view name);

// An allocation of the core as replies show it.
protocol::AllocationEntry allocation_entry(const Allocation& a);

// "x86_64" or "i386".
std::string_view arch_name(Arch arch);
// "x86_64, 4096 MiB in 1 node, 2 CPUs": present memory, nodes and CPUs.
std::string machine_shape(const MachineStats& s);

}  // namespace memd
