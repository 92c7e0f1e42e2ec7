// Saving and restoring a machine's state.
//
// Format (little-endian, fixed width):
//   header: "MEMDST01", u32 version, u64 config digest, u64 body length,
//           u64 body checksum (FNV-1a 64)
//   body:   globals and tunables; the raw pageblock bitmap; memory hotplug
//           (migration counters, each memory block's state and zone, each
//           zone's start, span, present, managed and pcp count); per zone its
//           watermarks, flags, counters, every free list in list order and
//           every per-cpu list in list order; then the live allocations.
// The config digest is FNV-1a of a canonical encoding of the MachineConfig:
// a state file only loads into a machine configured the same way. Restoring
// boots the configuration, empties its lists, applies the saved lists and
// runs the invariant checker; any problem refuses the whole file.
#include <algorithm>
#include <cstring>

#include "core/id_index.h"
#include "core/machine.h"

namespace memd {
namespace {

constexpr char kMagic[8] = {'M', 'E', 'M', 'D', 'S', 'T', '0', '1'};
constexpr uint32_t kVersion = 2;  // 2: memory hotplug
// Version 1 (before memory hotplug) still loads: every block online, every
// zone as booted, no migration counted.
constexpr uint32_t kOldestVersion = 1;
constexpr size_t kHeaderSize = 8 + 4 + 8 + 8 + 8;

uint64_t fnv1a(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

class Writer {
 public:
  template <typename T>
  void put(T v) {
    static_assert(std::is_integral_v<T>);
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof v);
    out.append(b, sizeof b);
  }
  void str(std::string_view s) {
    put<uint64_t>(s.size());
    out.append(s);
  }
  std::string out;
};

class Reader {
 public:
  explicit Reader(std::string_view d) : data_(d) {}
  template <typename T>
  bool get(T* v) {
    if (data_.size() - pos_ < sizeof(T)) return fail();
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool bytes(size_t n, std::string_view* out) {
    if (data_.size() - pos_ < n) return fail();
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == data_.size(); }
  bool failed() const { return failed_; }

 private:
  bool fail() {
    failed_ = true;
    return false;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Everything that decides the layout, in a fixed order.
std::string canonical_config(const MachineConfig& c) {
  Writer w;
  w.put<uint8_t>(static_cast<uint8_t>(c.arch));
  w.put<uint64_t>(c.size.value_or(~0ULL));
  w.str(c.e820.value_or(""));
  w.str(c.cmdline);
  w.put<int32_t>(c.cpus);
  w.put<uint8_t>(c.thp);
  w.put<uint64_t>(c.nodes.size());
  for (const NodeConfig& n : c.nodes) {
    w.put<uint64_t>(n.size.value_or(~0ULL));
    w.put<uint64_t>(n.range ? n.range->start : ~0ULL);
    w.put<uint64_t>(n.range ? n.range->end : ~0ULL);
    w.put<uint64_t>(n.cpus.size());
    for (int cpu : n.cpus) {
      w.put<int32_t>(cpu);
    }
    w.put<uint64_t>(n.distance.size());
    for (int d : n.distance) {
      w.put<int32_t>(d);
    }
  }
  for (const auto* v : {&c.reserved, &c.mirrored}) {
    w.put<uint64_t>(v->size());
    for (const PhysRange& r : *v) {
      w.put<uint64_t>(r.start);
      w.put<uint64_t>(r.end);
    }
  }
  return w.out;
}

}  // namespace

struct Machine::SavedState {
  struct PcpState {
    int32_t count, high, high_min, high_max, batch, alloc_factor, free_count;
    uint8_t prev_free_high_order;
    std::array<std::vector<uint32_t>, kNrPcpLists> lists;
  };
  struct ZoneState {
    std::array<uint64_t, kNrWmark> watermark;
    uint64_t boost, nr_reserved_highatomic, pgalloc;
    std::array<int64_t, kMaxNrZones> lowmem_reserve;
    uint8_t below_high, boosted;
    std::array<uint64_t, kNrNumaStats> numa;
    int32_t pageset_batch, pageset_high_min, pageset_high_max;
    std::array<std::array<std::vector<uint32_t>, kMigrateTypes>, kNrPageOrders> free_lists;
    std::vector<PcpState> pcp;
  };
  struct BlockState {
    uint8_t state, zone;  // MemoryBlockState; zone_idx, or 0xff for none
  };
  struct ZoneShape {
    uint64_t start_pfn, spanned, present, managed, nr_pcp, stat_threshold;
  };
  struct AllocState {
    uint32_t pfn;
    uint64_t id;
    uint8_t order, mt;
    uint16_t zone_global_idx;
  };
  uint64_t next_id, pgfree, claims, steals;
  int32_t min_free_kbytes, user_min_free_kbytes, watermark_scale_factor, boost_factor, pcp_fraction;
  uint8_t thp_enabled, mobility_disabled;
  std::vector<int32_t> ratios;
  std::string_view pageblocks;
  bool hotplug = true;  // format version 2: the hotplug part is there
  uint64_t pgmigrate_success, pgmigrate_fail, thp_success, thp_fail, offlined_pages;
  std::vector<BlockState> blocks;
  std::vector<ZoneShape> shapes;
  std::vector<ZoneState> zones;
  std::vector<AllocState> allocs;

  std::string read(std::string_view body, const Machine& m);
  std::string read_globals(Reader* r, const Machine& m);
  std::string read_hotplug(Reader* r, const Machine& m);
  static std::string read_zone(Reader* r, uint64_t nr_pcp, Pfn frames_end, ZoneState* z);
  std::string read_allocs(Reader* r, Pfn frames_end, size_t nr_zones);
};

namespace {

// A list as its length, then its pfns from head to tail.
void put_list(Writer* w, const FrameTable& frames, const PageList& list) {
  uint64_t n = 0;
  for (Pfn p = list.head; p != kNilPfn; p = frames[p].next) {
    ++n;
  }
  w->put<uint64_t>(n);
  for (Pfn p = list.head; p != kNilPfn; p = frames[p].next) {
    w->put<uint32_t>(static_cast<uint32_t>(p));
  }
}

// One zone: its watermarks, reserves and counters, its free lists by order
// and migrate type, and each CPU's pageset with its lists.
void put_zone(Writer* w, const FrameTable& frames, const Zone& z) {
  for (uint64_t v : z.watermark) {
    w->put<uint64_t>(v);
  }
  w->put<uint64_t>(z.watermark_boost);
  w->put<uint64_t>(z.nr_reserved_highatomic);
  w->put<uint64_t>(z.pgalloc);
  for (int64_t v : z.lowmem_reserve) {
    w->put<int64_t>(v);
  }
  w->put<uint8_t>(z.below_high);
  w->put<uint8_t>(z.boosted_watermark);
  for (uint64_t v : z.numa) {
    w->put<uint64_t>(v);
  }
  w->put<int32_t>(z.pageset_batch);
  w->put<int32_t>(z.pageset_high_min);
  w->put<int32_t>(z.pageset_high_max);
  for (const FreeArea& area : z.free_area) {
    for (const PageList& list : area.free_list) {
      put_list(w, frames, list);
    }
  }
  w->put<uint64_t>(z.pcp.size());
  for (const PerCpuPages& p : z.pcp) {
    for (int32_t v :
         {p.count, p.high, p.high_min, p.high_max, p.batch, p.alloc_factor, p.free_count}) {
      w->put<int32_t>(v);
    }
    w->put<uint8_t>(p.prev_free_high_order);
    for (const PageList& list : p.lists) {
      put_list(w, frames, list);
    }
  }
}

// About the bytes of the body save_state() writes, from the counters (each
// list's blocks, each pcp list's pages at most): the string is reserved once
// instead of growing, a copy each time, as it fills.
size_t state_body_estimate(const MemContext& ctx, size_t allocations) {
  size_t bytes = 256 + ctx.pageblocks.size() + 16 * allocations;
  for (const Zone* z : ctx.zones) {
    bytes += 512 + 8 * kNrPageOrders * kMigrateTypes;
    for (const FreeArea& area : z->free_area) {
      bytes += 4 * area.nr_free;
    }
    for (const PerCpuPages& p : z->pcp) {
      bytes += 64 + 8 * kNrPcpLists + 4 * static_cast<size_t>(std::max(p.count, 0));
    }
  }
  return bytes;
}

}  // namespace

// Memory hotplug's part: the migration counters, every memory block's
// state and zone, every zone's shape (which offline and online change:
// start, span, present, managed, pcp lists, and the vm stats threshold,
// which an emptied zone keeps from before).
void Machine::put_hotplug(void* writer) const {
  auto* w = static_cast<Writer*>(writer);
  for (uint64_t v : {pgmigrate_success_, pgmigrate_fail_, thp_migration_success_,
                     thp_migration_fail_, static_cast<uint64_t>(offlined_pages_)}) {
    w->put<uint64_t>(v);
  }
  w->put<uint64_t>(memory_blocks_.blocks().size());
  for (const MemoryBlock& b : memory_blocks_.blocks()) {
    w->put<uint8_t>(static_cast<uint8_t>(b.state));
    w->put<uint8_t>(b.zone ? static_cast<uint8_t>(*b.zone) : uint8_t{0xff});
  }
  w->put<uint64_t>(ctx_.zones.size());
  for (const Zone* z : ctx_.zones) {
    for (uint64_t v :
         {z->start_pfn, z->spanned, z->present, z->managed, static_cast<uint64_t>(z->pcp.size()),
          static_cast<uint64_t>(z->stat_threshold)}) {
      w->put<uint64_t>(v);
    }
  }
}

std::string Machine::save_state() const {
  Writer w;
  w.out.reserve(kHeaderSize + state_body_estimate(ctx_, ids_->size()));
  w.out.resize(kHeaderSize);  // the header's place: it covers the body, written below
  w.put<uint64_t>(next_id_);
  w.put<uint64_t>(ctx_.pgfree);
  w.put<uint64_t>(ctx_.extfrag_claims);
  w.put<uint64_t>(ctx_.extfrag_steals);
  w.put<int32_t>(min_free_kbytes_);
  w.put<int32_t>(user_min_free_kbytes_);
  w.put<int32_t>(watermark_scale_factor_);
  w.put<int32_t>(ctx_.watermark_boost_factor);
  w.put<int32_t>(percpu_pagelist_high_fraction_);
  w.put<uint8_t>(thp_enabled_);
  w.put<uint8_t>(ctx_.mobility_disabled);
  w.put<uint64_t>(lowmem_reserve_ratio_.size());
  for (int r : lowmem_reserve_ratio_) {
    w.put<int32_t>(r);
  }
  w.put<uint64_t>(ctx_.pageblocks.size());
  for (size_t b = 0; b < ctx_.pageblocks.size(); ++b) {
    w.put<uint8_t>(ctx_.pageblocks.raw(b << kPageblockOrder));
  }
  put_hotplug(&w);
  w.put<uint64_t>(ctx_.zones.size());
  for (const Zone* z : ctx_.zones) {
    put_zone(&w, ctx_.frames, *z);
  }
  auto allocs = ids_->sorted();
  w.put<uint64_t>(allocs.size());
  for (auto [id, pfn] : allocs) {
    const Frame& f = ctx_.frames[pfn];
    w.put<uint32_t>(static_cast<uint32_t>(pfn));
    w.put<uint64_t>(id);
    w.put<uint8_t>(static_cast<uint8_t>(f.order()));
    w.put<uint8_t>(static_cast<uint8_t>(f.alloc_mt()));
    w.put<uint16_t>(static_cast<uint16_t>(f.zone_global_idx()));
  }
  const std::string header = state_header(config_, std::string_view(w.out).substr(kHeaderSize));
  w.out.replace(0, kHeaderSize, header);
  return std::move(w.out);
}

std::string state_header(const MachineConfig& config, std::string_view body) {
  Writer h;
  h.out.append(kMagic, sizeof kMagic);
  h.put<uint32_t>(kVersion);
  h.put<uint64_t>(fnv1a(canonical_config(config)));
  h.put<uint64_t>(body.size());
  h.put<uint64_t>(fnv1a(body));
  return h.out;
}

namespace {

Error refuse(const std::string& why) {
  return make_error("state refused: " + why);
}

// The header: magic, version, configuration digest, body length and checksum.
// Returns the body.
// A state's body and the format version it was written in.
struct StateBody {
  std::string_view body;
  uint32_t version = 0;
};

Result<StateBody> check_state_header(const MachineConfig& config, std::string_view data) {
  if (data.size() < kHeaderSize || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0) {
    return refuse("not a memd state file (bad magic)");
  }
  Reader hr(data.substr(sizeof kMagic, kHeaderSize - sizeof kMagic));
  uint32_t version = 0;
  uint64_t digest = 0, body_len = 0, checksum = 0;
  hr.get(&version);
  hr.get(&digest);
  hr.get(&body_len);
  hr.get(&checksum);
  if (version < kOldestVersion || version > kVersion) {
    return refuse("format version " + std::to_string(version) + ", memd reads " +
                  std::to_string(kOldestVersion) + " to " + std::to_string(kVersion));
  }
  if (digest != fnv1a(canonical_config(config))) {
    return refuse("it was saved from a machine with a different configuration");
  }
  std::string_view body = data.substr(kHeaderSize);
  if (body.size() != body_len) {
    return refuse("truncated or padded (" + std::to_string(body.size()) + " of " +
                  std::to_string(body_len) + " bytes)");
  }
  if (fnv1a(body) != checksum) return refuse("checksum mismatch (damaged)");
  return StateBody{body, version};
}

// A list of pfns, each below frames_end.
bool get_list(Reader* r, Pfn frames_end, std::vector<uint32_t>* out) {
  uint64_t len = 0;
  if (!r->get(&len) || len > frames_end) return false;
  out->resize(len);
  for (auto& p : *out) {
    if (!r->get(&p) || p >= frames_end) return false;
  }
  return true;
}

}  // namespace

// Globals, tunables and the pageblock bitmap. Returns why they are refused,
// or an empty string.
std::string Machine::SavedState::read_globals(Reader* r, const Machine& m) {
  uint64_t n = 0;
  r->get(&next_id);
  r->get(&pgfree);
  r->get(&claims);
  r->get(&steals);
  r->get(&min_free_kbytes);
  r->get(&user_min_free_kbytes);
  r->get(&watermark_scale_factor);
  r->get(&boost_factor);
  r->get(&pcp_fraction);
  r->get(&thp_enabled);
  r->get(&mobility_disabled);
  if (!r->get(&n) || n != m.lowmem_reserve_ratio_.size()) {
    return "wrong number of lowmem_reserve_ratio entries";
  }
  ratios.resize(n);
  for (auto& v : ratios) {
    r->get(&v);
  }
  if (!r->get(&n) || n != m.ctx_.pageblocks.size() || !r->bytes(n, &pageblocks)) {
    return "wrong pageblock count";
  }
  for (char b : pageblocks) {
    // Bits 0-2 hold Unmovable..HighAtomic, bit 3 the skip hint, bit 4 isolation.
    const auto raw = static_cast<uint8_t>(b);
    if ((raw & PageblockTable::kMigrateMask) >= kIsolate || (raw & 0xe0)) {
      return "damaged pageblock bitmap";
    }
  }
  return {};
}

// Memory hotplug's part, checked against the booted machine: as many
// blocks and zones, states and zones that exist, shapes inside the memory
// map, pcp lists for no CPU or every CPU.
std::string Machine::SavedState::read_hotplug(Reader* r, const Machine& m) {
  for (uint64_t* v :
       {&pgmigrate_success, &pgmigrate_fail, &thp_success, &thp_fail, &offlined_pages}) {
    r->get(v);
  }
  uint64_t n = 0;
  if (!r->get(&n) || n != m.memory_blocks_.blocks().size()) return "wrong number of memory blocks";
  blocks.resize(n);
  for (BlockState& b : blocks) {
    r->get(&b.state);
    r->get(&b.zone);
    if (b.state > static_cast<uint8_t>(MemoryBlockState::kOffline) ||
        (b.zone != 0xff && b.zone >= m.layout_.arch.nr_zones())) {
      return "damaged memory block state";
    }
  }
  if (!r->get(&n) || n != m.ctx_.zones.size()) return "wrong number of zones";
  shapes.resize(n);
  for (ZoneShape& z : shapes) {
    for (uint64_t* v :
         {&z.start_pfn, &z.spanned, &z.present, &z.managed, &z.nr_pcp, &z.stat_threshold}) {
      r->get(v);
    }
    const Pfn end = m.ctx_.frames.end();
    if (z.start_pfn > end || z.spanned > end - z.start_pfn || z.present > z.spanned ||
        z.managed > z.present ||
        (z.nr_pcp != 0 && z.nr_pcp != static_cast<uint64_t>(m.nr_cpus())) ||
        z.stat_threshold > 125) {
      return "damaged zone shape";
    }
  }
  return {};
}

// One zone: counters, tunables, free lists and per-cpu lists.
std::string Machine::SavedState::read_zone(Reader* r, uint64_t nr_pcp, Pfn frames_end,
                                           ZoneState* z) {
  for (auto& v : z->watermark) {
    r->get(&v);
  }
  r->get(&z->boost);
  r->get(&z->nr_reserved_highatomic);
  r->get(&z->pgalloc);
  for (auto& v : z->lowmem_reserve) {
    r->get(&v);
  }
  r->get(&z->below_high);
  r->get(&z->boosted);
  for (auto& v : z->numa) {
    r->get(&v);
  }
  r->get(&z->pageset_batch);
  r->get(&z->pageset_high_min);
  r->get(&z->pageset_high_max);
  for (auto& area : z->free_lists) {
    for (auto& list : area) {
      if (!get_list(r, frames_end, &list)) return "damaged free list";
    }
  }
  uint64_t ncpu = 0;
  if (!r->get(&ncpu) || ncpu != nr_pcp) return "wrong number of per-cpu lists";
  z->pcp.resize(ncpu);
  for (auto& p : z->pcp) {
    for (int32_t* v :
         {&p.count, &p.high, &p.high_min, &p.high_max, &p.batch, &p.alloc_factor, &p.free_count}) {
      r->get(v);
    }
    r->get(&p.prev_free_high_order);
    for (auto& list : p.lists) {
      if (!get_list(r, frames_end, &list)) return "damaged per-cpu list";
    }
  }
  return {};
}

// The live allocations, in increasing id order.
std::string Machine::SavedState::read_allocs(Reader* r, Pfn frames_end, size_t nr_zones) {
  uint64_t n = 0;
  if (!r->get(&n) || n > frames_end) return "damaged allocation table";
  allocs.resize(n);
  uint64_t prev_id = 0;
  for (auto& a : allocs) {
    r->get(&a.pfn);
    r->get(&a.id);
    r->get(&a.order);
    r->get(&a.mt);
    r->get(&a.zone_global_idx);
    if (a.pfn >= frames_end || a.order > kMaxPageOrder || a.mt > 2 ||
        a.zone_global_idx >= nr_zones || a.id <= prev_id || a.id >= next_id) {
      return "damaged allocation entry";
    }
    prev_id = a.id;
  }
  return {};
}

// The whole body, checked entry by entry against the booted machine `m`.
std::string Machine::SavedState::read(std::string_view body, const Machine& m) {
  Reader r(body);
  if (std::string why = read_globals(&r, m); !why.empty()) return why;
  if (!hotplug) {
    for (const Zone* z : m.ctx_.zones) {
      shapes.push_back({0, 0, 0, 0, z->pcp.size(), 0});
    }
  } else if (std::string why = read_hotplug(&r, m); !why.empty()) {
    return why;
  }
  const Pfn frames_end = m.ctx_.frames.end();
  uint64_t n = 0;
  if (!r.get(&n) || n != m.ctx_.zones.size()) return "wrong number of zones";
  zones.resize(n);
  for (size_t zi = 0; zi < n; ++zi) {
    if (std::string why = read_zone(&r, shapes[zi].nr_pcp, frames_end, &zones[zi]); !why.empty()) {
      return why;
    }
  }
  if (std::string why = read_allocs(&r, frames_end, m.ctx_.zones.size()); !why.empty()) return why;
  if (r.failed() || !r.done()) return "damaged body";
  return {};
}

Result<std::unique_ptr<Machine>> Machine::restore_state(const MachineConfig& config,
                                                        std::string_view data) {
  auto body = check_state_header(config, data);
  if (!body) return body.error();
  auto booted = Machine::boot(config);
  if (!booted) return booted.error();
  return restore_body(std::move(*booted), body->body, body->version);
}

Result<std::unique_ptr<Machine>> Machine::restore_state(const Machine& booted,
                                                        std::string_view data) {
  auto body = check_state_header(booted.config(), data);
  if (!body) return body.error();
  return restore_body(booted.clone(), body->body, body->version);
}

Result<std::unique_ptr<Machine>> Machine::restore_body(std::unique_ptr<Machine> m,
                                                       std::string_view body, uint32_t version) {
  SavedState st;
  st.hotplug = version >= 2;
  if (std::string why = st.read(body, *m); !why.empty()) return refuse(why);
  m->clear_dynamic_state();
  if (auto s = m->apply_state(st); !s) return refuse(s.error().message);
  CheckReport report = m->check();
  if (!report.ok()) return refuse("inconsistent: " + report.problems.front());
  return m;
}

// Empties every free and per-cpu list of a freshly booted machine.
void Machine::clear_dynamic_state() {
  for (Zone* z : ctx_.zones) {
    for (FreeArea& area : z->free_area) {
      for (PageList& list : area.free_list) {
        while (!list.empty()) {
          ctx_.frames[ctx_.frames.pop_front(&list)].clear();
        }
      }
      area.nr.fill(0);
      area.nr_free = 0;
    }
    for (PerCpuPages& p : z->pcp) {
      for (PageList& list : p.lists) {
        while (!list.empty()) {
          ctx_.frames[ctx_.frames.pop_front(&list)].clear();
        }
      }
    }
    z->nr_free_pages = z->nr_free_pages_blocks = z->nr_free_highatomic = 0;
  }
  std::fill(ctx_.pageblock_free.begin(), ctx_.pageblock_free.end(), uint16_t{0});
}

// The memory blocks' states and zones, the zones' shapes and pcp lists,
// the pagetypeinfo rows that follow from them, and the zonelists (without
// the kernel's message: restoring is not a hotplug event).
void Machine::apply_hotplug_state(const SavedState& st) {
  pgmigrate_success_ = st.pgmigrate_success;
  pgmigrate_fail_ = st.pgmigrate_fail;
  thp_migration_success_ = st.thp_success;
  thp_migration_fail_ = st.thp_fail;
  offlined_pages_ = static_cast<int64_t>(st.offlined_pages);
  for (size_t i = 0; i < st.blocks.size(); ++i) {
    MemoryBlock& b = memory_blocks_.mutable_blocks()[i];
    b.state = static_cast<MemoryBlockState>(st.blocks[i].state);
    b.zone = st.blocks[i].zone == 0xff ? std::nullopt : std::optional<unsigned>(st.blocks[i].zone);
  }
  for (size_t zi = 0; zi < st.shapes.size(); ++zi) {
    const SavedState::ZoneShape& s = st.shapes[zi];
    Zone* z = ctx_.zones[zi];
    z->start_pfn = s.start_pfn;
    z->spanned = s.spanned;
    z->present = s.present;
    z->managed = s.managed;
    z->pcp.resize(s.nr_pcp);
    z->stat_threshold = static_cast<int>(s.stat_threshold);
  }
  reset_pageblock_zones_from_blocks();
  build_all_zonelists(/*print=*/false);
}

Status Machine::apply_state(const SavedState& st) {
  next_id_ = st.next_id;
  ctx_.pgfree = st.pgfree;
  ctx_.extfrag_claims = st.claims;
  ctx_.extfrag_steals = st.steals;
  min_free_kbytes_ = st.min_free_kbytes;
  user_min_free_kbytes_ = st.user_min_free_kbytes;
  watermark_scale_factor_ = st.watermark_scale_factor;
  ctx_.watermark_boost_factor = st.boost_factor;
  percpu_pagelist_high_fraction_ = st.pcp_fraction;
  thp_enabled_ = st.thp_enabled;
  ctx_.mobility_disabled = st.mobility_disabled;
  lowmem_reserve_ratio_.assign(st.ratios.begin(), st.ratios.end());
  if (st.hotplug) apply_hotplug_state(st);
  for (size_t b = 0; b < st.pageblocks.size(); ++b) {
    ctx_.write_pageblock(b << kPageblockOrder, static_cast<uint8_t>(st.pageblocks[b]));
  }
  recount_pageblock_blocks();
  for (size_t zi = 0; zi < st.zones.size(); ++zi) {
    const SavedState::ZoneState& s = st.zones[zi];
    Zone* z = ctx_.zones[zi];
    z->watermark = s.watermark;
    z->watermark_boost = s.boost;
    z->nr_reserved_highatomic = s.nr_reserved_highatomic;
    z->pgalloc = s.pgalloc;
    z->lowmem_reserve = s.lowmem_reserve;
    z->below_high = s.below_high;
    z->boosted_watermark = s.boosted;
    z->numa = s.numa;
    z->pageset_batch = s.pageset_batch;
    z->pageset_high_min = s.pageset_high_min;
    z->pageset_high_max = s.pageset_high_max;
    for (unsigned o = 0; o < kNrPageOrders; ++o) {
      for (unsigned mt = 0; mt < kMigrateTypes; ++mt) {
        for (uint32_t pfn : s.free_lists[o][mt]) {
          if (ctx_.frames[pfn].state() != FrameState::kNone) {
            return make_error("a block is listed twice");
          }
          z->load_free_block(pfn, o, mt, /*tail=*/true);
          z->account_freepages(1LL << o, mt);
        }
      }
    }
    for (size_t cpu = 0; cpu < s.pcp.size(); ++cpu) {
      const SavedState::PcpState& sp = s.pcp[cpu];
      PerCpuPages& p = z->pcp[cpu];
      p.count = sp.count;
      p.high = sp.high;
      p.high_min = sp.high_min;
      p.high_max = sp.high_max;
      p.batch = sp.batch;
      p.alloc_factor = sp.alloc_factor;
      p.free_count = sp.free_count;
      p.prev_free_high_order = sp.prev_free_high_order;
      for (unsigned pi = 0; pi < kNrPcpLists; ++pi) {
        for (uint32_t pfn : sp.lists[pi]) {
          if (ctx_.frames[pfn].state() != FrameState::kNone) {
            return make_error("a block is listed twice");
          }
          ctx_.frames[pfn].set(FrameState::kPcp, z->pindex_to_order(pi), 0, z->global_idx);
          ctx_.frames.push_back(&p.lists[pi], pfn);
        }
      }
    }
  }
  for (const SavedState::AllocState& a : st.allocs) {
    Frame& f = ctx_.frames[a.pfn];
    if (f.state() != FrameState::kNone) return make_error("an allocation overlaps another block");
    f.set(FrameState::kAllocated, a.order, a.mt, a.zone_global_idx);
    f.set_alloc_id(a.id);
    ids_->insert(a.id, a.pfn);
  }
  // Derived from the restored watermarks and reserves, as the kernel's
  // handlers leave it after each sysctl.
  calculate_totalreserve_pages();
  return {};
}

}  // namespace memd
