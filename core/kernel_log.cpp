#include "core/kernel_log.h"

#include <algorithm>

namespace memd {

void KernelLog::make_room(size_t bytes) {
  while (!records_.empty() && used_ + bytes > capacity_) {
    used_ -= footprint(records_.front());
    records_.pop_front();
    ++dropped_;
  }
}

void KernelLog::printk(PrintkLevel level, std::string_view text) {
  const size_t room = capacity_ > kRecordHeader ? capacity_ - kRecordHeader : 0;
  Record r{level, std::string(text.substr(0, std::min(text.size(), room)))};
  make_room(footprint(r));
  used_ += footprint(r);
  records_.push_back(std::move(r));
}

bool Ratelimit::allow(uint64_t now, int* suppressed) {
  *suppressed = 0;
  if (!initialized_) {
    begin_ = now;
    initialized_ = true;
    left_ = burst_;
  }
  if (now > begin_ + interval_) {  // time_is_before_jiffies(begin + interval)
    left_ = burst_;
    begin_ = now;
    *suppressed = missed_;
    missed_ = 0;
  }
  if (left_ > 0) {
    --left_;
    return true;
  }
  ++missed_;
  return false;
}

std::string KernelLog::dmesg() const {
  constexpr std::string_view kStamp = "[    0.000000] ";
  std::string out;
  size_t bytes = 0;
  for (const Record& r : records_) {
    bytes += kStamp.size() + r.text.size() + 1;
  }
  out.reserve(bytes + 64);
  if (dropped_ > 0) {
    out += kStamp;
    out += "** " + std::to_string(dropped_) + " printk messages dropped **\n";
  }
  for (const Record& r : records_) {
    out += kStamp;
    out += r.text;
    out += '\n';
  }
  return out;
}

}  // namespace memd
