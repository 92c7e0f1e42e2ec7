// libFuzzer target: restoring machine state (what `memctl snapshot load FILE`
// hands the daemon). The input is a state BODY: the target seals it with a
// valid header so the fuzzer explores the body decoder and the consistency
// checks instead of the checksum. Refusal is fine; a restored machine must
// pass the invariant checker.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/machine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  memd::MachineConfig cfg;
  cfg.size = 32ULL << 20;
  std::string body(reinterpret_cast<const char*>(data), size);
  auto m = memd::Machine::restore_state(cfg, memd::state_header(cfg, body) + body);
  if (m && !(*m)->check().ok()) std::abort();
  return 0;
}
