#include "core/boot_log.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/e820.h"

namespace memd {

namespace {

// e820__print_table().
void e820_print_table(const std::vector<e820::Range>& table, std::string_view who, KernelLog* log) {
  for (const e820::Range& r : table) {
    log->printk(PrintkLevel::kInfo,
                fmt::format("{}: [mem {:#018x}-{:#018x}] {}", who, r.start, r.end - 1, r.name));
  }
}

// trim_bios_range(): page 0 is the BIOS's, 640 KiB - 1 MiB is not RAM.
void trim_bios_range(std::vector<e820::Range>* table, KernelLog* log) {
  constexpr uint64_t kBiosBegin = 0xa0000, kBiosEnd = 0x100000;
  log->printk(
      PrintkLevel::kDebug,
      fmt::format("e820: update [mem {:#010x}-{:#010x}] usable ==> reserved", 0, kPageSize - 1));
  e820::range_update(table, 0, kPageSize, e820::kRam, e820::kReserved);
  log->printk(PrintkLevel::kDebug,
              fmt::format("e820: remove [mem {:#010x}-{:#010x}] usable", kBiosBegin, kBiosEnd - 1));
  e820::range_remove(table, kBiosBegin, kBiosEnd - kBiosBegin, e820::kRam);
  *table = e820::update_table(*table);
}

// e820__end_ram_pfn()'s line.
Pfn e820_end_ram_pfn(const std::vector<e820::Range>& table, Pfn limit, Arch arch, KernelLog* log) {
  const Pfn last_pfn = e820::end_ram_pfn(table, limit, e820::max_arch_pfn(arch));
  log->printk(PrintkLevel::kInfo, fmt::format("last_pfn = {:#x} max_arch_pfn = {:#x}", last_pfn,
                                              e820::max_arch_pfn(arch)));
  return last_pfn;
}

}  // namespace

void print_setup_arch(const Layout& layout, const MachineConfig& config, KernelLog* log) {
  log->printk(PrintkLevel::kInfo, "Command line: " + config.cmdline);
  std::vector<e820::Range> table = layout.e820;
  log->printk(PrintkLevel::kInfo, "BIOS-provided physical RAM map:");
  e820_print_table(table, "BIOS-e820", log);
  trim_bios_range(&table, log);
  const Pfn max_pfn = e820_end_ram_pfn(table, e820::max_arch_pfn(config.arch), config.arch, log);
  // x86_64 only: "How many end-of-memory variables you have, grandma!"
  constexpr Pfn k4GiBPfn = Pfn{1} << (32 - kPageShift);
  if (config.arch == Arch::kX86_64 && max_pfn > k4GiBPfn) {
    e820_end_ram_pfn(table, k4GiBPfn, config.arch, log);
  }
}

void print_initmem_init(const Layout& layout, KernelLog* log) {
  if (layout.slit_ignored) {
    log->printk(PrintkLevel::kInfo, "ACPI: SLIT table looks invalid. Not used.");
  }
}

void print_free_area_init(const Layout& layout, KernelLog* log) {
  log->printk(PrintkLevel::kInfo, "Zone ranges:");
  for (unsigned z = 0; z < layout.arch.nr_zones(); ++z) {
    const ZoneKind kind = layout.arch.zones[z];
    if (kind == ZoneKind::kMovable) continue;
    const Pfn lo = layout.arch_zone_lowest[z], hi = layout.arch_zone_highest[z];
    const std::string name = fmt::format("  {:<8} ", zone_kind_name(kind));
    log->printk(PrintkLevel::kInfo,
                lo == hi ? name + "empty"
                         : name + fmt::format("[mem {:#018x}-{:#018x}]", lo << kPageShift,
                                              (hi << kPageShift) - 1));
  }
  log->printk(PrintkLevel::kInfo, "Movable zone start for each node");
  for (size_t nid = 0; nid < layout.zone_movable_pfn.size(); ++nid) {
    if (Pfn pfn = layout.zone_movable_pfn[nid]) {
      log->printk(PrintkLevel::kInfo, fmt::format("  Node {}: {:#018x}", nid, pfn << kPageShift));
    }
  }
  log->printk(PrintkLevel::kInfo, "Early memory node ranges");
  for (const MemRegion& r : layout.memory) {
    log->printk(PrintkLevel::kInfo, fmt::format("  node {:3}: [mem {:#018x}-{:#018x}]", r.nid,
                                                r.start << kPageShift, (r.end << kPageShift) - 1));
  }
  for (const NodeLayout& n : layout.nodes) {
    log->printk(PrintkLevel::kInfo,
                n.has_memory() ? fmt::format("Initmem setup node {} [mem {:#018x}-{:#018x}]", n.id,
                                             n.start << kPageShift, (n.end << kPageShift) - 1)
                               : fmt::format("Initmem setup node {} as memoryless", n.id));
  }
  for (const UnavailableRange& u : layout.unavailable) {
    log->printk(PrintkLevel::kInfo,
                fmt::format("On node {}, zone {}: {} pages in unavailable ranges", u.nid,
                            zone_kind_name(layout.arch.zones[u.zone]), u.pages));
  }
}

void print_kernel_command_line(const MachineConfig& config, const KernelParams& params,
                               KernelLog* log) {
  log->printk(PrintkLevel::kNotice, "Kernel command line: " + config.cmdline);
  // unknown_bootoption(): options without a value go to init's argv, those
  // with one to its environment, where a later NAME= replaces an earlier one.
  std::vector<std::string> argv, envp;
  for (const std::string& arg : params.unknown_to_kernel) {
    if (arg.find('=') == std::string::npos) {
      argv.push_back(arg);
      continue;
    }
    const std::string key = arg.substr(0, arg.find('=') + 1);  // strncmp(param, env, len + 1)
    auto same = std::find_if(envp.begin(), envp.end(), [&](const std::string& e) {
      return e.compare(0, key.size(), key) == 0;
    });
    if (same != envp.end()) {
      *same = arg;
    } else {
      envp.push_back(arg);
    }
  }
  if (argv.empty() && envp.empty()) return;
  std::string joined;
  for (const auto* list : {&argv, &envp}) {
    for (const std::string& a : *list) {
      joined += (joined.empty() ? "" : " ") + a;
    }
  }
  log->printk(PrintkLevel::kNotice, "Unknown kernel command line parameters \"" + joined +
                                        "\", will be passed to user space.");
}

}  // namespace memd
