#include "core/trace_buffer.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/gfp.h"
#include "core/types.h"

namespace memd {

namespace {

// rb_calculate_event_length() of each event's entry (its format file's
// fields after the 8-byte trace_entry, padded to 8 bytes) plus the 4-byte
// event header, 4-byte aligned (x86_64 has no forced 8-byte alignment).
constexpr std::array<uint32_t, kNrKmemEvents> kEventBytes = {
    40 + 4,  // mm_page_alloc: pfn, order, gfp_flags, migratetype
    24 + 4,  // mm_page_free: pfn, order
    16 + 4,  // mm_page_free_batched: pfn
    32 + 4,  // mm_page_alloc_zone_locked: pfn, order, migratetype, percpu_refill
    24 + 4,  // mm_page_pcpu_drain: pfn, order, migratetype
    40 + 4,  // mm_page_alloc_extfrag: pfn, 5 ints
};
// A delta from the previous event of 2^27 ns or more needs a time-extend
// event (RINGBUF_TYPE_TIME_EXTEND) of 8 bytes in front.
constexpr uint64_t kTsDeltaLimit = uint64_t{1} << 27;
constexpr uint32_t kTimeExtendBytes = 8;
// The kernel keeps the comms of its last 128 pids (SAVED_CMDLINES_DEFAULT).
constexpr size_t kSavedCmdlines = 128;
// VMEMMAP_START without KASLR, and sizeof(struct page): the page= pointers
// a kernel booted with no_hash_pointers prints.
constexpr uint64_t kVmemmapStart = 0xffffea0000000000ULL;
constexpr uint64_t kStructPageBytes = 64;

uint64_t pages_for(uint64_t bytes) {
  return std::max<uint64_t>(
      2, (bytes + TraceBuffer::kPageDataBytes - 1) / TraceBuffer::kPageDataBytes);
}

}  // namespace

std::optional<KmemEvent> kmem_event_by_name(std::string_view name) {
  if (name.substr(0, 5) == "kmem:") name.remove_prefix(5);
  for (size_t i = 0; i < kNrKmemEvents; ++i) {
    if (kKmemEventNames[i] == name) return static_cast<KmemEvent>(i);
  }
  return std::nullopt;
}

TraceBuffer::TraceBuffer(int nr_cpus)
    : cpus_(static_cast<size_t>(nr_cpus)), nr_pages_(pages_for(kDefaultBufferBytes)) {}

Status TraceBuffer::set_buffer_size_kb(uint64_t kb) {
  if (kb == 0) return make_error("buffer_size_kb=0: the buffer needs at least 1 KiB (EINVAL)");
  const uint64_t most = std::max(kDefaultKb, kMaxTotalKb / cpus_.size());
  if (kb > most) {
    return make_error(
        fmt::format("buffer_size_kb={}: more than memd allows ({} KiB per CPU for {} CPUs)", kb,
                    most, cpus_.size()));
  }
  nr_pages_ = pages_for(kb * 1024);
  for (Cpu& cpu : cpus_) {
    trim(&cpu);
  }
  return {};
}

uint64_t TraceBuffer::buffer_size_kb() const {
  return nr_pages_ * kPageDataBytes >> 10;
}

void TraceBuffer::clear() {
  for (Cpu& cpu : cpus_) {
    cpu = Cpu{};
  }
  pending_.clear();
}

void TraceBuffer::set_task(std::string_view comm, int32_t pid, uint64_t ts_ns) {
  pid_ = pid;
  ts_ns_ = ts_ns;
  comm = comm.substr(0, 15);  // TASK_COMM_LEN - 1
  if (!cmdlines_.empty() && cmdlines_.back().first == pid && cmdlines_.back().second == comm) {
    return;
  }
  std::erase_if(cmdlines_, [pid](const auto& e) { return e.first == pid; });
  if (cmdlines_.size() == kSavedCmdlines) cmdlines_.erase(cmdlines_.begin());
  cmdlines_.emplace_back(pid, std::string(comm));
}

std::string_view TraceBuffer::comm_of(int32_t pid) const {
  if (pid == 0) return "<idle>";
  for (auto it = cmdlines_.rbegin(); it != cmdlines_.rend(); ++it) {
    if (it->first == pid) return it->second;
  }
  return "<...>";
}

void TraceBuffer::record(KmemRecord r) {
  r.ts_ns = ts_ns_;
  r.pid = pid_;
  r.seq = seq_++;
  write(&cpus_[r.cpu], r);
}

// rb_reserve_next_event() in overwrite mode: the event goes on the tail page
// if it fits; otherwise on a fresh page, and when the buffer already has all
// its pages, the oldest page and every event on it go (rb_handle_head_page()).
void TraceBuffer::write(Cpu* cpu, const KmemRecord& r) {
  uint32_t bytes = kEventBytes[static_cast<size_t>(r.event)];
  const bool page_has_events = !cpu->pages.empty() && !cpu->pages.back().records.empty();
  if (page_has_events && r.ts_ns - cpu->last_ts >= kTsDeltaLimit) bytes += kTimeExtendBytes;
  if (!page_has_events || cpu->pages.back().bytes + bytes > kPageDataBytes) {
    if (page_has_events) {
      bytes = kEventBytes[static_cast<size_t>(r.event)];  // a page starts with a timestamp
    }
    if (cpu->pages.empty() || page_has_events) cpu->pages.emplace_back();
    trim(cpu);
  }
  Page& page = cpu->pages.back();
  page.records.push_back(r);
  page.bytes += bytes;
  ++cpu->entries;
  cpu->last_ts = r.ts_ns;
}

// Drops the oldest pages beyond nr_pages_, counting their unread events as overrun.
void TraceBuffer::trim(Cpu* cpu) {
  while (cpu->pages.size() > nr_pages_) {
    const uint64_t unread = cpu->pages.front().records.size() - cpu->read;
    cpu->entries -= unread;
    cpu->overrun += unread;
    cpu->pages.pop_front();
    cpu->read = 0;
  }
}

uint64_t TraceBuffer::entries() const {
  uint64_t n = 0;
  for (const Cpu& cpu : cpus_) {
    n += cpu.entries;
  }
  return n;
}

uint64_t TraceBuffer::overrun() const {
  uint64_t n = 0;
  for (const Cpu& cpu : cpus_) {
    n += cpu.overrun;
  }
  return n;
}

namespace {

// show_gfp_flags() of a mask, remembered: a trace has few distinct masks,
// and the reader prints a million lines a second.
const std::string& gfp_text(uint64_t gfp) {
  thread_local std::vector<std::pair<uint64_t, std::string>> cache;
  for (const auto& [mask, text] : cache) {
    if (mask == gfp) return text;
  }
  if (cache.size() == 64) cache.clear();
  cache.emplace_back(gfp, format_gfp(gfp));
  return cache.back().second;
}

}  // namespace

namespace {

// The printf conversions the lines use, written by hand: a reader keeping up
// with a replay prints millions of them a second, several times faster so
// than through fmt's format strings. `width` pads on the left with `fill`.
void put_dec(fmt::memory_buffer* out, uint64_t v, size_t width = 0, char fill = ' ') {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = n; i < width; ++i) {
    out->push_back(fill);
  }
  while (n) {
    out->push_back(digits[--n]);
  }
}

void put_int(fmt::memory_buffer* out, int64_t v) {
  if (v < 0) {
    out->push_back('-');
    put_dec(out, static_cast<uint64_t>(-(v + 1)) + 1);
  } else {
    put_dec(out, static_cast<uint64_t>(v));
  }
}

void put_hex(fmt::memory_buffer* out, uint64_t v, size_t width = 0) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[16];
  size_t n = 0;
  do {
    digits[n++] = kHex[v & 0xf];
    v >>= 4;
  } while (v);
  for (size_t i = n; i < width; ++i) {
    out->push_back('0');
  }
  while (n) {
    out->push_back(digits[--n]);
  }
}

