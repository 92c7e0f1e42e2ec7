#include "core/layout.h"

#include "core/memmap.h"

#include <algorithm>
#include <cstdio>
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

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

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

Result<NodeOwnership> node_ownership(const MachineConfig& cfg, uint64_t total_size,
                                     const std::vector<PhysRange>& usable) {
  NodeOwnership own;
  if (cfg.nodes.empty()) {
    own.ranges.push_back({{0, ~0ULL}});
    return own;
  }
  bool by_size = cfg.nodes[0].size.has_value();
  for (size_t i = 0; i < cfg.nodes.size(); ++i) {
    const NodeConfig& n = cfg.nodes[i];
    if (n.size.has_value() == n.range.has_value()) {
      return make_error("machine.node[" + std::to_string(i) +
                        "]: give either size or start/end, not both or neither");
    }
    if (n.size.has_value() != by_size) {
      return make_error(
          "machine.node[" + std::to_string(i) +
          "]: all nodes must be given the same way (all by size, or all by start/end)");
    }
  }
  if (by_size) {
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
    const PhysRange r = *cfg.nodes[i].range;
    if (r.end < r.start) {
      return make_error("machine.node[" + std::to_string(i) + "]: end " + hex(r.end) +
                        " is below start " + hex(r.start));
    }
    for (size_t j = 0; j < i; ++j) {
      const PhysRange o = *cfg.nodes[j].range;
      if (r.start < o.end && o.start < r.end && r.end > r.start && o.end > o.start) {
        return make_error("machine.node[" + std::to_string(i) + "]: range " + hex(r.start) + "-" +
                          hex(r.end) + " overlaps node " + std::to_string(j));
      }
    }
    own.ranges.push_back({r});
  }
  (void)usable;
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
  for (const ZoneSpan& z : zones)
    n += z.present;
  return n;
}

