// The command lines memctl sends: memd's command language (`verb key=value
// ...`, protocol/PROTOCOL.md), built from memctl's options as protocol
// Commands and written by protocol::format_command. Pure functions, so that
// what memctl sends can be tested without a daemon.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/command.h"
#include "protocol/result.h"
#include "protocol/text.h"

namespace memd::client {

using protocol::Error;
using protocol::make_error;
using protocol::Result;
using protocol::Status;
// A value as one word of the command language (protocol/text.h).
using protocol::quote_value;

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

// "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE [count=N] [cpu=N] [node=N]"
Result<std::string> alloc_command(const AllocRequest& r);
// "free pfn=0x1f400 pfn=... id=7 ... [cpu=N]" or "free all [cpu=N]"
Result<std::string> free_command(const FreeRequest& r);
// One of the command lines a `free` is sent as: targets [first, first + count)
// of the request's (its PFNs, then its ids, in order).
struct FreePart {
  std::string line;
  size_t first = 0;
  size_t count = 0;
};
// free_command's line, or, when that line is longer than memd takes
// (protocol::kMaxCommandBytes, newline included), several, each within the
// limit, the targets in order and the same cpu= on each: sent one after
// another, they free what the one line would, in the same order. A target
// named twice is refused here as memd refuses it ("id=7 given twice"): a
// later part would otherwise find it already freed.
Result<std::vector<FreePart>> free_commands(const FreeRequest& r);
// "sysctl", "sysctl NAME" or "sysctl NAME=VALUE" from memctl's "name[=value]".
Result<std::string> sysctl_command(std::string_view arg);
// The line of a command that carries no text to quote (replay begin, replay
// data bytes=N, snapshot save, check, ...).
std::string command_line(const protocol::Command& command);
// `memctl trace ARGS...`: the words as a `trace` command line, checked by the grammar.
Result<std::string> trace_command(const std::vector<std::string>& words);

// A pfn as the user typed it: decimal or 0x hex.
std::optional<uint64_t> parse_pfn(std::string_view text);

}  // namespace memd::client
