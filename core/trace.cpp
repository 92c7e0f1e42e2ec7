#include "core/trace.h"

#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <cstring>
#include <memory>
#include <unordered_map>

namespace memd {
namespace {

// --- scanning helpers ---------------------------------------------------------------------------

bool is_space(char c) {
  return c == ' ' || c == '\t';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

// Part of a line for an error message: printable ASCII kept, other bytes as
// \xNN, cut at `max` bytes.
std::string printable(std::string_view s, size_t max = 64) {
  std::string out;
  const bool cut = s.size() > max;
  if (cut) s = s.substr(0, max);
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (cut) out += "...";
  return out;
}

// A position in a line, moving forward. Fields are separated by blanks; a
// token runs to the next space (the kernel never prints tabs inside a line).
struct Cursor {
  const char* p;
  const char* end;

  bool at_end() const { return p == end; }
  void skip_spaces() {
    while (p != end && is_space(*p))
      ++p;
  }
  bool consume(std::string_view lit) {
    if (static_cast<size_t>(end - p) < lit.size() || std::memcmp(p, lit.data(), lit.size()) != 0) {
      return false;
    }
    p += lit.size();
    return true;
  }
  // The same for a literal: a compare of known length, inlined.
  template <size_t N>
  [[gnu::always_inline]] bool consume(const char (&lit)[N]) {
    if (static_cast<size_t>(end - p) < N - 1 || std::memcmp(p, lit, N - 1) != 0) return false;
    p += N - 1;
    return true;
  }
  std::string_view token() {
    const char* s = p;
    // Most tokens are short: a loop beats a call to memchr for those.
    const char* stop = end - p > 24 ? p + 24 : end;
    while (p != stop && *p != ' ')
      ++p;
    if (p == stop && p != end) {
      const void* sp = std::memchr(p, ' ', static_cast<size_t>(end - p));
      p = sp ? static_cast<const char*>(sp) : end;
    }
    return {s, static_cast<size_t>(p - s)};
  }
  std::string_view rest() const { return {p, static_cast<size_t>(end - p)}; }
};

// Hex digit values; -1 for other bytes.
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> t{};
  for (size_t i = 0; i < 256; ++i)
    t[i] = -1;
  for (int i = 0; i < 10; ++i)
    t['0' + i] = static_cast<int8_t>(i);
  for (int i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<int8_t>(10 + i);
    t['A' + i] = static_cast<int8_t>(10 + i);
  }
  return t;
}();

// "0x" and 1 to 16 hex digits.
bool parse_pfn(std::string_view s, Pfn* out) {
  if (s.size() < 3 || s.size() > 18 || s[0] != '0' || s[1] != 'x') return false;
  uint64_t v = 0;
  for (size_t i = 2; i < s.size(); ++i) {
    const int d = kHexValue[static_cast<unsigned char>(s[i])];
    if (d < 0) return false;
    v = (v << 4) | static_cast<unsigned>(d);
  }
  *out = v;
  return true;
}

// A decimal number that fits T (a leading '-' only for signed T).
template <typename T>
bool parse_dec(std::string_view s, T* out) {
  if (s.empty() || s[0] == '+') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, 10);
  return ec == std::errc() && p == s.data() + s.size();
}

// "NNN.NNN:" (or "NNN:" for counter clocks): the timestamp and its colon.
bool is_timestamp(std::string_view t) {
  if (t.size() < 2 || t.back() != ':') return false;
  t.remove_suffix(1);
  size_t i = 0;
  while (i < t.size() && is_digit(t[i]))
    ++i;
  if (i == 0) return false;
  if (i == t.size()) return true;
  if (t[i] != '.') return false;
  size_t j = ++i;
  while (j < t.size() && is_digit(t[j]))
    ++j;
  return j > i && j == t.size();
}

// The irq-info flags ("d..2.", "....."): a short token of letters, digits and dots.
bool is_flags(std::string_view t) {
  if (t.empty() || t.size() > 8) return false;
  for (char c : t) {
    if (!(is_name_char(c) || c == '.') || c == '_') return false;
  }
  return true;
}

// The head of an event line: "<task>-<pid> [CPU] <flags> <timestamp>: <event>: <fields>".
struct EventHead {
  uint32_t cpu = 0;
  std::string_view name;
  Cursor fields{nullptr, nullptr};
};

// Finds the first "[N]" followed by optional flags, a timestamp and "EVENT:"
// then a blank or the end of the line. Task names may hold spaces and
// brackets: a bracket that is not followed by that shape is part of the name.
bool match_event(std::string_view line, EventHead* head) {
  const char* const end = line.data() + line.size();
  const char* s = line.data();
  while (s != end) {
    const void* found = std::memchr(s, '[', static_cast<size_t>(end - s));
    if (!found) return false;
    s = static_cast<const char*>(found) + 1;
    Cursor c{s, end};
    const char* digits = c.p;
    while (!c.at_end() && is_digit(*c.p))
      ++c.p;
    if (c.p == digits || c.p - digits > 9 || c.at_end() || *c.p != ']') continue;
    uint32_t cpu = 0;
    std::from_chars(digits, c.p, cpu, 10);
    ++c.p;
    if (c.at_end() || !is_space(*c.p)) continue;
    c.skip_spaces();
    std::string_view t = c.token();
    if (!is_timestamp(t)) {
      if (!is_flags(t)) continue;
      c.skip_spaces();
      if (!is_timestamp(c.token())) continue;
    }
    if (c.at_end() || !is_space(*c.p)) continue;
    c.skip_spaces();
    const char* name = c.p;
    while (!c.at_end() && is_name_char(*c.p))
      ++c.p;
    if (c.p == name || c.at_end() || *c.p != ':') continue;
    head->name = {name, static_cast<size_t>(c.p - name)};
    ++c.p;
    if (!c.at_end() && !is_space(*c.p)) continue;
    head->cpu = cpu;
    head->fields = c;
    return true;
  }
  return false;
}

// "CPU:N [LOST M EVENTS]" (trace and trace_pipe print it when a buffer overran).
bool match_lost(std::string_view line, uint64_t* lost) {
  Cursor c{line.data(), line.data() + line.size()};
  if (!c.consume("CPU:")) return false;
  c.skip_spaces();
  uint32_t cpu = 0;
  const char* d = c.p;
  while (!c.at_end() && is_digit(*c.p))
    ++c.p;
  if (!parse_dec(std::string_view(d, static_cast<size_t>(c.p - d)), &cpu)) return false;
  c.skip_spaces();
  if (!c.consume("[LOST ")) return false;
  d = c.p;
  while (!c.at_end() && is_digit(*c.p))
    ++c.p;
  if (!parse_dec(std::string_view(d, static_cast<size_t>(c.p - d)), lost)) return false;
  if (!c.consume(" EVENTS]")) return false;
  c.skip_spaces();
  return c.at_end();
}

// --- trace pfn -> emulated allocation ------------------------------------------------------------

// Per trace pfn: 0 when unmapped, kFailedAlloc when its allocation failed on
// the emulated machine, else (allocation id << 4) | order. A flat table in
// chunks of 4096 pfns (16 MiB of the traced machine each) up to a budget of
// 4096 chunks (128 MiB of host memory); pfns beyond that go to a hash map.
class PfnMap {
 public:
  static constexpr uint64_t kFailedAlloc = 1;  // id 0 is never an allocation's

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
    for (; i < s.size(); ++i)
      h = (h ^ static_cast<unsigned char>(s[i])) * 0x100000001b3ULL;
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

// The events the replay knows, by name.
enum class EventKind : uint8_t { kAlloc, kFree, kFreeBatched, kExtfrag, kOther };

EventKind event_kind(std::string_view name) {
  switch (name.size()) {
    case 13:
      if (name == "mm_page_alloc") return EventKind::kAlloc;
      break;
    case 12:
      if (name == "mm_page_free") return EventKind::kFree;
      break;
    case 20:
      if (name == "mm_page_free_batched") return EventKind::kFreeBatched;
      break;
    case 21:
      if (name == "mm_page_alloc_extfrag") return EventKind::kExtfrag;
      break;
    default:
      break;
  }
  return EventKind::kOther;
}

}  // namespace

// --- report -------------------------------------------------------------------------------------

void ExtfragCounts::add(const ExtfragKind& kind) {
  ++events;
  if (kind.change_ownership) {
    ++claims;
  } else {
    ++steals;
  }
  if (kind.fragmenting) ++fragmenting;
  ++by_kind[kind];
}

namespace {

std::string migratetype_name(int mt) {
  if (mt >= 0 && mt < static_cast<int>(kMigrateTypes)) {
    std::string name(kMigrateTypeNames[mt]);
    for (char& ch : name)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return name;
  }
  return "mt" + std::to_string(mt);
}

// PREFIX, _claims, _steals, _fragmenting, then one counter per pair of
// migrate types that occurred: PREFIX_unmovable_from_movable (what was
// allocated, from which type's free list), in the pairs' order.
void add_extfrag_counters(const std::string& prefix, const ExtfragCounts& e,
                          std::vector<std::pair<std::string, uint64_t>>* out) {
  out->emplace_back(prefix, e.events);
  out->emplace_back(prefix + "_claims", e.claims);
  out->emplace_back(prefix + "_steals", e.steals);
  out->emplace_back(prefix + "_fragmenting", e.fragmenting);
  std::map<std::pair<int, int>, uint64_t> pairs;
  for (const auto& [kind, n] : e.by_kind) {
    pairs[{kind.alloc_migratetype, kind.fallback_migratetype}] += n;
  }
  for (const auto& [pair, n] : pairs) {
    out->emplace_back(
        prefix + "_" + migratetype_name(pair.first) + "_from_" + migratetype_name(pair.second), n);
  }
}

}  // namespace

std::vector<std::pair<std::string, uint64_t>> ReplayReport::counters() const {
  std::vector<std::pair<std::string, uint64_t>> c = {
      {"lines", lines},
      {"events", events()},
      {"events_alloc", alloc_events},
      {"events_free", free_events},
      {"events_free_batched", free_batched_events},
      {"applied", applied()},
      {"applied_allocs", applied_allocs},
      {"applied_frees", applied_frees},
      {"applied_batched_frees", applied_batched_frees},
      {"failed_allocs", failed_allocs},
      {"skipped", skipped()},
      {"skipped_alloc_failed_in_trace", skipped_alloc_failed_in_trace},
      {"skipped_alloc_refused", skipped_alloc_refused},
      {"skipped_free_before_trace", skipped_free_before_trace},
      {"skipped_free_of_failed_alloc", skipped_free_of_failed_alloc},
      {"skipped_free_not_live", skipped_free_not_live},
      {"skipped_batched", skipped_batched},
      {"realloc_without_free", realloc_without_free},
      {"free_order_mismatch", free_order_mismatch},
      {"malformed_lines", malformed},
      {"ignored", ignored()},
      {"ignored_blank", ignored_blank},
      {"ignored_header", ignored_header},
      {"ignored_lost", ignored_lost},
      {"lost_events", lost_events},
      {"ignored_other_events", ignored_other_events},
      {"ignored_unrecognised", ignored_unrecognised},
  };
  add_extfrag_counters("trace_extfrag", trace_extfrag, &c);
  add_extfrag_counters("emulator_extfrag", emulator_extfrag, &c);
  return c;
}

// --- the replayer --------------------------------------------------------------------------------

struct Replayer::Impl final : ExtfragListener {
  explicit Impl(Machine* m) : machine(m), nr_cpus(static_cast<uint32_t>(m->nr_cpus())) {}

