// The firmware memory map as arch/x86/kernel/e820.c keeps it: typed ranges,
// made sorted and non-overlapping by e820__update_table(), changed by
// e820__range_update() and e820__range_remove(). The layout reads RAM from
// it (core/layout.cpp); the boot log prints it (core/boot_log.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/types.h"

namespace memd::e820 {

// enum e820_type (arch/x86/include/asm/e820/types.h).
inline constexpr uint32_t kRam = 1;
inline constexpr uint32_t kReserved = 2;
inline constexpr uint32_t kAcpi = 3;
inline constexpr uint32_t kNvs = 4;
inline constexpr uint32_t kUnusable = 5;
inline constexpr uint32_t kPmem = 7;
inline constexpr uint32_t kPram = 12;
inline constexpr uint32_t kSoftReserved = 0xefffffff;

struct Range {
  uint64_t start = 0;
  uint64_t end = 0;  // exclusive
  uint32_t type = kReserved;
  std::string name;  // as e820_print_type() prints the type
};

// The type a name printed by e820_print_type() stands for: "usable" is 1,
// "persistent (type 12)" and "type 12" are 12. A name the kernel never prints
// ranks as reserved and keeps its own name.
uint32_t type_of(std::string_view name);
// e820_print_type().
std::string type_name(uint32_t type);

// The configured map as the kernel's table, before sanitising.
std::vector<Range> table_of(const std::vector<E820Entry>& entries);

// e820__update_table(): sorted, overlaps resolved in favour of the highest
// type, neighbours of one type merged, empty entries gone.
std::vector<Range> update_table(const std::vector<Range>& table);

// e820__range_update(): the part of [start, start + size) typed old_type
// becomes new_type. The caller sanitises afterwards, as the kernel's do.
void range_update(std::vector<Range>* table, uint64_t start, uint64_t size, uint32_t old_type,
                  uint32_t new_type);
// e820__range_remove() with check_type: the part of [start, start + size)
// typed old_type is no longer in the map.
void range_remove(std::vector<Range>* table, uint64_t start, uint64_t size, uint32_t old_type);

// MAX_ARCH_PFN: 4-level paging's 64 TiB on x86_64 (MAXMEM, 1 << 46), 4 GiB
// on i386 without PAE.
constexpr Pfn max_arch_pfn(Arch arch) {
  return arch == Arch::kX86_64 ? Pfn{1} << (46 - kPageShift) : Pfn{1} << (32 - kPageShift);
}

// e820__end_ram_pfn(): the end of the last RAM or ACPI-data range below
// limit_pfn, at most max_arch_pfn.
Pfn end_ram_pfn(const std::vector<Range>& table, Pfn limit_pfn, Pfn max_arch_pfn);

}  // namespace memd::e820
