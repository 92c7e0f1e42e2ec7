// Trace replay: maps trace pfns to the emulated machine's allocations and
// applies each event line (parsed by core/trace_line.h) to the machine.
#include "core/trace.h"

#include "core/assert.h"
#include "core/replay_history.h"
#include "core/trace_line.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <utility>

namespace memd {

using trace_line::at_line_end;
using trace_line::bad;
using trace_line::Cursor;
using trace_line::event_kind;
using trace_line::EventHead;
using trace_line::EventKind;
using trace_line::field;
using trace_line::is_space;
using trace_line::match_event;
using trace_line::match_lost;
using trace_line::missing;
using trace_line::parse_dec;
using trace_line::parse_pfn;
using trace_line::printable;
using trace_line::trailing;

namespace {

// --- trace pfn -> emulated allocation ------------------------------------------------------------

// Per trace pfn: 0 when unmapped, kFailedAlloc when its allocation failed on
// the emulated machine, else (allocation id << 4) | order. A flat table in
// chunks of 4096 pfns (16 MiB of the traced machine each) up to a budget of
// 4096 chunks (128 MiB of host memory); pfns beyond that go to a hash map.
class PfnMap {
 public:
  static constexpr uint64_t kFailedAlloc = 1;  // id 0 is never an allocation's

  PfnMap() = default;
  PfnMap(PfnMap&&) = default;
  PfnMap& operator=(PfnMap&&) = default;
  ~PfnMap() = default;
  // A deep copy (Replayer::clone): each chunk copied.
  PfnMap(const PfnMap& other) : chunks_(other.chunks_), far_(other.far_) {
    dir_.resize(other.dir_.size());
    for (size_t i = 0; i < dir_.size(); ++i) {
      if (!other.dir_[i]) continue;
      dir_[i] = std::make_unique<uint64_t[]>(kChunkSize);
      std::copy_n(other.dir_[i].get(), kChunkSize, dir_[i].get());
    }
  }
  PfnMap& operator=(const PfnMap& other) {
    if (this != &other) *this = PfnMap(other);
    return *this;
  }

  static uint64_t encode(AllocId id, unsigned order) { return (id << 4) | order; }
  static AllocId id_of(uint64_t v) { return v >> 4; }
  static unsigned order_of(uint64_t v) { return static_cast<unsigned>(v & 0xf); }

  uint64_t get(Pfn pfn) const {
    const uint64_t ci = pfn >> kChunkShift;
    if (ci < dir_.size() && dir_[ci]) return dir_[ci][pfn & kChunkMask];
    if (far_.empty()) return 0;
    auto it = far_.find(pfn);
    return it == far_.end() ? 0 : it->second;
  }

  void set(Pfn pfn, uint64_t v) {
    const uint64_t ci = pfn >> kChunkShift;
    if (ci < dir_.size() && dir_[ci]) {
      dir_[ci][pfn & kChunkMask] = v;
      return;
    }
    if (v == 0) {
      far_.erase(pfn);
      return;
    }
    if (ci < kMaxDirSize && chunks_ < kMaxChunks) {
      if (ci >= dir_.size()) dir_.resize(ci + 1);
      dir_[ci] = std::make_unique<uint64_t[]>(kChunkSize);
      ++chunks_;
      dir_[ci][pfn & kChunkMask] = v;
      return;
    }
    far_[pfn] = v;
  }

 private:
  static constexpr unsigned kChunkShift = 12;
  static constexpr uint64_t kChunkSize = uint64_t{1} << kChunkShift;
  static constexpr uint64_t kChunkMask = kChunkSize - 1;
  static constexpr uint64_t kMaxDirSize = uint64_t{1} << 20;  // pfns below 2^32
  static constexpr size_t kMaxChunks = 4096;

  std::vector<std::unique_ptr<uint64_t[]>> dir_;
  size_t chunks_ = 0;
  std::unordered_map<Pfn, uint64_t> far_;
};

// --- parsed GFP strings --------------------------------------------------------------------------

// What a gfp_flags= string means for the replay.
struct GfpInfo {
  enum Kind : uint8_t { kOk, kUnknown, kRefused } kind = kOk;
  Gfp gfp = 0;
  std::string error;  // for kUnknown and kRefused
};

// parse_gfp() with a cache: a trace has a few dozen distinct flag strings.
// Open addressing over a fixed table; when it is full, strings are parsed
// every time (a trace of random garbage cannot make it grow).
class GfpCache {
 public:
  GfpCache() : slots_(kSlots, -1) {}

