// libFuzzer target: GFP flag strings (parse_gfp) and their round trip through
// format_gfp: anything parsed formats to a string that parses to the same mask.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/gfp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto flags = memd::parse_gfp(text);
  if (!flags) return 0;
  auto again = memd::parse_gfp(memd::format_gfp(*flags));
  if (!again || *again != *flags) std::abort();
  (void)memd::gfp_zone(*flags, memd::Arch::kX86_64);
  return 0;
}