void put(fmt::memory_buffer* out, std::string_view s) {
  out->append(s.data(), s.data() + s.size());
}

}  // namespace

void TraceBuffer::append_fields(fmt::memory_buffer* out, const KmemRecord& r) {
  const bool none = r.pfn == kNoPagePfn;
  put(out, "page=");
  put_hex(out, none ? 0 : kVmemmapStart + r.pfn * kStructPageBytes, 16);
  put(out, " pfn=0x");
  put_hex(out, none ? 0 : r.pfn);
  switch (r.event) {
    case KmemEvent::kMmPageAlloc:
      put(out, " order=");
      put_dec(out, r.order);
      put(out, " migratetype=");
      put_int(out, r.migratetype);
      put(out, " gfp_flags=");
      put(out, gfp_text(r.gfp_flags));
      return;
    case KmemEvent::kMmPageFree:
      put(out, " order=");
      put_dec(out, r.order);
      return;
    case KmemEvent::kMmPageFreeBatched:
      put(out, " order=0");
      return;
    case KmemEvent::kMmPageAllocZoneLocked:
    case KmemEvent::kMmPagePcpuDrain:
      put(out, " order=");
      put_dec(out, r.order);
      put(out, " migratetype=");
      put_int(out, r.migratetype);
      if (r.event == KmemEvent::kMmPagePcpuDrain) return;
      put(out, " percpu_refill=");
      put_int(out, r.arg);
      return;
    case KmemEvent::kMmPageAllocExtfrag:
      fmt::format_to(fmt::appender(*out),
                     " alloc_order={} fallback_order={} pageblock_order={} alloc_migratetype={} "
                     "fallback_migratetype={} fragmenting={} change_ownership={}",
                     r.order, r.arg, kPageblockOrder, r.migratetype, r.fallback_migratetype,
                     r.arg < static_cast<int>(kPageblockOrder) ? 1 : 0, r.change_ownership ? 1 : 0);
      return;
  }
}

