#include "core/render.h"

#include "core/assert.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <iterator>

namespace memd {
namespace {

// Files are formatted straight into the string returned (fmt writes into a
// std::string through back_inserter without an intermediate copy).
using Buf = std::string;

std::string to_string(Buf& buf) {
  return std::move(buf);
}

// Where fmt::format_to appends.
std::back_insert_iterator<Buf> to(Buf* out) {
  return std::back_inserter(*out);
}

void put(Buf* out, std::string_view s) {
  out->append(s);
}

// --- the kernel's names ----------------------------------------------------------------------

// enum zone_stat_item, as vmstat_text[] names it (CONFIG_ZSMALLOC=y,
// CONFIG_UNACCEPTED_MEMORY=n, as on the host-6.18 kernel).
enum ZoneStatItem : uint8_t {
  kNrFreePages,
  kNrFreePagesBlocks,
  kNrFreeCmaPages = 10,
  kNrVmZoneStatItems = 11,
};
constexpr std::array<std::string_view, kNrVmZoneStatItems> kZoneStatNames = {
    "nr_free_pages",
    "nr_free_pages_blocks",
    "nr_zone_inactive_anon",
    "nr_zone_active_anon",
    "nr_zone_inactive_file",
    "nr_zone_active_file",
    "nr_zone_unevictable",
    "nr_zone_write_pending",
    "nr_mlock",
    "nr_zspages",
    "nr_free_cma"};

// enum numa_stat_item (CONFIG_NUMA), in NumaStat order.
constexpr std::array<std::string_view, kNrNumaStats> kNumaStatNames = {
    "numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local", "numa_other"};

// enum node_stat_item (SWAP, IOMMU_SUPPORT, NUMA_BALANCING, HUGETLB_PAGE on;
// SHADOW_CALL_STACK off). memd models none of them: they print 0. (The THP
// items are divided by HPAGE_PMD_NR when printed, which keeps 0 at 0.)
constexpr std::array<std::string_view, 51> kNodeStatNames = {
    "nr_inactive_anon",
    "nr_active_anon",
    "nr_inactive_file",
    "nr_active_file",
    "nr_unevictable",
    "nr_slab_reclaimable",
    "nr_slab_unreclaimable",
    "nr_isolated_anon",
    "nr_isolated_file",
    "workingset_nodes",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "nr_anon_pages",
    "nr_mapped",
    "nr_file_pages",
    "nr_dirty",
    "nr_writeback",
    "nr_shmem",
    "nr_shmem_hugepages",
    "nr_shmem_pmdmapped",
    "nr_file_hugepages",
    "nr_file_pmdmapped",
    "nr_anon_transparent_hugepages",
    "nr_vmscan_write",
    "nr_vmscan_immediate_reclaim",
    "nr_dirtied",
    "nr_written",
    "nr_throttled_written",
    "nr_kernel_misc_reclaimable",
    "nr_foll_pin_acquired",
    "nr_foll_pin_released",
    "nr_kernel_stack",
    "nr_page_table_pages",
    "nr_sec_page_table_pages",
    "nr_iommu_pages",
    "nr_swapcached",
    "pgpromote_success",
    "pgpromote_candidate",
    "pgpromote_candidate_nrl",
    "pgdemote_kswapd",
    "pgdemote_direct",
    "pgdemote_khugepaged",
    "pgdemote_proactive",
    "nr_hugetlb",
    "nr_balloon_pages",
    "nr_kernel_file_pages",
};

// enum vm_event_item from PGACTIVATE on (after the per-zone groups and
// PGFREE), up to the THP group; memd counts none of these.
constexpr std::array<std::string_view, 61> kEventNamesBeforeThp = {
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pgfault",
    "pgmajfault",
    "pglazyfreed",
    "pgrefill",
    "pgreuse",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgsteal_khugepaged",
    "pgsteal_proactive",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgscan_khugepaged",
    "pgscan_proactive",
    "pgscan_direct_throttle",
    "pgscan_anon",
    "pgscan_file",
    "pgsteal_anon",
    "pgsteal_file",
    "zone_reclaim_success",
    "zone_reclaim_failed",
    "pginodesteal",
    "slabs_scanned",
    "kswapd_inodesteal",
    "kswapd_low_wmark_hit_quickly",
    "kswapd_high_wmark_hit_quickly",
    "pageoutrun",
    "pgrotated",
    "drop_pagecache",
    "drop_slab",
    "oom_kill",
    "numa_pte_updates",
    "numa_huge_pte_updates",
    "numa_hint_faults",
    "numa_hint_faults_local",
    "numa_pages_migrated",
    "pgmigrate_success",
    "pgmigrate_fail",
    "thp_migration_success",
    "thp_migration_fail",
    "thp_migration_split",
    "compact_migrate_scanned",
    "compact_free_scanned",
    "compact_isolated",
    "compact_stall",
    "compact_fail",
    "compact_success",
    "compact_daemon_wake",
    "compact_daemon_migrate_scanned",
    "compact_daemon_free_scanned",
    "htlb_buddy_alloc_success",
    "htlb_buddy_alloc_fail",
    "unevictable_pgs_culled",
    "unevictable_pgs_scanned",
    "unevictable_pgs_rescued",
    "unevictable_pgs_mlocked",
    "unevictable_pgs_munlocked",
    "unevictable_pgs_cleared",
    "unevictable_pgs_stranded",
};
// CONFIG_TRANSPARENT_HUGEPAGE; thp_split_pud only with
// CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD (x86_64).
constexpr std::array<std::string_view, 17> kThpEventNamesBeforePud = {
    "thp_fault_alloc",           "thp_fault_fallback",
    "thp_fault_fallback_charge", "thp_collapse_alloc",
    "thp_collapse_alloc_failed", "thp_file_alloc",
    "thp_file_fallback",         "thp_file_fallback_charge",
    "thp_file_mapped",           "thp_split_page",
    "thp_split_page_failed",     "thp_deferred_split_page",
    "thp_underused_split_page",  "thp_split_pmd",
    "thp_scan_exceed_none_pte",  "thp_scan_exceed_swap_pte",
    "thp_scan_exceed_share_pte",
};
constexpr std::array<std::string_view, 4> kThpEventNamesAfterPud = {
    "thp_zero_page_alloc", "thp_zero_page_alloc_failed", "thp_swpout", "thp_swpout_fallback"};
// MEMORY_BALLOON, SWAP, KSM, ZSWAP, X86.
constexpr std::array<std::string_view, 17> kEventNamesTail = {
    "balloon_inflate",
    "balloon_deflate",
    "balloon_migrate",
    "swap_ra",
    "swap_ra_hit",
    "swpin_zero",
    "swpout_zero",
    "ksm_swpin_copy",
    "cow_ksm",
    "zswpin",
    "zswpout",
    "zswpwb",
    "direct_map_level2_splits",
    "direct_map_level3_splits",
    "direct_map_level2_collapses",
    "direct_map_level3_collapses",
    "nr_unstable",  // the deprecated line vmstat_show adds after the last item
};

// The suffix TEXTS_FOR_ZONES() gives a zone's pgalloc/allocstall/pgskip items.
std::string_view zone_event_suffix(ZoneKind kind) {
  switch (kind) {
    case ZoneKind::kDma:
      return "dma";
    case ZoneKind::kDma32:
      return "dma32";
    case ZoneKind::kNormal:
      return "normal";
    case ZoneKind::kHighMem:
      return "high";
    case ZoneKind::kMovable:
      return "movable";
    case ZoneKind::kDevice:
      return "device";
  }
  return "?";
}

// is_highmem(): ZONE_HIGHMEM, and ZONE_MOVABLE when it is carved out of
// HighMem (movable_zone == ZONE_HIGHMEM: i386 with memory above max_low_pfn,
// find_zone_movable_pfns_for_nodes).
bool is_highmem(const MachineStats& s, const ZoneStats& z) {
  if (z.kind == ZoneKind::kHighMem) {
    return true;
  }
  const Pfn max_pfn = s.memblock_memory.empty() ? 0 : s.memblock_memory.back().second;
  return z.kind == ZoneKind::kMovable && s.arch == Arch::kI386 && max_pfn > s.max_low_pfn;
}

// --- walks ---------------------------------------------------------------------------------

// walk_zones_in_node() with assert_populated: the zones the fragmentation
// files print.
template <typename Fn>
void for_each_populated_zone(const NodeStats& node, Fn fn) {
  for (const ZoneStats& z : node.zones) {
    if (z.populated) {
      fn(z);
    }
  }
}

// is_zone_first_populated()
bool is_zone_first_populated(const NodeStats& node, const ZoneStats& zone) {
  for (const ZoneStats& z : node.zones) {
    if (z.populated) {
      return &z == &zone;
    }
  }
  return false;
}

template <typename Fn>
uint64_t sum_zones(const MachineStats& s, Fn value) {
  uint64_t total = 0;
  for (const NodeStats& n : s.nodes) {
    for (const ZoneStats& z : n.zones) {
      total += value(z);
    }
  }
  return total;
}

uint64_t global_free_pages(const MachineStats& s) {
  return sum_zones(s, [](const ZoneStats& z) { return z.free_pages; });
}

uint64_t zone_stat(const ZoneStats& z, unsigned item) {
  switch (item) {
    case kNrFreePages:
      return z.free_pages;
    case kNrFreePagesBlocks:
      return z.free_pages_blocks;
    case kNrFreeCmaPages:
      return z.free_cma;
    default:
      return 0;
  }
}

// --- buddyinfo -----------------------------------------------------------------------------

// frag_show_print()
void buddyinfo_zone(Buf* out, const ZoneStats& z) {
  fmt::format_to(to(out), FMT_COMPILE("Node {}, zone {:>8} "), z.nid, z.name);
  for (uint64_t n : z.nr_free) {
    fmt::format_to(to(out), FMT_COMPILE("{:>6} "), n);
  }
  out->push_back('\n');
}

// --- pagetypeinfo ----------------------------------------------------------------------------

// pagetypeinfo_showfree_print(): the list walk stops at 100000 entries.
void pagetypeinfo_free_zone(Buf* out, const ZoneStats& z) {
  for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
    fmt::format_to(to(out), FMT_COMPILE("Node {:>4}, zone {:>8}, type {:>12} "), z.nid, z.name,
                   kMigrateTypeNames[mt]);
    for (unsigned o = 0; o < kNrPageOrders; ++o) {
      uint64_t n = z.nr_free_by_type[o][mt];
      if (n >= kPagetypeinfoListCap) {
        fmt::format_to(to(out), FMT_COMPILE(">{:>6} "), kPagetypeinfoListCap);
      } else {
        fmt::format_to(to(out), FMT_COMPILE("{:>6} "), n);
      }
    }
    out->push_back('\n');
  }
}

// pagetypeinfo_showfree()
void pagetypeinfo_free(Buf* out, const NodeStats& node) {
  fmt::format_to(to(out), FMT_COMPILE("{:<43} "), "Free pages count per migrate type at order");
  for (unsigned o = 0; o < kNrPageOrders; ++o) {
    fmt::format_to(to(out), FMT_COMPILE("{:>6} "), o);
  }
  out->push_back('\n');
  for_each_populated_zone(node, [&](const ZoneStats& z) { pagetypeinfo_free_zone(out, z); });
}

// pagetypeinfo_showblockcount(): the counts are kept by the allocator
// (ZoneStats::block_count) instead of walking the pageblocks.
void pagetypeinfo_blocks(Buf* out, const NodeStats& node) {
  fmt::format_to(to(out), FMT_COMPILE("\n{:<23}"), "Number of blocks type ");
  for (std::string_view name : kMigrateTypeNames) {
    fmt::format_to(to(out), FMT_COMPILE("{:>12} "), name);
  }
  out->push_back('\n');
  for_each_populated_zone(node, [&](const ZoneStats& z) {
    fmt::format_to(to(out), FMT_COMPILE("Node {}, zone {:>8} "), z.nid, z.name);
    for (uint64_t n : z.block_count) {
      fmt::format_to(to(out), FMT_COMPILE("{:>12} "), n);
    }
    out->push_back('\n');
  });
}

// pagetypeinfo_show(): nothing for a node without memory.
void pagetypeinfo_node(Buf* out, const MachineStats& s, const NodeStats& node) {
  if (!node.has_memory) {
    return;
  }
  fmt::format_to(to(out), FMT_COMPILE("Page block order: {}\nPages per block:  {}\n\n"),
                 s.pageblock_order, uint64_t{1} << s.pageblock_order);
  pagetypeinfo_free(out, node);
  pagetypeinfo_blocks(out, node);
}

// --- zoneinfo --------------------------------------------------------------------------------

void stat_line(Buf* out, std::string_view name, uint64_t value) {
  fmt::format_to(to(out), FMT_COMPILE("\n      {:<12} {}"), name, value);
}

// The "per-node stats" block: every node_stat_item, none modelled.
void zoneinfo_node_stats(Buf* out) {
  put(out, "\n  per-node stats");
  for (std::string_view name : kNodeStatNames) {
    stat_line(out, name, 0);
  }
}

// The lines every zone prints, populated or not, up to "protection".
void zoneinfo_sizes(Buf* out, const ZoneStats& z) {
  auto wmark = [&](Wmark w) { return z.watermark[w] + z.boost; };
  fmt::format_to(to(out),
                 FMT_COMPILE("\n  pages free     {}\n        boost    {}\n        min      {}"
                             "\n        low      {}\n        high     {}\n        promo    {}"
                             "\n        spanned  {}\n        present  {}\n        managed  {}"
                             "\n        cma      {}"),
                 z.free_pages, z.boost, wmark(kWmarkMin), wmark(kWmarkLow), wmark(kWmarkHigh),
                 wmark(kWmarkPromo), z.spanned, z.present, z.managed, z.cma);
  fmt::format_to(to(out), FMT_COMPILE("\n        protection: ({}"),
                 z.lowmem_reserve.empty() ? 0 : z.lowmem_reserve[0]);
  for (size_t i = 1; i < z.lowmem_reserve.size(); ++i) {
    fmt::format_to(to(out), FMT_COMPILE(", {}"), z.lowmem_reserve[i]);
  }
  out->push_back(')');
}

// The pagesets of every online CPU, each with the zone's stat threshold.
void zoneinfo_pagesets(Buf* out, const ZoneStats& z) {
  put(out, "\n  pagesets");
  for (size_t cpu = 0; cpu < z.pcp.size(); ++cpu) {
    const PcpStats& p = z.pcp[cpu];
    fmt::format_to(
        to(out),
        FMT_COMPILE("\n    cpu: {}\n              count:    {}\n              high:     {}"
                    "\n              batch:    {}\n              high_min: {}"
                    "\n              high_max: {}\n  vm stats threshold: {}"),
        cpu, p.count, p.high, p.batch, p.high_min, p.high_max, z.stat_threshold);
  }
}

// zoneinfo_show_print()
void zoneinfo_zone(Buf* out, const NodeStats& node, const ZoneStats& z) {
  fmt::format_to(to(out), FMT_COMPILE("Node {}, zone {:>8}"), node.nid, z.name);
  if (is_zone_first_populated(node, z)) {
    zoneinfo_node_stats(out);
  }
  zoneinfo_sizes(out, z);
  if (!z.populated) {
    out->push_back('\n');
    return;
  }
  for (unsigned i = 0; i < kNrVmZoneStatItems; ++i) {
    stat_line(out, kZoneStatNames[i], zone_stat(z, i));
  }
  for (unsigned i = 0; i < kNrNumaStats; ++i) {
    stat_line(out, kNumaStatNames[i], z.numa[i]);
  }
  zoneinfo_pagesets(out, z);
  // node_unreclaimable: kswapd_failures never reach MAX_RECLAIM_RETRIES in memd.
  fmt::format_to(to(out), FMT_COMPILE("\n  node_unreclaimable:  {}\n  start_pfn:           {}\n"),
                 0, z.start_pfn);
}

// --- vmstat ----------------------------------------------------------------------------------

void vmstat_line(Buf* out, std::string_view name, uint64_t value) {
  fmt::format_to(to(out), FMT_COMPILE("{} {}\n"), name, value);
}

template <size_t N>
void vmstat_zero_lines(Buf* out, const std::array<std::string_view, N>& names) {
  for (std::string_view name : names) {
    vmstat_line(out, name, 0);
  }
}

// The events memd counts among kEventNamesBeforeThp: migration's
// (migrate_pages(): pages, and THP-sized folios), 0 for the others.
uint64_t counted_event(const MachineStats& s, std::string_view name) {
  if (name == "pgmigrate_success") return s.pgmigrate_success;
  if (name == "pgmigrate_fail") return s.pgmigrate_fail;
  if (name == "thp_migration_success") return s.thp_migration_success;
  if (name == "thp_migration_fail") return s.thp_migration_fail;
  return 0;
}

// The zone kinds of the layout, in zone_idx order (every node has them all).
std::vector<ZoneKind> zone_kinds(const MachineStats& s) {
  std::vector<ZoneKind> kinds;
  if (!s.nodes.empty()) {
    for (const ZoneStats& z : s.nodes.front().zones) {
      kinds.push_back(z.kind);
    }
  }
  return kinds;
}

// PGALLOC_<zone> summed over nodes.
uint64_t pgalloc(const MachineStats& s, unsigned idx) {
  uint64_t total = 0;
  for (const NodeStats& n : s.nodes) {
    total += idx < n.zones.size() ? n.zones[idx].pgalloc : 0;
  }
  return total;
}

// The vm_event_item part of vmstat_text[] (all_vm_events).
void vmstat_events(Buf* out, const MachineStats& s) {
  const std::vector<ZoneKind> kinds = zone_kinds(s);
  vmstat_zero_lines(out, std::array<std::string_view, 4>{"pgpgin", "pgpgout", "pswpin", "pswpout"});
  for (unsigned i = 0; i < kinds.size(); ++i) {
    fmt::format_to(to(out), FMT_COMPILE("pgalloc_{} {}\n"), zone_event_suffix(kinds[i]),
                   pgalloc(s, i));
  }
  for (std::string_view group : {"allocstall", "pgskip"}) {
    for (ZoneKind kind : kinds) {
      fmt::format_to(to(out), FMT_COMPILE("{}_{} 0\n"), group, zone_event_suffix(kind));
    }
  }
  vmstat_line(out, "pgfree", s.pgfree);
  for (std::string_view name : kEventNamesBeforeThp) {
    vmstat_line(out, name, counted_event(s, name));
  }
  if (s.thp_configured) {
    vmstat_zero_lines(out, kThpEventNamesBeforePud);
    if (s.arch == Arch::kX86_64) {
      vmstat_line(out, "thp_split_pud", 0);
    }
    vmstat_zero_lines(out, kThpEventNamesAfterPud);
  }
  vmstat_zero_lines(out, kEventNamesTail);
}

// --- meminfo ---------------------------------------------------------------------------------

// show_val_kb(): pages as kB, right-aligned in 8 columns.
void kb_line(Buf* out, std::string_view label, uint64_t pages) {
  fmt::format_to(to(out), FMT_COMPILE("{}{:>8} kB\n"), label, pages << (kPageShift - 10));
}

struct HighmemInfo {
  uint64_t total = 0;  // totalhigh_pages()
  uint64_t free = 0;   // nr_free_highpages()
};

HighmemInfo highmem_info(const MachineStats& s) {
  HighmemInfo h;
  for (const NodeStats& n : s.nodes) {
    for (const ZoneStats& z : n.zones) {
      if (!is_highmem(s, z)) {
        continue;
      }
      h.total += z.managed;
      h.free += z.free_pages;
    }
  }
  return h;
}

// vm_commit_limit(): overcommit_ratio 50, no hugetlb pages, no swap.
uint64_t vm_commit_limit(const MachineStats& s) {
  return s.totalram_pages * 50 / 100;
}

// VMALLOC_TOTAL >> 10. x86_64 with 4-level paging: VMALLOC_SIZE_TB 32, the
// area ending one byte short. i386 (3G/1G split, PAE, HIGHMEM): from
// VMALLOC_START = high_memory + 8 MiB (rounded to 8 MiB) up to a VMALLOC_END
// of 0xff7fe000 (PKMAP_BASE - 2 pages), which depends on the fixmap size of
// the kernel's configuration; memd assumes 0xff800000 for PKMAP_BASE.
uint64_t vmalloc_total_kb(const MachineStats& s) {
  if (s.arch == Arch::kX86_64) {
    return ((uint64_t{32} << 40) - 1) >> 10;
  }
  constexpr uint64_t kPageOffset = 0xc0000000, kVmallocOffset = 8ULL << 20;
  constexpr uint64_t kVmallocEnd = 0xff800000 - 2 * kPageSize;
  const uint64_t high_memory = kPageOffset + (s.max_low_pfn << kPageShift);
  const uint64_t start = (high_memory + kVmallocOffset) & ~(kVmallocOffset - 1);
  return start < kVmallocEnd ? (kVmallocEnd - start) >> 10 : 0;
}

// meminfo_proc_show() up to Mlocked, with the CONFIG_HIGHMEM lines.
void meminfo_memory(Buf* out, const MachineStats& s) {
  const uint64_t free = global_free_pages(s);
  kb_line(out, "MemTotal:       ", s.totalram_pages);
  kb_line(out, "MemFree:        ", free);
  kb_line(out, "MemAvailable:   ", si_mem_available(s));
  for (std::string_view label :
       {"Buffers:        ", "Cached:         ", "SwapCached:     ", "Active:         ",
        "Inactive:       ", "Active(anon):   ", "Inactive(anon): ", "Active(file):   ",
        "Inactive(file): ", "Unevictable:    ", "Mlocked:        "}) {
    kb_line(out, label, 0);
  }
  if (s.arch == Arch::kI386) {
    const HighmemInfo h = highmem_info(s);
    kb_line(out, "HighTotal:      ", h.total);
    kb_line(out, "HighFree:       ", h.free);
    kb_line(out, "LowTotal:       ", s.totalram_pages - h.total);
    kb_line(out, "LowFree:        ", free - h.free);
  }
}

// From SwapTotal to Percpu: nothing memd models but CommitLimit and VmallocTotal.
void meminfo_kernel(Buf* out, const MachineStats& s) {
  for (std::string_view label :
       {"SwapTotal:      ", "SwapFree:       ", "Zswap:          ", "Zswapped:       ",
        "Dirty:          ", "Writeback:      ", "AnonPages:      ", "Mapped:         ",
        "Shmem:          ", "KReclaimable:   ", "Slab:           ", "SReclaimable:   ",
        "SUnreclaim:     ", "KernelStack:    ", "PageTables:     ", "SecPageTables:  ",
        "NFS_Unstable:   ", "Bounce:         ", "WritebackTmp:   "}) {
    kb_line(out, label, 0);
  }
  kb_line(out, "CommitLimit:    ", vm_commit_limit(s));
  kb_line(out, "Committed_AS:   ", 0);
  fmt::format_to(to(out), FMT_COMPILE("VmallocTotal:   {:>8} kB\n"), vmalloc_total_kb(s));
  kb_line(out, "VmallocUsed:    ", 0);
  kb_line(out, "VmallocChunk:   ", 0);
  kb_line(out, "Percpu:         ", 0);
}

// The THP lines (CONFIG_TRANSPARENT_HUGEPAGE), Balloon, hugetlb_report_meminfo().
void meminfo_huge(Buf* out, const MachineStats& s) {
  if (s.thp_configured) {
    for (std::string_view label : {"AnonHugePages:  ", "ShmemHugePages: ", "ShmemPmdMapped: ",
                                   "FileHugePages:  ", "FilePmdMapped:  "}) {
      kb_line(out, label, 0);
    }
  }
  kb_line(out, "Balloon:        ", 0);
  // The default hstate is the PMD size, 2 MiB on x86_64 and on PAE i386.
  fmt::format_to(to(out),
                 FMT_COMPILE("HugePages_Total:   {:>5}\nHugePages_Free:    {:>5}\n"
                             "HugePages_Rsvd:    {:>5}\nHugePages_Surp:    {:>5}\n"
                             "Hugepagesize:   {:>8} kB\nHugetlb:        {:>8} kB\n"),
                 0, 0, 0, 0, (uint64_t{1} << (kHpagePmdOrder + kPageShift)) >> 10, 0);
}

// arch_report_meminfo() (arch/x86/mm/pat/set_memory.c).
void meminfo_direct_map(Buf* out, const MachineStats& s) {
  const Pfn end = s.arch == Arch::kX86_64
                      ? (s.memblock_memory.empty() ? 0 : s.memblock_memory.back().second)
                      : s.max_low_pfn;
  const DirectMap d =
      direct_map_after_boot(direct_map_at_boot(s.memblock_memory, end, s.arch, s.direct_gbpages),
                            boot_splits(s.arch, s.nodes.size()));
  fmt::format_to(to(out), FMT_COMPILE("DirectMap4k:    {:>8} kB\nDirectMap2M:    {:>8} kB\n"),
                 d.pages_4k << 2, d.pages_2m << 11);
  if (s.direct_gbpages) {
    fmt::format_to(to(out), FMT_COMPILE("DirectMap1G:    {:>8} kB\n"), d.pages_1g << 20);
  }
}

// --- extfrag ---------------------------------------------------------------------------------

// struct contig_page_info, filled by fill_contig_page_info().
struct ContigPageInfo {
  uint64_t free_pages = 0;
  uint64_t free_blocks_total = 0;
  uint64_t free_blocks_suitable = 0;
};

ContigPageInfo fill_contig_page_info(const ZoneStats& z, unsigned suitable_order) {
  ContigPageInfo info;
  for (unsigned o = 0; o < kNrPageOrders; ++o) {
    const uint64_t blocks = z.nr_free[o];
    info.free_blocks_total += blocks;
    info.free_pages += blocks << o;
    if (o >= suitable_order) {
      info.free_blocks_suitable += blocks << (o - suitable_order);
    }
  }
  return info;
}

// unusable_free_index()
int unusable_free_index(unsigned order, const ContigPageInfo& info) {
  if (info.free_pages == 0) {
    return 1000;
  }
  return static_cast<int>((info.free_pages - (info.free_blocks_suitable << order)) * 1000 /
                          info.free_pages);
}

// __fragmentation_index()
int fragmentation_index(unsigned order, const ContigPageInfo& info) {
  const uint64_t requested = uint64_t{1} << order;
  if (info.free_blocks_total == 0) {
    return 0;
  }
  if (info.free_blocks_suitable != 0) {
    return -1000;
  }
  return 1000 -
         static_cast<int>((1000 + info.free_pages * 1000 / requested) / info.free_blocks_total);
}

// One index in thousandths: unusable_show_print()'s "%d.%03d" and
// extfrag_show_print()'s "%2d.%03d" (`pad`).
void put_index(Buf* out, int i, bool pad) {
  if (pad) {
    fmt::format_to(to(out), FMT_COMPILE("{:>2}.{:03}"), i / 1000, i % 1000);
  } else {
    fmt::format_to(to(out), FMT_COMPILE("{}.{:03}"), i / 1000, i % 1000);
  }
}

// unusable_show_print() and extfrag_show_print(): the zone, then each order's index and a blank.
template <typename Index>
void extfrag_zone(Buf* out, const ZoneStats& z, bool pad, Index index) {
  fmt::format_to(to(out), FMT_COMPILE("Node {}, zone {:>8} "), z.nid, z.name);
  for (unsigned o = 0; o < kNrPageOrders; ++o) {
    put_index(out, index(o, fill_contig_page_info(z, o)), pad);
    out->push_back(' ');
  }
  out->push_back('\n');
}

}  // namespace

