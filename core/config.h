// The emulated machine's configuration: a plain struct the daemon fills from
// its TOML file (keys in docs/config.md and ../shared/spec/product.md), and
// the kernel command line memd honours, parsed as the kernel parses it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace memd {

// A physical address range [start, end) in bytes.
struct PhysRange {
  uint64_t start = 0;
  uint64_t end = 0;
  friend bool operator==(const PhysRange&, const PhysRange&) = default;
};

struct NodeConfig {
  // Exactly one of these: a size (nodes laid out one after another over the
  // machine's RAM), or an explicit physical range the node owns.
  std::optional<uint64_t> size;
  std::optional<PhysRange> range;
  std::vector<int> cpus;      // empty: CPUs are dealt round-robin over nodes
  std::vector<int> distance;  // to node 0, 1, ...; empty: 10 local, 20 remote
};

struct MachineConfig {
  Arch arch = Arch::kX86_64;
  // RAM without a firmware map: laid out as qemu's pc machine (linux-mm.md §15.1).
  std::optional<uint64_t> size;
  // The firmware map as the kernel logs it ("BIOS-e820: [mem 0x...-0x...] usable").
  std::optional<std::string> e820;
  std::string cmdline;
  int cpus = 2;     // CPUs when no node lists its own
  bool thp = true;  // CONFIG_TRANSPARENT_HUGEPAGE built in
  // X86_FEATURE_GBPAGES: the CPU has 1 GiB pages (x86_64 only). Modern CPUs
  // and the host-6.18 reference have them; qemu's default CPU (qemu64, every
  // kernel-6.1 capture) has not. Decides meminfo's DirectMap1G line (with the
  // nogbpages parameter) and the 1 GiB hstate.
  bool gbpages = true;
  std::vector<NodeConfig> nodes;
  std::vector<PhysRange> reserved;  // memblock reservations
  std::vector<PhysRange> mirrored;  // for kernelcore=mirror
};

// What memd takes from the kernel command line. Unknown parameters are
// collected as warnings and otherwise ignored, as the kernel passes them on.
struct KernelParams {
  // kernelcore= / movablecore= (mm/mm_init.c cmdline_parse_core)
  uint64_t kernelcore_pages = 0;
  uint64_t kernelcore_percent = 0;
  bool kernelcore_mirror = false;
  uint64_t movablecore_pages = 0;
  uint64_t movablecore_percent = 0;
  // sysctl.vm.* applied at the end of boot (kernel/sysctl.c via do_sysctl_args)
  std::optional<int> min_free_kbytes;
  std::optional<int> watermark_scale_factor;
  std::optional<std::vector<int>> lowmem_reserve_ratio;
  std::optional<int> percpu_pagelist_high_fraction;
  std::optional<int> watermark_boost_factor;
  // transparent_hugepage=always|madvise|never
  enum class Thp : uint8_t { kAlways, kMadvise, kNever } thp = Thp::kMadvise;
  bool thp_set = false;
  // gbpages / nogbpages (early_param_on_off in arch/x86/mm/init.c; the last
  // one wins): whether the direct mapping may use the CPU's 1 GiB pages.
  bool direct_gbpages = true;
  // Names of parameters memd does not model, for a warning.
  std::vector<std::string> ignored;
  // Parameters the kernel itself would not know (unknown_bootoption() hands
  // them to init), as "name" or "name=value", in command-line order.
  std::vector<std::string> unknown_to_kernel;
};

// Splits a command line the way the kernel's next_arg() does (double quotes
// group, and are removed from the value) and interprets the parameters memd
// models. A malformed value of one of those is an error that names it.
Result<KernelParams> parse_kernel_cmdline(std::string_view cmdline);

// memparse(): a number (decimal, 0x hex or 0 octal) with an optional
// K/M/G/T/P/E suffix. Returns nullopt if nothing parses or junk follows.
std::optional<uint64_t> parse_memsize(std::string_view text);

// An integer as a vm sysctl write reads it (proc_dointvec: strtoul with base
// 0, so "010" is 8 and "0x1000" is 4096; an optional '-'; must fit an int).
std::optional<int> parse_sysctl_int(std::string_view text);

// What a vm sysctl's proc handler accepts (mm/page_alloc.c's table and
// handlers): at most max_values integers, each in min..max (extra1/extra2 of
// proc_dointvec_minmax, else the int range); min_if_nonzero > 0 refuses a
// non-zero value below it (percpu_pagelist_high_fraction's handler).
struct SysctlRule {
  std::string_view name;
  size_t max_values = 1;
  int min = 0;
  int max = 0;
  int min_if_nonzero = 0;
};
// The rules of the vm sysctls memd models; nullptr for any other name.
const SysctlRule* vm_sysctl_rule(std::string_view name);

// A write to a vm sysctl, parsed as __do_proc_dointvec() parses it, for
// every door (the kernel command line's sysctl.vm.*, the socket's and the
// control file's sysctl): blanks (isspace) before and after; integers
// separated by a space, tab or newline (anything else after a number, like
// ',', is EINVAL); an optional '-' and no '+'; base 0 (0x hex, 0 octal);
// at most 20 characters a number. Each number must fit an int and the rule's
// bounds ("out of range (MIN..MAX)"); the kernel answers EINVAL to all of
// these. Unlike the kernel, which keeps the values before a bad one (and
// ignores values past the array's end), a refused write here changes
// nothing, and more values than the sysctl holds are refused.
Result<std::vector<int>> parse_sysctl_write(std::string_view value, const SysctlRule& rule);

// Parses the e820 text the kernel logs. Only the "usable" entries become
// RAM; other types are recorded but never given to memblock.memory.
struct E820Entry {
  PhysRange range;
  std::string type;
};
Result<std::vector<E820Entry>> parse_e820(std::string_view text);

}  // namespace memd
