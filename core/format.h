// Formatting for core's messages: addresses and pfns in hex, as the kernel
// prints them with %#llx.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace memd {

// "0x1f000"; "0" for 0 (printf's %#llx).
inline std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace memd
