#include "protocol/command.h"

namespace memd::protocol {

std::string_view command_help() {
  return R"(memd commands (one per line; the control file and the socket speak the same language):
  alloc order=N gfp=FLAGS [node=N] [cpu=N] [count=N]
      allocate 2^N pages; FLAGS as the kernel prints them (GFP_KERNEL|__GFP_ZERO) or a hex mask
  free pfn=P [pfn=P...] [cpu=C]   free the allocations whose first page is P
  free id=N [id=N...] [cpu=C]     free allocations by id
  free all [cpu=C]                free every live allocation
  allocations [zone=NAME] [node=N] [migratetype=NAME] [order=N] [after=ID] [limit=N]
                                  the live allocations in id order, where they are now
                                  (at most 1000 unless limit= says; after=ID: the next ones)
  memory offline block=N          take memory block N (memory/memoryN) offline: its movable
                                  allocations migrate (ids kept), EBUSY if an unmovable page is in it
  memory online block=N [zone=kernel|movable]
                                  bring block N back online (zone=: online_kernel, online_movable)
  sysctl                          list the vm sysctls memd models
  sysctl NAME                     print one (min_free_kbytes, watermark_scale_factor, ...)
  sysctl NAME=VALUE               set one (lowmem_reserve_ratio="256 256 32 0 0")
  show FILE                       print a file of the mount (buddyinfo, memory/memory8/state, ...)
  status                          the machine's shape and counters
  check                           verify every invariant of the allocator
  reset                           reboot the emulated machine from its configuration
  snapshot save | load bytes=N    the machine's whole state as bytes, out or in (socket only;
                                  memctl snapshot save FILE / load FILE)
  replay file=PATH                replay a kernel trace read by the daemon (text or
                                  trace.dat; gzip, zstd, xz too)
  replay begin | data bytes=N | end | abort
                                  stream a trace over the socket
  replay begin every=N            ... recording its history every N events (CSV in the replies)
  replay begin continue           ... going on from the previous replay (its pfns, its counts)
  trace                           the kmem tracepoints: which are on, the buffer
  trace on EVENT[,EVENT...]       turn events on (mm_page_alloc, mm_page_free,
                                  mm_page_free_batched, mm_page_alloc_zone_locked,
                                  mm_page_pcpu_drain, mm_page_alloc_extfrag, or all);
                                  read them from the mount's trace and trace_pipe
  trace off [EVENT...]            turn events off (all of them without a list)
  trace buffer_size_kb=N          each CPU's ring buffer, in KiB (the kernel's default: 1408)
  trace clear                     empty the ring buffers
  help                            this text
)";
}

}  // namespace memd::protocol
