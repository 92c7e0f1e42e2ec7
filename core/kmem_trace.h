// The kernel's kmem tracepoints for the page allocator
// (include/trace/events/kmem.h): what each one records, and the interface
// through which the emulated machine hands them to a tracer. The machine
// calls the tracer only while one is attached, so an allocation with no
// event on costs one untaken branch per tracepoint.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/types.h"

namespace memd {

enum class KmemEvent : uint8_t {
  kMmPageAlloc,
  kMmPageFree,
  kMmPageFreeBatched,
  kMmPageAllocZoneLocked,
  kMmPagePcpuDrain,
  kMmPageAllocExtfrag,
};
inline constexpr size_t kNrKmemEvents = 6;

// The events' names, in KmemEvent order (the kernel's events/kmem/ names).
inline constexpr std::array<std::string_view, kNrKmemEvents> kKmemEventNames = {
    "mm_page_alloc",        "mm_page_free",
    "mm_page_free_batched", "mm_page_alloc_zone_locked",
    "mm_page_pcpu_drain",   "mm_page_alloc_extfrag",
};

inline std::string_view kmem_event_name(KmemEvent e) {
  return kKmemEventNames[static_cast<size_t>(e)];
}
// The event called `name` ("mm_page_alloc", or "kmem:mm_page_alloc" as
// set_event spells it); nullopt for any other name.
std::optional<KmemEvent> kmem_event_by_name(std::string_view name);

inline constexpr uint32_t kmem_event_bit(KmemEvent e) {
  return uint32_t{1} << static_cast<unsigned>(e);
}
inline constexpr uint32_t kAllKmemEvents = (uint32_t{1} << kNrKmemEvents) - 1;

// pfn of an mm_page_alloc whose allocation failed (the kernel's -1UL).
inline constexpr uint64_t kNoPagePfn = ~uint64_t{0};

// One event as the ring buffer keeps it: the common fields (time, pid, CPU,
// the irq/preempt context the kernel would have been in) and the event's
// TP_STRUCT__entry fields, which events share where the kernel's do.
struct KmemRecord {
  uint64_t ts_ns = 0;
  uint64_t seq = 0;  // order of emission, for events with equal timestamps
  uint64_t pfn = 0;
  uint64_t gfp_flags = 0;  // mm_page_alloc
  int32_t pid = 0;
  uint16_t cpu = 0;
  KmemEvent event = KmemEvent::kMmPageAlloc;
  // common_preempt_count's depth: the locks the kernel holds at this
  // tracepoint (the pcp lock counts 2 when taken by trylock, 1 when taken by
  // spin_lock; the zone lock 1), with irqs off under the zone lock.
  uint8_t preempt_depth = 0;
  bool irqs_off = false;
  bool change_ownership = false;     // mm_page_alloc_extfrag
  uint32_t order = 0;                // extfrag: alloc_order
  int32_t migratetype = 0;           // extfrag: alloc_migratetype
  int32_t arg = 0;                   // zone_locked: percpu_refill; extfrag: fallback_order
  int32_t fallback_migratetype = 0;  // extfrag
};

// The record of an event about one block: the fields every one of them has.
inline KmemRecord page_record(KmemEvent e, uint64_t pfn, unsigned order, unsigned mt = 0) {
  KmemRecord r;
  r.event = e;
  r.pfn = pfn;
  r.order = order;
  r.migratetype = static_cast<int32_t>(mt);
  return r;
}

// Receives the records of the events it has on. `enabled` is read by the
// machine before it builds a record.
class KmemTracer {
 public:
  virtual ~KmemTracer() = default;
  bool enabled(KmemEvent e) const { return (mask_ & kmem_event_bit(e)) != 0; }
  uint32_t mask() const { return mask_; }
  // Stores `r`; the machine has filled in everything but ts_ns, pid and seq,
  // which the tracer takes from the last set_task().
  virtual void record(KmemRecord r) = 0;
  // The task (comm, pid) the next records are for, and their time.
  virtual void set_task(std::string_view comm, int32_t pid, uint64_t ts_ns) = 0;

 protected:
  uint32_t mask_ = 0;
};

}  // namespace memd
