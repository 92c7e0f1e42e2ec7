// The kernel's memory report after a failed allocation (mm/show_mem.c), as
// warn_alloc_show_mem() asks for it: __show_mem(SHOW_MEM_FILTER_NODES, NULL,
// gfp_zone(gfp)). Rendered from a MachineStats snapshot into the kernel log,
// one record per line. Counters memd does not model (anon, file, slab, swap,
// hugetlb pages, page cache) print 0, as in memd's /proc files.
#pragma once

#include "core/kernel_log.h"
#include "core/stats.h"

namespace memd {

// __show_mem() as warn_alloc_show_mem() calls it: "Mem-Info:", show_free_areas() for
// the zones up to max_zone_idx of the nodes with memory, then the page totals.
// `cpu` is the CPU that failed the allocation (local_pcp). `numa`: CONFIG_NUMA
// (x86_64 true: show_node() prints "Node N "; i386 false).
void show_mem(const MachineStats& stats, unsigned max_zone_idx, int cpu, bool numa, KernelLog* log);

}  // namespace memd
