// The x86 direct mapping of physical memory as init_mem_mapping() builds it
// at boot (arch/x86/mm/init.c, init_64.c, init_32.c): layout work, computed
// from memblock.memory, which meminfo's DirectMap lines report.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "core/types.h"

namespace memd {

// The direct mapping init_mem_mapping() builds at boot: pages of each size
// that kernel_physical_mapping_init() counted (direct_pages_count[]), with
// the kernel's own quirk of counting a 1 GiB (or 2 MiB) page again when a
// later range reuses it. The kernel later splits some large pages around its
// own image (set_memory_ro/nx); memd has no kernel image and does not.
struct DirectMap {
  uint64_t pages_4k = 0;
  uint64_t pages_2m = 0;
  uint64_t pages_1g = 0;
};
// memory: memblock.memory regions in pfns, ascending. end_pfn: max_pfn on
// x86_64, max_low_pfn on i386 (only lowmem is mapped there).
DirectMap direct_map_at_boot(const std::vector<std::pair<Pfn, Pfn>>& memory, Pfn end_pfn, Arch arch,
                             bool gbpages);

}  // namespace memd
