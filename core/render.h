// The kernel's memory files, rendered from a MachineStats snapshot: the exact
// bytes Linux 6.18 prints in /proc/{buddyinfo,pagetypeinfo,zoneinfo,vmstat,
// meminfo} and /sys/kernel/debug/extfrag/{extfrag_index,unusable_index}.
//
// Pure functions of the snapshot: they read counters only (never frames or
// free lists), so a 16-node, 4 TiB machine renders in microseconds. Counters
// memd does not model (page cache, slab, reclaim, ...) print 0 in the
// kernel's order; values the kernel derives from modelled state (dirty
// thresholds, MemAvailable, CommitLimit, DirectMap) are derived the same way.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/direct_map.h"
#include "core/stats.h"
#include "core/types.h"

namespace memd {

// The files memd serves, in the order a directory listing shows them.
enum class ProcFile : uint8_t {
  kBuddyinfo,
  kPagetypeinfo,
  kZoneinfo,
  kVmstat,
  kMeminfo,
  kExtfragIndex,
  kUnusableIndex,
  kDmesg,          // the kernel's log (core/kernel_log.h)
  kZonelists,      // memd's own: each node's zonelists (core/machine_files.h)
  kTrace,          // the kmem tracepoints' ring buffer (core/trace_buffer.h)
  kPageblocksSvg,  // memd's own: the pageblock map (core/pageblock_map.h)
};
inline constexpr std::array<ProcFile, 11> kProcFiles = {
    ProcFile::kBuddyinfo, ProcFile::kPagetypeinfo, ProcFile::kZoneinfo,      ProcFile::kVmstat,
    ProcFile::kMeminfo,   ProcFile::kExtfragIndex, ProcFile::kUnusableIndex, ProcFile::kDmesg,
    ProcFile::kZonelists, ProcFile::kTrace,        ProcFile::kPageblocksSvg};
// The files rendered from counters (render() below); the others come from
// the machine itself (core/machine_files.h), pageblocks.svg from the
// counters and a PageblockSnapshot (core/pageblock_map.h).
inline constexpr std::array<ProcFile, 7> kStatsFiles = {
    ProcFile::kBuddyinfo, ProcFile::kPagetypeinfo, ProcFile::kZoneinfo,     ProcFile::kVmstat,
    ProcFile::kMeminfo,   ProcFile::kExtfragIndex, ProcFile::kUnusableIndex};
constexpr bool rendered_from_stats(ProcFile file) {
  return file != ProcFile::kDmesg && file != ProcFile::kZonelists && file != ProcFile::kTrace &&
         file != ProcFile::kPageblocksSvg;
}

// "buddyinfo", ..., "extfrag_index", "unusable_index", ..., "pageblocks.svg".
std::string_view proc_file_name(ProcFile file);
std::optional<ProcFile> proc_file_from_name(std::string_view name);
// The kernel's mode for the file: 0400 for pagetypeinfo (init_mm_internals)
// and trace (tracefs is root's), 0444 for the others (debugfs extfrag files
// are 0444 too).
unsigned proc_file_mode(ProcFile file);

// One of kStatsFiles.
std::string render(ProcFile file, const MachineStats& stats);

std::string render_buddyinfo(const MachineStats& stats);       // frag_show
std::string render_pagetypeinfo(const MachineStats& stats);    // pagetypeinfo_show
std::string render_zoneinfo(const MachineStats& stats);        // zoneinfo_show
std::string render_vmstat(const MachineStats& stats);          // vmstat_show
std::string render_meminfo(const MachineStats& stats);         // meminfo_proc_show
std::string render_extfrag_index(const MachineStats& stats);   // extfrag_show
std::string render_unusable_index(const MachineStats& stats);  // unusable_show

// --- what the files print, piece by piece (the history of a replay, tests) ---

// The zones buddyinfo lists, in its order (frag_show: the populated zones of
// every online node); pagetypeinfo's block table and unusable_index list
// the same zones.
std::vector<const ZoneStats*> populated_zones(const MachineStats& stats);
// The zone's unusable index at `order` exactly as unusable_index prints it
// ("0.123", unusable_show_print's "%d.%03d").
std::string unusable_index_text(const ZoneStats& zone, unsigned order);

// --- values the files derive from the counters (exposed for tests) ---

// The pagetypeinfo walk stops counting a free list at this many entries and
// prints ">100000" (pagetypeinfo_showfree_print).
inline constexpr uint64_t kPagetypeinfoListCap = 100000;

// global_dirty_limits() with vm.dirty_ratio 20, vm.dirty_background_ratio 10
// and no file pages: thresholds in pages.
struct DirtyLimits {
  uint64_t background = 0;  // nr_dirty_background_threshold
  uint64_t dirty = 0;       // nr_dirty_threshold
};
DirtyLimits global_dirty_limits(const MachineStats& stats);

// si_mem_available(), in pages.
uint64_t si_mem_available(const MachineStats& stats);

}  // namespace memd
