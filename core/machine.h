// The emulated machine: boots from a MachineConfig the way Linux 6.18 boots
// (zones, zonelists, boot-time freeing, watermarks, pagesets) and allocates
// and frees pages exactly as the kernel's page allocator does, with the rules
// of linux-mm.md §15 where the kernel depends on what memd does not emulate.
//
// Pure and deterministic: no I/O, no threads, no clock. Not thread-safe: the
// daemon serialises access. The same configuration and the same sequence of
// calls give the same pfns and the same counters.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/gfp.h"
#include "core/kernel_log.h"
#include "core/layout.h"
#include "core/memory_block.h"
#include "core/pageblock_map.h"
#include "core/result.h"
#include "core/stats.h"
#include "core/trace_buffer.h"
#include "core/zone.h"

namespace memd {

struct AllocRequest {
  unsigned order = 0;
  Gfp gfp = gfp::kKernel;
  std::optional<int> node;  // preferred node; default: the CPU's node
  int cpu = 0;              // the CPU whose per-cpu lists serve the request
};

// Why the allocator refuses a request without trying it: the first rule it
// breaks, in the order Machine::check_request() checks them. The kernel's
// callers must not ask these (order above MAX_PAGE_ORDER, GFP_ZONE_BAD and
// MOVABLE|RECLAIMABLE are VM_BUGs or warnings there); memd also checks the
// CPU and the node, which the kernel takes from the running task.
enum class AllocRefusal : uint8_t { kOrder, kCpu, kNode, kZoneBad, kMovableReclaimable };

// A live allocation, as the allocator handed it out.
struct Allocation {
  AllocId id = 0;
  Pfn pfn = 0;
  unsigned order = 0;
  int nid = 0;
  unsigned zone_idx = 0;
  std::string_view zone_name;
  unsigned migratetype = 0;  // gfp_migratetype() of the request
};

// Which live allocations Machine::allocations() lists: each field, when
// set, must match; ids above `after` only; at most `limit` of them.
struct AllocationFilter {
  std::optional<int> nid;
  std::optional<unsigned> zone_idx;  // the zone's index in its node (ZoneKind)
  std::optional<unsigned> migratetype;
  std::optional<unsigned> order;
  AllocId after = 0;  // ids start at 1
  size_t limit = SIZE_MAX;
};

// The allocations a filter lists, in id order, and how many match in all
// (beyond `limit` too).
struct AllocationList {
  std::vector<Allocation> allocations;
  uint64_t matched = 0;
};

// What Machine::offline_block() or online_block() did, or why it failed:
// `error` is 0 or the errno the kernel's sysfs write returns (EINVAL, EBUSY,
// EINTR; ENOENT: no such block), `reason` the kernel's words for it
// ("memory holes", "failure to isolate range", "signal backoff").
struct HotplugResult {
  int error = 0;
  std::string reason;
  uint64_t block = 0;
  Pfn start_pfn = 0;
  uint64_t nr_pages = 0;
  uint64_t migrated_pages = 0;  // pgmigrate_success added by this offline
  uint64_t failed_pages = 0;    // pgmigrate_fail added
  uint64_t migrated_allocations = 0;
  std::string zone_name;  // the zone the block left or joined
  bool ok() const { return error == 0; }
  // The kernel's line: "Offlined Pages 32768", or "memory offlining [mem
  // 0x70000000-0x77ffffff] failed due to failure to isolate range".
  std::string message(bool offline) const;
};

struct CheckReport {
  std::vector<std::string> problems;  // empty: every invariant holds
  bool ok() const { return problems.empty(); }
};

class IdIndex;

class Machine {
 public:
  // Boots a machine. Warnings (parameters memd does not model, ignored keys)
  // are available from warnings().
  static Result<std::unique_ptr<Machine>> boot(const MachineConfig& config);

  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;
  ~Machine();