  const GfpInfo& lookup(std::string_view text) {
    if (last_ >= 0 && entries_[last_].first == text) return entries_[last_].second;
    size_t i = hash(text) & (kSlots - 1);
    for (; slots_[i] >= 0; i = (i + 1) & (kSlots - 1)) {
      if (entries_[slots_[i]].first == text) {
        last_ = slots_[i];
        return entries_[last_].second;
      }
    }
    if (entries_.size() >= kMaxEntries) {
      scratch_ = parse(text);
      return scratch_;
    }
    slots_[i] = static_cast<int>(entries_.size());
    entries_.emplace_back(std::string(text), parse(text));
    last_ = slots_[i];
    return entries_.back().second;
  }

 private:
  static constexpr size_t kSlots = 1024;
  static constexpr size_t kMaxEntries = kSlots / 2;

  static uint64_t hash(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ULL ^ s.size();
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * 0x100000001b3ULL;
      h ^= h >> 29;
    }
    for (; i < s.size(); ++i) {
      h = (h ^ static_cast<unsigned char>(s[i])) * 0x100000001b3ULL;
    }
    return h ^ (h >> 32);
  }

  GfpInfo parse(std::string_view text) const {
    GfpInfo info;
    auto gfp = parse_gfp(text);
    if (!gfp) {
      info.kind = GfpInfo::kUnknown;
      info.error = printable(gfp.error().message, 200);
      return info;
    }
    info.gfp = *gfp;
    // GFP_ZONE_BAD: more than one of the DMA, HIGHMEM and DMA32 zone modifiers.
    if (std::popcount(info.gfp & (gfp::kDma | gfp::kHighmem | gfp::kDma32)) > 1) {
      info.kind = GfpInfo::kRefused;
      info.error = "GFP flags " + printable(text, 200) +
                   " combine zone modifiers the kernel rejects (GFP_ZONE_BAD)";
    } else if ((info.gfp & gfp::kMovableMask) == gfp::kMovableMask) {
      info.kind = GfpInfo::kRefused;
      info.error =
          "GFP flags " + printable(text, 200) + " set both __GFP_MOVABLE and __GFP_RECLAIMABLE";
    }
    return info;
  }

  std::vector<int> slots_;
  std::vector<std::pair<std::string, GfpInfo>> entries_;
  int last_ = -1;
  GfpInfo scratch_;
};

}  // namespace

// --- the replayer --------------------------------------------------------------------------------

struct Replayer::Impl final : ExtfragListener {
  static constexpr uint64_t kNever = ~uint64_t{0};

  explicit Impl(Machine* m)
      : machine(m),
        nr_cpus(static_cast<uint32_t>(m->nr_cpus())),
        zone_extfrag(static_cast<size_t>(m->nr_nodes()),
                     std::vector<ZoneExtfrag>(m->layout().arch.nr_zones())) {}

  void on_extfrag(const ExtfragEvent& e) override {
    report.emulator_extfrag.add({e.alloc_order, e.fallback_order, e.alloc_migratetype,
                                 e.fallback_migratetype, e.fragmenting(), e.change_ownership});
    if (static_cast<size_t>(e.nid) < zone_extfrag.size() &&
        e.zone_idx < zone_extfrag[e.nid].size()) {
      ZoneExtfrag& z = zone_extfrag[e.nid][e.zone_idx];
      ++(e.change_ownership ? z.claims : z.steals);
    }
  }

  void line(std::string_view text);
  void event(const EventHead& head);
  void alloc(const EventHead& head);
  void free_event(const EventHead& head, bool batched);
  void extfrag(const EventHead& head);
  void not_event(std::string_view text);
  // Counts the line as malformed; `why` builds the reason only when it is kept.
  template <typename F>
  void malformed(F&& why) {
    ++report.malformed;
    if (report.malformed_samples.size() < ReplayReport::kMaxSamples) {
      report.malformed_samples.emplace_back(report.lines, why());
    }
  }
  void sample(std::string reason) {
    if (report.malformed_samples.size() < ReplayReport::kMaxSamples) {
      report.malformed_samples.emplace_back(report.lines, std::move(reason));
    }
  }
  // Buffers part of a line that continues in the next feed.
  void keep(std::string_view part) {
    if (overlong) return;
    if (partial.size() + part.size() > kMaxLineBytes) {
      overlong = true;
      partial.clear();
      partial.shrink_to_fit();
      return;
    }
    partial.append(part);
  }
  void flush_partial() {
    if (overlong) {
      ++report.lines;
      malformed([] { return "line longer than " + std::to_string(kMaxLineBytes) + " bytes"; });
      overlong = false;
    } else {
      line(partial);
    }
    partial.clear();
  }