// --- public ----------------------------------------------------------------------------------

std::string_view proc_file_name(ProcFile file) {
  switch (file) {
    case ProcFile::kBuddyinfo:
      return "buddyinfo";
    case ProcFile::kPagetypeinfo:
      return "pagetypeinfo";
    case ProcFile::kZoneinfo:
      return "zoneinfo";
    case ProcFile::kVmstat:
      return "vmstat";
    case ProcFile::kMeminfo:
      return "meminfo";
    case ProcFile::kExtfragIndex:
      return "extfrag_index";
    case ProcFile::kUnusableIndex:
      return "unusable_index";
    case ProcFile::kDmesg:
      return "dmesg";
    case ProcFile::kZonelists:
      return "zonelists";
    case ProcFile::kTrace:
      return "trace";
    case ProcFile::kPageblocksSvg:
      return "pageblocks.svg";
  }
  return "?";
}

std::optional<ProcFile> proc_file_from_name(std::string_view name) {
  for (ProcFile f : kProcFiles) {
    if (proc_file_name(f) == name) {
      return f;
    }
  }
  return std::nullopt;
}

unsigned proc_file_mode(ProcFile file) {
  return file == ProcFile::kPagetypeinfo || file == ProcFile::kTrace ? 0400 : 0444;
}

std::string render(ProcFile file, const MachineStats& stats) {
  switch (file) {
    case ProcFile::kBuddyinfo:
      return render_buddyinfo(stats);
    case ProcFile::kPagetypeinfo:
      return render_pagetypeinfo(stats);
    case ProcFile::kZoneinfo:
      return render_zoneinfo(stats);
    case ProcFile::kVmstat:
      return render_vmstat(stats);
    case ProcFile::kMeminfo:
      return render_meminfo(stats);
    case ProcFile::kExtfragIndex:
      return render_extfrag_index(stats);
    case ProcFile::kUnusableIndex:
      return render_unusable_index(stats);
    case ProcFile::kDmesg:
    case ProcFile::kZonelists:
    case ProcFile::kTrace:
    case ProcFile::kPageblocksSvg:
      MEMD_ASSERT(!"rendered from the machine, not from counters");
      break;
  }
  return {};
}

