// The command lines memctl sends: memd's command language (`verb key=value
// ...`, product.md "One command language"), built from memctl's options.
// Pure functions, so that what memctl sends can be tested without a daemon.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace memd::client {

// The GFP flags of memctl alloc's shortcuts.
inline constexpr std::string_view kGfpDefault = "GFP_KERNEL";
inline constexpr std::string_view kGfpMovable = "GFP_HIGHUSER_MOVABLE";
inline constexpr std::string_view kGfpReclaimable = "GFP_KERNEL|__GFP_RECLAIMABLE";

struct AllocRequest {
  unsigned order = 0;
  std::string gfp{kGfpDefault};
  std::optional<int> node;
  std::optional<int> cpu;
  std::optional<uint64_t> count;
};

struct FreeRequest {
  std::vector<std::string> pfns;  // as typed: 0x1f400 or decimal
  std::vector<uint64_t> ids;
  bool all = false;
  std::optional<int> cpu;
};

// A value as one word of the command language: as is when it has no blank,
// quote or backslash, else in double quotes with backslash escapes. Control
// characters (a newline would start a second command) are refused.
Result<std::string> quote_value(std::string_view value);

// "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE [node=N] [cpu=N] [count=N]"
Result<std::string> alloc_command(const AllocRequest& r);
// "free pfn=0x1f400 pfn=... id=7 ... [cpu=N]" or "free all [cpu=N]"
Result<std::string> free_command(const FreeRequest& r);
// "sysctl", "sysctl NAME" or "sysctl NAME=VALUE" from memctl's "name[=value]".
Result<std::string> sysctl_command(std::string_view arg);

// A pfn as the user typed it: decimal or 0x hex.
std::optional<uint64_t> parse_pfn(std::string_view text);

}  // namespace memd::client
