#include "core/layout.h"

#include "core/format.h"
#include "core/memmap.h"

#include <algorithm>
#include <numeric>

namespace memd {
namespace {

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;
constexpr uint64_t kBiosBegin = 0xa0000;
constexpr uint64_t kBiosEnd = 0x100000;
constexpr uint64_t kI386MaxLowMem = 896 * kMiB;  // lowmem limit of a 3G/1G split
constexpr uint64_t kI386MaxPhys = 4 * kGiB;      // MAX_NONPAE_PFN: 6.18 has no HIGHMEM64G
// memd's own limit: pfns are 32 bits and 0xffffffff marks the end of a list.
constexpr uint64_t kX86_64MaxPhys = static_cast<uint64_t>(kNilPfn) << kPageShift;

// Subtracts [cut.start, cut.end) from every range.
std::vector<PhysRange> subtract(const std::vector<PhysRange>& ranges, PhysRange cut) {
  std::vector<PhysRange> out;
  for (const PhysRange& r : ranges) {
    if (cut.end <= r.start || cut.start >= r.end) {
      out.push_back(r);
      continue;
    }
    if (r.start < cut.start) out.push_back({r.start, cut.start});
    if (cut.end < r.end) out.push_back({cut.end, r.end});
  }
  return out;
}

std::vector<PhysRange> merge(std::vector<PhysRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const PhysRange& a, const PhysRange& b) { return a.start < b.start; });
  std::vector<PhysRange> out;
  for (const PhysRange& r : ranges) {
    if (r.end <= r.start) continue;
    if (!out.empty() && r.start <= out.back().end) {
      out.back().end = std::max(out.back().end, r.end);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

Pfn pfn_up(uint64_t addr) {
  return (addr + kPageSize - 1) >> kPageShift;
}
Pfn pfn_down(uint64_t addr) {
  return addr >> kPageShift;
}

// Records that [iv.start, iv.end) belongs to iv's zone, overriding earlier
// assignments of the same pfns (memmap_init initialises some pfns twice with
// kernelcore=mirror; the last initialisation wins).
void assign(std::vector<PfnInterval>* map, PfnInterval iv) {
  if (iv.start >= iv.end) return;
  std::vector<PfnInterval> out;
  for (const PfnInterval& m : *map) {
    if (m.end <= iv.start || m.start >= iv.end) {
      out.push_back(m);
      continue;
    }
    if (m.start < iv.start) out.push_back({m.start, iv.start, m.nid, m.zone});
    if (iv.end < m.end) out.push_back({iv.end, m.end, m.nid, m.zone});
  }
  out.push_back(iv);
  std::sort(out.begin(), out.end(),
            [](const PfnInterval& a, const PfnInterval& b) { return a.start < b.start; });
  // Merge neighbours of the same zone.
  std::vector<PfnInterval> merged;
  for (const PfnInterval& m : out) {
    if (!merged.empty() && merged.back().end == m.start && merged.back().nid == m.nid &&
        merged.back().zone == m.zone) {
      merged.back().end = m.end;
    } else {
      merged.push_back(m);
    }
  }
  *map = std::move(merged);
}

struct NodeOwnership {
  std::vector<std::vector<PhysRange>> ranges;  // per node
};

// A node configured without memory: size 0 (or, in the file, no size, start
// or end), whichever way the other nodes are given.
bool memoryless_config(const NodeConfig& n) {
  return n.size && *n.size == 0;
}

// Whether the nodes with memory are given by size (laid out one after
// another over qemu's map) rather than by start and end.
bool nodes_by_size(const MachineConfig& cfg) {
  return std::any_of(cfg.nodes.begin(), cfg.nodes.end(),
                     [](const NodeConfig& n) { return n.size && *n.size > 0; });
}

// acpi_map_pxm_to_node() (drivers/acpi/numa/srat.c) finds no node for a
// proximity domain past MAX_NUMNODES: "SRAT: Too many proximity domains.",
// and bad_srat() drops the whole SRAT, so the kernel boots one node.
Status check_node_count(const MachineConfig& cfg) {
  if (cfg.nodes.size() <= static_cast<size_t>(kMaxNumNodes)) return {};
  return make_error(
      "machine.node: " + std::to_string(cfg.nodes.size()) +
      " nodes, but the kernel has at most MAX_NUMNODES = " + std::to_string(kMaxNumNodes) +
      " (CONFIG_NODES_SHIFT=10): with more proximity domains it prints \"SRAT: "
      "Too many proximity domains.\", ignores the whole SRAT and boots one node");
}

// Each node is given by size or by start and end, all the same way; a node
// without memory (size 0) fits either; at least one node has memory.
Status check_node_configs(const MachineConfig& cfg) {
  if (auto st = check_node_count(cfg); !st) return st;
  const bool by_size = nodes_by_size(cfg);
  bool any_range = false;
  for (size_t i = 0; i < cfg.nodes.size(); ++i) {
    const NodeConfig& n = cfg.nodes[i];
    if (n.size.has_value() == n.range.has_value()) {
      return make_error("machine.node[" + std::to_string(i) +
                        "]: give either size or start/end, not both or neither");
    }
    if (n.range && by_size) {
      return make_error(
          "machine.node[" + std::to_string(i) +
          "]: all nodes must be given the same way (all by size, or all by start/end)");
    }
    any_range |= n.range.has_value();
  }
  if (!cfg.nodes.empty() && !by_size && !any_range) {
    return make_error("machine.node: no node has memory (every node has size = 0)");
  }
  return {};
}

Result<NodeOwnership> node_ownership(const MachineConfig& cfg, uint64_t total_size) {
  NodeOwnership own;
  if (cfg.nodes.empty()) {
    own.ranges.push_back({{0, ~0ULL}});
    return own;
  }
  if (nodes_by_size(cfg)) {
    if (cfg.e820) {
      return make_error(
          "machine.node: nodes given by size are laid out over qemu's pc memory map; with an "
          "e820 map, give each node's start and end instead");
    }
    // RAM addresses as qemu hands them out: [0, low) then [4G, 4G + total - low).
    uint64_t low = total_size < 3 * kGiB + kGiB / 2 ? total_size : 3 * kGiB;
    uint64_t offset = 0;
    for (const NodeConfig& n : cfg.nodes) {
      std::vector<PhysRange> mine;
      uint64_t a = offset, b = offset + *n.size;
      if (a < low) mine.push_back({a, std::min(b, low)});
      if (b > low) mine.push_back({4 * kGiB + (std::max(a, low) - low), 4 * kGiB + (b - low)});
      if (a == b) mine.clear();
      own.ranges.push_back(mine);
      offset = b;
    }
    return own;
  }
  for (size_t i = 0; i < cfg.nodes.size(); ++i) {
    if (memoryless_config(cfg.nodes[i])) {
      own.ranges.emplace_back();
      continue;
    }
    const PhysRange r = *cfg.nodes[i].range;
    if (r.end < r.start) {
      return make_error("machine.node[" + std::to_string(i) + "]: end " + hex(r.end) +
                        " is below start " + hex(r.start));
    }
    for (size_t j = 0; j < i; ++j) {
      if (!cfg.nodes[j].range) continue;
      const PhysRange o = *cfg.nodes[j].range;
      if (r.start < o.end && o.start < r.end && r.end > r.start && o.end > o.start) {
        return make_error("machine.node[" + std::to_string(i) + "]: range " + hex(r.start) + "-" +
                          hex(r.end) + " overlaps node " + std::to_string(j));
      }
    }
    own.ranges.push_back({r});
  }
  return own;
}

}  // namespace

std::string_view zone_kind_name(ZoneKind kind) {
  switch (kind) {
    case ZoneKind::kDma:
      return "DMA";
    case ZoneKind::kDma32:
      return "DMA32";
    case ZoneKind::kNormal:
      return "Normal";
    case ZoneKind::kHighMem:
      return "HighMem";
    case ZoneKind::kMovable:
      return "Movable";
    case ZoneKind::kDevice:
      return "Device";
  }
  return "?";
}

ArchLayout ArchLayout::for_arch(Arch arch) {
  ArchLayout a;
  a.arch = arch;
  if (arch == Arch::kX86_64) {
    a.zones = {ZoneKind::kDma, ZoneKind::kDma32, ZoneKind::kNormal, ZoneKind::kMovable,
               ZoneKind::kDevice};
  } else {
    a.zones = {ZoneKind::kDma, ZoneKind::kNormal, ZoneKind::kHighMem, ZoneKind::kMovable};
  }
  return a;
}

int ArchLayout::index_of(ZoneKind kind) const {
  for (unsigned i = 0; i < zones.size(); ++i) {
    if (zones[i] == kind) return static_cast<int>(i);
  }
  return -1;
}

uint64_t NodeLayout::present() const {
  uint64_t n = 0;
  for (const ZoneSpan& z : zones) {
    n += z.present;
  }
  return n;
}

uint64_t NodeLayout::spanned() const {
  uint64_t n = 0;
  for (const ZoneSpan& z : zones) {
    n += z.spanned;
  }
  return n;
}

std::vector<E820Entry> qemu_pc_e820(uint64_t bytes) {
  const uint64_t low = bytes < 3 * kGiB + kGiB / 2 ? bytes : 3 * kGiB;
  std::vector<E820Entry> e;
  e.push_back({{0, 0x9fc00}, "usable"});
  e.push_back({{0x9fc00, 0xa0000}, "reserved"});
  e.push_back({{0xf0000, 0x100000}, "reserved"});
  if (low > 0x100000 + 128 * 1024) e.push_back({{0x100000, low - 128 * 1024}, "usable"});
  if (low >= 128 * 1024) e.push_back({{low - 128 * 1024, low}, "reserved"});
  if (bytes > low) e.push_back({{4 * kGiB, 4 * kGiB + bytes - low}, "usable"});
  return e;
}

std::string smallest_machine_error() {
  return "the smallest machine memd can boot is " + std::to_string(kSmallestMachineSize >> 10) +
         " KiB (1 MiB + 132 KiB: the kernel reserves the first MiB, qemu's pc machine the "
         "128 KiB below the top of low memory, and the page allocator needs a page)";
}

std::optional<PfnInterval> Layout::zone_of(Pfn pfn) const {
  if (!pfn_online(pfn)) return std::nullopt;
  auto it = std::upper_bound(memmap.begin(), memmap.end(), pfn,
                             [](Pfn p, const PfnInterval& iv) { return p < iv.start; });
  if (it == memmap.begin()) return std::nullopt;
  --it;
  if (pfn >= it->end) return std::nullopt;
  return *it;
}

bool Layout::pfn_online(Pfn pfn) const {
  if (pfn >= memmap_end) return false;
  if (arch.arch == Arch::kI386) return true;  // FLATMEM: every pfn below max has a memmap
  return section_present[pfn >> kSectionShift] != 0;
}

namespace {

// What compute_layout() carries from the firmware map to the zones.
struct FirmwareMemory {
  std::vector<PhysRange> usable;  // RAM after e820__update_table() and trimming, bytes
  Pfn e820_max_pfn = 0;           // e820__end_of_ram_pfn()
  uint64_t total_size = 0;        // qemu's RAM size, 0 when the map is given
};

// The machine's RAM size when no e820 map is given: machine.size, or the sum
// of the node sizes, or 0 when nodes are given by start/end (memory is then
// the union of the node ranges), or qemu's default 4 GiB.
Result<uint64_t> qemu_ram_size(const MachineConfig& cfg) {
  uint64_t node_sum = 0;
  for (const NodeConfig& n : cfg.nodes) {
    node_sum += n.size.value_or(0);
  }
  const bool by_size = nodes_by_size(cfg);
  if (by_size && cfg.size && node_sum != *cfg.size) {
    return make_error("machine.node: node sizes add up to " + std::to_string(node_sum >> 20) +
                      " MiB but machine.size is " + std::to_string(*cfg.size >> 20) + " MiB");
  }
  if (cfg.size) return *cfg.size;
  if (by_size) return node_sum;
  if (!cfg.nodes.empty()) return uint64_t{0};  // given by start and end
  return 4 * kGiB;
}

// e820__memory_setup() (arch/x86/kernel/e820.c): the firmware's map, here the
// configured one or the map qemu's pc machine would hand the guest.
Result<std::vector<E820Entry>> e820_memory_setup(const MachineConfig& cfg, FirmwareMemory* fw,
                                                 std::vector<std::string>* warnings) {
  if (cfg.e820) {
    auto parsed = parse_e820(*cfg.e820);
    if (!parsed) return make_error("machine.e820: " + parsed.error().message);
    if (cfg.size) warnings->push_back("machine.size is ignored: machine.e820 gives the memory map");
    return std::move(*parsed);
  }
  auto size = qemu_ram_size(cfg);
  if (!size) return size.error();
  fw->total_size = *size;
  if (*size && *size < kSmallestMachineSize) {
    return make_error((cfg.size ? "machine.size: " : "machine.node: the sizes add up to ") +
                      std::to_string(*size) + " bytes: " + smallest_machine_error());
  }
  if (*size) return qemu_pc_e820(*size);
  std::vector<E820Entry> e820;
  for (const NodeConfig& n : cfg.nodes) {
    if (n.range) e820.push_back({*n.range, "usable"});
  }
  return e820;
}

// The RAM of the sanitised table (e820__update_table(): where entries
// overlap the higher type wins, so any other type takes precedence over
// "usable", E820_TYPE_RAM being 1), sorted and merged.
std::vector<PhysRange> e820_ram(const std::vector<e820::Range>& table) {
  std::vector<PhysRange> usable;
  for (const e820::Range& r : table) {
    if (r.type == e820::kRam) usable.push_back({r.start, r.end});
  }
  return usable;
}

// trim_bios_range() (arch/x86/kernel/setup.c): page 0 is reserved, 640 KiB -
// 1 MiB is not RAM.
void trim_bios_range(std::vector<PhysRange>* usable) {
  *usable = subtract(*usable, {0, kPageSize});
  *usable = subtract(*usable, {kBiosBegin, kBiosEnd});
}

// highmem_pfn_init() (arch/x86/mm/init_32.c): "Warning: only 4GB will be
// used. Support for CONFIG_HIGHMEM64G was removed!", then memblock_remove()
// above max_pfn. On x86_64, memd's own limit of 32-bit pfns.
Status limit_physical_memory(Arch arch, FirmwareMemory* fw, std::vector<std::string>* warnings) {
  if (arch == Arch::kI386) {
    bool trimmed = false;
    for (const PhysRange& r : fw->usable) {
      trimmed |= r.end > kI386MaxPhys;
    }
    if (!trimmed) return {};
    warnings->push_back(
        "only 4GB will be used: i386 kernels since 6.15 have no PAE highmem "
        "(CONFIG_HIGHMEM64G was removed)");
    fw->usable = subtract(fw->usable, {kI386MaxPhys, ~0ULL});
    fw->e820_max_pfn = std::min<Pfn>(fw->e820_max_pfn, kI386MaxPhys >> kPageShift);
    return {};
  }
  for (const PhysRange& r : fw->usable) {
    if (r.end > kX86_64MaxPhys) {
      return make_error("memory above " + hex(kX86_64MaxPhys - 1) +
                        " is not supported: memd emulates up to 16 TiB minus one page");
    }
  }
  return {};
}

// The firmware map to usable RAM: e820__memory_setup(), e820__update_table(),
// e820__end_of_ram_pfn(), trim_bios_range(), highmem_pfn_init().
Result<FirmwareMemory> e820_usable_ram(const MachineConfig& cfg, Layout* L) {
  FirmwareMemory fw;
  auto e820 = e820_memory_setup(cfg, &fw, &L->warnings);
  if (!e820) return e820.error();
  L->e820 = e820::update_table(e820::table_of(*e820));
  fw.usable = e820_ram(L->e820);
  const Pfn max_arch = e820::max_arch_pfn(cfg.arch);
  fw.e820_max_pfn = e820::end_ram_pfn(L->e820, max_arch, max_arch);
  trim_bios_range(&fw.usable);
  if (auto st = limit_physical_memory(cfg.arch, &fw, &L->warnings); !st) return st.error();
  return fw;
}

// Adds the part of usable range `r` inside node range `o` to memblock.memory,
// split at mirror boundaries (memblock keeps MEMBLOCK_MIRROR regions apart).
// Returns the bytes covered.
uint64_t memblock_add_node(PhysRange r, PhysRange o, int nid,
                           const std::vector<PhysRange>& mirrored, Layout* L) {
  const uint64_t a = std::max(r.start, o.start), b = std::min(r.end, o.end);
  if (a >= b) return 0;
  std::vector<uint64_t> cuts = {a, b};
  for (const PhysRange& m : mirrored) {
    if (m.start > a && m.start < b) cuts.push_back(m.start);
    if (m.end > a && m.end < b) cuts.push_back(m.end);
  }
  std::sort(cuts.begin(), cuts.end());
  for (size_t k = 0; k + 1 < cuts.size(); ++k) {
    const Pfn s = pfn_up(cuts[k]), e = pfn_down(cuts[k + 1]);
    if (s >= e) continue;
    bool mir = false;
    for (const PhysRange& m : mirrored) {
      if (m.start <= cuts[k] && cuts[k + 1] <= m.end) mir = true;
    }
    L->memory.push_back({s, e, nid, mir});
  }
  return b - a;
}

// memblock's region merging: neighbours of the same node and flags become one.
void memblock_merge_regions(std::vector<MemRegion>* memory) {
  std::sort(memory->begin(), memory->end(),
            [](const MemRegion& a, const MemRegion& b) { return a.start < b.start; });
  std::vector<MemRegion> merged;
  for (const MemRegion& r : *memory) {
    if (!merged.empty() && merged.back().end == r.start && merged.back().nid == r.nid &&
        merged.back().mirror == r.mirror) {
      merged.back().end = r.end;
    } else {
      merged.push_back(r);
    }
  }
  *memory = std::move(merged);
}

// e820__memblock_setup() + numa_register_nodes()/memblock_set_node(): the
// usable RAM as memblock.memory regions, each tagged with its node.
Status e820_memblock_setup(const MachineConfig& cfg, const std::vector<PhysRange>& usable,
                           const NodeOwnership& own, Layout* L) {
  const int nr_nodes = static_cast<int>(own.ranges.size());
  const std::vector<PhysRange> mirrored = merge(cfg.mirrored);
  for (const PhysRange& r : usable) {
    uint64_t covered = 0;
    for (int nid = 0; nid < nr_nodes; ++nid) {
      for (const PhysRange& o : own.ranges[nid]) {
        covered += memblock_add_node(r, o, nid, mirrored, L);
      }
    }
    if (covered != r.end - r.start) {
      return make_error("usable memory " + hex(r.start) + "-" + hex(r.end - 1) +
                        " is not (entirely) inside any machine.node range");
    }
  }
  memblock_merge_regions(&L->memory);
  if (L->memory.empty()) return make_error("the machine has no usable memory");
  return {};
}

// memblock.reserved: the first 1 MiB (reserve_real_mode() in
// arch/x86/realmode/init.c reserves it unconditionally) and the configured
// ranges; then what memblock_free_all() hands to the buddy allocator
// (for_each_free_mem_range: memory minus reserved), in pfns.
Status memblock_reserve(const MachineConfig& cfg, Layout* L) {
  std::vector<PhysRange> reserved = cfg.reserved;
  for (size_t i = 0; i < reserved.size(); ++i) {
    if (reserved[i].end < reserved[i].start) {
      return make_error("machine.reserved[" + std::to_string(i) + "]: end below start");
    }
  }
  reserved.push_back({0, kMiB});
  L->reserved = merge(reserved);
  for (const MemRegion& r : L->memory) {
    std::vector<PhysRange> free = {{r.start << kPageShift, r.end << kPageShift}};
    for (const PhysRange& res : L->reserved) {
      free = subtract(free, res);
    }
    for (const PhysRange& f : free) {
      const Pfn s = pfn_up(f.start), e = pfn_down(f.end);
      if (s < e) L->free_ranges.emplace_back(s, e);
    }
  }
  if (L->free_ranges.empty()) return make_error("all of the machine's memory is reserved");
  return {};
}

bool cpus_listed(const MachineConfig& cfg) {
  return std::any_of(cfg.nodes.begin(), cfg.nodes.end(),
                     [](const NodeConfig& n) { return !n.cpus.empty(); });
}

// The CPUs listed per node, numbered 0..N-1. A CPU listed in several nodes,
// as every node's cpulist shows it under numa=fake=N, has the lowest of them
// as its home node (cpu_to_node(), numa_node_id()): numa_emulation()'s
// numa_emu_update_cpu_to_node() maps an APIC to the first emulated node of
// its physical node and init_cpu_to_node() takes that; numa_add_cpu() puts
// the CPU in each of those nodes' cpumasks (the node's cpus, see
// node_cpumask()).
Status cpus_from_node_lists(const MachineConfig& cfg, int nr_nodes, Layout* L) {
  int max_cpu = -1;
  for (const NodeConfig& n : cfg.nodes) {
    for (int c : n.cpus) {
      max_cpu = std::max(max_cpu, c);
    }
  }
  L->nr_cpus = max_cpu + 1;
  L->cpu_node.assign(L->nr_cpus, -1);
  for (int nid = 0; nid < nr_nodes; ++nid) {
    const std::vector<int>& cpus = cfg.nodes[nid].cpus;
    for (size_t k = 0; k < cpus.size(); ++k) {
      const int c = cpus[k];
      if (c < 0) {
        return make_error("machine.node[" + std::to_string(nid) + "].cpus: negative CPU number");
      }
      if (std::find(cpus.begin(), cpus.begin() + static_cast<ptrdiff_t>(k), c) !=
          cpus.begin() + static_cast<ptrdiff_t>(k)) {
        return make_error("machine.node[" + std::to_string(nid) + "].cpus: CPU " +
                          std::to_string(c) + " is listed twice");
      }
      if (L->cpu_node[c] == -1) L->cpu_node[c] = nid;
    }
  }
  for (int c = 0; c < L->nr_cpus; ++c) {
    if (L->cpu_node[c] == -1) {
      return make_error("CPUs must be numbered 0..N-1: CPU " + std::to_string(c) +
                        " is in no node");
    }
  }
  return {};
}

// init_cpu_to_node() (arch/x86/mm/numa.c): every CPU's home node, from the
// node lists, or machine.cpus spread round-robin over the nodes.
Status init_cpu_to_node(const MachineConfig& cfg, int nr_nodes, Layout* L) {
  if (cpus_listed(cfg)) {
    if (auto st = cpus_from_node_lists(cfg, nr_nodes, L); !st) return st;
  } else {
    L->nr_cpus = cfg.cpus;
    if (L->nr_cpus < 1) return make_error("machine.cpus must be at least 1");
    for (int c = 0; c < L->nr_cpus; ++c) {
      L->cpu_node.push_back(c % nr_nodes);
    }
  }
  if (L->nr_cpus > 1024) return make_error("at most 1024 CPUs are supported");
  return {};
}

// cpumask_of_node(): the CPUs the node lists (a CPU may be in several), or
// those dealt to it round-robin; ascending.
std::vector<int> node_cpumask(const MachineConfig& cfg, const Layout& L, int nid) {
  std::vector<int> cpus;
  if (cpus_listed(cfg)) {
    cpus = cfg.nodes[nid].cpus;
    std::sort(cpus.begin(), cpus.end());
    return cpus;
  }
  for (int c = 0; c < L.nr_cpus; ++c) {
    if (L.cpu_node[c] == nid) cpus.push_back(c);
  }
  return cpus;
}

// What is wrong with a SLIT row for slit_valid() (drivers/acpi/numa/srat.c):
// the distance to the node itself must be LOCAL_DISTANCE, to every other
// node more than that. Empty if the row is valid.
std::string slit_row_problem(const std::vector<int>& row, int nid) {
  for (size_t j = 0; j < row.size(); ++j) {
    const int d = row[j];
    const std::string key = "machine.node[" + std::to_string(nid) + "].distance";
    if (static_cast<int>(j) == nid && d != kLocalDistance) {
      return key + ": the distance to node " + std::to_string(nid) + " itself is " +
             std::to_string(d) + ", not LOCAL_DISTANCE (10)";
    }
    if (static_cast<int>(j) != nid && d <= kLocalDistance) {
      return key + ": the distance to node " + std::to_string(j) + " is " + std::to_string(d) +
             ", not above LOCAL_DISTANCE (10)";
    }
  }
  return {};
}

// The configured distance rows are the firmware's SLIT (qemu's -numa dist);
// a node without a row has the defaults. A row of the wrong length, or an
// entry that is not a byte, cannot be a SLIT: an error. acpi_parse_slit():
// a table slit_valid() refuses is not used ("SLIT table looks invalid. Not
// used."), and numa_alloc_distance()'s defaults stay: 10 local, 20 remote.
// Returns whether the configured rows are used.
Result<bool> acpi_parse_slit(const MachineConfig& cfg, int nr_nodes, Layout* L) {
  std::string problem;
  for (int nid = 0; nid < static_cast<int>(cfg.nodes.size()); ++nid) {
    const std::vector<int>& row = cfg.nodes[nid].distance;
    const std::string key = "machine.node[" + std::to_string(nid) + "].distance";
    if (row.empty()) continue;
    if (static_cast<int>(row.size()) != nr_nodes) {
      return make_error(key + ": needs " + std::to_string(nr_nodes) + " entries, one per node");
    }
    for (int d : row) {
      if (d < 0 || d > 255) {
        return make_error(key + ": " + std::to_string(d) +
                          " is not in 0..255 (a SLIT entry is one byte)");
      }
    }
    if (problem.empty()) problem = slit_row_problem(row, nid);
  }
  if (problem.empty()) return true;
  L->slit_ignored = true;
  L->warnings.push_back(problem +
                        ": the kernel ignores such a table (\"ACPI: SLIT table looks invalid. Not "
                        "used.\") and every node is 10 from itself and 20 from the others");
  return false;
}

// numa_set_distance() (mm/numa_memblks.c): the node's SLIT row, or
// LOCAL_DISTANCE to itself and REMOTE_DISTANCE to the others.
void numa_set_distance(const MachineConfig& cfg, int nr_nodes, bool use_slit, NodeLayout* n) {
  const int nid = n->id;
  if (use_slit && !cfg.nodes.empty() && !cfg.nodes[nid].distance.empty()) {
    n->distance = cfg.nodes[nid].distance;
    return;
  }
  for (int j = 0; j < nr_nodes; ++j) {
    n->distance.push_back(j == nid ? kLocalDistance : kRemoteDistance);
  }
}

// A node without memory that is no CPU's home node: the kernel onlines a
// memoryless node only as the home of a CPU (init_cpu_to_node()).
Status check_memoryless_node(const Layout& L, const NodeLayout& n) {
  if (n.has_memory() || std::find(L.cpu_node.begin(), L.cpu_node.end(), n.id) != L.cpu_node.end()) {
    return {};
  }
  const std::string key = "machine.node[" + std::to_string(n.id) + "]";
  if (n.cpus.empty()) {
    return make_error(key +
                      ": has neither memory nor CPUs; give it a size (or a start and end "
                      "with usable memory) or cpus");
  }
  return make_error(key + ": has no memory, and CPU " + std::to_string(n.cpus[0]) +
                    " and any others it lists have a lower node as their home (node " +
                    std::to_string(L.cpu_node[n.cpus[0]]) +
                    "), so the kernel would not bring the node up; give it memory or a CPU "
                    "of its own");
}

// get_pfn_range_for_nid(): a node's span over its memblock regions.
void get_pfn_range_for_nid(const Layout& L, NodeLayout* n) {
  Pfn s = ~0ULL, e = 0;
  for (const MemRegion& r : L.memory) {
    if (r.nid != n->id) continue;
    s = std::min(s, r.start);
    e = std::max(e, r.end);
  }
  if (s == ~0ULL) s = 0;
  n->start = s;
  n->end = e;
}

// The nodes: CPUs, distances and pfn ranges.
Status setup_nodes(const MachineConfig& cfg, int nr_nodes, Layout* L) {
  if (auto st = init_cpu_to_node(cfg, nr_nodes, L); !st) return st;
  auto use_slit = acpi_parse_slit(cfg, nr_nodes, L);
  if (!use_slit) return use_slit.error();
  L->nodes.resize(nr_nodes);
  for (int nid = 0; nid < nr_nodes; ++nid) {
    NodeLayout& n = L->nodes[nid];
    n.id = nid;
    n.cpus = node_cpumask(cfg, *L, nid);
    numa_set_distance(cfg, nr_nodes, *use_slit, &n);
  }
  for (NodeLayout& n : L->nodes) {
    get_pfn_range_for_nid(*L, &n);
    if (auto st = check_memoryless_node(*L, n); !st) return st;
  }
  return {};
}

// zone_sizes_init() (arch/x86/mm/init.c): max_zone_pfn[] per zone type.
std::vector<Pfn> zone_sizes_init(const Layout& L, Pfn max_pfn) {
  Pfn max_low_pfn = max_pfn;
  if (L.arch.arch == Arch::kI386) max_low_pfn = std::min(max_pfn, kI386MaxLowMem >> kPageShift);
  std::vector<Pfn> max_zone_pfn(L.arch.nr_zones(), 0);
  for (unsigned z = 0; z < L.arch.nr_zones(); ++z) {
    switch (L.arch.zones[z]) {
      case ZoneKind::kDma:
        max_zone_pfn[z] = std::min<Pfn>(16 * kMiB >> kPageShift, max_low_pfn);
        break;
      case ZoneKind::kDma32:
        max_zone_pfn[z] = std::min<Pfn>(4 * kGiB >> kPageShift, max_low_pfn);
        break;
      case ZoneKind::kNormal:
        max_zone_pfn[z] = max_low_pfn;
        break;
      case ZoneKind::kHighMem:
        max_zone_pfn[z] = max_pfn;
        break;
      default:
        break;
    }
  }
  return max_zone_pfn;
}

// free_area_init(): arch_zone_lowest/highest_possible_pfn[], each zone
// starting where the previous one ends; ZONE_MOVABLE has no arch range.
void free_area_init_zone_limits(const std::vector<Pfn>& max_zone_pfn, Layout* L) {
  const unsigned nr_zones = L->arch.nr_zones();
  const unsigned movable = L->arch.movable_idx();
  L->arch_zone_lowest.assign(nr_zones, 0);
  L->arch_zone_highest.assign(nr_zones, 0);
  Pfn start = pfn_down(L->memory.front().start << kPageShift);
  for (unsigned z = 0; z < nr_zones; ++z) {
    if (z == movable) continue;
    const Pfn end = std::max(max_zone_pfn[z], start);
    L->arch_zone_lowest[z] = start;
    L->arch_zone_highest[z] = end;
    start = end;
  }
}

// early_calculate_totalpages(): the pages in memblock.memory; also marks the
// nodes with memory (N_MEMORY).
uint64_t early_calculate_totalpages(const Layout& L, std::vector<bool>* has_mem) {
  uint64_t totalpages = 0;
  for (const MemRegion& r : L.memory) {
    totalpages += r.end - r.start;
    (*has_mem)[r.nid] = true;
  }
  return totalpages;
}

// find_usable_zone_for_movable(): the highest zone with an arch range below
// ZONE_MOVABLE; ZONE_MOVABLE is carved from it.
int find_usable_zone_for_movable(const Layout& L) {
  int zi = static_cast<int>(L.arch.nr_zones()) - 1;
  for (; zi >= 0; --zi) {
    if (static_cast<unsigned>(zi) == L.arch.movable_idx()) continue;
    if (L.arch_zone_highest[zi] > L.arch_zone_lowest[zi]) break;
  }
  return zi;
}

// The kernelcore=mirror branch of find_zone_movable_pfns_for_nodes(): every
// node's ZONE_MOVABLE starts at its lowest non-mirrored pfn above 4 GiB.
// Returns whether zone_movable_pfn[] was set (and must be aligned).
bool zone_movable_for_mirror(Layout* L) {
  bool any_mirror = false;
  for (const MemRegion& r : L->memory) {
    any_mirror |= r.mirror;
  }
  if (!any_mirror) {
    L->warnings.push_back("The system has no mirror memory, ignore kernelcore=mirror.");
    return false;
  }
  L->mirrored_kernelcore = true;
  bool below_4g_not_mirrored = false;
  for (const MemRegion& r : L->memory) {
    if (r.mirror) continue;
    if (r.start < (4 * kGiB >> kPageShift)) {
      below_4g_not_mirrored = true;
      continue;
    }
    Pfn& z = L->zone_movable_pfn[r.nid];
    z = z ? std::min(r.start, z) : r.start;
  }
  if (below_4g_not_mirrored) {
    L->warnings.push_back("This configuration results in unmirrored kernel memory.");
  }
  return true;
}

// kernelcore= and movablecore= (pages or percent) as the kernel pages the
// machine must keep: movablecore rounded up to MAX_ORDER_NR_PAGES wins.
uint64_t required_kernelcore_pages(const KernelParams& params, uint64_t totalpages) {
  uint64_t required_kernelcore = params.kernelcore_pages;
  uint64_t required_movablecore = params.movablecore_pages;
  if (params.kernelcore_percent) {
    required_kernelcore = (totalpages * 100 * params.kernelcore_percent) / 10000;
  }
  if (params.movablecore_percent) {
    required_movablecore = (totalpages * 100 * params.movablecore_percent) / 10000;
  }
  if (required_movablecore) {
    required_movablecore = (required_movablecore + kMaxOrderNrPages - 1) & ~(kMaxOrderNrPages - 1);
    required_movablecore = std::min(totalpages, required_movablecore);
    const uint64_t corepages = totalpages - required_movablecore;
    required_kernelcore = std::max(required_kernelcore, corepages);
  }
  return required_kernelcore;
}

// One node's share of the kernelcore spread (the body of the kernel's
// for_each_node_state(nid, N_MEMORY) loop): kernel pages below
// usable_startpfn count but do not move ZONE_MOVABLE past them.
void spread_kernelcore_on_node(Layout* L, int nid, Pfn usable_startpfn,
                               uint64_t kernelcore_remaining, uint64_t* required_kernelcore) {
  for (const MemRegion& r : L->memory) {
    if (r.nid != nid) continue;
    Pfn start_pfn = std::max(r.start, L->zone_movable_pfn[nid]);
    const Pfn end_pfn = r.end;
    if (start_pfn >= end_pfn) continue;
    if (start_pfn < usable_startpfn) {
      const uint64_t kernel_pages = std::min(end_pfn, usable_startpfn) - start_pfn;
      kernelcore_remaining -= std::min(kernel_pages, kernelcore_remaining);
      *required_kernelcore -= std::min(kernel_pages, *required_kernelcore);
      if (end_pfn <= usable_startpfn) {
        L->zone_movable_pfn[nid] = end_pfn;
        continue;
      }
      start_pfn = usable_startpfn;
    }
    uint64_t size_pages = end_pfn - start_pfn;
    if (size_pages > kernelcore_remaining) size_pages = kernelcore_remaining;
    L->zone_movable_pfn[nid] = start_pfn + size_pages;
    *required_kernelcore -= std::min(*required_kernelcore, size_pages);
    kernelcore_remaining -= size_pages;
    if (!kernelcore_remaining) break;
  }
}

// The kernelcore spread of find_zone_movable_pfns_for_nodes(): kernel pages
// shared evenly over the nodes with memory, repeated over fewer nodes while
// some remain. Returns whether zone_movable_pfn[] was set.
bool zone_movable_for_kernelcore(const KernelParams& params, const std::vector<bool>& has_mem,
                                 Layout* L) {
  uint64_t required_kernelcore = required_kernelcore_pages(params, L->totalpages);
  if (!required_kernelcore || required_kernelcore >= L->totalpages) return false;
  int usable_nodes = static_cast<int>(std::count(has_mem.begin(), has_mem.end(), true));
  const Pfn usable_startpfn = L->arch_zone_lowest[L->movable_zone];
  do {
    uint64_t kernelcore_node = required_kernelcore / usable_nodes;
    for (int nid = 0; nid < static_cast<int>(L->nodes.size()); ++nid) {
      if (!has_mem[nid]) continue;
      if (required_kernelcore < kernelcore_node) {
        kernelcore_node = required_kernelcore / usable_nodes;
      }
      spread_kernelcore_on_node(L, nid, usable_startpfn, kernelcore_node, &required_kernelcore);
    }
    usable_nodes--;
  } while (usable_nodes && required_kernelcore > static_cast<uint64_t>(usable_nodes));
  return true;
}

// find_zone_movable_pfns_for_nodes() (mm/mm_init.c): where ZONE_MOVABLE
// starts on every node, from kernelcore=mirror, kernelcore= or movablecore=;
// each start is aligned up to MAX_ORDER_NR_PAGES and dropped when it falls
// past the node's end. movable_node (hotpluggable memory) is not modelled.
void find_zone_movable_pfns_for_nodes(const KernelParams& params, Layout* L) {
  const int nr_nodes = static_cast<int>(L->nodes.size());
  L->zone_movable_pfn.assign(nr_nodes, 0);
  std::vector<bool> has_mem(nr_nodes, false);
  L->totalpages = early_calculate_totalpages(*L, &has_mem);
  L->movable_zone = find_usable_zone_for_movable(*L);
  const bool found = params.kernelcore_mirror ? zone_movable_for_mirror(L)
                                              : zone_movable_for_kernelcore(params, has_mem, L);
  if (!found) {
    std::fill(L->zone_movable_pfn.begin(), L->zone_movable_pfn.end(), 0);
    return;
  }
  for (NodeLayout& n : L->nodes) {
    if (!has_mem[n.id]) continue;
    Pfn& z = L->zone_movable_pfn[n.id];
    z = (z + kMaxOrderNrPages - 1) & ~(kMaxOrderNrPages - 1);
    if (z >= n.end) z = 0;
  }
}

// adjust_zone_range_for_zone_movable(): ZONE_MOVABLE takes the node's pages
// from zone_movable_pfn up to the end of the zone it is carved from; the
// other zones stop where it starts (not with kernelcore=mirror, where the
// zones overlap).
void adjust_zone_range_for_zone_movable(const Layout& L, const NodeLayout& n, unsigned zone_type,
                                        Pfn* zone_start_pfn, Pfn* zone_end_pfn) {
  const Pfn zmp = L.zone_movable_pfn[n.id];
  if (!zmp) return;
  if (zone_type == L.arch.movable_idx()) {
    *zone_start_pfn = zmp;
    *zone_end_pfn = std::min(n.end, L.arch_zone_highest[L.movable_zone]);
  } else if (!L.mirrored_kernelcore && *zone_start_pfn<zmp&& * zone_end_pfn> zmp) {
    *zone_end_pfn = zmp;
  } else if (*zone_start_pfn >= zmp) {
    *zone_start_pfn = *zone_end_pfn;
  }
}

// zone_spanned_pages_in_node(): the zone's arch range clamped to the node,
// adjusted for ZONE_MOVABLE; [*zone_start_pfn, *zone_end_pfn) on return.
uint64_t zone_spanned_pages_in_node(const Layout& L, const NodeLayout& n, unsigned zone_type,
                                    Pfn* zone_start_pfn, Pfn* zone_end_pfn) {
  const Pfn low = L.arch_zone_lowest[zone_type], high = L.arch_zone_highest[zone_type];
  *zone_start_pfn = kclamp(n.start, low, high);
  *zone_end_pfn = kclamp(n.end, low, high);
  adjust_zone_range_for_zone_movable(L, n, zone_type, zone_start_pfn, zone_end_pfn);
  if (*zone_end_pfn < n.start || *zone_start_pfn > n.end) return 0;
  *zone_end_pfn = std::min(*zone_end_pfn, n.end);
  *zone_start_pfn = std::max(*zone_start_pfn, n.start);
  return *zone_end_pfn - *zone_start_pfn;
}

// zone_absent_pages_in_node(): the holes of [zs, ze) in the node's memory
// (__absent_pages_in_range); with kernelcore=mirror, mirrored memory is absent
// from ZONE_MOVABLE and non-mirrored memory from ZONE_NORMAL.
uint64_t zone_absent_pages_in_node(const Layout& L, const NodeLayout& n, unsigned zone_type, Pfn zs,
                                   Pfn ze) {
  uint64_t absent = ze - zs;
  for (const MemRegion& r : L.memory) {
    if (r.nid != n.id) continue;
    absent -= kclamp(r.end, zs, ze) - kclamp(r.start, zs, ze);
  }
  if (!L.mirrored_kernelcore || !L.zone_movable_pfn[n.id]) return absent;
  for (const MemRegion& r : L.memory) {
    const uint64_t pages = kclamp(r.end, zs, ze) - kclamp(r.start, zs, ze);
    if (zone_type == L.arch.movable_idx() && r.mirror) absent += pages;
    if (L.arch.zones[zone_type] == ZoneKind::kNormal && !r.mirror) absent += pages;
  }
  return absent;
}

// calculate_node_totalpages(): every zone's start, spanned and present pages.
// A node without memory keeps zeroes (reset_memoryless_node_totalpages).
void calculate_node_totalpages(const Layout& L, NodeLayout* n) {
  n->zones.assign(L.arch.nr_zones(), {});
  if (!n->has_memory()) return;
  for (unsigned z = 0; z < L.arch.nr_zones(); ++z) {
    Pfn zs = 0, ze = 0;
    const uint64_t spanned = zone_spanned_pages_in_node(L, *n, z, &zs, &ze);
    ZoneSpan& span = n->zones[z];
    span.spanned = spanned;
    span.start = spanned ? zs : 0;
    if (!spanned) continue;
    span.present = spanned - zone_absent_pages_in_node(L, *n, z, zs, ze);
  }
}

// memblocks_present() (mm/sparse.c): the sections with memory get a memmap
// (x86_64, SPARSEMEM); i386 is FLATMEM, with a memmap up to memmap_end.
void memblocks_present(Layout* L) {
  const Pfn round = L->arch.arch == Arch::kI386 ? kMaxOrderNrPages : kPagesPerSection;
  L->memmap_end = (L->memory.back().end + round - 1) / round * round;
  if (L->arch.arch != Arch::kX86_64) return;
  L->section_present.assign(L->memmap_end >> kSectionShift, 0);
  for (const MemRegion& r : L->memory) {
    for (Pfn s = r.start >> kSectionShift; s <= (r.end - 1) >> kSectionShift; ++s) {
      L->section_present[s] = 1;
    }
  }
}

// init_unavailable_range(): a hole's pfns go to the zone given; those with a
// memmap (a present section, or any pfn under flatmem) are counted.
void init_unavailable_range(Layout* L, PfnInterval hole) {
  assign(&L->memmap, hole);
  uint64_t pages = hole.end - hole.start;
  if (L->arch.arch == Arch::kX86_64) {
    pages = 0;
    for (Pfn s = hole.start >> kSectionShift; s <= (hole.end - 1) >> kSectionShift; ++s) {
      if (s >= L->section_present.size() || !L->section_present[s]) continue;
      const Pfn a = std::max(hole.start, s << kSectionShift);
      const Pfn b = std::min(hole.end, (s + 1) << kSectionShift);
      pages += b - a;
    }
  }
  if (pages) L->unavailable.push_back({hole.nid, hole.zone, pages});
}

// memmap_init(): the zone of every pfn with a memmap. Memory gets the zone it
// is in (memmap_init_zone_range; with kernelcore=mirror the mirrored part of
// ZONE_MOVABLE is skipped, overlap_memmap_init); holes between regions get the
// zone that follows them, and the tail hole the last populated zone
// (init_unavailable_range).
void memmap_init(Layout* L) {
  Pfn hole_pfn = 0;
  unsigned last_zone = 0;
  int last_nid = 0;
  for (const MemRegion& r : L->memory) {
    const NodeLayout& n = L->nodes[r.nid];
    for (unsigned z = 0; z < L->arch.nr_zones(); ++z) {
      const ZoneSpan& span = n.zones[z];
      if (span.present == 0) continue;
      last_zone = z;  // memmap_init() records every populated zone it visits
      const Pfn s = kclamp(r.start, span.start, span.end());
      const Pfn e = kclamp(r.end, span.start, span.end());
      if (s >= e) continue;
      const bool skip = L->mirrored_kernelcore && z == L->arch.movable_idx() && r.mirror;
      if (!skip) assign(&L->memmap, {s, e, r.nid, z});
      if (hole_pfn < s) init_unavailable_range(L, {hole_pfn, s, r.nid, z});
      hole_pfn = e;
    }
    last_nid = r.nid;
  }
  if (hole_pfn < L->memmap_end) {
    init_unavailable_range(L, {hole_pfn, L->memmap_end, last_nid, last_zone});
  }
}

}  // namespace

// setup_arch() and free_area_init() in the order the kernel runs them: the
// firmware map, memblock, the NUMA nodes, the arch zone limits, ZONE_MOVABLE,
// the zone sizes and the memmap.
Result<Layout> compute_layout(const MachineConfig& cfg, const KernelParams& params) {
  Layout L;
  L.arch = ArchLayout::for_arch(cfg.arch);
  if (auto st = check_node_configs(cfg); !st) return st.error();
  auto fw = e820_usable_ram(cfg, &L);
  if (!fw) return fw.error();
  auto own = node_ownership(cfg, fw->total_size);
  if (!own) return own.error();
  const int nr_nodes = static_cast<int>(own->ranges.size());
  if (auto st = e820_memblock_setup(cfg, fw->usable, *own, &L); !st) return st.error();
  if (auto st = memblock_reserve(cfg, &L); !st) return st.error();
  if (auto st = setup_nodes(cfg, nr_nodes, &L); !st) return st.error();

  const Pfn max_pfn = std::max(fw->e820_max_pfn, L.memory.back().end);
  free_area_init_zone_limits(zone_sizes_init(L, max_pfn), &L);
  find_zone_movable_pfns_for_nodes(params, &L);
  for (NodeLayout& n : L.nodes) {
    calculate_node_totalpages(L, &n);
  }
  memblocks_present(&L);
  memmap_init(&L);
  return L;
}

}  // namespace memd
