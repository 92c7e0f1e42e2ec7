// libFuzzer target: restoring machine state (what `memctl snapshot load FILE`
// hands the daemon). The input is a state BODY: the target seals it with a
// valid header so the fuzzer explores the body decoder and the consistency
// checks instead of the checksum. Refusal is fine; a restored machine must
// pass the invariant checker. The state is restored on a copy of one booted
// machine (Machine::restore_state(const Machine&, ...)), not on a new boot.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "core/machine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<memd::Machine> booted = [] {
    memd::MachineConfig cfg;
    cfg.size = 32ULL << 20;
    auto m = memd::Machine::boot(cfg);
    if (!m) std::abort();
    return std::move(*m);
  }();
  const memd::MachineConfig& cfg = booted->config();
  std::string body(reinterpret_cast<const char*>(data), size);
  auto m = memd::Machine::restore_state(*booted, memd::state_header(cfg, body) + body);
  if (m && !(*m)->check().ok()) std::abort();
  return 0;
}
