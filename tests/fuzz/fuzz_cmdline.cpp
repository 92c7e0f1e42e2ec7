// libFuzzer target: the kernel command line and e820 parsers, then a boot of
// a small machine with whatever parsed (errors are fine, crashes are not).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/machine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  const size_t split = text.find('\n');
  std::string cmdline = text.substr(0, split);
  (void)memd::parse_kernel_cmdline(cmdline);
  (void)memd::parse_memsize(cmdline);
  memd::MachineConfig cfg;
  cfg.cmdline = cmdline;
  if (split != std::string::npos) {
    auto e820 = memd::parse_e820(text.substr(split + 1));
    if (e820) {
      // Keep machines small so a run stays fast.
      uint64_t total = 0;
      for (const auto& e : *e820) {
        if (e.type == "usable") total += e.range.end - e.range.start;
      }
      if (total > (1ULL << 32)) return 0;
      cfg.e820 = text.substr(split + 1);
    }
  } else {
    cfg.size = 64ULL << 20;
  }
  auto m = memd::Machine::boot(cfg);
  if (m && !(*m)->check().ok()) std::abort();
  return 0;
}
