// The kernel's log buffer (kernel/printk/printk.c): records appended by
// printk, kept in a ring of fixed size that drops the oldest records when a
// new one does not fit, read as `dmesg` prints it.
//
// memd's machine has no clock, so every record's timestamp is 0.000000, the
// value the kernel prints before its clock starts (docs/kernel-fidelity.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

namespace memd {

// printk levels (include/linux/kern_levels.h).
enum class PrintkLevel : uint8_t {
  kEmerg = 0,
  kAlert,
  kCrit,
  kErr,
  kWarning,
  kNotice,
  kInfo,
  kDebug,
};

// ___ratelimit() (lib/ratelimit.c): at most `burst` callbacks in every
// `interval` ticks; the first call after an interval that suppressed some
// reports how many ("%s: %d callbacks suppressed"). memd has no clock: the
// caller gives the ticks (docs/kernel-fidelity.md says what they count).
class Ratelimit {
 public:
  Ratelimit(uint64_t interval, int burst) : interval_(interval), burst_(burst) {}
  // Whether the callback may go ahead at tick `now`. `suppressed` receives
  // the number of callbacks the ended interval suppressed (0: none).
  bool allow(uint64_t now, int* suppressed);

 private:
  uint64_t interval_;
  int burst_;
  bool initialized_ = false;
  uint64_t begin_ = 0;
  int left_ = 0;
  int missed_ = 0;
};

class KernelLog {
 public:
  // CONFIG_LOG_BUF_SHIFT=17 in Debian's kernels: a 128 KiB buffer.
  static constexpr size_t kDefaultCapacity = size_t{1} << 17;

  explicit KernelLog(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // printk(): appends one record (a line without its newline), dropping the
  // oldest records until it fits. A record larger than the whole buffer is
  // cut to fit, as the kernel truncates what it cannot store.
  void printk(PrintkLevel level, std::string_view text);

  struct Record {
    PrintkLevel level = PrintkLevel::kInfo;
    std::string text;
  };
  const std::deque<Record>& records() const { return records_; }
  // Records dropped to make room since the machine booted.
  uint64_t dropped() const { return dropped_; }
  size_t capacity() const { return capacity_; }

  // The log as `dmesg` prints it: "[    0.000000] text\n" per record, after
  // the kernel's own line for messages it dropped ("** N printk messages
  // dropped **") when the ring has lost any.
  std::string dmesg() const;

 private:
  // Bytes a record takes in the ring: its text and a fixed header, as in the
  // kernel's printk_ringbuffer (struct printk_info is 88 bytes on x86_64).
  static size_t footprint(const Record& r) { return r.text.size() + kRecordHeader; }
  static constexpr size_t kRecordHeader = 88;
  void make_room(size_t bytes);

  size_t capacity_;
  size_t used_ = 0;
  uint64_t dropped_ = 0;
  std::deque<Record> records_;
};

}  // namespace memd