  // __alloc_pages(): the fast path, then the slow path as §15.4 fixes it.
  // A failure carries the kernel's warn_alloc text.
  Result<Allocation> alloc(const AllocRequest& request);
  // What alloc() would refuse `request` for, without changing anything;
  // nullopt when it would try. Front ends word the reason in their own terms.
  std::optional<AllocRefusal> check_request(const AllocRequest& request) const;
  // Frees the allocation whose head is pfn, on `cpu`'s per-cpu lists.
  Result<Allocation> free_pfn(Pfn pfn, int cpu = 0);
  Result<Allocation> free_id(AllocId id, int cpu = 0);
  // Frees every live allocation, in id order; returns how many.
  uint64_t free_all(int cpu = 0);
  // Looks an allocation up without changing anything.
  std::optional<Allocation> find_pfn(Pfn pfn) const;
  std::optional<Allocation> find_id(AllocId id) const;
  uint64_t nr_allocations() const;
  // The live allocations `filter` selects, where they are now (a movable
  // one's pfn changes when it migrates; its id does not).
  AllocationList allocations(const AllocationFilter& filter) const;

  // Memory hotplug (mm/memory_hotplug.c offline_pages, online_pages; see
  // core/machine_hotplug.cpp): takes memory block `block` offline,
  // migrating its movable allocations away (their ids stay, their pfns
  // change), or brings an offline block online into the zone `type` picks
  // (zone_for_pfn_range). A failure leaves the machine as the kernel's
  // failure leaves it (the zone's pcp lists drained).
  HotplugResult offline_block(uint64_t block_id);
  HotplugResult online_block(uint64_t block_id, OnlineType type);
  uint64_t pgmigrate_success() const { return pgmigrate_success_; }
  uint64_t pgmigrate_fail() const { return pgmigrate_fail_; }
  // The zone (global index) a pfn is in now: the boot layout's, or an
  // onlined block's; ~0u for holes and offline blocks.
  unsigned pfn_zone_global_idx(Pfn pfn) const;

  // vm sysctls memd models: min_free_kbytes, watermark_scale_factor,
  // watermark_boost_factor, lowmem_reserve_ratio, percpu_pagelist_high_fraction.
  // Writing one recomputes what depends on it, as the kernel's handler does.
  // Bad values are refused and change nothing.
  Status set_sysctl(std::string_view name, std::string_view value);
  Result<std::string> get_sysctl(std::string_view name) const;
  static const std::vector<std::string_view>& sysctl_names();

  // Verifies every invariant of the allocator; see zone.h.
  CheckReport check() const;

  // The whole state (free lists in order, per-cpu lists, allocations with
  // ids, pageblock types, tunables, counters) as bytes, and a machine rebuilt
  // from them. restore_state() refuses data from another configuration or
  // damaged data with a clear message, and never returns a half-loaded
  // machine. See core/state.cpp for the format.
  std::string save_state() const;
  static Result<std::unique_ptr<Machine>> restore_state(const MachineConfig& config,
                                                        std::string_view data);
  // restore_state() on a copy of `booted` (clone()) instead of a new boot of
  // its configuration: the same machine, or the same refusal, when `booted`
  // is as Machine::boot() returned it, unchanged. For fuzzing, which
  // restores many states on one configuration.
  static Result<std::unique_ptr<Machine>> restore_state(const Machine& booted,
                                                        std::string_view data);

  // An exact copy of this machine: the same state (what save_state() holds),
  // kernel log, trace buffer, warnings and rate limits, so that the same
  // calls on the copy and on this machine give the same results, byte for
  // byte. Much cheaper than booting: the memory map is copied page by page,
  // and pages the original never wrote stay uncommitted. What was attached
  // from outside (set_extfrag_listener, set_tracer with another tracer than
  // the machine's own trace buffer) is not: the copy has none. For fuzzing
  // and tests that start many runs from one booted machine.
  std::unique_ptr<Machine> clone() const;
  // Makes this machine an exact copy of `other`, as clone() does, reusing
  // this machine's memory (and writing only the pages of the memory map that
  // differ): cheaper than clone() when a run starts from the same machine
  // again and again. This machine's outside listener and tracer are detached.
  void copy_from(const Machine& other);

  // Counters for the kernel's files.
  MachineStats stats() const;
  // Every pageblock's type and buddy-free pages, for the pageblock map
  // (core/pageblock_map.h): three bytes per pageblock copied, nothing walked.
  PageblockSnapshot pageblock_snapshot() const;