// frag_show(): populated zones of every online node.
std::string render_buddyinfo(const MachineStats& s) {
  Buf out;
  for (const ZoneStats* z : populated_zones(s)) {
    buddyinfo_zone(&out, *z);
  }
  return to_string(out);
}

std::vector<const ZoneStats*> populated_zones(const MachineStats& s) {
  std::vector<const ZoneStats*> zones;
  for (const NodeStats& n : s.nodes) {
    for_each_populated_zone(n, [&](const ZoneStats& z) { zones.push_back(&z); });
  }
  return zones;
}

std::string unusable_index_text(const ZoneStats& zone, unsigned order) {
  Buf out;
  put_index(&out, unusable_free_index(order, fill_contig_page_info(zone, order)), false);
  return to_string(out);
}

// pagetypeinfo_show() for every online node.
std::string render_pagetypeinfo(const MachineStats& s) {
  Buf out;
  for (const NodeStats& n : s.nodes) {
    pagetypeinfo_node(&out, s, n);
  }
  return to_string(out);
}

// zoneinfo_show(): every zone of every online node, populated or not.
std::string render_zoneinfo(const MachineStats& s) {
  Buf out;
  // About 300 bytes per zone, 2 KiB more per populated zone (node and zone
  // stats) and 160 per pageset: one allocation for the whole file.
  size_t zones = 0, populated = 0;
  for (const NodeStats& n : s.nodes) {
    zones += n.zones.size();
    for_each_populated_zone(n, [&](const ZoneStats&) { ++populated; });
  }
  out.reserve(zones * 300 + populated * (2048 + 160 * static_cast<size_t>(s.nr_cpus)));
  for (const NodeStats& n : s.nodes) {
    for (const ZoneStats& z : n.zones) {
      zoneinfo_zone(&out, n, z);
    }
  }
  return to_string(out);
}