  // The rows of the history at the events so far; the next at the next multiple of history_every.
  void record_rows();

  Machine* machine;
  uint32_t nr_cpus;
  GfpCache gfps;
  PfnMap pfns;
  ReplayReport report;
  ExtfragByZone zone_extfrag;     // the machine's fallbacks during feeds, per zone
  uint64_t history_every = 0;     // 0: no history
  uint64_t next_row = kNever;     // the event count of the next rows
  uint64_t last_row = kNever;     // the event count of the last rows recorded
  std::string history;            // rows not taken yet
  bool history_overflow = false;  // rows were not recorded: history passed its bound
  size_t max_pending_history = kMaxPendingHistoryBytes;
  std::string partial;    // the start of a line that continues in the next feed
  bool overlong = false;  // the partial line passed kMaxLineBytes and was dropped
};

namespace {

// The machine's extfrag listener while a Replayer works on it.
class ListenerScope {
 public:
  ListenerScope(Machine* m, ExtfragListener* l) : m_(m) { m_->set_extfrag_listener(l); }
  ~ListenerScope() { m_->set_extfrag_listener(nullptr); }
  ListenerScope(const ListenerScope&) = delete;
  ListenerScope& operator=(const ListenerScope&) = delete;

 private:
  Machine* m_;
};

}  // namespace