std::string TraceBuffer::format_fields(const KmemRecord& r) {
  fmt::memory_buffer out;
  append_fields(&out, r);
  return fmt::to_string(out);
}

// trace_print_context() ("%16s-%-7d [%03d] ", the irq-info flags,
// " %5lu.%06lu: " of ns2usecs(), rounded) and the event's name.
void TraceBuffer::append_line(fmt::memory_buffer* out, const KmemRecord& r, std::string_view comm) {
  for (size_t i = comm.size(); i < 16; ++i) {
    out->push_back(' ');
  }
  put(out, comm);
  out->push_back('-');
  const size_t at = out->size();
  put_int(out, r.pid);
  for (size_t i = out->size() - at; i < 7; ++i) {
    out->push_back(' ');
  }
  put(out, " [");
  put_dec(out, r.cpu, 3, '0');
  put(out, "] ");
  // trace_print_lat_fmt(): irqs-off, need-resched, hardirq/softirq,
  // preempt-depth, migrate-disable.
  out->push_back(r.irqs_off ? 'd' : '.');
  put(out, "..");
  out->push_back(r.preempt_depth ? static_cast<char>('0' + r.preempt_depth) : '.');
  put(out, ". ");
  const uint64_t us = (r.ts_ns + 500) / 1000;
  put_dec(out, us / 1000000, 5);
  out->push_back('.');
  put_dec(out, us % 1000000, 6, '0');
  put(out, ": ");
  put(out, kmem_event_name(r.event));
  put(out, ": ");
  append_fields(out, r);
  out->push_back('\n');
}

std::string TraceBuffer::format_line(const KmemRecord& r) const {
  fmt::memory_buffer out;
  append_line(&out, r, comm_of(r.pid));
  return fmt::to_string(out);
}

namespace {

bool earlier(const KmemRecord& a, const KmemRecord& b) {
  return a.ts_ns < b.ts_ns || (a.ts_ns == b.ts_ns && a.seq < b.seq);
}

// The index of the list whose next record is the oldest (the kernel's
// trace_find_next_entry()); -1 when all are done.
int oldest(const std::vector<std::vector<const KmemRecord*>>& lists,
           const std::vector<size_t>& at) {
  int best = -1;
  for (size_t c = 0; c < lists.size(); ++c) {
    if (at[c] == lists[c].size()) continue;
    if (best < 0 || earlier(*lists[c][at[c]], *lists[best][at[best]])) best = static_cast<int>(c);
  }
  return best;
}

}  // namespace

std::vector<const KmemRecord*> TraceBuffer::unread(const Cpu& cpu) {
  std::vector<const KmemRecord*> out;
  out.reserve(cpu.entries);
  size_t skip = cpu.read;
  for (const Page& page : cpu.pages) {
    for (size_t i = skip; i < page.records.size(); ++i) {
      out.push_back(&page.records[i]);
    }
    skip = 0;
  }
  return out;
}

