// __show_mem() (mm/show_mem.c) with its callees: show_free_areas(),
// show_node(), show_migration_types(), hugetlb_show_meminfo_node()
// (mm/hugetlb.c) and show_swap_cache_info() (mm/swap_state.c), for Linux
// 6.18 as Debian configures it: CONFIG_SWAP, CONFIG_MEMORY_ISOLATION,
// CONFIG_MEMORY_FAILURE and CONFIG_HUGETLBFS on; CONFIG_CMA,
// CONFIG_SHADOW_CALL_STACK and CONFIG_MEM_ALLOC_PROFILING off.
//
// The kernel builds a line from a printk() and KERN_CONT pieces; memd formats
// the whole line and logs it once, split at the kernel's '\n's.
#include "core/show_mem.h"

#include <fmt/format.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace memd {

namespace {

// printk() without a level logs at default_message_loglevel
// (CONFIG_MESSAGE_LOGLEVEL_DEFAULT=4, KERN_WARNING); every line of the report
// is such a printk() or its KERN_CONT continuation.
constexpr PrintkLevel kDefaultLevel = PrintkLevel::kWarning;

// K(): pages to KiB.
constexpr uint64_t K(uint64_t pages) {
  return pages << (kPageShift - 10);
}

// One record per line of `text` ("a\n b\n" -> "a", " b").
void printk_lines(std::string_view text, KernelLog* log) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    log->printk(kDefaultLevel, text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// show_mem_node_skip() with SHOW_MEM_FILTER_NODES and no nodemask: nodes
// outside cpuset_current_mems_allowed, which is N_MEMORY for a task in the
// root cpuset.
bool show_mem_node_skip(const NodeStats& node) {
  return !node.has_memory;
}

// The zones show_free_areas() walks: for_each_populated_zone(), without those
// above max_zone_idx or on a skipped node.
bool zone_shown(const NodeStats& node, const ZoneStats& z, unsigned max_zone_idx) {
  return z.populated && z.idx <= max_zone_idx && !show_mem_node_skip(node);
}

// The pages on the zone's per-cpu lists, over the online CPUs.
uint64_t zone_free_pcp(const ZoneStats& z) {
  uint64_t sum = 0;
  for (const PcpStats& p : z.pcp) {
    sum += static_cast<uint64_t>(p.count);
  }
  return sum;
}

// this_cpu_read(zone->per_cpu_pageset->count) on the CPU that failed.
int local_pcp_count(const ZoneStats& z, int cpu) {
  return cpu >= 0 && static_cast<size_t>(cpu) < z.pcp.size() ? z.pcp[cpu].count : 0;
}

// show_node(): "Node N " before a zone's name, with CONFIG_NUMA only.
std::string show_node(const ZoneStats& z, bool numa) {
  return numa ? fmt::format("Node {} ", z.nid) : std::string();
}

// show_migration_types(): the letters of the migrate types with a non-empty
// free list ('C' is CONFIG_CMA's, not in memd's types), as "(UM) ".
std::string show_migration_types(unsigned types) {
  static constexpr std::array<char, kMigrateTypes> kLetters = {'U', 'M', 'E', 'H', 'I'};
  std::string out = "(";
  for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
    if (types & (1u << mt)) out += kLetters[mt];
  }
  out += ") ";
  return out;
}

// node_has_managed_zones(): a zone up to max_zone_idx with managed pages.
bool node_has_managed_zones(const NodeStats& node, unsigned max_zone_idx) {
  for (const ZoneStats& z : node.zones) {
    if (z.idx <= max_zone_idx && z.managed != 0) return true;
  }
  return false;
}

// show_free_areas()' first printk: the global counters. free_pcp sums the
// zones shown; free and free_cma are global_zone_page_state(), all zones.
void show_global_counters(const MachineStats& s, unsigned max_zone_idx, KernelLog* log) {
  uint64_t free = 0, free_cma = 0, free_pcp = 0;
  for (const NodeStats& node : s.nodes) {
    for (const ZoneStats& z : node.zones) {
      free += z.free_pages;
      free_cma += z.free_cma;
      if (zone_shown(node, z, max_zone_idx)) free_pcp += zone_free_pcp(z);
    }
  }
  printk_lines(
      fmt::format("active_anon:{} inactive_anon:{} isolated_anon:{}\n"
                  " active_file:{} inactive_file:{} isolated_file:{}\n"
                  " unevictable:{} dirty:{} writeback:{}\n"
                  " slab_reclaimable:{} slab_unreclaimable:{}\n"
                  " mapped:{} shmem:{} pagetables:{}\n"
                  " sec_pagetables:{} bounce:{}\n"
                  " kernel_misc_reclaimable:{}\n"
                  " free:{} free_pcp:{} free_cma:{}\n",
                  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, free, free_pcp, free_cma),
      log);
}

// show_free_areas()' per-node printk. The THP fields are
// CONFIG_TRANSPARENT_HUGEPAGE's; memd has no kswapd failures, so
// all_unreclaimable is "no" (zoneinfo's node_unreclaimable 0).
void show_node_counters(const MachineStats& s, const NodeStats& node, KernelLog* log) {
  std::string line = fmt::format(
      "Node {} active_anon:{}kB inactive_anon:{}kB active_file:{}kB inactive_file:{}kB"
      " unevictable:{}kB isolated(anon):{}kB isolated(file):{}kB mapped:{}kB dirty:{}kB"
      " writeback:{}kB shmem:{}kB",
      node.nid, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  if (s.thp_configured) {
    line += fmt::format(" shmem_thp:{}kB shmem_pmdmapped:{}kB anon_thp:{}kB", 0, 0, 0);
  }
  line += fmt::format(
      " kernel_stack:{}kB pagetables:{}kB sec_pagetables:{}kB all_unreclaimable? {}"
      " Balloon:{}kB",
      0, 0, 0, "no", 0);
  log->printk(kDefaultLevel, line);
}

// show_free_areas()' per-zone printk (after show_node()), then
// "lowmem_reserve[]:" with one entry per zone type (MAX_NR_ZONES). The
// highatomic fields are "KB" in the kernel's format.
void show_zone_counters(const ZoneStats& z, int cpu, bool numa, KernelLog* log) {
  const uint64_t boost = z.boost;
  log->printk(
      kDefaultLevel,
      show_node(z, numa) +
          fmt::format("{} free:{}kB boost:{}kB min:{}kB low:{}kB high:{}kB reserved_highatomic:{}KB"
                      " free_highatomic:{}KB active_anon:{}kB inactive_anon:{}kB active_file:{}kB"
                      " inactive_file:{}kB unevictable:{}kB writepending:{}kB zspages:{}kB"
                      " present:{}kB managed:{}kB mlocked:{}kB bounce:{}kB free_pcp:{}kB"
                      " local_pcp:{}kB free_cma:{}kB",
                      z.name, K(z.free_pages), K(boost), K(z.watermark[kWmarkMin] + boost),
                      K(z.watermark[kWmarkLow] + boost), K(z.watermark[kWmarkHigh] + boost),
                      K(z.nr_reserved_highatomic), K(z.nr_free_highatomic), 0, 0, 0, 0, 0, 0, 0,
                      K(z.present), K(z.managed), 0, 0, K(zone_free_pcp(z)),
                      K(static_cast<uint64_t>(local_pcp_count(z, cpu))), K(z.free_cma)));
  std::string reserve = "lowmem_reserve[]:";
  for (int64_t r : z.lowmem_reserve) {
    reserve += fmt::format(" {}", r);
  }
  log->printk(kDefaultLevel, reserve);
}

// show_free_areas()' free-list line: "N*SIZEkB (TYPES) " per order (the
// types only when N is not 0), then "= TOTALkB".
void show_zone_free_lists(const ZoneStats& z, bool numa, KernelLog* log) {
  std::string line = show_node(z, numa) + z.name + ": ";
  uint64_t total = 0;
  for (unsigned order = 0; order < kNrPageOrders; ++order) {
    const uint64_t nr = z.nr_free[order];
    total += nr << order;
    line += fmt::format("{}*{}kB ", nr, K(1) << order);
    if (nr == 0) continue;
    unsigned types = 0;
    for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
      if (z.nr_free_by_type[order][mt] != 0) types |= 1u << mt;
    }
    line += show_migration_types(types);
  }
  line += fmt::format("= {}kB", K(total));
  log->printk(kDefaultLevel, line);
}

// The hstates in hstates[] order, in KiB. x86_64 registers the 1 GiB one
// first when the CPU has X86_FEATURE_GBPAGES (gigantic_pages_init() is an
// arch_initcall, arch/x86/mm/hugetlbpage.c:38; hugetlb_init() adds
// HPAGE_SIZE later, mm/hugetlb.c:4681, a subsys_initcall), whether or not
// nogbpages keeps them out of the direct mapping (MachineStats::cpu_gbpages,
// machine.gbpages). HPAGE_SIZE is
// the PMD size, 2 MiB on x86_64 and on PAE i386, as meminfo's Hugepagesize.
std::vector<uint64_t> hstate_sizes_kb(const MachineStats& s) {
  constexpr uint64_t kPmdKb = uint64_t{1} << (kHpagePmdOrder + kPageShift - 10);
  constexpr uint64_t kPudKb = uint64_t{1} << (30 - 10);
  if (s.arch == Arch::kX86_64 && s.cpu_gbpages) return {kPudKb, kPmdKb};
  return {kPmdKb};
}

// hugetlb_show_meminfo_node(): memd has no hugetlb pages.
void hugetlb_show_meminfo_node(const MachineStats& s, int nid, KernelLog* log) {
  for (uint64_t size_kb : hstate_sizes_kb(s)) {
    log->printk(kDefaultLevel,
                fmt::format("Node {} hugepages_total={} hugepages_free={} hugepages_surp={}"
                            " hugepages_size={}kB",
                            nid, 0, 0, 0, size_kb));
  }
}

// show_swap_cache_info() (CONFIG_SWAP): memd has no swap.
void show_swap_cache_info(KernelLog* log) {
  printk_lines(fmt::format("{} pages in swap cache\n"
                           "Free swap  = {}kB\n"
                           "Total swap = {}kB\n",
                           0, K(0), K(0)),
               log);
}

// show_free_areas(filter = SHOW_MEM_FILTER_NODES, nodemask = NULL, max_zone_idx).
void show_free_areas(const MachineStats& s, unsigned max_zone_idx, int cpu, bool numa,
                     KernelLog* log) {
  show_global_counters(s, max_zone_idx, log);
  for (const NodeStats& node : s.nodes) {
    if (show_mem_node_skip(node) || !node_has_managed_zones(node, max_zone_idx)) continue;
    show_node_counters(s, node, log);
  }
  for (const NodeStats& node : s.nodes) {
    for (const ZoneStats& z : node.zones) {
      if (zone_shown(node, z, max_zone_idx)) show_zone_counters(z, cpu, numa, log);
    }
  }
  for (const NodeStats& node : s.nodes) {
    for (const ZoneStats& z : node.zones) {
      if (zone_shown(node, z, max_zone_idx)) show_zone_free_lists(z, numa, log);
    }
  }
  for (const NodeStats& node : s.nodes) {
    if (!show_mem_node_skip(node)) hugetlb_show_meminfo_node(s, node.nid, log);
  }
  log->printk(kDefaultLevel, fmt::format("{} total pagecache pages", 0));
  show_swap_cache_info(log);
}

// is_highmem() (include/linux/mmzone.h is_highmem_idx): ZONE_HIGHMEM, and
// ZONE_MOVABLE when movable_zone is ZONE_HIGHMEM (i386 with memory above
// max_low_pfn: find_usable_zone_for_movable()). x86_64 has no
// CONFIG_HIGHMEM, so its ZONE_MOVABLE does not count.
bool is_highmem(const MachineStats& s, const ZoneStats& z) {
  if (s.arch != Arch::kI386) return false;
  if (z.kind == ZoneKind::kHighMem) return true;
  const Pfn max_pfn = s.memblock_memory.empty() ? 0 : s.memblock_memory.back().second;
  return z.kind == ZoneKind::kMovable && max_pfn > s.max_low_pfn;
}

}  // namespace

// __show_mem(): the totals walk every populated zone, whatever the filter.
void show_mem(const MachineStats& stats, unsigned max_zone_idx, int cpu, bool numa,
              KernelLog* log) {
  log->printk(kDefaultLevel, "Mem-Info:");
  show_free_areas(stats, max_zone_idx, cpu, numa, log);
  uint64_t total = 0, reserved = 0, highmem = 0;
  for (const NodeStats& node : stats.nodes) {
    for (const ZoneStats& z : node.zones) {
      if (!z.populated) continue;
      total += z.present;
      reserved += z.present - z.managed;
      if (is_highmem(stats, z)) highmem += z.present;
    }
  }
  log->printk(kDefaultLevel, fmt::format("{} pages RAM", total));
  log->printk(kDefaultLevel, fmt::format("{} pages HighMem/MovableOnly", highmem));
  log->printk(kDefaultLevel, fmt::format("{} pages reserved", reserved));
  // CONFIG_MEMORY_FAILURE: memd poisons no pages.
  log->printk(kDefaultLevel, fmt::format("{} pages hwpoisoned", 0));
}

}  // namespace memd