void Replayer::Impl::line(std::string_view text) {
  ++report.lines;
  if (text.size() > kMaxLineBytes) {
    malformed([] { return "line longer than " + std::to_string(kMaxLineBytes) + " bytes"; });
    return;
  }
  while (!text.empty() && (is_space(text.back()) || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  EventHead head;
  if (match_event(text, &head)) {
    event(head);
  } else {
    not_event(text);
  }
}

void Replayer::Impl::not_event(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (is_space(text[i]) || text[i] == '\r')) {
    ++i;
  }
  text.remove_prefix(i);
  uint64_t lost = 0;
  if (text.empty()) {
    ++report.ignored_blank;
  } else if (text[0] == '#') {
    ++report.ignored_header;
  } else if (match_lost(text, &lost)) {
    ++report.ignored_lost;
    report.lost_events += lost;
  } else {
    ++report.ignored_unrecognised;
  }
}

void Replayer::Impl::event(const EventHead& head) {
  // While memd traces, what the replay does is done by the trace's tasks, at its times.
  if (KmemTracer* t = machine->tracer()) [[unlikely]] {
    std::string_view comm;
    int32_t pid = 0;
    trace_line::parse_task(head.task, &comm, &pid);
    t->set_task(comm, pid, trace_line::timestamp_ns(head.timestamp));
  }
  switch (event_kind(head.name)) {
    case EventKind::kAlloc:
      alloc(head);
      break;
    case EventKind::kFree:
      free_event(head, false);
      break;
    case EventKind::kFreeBatched:
      free_event(head, true);
      break;
    case EventKind::kExtfrag:
      extfrag(head);
      break;
    case EventKind::kOther:
      ++report.ignored_other_events;
      break;
  }
  if (report.events() >= next_row) [[unlikely]] {
    record_rows();
  }
}

void Replayer::Impl::record_rows() {
  const uint64_t event = report.events();
  if (history.size() > max_pending_history) {
    history_overflow = true;
    next_row = kNever;
    return;
  }
  const MachineStats stats = machine->stats();
  append_history_rows(&history, {event, &stats, &zone_extfrag, report.failed_allocs});
  last_row = event;
  const uint64_t k = event / history_every + 1;
  next_row = k > kNever / history_every ? kNever : k * history_every;
}

// mm_page_alloc: "page=%p pfn=0x%lx order=%d migratetype=%d gfp_flags=%s"
void Replayer::Impl::alloc(const EventHead& head) {
  static constexpr std::string_view kEv = "mm_page_alloc";
  Cursor c = head.fields;
  std::string_view v;
  Pfn pfn = 0;
  unsigned order = 0;
  int mt = 0;
  if (!field(&c, "page=", &v)) return malformed([&] { return missing(kEv, c, "page="); });
  if (v.empty()) return malformed([&] { return bad(kEv, "page=", v); });
  if (!field(&c, "pfn=", &v)) return malformed([&] { return missing(kEv, c, "pfn="); });
  if (!parse_pfn(v, &pfn)) return malformed([&] { return bad(kEv, "pfn=", v); });
  if (!field(&c, "order=", &v)) return malformed([&] { return missing(kEv, c, "order="); });
  if (!parse_dec(v, &order)) return malformed([&] { return bad(kEv, "order=", v); });
  if (!field(&c, "migratetype=", &v)) {
    return malformed([&] { return missing(kEv, c, "migratetype="); });
  }
  if (!parse_dec(v, &mt)) return malformed([&] { return bad(kEv, "migratetype=", v); });
  if (!field(&c, "gfp_flags=", &v)) return malformed([&] { return missing(kEv, c, "gfp_flags="); });
  if (v.empty()) return malformed([&] { return bad(kEv, "gfp_flags=", v); });
  const std::string_view flags = v;
  if (!at_line_end(&c)) return malformed([&] { return trailing(kEv, c); });
  const GfpInfo& gfp = gfps.lookup(flags);
  if (gfp.kind == GfpInfo::kUnknown) {
    return malformed([&] { return std::string(kEv) + ": " + gfp.error; });
  }

  ++report.alloc_events;
  if (pfn == 0) {
    ++report.skipped_alloc_failed_in_trace;
    return;
  }
  if (order > kMaxPageOrder) {
    ++report.skipped_alloc_refused;
    sample("refused: order " + std::to_string(order) + " is above MAX_PAGE_ORDER (10)");
    return;
  }
  if (gfp.kind == GfpInfo::kRefused) {
    ++report.skipped_alloc_refused;
    sample("refused: " + gfp.error);
    return;
  }
  AllocRequest req;
  req.order = order;
  req.gfp = gfp.gfp;
  req.cpu = static_cast<int>(head.cpu % nr_cpus);
  auto a = machine->alloc(req);
  const uint64_t old = pfns.get(pfn);
  if (old != 0 && old != PfnMap::kFailedAlloc) ++report.realloc_without_free;
  if (!a) {
    ++report.failed_allocs;
    if (report.first_failed_alloc_line == 0) report.first_failed_alloc_line = report.lines;
    pfns.set(pfn, PfnMap::kFailedAlloc);
    return;
  }
  ++report.applied_allocs;
  pfns.set(pfn, PfnMap::encode(a->id, order));
}

// mm_page_free: "page=%p pfn=0x%lx order=%d"; mm_page_free_batched: the same with "order=0".
void Replayer::Impl::free_event(const EventHead& head, bool batched) {
  const std::string_view ev = batched ? "mm_page_free_batched" : "mm_page_free";
  Cursor c = head.fields;
  std::string_view v;
  Pfn pfn = 0;
  unsigned order = 0;
  if (!field(&c, "page=", &v)) return malformed([&] { return missing(ev, c, "page="); });
  if (v.empty()) return malformed([&] { return bad(ev, "page=", v); });
  if (!field(&c, "pfn=", &v)) return malformed([&] { return missing(ev, c, "pfn="); });
  if (!parse_pfn(v, &pfn)) return malformed([&] { return bad(ev, "pfn=", v); });
  if (!field(&c, "order=", &v)) return malformed([&] { return missing(ev, c, "order="); });
  if (!parse_dec(v, &order)) return malformed([&] { return bad(ev, "order=", v); });
  if (order > kMaxPageOrder) {
    return malformed([&] {
      return std::string(ev) + ": order " + std::to_string(order) + " is above MAX_PAGE_ORDER (10)";
    });
  }
  if (!at_line_end(&c)) return malformed([&] { return trailing(ev, c); });

  const uint64_t m = pfns.get(pfn);
  if (batched) {
    ++report.free_batched_events;
    if (m == 0) {
      ++report.skipped_batched;  // freed at its mm_page_free, or never mapped
      return;
    }
  } else {
    ++report.free_events;
    if (m == 0) {
      ++report.skipped_free_before_trace;
      return;
    }
  }
  pfns.set(pfn, 0);
  if (m == PfnMap::kFailedAlloc) {
    ++report.skipped_free_of_failed_alloc;
    return;
  }
  // mm_page_free_batched always prints order=0: only mm_page_free's order means anything.
  if (!batched && order != PfnMap::order_of(m)) ++report.free_order_mismatch;
  auto r = machine->free_id(PfnMap::id_of(m), static_cast<int>(head.cpu % nr_cpus));
  if (!r) {
    ++report.skipped_free_not_live;
  } else if (batched) {
    ++report.applied_batched_frees;
  } else {
    ++report.applied_frees;
  }
}

// mm_page_alloc_extfrag: "page=%p pfn=0x%lx alloc_order=%d fallback_order=%d
// pageblock_order=%d alloc_migratetype=%d fallback_migratetype=%d fragmenting=%d
// change_ownership=%d"
void Replayer::Impl::extfrag(const EventHead& head) {
  static constexpr std::string_view kEv = "mm_page_alloc_extfrag";
  Cursor c = head.fields;
  std::string_view v;
  Pfn pfn = 0;
  if (!field(&c, "page=", &v)) return malformed([&] { return missing(kEv, c, "page="); });
  if (!field(&c, "pfn=", &v)) return malformed([&] { return missing(kEv, c, "pfn="); });
  if (!parse_pfn(v, &pfn)) return malformed([&] { return bad(kEv, "pfn=", v); });
  static constexpr std::string_view kKeys[] = {
      "alloc_order=",          "fallback_order=", "pageblock_order=", "alloc_migratetype=",
      "fallback_migratetype=", "fragmenting=",    "change_ownership="};
  int values[7];
  for (size_t i = 0; i < 7; ++i) {
    if (!field(&c, kKeys[i], &v)) return malformed([&] { return missing(kEv, c, kKeys[i]); });
    if (!parse_dec(v, &values[i])) return malformed([&] { return bad(kEv, kKeys[i], v); });
  }
  if (!at_line_end(&c)) return malformed([&] { return trailing(kEv, c); });
  ++report.ignored_other_events;
  report.trace_extfrag.add(
      {values[0], values[1], values[3], values[4], values[5] != 0, values[6] != 0});
}

Replayer::Replayer(Machine* machine) : impl_(new Impl(machine)) {}

Replayer::~Replayer() {
  delete impl_;
}

std::unique_ptr<Replayer> Replayer::clone() const {
  auto copy = std::make_unique<Replayer>(impl_->machine);
  *copy->impl_ = *impl_;
  return copy;
}

uint64_t Replayer::feed(std::string_view text) {
  ListenerScope listening(impl_->machine, impl_);
  const char* p = text.data();
  const char* const end = p + text.size();
  uint64_t n = 0;
  if (!impl_->partial.empty() || impl_->overlong) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', text.size()));
    if (!nl) {
      impl_->keep(text);
      return 0;
    }
    impl_->keep({p, static_cast<size_t>(nl - p)});
    impl_->flush_partial();
    ++n;
    p = nl + 1;
  }
  while (p != end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!nl) {
      impl_->keep({p, static_cast<size_t>(end - p)});
      break;
    }
    impl_->line({p, static_cast<size_t>(nl - p)});
    ++n;
    p = nl + 1;
  }
  return n;
}

void Replayer::finish() {
  if (impl_->partial.empty() && !impl_->overlong) return;
  ListenerScope listening(impl_->machine, impl_);
  impl_->flush_partial();
}

void Replayer::drop_partial() {
  impl_->partial.clear();
  impl_->overlong = false;
}

const ReplayReport& Replayer::report() const {
  return impl_->report;
}

void Replayer::restore_report(const ReplayReport& report) {
  impl_->report = report;
}

void Replayer::start_history(uint64_t every, size_t max_pending_bytes) {
  MEMD_ASSERT(every >= 1);
  impl_->history_every = std::max<uint64_t>(every, 1);
  impl_->history_overflow = false;
  impl_->max_pending_history = max_pending_bytes;
  impl_->record_rows();
}

void Replayer::end_history() {
  if (impl_->history_every == 0) return;
  if (impl_->last_row != impl_->report.events()) impl_->record_rows();
  impl_->history_every = 0;
  impl_->next_row = Impl::kNever;
}

bool Replayer::history_on() const {
  return impl_->history_every != 0;
}

bool Replayer::history_overflowed() const {
  return impl_->history_overflow;
}

std::string Replayer::take_history() {
  return std::exchange(impl_->history, {});
}

}  // namespace memd