// s_show() with print_func_help_header_irq(): the header, then the lines.
std::string TraceBuffer::render_trace() const {
  std::string out =
      fmt::format("# tracer: nop\n#\n# entries-in-buffer/entries-written: {}/{}   #P:{}\n#\n",
                  entries(), entries() + overrun(), cpus_.size());
  out +=
      "#                                _-----=> irqs-off/BH-disabled\n"
      "#                               / _----=> need-resched\n"
      "#                              | / _---=> hardirq/softirq\n"
      "#                              || / _--=> preempt-depth\n"
      "#                              ||| / _-=> migrate-disable\n"
      "#                              |||| /     delay\n"
      "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
      "#              | |         |   |||||     |         |\n";
  std::vector<std::vector<const KmemRecord*>> lists;
  for (const Cpu& cpu : cpus_) {
    lists.push_back(unread(cpu));
  }
  std::vector<size_t> at(lists.size());
  fmt::memory_buffer lines;
  for (int c = oldest(lists, at); c >= 0; c = oldest(lists, at)) {
    const KmemRecord& r = *lists[c][at[c]++];
    append_line(&lines, r, comm_of(r.pid));
  }
  out.append(lines.data(), lines.size());
  return out;
}

// The oldest unread record of a CPU, dropping pages read to the end that
// are not the one being written.
const KmemRecord* TraceBuffer::front(Cpu* cpu) {
  while (!cpu->pages.empty() && cpu->read == cpu->pages.front().records.size()) {
    if (cpu->pages.size() == 1) return nullptr;
    cpu->pages.pop_front();
    cpu->read = 0;
  }
  return cpu->pages.empty() ? nullptr : &cpu->pages.front().records[cpu->read];
}

// tracing_read_pipe() in two halves, so that a reader formats its lines
// without holding up the machine: take() removes the oldest records (with
// their comms, and each CPU's loss since the last read), format() prints
// them and keeps, for the next read, what does not fit.
TraceBuffer::Taken TraceBuffer::take(size_t max_bytes) {
  Taken t;
  // What the last read could not take comes first.
  t.pending = pending_.substr(0, max_bytes);
  pending_.erase(0, t.pending.size());
  if (!pending_.empty() || t.pending.size() == max_bytes) return t;
  // Every line is longer than kMinLineBytes: this takes at least what fits.
  const size_t n = (max_bytes - t.pending.size()) / kMinLineBytes + 1;
  while (t.lines.size() < n) {
    int best = -1;
    const KmemRecord* best_r = nullptr;
    for (size_t c = 0; c < cpus_.size(); ++c) {
      const KmemRecord* r = front(&cpus_[c]);
      if (r && (!best_r || earlier(*r, *best_r))) {
        best = static_cast<int>(c);
        best_r = r;
      }
    }
    if (!best_r) break;
    Cpu& cpu = cpus_[static_cast<size_t>(best)];
    t.lines.push_back(
        {*best_r, std::string(comm_of(best_r->pid)), cpu.overrun - cpu.reported_overrun});
    cpu.reported_overrun = cpu.overrun;
    ++cpu.read;
    --cpu.entries;
  }
  return t;
}

std::string TraceBuffer::format(const Taken& t, size_t max_bytes, std::string* rest) {
  if (t.lines.empty()) return t.pending;
  fmt::memory_buffer out;
  put(&out, t.pending);
  size_t fits = out.size();  // bytes of whole lines within max_bytes
  for (const TakenLine& l : t.lines) {
    // print_trace_line(): a CPU's first line after an overrun says how many went.
    if (l.lost) {
      fmt::format_to(fmt::appender(out), "CPU:{} [LOST {} EVENTS]\n", l.record.cpu, l.lost);
    }
    append_line(&out, l.record, l.comm);
    if (out.size() <= max_bytes) fits = out.size();
  }
  // Whole lines only; a read too short for one line gets it in pieces.
  if (fits == 0) fits = std::min(max_bytes, out.size());
  rest->assign(out.data() + fits, out.size() - fits);
  return std::string(out.data(), fits);
}

void TraceBuffer::put_back(const std::string& rest) {
  pending_.insert(0, rest);
}

std::string TraceBuffer::consume(size_t max_bytes) {
  std::string rest;
  std::string out = format(take(max_bytes), max_bytes, &rest);
  put_back(rest);
  return out;
}

}  // namespace memd