// vmstat_start() + vmstat_show(): zone items, NUMA events, node items, the
// vm_stat items, the events, then "nr_unstable 0".
std::string render_vmstat(const MachineStats& s) {
  Buf out;
  for (unsigned i = 0; i < kNrVmZoneStatItems; ++i) {
    vmstat_line(&out, kZoneStatNames[i],
                sum_zones(s, [i](const ZoneStats& z) { return zone_stat(z, i); }));
  }
  for (unsigned i = 0; i < kNrNumaStats; ++i) {
    vmstat_line(&out, kNumaStatNames[i],
                sum_zones(s, [i](const ZoneStats& z) { return z.numa[i]; }));
  }
  vmstat_zero_lines(&out, kNodeStatNames);
  const DirtyLimits dirty = global_dirty_limits(s);
  vmstat_line(&out, "nr_dirty_threshold", dirty.dirty);
  vmstat_line(&out, "nr_dirty_background_threshold", dirty.background);
  vmstat_line(&out, "nr_memmap_pages", s.nr_memmap_pages);
  vmstat_line(&out, "nr_memmap_boot_pages", s.nr_memmap_boot_pages);
  vmstat_events(&out, s);
  return to_string(out);
}

// meminfo_proc_show(), hugetlb_report_meminfo(), arch_report_meminfo().
std::string render_meminfo(const MachineStats& s) {
  Buf out;
  meminfo_memory(&out, s);
  meminfo_kernel(&out, s);
  meminfo_huge(&out, s);
  meminfo_direct_map(&out, s);
  return to_string(out);
}

