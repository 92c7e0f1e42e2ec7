// What Linux 6.18 prints while it sets up memory (x86), for the emulated
// machine: the lines of setup_arch() (the command line, the firmware map and
// the kernel's changes to it, the end of RAM), of initmem_init() (a SLIT
// the kernel refuses), of free_area_init() (zone
// ranges, ZONE_MOVABLE's start per node, the node ranges, each node's
// extent, the holes memmap_init() gives to zones) and of start_kernel()
// (the command line, the parameters the kernel does not know). The
// zonelist lines are printed where the machine builds them
// (Machine::build_zonelists, build_all_zonelists).
//
// Lines whose numbers come from what memd does not emulate (ACPI tables, the
// kernel image, timings) are left out; docs/kernel-fidelity.md lists them.
#pragma once

#include "core/config.h"
#include "core/kernel_log.h"
#include "core/layout.h"

namespace memd {

// setup_arch()'s memory lines: "Command line:", "BIOS-provided physical RAM
// map:" and the e820 table (e820__print_table), trim_bios_range()'s "e820:
// update"/"e820: remove", e820__end_ram_pfn()'s "last_pfn = ...".
void print_setup_arch(const Layout& layout, const MachineConfig& config, KernelLog* log);

// initmem_init(): of the NUMA lines (SRAT, SLIT, NODE_DATA), which memd
// leaves out, the one a configuration changes: acpi_parse_slit()'s "ACPI:
// SLIT table looks invalid. Not used." when the distances fail slit_valid().
void print_initmem_init(const Layout& layout, KernelLog* log);

// free_area_init(): "Zone ranges:", "Movable zone start for each node",
// "Early memory node ranges", "Initmem setup node N ...", then memmap_init()'s
// "On node N, zone Z: K pages in unavailable ranges".
void print_free_area_init(const Layout& layout, KernelLog* log);

// start_kernel(): "Kernel command line: ..." and print_unknown_bootoptions().
void print_kernel_command_line(const MachineConfig& config, const KernelParams& params,
                               KernelLog* log);

}  // namespace memd