uint64_t NodeLayout::spanned() const {
  uint64_t n = 0;
  for (const ZoneSpan& z : zones)
    n += z.spanned;
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

Result<Layout> compute_layout(const MachineConfig& cfg, const KernelParams& params) {
  Layout L;
  L.arch = ArchLayout::for_arch(cfg.arch);
  const unsigned nr_zones = L.arch.nr_zones();

  // --- Firmware map to usable RAM -------------------------------------------------------
  std::vector<E820Entry> e820;
  uint64_t total_size = 0;
  if (cfg.e820) {
    auto parsed = parse_e820(*cfg.e820);
    if (!parsed) return make_error("machine.e820: " + parsed.error().message);
    e820 = std::move(*parsed);
    if (cfg.size)
      L.warnings.push_back("machine.size is ignored: machine.e820 gives the memory map");
  } else {
    if (cfg.size) {
      total_size = *cfg.size;
    } else if (!cfg.nodes.empty() && cfg.nodes[0].size) {
      for (const NodeConfig& n : cfg.nodes)
        total_size += n.size.value_or(0);
    } else if (!cfg.nodes.empty() && cfg.nodes[0].range) {
      total_size = 0;  // memory is the union of the node ranges
    } else {
      total_size = 4 * kGiB;
    }
    if (!cfg.nodes.empty() && cfg.nodes[0].size && cfg.size) {
      uint64_t sum = 0;
      for (const NodeConfig& n : cfg.nodes)
        sum += n.size.value_or(0);
      if (sum != *cfg.size) {
        return make_error("machine.node: node sizes add up to " + std::to_string(sum >> 20) +
                          " MiB but machine.size is " + std::to_string(*cfg.size >> 20) + " MiB");
      }
    }
    if (total_size) {
      e820 = qemu_pc_e820(total_size);
    } else {
      for (const NodeConfig& n : cfg.nodes)
        e820.push_back({*n.range, "usable"});
    }
  }
  // e820__update_table(): where entries overlap the higher type wins, so any
  // other type takes precedence over "usable" (E820_TYPE_RAM is 1).
  std::vector<PhysRange> usable, other;
  for (const E820Entry& e : e820) {
    (e.type == "usable" ? usable : other).push_back(e.range);
  }
  usable = merge(usable);
  for (const PhysRange& o : merge(other))
    usable = subtract(usable, o);
  // e820__end_of_ram_pfn(): the end of the last RAM or "ACPI data" entry.
  Pfn e820_max_pfn = 0;
  for (const E820Entry& e : e820) {
    if (e.type == "usable" || e.type == "ACPI data")
      e820_max_pfn = std::max(e820_max_pfn, pfn_down(e.range.end));
  }
  // trim_bios_range(): page 0 is reserved, 640 KiB - 1 MiB is not RAM.
  usable = subtract(usable, {0, kPageSize});
  usable = subtract(usable, {kBiosBegin, kBiosEnd});
  if (cfg.arch == Arch::kI386) {
    // highmem_pfn_init(): "Warning: only 4GB will be used. Support for
    // CONFIG_HIGHMEM64G was removed!", then memblock_remove() above max_pfn.
    bool trimmed = false;
    for (const PhysRange& r : usable)
      trimmed |= r.end > kI386MaxPhys;
    if (trimmed) {
      L.warnings.push_back(
          "only 4GB will be used: i386 kernels since 6.15 have no PAE highmem "
          "(CONFIG_HIGHMEM64G was removed)");
      usable = subtract(usable, {kI386MaxPhys, ~0ULL});
      e820_max_pfn = std::min<Pfn>(e820_max_pfn, kI386MaxPhys >> kPageShift);
    }
  } else {
    for (const PhysRange& r : usable) {
      if (r.end > kX86_64MaxPhys) {
        return make_error("memory above " + hex(kX86_64MaxPhys - 1) +
                          " is not supported: memd emulates up to 16 TiB minus one page");
      }
    }
  }

  // --- NUMA node ownership, memblock.memory regions ------------------------------------
  auto own = node_ownership(cfg, total_size, usable);
  if (!own) return own.error();
  const int nr_nodes = static_cast<int>(own->ranges.size());
  std::vector<PhysRange> mirrored = merge(cfg.mirrored);
  for (const PhysRange& r : usable) {
    uint64_t covered = 0;
    for (int nid = 0; nid < nr_nodes; ++nid) {
      for (const PhysRange& o : own->ranges[nid]) {
        uint64_t a = std::max(r.start, o.start), b = std::min(r.end, o.end);
        if (a >= b) continue;
        covered += b - a;
        // Split at mirror boundaries; memblock keeps mirrored regions apart.
        std::vector<uint64_t> cuts = {a, b};
        for (const PhysRange& m : mirrored) {
          if (m.start > a && m.start < b) cuts.push_back(m.start);
          if (m.end > a && m.end < b) cuts.push_back(m.end);
        }
        std::sort(cuts.begin(), cuts.end());
        for (size_t k = 0; k + 1 < cuts.size(); ++k) {
          Pfn s = pfn_up(cuts[k]), e = pfn_down(cuts[k + 1]);
          if (s >= e) continue;
          bool mir = false;
          for (const PhysRange& m : mirrored) {
            if (m.start <= cuts[k] && cuts[k + 1] <= m.end) mir = true;
          }
          L.memory.push_back({s, e, nid, mir});
        }
      }
    }
    if (covered != r.end - r.start) {
      return make_error("usable memory " + hex(r.start) + "-" + hex(r.end - 1) +
                        " is not (entirely) inside any machine.node range");
    }
  }
  std::sort(L.memory.begin(), L.memory.end(),
            [](const MemRegion& a, const MemRegion& b) { return a.start < b.start; });
  {
    std::vector<MemRegion> merged;
    for (const MemRegion& r : L.memory) {
      if (!merged.empty() && merged.back().end == r.start && merged.back().nid == r.nid &&
          merged.back().mirror == r.mirror) {
        merged.back().end = r.end;
      } else {
        merged.push_back(r);
      }
    }
    L.memory = std::move(merged);
  }
  if (L.memory.empty()) return make_error("the machine has no usable memory");

  // memblock.reserved: the first 1 MiB (x86 always reserves it) and the configured ranges.
  std::vector<PhysRange> reserved = cfg.reserved;
  for (size_t i = 0; i < reserved.size(); ++i) {
    if (reserved[i].end < reserved[i].start) {
      return make_error("machine.reserved[" + std::to_string(i) + "]: end below start");
    }
  }
  reserved.push_back({0, kMiB});
  L.reserved = merge(reserved);
  for (const MemRegion& r : L.memory) {
    std::vector<PhysRange> free = {{r.start << kPageShift, r.end << kPageShift}};
    for (const PhysRange& res : L.reserved)
      free = subtract(free, res);
    for (const PhysRange& f : free) {
      Pfn s = pfn_up(f.start), e = pfn_down(f.end);
      if (s < e) L.free_ranges.emplace_back(s, e);
    }
  }
  if (L.free_ranges.empty()) return make_error("all of the machine's memory is reserved");

  // --- CPUs and distances ----------------------------------------------------------------
  bool cpus_listed = false;
  for (const NodeConfig& n : cfg.nodes)
    cpus_listed |= !n.cpus.empty();
  if (cpus_listed) {
    int max_cpu = -1;
    for (const NodeConfig& n : cfg.nodes) {
      for (int c : n.cpus)
        max_cpu = std::max(max_cpu, c);
    }
    L.nr_cpus = max_cpu + 1;
    L.cpu_node.assign(L.nr_cpus, -1);
    for (int nid = 0; nid < nr_nodes; ++nid) {
      for (int c : cfg.nodes[nid].cpus) {
        if (c < 0)
          return make_error("machine.node[" + std::to_string(nid) + "].cpus: negative CPU number");
        if (L.cpu_node[c] != -1) {
          return make_error("CPU " + std::to_string(c) + " is listed in node " +
                            std::to_string(L.cpu_node[c]) + " and node " + std::to_string(nid));
        }
        L.cpu_node[c] = nid;
      }
    }
    for (int c = 0; c < L.nr_cpus; ++c) {
      if (L.cpu_node[c] == -1) {
        return make_error("CPUs must be numbered 0..N-1: CPU " + std::to_string(c) +
                          " is in no node");
      }
    }
  } else {
    L.nr_cpus = cfg.cpus;
    if (L.nr_cpus < 1) return make_error("machine.cpus must be at least 1");
    for (int c = 0; c < L.nr_cpus; ++c)
      L.cpu_node.push_back(c % nr_nodes);
  }
  if (L.nr_cpus > 1024) return make_error("at most 1024 CPUs are supported");

  L.nodes.resize(nr_nodes);
  for (int nid = 0; nid < nr_nodes; ++nid) {
    NodeLayout& n = L.nodes[nid];
    n.id = nid;
    for (int c = 0; c < L.nr_cpus; ++c) {
      if (L.cpu_node[c] == nid) n.cpus.push_back(c);
    }
    const std::vector<int>* dist = cfg.nodes.empty() ? nullptr : &cfg.nodes[nid].distance;
    if (dist && !dist->empty()) {
      if (static_cast<int>(dist->size()) != nr_nodes) {
        return make_error("machine.node[" + std::to_string(nid) + "].distance: needs " +
                          std::to_string(nr_nodes) + " entries, one per node");
      }
      for (int d : *dist) {
        if (d < kLocalDistance || d > 254) {
          return make_error("machine.node[" + std::to_string(nid) +
                            "].distance: distances must be in 10..254");
        }
      }
      n.distance = *dist;
    } else {
      for (int j = 0; j < nr_nodes; ++j)
        n.distance.push_back(j == nid ? kLocalDistance : kRemoteDistance);
    }
  }

  // --- Node ranges (get_pfn_range_for_nid) ----------------------------------------------
  for (NodeLayout& n : L.nodes) {
    Pfn s = ~0ULL, e = 0;
    for (const MemRegion& r : L.memory) {
      if (r.nid != n.id) continue;
      s = std::min(s, r.start);
      e = std::max(e, r.end);
    }
    if (s == ~0ULL) s = 0;
    n.start = s;
    n.end = e;
    if (!n.has_memory() && n.cpus.empty()) {
      return make_error("machine.node[" + std::to_string(n.id) + "] has neither memory nor CPUs");
    }
  }

  // --- Arch zone ranges (zone_sizes_init, free_area_init) --------------------------------
  const Pfn max_pfn = std::max(e820_max_pfn, L.memory.back().end);
  Pfn max_low_pfn = max_pfn;
  if (cfg.arch == Arch::kI386) max_low_pfn = std::min(max_pfn, kI386MaxLowMem >> kPageShift);
  std::vector<Pfn> max_zone_pfn(nr_zones, 0);
  for (unsigned z = 0; z < nr_zones; ++z) {
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
  L.arch_zone_lowest.assign(nr_zones, 0);
  L.arch_zone_highest.assign(nr_zones, 0);
  const unsigned movable = L.arch.movable_idx();
  {
    Pfn start = pfn_down(L.memory.front().start << kPageShift);
    for (unsigned z = 0; z < nr_zones; ++z) {
      if (z == movable) continue;
      Pfn end = std::max(max_zone_pfn[z], start);
      L.arch_zone_lowest[z] = start;
      L.arch_zone_highest[z] = end;
      start = end;
    }
  }

  // --- ZONE_MOVABLE (find_zone_movable_pfns_for_nodes) -----------------------------------
  L.zone_movable_pfn.assign(nr_nodes, 0);
  {
    // early_calculate_totalpages(), N_MEMORY
    std::vector<bool> has_mem(nr_nodes, false);
    for (const MemRegion& r : L.memory) {
      L.totalpages += r.end - r.start;
      has_mem[r.nid] = true;
    }
    int usable_nodes = static_cast<int>(std::count(has_mem.begin(), has_mem.end(), true));
    // find_usable_zone_for_movable()
    int zi = static_cast<int>(nr_zones) - 1;
    for (; zi >= 0; --zi) {
      if (static_cast<unsigned>(zi) == movable) continue;
      if (L.arch_zone_highest[zi] > L.arch_zone_lowest[zi]) break;
    }
    L.movable_zone = zi;

    auto node_ranges = [&](int nid) {
      std::vector<std::pair<Pfn, Pfn>> v;
      for (const MemRegion& r : L.memory) {
        if (r.nid == nid) v.emplace_back(r.start, r.end);
      }
      return v;
    };
    bool do_align = false;
    if (params.kernelcore_mirror) {
      bool any_mirror = false;
      for (const MemRegion& r : L.memory)
        any_mirror |= r.mirror;
      if (!any_mirror) {
        L.warnings.push_back("The system has no mirror memory, ignore kernelcore=mirror.");
      } else {
        L.mirrored_kernelcore = true;
        bool below_4g_not_mirrored = false;
        for (const MemRegion& r : L.memory) {
          if (r.mirror) continue;
          if (r.start < (4 * kGiB >> kPageShift)) {
            below_4g_not_mirrored = true;
            continue;
          }
          Pfn& z = L.zone_movable_pfn[r.nid];
          z = z ? std::min(r.start, z) : r.start;
        }
        if (below_4g_not_mirrored) {
          L.warnings.push_back("This configuration results in unmirrored kernel memory.");
        }
        do_align = true;
      }
    } else {
      uint64_t required_kernelcore = params.kernelcore_pages;
      uint64_t required_movablecore = params.movablecore_pages;
      if (params.kernelcore_percent) {
        required_kernelcore = (L.totalpages * 100 * params.kernelcore_percent) / 10000;
      }
      if (params.movablecore_percent) {
        required_movablecore = (L.totalpages * 100 * params.movablecore_percent) / 10000;
      }
      if (required_movablecore) {
        required_movablecore =
            (required_movablecore + kMaxOrderNrPages - 1) & ~(kMaxOrderNrPages - 1);
        required_movablecore = std::min(L.totalpages, required_movablecore);
        uint64_t corepages = L.totalpages - required_movablecore;
        required_kernelcore = std::max(required_kernelcore, corepages);
      }
      if (required_kernelcore && required_kernelcore < L.totalpages) {
        const Pfn usable_startpfn = L.arch_zone_lowest[L.movable_zone];
        do {
          uint64_t kernelcore_node = required_kernelcore / usable_nodes;
          for (int nid = 0; nid < nr_nodes; ++nid) {
            if (!has_mem[nid]) continue;
            if (required_kernelcore < kernelcore_node) {
              kernelcore_node = required_kernelcore / usable_nodes;
            }
            uint64_t kernelcore_remaining = kernelcore_node;
            for (auto [start_pfn, end_pfn] : node_ranges(nid)) {
              start_pfn = std::max(start_pfn, L.zone_movable_pfn[nid]);
              if (start_pfn >= end_pfn) continue;
              if (start_pfn < usable_startpfn) {
                uint64_t kernel_pages = std::min(end_pfn, usable_startpfn) - start_pfn;
                kernelcore_remaining -= std::min(kernel_pages, kernelcore_remaining);
                required_kernelcore -= std::min(kernel_pages, required_kernelcore);
                if (end_pfn <= usable_startpfn) {
                  L.zone_movable_pfn[nid] = end_pfn;
                  continue;
                }
                start_pfn = usable_startpfn;
              }
              uint64_t size_pages = end_pfn - start_pfn;
              if (size_pages > kernelcore_remaining) size_pages = kernelcore_remaining;
              L.zone_movable_pfn[nid] = start_pfn + size_pages;
              required_kernelcore -= std::min(required_kernelcore, size_pages);
              kernelcore_remaining -= size_pages;
              if (!kernelcore_remaining) break;
            }
          }
          usable_nodes--;
        } while (usable_nodes && required_kernelcore > static_cast<uint64_t>(usable_nodes));
        do_align = true;
      }
    }
    if (do_align) {
      for (NodeLayout& n : L.nodes) {
        if (!has_mem[n.id]) continue;
        Pfn& z = L.zone_movable_pfn[n.id];
        z = (z + kMaxOrderNrPages - 1) & ~(kMaxOrderNrPages - 1);
        if (z >= n.end) z = 0;
      }
    } else {
      std::fill(L.zone_movable_pfn.begin(), L.zone_movable_pfn.end(), 0);
    }
  }

  // --- Zone spans and present pages (calculate_node_totalpages) --------------------------
  for (NodeLayout& n : L.nodes) {
    n.zones.assign(nr_zones, {});
    if (!n.has_memory()) continue;  // reset_memoryless_node_totalpages
    const Pfn zmp = L.zone_movable_pfn[n.id];
    for (unsigned z = 0; z < nr_zones; ++z) {
      Pfn low = L.arch_zone_lowest[z], high = L.arch_zone_highest[z];
      Pfn zs = kclamp(n.start, low, high);
      Pfn ze = kclamp(n.end, low, high);
      // adjust_zone_range_for_zone_movable()
      if (zmp) {
        if (z == movable) {
          zs = zmp;
          ze = std::min(n.end, L.arch_zone_highest[L.movable_zone]);
        } else if (!L.mirrored_kernelcore && zs < zmp && ze > zmp) {
          ze = zmp;
        } else if (zs >= zmp) {
          zs = ze;
        }
      }
      uint64_t spanned = 0;
      if (!(ze < n.start || zs > n.end)) {
        ze = std::min(ze, n.end);
        zs = std::max(zs, n.start);
        spanned = ze - zs;
      }
      ZoneSpan& span = n.zones[z];
      span.spanned = spanned;
      span.start = spanned ? zs : 0;
      if (!spanned) continue;
      // zone_absent_pages_in_node()
      uint64_t absent = spanned;
      for (const MemRegion& r : L.memory) {
        if (r.nid != n.id) continue;
        Pfn a = kclamp(r.start, zs, ze), b = kclamp(r.end, zs, ze);
        absent -= b - a;
      }
      if (L.mirrored_kernelcore && zmp) {
        for (const MemRegion& r : L.memory) {
          Pfn a = kclamp(r.start, zs, ze), b = kclamp(r.end, zs, ze);
          if (z == movable && r.mirror) absent += b - a;
          if (L.arch.zones[z] == ZoneKind::kNormal && !r.mirror) absent += b - a;
        }
      }
      span.present = spanned - absent;
    }
  }

  // --- Sections with a memmap, and the zone of every pfn (memmap_init) -------------------
  const Pfn round = cfg.arch == Arch::kI386 ? kMaxOrderNrPages : kPagesPerSection;
  L.memmap_end = (L.memory.back().end + round - 1) / round * round;
  if (cfg.arch == Arch::kX86_64) {
    L.section_present.assign(L.memmap_end >> kSectionShift, 0);
    for (const MemRegion& r : L.memory) {
      for (Pfn s = r.start >> kSectionShift; s <= (r.end - 1) >> kSectionShift; ++s) {
        L.section_present[s] = 1;
      }
    }
  }
  {
    Pfn hole_pfn = 0;
    unsigned last_zone = 0;
    int last_nid = 0;
    for (const MemRegion& r : L.memory) {
      const NodeLayout& n = L.nodes[r.nid];
      for (unsigned z = 0; z < nr_zones; ++z) {
        const ZoneSpan& span = n.zones[z];
        if (span.present == 0) continue;
        last_zone = z;  // memmap_init() records every populated zone it visits
        Pfn s = kclamp(r.start, span.start, span.end());
        Pfn e = kclamp(r.end, span.start, span.end());
        if (s >= e) continue;
        bool skip = L.mirrored_kernelcore && z == movable && r.mirror;  // overlap_memmap_init
        if (!skip) assign(&L.memmap, {s, e, r.nid, z});
        if (hole_pfn < s) assign(&L.memmap, {hole_pfn, s, r.nid, z});
        hole_pfn = e;
      }
      last_nid = r.nid;
    }
    if (hole_pfn < L.memmap_end) assign(&L.memmap, {hole_pfn, L.memmap_end, last_nid, last_zone});
  }
  return L;
}

}  // namespace memd