// extfrag_show(): populated zones of every online node.
std::string render_extfrag_index(const MachineStats& s) {
  Buf out;
  for (const NodeStats& n : s.nodes) {
    for_each_populated_zone(
        n, [&](const ZoneStats& z) { extfrag_zone(&out, z, true, fragmentation_index); });
  }
  return to_string(out);
}

// unusable_show(): populated zones of nodes with memory.
std::string render_unusable_index(const MachineStats& s) {
  Buf out;
  for (const NodeStats& n : s.nodes) {
    if (!n.has_memory) {
      continue;
    }
    for_each_populated_zone(
        n, [&](const ZoneStats& z) { extfrag_zone(&out, z, false, unusable_free_index); });
  }
  return to_string(out);
}

// global_dirty_limits() -> global_dirtyable_memory() + domain_dirty_limits():
// dirtyable = free - totalreserve (+ file pages, 0 here) - free highmem above
// its high watermark, + 1; dirty_ratio 20 and dirty_background_ratio 10 are
// applied in 1/PAGE_SIZE units.
DirtyLimits global_dirty_limits(const MachineStats& s) {
  uint64_t x = global_free_pages(s);
  x -= std::min(x, s.totalreserve_pages);
  uint64_t highmem = 0;  // highmem_dirtyable_memory(), vm_highmem_is_dirtyable = 0
  for (const NodeStats& n : s.nodes) {
    for (const ZoneStats& z : n.zones) {
      if (!is_highmem(s, z) || !z.populated) {
        continue;
      }
      highmem += z.free_pages - std::min(z.free_pages, z.watermark[kWmarkHigh] + z.boost);
    }
  }
  x -= std::min(highmem, x);
  const uint64_t avail = x + 1;
  const uint64_t ratio = 20 * kPageSize / 100, bg_ratio = 10 * kPageSize / 100;
  DirtyLimits d;
  d.dirty = std::min<uint64_t>(ratio * avail / kPageSize, UINT_MAX);
  d.background = bg_ratio * avail / kPageSize;
  if (d.background >= d.dirty) {
    d.background = d.dirty / 2;
  }
  return d;
}

// si_mem_available(): free pages above the reserves, plus the page cache and
// reclaimable slab beyond what must stay (both 0 in memd).
uint64_t si_mem_available(const MachineStats& s) {
  const uint64_t wmark_low =
      sum_zones(s, [](const ZoneStats& z) { return z.watermark[kWmarkLow] + z.boost; });
  int64_t available =
      static_cast<int64_t>(global_free_pages(s)) - static_cast<int64_t>(s.totalreserve_pages);
  const uint64_t pagecache = 0, reclaimable = 0;
  available += static_cast<int64_t>(pagecache - std::min(pagecache / 2, wmark_low));
  available += static_cast<int64_t>(reclaimable - std::min(reclaimable / 2, wmark_low));
  return available < 0 ? 0 : static_cast<uint64_t>(available);
}

}  // namespace memd