  const MachineConfig& config() const { return config_; }
  const Layout& layout() const { return layout_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  int nr_cpus() const { return layout_.nr_cpus; }
  int nr_nodes() const { return static_cast<int>(layout_.nodes.size()); }
  const Zone& zone(int nid, unsigned idx) const { return *zones_[nid][idx]; }
  // The zones of a node as they are now (start, span, present), by zone_idx.
  std::vector<ZoneSpan> zone_spans(int nid) const;
  // The memory blocks of /sys/devices/system/memory (core/memory_block.h).
  const MemoryBlocks& memory_blocks() const { return memory_blocks_; }
  // The fallback zonelist of a node: zones by global index.
  const std::vector<unsigned>& zonelist(int nid) const { return zonelists_[nid].fallback; }
  // The node order of a node's zonelist ("Fallback order for Node N").
  const std::vector<int>& node_order(int nid) const { return zonelists_[nid].node_order; }
  bool mobility_disabled() const { return ctx_.mobility_disabled; }
  // The kernel's log: what it printed at boot, then its run-time reports.
  const KernelLog& kernel_log() const { return log_; }
  // The nofallback zonelist of a node (__GFP_THISNODE): zones by global index.
  const std::vector<unsigned>& nofallback_zonelist(int nid) const {
    return zonelists_[nid].nofallback;
  }
  // policy_zone: the highest zone type below ZONE_MOVABLE with memory.
  ZoneKind policy_zone() const;
  // CONFIG_NUMA: the x86_64 kernel has it (fallback order, policy zone), the
  // i386 one memd emulates does not.
  bool numa_configured() const { return layout_.arch.arch == Arch::kX86_64; }
  int min_free_kbytes() const { return min_free_kbytes_; }
  uint64_t totalreserve_pages() const { return totalreserve_pages_; }
  uint64_t pgfree() const { return ctx_.pgfree; }
  // The task the next calls act for, as the kernel's `current`: its comm
  // names it in the kernel's reports ("memctl: page allocation failure:").
  void set_current_comm(std::string comm) { current_comm_ = std::move(comm); }
  // Receives every mm_page_alloc_extfrag event; nullptr to stop.
  void set_extfrag_listener(ExtfragListener* l) { ctx_.extfrag_listener = l; }
  // Receives the kmem tracepoints' records; nullptr (the default) to stop.
  // With no tracer attached the allocator does no tracing work at all.
  void set_tracer(KmemTracer* t) { ctx_.tracer = t; }
  KmemTracer* tracer() const { return ctx_.tracer; }
  // The kernel's own trace buffer: set_trace_events() turns events on and
  // off (a mask of kmem_event_bit()) and attaches the buffer while any is on.
  TraceBuffer& trace_buffer() { return *trace_; }
  const TraceBuffer& trace_buffer() const { return *trace_; }
  void set_trace_events(uint32_t mask);

 private:
  struct Zonelists {
    std::vector<unsigned> fallback;    // ZONELIST_FALLBACK, global zone indices
    std::vector<unsigned> nofallback;  // ZONELIST_NOFALLBACK (__GFP_THISNODE)
    std::vector<int> node_order;
    // first_zones_zonelist(): index of the first zone with zone_idx <= z, or -1.
    std::array<int, kMaxNrZones> first_fallback{};
    std::array<int, kMaxNrZones> first_nofallback{};
  };
  struct AllocContext {
    const std::vector<unsigned>* zonelist = nullptr;
    size_t preferred = 0;  // index into *zonelist of preferred_zoneref
    unsigned highest_zoneidx = 0;
    unsigned migratetype = 0;
    int cpu = 0;
  };

  struct Checker;  // core/machine_check.cpp
  struct Sysctl;   // core/machine_sysctl.cpp: one row of the sysctl table

  explicit Machine(MachineConfig config, Layout layout);
  Status init(const KernelParams& params);

  // boot (core/machine_boot.cpp)
  Status free_area_init_core();
  void init_pageblock_block_counts();
  void hugepage_init(const KernelParams& params);
  Status apply_cmdline_sysctls(const KernelParams& params);
  void init_memmap();
  // `print`: the kernel's "Built N zonelists" line (not when restoring state).
  void build_all_zonelists(bool print = true);
  void build_zonelists(int local, std::vector<int>* node_load, bool print);
  void free_boot_memory();
  void setup_per_cpu_pageset();
  void refresh_zone_stat_thresholds();

  // watermarks, reserves and pagesets (core/machine_watermarks.cpp)
  uint64_t nr_free_zone_pages(unsigned offset) const;
  void calculate_min_free_kbytes();
  void set_recommended_min_free_kbytes();
  void setup_per_zone_wmarks();
  void setup_per_zone_lowmem_reserve();
  void calculate_totalreserve_pages();
  static uint64_t node_totalreserve_pages(const std::vector<std::unique_ptr<Zone>>& node);
  void zone_pcp_update(Zone* zone);
  int zone_batchsize(const Zone& zone) const;
  int zone_highsize(const Zone& zone, int batch, int fraction) const;

  // allocation (core/machine_alloc.cpp)
  [[gnu::cold, gnu::noinline]] Error alloc_refusal(const AllocRequest& req, AllocRefusal why) const;
  [[gnu::cold, gnu::noinline]] void warn_alloc(const AllocRequest& req);
  std::optional<size_t> first_zone(const std::vector<unsigned>& zl, unsigned highest) const;
  unsigned alloc_flags_nofragment(const Zone* zone, Gfp gfp) const;
  unsigned gfp_to_alloc_flags(Gfp gfp, unsigned order) const;
  OptPfn get_page_from_freelist(Gfp gfp, unsigned order, unsigned alloc_flags,
                                const AllocContext& ac, Zone** zone_out);
  OptPfn rmqueue(Zone* preferred, Zone* zone, unsigned order, unsigned alloc_flags, unsigned mt,
                 int cpu);
  OptPfn rmqueue_pcplist(Zone* preferred, Zone* zone, unsigned order, unsigned mt,
                         unsigned alloc_flags, int cpu);
  OptPfn rmqueue_buddy(Zone* preferred, Zone* zone, unsigned order, unsigned alloc_flags,
                       unsigned mt, int cpu);
  void zone_statistics(Zone* preferred, Zone* z, int cpu);
  // The allocation path of alloc() on a given zonelist, for migration
  // targets (__alloc_pages with a nodemask): no id, no tracepoint.
  OptPfn alloc_pages_zonelist(const AllocRequest& req, const std::vector<unsigned>& zonelist,
                              Zone** zone_out);
  OptPfn alloc_slowpath(Gfp gfp, unsigned order, AllocContext* ac, Zone** zone_out);
  bool should_reclaim_retry(unsigned order, const AllocContext& ac, unsigned alloc_flags,
                            int* no_progress_loops);
  bool unreserve_highatomic_pageblock(const AllocContext& ac, bool force);
  void wake_all_kswapds(const AllocContext& ac);
  void wakeup_kswapd(const Zone& zone, unsigned highest_zoneidx);

  // sysctls (core/machine_sysctl.cpp)
  static const std::vector<Sysctl>& sysctl_table();
  static const Sysctl* find_sysctl(std::string_view name);

  // stats (core/machine_stats.cpp)
  NodeStats node_stats(int nid, uint64_t* totalram_pages) const;

  // state (core/state.cpp)
  struct SavedState;
  // restore_state() after the header: `body` applied to `m`, freshly booted.
  static Result<std::unique_ptr<Machine>> restore_body(std::unique_ptr<Machine> m,
                                                       std::string_view body, uint32_t version);
  void clear_dynamic_state();
  void put_hotplug(void* writer) const;  // a state.cpp Writer
  void apply_hotplug_state(const SavedState& st);
  Status apply_state(const SavedState& st);

  // memory hotplug (core/machine_hotplug.cpp)
  bool pfn_is_managed_at_boot(Pfn start, Pfn end) const;
  void zone_pcp_disable(Zone* zone);
  void zone_pcp_enable(Zone* zone);
  Pfn find_large_buddy(Pfn start) const;
  void toggle_pageblock_isolate(Pfn pfn, bool isolate);
  bool move_freepages_block_isolate(Zone* zone, Pfn pfn, bool isolate);
  bool has_unmovable_pages(const Zone& zone, Pfn start, Pfn end) const;
  bool set_migratetype_isolate(Zone* zone, Pfn pfn);
  void unset_migratetype_isolate(Zone* zone, Pfn pfn);
  bool start_isolate_page_range(Zone* zone, Pfn start, Pfn end);
  void undo_isolate_page_range(Zone* zone, Pfn start, Pfn end);
  std::vector<Pfn> movable_heads_descending(Pfn start, Pfn end) const;
  bool migrate_one(Pfn src, const std::vector<unsigned>& zonelist, HotplugResult* r);
  uint64_t migrate_range(Zone* zone, Pfn start, Pfn end, HotplugResult* r);
  std::vector<unsigned> migration_zonelist(int nid) const;
  void offline_isolated_pages(Zone* zone, Pfn start, Pfn end);
  void set_pageblocks_counted(Zone* zone, Pfn start, Pfn end, bool counted);
  // The pagetypeinfo block counts of every zone, recounted from the
  // pageblocks each zone's row counts (after restoring hotplug state).
  void recount_pageblock_blocks();
  // Which zone's row counts each pageblock, from the memory blocks' states.
  void reset_pageblock_zones_from_blocks();
  void shrink_zone_span(Zone* zone, Pfn start, Pfn end);
  void resize_zone_range(Zone* zone, Pfn start, Pfn end);
  void init_per_zone_wmark_min();
  HotplugResult offline_refusal(const MemoryBlock* block, uint64_t id) const;

  // copying (core/machine_copy.cpp)
  void copy_context(const MemContext& other);
  void copy_zones(const Machine& other);
  // ctx_.zone_global_idx_of, for this machine's layout and zones.
  void set_zone_lookup();

  // freeing (core/machine_free.cpp)
  [[gnu::cold, gnu::noinline]] Error free_refusal(Pfn pfn, int cpu) const;
  Allocation describe(Pfn pfn, const Frame& f) const;
  void free_block(Pfn pfn, int cpu);
  // The tracepoints, out of the hot paths: called only while a tracer is attached.
  [[gnu::cold, gnu::noinline]] void trace_mm_page_free(Pfn pfn, int cpu);
  [[gnu::cold, gnu::noinline]] void trace_mm_page_alloc(uint64_t pfn, const AllocRequest& req,
                                                        unsigned mt) const;

  Zone* zone_by_global_idx(unsigned global_idx) { return ctx_.zones[global_idx]; }
  const Zone* zone_by_global_idx(unsigned global_idx) const { return ctx_.zones[global_idx]; }

  MachineConfig config_;
  Layout layout_;
  std::vector<std::string> warnings_;
  KernelLog log_;
  std::unique_ptr<TraceBuffer> trace_;
  std::string current_comm_ = "memd";
  // warn_alloc()'s nopage_rs: one report per 10 * HZ (HZ = 250). memd's
  // jiffies are its allocation requests: one tick per alloc() call.
  Ratelimit nopage_rs_{10 * 250, 1};
  uint64_t alloc_ticks_ = 0;
  MemContext ctx_;
  std::vector<std::vector<std::unique_ptr<Zone>>> zones_;  // [nid][zone_idx]
  std::vector<Zonelists> zonelists_;
  MemoryBlocks memory_blocks_;  // memory_dev_init(): all online at boot
  int nr_online_nodes_ = 0;
  int dma32_idx_ = -1;  // ZONE_DMA32's index, -1 on i386

  // tunables
  int min_free_kbytes_ = 1024;
  int user_min_free_kbytes_ = -1;
  int watermark_scale_factor_ = 10;
  int percpu_pagelist_high_fraction_ = 0;
  std::vector<int> lowmem_reserve_ratio_;
  bool thp_enabled_ = false;     // hugepage_pmd_enabled()
  bool direct_gbpages_ = false;  // direct_gbpages after probe_page_size_mask()
  uint64_t totalreserve_pages_ = 0;

  // memory hotplug's counters: vm events PGMIGRATE_SUCCESS/FAIL, and every
  // page offline_pages() took out of the buddy allocator (online_pages()
  // frees them again, counted in PGFREE), for Machine::check.
  uint64_t pgmigrate_success_ = 0;
  uint64_t pgmigrate_fail_ = 0;
  uint64_t thp_migration_success_ = 0;
  uint64_t thp_migration_fail_ = 0;
  int64_t offlined_pages_ = 0;

  // live allocations: id -> pfn (core/id_index.h)
  std::unique_ptr<IdIndex> ids_;
  AllocId next_id_ = 1;
};

// The header save_state() writes before a state body: magic, version, the
// configuration's digest, the body's length and checksum (for tools and fuzzing).
std::string state_header(const MachineConfig& config, std::string_view body);

// The kernel's page allocation failure line (warn_alloc), without the task name:
// "page allocation failure: order:3, mode:0x100cca(GFP_HIGHUSER_MOVABLE), nodemask=(null)".
std::string alloc_failure_message(unsigned order, Gfp gfp);

}  // namespace memd
