// The x86 direct mapping of physical memory as init_mem_mapping() builds it
// at boot (arch/x86/mm/init.c, init_64.c, init_32.c): layout work, computed
// from memblock.memory, which meminfo's DirectMap lines report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/types.h"

namespace memd {

// The direct mapping init_mem_mapping() builds at boot: pages of each size
// that kernel_physical_mapping_init() counted (direct_pages_count[]), with
// the kernel's own quirk of counting a 1 GiB (or 2 MiB) page again when a
// later range reuses it. direct_map_after_boot() then applies the splits the
// rest of the boot makes.
struct DirectMap {
  uint64_t pages_4k = 0;
  uint64_t pages_2m = 0;
  uint64_t pages_1g = 0;
};
// memory: memblock.memory regions in pfns, ascending. end_pfn: max_pfn on
// x86_64, max_low_pfn on i386 (only lowmem is mapped there).
DirectMap direct_map_at_boot(const std::vector<std::pair<Pfn, Pfn>>& memory, Pfn end_pfn, Arch arch,
                             bool gbpages);

// The 2 MiB pages the x86_64 kernel splits into 4k pages between
// init_mem_mapping() and /init (arch/x86/mm/pat/set_memory.c): each
// __split_large_page() of an address virt_addr_valid() accepts moves one
// page of direct_pages_count[PG_LEVEL_2M] to 512 of [PG_LEVEL_4K], whether
// the page split is in the direct map or in the kernel image's own mapping
// (__START_KERNEL_map), which aliases it. Worked out from the kernel's code
// and checked on a Debian 6.1 kernel under qemu against its page tables
// (docs/kernel-fidelity.md, "meminfo's DirectMap lines"):
//  - the kernel image, 8: in the image mapping the 2 MiB page holding _etext
//    (mark_rodata_ro's set_memory_nx from _etext), the one holding
//    __end_rodata (the rodata/data gap's set_memory_rw), the one holding
//    idt_table (idt_setup_apic_and_irq_gates' set_memory_ro of one page),
//    the one holding __init_begin (free_initmem's set_memory_nx) and the one
//    holding __start_bss_decrypted_unused (mem_encrypt_free_decrypted_mem);
//    in the direct map, through cpa_process_alias(), the pages holding
//    _etext and __end_rodata (set_memory_rw of the gaps after mark_rodata_ro
//    made them read-only) and idt_table.
//  - the BPF program pack, 2 per node: the JIT of the PTP classifier
//    (sock_init, NETWORK_PHY_TIMESTAMPING=y) allocates a pack of
//    2 MiB x num_possible_nodes() of order-0 pages, interleaved over the
//    nodes during boot, and makes it read-only: each 2 MiB page of the
//    direct map holding one of its pages is split. Where the pages lie
//    depends on the free lists at that moment; 2 per node is what a node's
//    512 pages take most often (the captures: 2 or 3 for one node).
inline constexpr uint64_t kKernelImageSplits = 8;
inline constexpr uint64_t kBpfPackSplitsPerNode = 2;
// The splits above for a machine of `nodes` nodes (none on i386, whose
// kernel has no separate image mapping and is not modelled).
uint64_t boot_splits(Arch arch, size_t nodes);
// `boot` after `splits` 2 MiB pages were split into 4k pages (as many as it has).
DirectMap direct_map_after_boot(DirectMap boot, uint64_t splits);

}  // namespace memd
