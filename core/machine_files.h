// The files rendered from the machine itself rather than from a counter
// snapshot: `dmesg`, the kernel's log as dmesg(1) prints it, and
// `zonelists`, memd's own view of every node's zonelists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/machine.h"
#include "core/render.h"

namespace memd {

// kDmesg, kZonelists, kTrace or kPageblocksSvg (the daemon takes the
// latter's snapshots under its lock and draws outside it instead).
std::string render_machine_file(ProcFile file, const Machine& machine);

// Two lines per node, zones in the order the allocator tries them, each as
// zone/node:
//   Node 0 fallback: Normal/0 DMA32/0 DMA/0 Normal/1 Movable/1
//   Node 0 nofallback: Normal/0 DMA32/0 DMA/0
// "fallback" is ZONELIST_FALLBACK (every node, by distance), "nofallback"
// ZONELIST_NOFALLBACK (the node's own zones, for __GFP_THISNODE); "(none)"
// for a list without zones.
std::string render_zonelists(const Machine& machine);

// A file of a memory block (memory/memoryN/<file>, core/memory_block.h) as
// the kernel prints it now; nullopt if the machine has no block `block_id`.
std::optional<std::string> render_memory_block_file(const Machine& machine, uint64_t block_id,
                                                    MemoryBlockFile file);

}  // namespace memd
