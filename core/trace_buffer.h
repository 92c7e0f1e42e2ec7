// The kernel's trace ring buffer for the kmem events (kernel/trace/ring_buffer.c,
// kernel/trace/trace.c, kernel/trace/trace_output.c): one buffer per CPU of
// buffer_size_kb, in sub-buffer pages of 4080 bytes of events that each
// event takes as much of as the kernel's does; in overwrite mode, so a full
// buffer drops its oldest page; read whole (the `trace` file, with its
// header) or consumed (`trace_pipe`, with "CPU:N [LOST M EVENTS]" where a
// buffer overran since the last read), lines in the kernel's text format.
//
// Pure: the caller gives the time and the task with set_task(). Not
// thread-safe (the daemon serialises access with its machine).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/kmem_trace.h"
#include "core/result.h"

namespace memd {

class TraceBuffer final : public KmemTracer {
 public:
  // BUF_PAGE_SIZE: a 4 KiB sub-buffer less its 16-byte header.
  static constexpr uint32_t kPageDataBytes = 4096 - 16;
  // trace_buf_size's default (TRACE_BUF_SIZE_DEFAULT): 1441792 bytes per CPU.
  static constexpr uint64_t kDefaultBufferBytes = 1441792;
  // What memd lets all CPUs' buffers hold together, beyond the default
  // size; more is refused (a kernel that cannot allocate it fails the write
  // with ENOMEM). A full buffer costs memd about twice this in records, and
  // `trace` prints it as about five times this in text.
  static constexpr uint64_t kMaxTotalKb = 16384;
  static constexpr uint64_t kDefaultKb = kDefaultBufferBytes >> 10;  // 1408

  explicit TraceBuffer(int nr_cpus);

  // Which events record (a mask of kmem_event_bit()); events already in the
  // buffer stay.
  void set_mask(uint32_t mask) { mask_ = mask; }
  // buffer_size_kb: each CPU's buffer becomes DIV_ROUND_UP(kb * 1024, 4080)
  // pages (at least 2), keeping its newest pages. 0 and sizes above the
  // default whose total over the CPUs exceeds kMaxTotalKb are refused and
  // change nothing.
  Status set_buffer_size_kb(uint64_t kb);
  // What the kernel's buffer_size_kb file reads: pages * 4080 / 1024.
  uint64_t buffer_size_kb() const;
  // Empties every CPU's buffer (the kernel's `echo > trace`).
  void clear();

  // The task and time the next records carry: the comm is remembered for
  // the pid, as the kernel's saved_cmdlines does, for printing.
  void set_task(std::string_view comm, int32_t pid, uint64_t ts_ns) override;
  void record(KmemRecord r) override;

  // The `trace` file: its header, then every event in the buffers, oldest
  // first, without consuming them.
  std::string render_trace() const;
  // trace_pipe: takes whole lines, oldest first, while they fit in
  // `max_bytes` (at least one line even if it does not fit, cut to max_bytes
  // then, as the kernel's read does with a short buffer); "" when empty.
  std::string consume(size_t max_bytes);

  // consume() in three steps, for a caller that formats without its lock:
  // take() under it, format() outside, put_back() of the rest under it again.
  struct TakenLine {
    KmemRecord record;
    std::string comm;
    uint64_t lost = 0;  // events of its CPU lost since the last read
  };
  struct Taken {
    std::vector<TakenLine> lines;
    std::string pending;  // first: what earlier reads could not take
  };
  Taken take(size_t max_bytes);
  // The lines that fit in max_bytes (at least part of one); the rest in *rest.
  static std::string format(const Taken& taken, size_t max_bytes, std::string* rest);
  void put_back(const std::string& rest);
  // No line is shorter: the comm and pid columns, the flags and the time
  // alone take 40 bytes, an event's name and fields more than 40.
  static constexpr size_t kMinLineBytes = 80;
  bool empty() const { return pending_.empty() && entries() == 0; }

  uint64_t entries() const;  // events in the buffers now
  uint64_t overrun() const;  // events the buffers dropped when full
  int nr_cpus() const { return static_cast<int>(cpus_.size()); }

  // One event's line, as the kernel's trace file prints it, with '\n'.
  std::string format_line(const KmemRecord& r) const;
  static void append_line(fmt::memory_buffer* out, const KmemRecord& r, std::string_view comm);
  static void append_fields(fmt::memory_buffer* out, const KmemRecord& r);
  // The text after "EVENT: " (the event's TP_printk).
  static std::string format_fields(const KmemRecord& r);

 private:
  struct Page {
    std::vector<KmemRecord> records;
    uint32_t bytes = 0;  // of kPageDataBytes used
  };
  struct Cpu {
    std::deque<Page> pages;
    size_t read = 0;  // records of pages.front() consumed
    uint64_t entries = 0;
    uint64_t overrun = 0;
    uint64_t reported_overrun = 0;  // what trace_pipe has said it lost
    uint64_t last_ts = 0;
  };

  void write(Cpu* cpu, const KmemRecord& r);
  void trim(Cpu* cpu);
  static std::vector<const KmemRecord*> unread(const Cpu& cpu);
  static const KmemRecord* front(Cpu* cpu);
  std::string_view comm_of(int32_t pid) const;

  std::vector<Cpu> cpus_;
  uint64_t nr_pages_ = 0;
  uint64_t seq_ = 0;
  int32_t pid_ = 0;
  uint64_t ts_ns_ = 0;
  std::vector<std::pair<int32_t, std::string>> cmdlines_;  // saved_cmdlines, newest last
  std::string pending_;  // what a short trace_pipe read left of its line
};

}  // namespace memd