  void on_extfrag(const ExtfragEvent& e) override {
    report.emulator_extfrag.add({e.alloc_order, e.fallback_order, e.alloc_migratetype,
                                 e.fallback_migratetype, e.fragmenting(), e.change_ownership});
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

  Machine* machine;
  uint32_t nr_cpus;
  GfpCache gfps;
  PfnMap pfns;
  ReplayReport report;
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
  while (!text.empty() && (is_space(text.back()) || text.back() == '\r'))
    text.remove_suffix(1);
  EventHead head;
  if (match_event(text, &head)) {
    event(head);
  } else {
    not_event(text);
  }
}

void Replayer::Impl::not_event(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && (is_space(text[i]) || text[i] == '\r'))
    ++i;
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
}

namespace {

// Reads "key=value" at the cursor (after blanks); false when the key is not there.
template <typename Key>
[[gnu::always_inline]] inline bool field(Cursor* c, const Key& key, std::string_view* value) {
  c->skip_spaces();
  if (!c->consume(key)) return false;
  *value = c->token();
  return true;
}

// Why "key=" was not found at the cursor.
std::string missing(std::string_view event, const Cursor& c, std::string_view key) {
  Cursor t = c;
  t.skip_spaces();
  if (t.at_end()) return std::string(event) + ": truncated before " + std::string(key);
  return std::string(event) + ": expected " + std::string(key) + " at '" + printable(t.rest()) +
         "'";
}

std::string bad(std::string_view event, std::string_view key, std::string_view value) {
  return std::string(event) + ": bad " + std::string(key) + "'" + printable(value) + "'";
}

std::string trailing(std::string_view event, const Cursor& c) {
  return std::string(event) + ": unexpected text at the end: '" + printable(c.rest()) + "'";
}

// Blanks, then the end of the line.
bool at_line_end(Cursor* c) {
  c->skip_spaces();
  return c->at_end();
}

}  // namespace

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

const ReplayReport& Replayer::report() const {
  return impl_->report;
}

}  // namespace memd
